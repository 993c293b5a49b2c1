"""Rows of uncompressed datasets straight from the file's pages, without a copy.

A dataset stored without filters (no compression, no shuffle) keeps its values in the file
exactly as they are in memory: in one block (contiguous layout) or in chunks. :func:`byte_runs`
finds where its rows lie (neighbouring chunks merged into one run), and :class:`FileMaps` maps
files into memory read-only, so :func:`row_views` gives rows as NumPy arrays that are views of
the operating system's page cache. Consumers that only look at values once (a histogram fill)
skip the copy a read makes. Each view maps only its own bytes and is unmapped when it goes, so
memory stays bounded by the rows looked at together.

Anything the direct route cannot serve gives ``None``, and the caller reads as usual:
filtered, external, virtual or compact datasets, chunks never written (their rows hold the fill
value, which is not in the file), files with a user block.

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
from dataclasses import dataclass

import h5py
import numpy as np

__all__ = ["ByteRuns", "byte_runs", "end_byte", "row_views"]


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
