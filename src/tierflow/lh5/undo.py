"""The undo journal of a write into an existing file: a kill at any moment loses nothing.

HDF5 changes a file in place (object headers, chunk indexes, the superblock, partly filled
chunks) and keeps much of it in memory until the file is closed, so a process killed during
an append can leave a file whose earlier rows no longer read. A write into an existing file
therefore goes through an :class:`UndoFile`, the file object h5py's ``fileobj`` driver reads
and writes: before the first change to any page of the file's original bytes it saves that
page in the journal ``.NAME.journal`` beside the file; bytes past the original end need no
saving (the file is cut back to its length). The write is committed by deleting the journal
once the file is closed. A journal found later is that of a write that did not finish: it is
rolled back (:func:`roll_back`: the saved pages written back, the file cut to its old
length), by the next write and by the next open (:func:`recover_interrupted_write`), which
leaves the file byte for byte as it was before that write.

This protects against the writing process dying (kill -9, a crash, an exception); against a
power cut or an operating-system crash it would also need ``fsync`` calls, which are not made.

The journal is a header (``MAGIC``, the file's original length, device and inode, the writer's
process id and a CRC-32) and records of (offset, length, CRC-32, the original bytes). Each record is written
before the change it protects; a record cut short by a kill protects a change that was never
made, and is ignored.

>>> import tempfile, os, h5py, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "f.lh5")
>>> with h5py.File(path, "w") as f:
...     _ = f.create_dataset("x", data=np.arange(5), maxshape=(None,))
>>> undo = UndoFile(path)
>>> with h5py.File(undo, "r+") as f:
...     f["x"].resize((8,)); f["x"][5:] = 7
>>> undo.roll_back()  # as a later open would after a kill
>>> h5py.File(path)["x"][:].tolist(), os.path.exists(journal_path(path))
([0, 1, 2, 3, 4], False)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import zlib

from ..errors import LH5FileError
from .writelock import WriteLock

MAGIC = b"TFUNDO1\n"
_HEADER = struct.Struct("<8sQQQQ")  # magic, original length, device, inode, process id
_RECORD = struct.Struct("<QQI")  # offset, length, CRC-32 of the saved bytes
_CRC = struct.Struct("<I")
#: bytes saved at a time: changes are saved by whole pages of the original file
PAGE = 4096


def journal_path(path: str | os.PathLike) -> str:
    """The journal of ``path``: ``.NAME.journal`` beside it."""
    directory, base = os.path.split(os.path.abspath(os.fspath(path)))
    return os.path.join(directory, f".{base}.journal")


class UndoFile:
    """An existing file opened for h5py's ``fileobj`` driver (``h5py.File(UndoFile(path),
    "r+")``), saving the original bytes of every page before it is first changed.

    :meth:`commit` once the h5py file is closed; :meth:`roll_back` to undo everything. After
    either, further writes through it are refused, so a file HDF5 closes late cannot change
    it again. Only one may exist per file at a time: hold the file's
    :class:`~.writelock.WriteLock`, and roll back any earlier journal first.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.journal = journal_path(self.path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        self._journal_fd = -1
        try:
            _lock_as_hdf5_does(self._fd, self.path)
            stat = os.fstat(self._fd)
            self.original_size = self._size = stat.st_size
            self._journal_fd = os.open(
                self.journal, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644
            )
            header = _HEADER.pack(MAGIC, stat.st_size, stat.st_dev, stat.st_ino, os.getpid())
            _write_all(self._journal_fd, header + _CRC.pack(zlib.crc32(header)))
        except BaseException:
            if self._journal_fd >= 0:  # nothing was changed yet: no journal needed
                os.close(self._journal_fd)
                os.unlink(self.journal)
            os.close(self._fd)
            raise
        self._saved: set[int] = set()  # pages of the original bytes already in the journal
        self._pos = 0
        self._open = True
        #: the first write or truncation that failed (see :meth:`commit`)
        self.failure: BaseException | None = None

    def __repr__(self) -> str:  # h5py names the file after it
        return self.path

    # --- what h5py's fileobj driver calls ---------------------------------------------------
    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._pos = offset
        elif whence == os.SEEK_CUR:
            self._pos += offset
        else:
            self._pos = self._size + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer) -> int:
        n = os.preadv(self._fd, [buffer], self._pos)
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = max(0, self._size - self._pos)
        data = os.pread(self._fd, size, self._pos)
        self._pos += len(data)
        return data

    def write(self, data) -> int:
        with memoryview(data) as raw, raw.cast("B") as view:
            n = len(view)
            if self._writable():
                try:
                    self._save(self._pos, self._pos + n)
                    written = 0
                    while written < n:
                        written += os.pwrite(self._fd, view[written:], self._pos + written)
                except Exception as err:
                    self._failed(err)
        self._pos += n
        self._size = max(self._size, self._pos)
        return n

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else size
        if self._writable():
            try:
                self._save(size, self._size)
                os.ftruncate(self._fd, size)
            except Exception as err:
                self._failed(err)
        self._size = size
        return size

    def flush(self) -> None:
        """Nothing to do: every write went to the operating system at once."""

    def _writable(self) -> bool:
        """Whether a write may change the file: not after a write failed (everything is rolled
        back then) nor after the write ended (a file HDF5 closes late cannot change it).

        A write that may not, or that fails, is not reported to HDF5: it goes on as if it had
        been done, and :meth:`commit`'s caller finds :attr:`failure` and rolls back. HDF5
        cannot recover from a failed write of its own files: one failed while closing stays
        half-closed, and HDF5 crashes when it closes it again (at exit, h5py #1642).
        """
        if self.failure is None and not self._open:
            self._failed(OSError(f"{self.path}: the write has ended; nothing more is written"))
        return self.failure is None

    def _failed(self, err: BaseException) -> None:
        """Remember the first failed write (the changes must be rolled back)."""
        if self.failure is None:
            self.failure = err

    # --- the end of a write -----------------------------------------------------------------
    def commit(self) -> None:
        """Keep the changes: the file has been closed by h5py (and :attr:`failure` is
        ``None``), the journal goes."""
        self._finish()
        os.unlink(self.journal)

    def roll_back(self) -> None:
        """Undo every change made through this object, from its journal."""
        self._finish()
        roll_back(self.path)

    def _finish(self) -> None:
        self._check_open()
        self._open = False
        os.close(self._journal_fd)
        os.close(self._fd)

    def _check_open(self) -> None:
        if not self._open:
            raise OSError(f"{self.path}: the write has ended; nothing more is written")

    def _save(self, start: int, stop: int) -> None:
        """Put the original bytes of the pages in ``[start, stop)`` into the journal, those not
        saved yet; bytes past the original end are not saved (the file is cut back)."""
        stop = min(stop, self.original_size)
        if start >= stop:
            return
        first, last = start // PAGE, (stop - 1) // PAGE
        page = first
        while page <= last:
            if page in self._saved:
                page += 1
                continue
            run = page
            while run <= last and run not in self._saved:
                self._saved.add(run)
                run += 1
            offset = page * PAGE
            data = os.pread(self._fd, min(run * PAGE, self.original_size) - offset, offset)
            _write_all(self._journal_fd, _RECORD.pack(offset, len(data), zlib.crc32(data)) + data)
            page = run


