"""Hypothesis strategies for every LH5 object kind, and exact comparisons of objects and files.

Used by the property tests that compare each fast path of :mod:`tierflow.lh5` with its general
path (:func:`tierflow.lh5.serial.general_path_only`). Everything here works through public
APIs: the data objects of :mod:`tierflow.types`, :func:`tierflow.lh5.encode` and h5py.

- :data:`KINDS` maps a kind's name to a strategy of objects of that kind (small sizes);
  :data:`ROW_KINDS` are the kinds with rows (arrays, vectors, encoded waveforms, tables).
- :func:`assert_same` compares two tierflow objects exactly: class, datatype, attributes (with
  their types when asked), dtypes, shapes and the bytes of every value.
- :func:`file_layout` describes an HDF5 file as h5py sees it (names in order, attributes with
  their HDF5 types, dataset types, shapes, chunks, filters, fill values, data), so that two
  files can be compared with :func:`assert_same_files`.

>>> from hypothesis import find
>>> obj = find(KINDS["vector_of_vectors"], lambda v: len(v) > 1)
>>> type(obj).__name__, len(obj)
('VectorOfVectors', 2)
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tierflow import lh5
from tierflow import types as tft

INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOAT_DTYPES = ["float16", "float32", "float64"]
NUMERIC_DTYPES = [*INT_DTYPES, *FLOAT_DTYPES]
#: every element dtype an LH5 array holds: numbers, bools and fixed-width byte strings
ARRAY_DTYPES = [*NUMERIC_DTYPES, "bool", "S1", "S4", "S9"]

MAX_ROWS = 7
#: units and other attributes, as LEGEND files carry them
UNITS = ["keV", "ns", "ADC", "µs", "", "counts/(keV kg yr)"]

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=0, max_size=6
)


@st.composite
def attributes(draw: st.DrawFn) -> dict[str, Any]:
    """No attributes, ``units``, or ``units`` and a ``description``."""
    attrs: dict[str, Any] = {}
    if draw(st.booleans()):
        attrs["units"] = draw(st.sampled_from(UNITS) | _text)
    if draw(st.integers(0, 3)) == 0:
        attrs["description"] = draw(_text)
    return attrs


def values(dtype: np.dtype | str, shape: int | tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``dtype``: every number (NaN, infinities, signed zeros), or byte strings
    without NUL bytes (numpy strips trailing NULs of ``S`` values)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "S":
        elements = st.binary(min_size=0, max_size=dtype.itemsize).filter(lambda b: b"\0" not in b)
        return hnp.arrays(dtype, shape, elements=elements)
    return hnp.arrays(dtype, shape)


# --- scalars ------------------------------------------------------------------------------------
def _scalar(value: st.SearchStrategy[Any]) -> st.SearchStrategy[tft.Scalar]:
    return st.builds(tft.Scalar, value, attributes())


SCALAR_INT = _scalar(
    st.integers(-(2**63), 2**63 - 1)
    | st.sampled_from(INT_DTYPES).flatmap(lambda d: hnp.from_dtype(np.dtype(d)))
)
SCALAR_FLOAT = _scalar(
    st.floats() | st.sampled_from(FLOAT_DTYPES).flatmap(lambda d: hnp.from_dtype(np.dtype(d)))
)
SCALAR_BOOL = _scalar(st.booleans() | st.builds(np.bool_, st.booleans()))
SCALAR_STR = _scalar(_text)


# --- arrays -------------------------------------------------------------------------------------
@st.composite
def arrays(draw: st.DrawFn, cls: type = tft.Array, dtypes: list[str] = ARRAY_DTYPES) -> tft.Array:
    """A 1-d ``cls`` (Array or FixedSizeArray) of any element dtype."""
    dtype = draw(st.sampled_from(dtypes))
    nda = draw(values(dtype, draw(st.integers(0, MAX_ROWS))))
    return cls(nda, attrs=draw(attributes()))


@st.composite
def equal_sized_arrays(draw: st.DrawFn, ndim: int = 2) -> tft.ArrayOfEqualSizedArrays:
    """Rows of equal-sized arrays: 2-d (waveforms) or 3-d."""
    dtype = draw(st.sampled_from(ARRAY_DTYPES))
    shape = (draw(st.integers(0, MAX_ROWS)), *draw(st.tuples(*[st.integers(1, 4)] * (ndim - 1))))
    return tft.ArrayOfEqualSizedArrays(nda=draw(values(dtype, shape)), attrs=draw(attributes()))


@st.composite
def detector_ids(draw: st.DrawFn) -> tft.ArrayOfDetectorIDs:
    nda = draw(values("uint32", draw(st.integers(0, MAX_ROWS))))
    return tft.ArrayOfDetectorIDs(nda, attrs=draw(attributes()))


# --- vectors of vectors -------------------------------------------------------------------------
@st.composite
def vectors(
    draw: st.DrawFn,
    depth: int | None = None,
    dtypes: list[str] = ARRAY_DTYPES,
    n_rows: int | None = None,
) -> tft.VectorOfVectors:
    """A vector of vectors nested ``depth`` levels (1 to 3), with empty rows and zero rows."""
    depth = draw(st.integers(1, 3)) if depth is None else depth
    n = draw(st.integers(0, MAX_ROWS)) if n_rows is None else n_rows
    levels = []
    for _ in range(depth):
        lengths = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        levels.append(lengths)
        n = sum(lengths)
    dtype = draw(st.sampled_from(dtypes))
    inner: tft.Array | tft.VectorOfVectors = tft.Array(draw(values(dtype, n)))
    cl_dtype = draw(st.sampled_from(["int64", "uint32"]))
    for lengths in reversed(levels):
        inner = tft.VectorOfVectors(
            flattened_data=inner, cumulative_length=np.cumsum(lengths, dtype=cl_dtype)
        )
    inner.attrs.update(draw(attributes()))
    return inner


# --- encoded waveforms --------------------------------------------------------------------------
#: codecs and the sample dtypes and ranges each one encodes
_CODECS = [
    (lambda: lh5.RadwareSigcompress(codec_shift=-32768), "uint16", 0, 2**16 - 1),
    (lambda: lh5.RadwareSigcompress(), "int16", -(2**15), 2**15 - 1),
    (lambda: lh5.ULEB128ZigZagDiff(), "int32", -(2**31), 2**31 - 1),
    (lambda: lh5.ULEB128ZigZagDiff(), "uint16", 0, 2**16 - 1),
]


@st.composite
def waveform_samples(draw: st.DrawFn, shape: int | tuple[int, ...]) -> tuple[Any, np.ndarray]:
    """A codec and integer samples it encodes: a smooth walk or any values in range."""
    make, dtype, lo, hi = draw(st.sampled_from(_CODECS))
    size = int(np.prod(shape))
    if draw(st.booleans()):
        samples = draw(hnp.arrays(dtype, size, elements=st.integers(lo, hi)))
    else:
        start = draw(st.integers(lo + 50, hi - 50))
        steps = draw(hnp.arrays("int64", size, elements=st.integers(-3, 3)))
        samples = np.clip(start + np.cumsum(steps), lo, hi).astype(dtype)
    return make(), samples.reshape(shape)


@st.composite
def encoded_equal_sized(draw: st.DrawFn) -> tft.ArrayOfEncodedEqualSizedArrays:
    shape = (draw(st.integers(0, MAX_ROWS)), draw(st.integers(1, 12)))
    codec, samples = draw(waveform_samples(shape))
    wf = tft.ArrayOfEqualSizedArrays(nda=samples, attrs=draw(attributes()))
    return lh5.encode(wf, codec)


@st.composite
def encoded_vectors(draw: st.DrawFn) -> tft.VectorOfEncodedVectors:
    lengths = draw(st.lists(st.integers(0, 12), min_size=0, max_size=MAX_ROWS))
    codec, samples = draw(waveform_samples(sum(lengths)))
    vov = tft.VectorOfVectors(
        flattened_data=samples,
        cumulative_length=np.cumsum(lengths, dtype=np.int64),
        attrs=draw(attributes()),
    )
    return lh5.encode(vov, codec)


# --- tables, structs, waveform tables, histograms ----------------------------------------------
def _column(n: int, depth: int) -> st.SearchStrategy[Any]:
    """Any column of ``n`` rows; nested tables down to ``depth`` more levels."""
    cols = [
        st.builds(
            lambda nda, attrs: tft.Array(nda, attrs=attrs),
            st.sampled_from(ARRAY_DTYPES).flatmap(lambda d: values(d, n)),
            attributes(),
        ),
        st.sampled_from(ARRAY_DTYPES).flatmap(
            lambda d: values(d, (n, 3)).map(lambda a: tft.ArrayOfEqualSizedArrays(nda=a))
        ),
        vectors(n_rows=n),
        waveform_tables(n_rows=n),
    ]
    if depth > 0:
        cols.append(tables(n_rows=n, depth=depth - 1))
    return st.one_of(cols)


_NAMES = st.sampled_from(["energy", "t0", "channel", "values", "a", "b_c", "tp_90", "x"])


@st.composite
def tables(draw: st.DrawFn, n_rows: int | None = None, depth: int = 1) -> tft.Table:
    """A table of mixed columns (arrays, equal-sized arrays, vectors, waveform tables, and
    nested tables ``depth`` levels down)."""
    n = draw(st.integers(0, MAX_ROWS)) if n_rows is None else n_rows
    names = draw(st.lists(_NAMES, min_size=1, max_size=4, unique=True))
    columns = {name: draw(_column(n, depth)) for name in names}
    return tft.Table(columns, attrs=draw(attributes()))


@st.composite
def waveform_tables(draw: st.DrawFn, n_rows: int | None = None) -> tft.WaveformTable:
    """Waveforms as equal-sized arrays, vectors, or either encoded; ``t0``/``dt`` with units."""
    n = draw(st.integers(0, MAX_ROWS)) if n_rows is None else n_rows
    form = draw(st.sampled_from(["equal", "vector", "encoded_equal", "encoded_vector"]))
    if form in ("equal", "encoded_equal"):
        codec, samples = draw(waveform_samples((n, draw(st.integers(1, 10)))))
        wf: Any = tft.ArrayOfEqualSizedArrays(nda=samples)
    else:
        lengths = draw(st.lists(st.integers(0, 10), min_size=n, max_size=n))
        codec, samples = draw(waveform_samples(sum(lengths)))
        wf = tft.VectorOfVectors(
            flattened_data=samples, cumulative_length=np.cumsum(lengths, dtype=np.uint32)
        )
    if form.startswith("encoded"):
        wf = lh5.encode(wf, codec)
    time_dtype = draw(st.sampled_from(["float32", "float64", "int32", "uint16"]))
    return tft.WaveformTable(
        t0=draw(values(time_dtype, n)),
        t0_units=draw(st.sampled_from([None, "ns"])),
        dt=draw(values(time_dtype, n)),
        dt_units=draw(st.sampled_from([None, "ns", "µs"])),
        values=wf,
        values_units=draw(st.sampled_from([None, "ADC"])),
        attrs=draw(attributes()),
    )


@st.composite
def structs(draw: st.DrawFn, depth: int = 1) -> tft.Struct:
    """Scalars, arrays of their own lengths, tables and nested structs."""
    fields = [SCALAR_INT, SCALAR_FLOAT, SCALAR_STR, arrays(), vectors(), tables(depth=0)]
    if depth > 0:
        fields.append(structs(depth=depth - 1))
    names = draw(st.lists(_NAMES, min_size=1, max_size=4, unique=True))
    return tft.Struct({k: draw(st.one_of(fields)) for k in names}, attrs=draw(attributes()))


@st.composite
def axes(draw: st.DrawFn) -> tft.Axis:
    closedleft = draw(st.booleans())
    units = draw(st.sampled_from([None, "keV", "ns"]))
    if draw(st.booleans()):
        first = draw(st.integers(-100, 100))
        step = draw(st.sampled_from([0.5, 1.0, 2.5]))
        nbins = draw(st.integers(1, 5))
        return tft.Axis.regular(first, first + nbins * step, step, closedleft, units)
    widths = draw(st.lists(st.floats(0.25, 10.0), min_size=1, max_size=5))
    edges = draw(st.floats(-100, 100)) + np.concatenate([[0.0], np.cumsum(widths)])
    return tft.Axis.variable(edges, closedleft, units)


@st.composite
def histograms(draw: st.DrawFn) -> tft.Histogram:
    binning = draw(st.lists(axes(), min_size=1, max_size=3))
    weights = draw(values("float64", tuple(a.nbins for a in binning)))
    return tft.Histogram(weights, binning, draw(st.booleans()), attrs=draw(attributes()))


#: every object kind, by name
KINDS: dict[str, st.SearchStrategy[Any]] = {
    "scalar_int": SCALAR_INT,
    "scalar_float": SCALAR_FLOAT,
    "scalar_bool": SCALAR_BOOL,
    "scalar_str": SCALAR_STR,
    "array": arrays(),
    "fixedsize_array": arrays(tft.FixedSizeArray),
    "equal_sized_arrays_2d": equal_sized_arrays(2),
    "equal_sized_arrays_3d": equal_sized_arrays(3),
    "detector_ids": detector_ids(),
    "vector_of_vectors": vectors(),
    "vector_of_encoded_vectors": encoded_vectors(),
    "encoded_equal_sized_arrays": encoded_equal_sized(),
    "struct": structs(),
    "table": tables(),
    "waveform_table": waveform_tables(),
    "histogram": histograms(),
}
#: the kinds with rows: row selections, appends and iteration apply to them
ROW_KINDS = [
    "array",
    "fixedsize_array",
    "equal_sized_arrays_2d",
    "equal_sized_arrays_3d",
    "detector_ids",
    "vector_of_vectors",
    "vector_of_encoded_vectors",
    "encoded_equal_sized_arrays",
    "table",
    "waveform_table",
]


def has_rows(obj: Any) -> bool:
    """Whether ``obj`` is a kind with rows (not a scalar, plain struct or histogram)."""
    return isinstance(
        obj,
        tft.Array
        | tft.VectorOfVectors
        | tft.Table
        | tft.ArrayOfEncodedEqualSizedArrays
        | tft.VectorOfEncodedVectors,
    )


def sibling(obj: Any, rows: np.ndarray) -> Any:
    """An object of ``obj``'s layout holding its rows ``rows`` (for kinds with rows), else
    ``obj`` itself: what appends and other channels' tables hold."""
    return obj.take(np.asarray(rows, dtype=np.int64)) if has_rows(obj) else obj


