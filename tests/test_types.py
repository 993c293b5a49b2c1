"""Unit tests of the in-memory data objects in ``tierflow.types``.

Where LEGEND's ``lgdo`` has the same API it is used as an oracle (test-only).
"""

from __future__ import annotations

import subprocess
import sys

import awkward as ak
import hist
import numpy as np
import pandas as pd
import pytest

import tierflow.types as tt
from tierflow.errors import ExpressionError
from tierflow.types import (
    Array,
    ArrayOfEncodedEqualSizedArrays,
    ArrayOfEqualSizedArrays,
    Axis,
    FixedSizeArray,
    Histogram,
    Scalar,
    Struct,
    Table,
    VectorOfEncodedVectors,
    VectorOfVectors,
    WaveformTable,
    concat,
)


def rows(v: VectorOfVectors) -> list:
    """The rows of a VectorOfVectors as nested Python lists."""
    return v.view_as("ak").tolist()


# ------------------------------------------------------------------------------------------
# Scalar
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "datatype"),
    [
        (3.5, "real"),
        (7, "real"),
        (np.float32(1.0), "real"),
        (np.uint16(4), "real"),
        (True, "bool"),
        (np.bool_(False), "bool"),
        ("hello", "string"),
        (1 + 2j, "complex"),
    ],
)
def test_scalar_datatype(value, datatype):
    s = Scalar(value)
    assert s.form_datatype() == datatype
    assert s.attrs["datatype"] == datatype
    assert s.value == value


def test_scalar_bytes_become_str_and_attrs():
    s = Scalar(b"abc", attrs={"units": "keV"})
    assert s.value == "abc"
    assert s.form_datatype() == "string"
    assert s.getattrs() == {"units": "keV"}
    assert s.getattrs(datatype=True) == {"units": "keV", "datatype": "string"}
    assert Scalar(np.bytes_(b"x")).value == "x"


def test_scalar_view_as_and_eq():
    s = Scalar(2.0)
    for lib in ("np", "pd", "ak"):
        assert s.view_as(lib) == 2.0
    with pytest.raises(ValueError, match="library"):
        s.view_as("polars")
    assert Scalar(1) == Scalar(1)
    assert Scalar(1) != Scalar(2)
    assert Scalar(1, attrs={"units": "m"}) != Scalar(1)
    assert "Scalar(2.0" in repr(s)


def test_datatype_attr_checked():
    assert Scalar(1.0, attrs={"datatype": "real"}).attrs["datatype"] == "real"
    with pytest.raises(ValueError, match="does not fit"):
        Array([1, 2], attrs={"datatype": "table{a}"})
    # the given datatype is replaced by the one that fits the data
    a = Array(np.zeros((2, 2)), attrs={"datatype": "array<1>{real}"})
    assert a.attrs["datatype"] == "array<2>{real}"


# ------------------------------------------------------------------------------------------
# Array, FixedSizeArray, ArrayOfEqualSizedArrays
# ------------------------------------------------------------------------------------------


def test_array_construction():
    a = Array(np.arange(3, dtype="float32"), attrs={"units": "keV"})
    assert len(a) == 3
    assert a.dtype == np.float32
    assert a.shape == (3,)
    assert a.form_datatype() == "array<1>{real}"
    assert a.attrs == {"units": "keV", "datatype": "array<1>{real}"}

    empty = Array()
    assert len(empty) == 0
    assert empty.dtype == np.float64

    full = Array(shape_guess=(3, 4), dtype="int32", fill_val=2)
    assert full.nda.tolist() == [[2] * 4] * 3
    assert full.form_datatype() == "array<2>{real}"

    assert Array(shape_guess=5, fill_val=1.5).nda.tolist() == [1.5] * 5
    assert Array([1, 2], dtype="uint8").dtype == np.uint8
    assert Array([True, False]).form_datatype() == "array<1>{bool}"
    assert Array(np.array([1 + 1j])).form_datatype() == "array<1>{complex}"


def test_array_from_other_inputs_shares_memory():
    nda = np.arange(4.0)
    a = Array(nda)
    assert np.shares_memory(a.nda, nda)
    b = Array(a)
    assert np.shares_memory(b.nda, nda)
    s = pd.Series(nda)
    assert Array(s).nda.tolist() == nda.tolist()
    assert Array(ak.Array([1, 2, 3])).nda.tolist() == [1, 2, 3]


def test_array_strings_become_bytes():
    a = Array(["ab", "c"])
    assert a.dtype.kind == "S"
    assert a.nda.tolist() == [b"ab", b"c"]
    assert a.form_datatype() == "array<1>{string}"
    assert Array(["é"]).nda.tolist() == ["é".encode()]


def test_array_bad_input():
    with pytest.raises(ValueError, match="Scalar"):
        Array(5)
    with pytest.raises(TypeError, match="object"):
        Array(np.array([object(), object()], dtype=object))


def test_array_resize_capacity_append():
    a = Array(np.arange(3.0))
    assert a.capacity() == 3
    a.resize(5)
    assert len(a) == 5
    assert a.capacity() >= 5
    assert a.nda[:3].tolist() == [0.0, 1.0, 2.0]
    a.nda[3:] = 7
    a.resize(2)
    assert len(a) == 2
    assert a.capacity() >= 5  # shrinking keeps the buffer
    assert a.nda.tolist() == [0.0, 1.0]
    a.resize(2, trim=True)
    assert a.capacity() == 2
    assert a.nda.tolist() == [0.0, 1.0]

    # appending is amortised: capacity at least doubles when it runs out
    b = Array(np.zeros(0))
    capacities = set()
    for i in range(100):
        b.append(float(i))
        capacities.add(b.capacity())
    assert b.nda.tolist() == [float(i) for i in range(100)]
    assert len(capacities) < 15
    assert b.form_datatype() == "array<1>{real}"


def test_array_resize_2d_and_append_row():
    a = Array(np.ones((2, 3)))
    a.append([5, 6, 7])
    assert a.shape == (3, 3)
    assert a.nda[-1].tolist() == [5, 6, 7]
    assert a.nda[0].tolist() == [1, 1, 1]
    a.resize(1, trim=True)
    assert a.shape == (1, 3)


def test_array_take_and_indexing():
    a = Array(np.arange(10.0), attrs={"units": "ns"})
    sl = a.take(slice(2, 5))
    assert isinstance(sl, Array)
    assert sl.nda.tolist() == [2.0, 3.0, 4.0]
    assert np.shares_memory(sl.nda, a.nda)  # a slice is a view
    assert sl.attrs["units"] == "ns"
    sl.attrs["units"] = "us"
    assert a.attrs["units"] == "ns"  # attrs are not shared

    idx = a.take(np.array([9, 0, 9]))
    assert idx.nda.tolist() == [9.0, 0.0, 9.0]
    assert not np.shares_memory(idx.nda, a.nda)
    mask = a.take(a.nda > 6)
    assert mask.nda.tolist() == [7.0, 8.0, 9.0]

    assert a[3] == 3.0
    a[3] = -1
    assert a.nda[3] == -1
    assert list(a)[:4] == [0.0, 1.0, 2.0, -1.0]


def test_array_eq():
    assert Array([1.0, np.nan]) == Array([1.0, np.nan])
    assert Array([1, 2]) != Array([1, 3])
    assert Array([1, 2]) != Array(np.array([1, 2], "int32"))
    assert Array([1, 2]) != FixedSizeArray([1, 2])
    assert Array([1], attrs={"units": "m"}) != Array([1])


def test_array_view_as_zero_copy():
    a = Array(np.arange(5.0))
    assert a.view_as("np") is a.nda
    series = a.view_as("pd")
    assert isinstance(series, pd.Series)
    assert series.tolist() == a.nda.tolist()
    assert np.shares_memory(series.to_numpy(), a.nda)
    arr = a.view_as("ak")
    assert arr.tolist() == a.nda.tolist()
    assert np.shares_memory(ak.to_numpy(arr), a.nda)
    with pytest.raises(ValueError, match="library must be one of"):
        a.view_as("hist")


def test_fixedsizearray():
    f = FixedSizeArray([1.0, 2.0, 3.0])
    assert f.form_datatype() == "fixedsize_array<1>{real}"
    assert f.datatype_name() == "fixedsize_array"
    t = f.take(np.array([0, 2]))
    assert type(t) is FixedSizeArray
    assert t.nda.tolist() == [1.0, 3.0]
    assert FixedSizeArray(np.zeros((2, 2))).form_datatype() == "fixedsize_array<2>{real}"


