"""Rows of uncompressed datasets straight from the file's pages, without a copy.

A dataset stored without filters (no compression, no shuffle) keeps its values in the file
exactly as they are in memory: in one block (contiguous layout) or in chunks. :func:`byte_runs`
finds where its rows lie (neighbouring chunks merged into one run), and :class:`FileMaps` maps
files into memory read-only, so :func:`row_views` gives rows as NumPy arrays that are views of
the operating system's page cache. Consumers that only look at values once (a histogram fill)
skip the copy a read makes.

Anything the direct route cannot serve gives ``None``, and the caller reads as usual:
filtered, external, virtual or compact datasets, chunks never written (their rows hold the fill
value, which is not in the file), files with a user block.

Files must not be truncated while views of them are alive (reading a page that is gone ends
the process with SIGBUS, as with any memory map); LH5 files are written once and renamed
into place by tierflow, so this only matters for files rewritten in place by other tools.

>>> import os, tempfile, h5py, numpy as np
>>> path = os.path.join(tempfile.mkdtemp(), "d.h5")
>>> with h5py.File(path, "w") as f:
...     _ = f.create_dataset("x", data=np.arange(10.0), chunks=(4,), maxshape=(None,))
>>> with h5py.File(path, "r") as f:
...     runs = byte_runs(f["x"].id)
>>> maps = FileMaps()
>>> [v.tolist() for v in row_views(maps.get(path), runs, 3, 7)]
[[3.0, 4.0, 5.0, 6.0]]
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass

import h5py
import numpy as np

__all__ = ["ByteRuns", "FileMaps", "byte_runs", "row_views"]


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
    if len(dsid.shape) != 1 or dtype.kind not in "biuf" or dtype.itemsize > 8:
        return None
    if h5py.h5i.get_file_id(dsid).get_create_plist().get_userblock():
        return None  # HDF5 addresses count from the end of the user block
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


def row_views(mapped: mmap.mmap, runs: ByteRuns, start: int, stop: int) -> list[np.ndarray]:
    """Rows ``start:stop`` as read-only views of ``mapped`` (the dataset's file), one per run
    they touch."""
    views = []
    first = max(int(np.searchsorted(runs.starts, start, side="right")) - 1, 0)
    size = runs.dtype.itemsize
    for k in range(first, len(runs.starts)):
        lo = int(runs.starts[k])
        if lo >= stop:
            break
        a, b = max(start, lo), min(stop, lo + int(runs.lengths[k]))
        if a < b:
            view = np.frombuffer(
                mapped, runs.dtype, count=b - a, offset=int(runs.offsets[k]) + (a - lo) * size
            )
            views.append(view if view.flags.aligned else view.copy())
    return views


class FileMaps:
    """Files mapped into memory read-only, one map per path (kept until this object goes).

    A map is never closed by hand: the views made from it keep it alive, and it is released
    when the last of them is.
    """

    def __init__(self) -> None:
        self._maps: dict[str, mmap.mmap] = {}

    def get(self, path: str) -> mmap.mmap:
        """The map of ``path`` (made on first use); ``OSError`` if it cannot be mapped."""
        found = self._maps.get(path)
        if found is None:
            fd = os.open(path, os.O_RDONLY)
            try:
                found = self._maps[path] = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            finally:
                os.close(fd)
        return found