def _lock_as_hdf5_does(fd: int, path: str) -> None:
    """Take the exclusive ``flock`` HDF5 takes on a file it opens for writing (unless
    ``HDF5_USE_FILE_LOCKING`` turns HDF5's locks off), so that programs using HDF5's locks
    (LEGEND's writer, h5py with its defaults) and this write exclude each other."""
    if os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() in ("FALSE", "0"):
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise LH5FileError(
            "the file is open with HDF5's file lock (for reading or writing, in this or "
            "another process); close it there first",
            file=path,
        ) from None
    except OSError as err:
        if err.errno not in (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise


def _write_all(fd: int, data: bytes) -> None:
    with memoryview(data) as view:
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:])


def roll_back(path: str | os.PathLike) -> None:
    """Undo the write whose journal ``.NAME.journal`` lies beside ``path`` and delete the
    journal. The caller holds the file's write lock (so the writer is gone). Rolling back
    again after a kill during this does the same again."""
    path = os.fspath(path)
    journal = journal_path(path)
    with open(journal, "rb") as f:
        content = f.read()
    header = content[: _HEADER.size]
    valid = (
        len(content) >= _HEADER.size + _CRC.size
        and header.startswith(MAGIC)
        and _CRC.unpack_from(content, _HEADER.size)[0] == zlib.crc32(header)
    )
    _, original_size, device, inode, _ = _HEADER.unpack(header) if valid else (0,) * 5
    if valid and _is_file(path, device, inode):
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            for offset, data in _records(content, _HEADER.size + _CRC.size):
                os.pwrite(fd, data, offset)
            os.ftruncate(fd, original_size)
            os.fsync(fd)
        finally:
            os.close(fd)
    # an unreadable header: the write was killed before it changed anything; another file
    # (one that replaced it since): nothing of this journal belongs to it
    os.unlink(journal)


def _is_file(path: str, device: int, inode: int) -> bool:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return False
    return (stat.st_dev, stat.st_ino) == (device, inode)


def writer_alive(path: str | os.PathLike) -> bool:
    """Whether the process that wrote the journal of ``path`` still runs (on this machine),
    for file systems without locks; ``False`` if the journal is gone or unreadable."""
    try:
        with open(journal_path(path), "rb") as f:
            header = f.read(_HEADER.size)
        magic, _, _, _, pid = _HEADER.unpack(header)
    except (OSError, struct.error):
        return False
    if magic != MAGIC:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _records(content: bytes, pos: int):
    """The complete records of a journal, from ``pos`` on; a record cut short ends them."""
    while pos + _RECORD.size <= len(content):
        offset, length, crc = _RECORD.unpack_from(content, pos)
        data = content[pos + _RECORD.size : pos + _RECORD.size + length]
        if len(data) != length or zlib.crc32(data) != crc:
            return
        yield offset, data
        pos += _RECORD.size + length


def recover_interrupted_write(path: str | os.PathLike) -> bool:
    """Roll back the write of a killed writer of ``path``, if it left a journal (``True``).

    A writer that is still at work (it holds the file's lock) is left alone. A journal that
    cannot be rolled back (no permission) raises :class:`~tierflow.errors.LH5FileError`: the
    file may not read correctly until someone who may write it opens it.
    """
    if not os.path.exists(journal_path(path)):
        return False
    lock = WriteLock(path)
    try:
        if not lock.try_acquire():
            return False
        if not lock.exclusive and writer_alive(path):  # no locks here: ask the process table
            lock.release()
            return False
    except Exception as err:  # no lock file can be made here: nor can the file be repaired
        raise LH5FileError(
            f"a write into this file was interrupted and must be rolled back, but cannot be "
            f"here ({err}); open it once with write permission",
            file=os.fspath(path),
        ) from None
    try:
        if not os.path.exists(journal_path(path)):
            return False  # another process has just rolled it back
        try:
            roll_back(path)
        except OSError as err:
            raise LH5FileError(
                f"a write into this file was interrupted and its undo journal "
                f"{journal_path(path)} cannot be rolled back ({err.strerror}); "
                "open it once with write permission",
                file=os.fspath(path),
            ) from None
        return True
    finally:
        with contextlib.suppress(OSError):
            lock.release()
