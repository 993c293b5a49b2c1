"""Rows of 1-d numeric datasets read for a single look (a histogram fill), past HDF5's chunk
cache and the iterator's buffer.

:func:`direct_rows` gives a reader whose :meth:`~DirectRows.read` puts rows ``start:stop``
into the caller's array (a scratch array a window long, reused window after window):

- :class:`PlainRows`, for datasets stored without filters (contiguous or chunked): their
  values are in the file as they are in memory, in byte runs (:func:`byte_runs`: from
  ``H5Dget_offset`` or the chunk index, neighbouring chunks merged), read with ``os.preadv``
  from HDF5's own file descriptor straight into the array;
- :class:`DeflatedRows`, for datasets compressed with gzip (HDF5's deflate filter, after byte
  shuffling or not: LH5's default): each chunk's stored bytes come from HDF5
  (``H5Dread_chunk``, h5py's ``read_direct_chunk``, which says which filters the chunk went
  through), are inflated by ``zlib`` and unshuffled by a compiled kernel into the array.

Anything else gives ``None``, and the caller reads as usual: other filters, external, virtual
or compact datasets, chunks never written (their rows hold the fill value, which is not in the
file) or written without some filter, files with a user block or not on the default driver.

Files are never memory-mapped: reading a page of a map whose file was truncated ends the
process with SIGBUS, and no check before mapping closes that race. Instead, a read that comes
up short, and any read after which the file's size or modification time is not what it was
when the reader was made, raises :class:`~tierflow.errors.LH5FileError` naming the file and
the dataset; a chunk that does not inflate raises :class:`~tierflow.errors.LH5DecodeError`.

>>> import os, tempfile, h5py, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "d.h5")
>>> with h5py.File(path, "w") as f:
...     _ = f.create_dataset("x", data=np.arange(10.0), chunks=(4,), maxshape=(None,))
...     _ = f.create_dataset("z", data=np.arange(10.0), chunks=(4,), compression="gzip")
>>> with h5py.File(path, "r") as f:
...     plain, deflated = direct_rows(f["x"].id), direct_rows(f["z"].id)
...     type(plain).__name__, plain.read(3, 7, np.empty(5)).tolist()
...     type(deflated).__name__, deflated.read(3, 9, np.empty(6)).tolist()
('PlainRows', [3.0, 4.0, 5.0, 6.0])
('DeflatedRows', [3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
"""

# Why os.preadv into a scratch array, and no memory map (2026-12-07, issue 14): 1e7 float32
# values (bench_iterate's uncompressed file, column a), filled into 100 regular bins; best of
# 7-9 rounds of CPU time, three runs at load average 4-5 on the shared 2-core machine; ms per
# 1e7 values (the pass over the column: 13.6-16.0; the fill kernel alone on a window in the
# CPU's cache: 10.3):
#   (a) read-only mmap views a window at a time (the route before): 4M rows 25.1-25.8,
#       256k rows 24.2-25.2 -- and a truncation while a view is alive ends the process (SIGBUS)
#   (d) the same with an fstat of the file before each window's maps: 25.2-26.0 (the race
#       stays open: the file can shrink between the check and the read)
#   (b) os.preadv of the byte runs into one scratch array: 4M rows 19.3-21.6, 1M 16.7-18.8,
#       256k 15.6-18.0, 64k 16.0-18.3
#   (c) HDF5's dsid.read of a hyperslab into a scratch array: 4M 19.8-21.4, 1M 19.7-21.6,
#       256k 18.8-22.4, 64k 19.3-22.6; and HDF5 gives zeros for rows past a shrunken file's end
# (b) with windows of 256k rows is the fastest and cannot end the process. The whole ``hist``
# (iterator, plan and all) against the pass, A/B of old and new code in alternating processes:
# uncompressed 34.6 -> 28.1 ms (0.60x -> 0.71x of a 19.8-20.8 ms pass at that load); gzip
# 82.9 -> 90.8 ms (1.18x -> 1.07x of the pass: HDF5's H5Dread_chunk costs about 3 us a chunk
# more than a pread at a hand-found offset).

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass

import h5py
import numba
import numpy as np

from ..errors import LH5DecodeError, LH5FileError

__all__ = ["ByteRuns", "DeflatedRows", "DirectRows", "PlainRows", "byte_runs", "direct_rows"]


def direct_rows(dsid: h5py.h5d.DatasetID) -> PlainRows | DeflatedRows | None:
    """A reader of the rows of the dataset ``dsid`` (``h5py.Dataset.id``) past HDF5's chunk
    cache, or ``None`` where the dataset is not one it serves (see the module documentation)."""
    if not _plain_numeric_1d(dsid):
        return None
    runs = byte_runs(dsid)
    if runs is not None:
        return PlainRows(dsid, runs)
    return DeflatedRows.of(dsid)


