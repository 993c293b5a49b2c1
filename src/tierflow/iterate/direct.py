"""Histograms filled straight from the files, past the iterator's buffer.

``hist`` of plain columns (no ``where``, keys and weights that are column names) only looks at
each value once. Where the columns are stored without filters or compressed with gzip
(shuffled or not), :class:`DirectHistWork` reads them a window at a time into scratch arrays
(:mod:`tierflow.lh5.direct`: byte runs read with ``os.preadv``, gzip chunks read by HDF5 and
inflated straight into the array) and fills from those, so filling costs little more than the
fill kernel. Any work item the direct route cannot serve (other filters, entry lists, missing
groups, friends, ``general_path_only()``) is read and filled chunk by chunk as usual; the
histogram is the same either way, bit for bit. A file that changes while it is read raises
:class:`~tierflow.errors.LH5FileError`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import LH5FileError, TierflowError
from ..lh5.direct import DirectRows
from ..lh5.guards import FAILURES
from ..lh5.serial.array import ArrayPlan
from ..lh5.serial.base import fast_paths_enabled
from . import hist_fill
from .source import ChunkSource
from .work import ChunkWork, EntryRange

__all__ = ["DirectHistWork", "direct_columns"]

#: rows of each column read at once: a window's values are still in the CPU's cache when the
#: fill kernel reads them (256k rows measured fastest; see :mod:`tierflow.lh5.direct`)
WINDOW = 1 << 18


def direct_columns(
    it: ChunkSource,
    axis_columns: Sequence[str] | None,
    weights: str | None,
) -> list[str] | None:
    """The columns to view for a hist of ``axis_columns`` (one per axis, then ``weights``),
    or ``None`` where the chunked route must fill (friends, ``group_data`` columns, names
    that are not plain columns of the tables, and within
    :func:`~tierflow.lh5.serial.general_path_only`)."""
    if axis_columns is None or it.friends or not fast_paths_enabled():
        return None
    columns = [*axis_columns, *([weights] if weights else [])]
    own = set(it.available_fields())
    if any(c not in own or c in it.group_data for c in columns):
        return None
    return columns


class DirectColumns:
    """Entries of an iterator read a window at a time: pieces of equally long arrays, one per
    column, each a scratch array overwritten by the next piece (at most :data:`WINDOW` rows
    of each column in memory at once).
    """

    def __init__(self, it: ChunkSource, columns: Sequence[str]):
        self.it = it
        self.columns = list(columns)
        self._readers: dict[tuple[str, str], list[DirectRows] | None] = {}

    def pieces(self, first: int, n: int) -> Iterator[list[np.ndarray]] | None:
        """Entries ``[first, first + n)`` as pieces (one array per column, of equal lengths),
        or ``None`` where some of them cannot be read directly."""
        plan = []
        for i, rows in self.it.selection.segments(first, n):
            if not isinstance(rows, slice):
                return None
            ds = self.it.datasets[i]
            readers = self.readers(ds.file, ds.group)
            if readers is None or any(rows.stop > r.n_rows for r in readers):
                return None
            plan.append((ds.file, ds.group, rows))
        return self._pieces(plan)

    def _pieces(self, plan: list[tuple[str, str, slice]]) -> Iterator[list[np.ndarray]]:
        scratch = [np.empty(0) for _ in self.columns]
        for file, group, rows in plan:
            readers = self.readers(file, group)  # again: the file may have been closed since
            if readers is None:
                raise LH5FileError(
                    "the file changed while its rows were read", file=file, obj=group
                )
            for k, r in enumerate(readers):
                if scratch[k].dtype != r.dtype or len(scratch[k]) < WINDOW:
                    scratch[k] = np.empty(WINDOW, r.dtype)
            for a in range(rows.start, rows.stop, WINDOW):
                b = min(a + WINDOW, rows.stop)
                yield [r.read(a, b, scratch[k]) for k, r in enumerate(readers)]

    def readers(self, file: str, group: str) -> list[DirectRows] | None:
        """Readers of the columns of ``group`` in ``file``, one per column (found once, and
        again where the file was closed since), or ``None`` where some column is not one the
        direct route serves."""
        key = (file, group)
        readers = self._readers.get(key)
        if key not in self._readers or (readers and not all(r.valid for r in readers)):
            readers = self._readers[key] = self._find_readers(file, group)
        return readers

    def _find_readers(self, file: str, group: str) -> list[DirectRows] | None:
        try:
            plan = self.it.table_plan(file, group)  # the plan the chunked route reads with
        except (TierflowError, *FAILURES):  # the chunked route reports what is wrong
            return None
        columns = [plan.column(c) for c in self.columns]
        try:
            # a file shorter than its datasets raises: reading it would give wrong values
            found = [c.direct() if isinstance(c, ArrayPlan) else None for c in columns]
        except FAILURES:  # the chunked route reports what is wrong
            return None
        readers: list[DirectRows] = [r for r in found if r is not None]
        return readers if len(readers) == len(found) else None


class DirectHistWork(ChunkWork):
    """hist's work on one item: filled from rows read directly where they can be,
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
        except TierflowError:  # a chunk that does not inflate, a file that changed
            raise
        except (OSError, ValueError):  # the chunked route reports it in its words
            return super()._run(item, it)
        return h
