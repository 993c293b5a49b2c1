"""Rows of uncompressed datasets straight from the file's pages, without a copy.

A dataset stored without filters (no compression, no shuffle) keeps its values in the file
exactly as they are in memory: in one block (contiguous layout) or in chunks. :func:`byte_runs`
finds where its rows lie (neighbouring chunks merged into one run), and :class:`FileMaps` maps
files into memory read-only, so :func:`row_views` gives rows as NumPy arrays that are views of
the operating system's page cache. Consumers that only look at values once (a histogram fill)
skip the copy a read makes. Each view maps only its own bytes and is unmapped when it goes, so
memory stays bounded by the rows looked at together.

Datasets compressed with gzip (HDF5's deflate filter, after byte shuffling or not: LH5's
default) are decoded chunk by chunk by :func:`decode_rows` straight into the caller's array:
:func:`deflated_chunks` finds the chunks, and each is inflated by ``zlib`` and unshuffled by a
compiled kernel, without HDF5's chunk cache and the copy out of it.

Anything the direct route cannot serve gives ``None``, and the caller reads as usual: other
filters, external, virtual or compact datasets, chunks never written (their rows hold the fill
value, which is not in the file) or written without some filter, files with a user block.

A file shorter than its datasets' byte runs (damaged) must not be viewed (:func:`end_byte`),
nor one truncated while views of it are alive: reading a page that is gone ends the process
with SIGBUS, as with any memory map. LH5 files are written once and renamed into place by
tierflow, so the latter only matters for files rewritten in place by other tools.

>>> import os, tempfile, h5py, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "d.h5")
>>> with h5py.File(path, "w") as f:
...     _ = f.create_dataset("x", data=np.arange(10.0), chunks=(4,), maxshape=(None,))
>>> with h5py.File(path, "r") as f:
...     runs = byte_runs(f["x"].id)
>>> fd = os.open(path, os.O_RDONLY)
>>> os.fstat(fd).st_size >= end_byte(runs)
True
>>> [v.tolist() for v in row_views(fd, runs, 3, 7)]
[[3.0, 4.0, 5.0, 6.0]]
>>> os.close(fd)
"""

from __future__ import annotations

import mmap
import os
import zlib
from dataclasses import dataclass

import h5py
import numba
import numpy as np

from ..errors import LH5DecodeError

__all__ = [
    "ByteRuns",
    "DeflatedChunks",
    "byte_runs",
    "decode_rows",
    "deflated_chunks",
    "deflated_end_byte",
    "end_byte",
    "row_views",
]


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


def byte_runs(dsid: h5py.h5d.DatasetID) -> ByteRuns | None:
    """The byte runs of a 1-d numeric dataset stored without filters, or ``None`` where its
    rows cannot be viewed in the file (see the module documentation)."""
    dtype = dsid.dtype
    if not _plain_numeric_1d(dsid):
        return None
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


def _plain_numeric_1d(dsid: h5py.h5d.DatasetID) -> bool:
    """A 1-d dataset of numbers in a file without a user block (HDF5's addresses count from
    its end)."""
    dtype = dsid.dtype
    if len(dsid.shape) != 1 or dtype.kind not in "biuf" or dtype.itemsize > 8:
        return False
    return not h5py.h5i.get_file_id(dsid).get_create_plist().get_userblock()