# --- comparing objects --------------------------------------------------------------------------
def _attr_value(value: Any, types: bool) -> Any:
    if isinstance(value, bytes | np.bytes_):
        value = bytes(value).decode()
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tolist()) if types else value.tolist()
    if isinstance(value, np.generic):
        return (value.dtype.str, value.item()) if types else value.item()
    return (type(value).__name__, value) if types else value


def _same_scalar_value(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    na, nb = np.asarray(a), np.asarray(b)
    return na.dtype == nb.dtype and na.tobytes() == nb.tobytes()


def assert_same(a: Any, b: Any, where: str = "obj", exact: bool = False) -> None:
    """``a`` and ``b`` are the same tierflow object: class, datatype, attributes, fields, row
    counts, dtypes, shapes and the bytes of every value (NaN payloads and signed zeros too).

    ``exact`` (for two objects both read from files) also asks for the same order of fields
    and the same types of attribute values (numpy ``int64`` is not Python ``int``); without
    it, fields are compared by name, since a struct's fields are stored by name.
    """
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    attrs_a = {k: _attr_value(v, exact) for k, v in a.getattrs(datatype=True).items()}
    attrs_b = {k: _attr_value(v, exact) for k, v in b.getattrs(datatype=True).items()}
    assert attrs_a == attrs_b, f"{where}: attrs {attrs_a} != {attrs_b}"
    if isinstance(a, tft.Scalar):
        assert _same_scalar_value(a.value, b.value), f"{where}: {a.value!r} != {b.value!r}"
    elif isinstance(a, tft.Struct):  # tables, waveform tables, histograms, axes
        keys_a, keys_b = list(a.keys()), list(b.keys())
        if not exact:
            keys_a, keys_b = sorted(keys_a), sorted(keys_b)
        assert keys_a == keys_b, f"{where}: fields {keys_a} != {keys_b}"
        if isinstance(a, tft.Table):
            assert len(a) == len(b), f"{where}: {len(a)} rows != {len(b)}"
        for key in keys_a:
            assert_same(a[key], b[key], f"{where}/{key}", exact)
    elif isinstance(a, tft.VectorOfVectors):
        assert len(a) == len(b), f"{where}: {len(a)} rows != {len(b)}"
        assert_same(a.cumulative_length, b.cumulative_length, f"{where}/cl", exact)
        assert_same(a.flattened_data, b.flattened_data, f"{where}/flat", exact)
    elif isinstance(a, tft.ArrayOfEncodedEqualSizedArrays | tft.VectorOfEncodedVectors):
        assert_same(a.encoded_data, b.encoded_data, f"{where}/encoded_data", exact)
        assert_same(a.decoded_size, b.decoded_size, f"{where}/decoded_size", exact)
    elif isinstance(a, tft.Array):
        assert_same_nda(a.nda, b.nda, where)
    else:
        raise AssertionError(f"{where}: no comparison for {type(a).__name__}")


def assert_same_nda(a: np.ndarray, b: np.ndarray, where: str = "nda") -> None:
    """Same dtype, shape and bytes."""
    assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
    assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), (
        f"{where}: values {a!r} != {b!r}"
    )