class DirectRows:
    """What both readers share: the dataset, its dtype and length, and the state of its file
    (size, modification time) when the reader was made, which every read checks."""

    def __init__(self, dsid: h5py.h5d.DatasetID, n_rows: int):
        self.dsid = dsid
        self.dtype = dsid.dtype
        self.n_rows = n_rows
        self._fid = h5py.h5i.get_file_id(dsid)
        self.file = self._fid.name.decode(errors="replace")
        self.obj = (h5py.h5i.get_name(dsid) or b"").decode(errors="replace")
        self._state = _file_state(self._fd())

    @property
    def valid(self) -> bool:
        """Whether the dataset is still open (its file may have been closed since)."""
        return bool(self.dsid.valid)

    def read(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """Rows ``start:stop`` into the first ``stop - start`` values of ``out`` (an array of
        the dataset's dtype), which are returned."""
        raise NotImplementedError

    def _fd(self) -> int:
        return self._fid.get_vfd_handle()

    def _check_unchanged(self) -> None:
        """Raise :class:`~tierflow.errors.LH5FileError` where the file has changed since the
        reader was made: the rows just read may not be the dataset's."""
        try:
            now = _file_state(self._fd())
        except OSError as err:
            raise self._file_error(f"the file cannot be looked at: {err}") from None
        if now != self._state:
            size, was = now[0], self._state[0]
            how = f"shrank from {was} to {size} bytes" if size < was else "was modified"
            raise self._file_error(
                f"the file {how} while its rows were read: the values read cannot be trusted"
            )

    def _file_error(self, message: str) -> LH5FileError:
        return LH5FileError(message, file=self.file, obj=self.obj)


def _file_state(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_size, st.st_mtime_ns


def _plain_numeric_1d(dsid: h5py.h5d.DatasetID) -> bool:
    """A 1-d dataset of numbers in a file on the default (sec2) driver without a user block
    (HDF5's addresses count from its end)."""
    dtype = dsid.dtype
    if len(dsid.shape) != 1 or dtype.kind not in "biuf" or dtype.itemsize > 8:
        return False
    fid = h5py.h5i.get_file_id(dsid)
    if fid.get_access_plist().get_driver() != h5py.h5fd.SEC2:
        return False
    return not fid.get_create_plist().get_userblock()


# --- uncompressed datasets ----------------------------------------------------------------------
@dataclass(frozen=True)
class ByteRuns:
    """Where a 1-d dataset's rows are in its file: run ``k`` holds rows
    ``starts[k]:starts[k] + lengths[k]`` from byte ``offsets[k]`` on; runs are sorted and
    cover every row."""

    dtype: np.dtype
    starts: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.starts[-1] + self.lengths[-1]) if len(self.starts) else 0

    @property
    def end_byte(self) -> int:
        """The first byte after the last run: a file shorter than this is damaged."""
        if not len(self.starts):
            return 0
        return int((self.offsets + self.lengths * self.dtype.itemsize).max())


def byte_runs(dsid: h5py.h5d.DatasetID) -> ByteRuns | None:
    """The byte runs of a 1-d numeric dataset stored without filters, or ``None`` where its
    rows are not all in the file as they are in memory.

    >>> import os, tempfile, h5py, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "r.h5")
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("x", data=np.arange(10.0), chunks=(4,))
    ...     runs = byte_runs(f["x"].id)
    >>> runs.starts.tolist(), runs.lengths.tolist(), runs.n_rows
    ([0], [10], 10)
    """
    dtype = dsid.dtype
    plist = dsid.get_create_plist()
    layout = plist.get_layout()
    if plist.get_nfilters() or plist.get_external_count():
        return None
    n = dsid.shape[0]
    if n == 0:
        empty = np.zeros(0, np.int64)
        return ByteRuns(dtype, empty, empty, empty)
    if layout == h5py.h5d.CONTIGUOUS:
        offset = dsid.get_offset()
        if offset is None:
            return None
        return ByteRuns(dtype, np.zeros(1, np.int64), np.array([offset]), np.array([n]))
    if layout != h5py.h5d.CHUNKED:
        return None
    return _chunk_runs(dsid, dtype, n, plist.get_chunk()[0])


def _chunk_runs(dsid: h5py.h5d.DatasetID, dtype: np.dtype, n: int, chunk: int) -> ByteRuns | None:
    """Runs of a chunked dataset: its chunks in row order, neighbours in the file merged."""
    infos = sorted((i.chunk_offset[0], i.byte_offset) for i in _chunk_infos(dsid))
    if len(infos) != -(-n // chunk):
        return None  # chunks never written
    starts: list[int] = []
    offsets: list[int] = []
    lengths: list[int] = []
    for row, byte in infos:
        if byte is None:
            return None
        rows = min(chunk, n - row)
        end = starts[-1] + lengths[-1] if starts else 0
        if row != end:
            return None
        if starts and offsets[-1] + lengths[-1] * dtype.itemsize == byte:
            lengths[-1] += rows  # the next chunk follows in the file: one run
            continue
        starts.append(row)
        offsets.append(byte)
        lengths.append(rows)
    return ByteRuns(dtype, np.array(starts), np.array(offsets), np.array(lengths))


def _chunk_infos(dsid: h5py.h5d.DatasetID) -> list:
    """HDF5's index entry of every chunk written (``StoreInfo``: row offset, filter mask,
    byte offset, stored size)."""
    infos: list = []
    if hasattr(dsid, "chunk_iter"):
        dsid.chunk_iter(infos.append)
    else:  # pragma: no cover - HDF5 < 1.12.3
        infos = [dsid.get_chunk_info(k) for k in range(dsid.get_num_chunks())]
    return infos


class PlainRows(DirectRows):
    """Rows of a dataset stored without filters, read from its byte runs with ``os.preadv``
    (see the module documentation for why not a memory map)."""

    def __init__(self, dsid: h5py.h5d.DatasetID, runs: ByteRuns):
        super().__init__(dsid, runs.n_rows)
        self.runs = runs
        if self._state[0] < runs.end_byte:
            raise self._file_error(
                f"the file is {self._state[0]} bytes, shorter than its dataset: it was cut "
                "short after it was opened"
            )

    def read(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        runs, size, fd = self.runs, self.dtype.itemsize, self._fd()
        target = out[: stop - start]
        pos = 0
        first = max(int(np.searchsorted(runs.starts, start, side="right")) - 1, 0)
        for k in range(first, len(runs.starts)):
            lo = int(runs.starts[k])
            if lo >= stop:
                break
            a, b = max(start, lo), min(stop, lo + int(runs.lengths[k]))
            if a < b:
                byte = int(runs.offsets[k]) + (a - lo) * size
                self._read_fully(fd, target[pos : pos + b - a], byte)
                pos += b - a
        self._check_unchanged()
        return target

    def _read_fully(self, fd: int, dest: np.ndarray, byte: int) -> None:
        view = memoryview(dest.view(np.uint8))  # type: ignore[arg-type]  # numpy arrays are buffers
        while len(view):
            got = os.preadv(fd, [view], byte)
            if not got:
                self._check_unchanged()
                raise self._file_error(f"the file ends at byte {byte}, before the dataset's rows")
            view, byte = view[got:], byte + got


# --- gzip-compressed datasets -------------------------------------------------------------------
_DEFLATE = [h5py.h5z.FILTER_DEFLATE]
_SHUFFLE_DEFLATE = [h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_DEFLATE]


class DeflatedRows(DirectRows):
    """Rows of a dataset compressed with gzip alone or shuffle + gzip: chunk ``k`` holds rows
    from ``k * chunk`` on (the last one fewer); ``shuffled``: its bytes were shuffled before
    deflating. The last chunk inflated is kept, so windows that cut a chunk inflate it once."""

    def __init__(
        self, dsid: h5py.h5d.DatasetID, n_rows: int, chunk: int, stored: int, shuffled: bool
    ):
        super().__init__(dsid, n_rows)
        self.chunk = chunk
        self.shuffled = shuffled
        self._stored = np.empty(stored, np.uint8)  # a chunk's stored bytes, read by HDF5
        self._last: tuple[int, np.ndarray] = (-1, np.empty(0, np.uint8))

    @classmethod
    def of(cls, dsid: h5py.h5d.DatasetID) -> DeflatedRows | None:
        """The reader of a gzip-compressed dataset whose chunks were all written through
        every filter, else ``None``."""
        plist = dsid.get_create_plist()
        if plist.get_layout() != h5py.h5d.CHUNKED or plist.get_external_count():
            return None
        filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        if filters not in (_DEFLATE, _SHUFFLE_DEFLATE):
            return None
        n = dsid.shape[0]
        chunk = plist.get_chunk()[0]
        infos = sorted(_chunk_infos(dsid), key=lambda i: i.chunk_offset[0])
        if len(infos) != -(-n // chunk):
            return None  # chunks never written
        for k, info in enumerate(infos):
            if info.chunk_offset[0] != k * chunk or info.filter_mask:
                return None
        stored = max((i.size for i in infos), default=0)
        return cls(dsid, n, chunk, stored, filters == _SHUFFLE_DEFLATE)

    def read(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        size = self.dtype.itemsize
        target = out[: stop - start].view(np.uint8)
        pos = 0
        for k in range(start // self.chunk, -(-stop // self.chunk)):
            lo = k * self.chunk
            a, b = max(start, lo), min(stop, lo + self.chunk)
            raw = self._inflated(k)
            dest = target[pos * size : (pos + b - a) * size]
            if self.shuffled and size > 1:
                _unshuffle(raw, size, a - lo, b - a, dest)
            else:
                dest[:] = raw[(a - lo) * size : (b - lo) * size]
            pos += b - a
        self._check_unchanged()
        return out[: stop - start]

    def _inflated(self, k: int) -> np.ndarray:
        """Chunk ``k`` inflated (still shuffled where it was)."""
        if self._last[0] == k:
            return self._last[1]
        whole = self.chunk * self.dtype.itemsize
        try:
            mask, stored = self.dsid.read_direct_chunk((k * self.chunk,), out=self._stored)
        except (OSError, ValueError) as err:
            raise self._undecodable(k, f"cannot be read: {err}") from None
        if mask:
            raise self._undecodable(k, f"was stored without some filters (mask {mask:#x})")
        try:
            # at most a chunk's bytes and one more: a damaged chunk cannot inflate without end
            data = zlib.decompressobj().decompress(stored, whole + 1)
        except zlib.error as err:
            raise self._undecodable(k, f"does not inflate: {err}") from None
        if len(data) != whole:
            raise self._undecodable(k, f"inflates to {len(data)} bytes, not {whole}")
        raw = np.frombuffer(data, np.uint8)
        self._last = (k, raw)
        return raw

    def _undecodable(self, k: int, why: str) -> LH5DecodeError:
        """The error for chunk ``k``; an :class:`~tierflow.errors.LH5FileError` is raised
        instead where the file has changed since the reader was made."""
        self._check_unchanged()
        return LH5DecodeError(f"chunk {k} {why}", file=self.file, obj=self.obj)


def _unshuffle(raw: np.ndarray, size: int, first: int, count: int, dest: np.ndarray) -> None:
    """Values ``first:first + count`` of a shuffled chunk ``raw`` (byte 0 of every value, then
    byte 1, ...) as plain bytes into ``dest``."""
    n = raw.shape[0] // size
    if size in _WORDS and np.little_endian:  # each value assembled from its bytes at once
        _WORDS[size](raw, n, first, count, dest.view(_WORD_TYPES[size]))
    else:
        _unshuffle_bytes(raw, n, size, first, count, dest)


@numba.njit(nogil=True, cache=True)
def _unshuffle_bytes(raw, n, size, first, count, dest):  # pragma: no cover - compiled
    for i in range(count):
        for j in range(size):
            dest[i * size + j] = raw[j * n + first + i]


@numba.njit(nogil=True, cache=True)
def _unshuffle2(raw, n, first, count, dest):  # pragma: no cover - compiled
    b0 = raw[first : first + count]  # planes as slices: the loop vectorises
    b1 = raw[n + first : n + first + count]
    for i in range(count):
        dest[i] = np.uint16(b0[i]) | (np.uint16(b1[i]) << np.uint16(8))


@numba.njit(nogil=True, cache=True)
def _unshuffle4(raw, n, first, count, dest):  # pragma: no cover - compiled
    b0 = raw[first : first + count]
    b1 = raw[n + first : n + first + count]
    b2 = raw[2 * n + first : 2 * n + first + count]
    b3 = raw[3 * n + first : 3 * n + first + count]
    for i in range(count):
        dest[i] = (
            np.uint32(b0[i])
            | (np.uint32(b1[i]) << np.uint32(8))
            | (np.uint32(b2[i]) << np.uint32(16))
            | (np.uint32(b3[i]) << np.uint32(24))
        )


@numba.njit(nogil=True, cache=True)
def _unshuffle8(raw, n, first, count, dest):  # pragma: no cover - compiled
    dest[:count] = 0
    for j in range(8):
        plane = raw[j * n + first : j * n + first + count]
        shift = np.uint64(8 * j)
        for i in range(count):
            dest[i] |= np.uint64(plane[i]) << shift


_WORDS = {2: _unshuffle2, 4: _unshuffle4, 8: _unshuffle8}
_WORD_TYPES = {2: np.uint16, 4: np.uint32, 8: np.uint64}