def test_aoesa():
    w = ArrayOfEqualSizedArrays(nda=np.arange(12, dtype="uint16").reshape(3, 4))
    assert len(w) == 3
    assert w.form_datatype() == "array_of_equalsized_arrays<1,1>{real}"
    assert w.dims == (1, 1)
    assert ArrayOfEqualSizedArrays(nda=np.zeros((2, 3, 4))).dims == (1, 2)
    assert ArrayOfEqualSizedArrays(dims=(1, 1), nda=np.zeros((2, 3))).dims == (1, 1)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        ArrayOfEqualSizedArrays(nda=np.zeros(3))

    sub = w.take([0, 2])
    assert type(sub) is ArrayOfEqualSizedArrays
    assert sub.nda.tolist() == [[0, 1, 2, 3], [8, 9, 10, 11]]
    assert sub.dims == (1, 1)

    w.resize(5)
    assert w.nda.shape == (5, 4)
    assert w.nda[:3].ravel().tolist() == list(range(12))

    shaped = ArrayOfEqualSizedArrays(shape_guess=(2, 5), dtype="float32", fill_val=0)
    assert shaped.nda.shape == (2, 5)
    assert shaped.dtype == np.float32


def test_aoesa_view_as():
    w = ArrayOfEqualSizedArrays(nda=np.arange(12.0).reshape(3, 4))
    assert w.view_as("np") is w.nda
    arr = w.view_as("ak")
    assert isinstance(arr.layout, ak.contents.RegularArray)
    assert arr.tolist() == w.nda.tolist()
    assert np.shares_memory(ak.to_numpy(arr), w.nda)
    series = w.view_as("pd")
    assert len(series) == 3
    assert series[1].tolist() == [4.0, 5.0, 6.0, 7.0]


# ------------------------------------------------------------------------------------------
# VectorOfVectors
# ------------------------------------------------------------------------------------------


def test_vov_from_lists():
    v = VectorOfVectors([[1, 2], [], [3]])
    assert len(v) == 3
    assert v.ndim == 2
    assert v.cumulative_length.nda.tolist() == [2, 2, 3]
    assert v.flattened_data.nda.tolist() == [1, 2, 3]
    assert v.offsets().tolist() == [0, 2, 2, 3]
    assert v.form_datatype() == "array<1>{array<1>{real}}"
    assert v.dtype == np.int64
    assert rows(v) == [[1, 2], [], [3]]
    assert VectorOfVectors([[1, 2]], dtype="float32").dtype == np.float32
    assert VectorOfVectors([[1.5]], attrs={"units": "keV"}).attrs["units"] == "keV"
    with pytest.raises(ValueError, match="nested"):
        VectorOfVectors([1, 2, 3])


def test_vov_empty_rows_and_empty_vov():
    assert rows(VectorOfVectors([[]])) == [[]]
    empty_rows = VectorOfVectors([[], []])
    assert empty_rows.cumulative_length.nda.tolist() == [0, 0]
    assert empty_rows.dtype == np.float64
    assert VectorOfVectors([[], []], dtype="uint8").dtype == np.uint8
    assert empty_rows.to_aoesa().shape == (2, 0)

    e = VectorOfVectors()
    assert len(e) == 0
    assert rows(e) == []
    assert e.form_datatype() == "array<1>{array<1>{real}}"
    assert e.to_aoesa().shape == (0, 0)
    assert VectorOfVectors(dtype="uint16").dtype == np.uint16


def test_vov_missing_values_rejected():
    with pytest.raises(TypeError, match="fill_none"):
        VectorOfVectors([[1, None], [2]])


def test_vov_from_awkward_sliced_zero_copy():
    arr = ak.Array([[1.0, 2.0], [3.0], [4.0, 5.0, 6.0], []])
    v = VectorOfVectors(arr[1:3])
    assert rows(v) == [[3.0], [4.0, 5.0, 6.0]]
    assert v.cumulative_length.nda.tolist() == [1, 4]
    assert v.flattened_data.nda.tolist() == [3.0, 4.0, 5.0, 6.0]
    assert np.shares_memory(v.flattened_data.nda, np.asarray(arr.layout.content.data))

    assert rows(VectorOfVectors(arr[::2])) == [[1.0, 2.0], [4.0, 5.0, 6.0]]
    picked = VectorOfVectors(arr[[3, 0]])
    assert rows(picked) == [[], [1.0, 2.0]]
    assert picked.cumulative_length.nda.tolist() == [0, 2]


def test_vov_from_regular_and_numpy():
    r = ak.to_regular(ak.Array([[1, 2], [3, 4], [5, 6]]), axis=1)
    assert isinstance(r.layout, ak.contents.RegularArray)
    v = VectorOfVectors(r)
    assert rows(v) == [[1, 2], [3, 4], [5, 6]]
    assert v.cumulative_length.nda.tolist() == [2, 4, 6]

    n = VectorOfVectors(np.arange(6).reshape(3, 2))
    assert rows(n) == [[0, 1], [2, 3], [4, 5]]
    assert n.cumulative_length.nda.tolist() == [2, 4, 6]


def test_vov_from_flattened_data_and_cumulative_length():
    v = VectorOfVectors(flattened_data=np.array([1, 2, 3]), cumulative_length=np.array([2, 2, 3]))
    assert len(v) == 3
    assert rows(v) == [[1, 2], [], [3]]
    v2 = VectorOfVectors(
        flattened_data=Array(np.array([1.0, 2.0])), cumulative_length=Array(np.array([1, 2]))
    )
    assert rows(v2) == [[1.0], [2.0]]
    with pytest.raises(ValueError, match="one-dimensional"):
        VectorOfVectors(flattened_data=[1.0], cumulative_length=np.ones((1, 1), int))
    copy = VectorOfVectors(v)
    assert copy == v
    assert copy.flattened_data is v.flattened_data


def test_vov_depth3():
    v3 = VectorOfVectors([[[1], [2, 3]], [], [[4], []]])
    assert v3.ndim == 3
    assert isinstance(v3.flattened_data, VectorOfVectors)
    assert v3.form_datatype() == "array<1>{array<1>{array<1>{real}}}"
    assert v3.cumulative_length.nda.tolist() == [2, 2, 4]
    assert v3.flattened_data.cumulative_length.nda.tolist() == [1, 3, 4, 4]
    assert rows(v3) == [[[1], [2, 3]], [], [[4], []]]
    assert v3[0].tolist() == [[1], [2, 3]]
    assert v3[1].tolist() == []
    assert v3[-1].tolist() == [[4], []]
    assert rows(v3.take(slice(1, 3))) == [[], [[4], []]]
    assert rows(v3.take(np.array([2, 0]))) == [[[4], []], [[1], [2, 3]]]
    assert rows(v3.take(np.array([True, False, True]))) == [[[1], [2, 3]], [[4], []]]
    assert rows(VectorOfVectors([[[]]])) == [[[]]]

    # awkward: a sliced and reordered depth-3 array
    arr = ak.Array([[[1.0], [2.0, 3.0]], [[4.0]], [], [[5.0, 6.0]]])
    assert rows(VectorOfVectors(arr[1:])) == [[[4.0]], [], [[5.0, 6.0]]]
    assert rows(VectorOfVectors(arr[:, ::-1])) == [[[2.0, 3.0], [1.0]], [[4.0]], [], [[5.0, 6.0]]]

    v3.resize(5)
    assert rows(v3) == [[[1], [2, 3]], [], [[4], []], [], []]
    # numpy: every level padded to its longest list (before: NotImplementedError)
    padded = v3.to_aoesa(fill_val=-1)
    assert padded.shape == (5, 2, 2)
    assert padded.tolist() == [
        [[1, -1], [2, 3]],
        [[-1, -1], [-1, -1]],
        [[4, -1], [-1, -1]],
        [[-1, -1], [-1, -1]],
        [[-1, -1], [-1, -1]],
    ]
    assert np.isnan(v3.view_as("np")[1]).all()
    series = v3.view_as("pd")
    assert len(series) == 5
    assert series[0].tolist() == [[1], [2, 3]]


