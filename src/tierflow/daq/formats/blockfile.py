"""Sequential block reading of a DAQ file: a window of buffered bytes that records are cut from.

A stream reader asks for a window of at least some number of bytes, locates the complete
records in it (one vectorised or compiled pass over their length fields), decodes them and
consumes their bytes; the unconsumed tail (a record cut by the block edge) is kept and the
next read appends to it. Memory is bounded by the block size and the longest record.

>>> import tempfile, os
>>> with tempfile.NamedTemporaryFile(delete=False) as f:
...     _ = f.write(bytes(range(10)))
>>> blocks = BlockFile(f.name, start=2, block_bytes=4)
>>> blocks.fill(); blocks.window().tolist(), blocks.offset
([2, 3, 4, 5], 2)
>>> blocks.consume(3); blocks.fill(5); blocks.window().tolist(), blocks.offset
([5, 6, 7, 8, 9], 5)
>>> blocks.at_eof
True
>>> blocks.close(); os.remove(f.name)
"""

from __future__ import annotations

import os

import numba
import numpy as np

from ...errors import DAQError


class BlockFile:
    """A file read forwards in blocks of ``block_bytes`` from byte ``start``.

    :meth:`window` is the buffered, unconsumed bytes (a uint8 view, valid until the next
    :meth:`fill`), starting at file offset :attr:`offset`.
    """

    def __init__(self, path: str | os.PathLike, start: int = 0, block_bytes: int = 16 << 20):
        self.path = os.fspath(path)
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        except OSError as err:
            raise DAQError(f"cannot open: {err.strerror}", file=self.path) from None
        self.size = os.fstat(self._file.fileno()).st_size
        self._file.seek(start)
        self.block_bytes = max(int(block_bytes), 1)
        self._buf = np.empty(0, np.uint8)
        self._lo = self._hi = 0
        self.offset = start
        """File offset of the first byte of :meth:`window`."""

    @property
    def at_eof(self) -> bool:
        """True when every byte of the file is in the window or consumed."""
        return self.offset + (self._hi - self._lo) >= self.size

    @property
    def remaining(self) -> int:
        """Bytes of the file from :attr:`offset` to its end."""
        return self.size - self.offset

    def window(self) -> np.ndarray:
        """The buffered bytes not yet consumed."""
        return self._buf[self._lo : self._hi]

    def consume(self, n: int) -> None:
        """Drop the first ``n`` bytes of the window (records that were decoded)."""
        self._lo += n
        self.offset += n

    def fill(self, at_least: int = 0) -> None:
        """Read so that the window holds at least ``max(at_least, block_bytes)`` bytes, or
        everything up to the end of the file."""
        have = self._hi - self._lo
        want = min(max(at_least, self.block_bytes), self.remaining)
        if have >= want:
            return
        if len(self._buf) < want:
            grown = np.empty(want, np.uint8)
            grown[:have] = self._buf[self._lo : self._hi]
            self._buf = grown
        elif self._lo:
            self._buf[:have] = self._buf[self._lo : self._hi]
        self._lo, self._hi = 0, have
        while self._hi < want:
            n = self._file.readinto(self._buf.data[self._hi : want])
            if not n:  # the file shrank under us
                self.size = self.offset + self._hi
                break
            self._hi += n

    def close(self) -> None:
        """Release the file."""
        self._file.close()


@numba.njit(cache=True)
def gather_rows(src, starts, width, out):  # pragma: no cover (compiled)
    """``out[i] = src[starts[i] : starts[i] + width]`` for every row: the records' fields or
    waveforms of a block copied into one array.

    >>> out = np.empty((2, 3), np.uint8)
    >>> gather_rows(np.arange(10, dtype=np.uint8), np.array([1, 6]), 3, out); out.tolist()
    [[1, 2, 3], [6, 7, 8]]
    """
    for i in range(starts.shape[0]):
        out[i, :] = src[starts[i] : starts[i] + width]
