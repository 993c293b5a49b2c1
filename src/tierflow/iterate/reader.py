"""Reading rows of many (file, group) tables into one reused buffer, fast.

The first read of a table goes through :func:`tierflow.lh5.read`, which knows every
LH5 datatype. From the object it returns, a :class:`ReadPlan` is made: one step per
leaf column. Plain numeric arrays (the bulk of dsp and hit data) and vectors of them
are then read with h5py's low-level calls straight into the buffer's memory, without
parsing attributes again; anything else (encoded waveforms, strings, ...) is read by
the general reader for that column alone. Plans are kept per layout, so a pass over
thousands of tables with the same columns pays the planning once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import h5py
import numpy as np

from ..errors import LH5DecodeError, LH5Error, LH5ObjectNotFoundError
from ..lh5 import read as lh5_read
from ..lh5.buffer import store_into
from ..lh5.fieldmask import FieldMask
from ..lh5.guards import FAILURES
from ..types import (
    LGDO,
    Array,
    ArrayOfDetectorIDs,
    ArrayOfEqualSizedArrays,
    FixedSizeArray,
    Table,
    VectorOfVectors,
)

Rows = slice | np.ndarray
_PLAIN_ARRAYS = (Array, ArrayOfEqualSizedArrays, FixedSizeArray, ArrayOfDetectorIDs)


def _is_plain(obj: LGDO) -> bool:
    return type(obj) in _PLAIN_ARRAYS and obj.nda.dtype.kind in "biuf" and "enum" not in obj.attrs


def _n(rows: Rows) -> int:
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def _memory_view(nda: np.ndarray) -> np.ndarray:
    """Bools are stored as uint8: read them as bytes into the bool memory."""
    return nda.view(np.uint8) if nda.dtype == bool else nda


def _read_into(dsid: h5py.h5d.DatasetID, rows: Rows, out: np.ndarray) -> None:
    """Rows of a dataset into ``out`` (C-contiguous, ``len(out) == rows``)."""
    if isinstance(rows, slice):
        n = rows.stop - rows.start
        if n == 0:
            return
        space = dsid.get_space()
        shape = space.shape
        if rows.stop > shape[0]:
            msg = f"rows {rows.start}:{rows.stop} past the end ({shape[0]} rows)"
            raise IndexError(msg)
        space.select_hyperslab((rows.start,) + (0,) * (len(shape) - 1), (n, *shape[1:]))
        dsid.read(h5py.h5s.create_simple(out.shape), space, _memory_view(out))
        return
    if len(rows) == 0:
        return
    lo, hi = int(rows[0]), int(rows[-1]) + 1  # entry lists are sorted
    span = np.empty((hi - lo, *out.shape[1:]), out.dtype)
    _read_into(dsid, slice(lo, hi), span)
    out[...] = span[rows - lo]


@dataclass
class _ArrayStep:
    """A numeric array column: read its rows straight into the buffer."""

    path: tuple[str, ...]
    h5name: bytes

    def run(self, gid: h5py.h5g.GroupID, buffer: Table, rows: Rows, pos: int, h5f, opened) -> None:
        col = _column(buffer, self.path)
        n = _n(rows)
        col.resize(pos + n)
        out = col.nda[pos : pos + n]
        _read_into(_dataset(gid, self.h5name, opened), rows, out)


@dataclass
class _VectorStep:
    """A vector of numeric vectors: its lengths, then the span of values they cover."""

    path: tuple[str, ...]
    h5name: bytes

    def run(self, gid: h5py.h5g.GroupID, buffer: Table, rows: Rows, pos: int, h5f, opened) -> None:
        col: VectorOfVectors = _column(buffer, self.path)
        if not isinstance(rows, slice):
            raise _FallBack
        n = rows.stop - rows.start
        cl_id = _dataset(gid, self.h5name + b"/cumulative_length", opened)
        first = max(rows.start - 1, 0)
        ends = np.empty(rows.stop - first, np.int64)
        _read_into(cl_id, slice(first, rows.stop), ends)
        base = int(ends[0]) if rows.start > 0 else 0
        ends = ends[1:] if rows.start > 0 else ends
        flat_id = _dataset(gid, self.h5name + b"/flattened_data", opened)
        if (
            base < 0
            or (np.diff(ends) < 0).any()
            or (n and (ends[0] < base or ends[-1] > flat_id.shape[0]))
        ):
            raise _FallBack  # damaged lengths: the general reader says what is wrong
        offset = int(col.cumulative_length.nda[pos - 1]) if pos > 0 else 0
        col.cumulative_length.resize(pos + n)
        col.cumulative_length.nda[pos:] = ends - base + offset
        stop = int(ends[-1]) if n else base
        flat = col.flattened_data
        flat.resize(offset + stop - base)
        _read_into(flat_id, slice(base, stop), flat.nda[offset:])


@dataclass
class _GeneralStep:
    """Any other column, read by the general reader and copied into the buffer."""

    path: tuple[str, ...]
    h5path: str

    def run(
        self, gid: h5py.h5g.GroupID, buffer: Table, rows: Rows, pos: int, h5f: h5py.File, opened
    ) -> None:
        start, n, idx = (
            (rows.start, rows.stop - rows.start, None)
            if isinstance(rows, slice)
            else (0, len(rows), rows)
        )
        obj = lh5_read(self.h5path.format(group=_group_name(gid)), h5f, start, n, idx)
        store_into(_column(buffer, self.path), obj, pos)


class _FallBack(Exception):
    """A step cannot read these rows quickly; the general reader takes over."""


def _dataset(gid: h5py.h5g.GroupID, name: bytes, opened: dict) -> h5py.h5d.DatasetID:
    """A dataset of the group, kept open while the same table is read: HDF5's chunk cache lives
    with the open dataset, so a compressed chunk split by two reads is decompressed once."""
    dsid = opened.get(name)
    if dsid is None or not dsid.valid:
        dsid = opened[name] = h5py.h5d.open(gid, name)
    return dsid


def _group_name(gid: h5py.h5g.GroupID) -> str:
    return h5py.h5i.get_name(gid).decode()


def _column(table: Table, path: tuple[str, ...]) -> LGDO:
    obj: LGDO = table
    for key in path:
        obj = obj[key]
    return obj


@dataclass
class ReadPlan:
    """How to read one table layout: a step per leaf column, and the buffer they fill."""

    steps: list
    layout: tuple

    @classmethod
    def of(cls, table: Table) -> ReadPlan:
        """The plan that reads tables shaped like ``table`` (as returned by the general reader)."""
        steps: list = []

        def walk(obj: Table, path: tuple[str, ...]) -> None:
            for key, col in obj.items():
                sub = (*path, key)
                name = "/".join(sub)
                if isinstance(col, Table):
                    walk(col, sub)
                elif _is_plain(col):
                    steps.append(_ArrayStep(sub, name.encode()))
                elif (
                    type(col) is VectorOfVectors
                    and _is_plain(col.flattened_data)
                    and col.flattened_data.nda.ndim == 1
                ):
                    steps.append(_VectorStep(sub, name.encode()))
                else:
                    steps.append(_GeneralStep(sub, "{group}/" + name))

        walk(table, ())
        return cls(steps, layout_of(table))


def layout_of(obj: LGDO) -> tuple:
    """A hashable description of a table's columns: names, kinds and dtypes."""
    if isinstance(obj, Table):
        return tuple((k, type(v).__name__, layout_of(v)) for k, v in obj.items())
    if isinstance(obj, VectorOfVectors):
        return ("vov", layout_of(obj.flattened_data))
    if isinstance(obj, Array):
        return (obj.nda.dtype.str, obj.nda.shape[1:])
    return (type(obj).__name__,)