def test_vov_getitem():
    v = VectorOfVectors([[1, 2], [], [3], [4, 5, 6]])
    assert v[0].tolist() == [1, 2]
    assert isinstance(v[0], np.ndarray)
    assert v[1].tolist() == []
    assert v[-1].tolist() == [4, 5, 6]
    assert v[np.int64(2)].tolist() == [3]
    with pytest.raises(IndexError):
        v[4]
    assert rows(v[1:3]) == [[], [3]]
    assert rows(v[[0, 3]]) == [[1, 2], [4, 5, 6]]
    assert rows(v[np.array([True, False, False, True])]) == [[1, 2], [4, 5, 6]]
    assert [x.tolist() for x in v] == [[1, 2], [], [3], [4, 5, 6]]
    # element rows are views of flattened_data
    assert np.shares_memory(v[3], v.flattened_data.nda)


@pytest.mark.parametrize(
    ("sel", "expected"),
    [
        (slice(1, 3), [[], [3]]),
        (slice(None, None, 2), [[1, 2], [3]]),
        (slice(-2, None), [[3], [4, 5, 6]]),
        (slice(3, 1), []),
        (slice(10, None), []),
        (np.array([3, 3, 0]), [[4, 5, 6], [4, 5, 6], [1, 2]]),
        (np.array([False, True, True, False]), [[], [3]]),
        (np.array([], dtype=int), []),
    ],
)
def test_vov_take(sel, expected):
    v = VectorOfVectors([[1, 2], [], [3], [4, 5, 6]], attrs={"units": "ns"})
    out = v.take(sel)
    assert isinstance(out, VectorOfVectors)
    assert rows(out) == expected
    assert len(out) == len(expected)
    assert out.attrs["units"] == "ns"
    assert out.cumulative_length.nda.tolist() == np.cumsum([len(r) for r in expected]).tolist()


def test_vov_take_slice_is_view():
    v = VectorOfVectors([[1.0, 2.0], [3.0], [4.0, 5.0]])
    out = v.take(slice(1, 3))
    assert np.shares_memory(out.flattened_data.nda, v.flattened_data.nda)
    assert out.flattened_data.nda.tolist() == [3.0, 4.0, 5.0]


def test_vov_resize():
    v = VectorOfVectors([[1, 2], [], [3], [4, 5, 6]])
    v.resize(6)
    assert rows(v) == [[1, 2], [], [3], [4, 5, 6], [], []]
    v.resize(2)
    assert rows(v) == [[1, 2], []]
    assert len(v.flattened_data) == 2
    v.resize(0)
    assert rows(v) == []
    assert len(v.flattened_data) == 0
    v.resize(2)
    assert rows(v) == [[], []]
    e = VectorOfVectors()
    e.resize(3)
    assert rows(e) == [[], [], []]


def test_vov_to_aoesa_and_view_as():
    v = VectorOfVectors([[1, 2], [], [3], [4, 5, 6]])
    padded = v.to_aoesa()
    assert padded.shape == (4, 3)
    np.testing.assert_array_equal(
        padded, [[1, 2, np.nan], [np.nan] * 3, [3, np.nan, np.nan], [4, 5, 6]]
    )
    assert v.to_aoesa(2, 0).tolist() == [[1, 2], [0, 0], [3, 0], [4, 5]]
    assert v.to_aoesa(max_len=4, fill_val=-1).tolist()[3] == [4, 5, 6, -1]
    np.testing.assert_array_equal(v.view_as("np"), padded)

    arr = v.view_as("ak")
    assert isinstance(arr, ak.Array)
    assert np.shares_memory(np.asarray(arr.layout.content.data), v.flattened_data.nda)
    assert arr.tolist() == [[1, 2], [], [3], [4, 5, 6]]

    series = v.view_as("pd")
    assert isinstance(series, pd.Series)
    assert [x.tolist() for x in series] == [[1, 2], [], [3], [4, 5, 6]]
    with pytest.raises(ValueError, match="library"):
        v.view_as("hist")


def test_vov_eq_and_repr():
    assert VectorOfVectors([[1, 2], [3]]) == VectorOfVectors([[1, 2], [3]])
    assert VectorOfVectors([[1, 2], [3]]) != VectorOfVectors([[1], [2, 3]])
    assert VectorOfVectors([[1.0, np.nan]]) == VectorOfVectors([[1.0, np.nan]])
    assert VectorOfVectors([[1]], attrs={"units": "m"}) != VectorOfVectors([[1]])
    assert "[[1, 2], [3]]" in repr(VectorOfVectors([[1, 2], [3]]))


# ------------------------------------------------------------------------------------------
# Struct
# ------------------------------------------------------------------------------------------


def test_struct_nested_access_add_remove():
    s = Struct({"z": Array([1]), "a": Struct({"b": Scalar(2), "c": Array([1, 2])})})
    assert s.form_datatype() == "struct{a,z}"  # sorted
    assert list(s) == ["z", "a"]  # insertion order kept
    assert s["a/b"].value == 2
    assert s["a"]["c"].nda.tolist() == [1, 2]
    assert "a/b" in s
    assert "a/x" not in s
    assert "z/q" not in s
    assert 3 not in s

    s.add_field("m", Scalar(1.0))
    assert s.attrs["datatype"] == "struct{a,m,z}"
    s.remove_field("z")
    assert s.attrs["datatype"] == "struct{a,m}"
    s["k"] = Array([3])
    del s["m"]
    assert list(s) == ["a", "k"]
    assert s.form_datatype() == "struct{a,k}"
    assert len(s) == 2


def test_struct_errors():
    s = Struct({"a": Struct({"b": Scalar(2)}), "m": Scalar(1)})
    with pytest.raises(KeyError, match=r"fields are \['a', 'm'\]"):
        s.remove_field("z")
    with pytest.raises(KeyError, match="no field 'z'"):
        s["z"]
    with pytest.raises(KeyError, match="no field 'x'"):
        s["a/x"]
    with pytest.raises(KeyError, match="has no field"):
        s["m/q"]
    with pytest.raises(TypeError, match="strings"):
        s[0]
    with pytest.raises(ValueError, match="'/'"):
        s.add_field("a/b", Scalar(1))
    with pytest.raises(ValueError, match="non-empty"):
        s.add_field("", Scalar(1))
    with pytest.raises(TypeError, match="data object"):
        s.add_field("x", 3)
    with pytest.raises(ValueError, match="does not fit"):
        Struct(attrs={"datatype": "table{}"})


def test_struct_view_as_and_eq():
    s = Struct({"a": Struct({"b": Scalar(2)}), "c": Array([1, 2])})
    view = s.view_as("np")
    assert view["a"] == {"b": 2}
    assert view["c"].tolist() == [1, 2]
    assert Struct() == Struct()
    assert Struct({"a": Scalar(1)}) == Struct({"a": Scalar(1)})
    assert Struct({"a": Scalar(1)}) != Struct({"a": Scalar(2)})
    assert Struct({"a": Scalar(1)}) != Struct({"b": Scalar(1)})
    assert "a: Struct" in repr(s)


# ------------------------------------------------------------------------------------------
# Table: construction and dict-like API
# ------------------------------------------------------------------------------------------


def make_table(offset: float = 0.0) -> Table:
    return Table(
        {
            "a": np.arange(4.0) + offset,
            "v": VectorOfVectors([[1], [], [2, 3], [4]]),
            "w": np.arange(8.0).reshape(4, 2) + offset,
            "sub": Table(
                {"x": np.arange(4) + int(offset), "y": VectorOfVectors([[[1], [2]], [], [[3]], []])}
            ),
        }
    )


def test_table_from_dict_of_everything():
    t = Table(
        {
            "a": np.arange(4.0),
            "b": [[1], [], [2, 3], [4]],
            "c": [1, 2, 3, 4],
            "d": ak.Array([[1.0], [2.0, 3.0], [], [5.0]]),
            "w": np.zeros((4, 3)),
            "s": ["a", "bb", "c", "d"],
            "p": pd.Series([1.0, 2.0, 3.0, 4.0]),
            "e": Array(np.ones(4), attrs={"units": "keV"}),
        }
    )
    kinds = {k: type(v).__name__ for k, v in t.items()}
    assert kinds == {
        "a": "Array",
        "b": "VectorOfVectors",
        "c": "Array",
        "d": "VectorOfVectors",
        "w": "ArrayOfEqualSizedArrays",
        "s": "Array",
        "p": "Array",
        "e": "Array",
    }
    assert len(t) == t.size == 4
    assert t.form_datatype() == "table{a,b,c,d,e,p,s,w}"
    assert t["s"].nda.tolist() == [b"a", b"bb", b"c", b"d"]
    assert t["e"].attrs["units"] == "keV"
    assert rows(t["b"]) == [[1], [], [2, 3], [4]]


