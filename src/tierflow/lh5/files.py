"""Opening LH5 files and finding objects in them, with clear errors."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any, TypeAlias

import h5py
import hdf5plugin  # noqa: F401  (registers Zstd, Blosc, LZ4, ... with HDF5)

from ..errors import LH5DecodeError, LH5FileError, LH5ObjectNotFoundError
from .guards import FAILURES, describe
from .undo import recover_interrupted_write

#: a file name or an open ``h5py.File``
FileLike: TypeAlias = str | os.PathLike | h5py.File

#: the 8 bytes an HDF5 superblock starts with
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_file(path: str | os.PathLike, mode: str = "r") -> h5py.File:
    """Open ``path`` with h5py, without HDF5 file locking when reading.

    Raises :class:`LH5FileError` at once, before HDF5 looks at it, for a path that is
    missing, not a regular file (a directory, FIFO, device or socket: reading those could
    block forever) or, when reading, has no HDF5 signature; and for a file HDF5 cannot open
    (truncated, corrupt, locked). A write into the file that was killed before it finished is
    rolled back first (see :mod:`.undo`).

    >>> open_file("/dev/zero")
    Traceback (most recent call last):
    ...
    tierflow.errors.LH5FileError: /dev/zero: is a character device, not a regular file, so not an LH5 file
    """
    path = os.fspath(path)
    must_exist = mode in ("r", "r+")
    _regular_file_size(path, must_exist)  # before anything opens what may be a FIFO
    recover_interrupted_write(path)
    size = _regular_file_size(path, must_exist)
    if mode == "r" and not _has_hdf5_signature(path, size):
        raise LH5FileError(_why_unsigned(size), file=path)
    try:
        if mode == "r":
            return h5py.File(path, "r", locking=False)
        return h5py.File(path, mode)
    except FAILURES as err:
        raise LH5FileError(_why_unopenable(err), file=path) from None


def open_through(fileobj: object, path: str) -> h5py.File:
    """The existing file ``path`` open for writing through ``fileobj`` (a file object for h5py's
    ``fileobj`` driver, such as an :class:`~.undo.UndoFile`), with :func:`open_file`'s errors."""
    try:
        return h5py.File(fileobj, "r+")
    except FAILURES as err:
        raise LH5FileError(_why_unopenable(err), file=path) from None


def _regular_file_size(path: str, must_exist: bool) -> int:
    """The size of the regular file at ``path`` (-1 if absent and allowed to be)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise LH5FileError("a symbolic link to nothing (dangling)", file=path) from None
        if must_exist:
            raise LH5FileError("no such file", file=path) from None
        return -1
    except OSError as err:
        why = "a loop of symbolic links" if err.errno == errno.ELOOP else err.strerror
        raise LH5FileError(f"cannot be opened: {why}", file=path) from None
    for test, what in _NOT_REGULAR:
        if test(st.st_mode):
            raise LH5FileError(f"is {what}, not a regular file, so not an LH5 file", file=path)
    return st.st_size


def _has_hdf5_signature(path: str, size: int) -> bool:
    """Whether the HDF5 signature is where HDF5 looks for it: at byte 0, 512, 1024, 2048..."""
    try:
        with open(path, "rb") as f:
            offset = 0
            while offset + len(HDF5_SIGNATURE) <= size:
                f.seek(offset)
                if f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                    return True
                offset = 512 if offset == 0 else 2 * offset
    except OSError as err:
        raise LH5FileError(f"cannot be read: {err.strerror}", file=path) from None
    return False


def _why_unsigned(size: int) -> str:
    if size == 0:
        return "an empty file (0 bytes), not an LH5 file"
    return "not an HDF5 file (no HDF5 signature), so not an LH5 file"


def _why_unopenable(err: BaseException) -> str:
    detail = str(err).split("(")[0].strip() or type(err).__name__
    return f"HDF5 file cannot be opened: truncated, corrupt or locked ({detail})"


def file_name(h5file: h5py.File | h5py.Group) -> str:
    """The path of the file an h5py object lives in."""
    return h5file.file.filename


def open_object(h5file: h5py.File | h5py.Group, name: str) -> Any:
    """The object at ``name`` as an h5py low-level id (what :func:`get_object` finds, in one
    HDF5 call when the path exists; else :func:`get_object` says what is wrong)."""
    path = str(name).strip("/")
    if path:
        try:
            return h5py.h5o.open(h5file.id, path.encode("utf8"))
        except FAILURES:
            pass  # missing, or a link that cannot be followed: get_object names it
    return get_object(h5file, name).id


def get_object(h5file: h5py.File | h5py.Group, name: str) -> h5py.Group | h5py.Dataset:
    """The object at ``name``; a missing one names what exists where the path stops.

    A link that cannot be followed (dangling, a loop of soft links, a damaged group) raises
    :class:`~tierflow.errors.LH5DecodeError`.
    """
    path = str(name).strip("/")
    if not path:
        return h5file
    node = h5file
    walked: list[str] = []
    for part in path.split("/"):
        if not part:
            continue
        try:
            found = isinstance(node, h5py.Group) and part in node
            if found:
                node = node[part]
        except FAILURES as err:
            raise LH5DecodeError(
                f"cannot open {part!r} in /{'/'.join(walked)}: {describe(err)}",
                file=file_name(h5file),
                obj=path,
            ) from None
        if not found:
            raise LH5ObjectNotFoundError(
                f"no object {part!r} in /{'/'.join(walked)}; it holds {_keys(node)}",
                file=file_name(h5file),
                obj=path,
            )
        walked.append(part)
    return node


def _keys(node: h5py.HLObject) -> list[str]:
    """Up to 30 names of a group's children, for messages."""
    try:
        existing = sorted(node.keys()) if isinstance(node, h5py.Group) else []
    except FAILURES:
        return ["(unreadable)"]
    return existing[:30] + (["..."] if len(existing) > 30 else [])


def as_path(lh5_file: FileLike) -> str:
    """A printable name for a path or open file."""
    return lh5_file.filename if isinstance(lh5_file, h5py.File) else os.fspath(Path(lh5_file))
