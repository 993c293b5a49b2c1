"""Reading the same columns of many tables of a file, with few HDF5 calls.

:class:`TableReader` gives what ``lh5.read(table, h5f, start_row, n_rows, field_mask=columns)``
gives, object for object (types, dtypes, attributes), for tables of plain numeric columns and
nested tables of them (waveform tables). It walks the file with h5py's low-level API and keeps
a plan per table layout: the parsed ``datatype`` and field selection of each table kind, and
per column the HDF5 type it had and the numpy dtype that makes, so a table shaped like one
read before costs its attribute and data reads only. Columns of any other kind (encoded
waveforms, vectors, strings, ...) are read by the general reader, and anything unexpected (a
missing column, a malformed file) sends the whole table to the general reader, which reads
it or says what is wrong.
"""

from __future__ import annotations

import sys
from typing import Any

import h5py
import numpy as np
from h5py import h5a, h5d, h5g, h5o, h5s, h5t

from ..types import (
    LGDO,
    Array,
    ArrayOfDetectorIDs,
    ArrayOfEqualSizedArrays,
    FixedSizeArray,
    Table,
    WaveformTable,
)
from .datatype import Datatype, parse
from .fieldmask import FieldMask, FieldMaskSpec
from .globalheap import check_attribute_heaps
from .guards import FAILURES
from .read import read, read_object, select_rows

_ARRAY_KINDS = ("array", "fixedsize_array", "array_of_equalsized_arrays")
_VLEN_ASCII = h5t.string_dtype("ascii")
_VLEN_ASCII_MEMORY = h5t.py_create(_VLEN_ASCII)


class _FallBack(Exception):
    """The fast path does not read this table; the general reader does."""


