"""Reading LH5 objects into tierflow data objects.

Readers dispatch on the ``datatype`` attribute alone; rows are selected by a slice
or an index array before anything is read, so only what is asked for leaves disk.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from ..errors import LH5DecodeError, LH5Error, LH5IndexError
from ..types import (
    LGDO,
    Array,
    ArrayOfDetectorIDs,
    ArrayOfEncodedEqualSizedArrays,
    ArrayOfEqualSizedArrays,
    FixedSizeArray,
    Histogram,
    Scalar,
    Struct,
    Table,
    VectorOfEncodedVectors,
    VectorOfVectors,
    WaveformTable,
)
from .buffer import store_into
from .datatype import Datatype, enum_values, parse
from .fieldmask import FieldMask, FieldMaskSpec
from .files import FileLike, file_name, get_object, open_file
from .globalheap import check_attribute_heaps
from .guards import FAILURES, MAX_NESTING, check_memory, translated


@dataclass(frozen=True)
class RowRequest:
    """Rows asked of a struct: each object inside resolves them against its own length."""

    start_row: int
    n_rows: int
    idx: Any

    def resolve(self, h5obj: h5py.Group | h5py.Dataset) -> slice | np.ndarray | RowRequest:
        total = n_rows_of(h5obj)
        if total is None:
            return self
        return select_rows(
            self.start_row, self.n_rows, self.idx, total, file_name(h5obj), h5obj.name
        )


Rows = slice | np.ndarray | RowRequest
#: read spans at most this many times longer than the rows an index selects
_SPAN_FACTOR = 4
#: the fields that make a struct a histogram
HISTOGRAM_FIELDS = frozenset({"binning", "isdensity", "weights"})


# --- the public entry -----------------------------------------------------------------------
def read(
    name: str,
    lh5_file: FileLike | Sequence[FileLike],
    start_row: int = 0,
    n_rows: int = sys.maxsize,
    idx: Any = None,
    use_h5idx: bool = False,
    field_mask: FieldMaskSpec = None,
    obj_buf: LGDO | None = None,
    obj_buf_start: int = 0,
    decompress: bool = True,
) -> LGDO:
    """Read the object ``name`` from one file, or from a list of files with rows concatenated.

    ``start_row``/``n_rows`` select a row range; ``idx`` selects rows by index
    array, boolean mask or (n, 2) array of ranges (global over a list of files, or
    a list with one selection per file). ``field_mask`` picks the fields of tables
    and structs (``"a/b"`` for nested ones). With ``obj_buf`` the rows are written
    into that object from ``obj_buf_start`` on, growing it as needed. Encoded
    waveforms are decoded unless ``decompress=False``.

    >>> import tierflow.lh5 as lh5, tempfile, os
    >>> from tierflow.types import Table
    >>> path = os.path.join(tempfile.mkdtemp(), "doc.lh5")
    >>> lh5.write(Table({"e": [1.0, 2.0, 3.0]}), "tb", path)
    >>> lh5.read("tb", path, start_row=1)["e"].nda.tolist()
    [2.0, 3.0]
    >>> lh5.read("tb/e", [path, path], idx=[0, 4]).nda.tolist()
    [1.0, 2.0]
    """
    if isinstance(lh5_file, list | tuple):
        return _read_many(
            name,
            list(lh5_file),
            start_row,
            n_rows,
            idx,
            field_mask,
            obj_buf,
            obj_buf_start,
            decompress,
        )
    with opened(lh5_file) as h5f, translated(file_name(h5f), name, "reading"):
        h5obj = get_object(h5f, name)
        total = n_rows_of(h5obj)
        if total is None and (start_row or idx is not None or n_rows < sys.maxsize):
            rows: Rows = RowRequest(start_row, n_rows, idx)  # a struct: rows apply to its members
        else:
            rows = select_rows(start_row, n_rows, idx, total, file_name(h5f), name)
        obj = read_object(h5obj, rows, FieldMask.of(field_mask), decompress)
    if obj_buf is None:
        return obj
    return store_into(obj_buf, obj, obj_buf_start)


def read_n_rows(name: str, lh5_file: FileLike) -> int | None:
    """Rows of an array-like object or table; ``None`` for scalars and structs."""
    with opened(lh5_file) as h5f, translated(file_name(h5f), name, "counting rows"):
        return n_rows_of(get_object(h5f, name))


@contextmanager
def opened(lh5_file: FileLike):
    """An open h5py file for a path (closed afterwards) or an already open file."""
    if isinstance(lh5_file, h5py.File | h5py.Group):
        yield lh5_file
        return
    h5f = open_file(lh5_file)
    try:
        yield h5f
    finally:
        with suppress(FAILURES):  # a damaged file may fail to close: its error was raised
            h5f.close()


# --- rows -----------------------------------------------------------------------------------
def select_rows(
    start_row: int, n_rows: int, idx: Any, total: int | None, file: str, name: str
) -> Rows:
    """Turn (start_row, n_rows, idx) into a slice or a sorted-or-not index array."""
    if total is None:
        return slice(None)
    if idx is None:
        start = min(max(int(start_row), 0), total)
        return slice(start, min(total, start + max(int(n_rows), 0)))
    sel = np.asarray(idx)
    if sel.dtype == bool:
        if sel.shape != (total,):
            raise LH5IndexError(
                f"boolean idx of length {len(sel)} for {total} rows", file=file, obj=name
            )
        sel = np.flatnonzero(sel)
    elif sel.ndim == 2 and sel.shape[1] == 2:
        sel = (
            np.concatenate([np.arange(a, b) for a, b in sel]) if len(sel) else np.zeros(0, np.int64)
        )
    if sel.ndim == 0:
        sel = sel.reshape(1)
    if sel.ndim != 1 or (len(sel) and sel.dtype.kind not in "iu"):
        raise LH5IndexError(
            f"idx must be integers of shape (n,) or (n, 2), or a bool mask; got {sel.dtype}{sel.shape}",
            file=file,
            obj=name,
        )
    sel = sel.astype(np.int64, copy=False)
    if len(sel) and (sel.min() < 0 or sel.max() >= total):
        bad = sel[(sel < 0) | (sel >= total)][:5].tolist()
        raise LH5IndexError(f"idx {bad} out of range for {total} rows", file=file, obj=name)
    if start_row:
        sel = sel[sel >= start_row]
    return sel[: max(int(n_rows), 0)] if n_rows < len(sel) else sel


def n_rows_in(rows: Rows) -> int:
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def n_rows_of(h5obj: h5py.Group | h5py.Dataset, depth: int = 0) -> int | None:
    """Rows of an object from metadata only (no data read).

    A table's are its first field's (``depth`` counts the tables they were looked up in).
    """
    if depth > MAX_NESTING:
        raise LH5DecodeError(
            f"tables nested more than {MAX_NESTING} levels deep in their first fields "
            "(a cycle of links?)",
            file=file_name(h5obj),
            obj=h5obj.name,
        )
    dt = datatype_of(h5obj)
    if dt.kind in ("array", "fixedsize_array", "array_of_equalsized_arrays"):
        shape = _dataset(h5obj).shape
        return shape[0] if shape else None
    if dt.kind == "vector_of_vectors":
        return _rows(_dataset(_child(h5obj, "cumulative_length")))
    if dt.kind in ("encoded_vector_of_vectors", "encoded_array_of_equalsized_arrays"):
        return _rows(_dataset(_child(_child(h5obj, "encoded_data"), "cumulative_length")))
    if dt.kind == "table":  # the first column tells, as for LEGEND's reader
        return n_rows_of(_child(h5obj, dt.fields[0]), depth + 1) if dt.fields else 0
    return None


def _rows(ds: h5py.Dataset) -> int:
    if len(ds.shape) != 1:
        raise LH5DecodeError(
            f"expected a 1-d dataset, found shape {ds.shape}", file=file_name(ds), obj=ds.name
        )
    return ds.shape[0]


# --- dispatch ---------------------------------------------------------------------------------
def datatype_of(h5obj: h5py.Group | h5py.Dataset, attrs: dict[str, Any] | None = None) -> Datatype:
    """The parsed datatype; a group without one is read as a struct of its children."""
    raw = (attrs if attrs is not None else attrs_of(h5obj)).get("datatype")
    if raw is None:
        if isinstance(h5obj, h5py.Group):
            return Datatype("struct", fields=tuple(h5obj.keys()))
        raise LH5DecodeError(
            "object has no 'datatype' attribute, so it is not an LH5 object",
            file=file_name(h5obj),
            obj=h5obj.name,
        )
    try:
        return parse(str(raw))
    except ValueError as err:
        raise LH5DecodeError(
            err.reason if isinstance(err, LH5DecodeError) else f"unknown datatype {raw!r:.200}",
            file=file_name(h5obj),
            obj=h5obj.name,
        ) from None


def attrs_of(h5obj: h5py.HLObject) -> dict[str, Any]:
    """All attributes as Python values (strings decoded), read through h5py's low-level API.

    The low-level reads take about half the time of ``dict(obj.attrs)``, which
    matters when a file holds thousands of small objects.
    """
    out: dict[str, Any] = {}
    oid = h5obj.id
    check_attribute_heaps(oid)
    for i in range(h5py.h5a.get_num_attrs(oid)):
        attr = h5py.h5a.open(oid, index=i)
        value = np.empty(attr.shape, dtype=attr.dtype)
        attr.read(value)
        value = value[()]
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        out[attr.name.decode()] = value
    return out


#: the groups each thread is reading, outermost first, as (file number, address)
_reading = threading.local()


def read_object(
    h5obj: h5py.Group | h5py.Dataset, rows: Rows, mask: FieldMask | None, decompress: bool
) -> LGDO:
    """Read one object (recursively) with the given rows.

    Whatever h5py, numpy or a codec raises on a damaged object becomes an
    :class:`~tierflow.errors.LH5DecodeError` naming it; so does a group that contains itself
    (a cycle of links) or objects nested deeper than :data:`~tierflow.lh5.guards.MAX_NESTING`.
    """
    with translated(file_name(h5obj), h5obj.name, "reading"):
        attrs = attrs_of(h5obj)
        dt = datatype_of(h5obj, attrs)
        attrs.pop("datatype", None)
        reader = _READERS.get(dt.kind)
        if reader is None:
            raise LH5DecodeError(
                f"cannot read datatype kind {dt.kind!r}", file=file_name(h5obj), obj=h5obj.name
            )
        if not isinstance(h5obj, h5py.Group):
            return reader(h5obj, dt, attrs, rows, mask, decompress)
        stack = _reading.__dict__.setdefault("groups", [])
        _check_nesting(h5obj, stack)
        stack.append(_address(h5obj))
        try:
            return reader(h5obj, dt, attrs, rows, mask, decompress)
        finally:
            stack.pop()


def _address(group: h5py.Group) -> tuple[int, int]:
    info = h5py.h5o.get_info(group.id)
    return info.fileno, info.addr


def _check_nesting(group: h5py.Group, stack: list[tuple[int, int]]) -> None:
    """Refuse a group that is one of the groups being read around it, or nested too deep."""
    if _address(group) in stack:
        raise LH5DecodeError(
            "a cycle of links: this group contains itself, so it cannot be read",
            file=file_name(group),
            obj=group.name,
        )
    if len(stack) >= MAX_NESTING:
        raise LH5DecodeError(
            f"objects nested more than {MAX_NESTING} levels deep (a cycle of links?)",
            file=file_name(group),
            obj=group.name,
        )


def _child(group: h5py.Group, name: str) -> h5py.Group | h5py.Dataset:
    if not isinstance(group, h5py.Group) or name not in group:
        present = sorted(group.keys()) if isinstance(group, h5py.Group) else []
        raise LH5DecodeError(
            f"expected a child {name!r}; found {present}", file=file_name(group), obj=group.name
        )
    return group[name]


def _dataset(h5obj: Any) -> h5py.Dataset:
    if not isinstance(h5obj, h5py.Dataset):
        raise LH5DecodeError(
            "expected a dataset, found a group", file=file_name(h5obj), obj=h5obj.name
        )
    return h5obj


# --- datasets ---------------------------------------------------------------------------------
def read_rows(ds: h5py.Dataset, rows: Rows) -> np.ndarray:
    """The selected rows of a dataset.

    Row ranges are read straight into a new array through h5py's low-level API;
    index arrays read one contiguous span when that is cheap, else only the rows.
    """
    if isinstance(rows, slice):
        if not ds.shape:
            return ds[()]
        start, stop = (
            (0, ds.shape[0]) if rows.start is None else (rows.start, min(rows.stop, ds.shape[0]))
        )
        return _read_span(ds, start, max(stop - start, 0))
    if len(rows) == 0:
        return _read_span(ds, 0, 0)
    lo, hi = int(rows.min()), int(rows.max()) + 1
    if hi - lo <= max(_SPAN_FACTOR * len(rows), 4096):
        return _read_span(ds, lo, hi - lo)[rows - lo]
    unique, inverse = np.unique(rows, return_inverse=True)
    return ds[unique][inverse]


def _read_span(ds: h5py.Dataset, start: int, n: int) -> np.ndarray:
    check_memory(
        n * int(np.prod(ds.shape[1:])) * ds.dtype.itemsize,
        f"{n} rows of shape {ds.shape[1:]}",
        file_name(ds),
        ds.name,
    )
    out = np.empty((n, *ds.shape[1:]), dtype=ds.dtype)
    if n == 0 or out.size == 0:
        return out
    if ds.dtype.kind == "O" or ds.dtype.metadata:
        return ds[start : start + n]  # variable-length types: let h5py convert
    if start == 0 and n == ds.shape[0]:
        ds.id.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
        return out
    file_space = ds.id.get_space()
    file_space.select_hyperslab((start,) + (0,) * (ds.ndim - 1), out.shape)
    ds.id.read(h5py.h5s.create_simple(out.shape), file_space, out)
    return out


def _element_dtype(ds: h5py.Dataset, dt: Datatype, data: np.ndarray) -> np.ndarray:
    if dt.element == "bool" and data.dtype != bool:
        return data.astype(bool)
    return data


def _read_scalar(
    ds: Any, dt: Datatype, attrs: dict[str, Any], rows: Rows, mask: Any, decompress: bool
) -> Scalar:
    value = _dataset(ds)[()]
    if isinstance(value, bytes):
        value = value.decode()
    elif dt.element == "bool":
        value = bool(value)
    if dt.element.startswith("enum"):
        attrs["datatype"] = "real"
        attrs["enum"] = dt.element
    return Scalar(value, attrs=attrs)


def _read_array(
    ds: Any, dt: Datatype, attrs: dict[str, Any], rows: Rows, mask: Any, decompress: bool
) -> Array:
    data = _element_dtype(ds, dt, read_rows(_dataset(ds), rows))
    if dt.element.startswith("enum"):
        attrs["enum"] = dt.element
    if dt.kind == "array_of_equalsized_arrays":
        if data.ndim < 2:
            raise LH5DecodeError(
                f"an array_of_equalsized_arrays must be 2-d, found shape {ds.shape}",
                file=file_name(ds),
                obj=ds.name,
            )
        return ArrayOfEqualSizedArrays(dims=dt.ndim, nda=data, attrs=attrs)
    if dt.kind == "fixedsize_array":
        return FixedSizeArray(data, attrs=attrs)
    if dt.element == "detectorid":
        return ArrayOfDetectorIDs(data, attrs=attrs)
    return Array(data, attrs=attrs)


def enum_labels(array: Array) -> dict[int, str]:
    """The value -> name map of an array read from an ``enum{...}`` datatype."""
    return enum_values(array.attrs["enum"])


# --- vectors ----------------------------------------------------------------------------------
def _vov_parts(group: h5py.Group, rows: Rows) -> tuple[np.ndarray, Rows]:
    """(cumulative lengths of the selected rows, rows of flattened_data they cover).

    The stored lengths read are checked first (:func:`checked_cumulative_length`).
    """
    cl_ds = _dataset(_child(group, "cumulative_length"))
    flat = _child(group, "flattened_data")
    n_flat = flat.shape[0] if isinstance(flat, h5py.Dataset) and flat.shape else n_rows_of(flat)
    if isinstance(rows, slice):
        start, stop = (0, cl_ds.shape[0]) if rows.start is None else (rows.start, rows.stop)
        if stop <= start:
            return np.zeros(0, np.int64), slice(0, 0)
        first = max(start - 1, 0)
        cl = checked_cumulative_length(
            read_rows(cl_ds, slice(first, stop)), first, n_flat, file_name(group), group.name
        )
        base = int(cl[0]) if start > 0 else 0
        cl = cl[1:] if start > 0 else cl
        return cl - base, slice(base, int(cl[-1]))
    if len(rows) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo, hi = int(rows.min()), int(rows.max()) + 1
    first = max(lo - 1, 0)
    span = checked_cumulative_length(
        read_rows(cl_ds, slice(first, hi)), first, n_flat, file_name(group), group.name
    )
    ends_all = span[1:] if lo > 0 else span
    starts_all = span[:-1] if lo > 0 else np.concatenate([[0], span[:-1]])
    starts, ends = starts_all[rows - lo], ends_all[rows - lo]
    lengths = ends - starts
    cl = np.cumsum(lengths)
    check_memory(8 * int(cl[-1]), "the vectors selected", file_name(group), group.name)
    # flattened rows: the concatenation of [starts[i], ends[i])
    flat = np.repeat(starts - np.concatenate([[0], cl[:-1]]), lengths) + np.arange(
        int(cl[-1]) if len(cl) else 0
    )
    return cl, flat


def checked_cumulative_length(
    values: np.ndarray, first: int, n_flat: int | None, file: str, obj: str
) -> np.ndarray:
    """Stored ``cumulative_length`` values (from row ``first`` on) as int64, once checked to
    be integers, non-negative, non-decreasing and within the ``n_flat`` values of
    ``flattened_data``; else :class:`~tierflow.errors.LH5DecodeError`.

    >>> checked_cumulative_length(np.array([2, 5, 5], "uint32"), 0, 5, "f.lh5", "v").tolist()
    [2, 5, 5]
    >>> checked_cumulative_length(np.array([2, 1]), 3, 5, "f.lh5", "v")
    Traceback (most recent call last):
    ...
    tierflow.errors.LH5DecodeError: f.lh5:/v: cumulative_length decreases at row 4 (1 after 2)
    """
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise LH5DecodeError(
            f"cumulative_length must be 1-d integers, found {values.dtype} {values.shape}",
            file=file,
            obj=obj,
        )
    if not len(values):
        return values.astype(np.int64)
    if values.dtype == np.uint64 and values.max() > np.iinfo(np.int64).max:
        raise LH5DecodeError(f"cumulative_length reaches {values.max()}", file=file, obj=obj)
    cl = values.astype(np.int64, copy=False)
    if cl[0] < 0:
        raise LH5DecodeError(f"cumulative_length is negative ({cl[0]})", file=file, obj=obj)
    steps = np.diff(cl)
    if len(steps) and steps.min() < 0:
        i = int(np.argmax(steps < 0))
        raise LH5DecodeError(
            f"cumulative_length decreases at row {first + i + 1} ({cl[i + 1]} after {cl[i]})",
            file=file,
            obj=obj,
        )
    if n_flat is not None and cl[-1] > n_flat:
        raise LH5DecodeError(
            f"cumulative_length reaches {cl[-1]}, past the {n_flat} rows of flattened_data",
            file=file,
            obj=obj,
        )
    return cl


def _read_vov(
    group: Any, dt: Datatype, attrs: dict[str, Any], rows: Rows, mask: Any, decompress: bool
) -> VectorOfVectors:
    cl, flat_rows = _vov_parts(group, rows)
    flattened = read_object(_child(group, "flattened_data"), flat_rows, None, decompress)
    if len(cl) and len(flattened) != cl[-1]:
        raise LH5DecodeError(
            f"cumulative_length ends at {cl[-1]} but flattened_data has {len(flattened)} rows",
            file=file_name(group),
            obj=group.name,
        )
    # keep the stored integer type (uint32 in older files), as LEGEND's reader does
    stored = group["cumulative_length"].dtype
    if stored.kind in "iu" and cl.dtype != stored:
        cl = cl.astype(stored)
    return VectorOfVectors(flattened_data=flattened, cumulative_length=cl, attrs=attrs)


def _read_encoded(
    group: Any, dt: Datatype, attrs: dict[str, Any], rows: Rows, mask: Any, decompress: bool
) -> LGDO:
    from .codecs import decode

    encoded = read_object(_child(group, "encoded_data"), rows, None, decompress)
    size_obj = _child(group, "decoded_size")
    if dt.kind == "encoded_array_of_equalsized_arrays":
        size = _dataset(size_obj)[()]
        if np.ndim(size) or not isinstance(size, int | np.integer) or size < 0:
            raise LH5DecodeError(
                f"decoded_size must be a count of samples, found {size!r:.80}",
                file=file_name(group),
                obj=group.name,
            )
        obj: LGDO = ArrayOfEncodedEqualSizedArrays(encoded, int(size), attrs=attrs)
    else:
        sizes = read_rows(_dataset(size_obj), rows)
        obj = VectorOfEncodedVectors(encoded, sizes, attrs=attrs)
    return decode(obj, file=file_name(group), obj_path=group.name) if decompress else obj


# --- groups -----------------------------------------------------------------------------------
def _read_fields(
    group: Any,
    dt: Datatype,
    rows: Rows,
    mask: FieldMask | None,
    decompress: bool,
) -> dict[str, LGDO]:
    if not isinstance(group, h5py.Group):
        raise LH5DecodeError(
            f"a {dt.kind} must be a group, found a dataset", file=file_name(group), obj=group.name
        )
    fields = dt.fields if dt.fields else tuple(group.keys())
    selected = (
        [(f, None) for f in fields]
        if mask is None
        else mask.select(fields, file_name(group), group.name)
    )
    out = {}
    for f, sub in selected:
        child = _child(group, f)
        out[f] = read_object(
            child, rows.resolve(child) if isinstance(rows, RowRequest) else rows, sub, decompress
        )
    return out


def _read_struct(
    group: Any,
    dt: Datatype,
    attrs: dict[str, Any],
    rows: Rows,
    mask: FieldMask | None,
    decompress: bool,
) -> Struct:
    fields = _read_fields(
        group,
        dt,
        slice(None) if set(dt.fields or ()) == HISTOGRAM_FIELDS else rows,
        mask,
        decompress,
    )
    if set(fields) == HISTOGRAM_FIELDS and isinstance(fields["binning"], Struct):
        try:
            return Histogram(
                fields["weights"],
                list(fields["binning"].values()),
                fields["isdensity"].value,
                attrs=attrs,
            )
        except (ValueError, KeyError, AttributeError):
            pass  # a struct that only looks like a histogram
    return Struct(fields, attrs=attrs)


def _read_table(
    group: Any,
    dt: Datatype,
    attrs: dict[str, Any],
    rows: Rows,
    mask: FieldMask | None,
    decompress: bool,
) -> Table:
    if isinstance(rows, slice) and rows.start is None:
        total = n_rows_of(group)
        rows = slice(0, total or 0)
    fields = _read_fields(group, dt, rows, mask, decompress)
    lengths = {k: len(v) for k, v in fields.items()}
    if len(set(lengths.values())) > 1:
        raise LH5DecodeError(
            f"table columns differ in length: {lengths}", file=file_name(group), obj=group.name
        )
    if set(fields) == {"t0", "dt", "values"}:
        return WaveformTable(t0=fields["t0"], dt=fields["dt"], values=fields["values"], attrs=attrs)
    table = Table(size=n_rows_in(rows), attrs=attrs)
    for k, v in fields.items():
        table.add_field(k, v)
    if not fields:
        table._size = n_rows_in(rows)
    return table


_READERS = {
    "scalar": _read_scalar,
    "array": _read_array,
    "fixedsize_array": _read_array,
    "array_of_equalsized_arrays": _read_array,
    "vector_of_vectors": _read_vov,
    "encoded_vector_of_vectors": _read_encoded,
    "encoded_array_of_equalsized_arrays": _read_encoded,
    "struct": _read_struct,
    "table": _read_table,
}


# --- many files -------------------------------------------------------------------------------
def _read_many(
    name: str,
    files: list[FileLike],
    start_row: int,
    n_rows: int,
    idx: Any,
    field_mask: FieldMaskSpec,
    obj_buf: LGDO | None,
    obj_buf_start: int,
    decompress: bool,
) -> LGDO:
    if not files:
        raise LH5Error(f"no files given to read {name!r} from")
    per_file_idx = (
        idx is not None
        and not isinstance(idx, np.ndarray)
        and len(idx) == len(files)
        and all(i is None or not np.isscalar(i) for i in idx)
    )
    counts = [read_n_rows(name, f) or 0 for f in files]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    if idx is not None and not per_file_idx:
        sel = select_rows(start_row, n_rows, idx, int(offsets[-1]), ",".join(map(str, files)), name)
        order = np.argsort(sel, kind="stable")
        which = np.searchsorted(offsets, sel[order], side="right") - 1
    buf, pos = obj_buf, obj_buf_start
    remaining = n_rows
    for i, f in enumerate(files):
        if idx is not None and not per_file_idx:
            local = sel[order][which == i] - offsets[i]
            obj = read(name, f, idx=local, field_mask=field_mask, decompress=decompress)
        elif per_file_idx:
            obj = read(
                name, f, idx=idx[i], n_rows=remaining, field_mask=field_mask, decompress=decompress
            )
        else:
            first = max(start_row - int(offsets[i]), 0)
            # past this file's rows: skip it, but read the last file anyway (0 rows) so that a
            # start_row past the end gives an empty object, as it does for a single file
            if first >= counts[i] and counts[i] > 0 and i < len(files) - 1:
                continue
            obj = read(
                name,
                f,
                start_row=first,
                n_rows=remaining,
                field_mask=field_mask,
                decompress=decompress,
            )
        if not hasattr(obj, "resize"):  # scalars and structs have no rows to concatenate
            return obj if buf is None else store_into(buf, obj, pos)
        n = len(obj)
        buf = (
            obj
            if buf is None and pos == 0
            else store_into(buf if buf is not None else _empty_like(obj), obj, pos)
        )
        pos += n
        if idx is None or per_file_idx:
            remaining -= n
            if remaining <= 0:
                break
    if buf is None:
        raise LH5Error(f"no rows of {name!r} selected in {len(files)} files")
    if idx is not None and not per_file_idx and not np.all(order[:-1] <= order[1:]):
        return _reorder(buf, obj_buf_start, np.argsort(order, kind="stable"))
    return buf


def _empty_like(obj: LGDO) -> LGDO:
    return obj.take(slice(0, 0))


def _reorder(buf: LGDO, start: int, inverse: np.ndarray) -> LGDO:
    n = len(inverse)
    part = buf.take(slice(start, start + n)).take(inverse)
    return store_into(buf, part, start)