def as_read(obj: Any, decompress: bool = True) -> Any:
    """``obj`` as :func:`tierflow.lh5.read` gives it back after :func:`tierflow.lh5.write`.

    The writer stores the cumulative lengths of vectors as ``int64`` and the byte counts of
    encoded waveforms as ``uint32`` (as LEGEND's DAQ does); with ``decompress`` encoded
    waveforms come back decoded (``int32`` samples, LEGEND's default). Nothing else changes.
    """
    if isinstance(obj, tft.ArrayOfEncodedEqualSizedArrays | tft.VectorOfEncodedVectors):
        if decompress:
            return as_read(lh5.decode(obj))
        data = obj.encoded_data
        cl = data.cumulative_length.nda
        byte_counts = tft.VectorOfVectors(
            flattened_data=data.flattened_data,
            cumulative_length=cl.astype(np.uint32 if not len(cl) or cl[-1] < 2**31 else np.int64),
        )
        return type(obj)(byte_counts, obj.decoded_size, obj.getattrs())
    if isinstance(obj, tft.VectorOfVectors):
        return tft.VectorOfVectors(
            flattened_data=as_read(obj.flattened_data, decompress),
            cumulative_length=obj.cumulative_length.nda.astype(np.int64),
            attrs=obj.getattrs(),
        )
    if isinstance(obj, tft.WaveformTable):
        return tft.WaveformTable(
            t0=obj.t0,
            dt=obj.dt,
            values=as_read(obj.values, decompress),
            attrs=obj.getattrs(),
        )
    if isinstance(obj, tft.Table):
        columns = {k: as_read(obj[k], decompress) for k in obj}
        return tft.Table(columns, attrs=obj.getattrs())
    if isinstance(obj, tft.Struct) and not isinstance(obj, tft.Histogram):
        return tft.Struct({k: as_read(obj[k], decompress) for k in obj}, obj.getattrs())
    return obj