class TableReader:
    """Reads ``columns`` (a field mask) of tables of one open file.

    >>> import tempfile, os, numpy as np, tierflow.lh5 as lh5
    >>> from tierflow.types import Table
    >>> path = os.path.join(tempfile.mkdtemp(), "r.lh5")
    >>> for ch in ("ch1", "ch2"):
    ...     lh5.write(Table({"a": np.arange(5.0), "b": np.arange(5)}), f"{ch}/raw", path)
    >>> reader = TableReader(["a"])
    >>> with h5py.File(path, "r") as f:
    ...     [reader.read(f, t, 1, 2)["a"].nda.tolist() for t in ("ch1/raw", "ch2/raw")]
    [[1.0, 2.0], [1.0, 2.0]]
    """

    def __init__(self, columns: FieldMaskSpec = None):
        self.mask = FieldMask.of(columns)
        self._selections: dict[tuple[str, FieldMask | None], tuple[Datatype, list]] = {}
        self._dtypes: dict[str, tuple[h5t.TypeID, np.dtype | None]] = {}
        #: tables read by the fast path and by the general reader (for tests and tuning)
        self.fast = 0
        self.general = 0

    def read(
        self,
        h5f: h5py.File,
        name: str,
        start_row: int = 0,
        n_rows: int = sys.maxsize,
        total: int | None = None,
    ) -> LGDO:
        """Rows ``start_row:start_row+n_rows`` of the table ``name``, the mask's columns.

        ``total``: the table's rows when the caller has counted them already with
        :func:`table_rows` (they are not counted again)."""
        obj = self._read_fast(h5f, name, start_row, n_rows, total)
        if obj is not None:
            self.fast += 1
            return obj
        self.general += 1
        return read(name, h5f, start_row, n_rows, field_mask=self.mask)

    # --- the fast path ----------------------------------------------------------------------
    def _read_fast(
        self, h5f: h5py.File, name: str, start_row: int, n_rows: int, total: int | None
    ) -> Table | None:
        """The table, or ``None`` to leave it to the general reader."""
        try:
            gid = h5o.open(h5f.id, name.strip("/").encode("utf8"))
        except FAILURES:  # the general reader says what is wrong
            return None
        if not isinstance(gid, h5g.GroupID):
            return None
        try:
            attrs = _attrs(gid)
            dt, selected = self._selection(attrs.get("datatype"), self.mask)
            if not dt.fields:
                return None
            if total is None:
                total = _first_field_rows(gid, dt.fields[0])
            rows = select_rows(start_row, n_rows, None, total, h5f.filename, name)
            return self._table(h5f, gid, attrs, selected, rows, "")
        except Exception:  # whatever it is, the general reader reads it or reports it
            return None

    def _selection(self, datatype: Any, mask: FieldMask | None) -> tuple[Datatype, list]:
        """The parsed table datatype and the fields to read (cached per datatype and mask)."""
        if not isinstance(datatype, str):
            raise _FallBack
        key = (datatype, mask)  # masks compare by identity: the reader's own and their parts
        found = self._selections.get(key)
        if found is None:
            dt = parse(datatype)
            if dt.kind != "table":
                raise _FallBack
            fields = dt.fields or ()
            selected = [(f, None) for f in fields] if mask is None else mask.select(fields, "", "")
            found = self._selections[key] = (dt, selected)
        return found

    def _table(
        self,
        h5f: h5py.File,
        gid: h5g.GroupID,
        attrs: dict,
        selected: list,
        rows: slice,
        path: str,
    ) -> Table:
        fields: dict[str, LGDO] = {}
        for fname, sub in selected:
            fields[fname] = self._column(h5f, gid, fname, sub, rows, f"{path}/{fname}")
        lengths = {len(v) for v in fields.values()}
        if len(lengths) > 1:
            raise _FallBack  # the general reader explains
        attrs.pop("datatype", None)
        if set(fields) == {"t0", "dt", "values"}:
            return WaveformTable(
                t0=fields["t0"], dt=fields["dt"], values=fields["values"], attrs=attrs
            )
        n = rows.stop - rows.start
        table = Table(size=n, attrs=attrs)
        for k, v in fields.items():
            table.add_field(k, v)
        if not fields:
            table._size = n
        return table

    def _column(
        self,
        h5f: h5py.File,
        gid: h5g.GroupID,
        fname: str,
        sub: FieldMask | None,
        rows: slice,
        path: str,
    ) -> LGDO:
        oid = h5o.open(gid, fname.encode("utf8"))
        attrs = _attrs(oid)
        raw = attrs.get("datatype")
        if not isinstance(raw, str):
            raise _FallBack
        dt = parse(raw)
        if isinstance(oid, h5d.DatasetID) and dt.kind in _ARRAY_KINDS and _plain(dt):
            data = self._read_rows(oid, rows, path)
            if data is not None:
                attrs.pop("datatype")
                return _array(dt, data, attrs)
        if isinstance(oid, h5g.GroupID) and dt.kind == "table" and dt.fields:
            _, selected = self._selection(raw, sub)
            return self._table(h5f, oid, attrs, selected, rows, path)
        # anything else (encoded waveforms, vectors, strings, enums): the general reader
        h5obj = h5py.Group(oid) if isinstance(oid, h5g.GroupID) else h5py.Dataset(oid)
        return read_object(h5obj, rows, sub, True)

    def _read_rows(self, dsid: h5d.DatasetID, rows: slice, path: str) -> np.ndarray | None:
        """The rows of a numeric dataset (clipped to its length, as the general reader does);
        ``None`` for other element types."""
        dtype = self._dtype(dsid, path)
        if dtype is None:
            return None
        shape = dsid.shape
        if not shape:
            return None
        start, stop = rows.start, min(rows.stop, shape[0])
        n = max(stop - start, 0)
        out = np.empty((n, *shape[1:]), dtype=dtype)
        if n == 0 or out.size == 0:
            return out
        if start == 0 and n == shape[0]:
            dsid.read(h5s.ALL, h5s.ALL, out)
            return out
        file_space = dsid.get_space()
        file_space.select_hyperslab((start,) + (0,) * (len(shape) - 1), out.shape)
        dsid.read(h5s.create_simple(out.shape), file_space, out)
        return out

    def _dtype(self, dsid: h5d.DatasetID, path: str) -> np.dtype | None:
        """The numpy dtype h5py reads the dataset as, ``None`` unless a plain number type.
        Worked out once per column: the next table's column has the same HDF5 type (checked
        with ``H5Tequal``) in any file of one layout."""
        tid = dsid.get_type()
        known = self._dtypes.get(path)
        if known is not None and known[0].valid and known[0] == tid:
            return known[1]
        dtype = tid.dtype
        if dtype.kind not in "biuf" or dtype.metadata or dtype.fields or dtype.subdtype:
            dtype = None
        if len(self._dtypes) < 4096:
            self._dtypes[path] = (tid, dtype)
        return dtype


def _first_field_rows(gid: h5g.GroupID, first: str) -> int:
    """Rows of a table: those of its first field, as :func:`~tierflow.lh5.read.n_rows_of`
    counts them when that is an array (``_FallBack`` otherwise)."""
    oid = h5o.open(gid, first.encode("utf8"))
    kind = parse(_datatype_attr(oid)).kind
    if kind in _ARRAY_KINDS and isinstance(oid, h5d.DatasetID):
        shape = oid.shape
        if shape:
            return shape[0]
    raise _FallBack  # vectors or tables first, scalars: the general reader counts