def test_table_column_type_does_not_depend_on_values():
    # a var-typed awkward column stays a VectorOfVectors even if all rows are equally long,
    # so that chunks of the same data always give the same types
    t = Table({"v": ak.Array([[1.0], [2.0]]), "l": [[1, 2], [3, 4]]})
    assert type(t["v"]) is VectorOfVectors
    assert type(t["l"]) is VectorOfVectors
    reg = Table({"r": ak.to_regular(ak.Array([[1, 2], [3, 4]]), axis=1)})
    assert type(reg["r"]) is ArrayOfEqualSizedArrays
    assert reg["r"].nda.tolist() == [[1, 2], [3, 4]]


def test_table_from_dataframe():
    df = pd.DataFrame({"x": [1.0, 2.0], "y": [3, 4], "s": ["a", "bc"]})
    t = Table(df)
    assert list(t.keys()) == ["x", "y", "s"]
    assert all(type(v) is Array for v in t.values())
    assert t["x"].nda.tolist() == [1.0, 2.0]
    assert t["s"].nda.tolist() == [b"a", b"bc"]
    assert np.shares_memory(t["x"].nda, df["x"].to_numpy())


def test_table_dataframe_round_trip_with_jagged_column():
    t = Table({"a": np.arange(3.0), "v": VectorOfVectors([[1.0], [], [2.0, 3.0]])})
    back = Table(t.view_as("pd"))
    assert back["a"] == t["a"]
    assert type(back["v"]) is VectorOfVectors
    assert rows(back["v"]) == rows(t["v"])


def test_table_from_awkward_record_array():
    rec = ak.Array(
        {"x": [1, 2, 3], "y": [[1], [2, 3], []], "z": {"p": [1.0, 2.0, 3.0], "q": [[1], [], [2]]}}
    )
    t = Table(rec)
    assert {k: type(v).__name__ for k, v in t.items()} == {
        "x": "Array",
        "y": "VectorOfVectors",
        "z": "Table",
    }
    assert t.form_datatype() == "table{x,y,z}"
    assert t["z"].form_datatype() == "table{p,q}"
    assert t["z/p"].nda.tolist() == [1.0, 2.0, 3.0]
    assert rows(t["z/q"]) == [[1], [], [2]]
    assert len(t) == 3
    assert ak.array_equal(t.view_as("ak"), rec)


def test_table_dict_api():
    t = make_table()
    assert list(t.keys()) == ["a", "v", "w", "sub"]
    assert [k for k, _ in t.items()] == ["a", "v", "w", "sub"]
    assert "a" in t
    assert "sub/x" in t
    assert "sub/nope" not in t
    assert "nope" not in t
    assert t["sub/x"] is t["sub"]["x"]

    t.add_column("e", Array(np.ones(4)))
    assert "e" in t
    assert t.form_datatype() == "table{a,e,sub,v,w}"
    t.add_column("e", Array(np.zeros(4)))  # replace
    assert t["e"].nda.tolist() == [0.0] * 4
    t.remove_column("e")
    assert "e" not in t
    assert t.attrs["datatype"] == "table{a,sub,v,w}"
    with pytest.raises(KeyError, match=r"fields are \['a', 'sub', 'v', 'w'\]"):
        t.remove_column("e")
    with pytest.raises(KeyError, match="no field 'nope'"):
        t["nope"]


def test_table_length_mismatch():
    with pytest.raises(ValueError, match="column 'b' has 3 rows but the table has 2"):
        Table({"a": [1, 2], "b": [1, 2, 3]})
    with pytest.raises(ValueError, match="size=3"):
        Table({"a": [1, 2]}, size=3)
    t = Table({"a": np.arange(4.0)})
    with pytest.raises(ValueError, match="has 2 rows"):
        t.add_column("e", Array([1, 2]))
    with pytest.raises(ValueError, match="has 2 rows"):
        t.add_column("v", VectorOfVectors([[1], [2]]))
    with pytest.raises(TypeError, match="plain Struct"):
        Table({"s": Struct({"a": Array([1])})})

    t2 = Table({"a": [1, 2, 3]})
    t2.add_column("e", Array([1, 2]), use_obj_size=True)
    assert len(t2) == 2
    assert t2["a"].nda.tolist() == [1, 2]


def test_table_empty_and_size():
    e = Table()
    assert len(e) == 0
    assert e.form_datatype() == "table{}"
    assert e.view_as("pd").shape == (0, 0)
    assert len(e.view_as("ak")) == 0
    sized = Table(size=5)
    assert len(sized) == 5
    assert sized.view_as("pd").shape == (5, 0)
    assert len(sized.view_as("ak")) == 5


def test_table_resize():
    t = make_table()
    t.resize(6)
    assert len(t) == 6
    assert all(len(c) == 6 for c in t.values())
    assert len(t["sub/y"]) == 6
    assert rows(t["v"])[4:] == [[], []]
    t.resize(2)
    assert t["a"].nda.tolist() == [0.0, 1.0]
    assert rows(t["v"]) == [[1], []]


# ------------------------------------------------------------------------------------------
# Table: row selection
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sel",
    [
        slice(1, 3),
        slice(None, None, 2),
        slice(-3, None),
        slice(5, None),
        np.array([3, 0, 3]),
        [2, 1],
        np.array([True, False, True, True]),
        Array(np.array([False, True, False, True])),
    ],
    ids=["slice", "step", "negative", "past-end", "index", "list", "mask", "Array-mask"],
)
def test_table_row_selection(sel, request):
    t = make_table()
    raw = sel.nda if isinstance(sel, Array) else sel
    expected_rows = np.arange(4)[raw].tolist()
    out = t[sel]
    assert isinstance(out, Table)
    assert len(out) == len(expected_rows)
    assert out["a"].nda.tolist() == [float(i) for i in expected_rows]
    v_rows, y_rows = rows(t["v"]), rows(t["sub/y"])
    assert rows(out["v"]) == [v_rows[i] for i in expected_rows]
    assert out["w"].nda.tolist() == [t["w"].nda[i].tolist() for i in expected_rows]
    assert out["sub/x"].nda.tolist() == expected_rows
    assert rows(out["sub/y"]) == [y_rows[i] for i in expected_rows]
    assert type(out["w"]) is ArrayOfEqualSizedArrays
    assert type(out["sub"]) is Table
    assert all(len(c) == len(out) for c in out.values())


def test_table_row_selection_details():
    t = make_table()
    assert np.shares_memory(t[1:3]["a"].nda, t["a"].nda)
    with pytest.raises(IndexError, match="boolean mask of length 2"):
        t[np.array([True, False])]
    row = t[1]
    assert row["a"] == 1.0
    assert row["v"].tolist() == []
    assert row["w"].tolist() == [2.0, 3.0]
    assert t[-1]["v"].tolist() == [4]
    # the docstring example
    assert rows(t[t["a"].nda > 1]["v"]) == [[2, 3], [4]]


def test_table_row_of_encoded_columns_is_their_encoded_bytes():
    encoded = VectorOfVectors([[1, 2], [3]], dtype="uint8")
    t = Table(
        {
            "equal": ArrayOfEncodedEqualSizedArrays(encoded, 100),
            "varying": VectorOfEncodedVectors(encoded, np.array([10, 20])),
        }
    )
    row = t[1]
    assert row["equal"].tolist() == [3]
    assert row["varying"][0].tolist() == [3] and row["varying"][1] == 20


def test_table_refuses_a_column_without_rows():
    with pytest.raises(TypeError, match="column 's': a Table holds columns of rows, not a Scalar"):
        Table({"s": Scalar(3)})
    with pytest.raises(TypeError, match="not a Scalar"):
        Table({"a": [1]}).add_column("s", Scalar(3))


def test_table_take_keeps_attrs_and_type():
    wf = WaveformTable(values=np.zeros((3, 4)), attrs={"description": "x"})
    sub = wf.take(np.array([0, 2]))
    assert type(sub) is WaveformTable
    assert sub.attrs["description"] == "x"
    assert sub.wf_len == 4


# ------------------------------------------------------------------------------------------
# concatenation
# ------------------------------------------------------------------------------------------