# --- comparing files ----------------------------------------------------------------------------
def _type_of(tid: h5py.h5t.TypeID) -> tuple:
    """An HDF5 type as comparable values: class, size, byte order or string form."""
    cls = tid.get_class()
    if cls == h5py.h5t.STRING:
        return ("string", tid.is_variable_str(), tid.get_size(), tid.get_cset(), tid.get_strpad())
    if cls in (h5py.h5t.INTEGER, h5py.h5t.FLOAT):
        return (int(cls), tid.get_size(), tid.get_order(), tid.dtype.str)
    return (int(cls), tid.get_size(), str(tid.dtype))


def _attrs_of(obj: h5py.HLObject) -> list[tuple]:
    out = []
    for key in obj.attrs:
        aid = obj.attrs.get_id(key)
        out.append((key, _type_of(aid.get_type()), aid.shape, _stored_value(obj.attrs[key])))
    return out


def _stored_value(value: Any) -> Any:
    """A value read from a file, comparable exactly: numbers by dtype, shape and bytes (so
    that NaN equals NaN), strings and variable-length data as they are."""
    if isinstance(value, np.ndarray | np.generic) and np.asarray(value).dtype.kind != "O":
        array = np.asarray(value)
        return (array.dtype.str, array.shape, array.tobytes())
    if isinstance(value, np.ndarray):
        return value.tolist()
    return (type(value).__name__, value)


