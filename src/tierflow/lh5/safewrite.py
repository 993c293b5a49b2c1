"""How :func:`tierflow.lh5.write` changes a file on disk without ever losing what it held.

- One writer at a time: every write to a path holds its :class:`~.writelock.WriteLock`
  (:func:`locked_target`), so concurrent writers are serialised, never interleaved.
- A new file (and ``wo_mode="overwrite_file"``) is written to a temporary file beside the
  target, ``.NAME.tmp-PID-XXXXXXXX``, and renamed into place (:func:`write_new_file`): a kill
  leaves the target as it was. Temporary files left by killed writers are removed by the next
  write to the same target.
- A change to an existing file is made through an undo journal (:func:`changing`, see
  :mod:`.undo`): an exception rolls it back at once, a kill at the next open.

>>> import tempfile, os, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "f.lh5")
>>> with locked_target(path):
...     write_new_file(path, lambda h5f: h5f.create_dataset("x", data=np.arange(3), maxshape=(None,)))
...     with changing(path) as h5f:
...         h5f["x"].resize((5,))
...         h5f["x"][3:] = 9
>>> h5py.File(path)["x"][:].tolist(), sorted(os.listdir(os.path.dirname(path)))
([0, 1, 2, 9, 9], ['f.lh5'])
"""

from __future__ import annotations

import contextlib
import gc
import glob
import os
import re
import stat
import uuid
from collections.abc import Callable, Iterator

import h5py

from ..errors import LH5Error, LH5FileError, LH5WriteError
from .files import open_through
from .undo import UndoFile, journal_path, roll_back, writer_alive
from .writelock import WriteLock


def temporary_path(path: str) -> str:
    """A new temporary file name for ``path``: ``.NAME.tmp-PID-XXXXXXXX`` beside it."""
    directory, base = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{base}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _temporaries(path: str) -> list[str]:
    """The temporary files of :func:`temporary_path` that exist for ``path``."""
    directory, base = os.path.split(os.path.abspath(path))
    pattern = re.compile(rf"\.{re.escape(base)}\.tmp-\d+-[0-9a-f]{{8}}")
    found = glob.glob(os.path.join(glob.escape(directory), f".{glob.escape(base)}.tmp-*"))
    return [f for f in found if pattern.fullmatch(os.path.basename(f))]


@contextlib.contextmanager
def locked_target(path: str) -> Iterator[None]:
    """Hold the write lock of ``path`` and, before anything else, undo what an interrupted
    write left: roll back its journal and, if the last holder of the lock died holding it,
    remove the temporary files of ``path`` (any that exist while we hold the lock are from
    writers that died)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise LH5FileError(f"directory {directory} does not exist", file=path)
    with WriteLock(path) as lock:
        if os.path.exists(journal_path(path)) and (lock.exclusive or not writer_alive(path)):
            try:
                roll_back(path)
            except OSError as err:
                raise LH5WriteError(
                    f"an earlier write into this file was interrupted, and its undo journal "
                    f"{journal_path(path)} cannot be rolled back ({err.strerror})",
                    file=path,
                ) from None
        for stale in _temporaries(path) if lock.holder_died else ():
            with contextlib.suppress(OSError):  # one that stays is in nobody's way
                os.remove(stale)
        yield


def write_new_file(path: str, fill: Callable[[h5py.File], object]) -> None:
    """Make ``path`` a new file filled by ``fill(h5f)``: written to a temporary file and renamed
    into place, so that the target is never half-written. The caller holds the lock."""
    tmp = temporary_path(path)
    try:
        with h5py.File(tmp, "w") as h5f:
            fill(h5f)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        if isinstance(err, LH5Error) or not isinstance(err, Exception):
            raise
        raise LH5WriteError(
            f"write failed ({type(err).__name__}: {err}); no file was written", file=path
        ) from err


@contextlib.contextmanager
def changing(path: str) -> Iterator[h5py.File]:
    """The existing file ``path`` open for changes that are undone if the block fails, or if
    the process dies before the block's end (at the next write or open). The caller holds the
    lock."""
    undo = _undo_file(path)
    with _no_garbage_collection():
        try:
            h5f = open_through(undo, path)
        except BaseException:
            undo.roll_back()
            raise
        try:
            yield h5f
            h5f.close()
            if undo.failure is not None:  # a write HDF5 could not report (see UndoFile)
                raise undo.failure
        except BaseException as err:
            with contextlib.suppress(Exception):
                h5f.close()
            undo.roll_back()
            if isinstance(err, LH5Error) or not isinstance(err, Exception):
                raise
            raise LH5WriteError(
                f"write failed ({type(err).__name__}: {err}); the file was left as it was",
                file=path,
            ) from err
        undo.commit()


@contextlib.contextmanager
def _no_garbage_collection() -> Iterator[None]:
    """No cyclic garbage collection while HDF5 works through the ``fileobj`` driver: HDF5 calls
    back into Python (:class:`UndoFile`'s methods) in the middle of its own operations, and a
    collection run there could free h5py objects of other files, calling into HDF5 again,
    which is not reentrant (h5py #1852 is the same hazard in ``File.close``; the full test
    suite crashed once in ``close`` here)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _undo_file(path: str) -> UndoFile:
    """:class:`UndoFile` of ``path``, with clear errors for what is not a file to change."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise LH5FileError("is a directory, not an LH5 file", file=path)
        if not stat.S_ISREG(mode):
            raise LH5FileError("is not a regular file, so not an LH5 file", file=path)
        return UndoFile(path)
    except LH5Error:
        raise
    except OSError as err:
        raise LH5FileError(f"cannot be opened for writing ({err.strerror})", file=path) from None


def open_for_writing_here(path: str) -> bool:
    """Whether this process has ``path`` open for writing through h5py already. HDF5 then
    shares that open file with any other opening of it; a write must go through it too."""
    try:
        target = os.stat(path)
    except OSError:
        return False
    for fid in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
        with contextlib.suppress(Exception):
            if fid.get_intent() & h5py.h5f.ACC_RDWR:
                other = os.stat(fid.name)
                if (other.st_dev, other.st_ino) == (target.st_dev, target.st_ino):
                    return True
    return False