def test_table_concat_every_column_type():
    def build(off):
        t = make_table(off)
        t.add_column(
            "enc",
            ArrayOfEncodedEqualSizedArrays(
                VectorOfVectors([[1, 2], [3], [], [4, 5, 6]], dtype="uint8"),
                10,
                attrs={"codec": "radware_sigcompress"},
            ),
        )
        t.add_column(
            "venc",
            VectorOfEncodedVectors(
                VectorOfVectors([[1], [2], [3], [4]], dtype="uint8"), [5, 6, 7, 8 + int(off)]
            ),
        )
        t.add_column("f", FixedSizeArray(np.arange(4)))
        return t

    a, b = build(0), build(10)
    for joined in (Table.concat([a, b]), concat([a, b])):
        assert len(joined) == 8
        assert joined["a"].nda.tolist() == [0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0]
        assert rows(joined["v"]) == rows(a["v"]) * 2
        assert joined["w"].nda[:, 0].tolist() == [0.0, 2.0, 4.0, 6.0, 10.0, 12.0, 14.0, 16.0]
        assert type(joined["w"]) is ArrayOfEqualSizedArrays
        assert joined["sub/x"].nda.tolist() == [0, 1, 2, 3, 10, 11, 12, 13]
        assert rows(joined["sub/y"]) == rows(a["sub/y"]) * 2
        assert rows(joined["enc"].encoded_data) == rows(a["enc"].encoded_data) * 2
        assert joined["enc"].decoded_size.value == 10
        assert joined["enc"].attrs["codec"] == "radware_sigcompress"
        assert joined["venc"].decoded_size.nda.tolist() == [5, 6, 7, 8, 5, 6, 7, 18]
        assert type(joined["f"]) is FixedSizeArray
        assert all(len(c) == 8 for c in joined.values())


def test_concat_each_type():
    assert concat([Array([1, 2]), Array([3])]).nda.tolist() == [1, 2, 3]
    u = concat([Array([1], attrs={"units": "keV"}), Array([2])])
    assert u.attrs["units"] == "keV"  # attrs of the first
    assert (
        concat([FixedSizeArray([1]), FixedSizeArray([2])])
        .form_datatype()
        .startswith("fixedsize_array")
    )
    w = concat(
        [
            ArrayOfEqualSizedArrays(nda=np.ones((2, 3))),
            ArrayOfEqualSizedArrays(nda=np.zeros((1, 3))),
        ]
    )
    assert type(w) is ArrayOfEqualSizedArrays
    assert w.nda.shape == (3, 3)

    v = concat([VectorOfVectors([[1]]), VectorOfVectors([[2, 3], []]), VectorOfVectors([[4]])])
    assert rows(v) == [[1], [2, 3], [], [4]]
    assert v.cumulative_length.nda.tolist() == [1, 3, 3, 4]
    v_empty = concat([VectorOfVectors(dtype="int64"), VectorOfVectors([[1], [2]])])
    assert rows(v_empty) == [[1], [2]]
    v3 = concat([VectorOfVectors([[[1], [2]]]), VectorOfVectors([[], [[3, 4]]])])
    assert rows(v3) == [[[1], [2]], [], [[3, 4]]]

    e = concat(
        [
            ArrayOfEncodedEqualSizedArrays([[1, 2], [3]], 100),
            ArrayOfEncodedEqualSizedArrays([[4]], 100),
        ]
    )
    assert len(e) == 3
    assert rows(e.encoded_data) == [[1, 2], [3], [4]]
    ve = concat([VectorOfEncodedVectors([[1]], [7]), VectorOfEncodedVectors([[2], [3]], [8, 9])])
    assert ve.decoded_size.nda.tolist() == [7, 8, 9]
    assert rows(ve.encoded_data) == [[1], [2], [3]]

    wf = WaveformTable(values=np.zeros((2, 4)), t0=[1.0, 2.0])
    wf2 = concat([wf, wf])
    assert type(wf2) is WaveformTable
    assert wf2.t0.nda.tolist() == [1.0, 2.0, 1.0, 2.0]


def test_concat_errors():
    with pytest.raises(ValueError, match="at least one"):
        concat([])
    with pytest.raises(TypeError, match="different types"):
        concat([Array([1]), VectorOfVectors([[1]])])
    with pytest.raises(ValueError, match="different columns"):
        concat([Table({"a": [1]}), Table({"b": [1]})])
    with pytest.raises(TypeError, match="cannot concatenate Scalar"):
        concat([Scalar(1), Scalar(2)])
    with pytest.raises(ValueError, match="decoded sizes"):
        concat(
            [
                ArrayOfEncodedEqualSizedArrays([[1]], 100),
                ArrayOfEncodedEqualSizedArrays([[2]], 200),
            ]
        )


def test_concat_of_one_is_a_new_object():
    a = Array([1, 2])
    out = concat([a])
    assert out is not a
    assert out == a
    out.nda[0] = 99
    assert a.nda[0] == 1
    t = Table({"a": [1, 2]})
    assert concat([t]) is not t
    assert concat([t]) == t


# ------------------------------------------------------------------------------------------
# Table: nesting, flatten and views
# ------------------------------------------------------------------------------------------


def test_flatten():
    t = make_table()
    t["sub"].add_column("deep", Table({"z": np.arange(4)}))
    flat = t.flatten()
    assert list(flat.keys()) == ["a", "v", "w", "sub__x", "sub__y", "sub__deep__z"]
    assert flat["sub__deep__z"] is t["sub/deep/z"]  # columns are not copied
    assert len(flat) == 4
    assert isinstance(flat, Table)
    assert not any(isinstance(c, Table) for c in flat.values())