def _dataset_layout(ds: h5py.Dataset) -> dict[str, Any]:
    dcpl = ds.id.get_create_plist()
    filters = [dcpl.get_filter(i)[:3] for i in range(dcpl.get_nfilters())]
    return {
        "type": _type_of(ds.id.get_type()),
        "shape": ds.shape,
        "maxshape": ds.maxshape,
        "chunks": ds.chunks,
        "layout": dcpl.get_layout(),
        "compression": ds.compression,
        "compression_opts": ds.compression_opts,
        "shuffle": ds.shuffle,
        "fletcher32": ds.fletcher32,
        "filters": filters,
        "attr_creation_order": dcpl.get_attr_creation_order(),
        "fillvalue": _stored_value(ds.fillvalue),
        "fill_time": dcpl.get_fill_time(),
        "alloc_time": dcpl.get_alloc_time(),
        "data": _stored_value(ds[()]),
    }


def file_layout(path: str) -> list[tuple[str, Any]]:
    """Every group and dataset of the file in h5py's order (``/`` first), each with its
    attributes (names, HDF5 types, shapes, values) and, for datasets, their storage."""
    out: list[tuple[str, Any]] = []
    with h5py.File(path, "r", locking=False) as h5f:

        def walk(group: h5py.Group) -> None:
            gcpl = group.id.get_create_plist()
            out.append(
                (
                    group.name,
                    {
                        "attrs": _attrs_of(group),
                        "members": list(group),
                        "link_creation_order": gcpl.get_link_creation_order(),
                        "attr_creation_order": gcpl.get_attr_creation_order(),
                    },
                )
            )
            for key in group:
                obj = group[key]
                if isinstance(obj, h5py.Group):
                    walk(obj)
                else:
                    out.append((obj.name, {"attrs": _attrs_of(obj), **_dataset_layout(obj)}))

        walk(h5f)
    return out


def assert_same_files(path_a: str, path_b: str) -> None:
    """The two files hold the same objects, stored alike (see :func:`file_layout`)."""
    a, b = file_layout(path_a), file_layout(path_b)
    assert [n for n, _ in a] == [n for n, _ in b], "objects differ"
    for (name, da), (_, db) in zip(a, b, strict=True):
        for key in da:
            assert da[key] == db[key], f"{name}: {key} {da[key]!r} != {db[key]!r}"


def row_indices(n: int) -> st.SearchStrategy[np.ndarray]:
    """Index arrays into ``n`` rows: unsorted, with repeats, possibly empty."""
    if n == 0:
        return st.just(np.zeros(0, np.int64))
    return hnp.arrays(np.int64, st.integers(0, 2 * n), elements=st.integers(0, n - 1))