def datatype_attr(h5f: h5py.File, name: str) -> str | None:
    """The ``datatype`` attribute of the object ``name`` (``None`` if it has none; ``KeyError``
    if there is no such object; ``ValueError`` if the attribute is not a string)."""
    oid = h5o.open(h5f.id, name.strip("/").encode("utf8"))
    if not h5a.exists(oid, b"datatype"):
        return None
    try:
        return _datatype_attr(oid)
    except _FallBack:
        raise ValueError("the datatype attribute is not a string") from None


def table_rows(h5f: h5py.File, name: str, first: str) -> int:
    """Rows of the table ``name`` whose first field is ``first`` (``lh5.read_n_rows``), when
    that field is an array; an exception otherwise."""
    gid = h5o.open(h5f.id, name.strip("/").encode("utf8"))
    if not isinstance(gid, h5g.GroupID):
        raise ValueError("not a group")
    try:
        return _first_field_rows(gid, first)
    except _FallBack:
        raise ValueError("the first field is not an array") from None


def rows_of_table(h5f: h5py.File, name: str) -> int | None:
    """Rows of the table ``name`` counted as :func:`~tierflow.lh5.read.read_n_rows` counts
    them (its first field's rows) from the datatype attributes and the first field's shape
    alone; ``None`` when that takes the general reader (no such object, not a table, a first
    field that is not an array).

    >>> import os, tempfile, numpy as np
    >>> from tierflow.lh5 import write
    >>> from tierflow.types import Table
    >>> path = os.path.join(tempfile.mkdtemp(), "t.lh5")
    >>> write(Table({"a": np.arange(3), "b": np.arange(3.0)}), "ch1/hit", path)
    >>> with h5py.File(path) as f:
    ...     rows_of_table(f, "ch1/hit"), rows_of_table(f, "ch1/hit/a"), rows_of_table(f, "nope")
    (3, None, None)
    """
    try:
        gid = h5o.open(h5f.id, name.strip("/").encode("utf8"))
        if not isinstance(gid, h5g.GroupID):
            return None
        dt = parse(_datatype_attr(gid))
        if dt.kind != "table" or not dt.fields:
            return None
        return _first_field_rows(gid, dt.fields[0])
    except (_FallBack, *FAILURES):  # the general reader counts them, or says what is wrong
        return None


def _plain(dt: Datatype) -> bool:
    return dt.element is not None and not dt.element.startswith("enum")


def _array(dt: Datatype, data: np.ndarray, attrs: dict) -> Array:
    """The object :func:`~tierflow.lh5.read` makes of an array dataset."""
    if dt.element == "bool" and data.dtype != bool:
        data = data.astype(bool)
    if dt.kind == "array_of_equalsized_arrays":
        if data.ndim < 2:
            raise _FallBack
        return ArrayOfEqualSizedArrays(dims=dt.ndim, nda=data, attrs=attrs)
    if dt.kind == "fixedsize_array":
        return FixedSizeArray(data, attrs=attrs)
    if dt.element == "detectorid":
        return ArrayOfDetectorIDs(data, attrs=attrs)
    return Array(data, attrs=attrs)


def _attrs(oid: Any) -> dict[str, Any]:
    """All attributes, as :func:`~tierflow.lh5.read.attrs_of` gives them."""
    out: dict[str, Any] = {}
    check_attribute_heaps(oid)
    for i in range(h5a.get_num_attrs(oid)):
        attr = h5a.open(oid, index=i)
        value = _value(attr)
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        out[attr.name.decode()] = value
    return out


def _value(attr: h5a.AttrID) -> Any:
    """An attribute's value, as reading it into ``attr.dtype`` gives it. A scalar one is first
    read as a variable-length string (what h5py writes for ``str`` and ``bytes``, so no need
    to look at its type): HDF5 converts nothing else to that, and the read fails instead."""
    if attr.get_space().get_simple_extent_type() == h5s.SCALAR:
        value = np.empty((), dtype=_VLEN_ASCII)
        try:
            attr.read(value, mtype=_VLEN_ASCII_MEMORY)
        except (OSError, TypeError, ValueError):
            pass  # not a variable-length string
        else:
            return value[()]
    value = np.empty(attr.shape, dtype=attr.dtype)
    attr.read(value)
    return value[()]


def _datatype_attr(oid: Any) -> str:
    if not h5a.exists(oid, b"datatype"):
        raise _FallBack
    check_attribute_heaps(oid)
    value = _value(h5a.open(oid, b"datatype"))
    value = value.decode(errors="replace") if isinstance(value, bytes) else value
    if not isinstance(value, str):
        raise _FallBack
    return value