def test_table_view_as_pd():
    t = make_table()
    t["sub"].add_column("deep", Table({"z": np.arange(4)}))
    df = t.view_as("pd")
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["a", "v", "w", "sub_x", "sub_y", "sub_deep_z"]
    assert df["a"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert np.shares_memory(df["a"].to_numpy(), t["a"].nda)
    assert np.shares_memory(df["sub_x"].to_numpy(), t["sub/x"].nda)
    assert [x.tolist() for x in df["v"]] == [[1], [], [2, 3], [4]]
    assert df["w"][1].tolist() == [2.0, 3.0]
    assert list(t.view_as("pd", cols=["a", "sub"]).columns) == [
        "a",
        "sub_x",
        "sub_y",
        "sub_deep_z",
    ]
    assert list(t.get_dataframe(["w"]).columns) == ["w"]
    with pytest.raises(ValueError, match="library"):
        t.view_as("arrow")


def test_table_view_as_ak_and_np():
    t = make_table()
    rec = t.view_as("ak")
    assert rec.fields == ["a", "v", "w", "sub"]
    assert rec["sub"].fields == ["x", "y"]
    assert rec["a"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert rec["v"].tolist() == [[1], [], [2, 3], [4]]
    assert rec["sub", "y"].tolist() == [[[1], [2]], [], [[3]], []]
    assert np.shares_memory(ak.to_numpy(rec["a"]), t["a"].nda)
    assert rec.tolist()[2]["sub"]["x"] == 2
    assert t.view_as("ak", cols=["a"]).fields == ["a"]

    t["sub"].remove_column("y")  # a 3-level VectorOfVectors has no numpy view
    d = t.view_as("np")
    assert list(d) == ["a", "v", "w", "sub"]
    assert d["a"] is t["a"].nda
    assert d["v"].shape == (4, 2)  # padded with NaN
    assert d["w"].shape == (4, 2)
    assert isinstance(d["sub"], dict)
    assert d["sub"]["x"].tolist() == [0, 1, 2, 3]
    assert list(t.view_as("np", cols=["a"])) == ["a"]


def test_table_eq_and_repr():
    assert make_table() == make_table()
    assert make_table() != make_table(1.0)
    assert "4 rows" in repr(make_table())


# ------------------------------------------------------------------------------------------
# Table.eval
# ------------------------------------------------------------------------------------------


@pytest.fixture
def eval_table() -> Table:
    return Table(
        {
            "a": np.arange(1.0, 5.0),
            "b": np.array([4, 3, 2, 1]),
            "flag": np.array([True, False, True, False]),
            "v": VectorOfVectors([[1.0], [2.0, 3.0], [], [4.0, 5.0, 6.0]]),
            "w": np.arange(12.0).reshape(4, 3),
            "sub": Table(
                {
                    "x": np.arange(4.0),
                    "y": VectorOfVectors([[1], [2], [3], [4, 5]]),
                    "deep": Table({"z": np.arange(4)}),
                }
            ),
        }
    )


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("a * 2", [2.0, 4.0, 6.0, 8.0]),
        ("a + b", [5.0, 5.0, 5.0, 5.0]),
        ("a**2 + b**2", [17.0, 13.0, 13.0, 17.0]),
        ("b // 2", [2, 1, 1, 0]),
        ("sqrt(a)", np.sqrt([1.0, 2.0, 3.0, 4.0]).tolist()),
        ("log(a)", np.log([1.0, 2.0, 3.0, 4.0]).tolist()),
        ("where(a > 2, a, -a)", [-1.0, -2.0, 3.0, 4.0]),
        ("a > 2", [False, False, True, True]),
        ("flag & (a > 1)", [False, False, True, False]),
        ("~flag", [False, True, False, True]),
        ("np.log(a)", np.log([1.0, 2.0, 3.0, 4.0]).tolist()),
        ("np.clip(a, 2, 3)", [2.0, 2.0, 3.0, 3.0]),
        ("a[flag]", [1.0, 3.0]),
        ("a.cumsum()", [1.0, 3.0, 6.0, 10.0]),
        ("sub__x + a", [1.0, 3.0, 5.0, 7.0]),
        ("sub__deep__z * 2", [0, 2, 4, 6]),
        ("ak.sum(v, axis=-1)", [1.0, 5.0, 0.0, 15.0]),
        ("ak.num(v)", [1, 2, 0, 3]),
        ("ak.num(sub__y)", [1, 1, 1, 2]),
        ("ak.sum(sub__y, axis=-1) + sub__x", [1.0, 3.0, 5.0, 12.0]),
        ("ak.any(v > 2, axis=-1)", [False, True, False, True]),
        ("ak.fill_none(ak.max(v, axis=-1), 0)", [1.0, 3.0, 0.0, 6.0]),
        ("ak.flatten(v)", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        ("np.sum(w, axis=1)", [3.0, 12.0, 21.0, 30.0]),
    ],
)
def test_eval_array_results(eval_table, expr, expected):
    out = eval_table.eval(expr)
    assert type(out) is Array
    np.testing.assert_allclose(out.nda, expected)


def test_eval_parameters(eval_table):
    out = eval_table.eval("a * k + c", {"k": 3.0, "c": 1})
    assert out.nda.tolist() == [4.0, 7.0, 10.0, 13.0]
    assert eval_table.eval("v * k", {"k": 2}).view_as("ak").tolist() == [
        [2.0],
        [4.0, 6.0],
        [],
        [8.0, 10.0, 12.0],
    ]
    assert eval_table.eval("k", {"k": 3.0}) == Scalar(3.0)


def test_eval_jagged_results(eval_table):
    out = eval_table.eval("v + a")
    assert type(out) is VectorOfVectors
    assert rows(out) == [[2.0], [4.0, 5.0], [], [8.0, 9.0, 10.0]]
    assert rows(eval_table.eval("sub__y * 2")) == [[2], [4], [6], [8, 10]]
    assert rows(eval_table.eval("v[:, :1]")) == [[1.0], [2.0], [], [4.0]]
    assert rows(eval_table.eval("np.abs(-v)")) == rows(eval_table["v"])


def test_eval_aoesa_results(eval_table):
    out = eval_table.eval("w * 2")
    assert type(out) is ArrayOfEqualSizedArrays
    assert out.nda.tolist() == (np.arange(12.0).reshape(4, 3) * 2).tolist()
    # numexpr functions work on equal-sized-array columns too, as in lgdo
    root = eval_table.eval("sqrt(w)")
    assert type(root) is ArrayOfEqualSizedArrays
    np.testing.assert_allclose(root.nda, np.sqrt(np.arange(12.0).reshape(4, 3)))


@pytest.mark.parametrize(
    ("expr", "value"),
    [("sum(a)", 10.0), ("max(a)", 4.0), ("np.sum(a)", 10.0), ("ak.sum(v)", 21.0), ("2", 2)],
)
def test_eval_scalar_results(eval_table, expr, value):
    out = eval_table.eval(expr)
    assert type(out) is Scalar
    assert out.value == value


def test_eval_missing_values(eval_table):
    # float: None becomes NaN
    out = eval_table.eval("ak.max(v, axis=-1)")
    np.testing.assert_array_equal(out.nda, [1.0, 3.0, np.nan, 6.0])
    # int: no NaN to stand for the missing value, so refuse rather than give garbage
    t = Table({"n": VectorOfVectors([[1, 5], [], [3]])})
    with pytest.raises(ExpressionError, match="fill_none"):
        t.eval("ak.max(n, axis=-1)")
    assert t.eval("ak.fill_none(ak.max(n, axis=-1), -1)").nda.tolist() == [5, -1, 3]


def test_eval_unknown_name_lists_columns(eval_table):
    with pytest.raises(ExpressionError) as err:
        eval_table.eval("nope + a")
    msg = str(err.value)
    assert "nope" in msg
    for col in ("a", "b", "flag", "v", "w", "sub__x", "sub__y", "sub__deep__z"):
        assert repr(col) in msg
    with pytest.raises(ExpressionError, match="sub__nope"):
        eval_table.eval("sub__nope * 2")
    with pytest.raises(ExpressionError, match="parameters are"):
        eval_table.eval("a * q", {"k": 1})
    assert issubclass(ExpressionError, ValueError)


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os')",
        "__import__('os').getcwd()",
        "open('x')",
        "len(a)",
        "print(a)",
        "eval('1')",
        "getattr(a, 'sum')",
        "abs(v)",  # not numexpr-able: builtins are not there to fall back on
        "ak.__builtins__",
        "ak.__builtins__['len'](a)",
        "np.__dict__",
        "a.__class__",
        "v._layout",
        "[x for x in a]",
        "(lambda y: y)(a)",
    ],
)
def test_eval_no_builtins(eval_table, expr):
    with pytest.raises(ExpressionError):
        eval_table.eval(expr)


@pytest.mark.parametrize("expr", ["a +", "", "a b", "(a", "a = 1"])
def test_eval_syntax_error(eval_table, expr):
    with pytest.raises(ExpressionError):
        eval_table.eval(expr)


def test_eval_non_array_result(eval_table):
    with pytest.raises(ExpressionError, match="list"):
        eval_table.eval("[a]")


def test_eval_runtime_error_is_expression_error(eval_table):
    with pytest.raises(ExpressionError, match="failed"):
        eval_table.eval("ak.sum(v, axis=5)")