class ChunkReader:
    """Reads row ranges of tables into a buffer table that is reused from chunk to chunk.

    ``open_file(path)`` gives an open ``h5py.File`` (the iterator's file cache).

    >>> import tempfile, os, numpy as np, tierflow.lh5 as lh5
    >>> from tierflow.types import Table
    >>> path = os.path.join(tempfile.mkdtemp(), "r.lh5")
    >>> lh5.write(Table({"a": np.arange(5.0), "b": np.arange(5)}), "t", path)
    >>> reader = ChunkReader(lambda p: h5py.File(p, "r"), field_mask=["a"])
    >>> buf = reader.read(path, "t", slice(1, 3), None, 0)
    >>> buf = reader.read(path, "t", np.array([4]), buf, 2)
    >>> buf["a"].nda.tolist(), list(buf)
    ([1.0, 2.0, 4.0], ['a'])
    """

    def __init__(self, open_file: Callable[[str], h5py.File], field_mask=None):
        self.open_file = open_file
        self.field_mask = FieldMask.of(field_mask)
        self.plan: ReadPlan | None = None
        self._open: tuple[tuple[str, str], h5py.h5g.GroupID, dict] | None = None

    def _group(self, h5f: h5py.File, file: str, group: str) -> tuple[h5py.h5g.GroupID, dict]:
        """The open group (and its open datasets) of ``file:group``; reused while it stays open."""
        key = (file, group)
        if self._open is not None and self._open[0] == key and self._open[1].valid:
            return self._open[1], self._open[2]
        gid = h5py.h5o.open(h5f.id, group.encode())
        self._open = (key, gid, {})
        return gid, self._open[2]

    def read(self, file: str, group: str, rows: Rows, buffer: Table | None, pos: int) -> Table:
        """Rows of ``file:group`` into ``buffer`` from row ``pos`` on (a new buffer if None)."""
        h5f = self.open_file(file)
        if buffer is not None and self.plan is not None and len(self.plan.steps):
            try:
                gid, opened = self._group(h5f, file, group)
            except FAILURES:
                gid = None  # let the general reader say what is missing or damaged
            if gid is not None:
                try:
                    for step in self.plan.steps:
                        step.run(gid, buffer, rows, pos, h5f, opened)
                    buffer.resize(pos + _n(rows))
                    return buffer
                except (_FallBack, *FAILURES):
                    pass  # a different layout, a selection the fast path does not do, damage
        return self._read_general(h5f, group, rows, buffer, pos)

    def _read_general(
        self, h5f: h5py.File, group: str, rows: Rows, buffer: Table | None, pos: int
    ) -> Table:
        start, n, idx = (
            (rows.start, rows.stop - rows.start, None)
            if isinstance(rows, slice)
            else (0, len(rows), rows)
        )
        obj = lh5_read(group, h5f, start, n, idx, field_mask=self.field_mask)
        if not isinstance(obj, Table):
            raise LH5DecodeError(
                f"the iterator reads tables; this is a {type(obj).__name__}",
                file=h5f.filename,
                obj=group,
            )
        if buffer is None or pos == 0:
            buffer = obj
        else:
            if layout_of(buffer) != layout_of(obj):
                _check_same_columns(buffer, obj, h5f.filename, group)
            try:
                buffer = store_into(buffer, obj, pos)
            except LH5Error as err:
                if err.file is not None:
                    raise
                raise type(err)(
                    f"this table's columns differ from the previous tables': {err.reason}",
                    file=h5f.filename,
                    obj=group,
                ) from None
        self.plan = ReadPlan.of(buffer)
        return buffer


def _check_same_columns(buffer: Table, obj: Table, file: str, group: str) -> None:
    if set(buffer) != set(obj):
        missing, extra = sorted(set(buffer) - set(obj)), sorted(set(obj) - set(buffer))
        raise LH5ObjectNotFoundError(
            f"this table's columns differ from the previous tables' (missing {missing}, "
            f"extra {extra})",
            file=file,
            obj=group,
        )
