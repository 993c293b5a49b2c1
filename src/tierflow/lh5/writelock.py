"""One writer per file: an OS lock on a hidden lock file beside the target.

Every :func:`tierflow.lh5.write` to a path holds the lock of that path (``.NAME.lock`` in the
same directory, locked with ``flock``) from before it looks at the file until the file is
complete, so writers in other processes (or threads) wait their turn instead of interleaving,
and a writer that creates the file cannot have it replaced by another. HDF5's own file locking
is not relied on: it may be switched off (``HDF5_USE_FILE_LOCKING=FALSE``) and it does not
cover the temporary file of a new file.

The lock file is removed by its holder on release; the kernel releases the lock of a killed
process, so a lock is never stale.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "f.lh5")
>>> with WriteLock(path):
...     held = os.path.exists(lock_path(path))
...     other = WriteLock(path, timeout=0)
...     try:
...         other.acquire()
...     except Exception as err:
...         print(type(err).__name__)
LH5WriteError
>>> held, os.path.exists(lock_path(path))
(True, False)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import time
import warnings

from ..errors import LH5WriteError
from . import settings

#: seconds between tries while another writer holds a lock, at first and at most
_FIRST_WAIT, _LONGEST_WAIT = 0.001, 0.05
#: what ``flock`` fails with on file systems without locks (Lustre without ``-o flock``, ...)
_NO_LOCKS = frozenset({errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL})


def lock_path(path: str | os.PathLike) -> str:
    """The lock file of ``path``: ``.NAME.lock`` beside it."""
    directory, base = os.path.split(os.path.abspath(os.fspath(path)))
    return os.path.join(directory, f".{base}.lock")


class WriteLock:
    """The exclusive write lock of ``path``; waits up to ``timeout`` seconds for another writer
    (default :data:`~tierflow.lh5.settings.WRITE_LOCK_TIMEOUT`), then raises
    :class:`~tierflow.errors.LH5WriteError` naming the holder's process id."""

    def __init__(self, path: str | os.PathLike, timeout: float | None = None):
        self.path = os.fspath(path)
        self.timeout = settings.WRITE_LOCK_TIMEOUT if timeout is None else timeout
        self._fd: int | None = None
        #: whether the lock was last held by a process that died holding it
        self.holder_died = False
        #: ``False`` on a file system without locks: other writers may be at work meanwhile
        self.exclusive = True

    def acquire(self) -> None:
        """Take the lock, waiting for its holder as long as the timeout allows."""
        deadline = time.monotonic() + self.timeout
        wait = _FIRST_WAIT
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise LH5WriteError(
                    f"another writer ({self._holder()}) has held this file's lock "
                    f"for the {self.timeout:g} s waited; try again once it has finished",
                    file=self.path,
                )
            time.sleep(wait)
            wait = min(2 * wait, _LONGEST_WAIT)

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; ``False`` (at once) if someone does."""
        name = lock_path(self.path)
        while True:
            try:
                fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as err:
                raise LH5WriteError(
                    f"cannot create the lock file {name} ({err.strerror}); writing needs a "
                    "writable directory",
                    file=self.path,
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            except OSError as err:
                if err.errno not in _NO_LOCKS:
                    os.close(fd)
                    raise
                _warn_unlocked(os.path.dirname(name), err.strerror)
                self.exclusive = False
                break
            # the holder before us may have removed the file after we opened it: then the lock
            # is on a file nobody else opens, and we start again with the current one
            if _same_file(fd, name):
                break
            os.close(fd)
        # a holder removes the lock file when it lets go: one that holds a number was left by
        # a holder that died (whose temporary files may be lying about)
        self.holder_died = self.exclusive and os.fstat(fd).st_size > 0
        # fixed width, so a killed holder's longer number is overwritten whole (no truncation:
        # on ext4 closing a file cut to nothing waits for its blocks to be written)
        os.pwrite(fd, f"{os.getpid():>20}\n".encode(), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        """Remove the lock file and let the next writer in."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path(self.path))
        os.close(self._fd)  # closing releases the flock
        self._fd = None

    def _holder(self) -> str:
        with contextlib.suppress(OSError, ValueError), open(lock_path(self.path)) as f:
            return f"process {int(f.read().strip())}"
        return "another process"

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, name: str) -> bool:
    """Whether the open file ``fd`` is the file that ``name`` names now."""
    try:
        current = os.stat(name)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino)


@functools.cache
def _warn_unlocked(directory: str, reason: str) -> None:
    """Say once per directory that its file system has no locks, so writes are not serialised."""
    warnings.warn(
        f"the file system of {directory} does not support file locks ({reason}): "
        "tierflow writes there are not protected against concurrent writers",
        RuntimeWarning,
        stacklevel=4,
    )
