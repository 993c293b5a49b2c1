"""Histograms filled straight from the files, without reading rows into a buffer.

``hist`` of plain columns (no ``where``, keys and weights that are column names) only looks at
each value once. Where the columns are stored without filters, :class:`DirectHistWork` fills
from read-only views of the files (:mod:`tierflow.lh5.direct`) instead of copying rows into
the iterator's buffer first, so filling costs what the fill kernel costs; where they are
compressed with gzip (shuffled or not), from their chunks inflated straight into a scratch
array, without HDF5's chunk cache. Any work item the direct route cannot serve (other
filters, a mix of both kinds, entry lists, missing groups, a file that cannot be mapped or a
chunk that does not inflate) is read and filled chunk by chunk as usual; the histogram is the
same either way, bit for bit.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Sequence
from typing import Any

import h5py
import numpy as np

from ..errors import LH5DecodeError
from ..lh5.direct import (
    ByteRuns,
    DeflatedChunks,
    byte_runs,
    decode_rows,
    deflated_chunks,
    deflated_end_byte,
    end_byte,
    row_views,
)
from . import hist_fill
from .source import ChunkSource
from .work import ChunkWork, EntryRange

__all__ = ["DirectHistWork", "aligned_pieces", "direct_columns"]

#: fewest rows mapped at once (16 MiB of float32): a map and its page faults per window cost
#: about 0.1 ms, which small windows would pay again and again
MIN_WINDOW = 1 << 22


def direct_columns(
    it: ChunkSource,
    axis_columns: Sequence[str] | None,
    weights: str | None,
) -> list[str] | None:
    """The columns to view for a hist of ``axis_columns`` (one per axis, then ``weights``),
    or ``None`` where the chunked route must fill (friends, ``group_data`` columns, names
    that are not plain columns of the tables)."""
    if axis_columns is None or it.friends:
        return None
    columns = [*axis_columns, *([weights] if weights else [])]
    own = set(it.available_fields())
    if any(c not in own or c in it.group_data for c in columns):
        return None
    return columns


class DirectColumns:
    """Entries of an iterator as views of its files: pieces of aligned arrays, one per column.

    Views are made ``window`` rows at a time (the iterator's ``buffer_len``, at least
    :data:`MIN_WINDOW`) and unmapped once used: the pages they map are the page cache's own
    (clean, shared with every reader of the file), at most a window's worth per column at once.
    """

    def __init__(self, it: ChunkSource, columns: Sequence[str]):
        self.it = it
        self.columns = list(columns)
        self.window = max(int(it.buffer_len), MIN_WINDOW)
        self._runs: dict[tuple[str, str, str], ByteRuns | DeflatedChunks | None] = {}

    def pieces(self, first: int, n: int) -> Iterator[list[np.ndarray]] | None:
        """Entries ``[first, first + n)`` as pieces (one array per column, of equal lengths),
        or ``None`` where some of them cannot be viewed or decoded. Decoded pieces are
        scratch arrays, overwritten by the next piece."""
        plan = []
        for i, rows in self.it.selection.segments(first, n):
            if not isinstance(rows, slice):
                return None
            ds = self.it.datasets[i]
            runs = [self.runs(ds.file, ds.group, column) for column in self.columns]
            if any(r is None or rows.stop > r.n_rows for r in runs):
                return None
            kinds = {type(r) for r in runs}
            if len(kinds) > 1:
                return None  # a mix of plain and compressed columns: the chunked route
            path = self._path(ds.file)
            ends = [
                deflated_end_byte(r) if kinds == {DeflatedChunks} else end_byte(r) for r in runs
            ]
            try:
                if os.path.getsize(path) < max(ends):
                    return None  # damaged: the chunked route says so
            except OSError:
                return None
            plan.append((path, rows, runs))
        return self._pieces(plan)

    def _pieces(self, plan: list) -> Iterator[list[np.ndarray]]:
        scratch: list[np.ndarray] = []
        for path, rows, runs in plan:
            fd = os.open(path, os.O_RDONLY)
            try:
                if isinstance(runs[0], DeflatedChunks):
                    yield from self._decoded(fd, rows, runs, scratch)
                    continue
                for a in range(rows.start, rows.stop, self.window):
                    b = min(a + self.window, rows.stop)
                    yield from aligned_pieces([row_views(fd, r, a, b) for r in runs])
            finally:
                os.close(fd)

    def _decoded(
        self, fd: int, rows: slice, chunks: list[DeflatedChunks], scratch: list[np.ndarray]
    ) -> Iterator[list[np.ndarray]]:
        """Rows of compressed columns, decoded a buffer's worth of whole chunks at a time
        into ``scratch`` (one array per column, grown as needed)."""
        step = max(c.chunk for c in chunks)
        step *= max(1, int(self.it.buffer_len) // step)
        while len(scratch) < len(chunks):
            scratch.append(np.empty(0))
        for k, c in enumerate(chunks):
            if scratch[k].dtype != c.dtype or len(scratch[k]) < step:
                scratch[k] = np.empty(step, c.dtype)
        a = rows.start
        while a < rows.stop:
            b = min((a // step + 1) * step, rows.stop)
            yield [decode_rows(fd, c, a, b, scratch[k]) for k, c in enumerate(chunks)]
            a = b

    def runs(self, file: str, group: str, column: str) -> ByteRuns | DeflatedChunks | None:
        """Where the rows of ``group/column`` are in ``file`` (looked up once)."""
        key = (file, group, column)
        if key not in self._runs:
            self._runs[key] = self._find_runs(file, group, column)
        return self._runs[key]

    def _find_runs(self, file: str, group: str, column: str) -> ByteRuns | DeflatedChunks | None:
        try:
            h5f = self.it.open_file(file)
            obj = h5f.get(f"{group}/{column}")
            if not isinstance(obj, h5py.Dataset) or h5f.driver != "sec2":
                return None
            return byte_runs(obj.id) or deflated_chunks(obj.id)
        except Exception:  # the chunked route reports what is wrong
            return None

    def _path(self, file: str) -> str:
        return self.it.open_file(file).filename


def aligned_pieces(columns: Sequence[Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
    """Views of several columns over the same rows, cut where any column's views end, so that
    each piece has one array per column, all of one length.

    >>> a = [np.arange(5), np.arange(5, 8)]
    >>> b = [np.arange(10, 12), np.arange(12, 18)]
    >>> [[p.tolist() for p in piece] for piece in aligned_pieces([a, b])]
    [[[0, 1], [10, 11]], [[2, 3, 4], [12, 13, 14]], [[5, 6, 7], [15, 16, 17]]]
    """
    if len(columns) == 1:
        return [[v] for v in columns[0] if len(v)]
    ends = sorted({int(e) for views in columns for e in np.cumsum([len(v) for v in views])})
    pieces: list[list[np.ndarray]] = []
    start = 0
    for end in ends:
        if end > start:
            pieces.append([_rows(views, start, end) for views in columns])
        start = end
    return pieces


def _rows(views: Sequence[np.ndarray], start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of the concatenation of ``views``, lying within one of them."""
    offset = 0
    for v in views:
        if start < offset + len(v):
            return v[start - offset : stop - offset]
        offset += len(v)
    return views[-1][len(views[-1]) :]


class DirectHistWork(ChunkWork):
    """hist's work on one item: filled from views of the files where they can serve it,
    else chunk by chunk as :class:`~tierflow.iterate.work.ChunkWork` does.

    ``columns`` are the axes' columns, then the weights' if ``weighted``.
    """

    def __init__(
        self,
        iterator: ChunkSource,
        fun: Any,
        aggregate: Any,
        init: Any,
        columns: Sequence[str],
        weighted: bool,
    ):
        super().__init__(iterator, fun, aggregate, init)
        self.columns = list(columns)
        self.weighted = weighted

    def _run(self, item: EntryRange, it: ChunkSource) -> Any:
        pieces = DirectColumns(it, self.columns).pieces(item.first, item.n)
        if pieces is None:
            return super()._run(item, it)
        h = copy.deepcopy(self.init)
        filler = hist_fill.Filler(h)
        try:
            for arrays in pieces:
                if self.weighted:
                    filler(arrays[:-1], arrays[-1])
                else:
                    filler(arrays)
        except (LH5DecodeError, OSError, ValueError):  # damaged: the chunked route reports it
            return super()._run(item, it)
        return h