def _chunk_runs(dsid: h5py.h5d.DatasetID, dtype: np.dtype, n: int, chunk: int) -> ByteRuns | None:
    """Runs of a chunked dataset: its chunks in row order, neighbours in the file merged."""
    infos: list[tuple[int, int]] = []
    if hasattr(dsid, "chunk_iter"):
        dsid.chunk_iter(lambda info: infos.append((info.chunk_offset[0], info.byte_offset)))
    else:  # pragma: no cover - HDF5 < 1.12.3
        for i in range(dsid.get_num_chunks()):
            info = dsid.get_chunk_info(i)
            infos.append((info.chunk_offset[0], info.byte_offset))
    if len(infos) != -(-n // chunk):
        return None  # chunks never written
    infos.sort()
    starts, offsets, lengths = [], [], []
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


def end_byte(runs: ByteRuns) -> int:
    """The first byte after the dataset's last run: a file shorter than this is damaged."""
    if not len(runs.starts):
        return 0
    return int((runs.offsets + runs.lengths * runs.dtype.itemsize).max())


def row_views(fd: int, runs: ByteRuns, start: int, stop: int) -> list[np.ndarray]:
    """Rows ``start:stop`` of the dataset in the open file ``fd``, one read-only view per run
    they touch, each of its own memory map of just those bytes (unmapped when the view goes).

    The caller checks that the file is at least :func:`end_byte` long: a map past its end
    would end the process when read.
    """
    views = []
    first = max(int(np.searchsorted(runs.starts, start, side="right")) - 1, 0)
    size = runs.dtype.itemsize
    for k in range(first, len(runs.starts)):
        lo = int(runs.starts[k])
        if lo >= stop:
            break
        a, b = max(start, lo), min(stop, lo + int(runs.lengths[k]))
        if a < b:
            views.append(_mapped(fd, int(runs.offsets[k]) + (a - lo) * size, b - a, runs.dtype))
    return views


def _mapped(fd: int, offset: int, count: int, dtype: np.dtype) -> np.ndarray:
    """``count`` values of ``dtype`` at byte ``offset`` of ``fd``, as a view of a memory map."""
    skip = offset % mmap.ALLOCATIONGRANULARITY
    mapped = mmap.mmap(
        fd, skip + count * dtype.itemsize, access=mmap.ACCESS_READ, offset=offset - skip
    )
    view = np.frombuffer(mapped, dtype, count=count, offset=skip)
    return view if view.flags.aligned else view.copy()


# --- gzip-compressed chunks ---------------------------------------------------------------------
_DEFLATE = [h5py.h5z.FILTER_DEFLATE]
_SHUFFLE_DEFLATE = [h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_DEFLATE]


@dataclass(frozen=True)
class DeflatedChunks:
    """Where a 1-d gzip-compressed dataset's chunks are: chunk ``k`` holds rows from
    ``k * chunk`` on (the last one fewer), stored as ``sizes[k]`` bytes from byte
    ``offsets[k]``; ``shuffled``: its bytes were shuffled before deflating."""

    dtype: np.dtype
    chunk: int
    n_rows: int
    offsets: np.ndarray
    sizes: np.ndarray
    shuffled: bool


def deflated_chunks(dsid: h5py.h5d.DatasetID) -> DeflatedChunks | None:
    """The chunks of a 1-d numeric dataset compressed with gzip alone or shuffle + gzip, every
    chunk written and through every filter; else ``None`` (see the module documentation).

    >>> import os, tempfile, h5py, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "z.h5")
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("x", data=np.arange(10.0), chunks=(4,), compression="gzip",
    ...                          shuffle=True)
    >>> with h5py.File(path, "r") as f:
    ...     chunks = deflated_chunks(f["x"].id)
    >>> fd = os.open(path, os.O_RDONLY)
    >>> decode_rows(fd, chunks, 3, 9, np.empty(6)).tolist()
    [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    >>> os.close(fd)
    """
    if not _plain_numeric_1d(dsid):
        return None
    plist = dsid.get_create_plist()
    if plist.get_layout() != h5py.h5d.CHUNKED or plist.get_external_count():
        return None
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    if filters not in (_DEFLATE, _SHUFFLE_DEFLATE):
        return None
    n = dsid.shape[0]
    chunk = plist.get_chunk()[0]
    infos: list[tuple[int, int | None, int, int]] = []
    if hasattr(dsid, "chunk_iter"):
        dsid.chunk_iter(
            lambda i: infos.append((i.chunk_offset[0], i.byte_offset, i.size, i.filter_mask))
        )
    else:  # pragma: no cover - HDF5 < 1.12.3
        for k in range(dsid.get_num_chunks()):
            i = dsid.get_chunk_info(k)
            infos.append((i.chunk_offset[0], i.byte_offset, i.size, i.filter_mask))
    if len(infos) != -(-n // chunk):
        return None  # chunks never written
    infos.sort()
    for k, (row, byte, _, mask) in enumerate(infos):
        if row != k * chunk or byte is None or mask:
            return None
    return DeflatedChunks(
        dsid.dtype,
        chunk,
        n,
        np.array([i[1] for i in infos], np.int64),
        np.array([i[2] for i in infos], np.int64),
        filters == _SHUFFLE_DEFLATE,
    )


def deflated_end_byte(chunks: DeflatedChunks) -> int:
    """The first byte after the dataset's last chunk: a file shorter than this is damaged."""
    return int((chunks.offsets + chunks.sizes).max()) if len(chunks.offsets) else 0


def decode_rows(
    fd: int, chunks: DeflatedChunks, start: int, stop: int, out: np.ndarray
) -> np.ndarray:
    """Rows ``start:stop`` of the dataset in the open file ``fd``, decoded into the first
    ``stop - start`` values of ``out`` (an array of the dataset's dtype), which are returned.

    A chunk that does not inflate to a whole chunk raises :class:`~tierflow.errors.LH5DecodeError`.
    """
    size = chunks.dtype.itemsize
    whole = chunks.chunk * size
    target = out[: stop - start].view(np.uint8)
    pos = 0
    for k in range(start // chunks.chunk, -(-stop // chunks.chunk)):
        lo = k * chunks.chunk
        a, b = max(start, lo), min(stop, lo + chunks.chunk)
        try:
            # at most a chunk's bytes and one more: a damaged chunk cannot inflate without end
            inflate = zlib.decompressobj()
            data = inflate.decompress(
                os.pread(fd, int(chunks.sizes[k]), int(chunks.offsets[k])), whole + 1
            )
        except zlib.error as err:
            raise LH5DecodeError(f"chunk {k} does not inflate: {err}") from None
        if len(data) != whole:
            raise LH5DecodeError(f"chunk {k} inflates to {len(data)} bytes, not {whole}")
        raw = np.frombuffer(data, np.uint8)
        dest = target[pos * size : (pos + b - a) * size]
        if chunks.shuffled and size > 1:
            _unshuffle(raw, size, a - lo, b - a, dest)
        else:
            dest[:] = raw[(a - lo) * size : (b - lo) * size]
        pos += b - a
    return out[: stop - start]


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