def test_eval_numpy_methods_in_fresh_process():
    # numpy methods import helpers lazily; that must work on the first call too
    code = (
        "import numpy as np\n"
        "from tierflow.types import Table\n"
        "t = Table({'a': np.arange(4.0)})\n"
        "print(t.eval('a.mean()').value, t.eval('a.std()').value)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    mean, std = map(float, out.stdout.split())
    assert mean == 1.5
    assert std == pytest.approx(np.arange(4.0).std())


# ------------------------------------------------------------------------------------------
# WaveformTable
# ------------------------------------------------------------------------------------------


def test_waveformtable_broadcast_and_units():
    wf = WaveformTable(
        values=np.zeros((3, 8), "uint16"),
        t0=np.array([1.0, 2.0, 3.0]),
        t0_units="ns",
        dt=16,
        dt_units="ns",
        values_units="ADC",
    )
    assert len(wf) == 3
    assert wf.wf_len == 8
    assert wf.t0.nda.tolist() == [1.0, 2.0, 3.0]
    assert wf.t0.attrs["units"] == "ns"
    assert wf.dt.nda.tolist() == [16.0] * 3
    assert wf.dt.attrs["units"] == "ns"
    assert wf.dt.dtype == np.float32
    assert wf.values.attrs["units"] == "ADC"
    assert type(wf.values) is ArrayOfEqualSizedArrays
    assert wf.values.dtype == np.uint16
    assert wf.form_datatype() == "table{dt,t0,values}"
    assert list(wf.view_as("pd").columns) == ["t0", "dt", "values"]
    assert (
        WaveformTable(values=np.zeros((2, 4)), dt=0.5).dt.dtype == np.float32
    )  # as LEGEND stores dt
    assert WaveformTable(values=np.zeros((2, 4)), dt=Array([1.0, 2.0])).dt.nda.tolist() == [
        1.0,
        2.0,
    ]


def test_waveformtable_vov_and_defaults():
    wf = WaveformTable(values=VectorOfVectors([[1, 2], [3]]), dt=np.float32(4))
    assert wf.wf_len is None
    assert len(wf) == 2
    assert wf.dt.nda.tolist() == [4.0, 4.0]
    assert type(WaveformTable(values=[[1, 2], [3]]).values) is VectorOfVectors

    sized = WaveformTable(size=5, wf_len=10)
    assert sized.values.nda.shape == (5, 10)
    assert sized.t0.nda.tolist() == [0.0] * 5
    default = WaveformTable()
    assert len(default) == 1024
    assert default.wf_len == 100
    assert WaveformTable(values=np.zeros((3, 4)), dtype="float32").values.dtype == np.float32


def test_waveformtable_errors():
    with pytest.raises(ValueError, match="size=3"):
        WaveformTable(size=3, values=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="rows"):
        WaveformTable(t0=[1.0, 2.0], values=np.zeros((3, 4)))


def test_waveformtable_encoded_and_slicing():
    enc = ArrayOfEncodedEqualSizedArrays(VectorOfVectors([[1, 2], [3]], dtype="uint8"), 100)
    wf = WaveformTable(values=enc)
    assert wf.wf_len == 100
    assert len(wf) == 2
    venc = VectorOfEncodedVectors(VectorOfVectors([[1, 2], [3]], dtype="uint8"), [10, 20])
    assert WaveformTable(values=venc).wf_len is None

    wf = WaveformTable(values=np.arange(12.0).reshape(3, 4), t0=[1.0, 2.0, 3.0])
    part = wf[1:]
    assert type(part) is WaveformTable
    assert part.t0.nda.tolist() == [2.0, 3.0]
    assert part.values.nda.tolist() == [[4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 10.0, 11.0]]


# ------------------------------------------------------------------------------------------
# Histogram
# ------------------------------------------------------------------------------------------


def assert_same_hist(ours: hist.Hist, original: hist.Hist) -> None:
    np.testing.assert_array_equal(ours.values(), original.values())
    assert len(ours.axes) == len(original.axes)
    for a, b in zip(ours.axes, original.axes, strict=True):
        np.testing.assert_allclose(a.edges, b.edges, rtol=0, atol=1e-12)
        assert type(a) is type(b)


@pytest.mark.parametrize(
    "axes",
    [
        [hist.axis.Regular(10, 0, 1)],
        [hist.axis.Variable([0, 1, 3, 10])],
        [hist.axis.Regular(7, -1.3, 2.9), hist.axis.Variable([0, 1, 3, 10])],
        [
            hist.axis.Regular(3, 0, 3),
            hist.axis.Regular(4, 0.1, 0.7),
            hist.axis.Variable([0, 0.5, 2]),
        ],
    ],
    ids=["1d-regular", "1d-variable", "2d", "3d"],
)
def test_histogram_from_hist_round_trip(axes):
    rng = np.random.default_rng(42)
    h = hist.Hist(*axes)
    lows = [ax.edges[0] for ax in axes]
    highs = [ax.edges[-1] for ax in axes]
    h.fill(*(rng.uniform(lo, hi, 500) for lo, hi in zip(lows, highs, strict=True)))
    ours = Histogram(h)
    assert ours.form_datatype() == "struct{binning,isdensity,weights}"
    assert (
        ours["binning"].form_datatype()
        == "struct{" + ",".join(f"axis_{i}" for i in range(len(axes))) + "}"
    )
    assert ours.weights.nda.shape == h.values().shape
    for ax, orig in zip(ours.binning, axes, strict=True):
        assert ax.is_range == isinstance(orig, hist.axis.Regular)
        assert ax.nbins == orig.size
    assert_same_hist(ours.view_as("hist"), h)
    np.testing.assert_array_equal(ours.view_as("np"), h.values())


def test_histogram_from_int_storage():
    h = hist.Hist(hist.axis.Regular(3, 0, 3), storage=hist.storage.Int64())
    h.fill([0.5, 1.5, 1.5])
    ours = Histogram(h)
    assert ours.weights.dtype == np.float64
    assert ours.view_as("hist").values().tolist() == [1.0, 2.0, 0.0]


def test_histogram_transformed_axis_keeps_edges():
    h = hist.Hist(hist.axis.Regular(5, 1, 100, transform=hist.axis.transform.log))
    h.fill([2.0, 50.0])
    ours = Histogram(h)
    assert not ours.binning[0].is_range
    np.testing.assert_allclose(ours.binning[0].edges, h.axes[0].edges)
    back = ours.view_as("hist")
    np.testing.assert_allclose(back.axes[0].edges, h.axes[0].edges)
    assert back.values().tolist() == h.values().tolist()


def test_histogram_from_weights_and_binning():
    h = Histogram(np.array([1.0, 2.0]), [(0, 2, 1)])
    assert h.view_as("hist").values().tolist() == [1.0, 2.0]
    assert h.binning[0].is_range
    assert h.binning[0].edges.tolist() == [0.0, 1.0, 2.0]

    hv = Histogram(np.array([1.0, 2.0, 3.0]), [np.array([0.0, 1.0, 5.0, 6.0])])
    assert not hv.binning[0].is_range
    assert hv.binning[0].edges.tolist() == [0.0, 1.0, 5.0, 6.0]
    assert isinstance(hv.view_as("hist").axes[0], hist.axis.Variable)

    h2 = Histogram(
        np.ones((2, 3)),
        [
            Axis.regular(0, 2, 1, units="keV"),
            Histogram.Axis.variable([0, 1, 2, 4], closedleft=False),
        ],
    )
    assert h2.binning[0].units == "keV"
    assert h2.binning[1].closedleft is False
    assert h2.binning[0].closedleft is True
    assert h2.view_as("hist").values().shape == (2, 3)
    assert h2["binning/axis_0/binedges"].form_datatype() == "struct{first,last,step}"
    assert h2["binning/axis_1/binedges"].form_datatype() == "array<1>{real}"

    h3 = Histogram(np.arange(24.0).reshape(2, 3, 4), [(0, 2, 1), [0, 1, 2, 3], (0, 1, 0.25)])
    assert h3.view_as("hist").values().tolist() == np.arange(24.0).reshape(2, 3, 4).tolist()

    zeros = Histogram(None, [(0, 1, 0.25)])
    assert zeros.weights.nda.tolist() == [0.0] * 4
    dens = Histogram(Array(np.ones(4)), [(0, 1, 0.25)], isdensity=True)
    assert dens.isdensity is True
    assert dens.binning[0].edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert Histogram.Axis is Axis


def test_histogram_errors():
    with pytest.raises(ValueError, match="do not fit"):
        Histogram(np.zeros(3), [(0, 2, 1)])
    with pytest.raises(ValueError, match="do not fit"):
        Histogram(np.zeros((2, 2)), [(0, 2, 1)])
    with pytest.raises(ValueError, match="do not fit"):
        Histogram(np.zeros(2), [(0, 2, 1), (0, 2, 1)])
    with pytest.raises(ValueError, match="needs a binning"):
        Histogram(np.zeros(3))
    with pytest.raises(ValueError, match="no binning"):
        Histogram(hist.Hist(hist.axis.Regular(3, 0, 1)), [(0, 1, 0.1)])
    with pytest.raises(ValueError, match="simple"):
        Histogram(hist.Hist(hist.axis.Regular(3, 0, 1), storage=hist.storage.Weight()))
    with pytest.raises(ValueError, match="Integer"):
        Histogram(hist.Hist(hist.axis.Integer(0, 3)))
    with pytest.raises(ValueError, match="StrCategory"):
        Histogram(hist.Hist(hist.axis.StrCategory(["a"])))
    with pytest.raises(ValueError, match="rising"):
        Axis.variable([0, 0, 1])
    with pytest.raises(ValueError, match="rising"):
        Axis.variable([1])
    with pytest.raises(ValueError, match="library"):
        Histogram(np.zeros(2), [(0, 2, 1)]).view_as("pd")


def test_axis_regular():
    ax = Axis.regular(0, 1, 0.1)
    assert ax.nbins == 10
    np.testing.assert_allclose(ax.edges, np.linspace(0, 1, 11))
    assert ax.units is None
    assert ax.form_datatype() == "struct{binedges,closedleft}"


# ------------------------------------------------------------------------------------------
# encoded arrays
# ------------------------------------------------------------------------------------------


def test_array_of_encoded_equalsized_arrays():
    e = ArrayOfEncodedEqualSizedArrays(
        [[1, 2], [3], [4, 5, 6]], 100, attrs={"codec": "radware_sigcompress", "codec_shift": -32768}
    )
    assert len(e) == 3
    assert e.encoded_data.dtype == np.uint8
    assert e.decoded_size.value == 100
    assert e.form_datatype() == "array_of_encoded_equalsized_arrays<1,1>{real}"
    sub = e.take([0, 2])
    assert type(sub) is ArrayOfEncodedEqualSizedArrays
    assert rows(sub.encoded_data) == [[1, 2], [4, 5, 6]]
    assert sub.decoded_size.value == 100
    assert sub.attrs["codec"] == "radware_sigcompress"
    assert sub.attrs["codec_shift"] == -32768
    assert rows(e.take(slice(1, None)).encoded_data) == [[3], [4, 5, 6]]
    assert e.view_as("ak").tolist() == [[1, 2], [3], [4, 5, 6]]
    assert [x.tolist() for x in e.view_as("pd")] == [[1, 2], [3], [4, 5, 6]]
    with pytest.raises(ValueError, match="library"):
        e.view_as("np")
    assert e == e.take(slice(None))
    assert e != ArrayOfEncodedEqualSizedArrays([[1, 2], [3], [4, 5, 6]], 99, attrs=e.getattrs())
    e.resize(1)
    assert len(e) == 1
    assert len(ArrayOfEncodedEqualSizedArrays()) == 0
    scalar_size = ArrayOfEncodedEqualSizedArrays([[1]], Scalar(7))
    assert scalar_size.decoded_size.value == 7
    with pytest.raises(TypeError, match="uint8"):
        ArrayOfEncodedEqualSizedArrays(VectorOfVectors([[1.0]]), 3)


def test_vector_of_encoded_vectors():
    v = VectorOfEncodedVectors(
        VectorOfVectors([[1, 2], [3], [4]], dtype="uint8"), np.array([5, 6, 7], "uint32")
    )
    assert len(v) == 3
    assert v.form_datatype() == "array<1>{encoded_array<1>{real}}"
    assert v.take(np.array([True, False, True])).decoded_size.nda.tolist() == [5, 7]
    assert rows(v.take(slice(0, 2)).encoded_data) == [[1, 2], [3]]
    assert rows(v.take(np.array([2, 0])).encoded_data) == [[4], [1, 2]]
    assert v == v.take(slice(None))
    v.resize(5)
    assert len(v) == 5
    assert v.decoded_size.nda.tolist() == [5, 6, 7, 0, 0]
    assert rows(v.encoded_data) == [[1, 2], [3], [4], [], []]
    assert len(VectorOfEncodedVectors()) == 0
    assert VectorOfEncodedVectors([[1], [2]]).decoded_size.nda.tolist() == [0, 0]
    with pytest.raises(ValueError, match="1 decoded sizes for 2 encoded rows"):
        VectorOfEncodedVectors([[1, 2], [3]], [1])


def test_encoded_in_table_rows():
    t = Table(
        {
            "e": ArrayOfEncodedEqualSizedArrays([[1], [2, 3], []], 8),
            "v": VectorOfEncodedVectors([[1], [2, 3], []], [1, 2, 0]),
        }
    )
    sub = t[np.array([2, 1])]
    assert rows(sub["e"].encoded_data) == [[], [2, 3]]
    assert sub["v"].decoded_size.nda.tolist() == [0, 2]


def test_public_names():
    for name in tt.__all__:
        assert hasattr(tt, name)


# ------------------------------------------------------------------------------------------
# side by side with LEGEND's lgdo
# ------------------------------------------------------------------------------------------


def lgdo_pair():
    lgdo = pytest.importorskip("lgdo")
    a = np.arange(1.0, 5.0)
    b = np.array([4, 3, 2, 1])
    w = np.arange(12.0).reshape(4, 3)
    v = [[1.0], [2.0, 3.0], [], [4.0, 5.0, 6.0]]
    y = [[1], [2], [3], [4, 5]]
    x = np.arange(4.0)
    z = np.arange(4)
    theirs = lgdo.Table(
        col_dict={
            "a": lgdo.Array(a),
            "b": lgdo.Array(b),
            "w": lgdo.ArrayOfEqualSizedArrays(nda=w),
            "v": lgdo.VectorOfVectors(v),
            "sub": lgdo.Table(
                col_dict={
                    "x": lgdo.Array(x),
                    "y": lgdo.VectorOfVectors(y),
                    "deep": lgdo.Table(col_dict={"z": lgdo.Array(z)}),
                }
            ),
        }
    )
    ours = Table(
        {
            "a": a,
            "b": b,
            "w": w,
            "v": VectorOfVectors(v),
            "sub": Table({"x": x, "y": VectorOfVectors(y), "deep": Table({"z": z})}),
        }
    )
    return lgdo, ours, theirs


@pytest.mark.parametrize(
    "expr",
    [
        "a * k",
        "a + b",
        "sqrt(a) + log(b)",
        "where(a > 2, a, b)",
        "a > 2",
        "sum(a)",
        "sub__x + a",
        "sub__deep__z * 2",
        "w * 2",
        "sqrt(w)",
        "np.sum(w, axis=1)",
        "np.log(a)",
        "v + a",
        "v * k",
        "ak.sum(v, axis=-1)",
        "ak.num(sub__y)",
        "ak.sum(sub__y, axis=-1) + sub__x",
        "np.sum(a) + ak.sum(v)",
    ],
)
def test_eval_matches_lgdo(expr):
    lgdo, ours, theirs = lgdo_pair()
    mine = ours.eval(expr, {"k": 3.0})
    ref = theirs.eval(expr, {"k": 3.0})
    assert type(mine).__name__ == type(ref).__name__
    if isinstance(ref, lgdo.Scalar):
        assert mine.value == pytest.approx(ref.value)
    elif isinstance(ref, lgdo.VectorOfVectors):
        assert rows(mine) == ref.view_as("ak").tolist()
    else:
        np.testing.assert_allclose(mine.nda, ref.nda)
        assert mine.nda.shape == ref.nda.shape


def test_view_as_pd_columns_match_lgdo():
    _, ours, theirs = lgdo_pair()
    assert list(ours.view_as("pd").columns) == list(theirs.view_as("pd").columns)
    assert list(ours.flatten().keys()) == list(theirs.flatten().keys())
    ref = theirs.view_as("pd")
    mine = ours.view_as("pd")
    for col in ("a", "b", "sub_x", "sub_deep_z"):
        assert mine[col].tolist() == ref[col].tolist()


def test_datatypes_match_lgdo():
    lgdo = pytest.importorskip("lgdo")
    pairs = [
        (Array(np.arange(3.0)), lgdo.Array(np.arange(3.0))),
        (Array(np.zeros((2, 2))), lgdo.Array(np.zeros((2, 2)))),
        (FixedSizeArray(np.arange(3)), lgdo.FixedSizeArray(np.arange(3))),
        (
            ArrayOfEqualSizedArrays(nda=np.zeros((2, 5))),
            lgdo.ArrayOfEqualSizedArrays(nda=np.zeros((2, 5))),
        ),
        (VectorOfVectors([[1], [2, 3]]), lgdo.VectorOfVectors([[1], [2, 3]])),
        (VectorOfVectors([[[1]], [[2, 3]]]), lgdo.VectorOfVectors([[[1]], [[2, 3]]])),
        (Scalar(1.0), lgdo.Scalar(1.0)),
        (Scalar(True), lgdo.Scalar(True)),
        (Scalar("s"), lgdo.Scalar("s")),
        (
            Table({"b": np.arange(2), "a": np.arange(2)}),
            lgdo.Table(col_dict={"b": lgdo.Array(np.arange(2)), "a": lgdo.Array(np.arange(2))}),
        ),
        (
            WaveformTable(values=np.zeros((2, 4))),
            lgdo.WaveformTable(values=np.zeros((2, 4))),
        ),
    ]
    for mine, ref in pairs:
        assert mine.form_datatype() == ref.form_datatype(), type(mine).__name__


def test_concat_and_take_of_tables_keep_the_datatype_attribute_of_their_columns():
    """Table.take and concat of tables made a table whose ``attrs["datatype"]`` read
    ``table{}`` (the attributes were set before the columns)."""
    import numpy as np

    from tierflow.types import Table, WaveformTable, concat

    table = Table({"a": np.arange(3), "b": np.ones(3)})
    assert concat([table, table]).attrs["datatype"] == "table{a,b}"
    assert table.take([0, 2]).attrs["datatype"] == "table{a,b}"
    waveforms = WaveformTable(values=np.zeros((2, 4)), dt=4.0)
    assert concat([waveforms, waveforms]).attrs["datatype"] == "table{dt,t0,values}"
