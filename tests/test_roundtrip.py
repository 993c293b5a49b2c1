"""Property tests: what :func:`tierflow.lh5.write` writes, :func:`tierflow.lh5.read` gives back.

Every example writes its own fresh file. Expected values are built with numpy and Python
lists, not with tierflow's own equality or concatenation, so the code under test is not
its own oracle.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tierflow.lh5 as tfl
from tierflow import types as tft

#: examples per property; ``TIERFLOW_RT_EXAMPLES`` raises it for a longer search
_EXAMPLES = int(os.environ.get("TIERFLOW_RT_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
#: encoded waveforms are slower to build: fewer examples
ENCODED_SETTINGS = settings(
    max_examples=max(1, _EXAMPLES * 2 // 3),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
NUMERIC_DTYPES = [*INT_DTYPES, "float32", "float64"]
ALL_DTYPES = [*NUMERIC_DTYPES, "bool", "S1", "S5", "S16"]


@contextmanager
def lh5_file() -> Iterator[str]:
    """A path for a new file in a fresh directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tierflow-rt-") as tmp:
        yield str(Path(tmp) / "rt.lh5")


# --- comparing, independently of tierflow's own __eq__ ------------------------------------------
def assert_nda_equal(got: np.ndarray, want: np.ndarray, where: str = "") -> None:
    assert got.dtype == want.dtype, f"{where}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{where}: shape {got.shape} != {want.shape}"
    assert np.array_equal(got, want, equal_nan=want.dtype.kind in "fc"), f"{where}: values"


def vov_parts(lengths: list[int], flat: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The rows of a vector of vectors as numpy arrays, and its cumulative lengths."""
    cl = np.cumsum(lengths, dtype=np.int64)
    starts = np.concatenate([[0], cl[:-1]]).astype(np.int64)
    return [flat[s:e] for s, e in zip(starts, cl, strict=True)], cl


def assert_vov_equal(got: Any, lengths: list[list[int]], flat: np.ndarray, where: str = "") -> None:
    """``got`` has the levels of ``lengths`` (outermost first) over the innermost ``flat`` data."""
    assert isinstance(got, tft.VectorOfVectors), f"{where}: a {type(got).__name__}"
    level = got
    for depth, lens in enumerate(lengths):
        assert isinstance(level, tft.VectorOfVectors), f"{where}: level {depth} is not nested"
        np.testing.assert_array_equal(
            level.cumulative_length.nda, np.cumsum(lens, dtype=np.int64), err_msg=f"{where}@{depth}"
        )
        level = level.flattened_data
    assert isinstance(level, tft.Array) and not isinstance(level, tft.VectorOfVectors)
    assert_nda_equal(level.nda, flat, f"{where}: flattened_data")


# --- strategies ---------------------------------------------------------------------------------
@st.composite
def row_arrays(draw: st.DrawFn, dtypes: list[str] = ALL_DTYPES, max_rows: int = 20) -> np.ndarray:
    """Arrays of a random dtype with 0..max_rows rows, 1-d or 2-d (or 3-d)."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    n = draw(st.integers(0, max_rows))
    inner = draw(st.sampled_from([(), (), (1,), (3,), (2, 2)]))
    return draw(hnp.arrays(dtype, (n, *inner)))


@st.composite
def nested(draw: st.DrawFn, depth: int, max_rows: int = 8) -> tuple[list[list[int]], np.ndarray]:
    """(lengths per level, outermost first; innermost values) of a vector of vectors."""
    levels: list[list[int]] = []
    n = draw(st.integers(0, max_rows))
    for _ in range(depth - 1):
        lens = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
        levels.append(lens)
        n = sum(lens)
    dtype = np.dtype(draw(st.sampled_from(NUMERIC_DTYPES)))
    return levels, draw(hnp.arrays(dtype, n))


def build_vov(levels: list[list[int]], flat: np.ndarray) -> tft.VectorOfVectors:
    obj: Any = tft.Array(flat)
    for lens in reversed(levels):
        obj = tft.VectorOfVectors(
            flattened_data=obj, cumulative_length=np.cumsum(lens, dtype=np.int64)
        )
    return obj


def take_vov_rows(levels: list[list[int]], flat: np.ndarray, rows: list[int]):
    """(levels, flat) of the given outer rows, computed with plain Python."""

    def spans(lens: list[int]) -> list[tuple[int, int]]:
        cl = np.concatenate([[0], np.cumsum(lens, dtype=np.int64)]).tolist()
        return list(itertools.pairwise(cl))

    new_levels: list[list[int]] = []
    selected = list(rows)
    for lens in levels:
        sp = spans(lens)
        new_levels.append([lens[r] for r in selected])
        selected = [i for r in selected for i in range(*sp[r])]
    return new_levels, flat[np.asarray(selected, dtype=np.int64)] if selected else flat[:0]


# --- arrays -------------------------------------------------------------------------------------
@SETTINGS
@given(nda=row_arrays(), fixed=st.booleans())
def test_array_roundtrip(nda: np.ndarray, fixed: bool) -> None:
    obj = (tft.FixedSizeArray if fixed else tft.Array)(nda, attrs={"units": "keV"})
    with lh5_file() as path:
        tfl.write(obj, "a", path)
        got = tfl.read("a", path)
        assert type(got) is type(obj)
        assert got.attrs == {"units": "keV", "datatype": obj.form_datatype()}
        assert_nda_equal(got.nda, nda)
        assert tfl.read_n_rows("a", path) == len(nda)


@SETTINGS
@given(nda=row_arrays(max_rows=12), strings=st.lists(st.text(max_size=6), max_size=8))
def test_equal_sized_arrays_and_unicode_roundtrip(nda: np.ndarray, strings: list[str]) -> None:
    with lh5_file() as path:
        if nda.ndim == 2:
            tfl.write(tft.ArrayOfEqualSizedArrays(nda=nda), "w", path)
            got = tfl.read("w", path)
            assert isinstance(got, tft.ArrayOfEqualSizedArrays)
            assert_nda_equal(got.nda, nda)
        # numpy unicode is stored as UTF-8 bytes
        uni = np.array(strings, dtype="U6") if strings else np.zeros(0, "U1")
        tfl.write(tft.Array(uni), "s", path)
        got = tfl.read("s", path).nda
        assert got.dtype.kind == "S"
        assert [b.decode() for b in got.tolist()] == uni.tolist()


# --- vectors of vectors -------------------------------------------------------------------------
@SETTINGS
@given(data=st.one_of(nested(2), nested(3)))
def test_vector_of_vectors_roundtrip(data: tuple[list[list[int]], np.ndarray]) -> None:
    levels, flat = data
    obj = build_vov(levels, flat)
    obj.attrs["units"] = "ns"
    with lh5_file() as path:
        tfl.write(obj, "v", path)
        got = tfl.read("v", path)
        assert_vov_equal(got, levels, flat, "v")
        assert got.attrs["units"] == "ns"
        assert got.form_datatype() == obj.form_datatype()
        assert tfl.read_n_rows("v", path) == len(levels[0])


@SETTINGS
@given(rows=st.lists(st.lists(st.integers(-(2**40), 2**40), max_size=5), min_size=1, max_size=9))
def test_vector_of_vectors_from_lists_roundtrip(rows: list[list[int]]) -> None:
    with lh5_file() as path:
        tfl.write(tft.VectorOfVectors(rows, dtype="int64"), "v", path)
        got = tfl.read("v", path)
        assert got.view_as("ak").to_list() == rows
        assert got.dtype == np.int64


# --- tables ---------------------------------------------------------------------------------------
@st.composite
def tables(draw: st.DrawFn, max_rows: int = 10) -> tuple[tft.Table, dict[str, Any]]:
    """A table with mixed columns, and what each column holds (numpy or (levels, flat))."""
    n = draw(st.integers(0, max_rows))
    expect: dict[str, Any] = {}
    columns: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 4))):
        dtype = np.dtype(draw(st.sampled_from(ALL_DTYPES)))
        inner = draw(st.sampled_from([(), (), (4,)]))
        nda = draw(hnp.arrays(dtype, (n, *inner)))
        columns[f"col{i}"] = tft.ArrayOfEqualSizedArrays(nda=nda) if inner else tft.Array(nda)
        expect[f"col{i}"] = nda
    if draw(st.booleans()):
        lens = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
        flat = draw(hnp.arrays(np.dtype(draw(st.sampled_from(NUMERIC_DTYPES))), sum(lens)))
        columns["vov"] = build_vov([lens], flat)
        expect["vov"] = ([lens], flat)
    if draw(st.booleans()):
        sub = draw(hnp.arrays(np.float32, n))
        columns["sub"] = tft.Table({"x": tft.Array(sub, attrs={"units": "m"})})
        expect["sub"] = {"x": sub}
    return tft.Table(columns, size=n, attrs={"description": "random"}), expect


def assert_table_holds(got: Any, expect: dict[str, Any], n: int, where: str = "tb") -> None:
    assert isinstance(got, tft.Table), f"{where}: a {type(got).__name__}"
    assert len(got) == n, f"{where}: {len(got)} rows, not {n}"
    assert sorted(got.keys()) == sorted(expect), f"{where}: columns {sorted(got.keys())}"
    for key, want in expect.items():
        if isinstance(want, dict):
            assert_table_holds(got[key], want, n, f"{where}/{key}")
        elif isinstance(want, tuple):
            assert_vov_equal(got[key], *want, f"{where}/{key}")
        else:
            assert_nda_equal(got[key].nda, want, f"{where}/{key}")


@SETTINGS
@given(table=tables())
def test_table_roundtrip(table: tuple[tft.Table, dict[str, Any]]) -> None:
    obj, expect = table
    with lh5_file() as path:
        tfl.write(obj, "tb", path, group="ch001")
        got = tfl.read("ch001/tb", path)
        assert_table_holds(got, expect, len(obj))
        assert got.attrs["description"] == "random"
        if "sub" in expect:
            assert got["sub"]["x"].attrs["units"] == "m"


# --- appends --------------------------------------------------------------------------------------
@st.composite
def chunks(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1..4 chunks of the same columns: numpy values per column, and VoV (lengths, flat)."""
    dtype = np.dtype(draw(st.sampled_from(ALL_DTYPES)))
    width = draw(st.integers(1, 5))
    vdtype = np.dtype(draw(st.sampled_from(NUMERIC_DTYPES)))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, 6))
        lens = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        out.append(
            {
                "a": draw(hnp.arrays(dtype, n)),
                "w": draw(hnp.arrays(np.int16, (n, width))),
                "v": (lens, draw(hnp.arrays(vdtype, sum(lens)))),
            }
        )
    return out


def _chunk_table(chunk: dict[str, Any]) -> tft.Table:
    lens, flat = chunk["v"]
    return tft.Table(
        {
            "a": tft.Array(chunk["a"]),
            "w": tft.ArrayOfEqualSizedArrays(nda=chunk["w"]),
            "v": build_vov([lens], flat),
        },
        size=len(chunk["a"]),
    )


@SETTINGS
@given(parts=chunks())
def test_appends_read_as_the_concatenation(parts: list[dict[str, Any]]) -> None:
    with lh5_file() as path:
        for i, chunk in enumerate(parts):
            tfl.write(
                _chunk_table(chunk), "tb", path, wo_mode="overwrite_file" if i == 0 else "append"
            )
        got = tfl.read("tb", path)
        n = sum(len(c["a"]) for c in parts)
        expect = {
            "a": np.concatenate([c["a"] for c in parts]),
            "w": np.concatenate([c["w"] for c in parts]),
            "v": (
                [[x for c in parts for x in c["v"][0]]],
                np.concatenate([c["v"][1] for c in parts]),
            ),
        }
        assert_table_holds(got, expect, n)
        assert tfl.read_n_rows("tb", path) == n


# --- partial reads --------------------------------------------------------------------------------
@st.composite
def table_and_rows(draw: st.DrawFn):
    chunk = draw(chunks().map(lambda parts: parts[0]).filter(lambda c: len(c["a"]) > 0))
    n = len(chunk["a"])
    start = draw(st.integers(0, n + 2))
    count = draw(st.integers(0, n + 2))
    idx = sorted(draw(st.sets(st.integers(0, n - 1), max_size=n)))
    return chunk, start, count, idx


def _expected_rows(chunk: dict[str, Any], rows: list[int]) -> dict[str, Any]:
    lens, flat = chunk["v"]
    sel = np.asarray(rows, dtype=np.int64)
    return {"a": chunk["a"][sel], "w": chunk["w"][sel], "v": take_vov_rows([lens], flat, rows)}


@SETTINGS
@given(case=table_and_rows())
def test_row_range_and_index_reads_equal_numpy_slicing(case) -> None:
    chunk, start, count, idx = case
    n = len(chunk["a"])
    with lh5_file() as path:
        tfl.write(_chunk_table(chunk), "tb", path)
        # start_row / n_rows
        rows = list(range(n))[start : start + count]
        got = tfl.read("tb", path, start_row=start, n_rows=count)
        assert_table_holds(got, _expected_rows(chunk, rows), len(rows), "range")
        got = tfl.read("tb/a", path, start_row=start, n_rows=count)
        assert_nda_equal(got.nda, chunk["a"][start : start + count], "tb/a range")
        # a sorted index list, as a list and as an array, on the table and on its columns
        got = tfl.read("tb", path, idx=idx)
        assert_table_holds(got, _expected_rows(chunk, idx), len(idx), "idx")
        got = tfl.read("tb/w", path, idx=np.asarray(idx, dtype=np.int64))
        assert_nda_equal(got.nda, chunk["w"][np.asarray(idx, dtype=np.int64)], "tb/w idx")
        got = tfl.read("tb/v", path, idx=idx)
        assert_vov_equal(got, *take_vov_rows([chunk["v"][0]], chunk["v"][1], idx), "tb/v idx")
        # idx with start_row and n_rows: indices from start_row on, the first n_rows of them
        sub = [i for i in idx if i >= start][:count]
        got = tfl.read("tb", path, idx=idx, start_row=start, n_rows=count)
        assert_table_holds(got, _expected_rows(chunk, sub), len(sub), "idx+range")
        # the file twice: rows concatenated, a global index list
        both = [*idx, *(i + n for i in idx)]
        got = tfl.read("tb/a", [path, path], idx=both)
        assert_nda_equal(got.nda, np.concatenate([chunk["a"], chunk["a"]])[both], "two files")
        twice = {
            "a": np.concatenate([chunk["a"], chunk["a"]]),
            "w": np.concatenate([chunk["w"], chunk["w"]]),
            "v": (chunk["v"][0] * 2, np.concatenate([chunk["v"][1], chunk["v"][1]])),
        }
        rows = list(range(2 * n))[start : start + count]
        got = tfl.read("tb", [path, path], start_row=start, n_rows=count)
        assert_table_holds(got, _expected_rows(twice, rows), len(rows), "two files, row range")
        got = tfl.read("tb", [path, path], idx=both)
        assert_table_holds(got, _expected_rows(twice, both), len(both), "two files, idx")


# --- encoded waveforms ----------------------------------------------------------------------------
CODEC_CASES = [
    # (codec name, sample dtype, value range) the codec encodes losslessly
    ("radware_sigcompress", "uint16", (0, 2**16 - 1)),  # shift -32768, as LEGEND's DAQ
    ("radware_sigcompress", "int16", (-(2**15), 2**15 - 1)),
    ("uleb128_zigzag_diff", "uint16", (0, 2**16 - 1)),
    ("uleb128_zigzag_diff", "int16", (-(2**15), 2**15 - 1)),
    ("uleb128_zigzag_diff", "int32", (-(2**31), 2**31 - 1)),
]


@st.composite
def waveform_chunks(draw: st.DrawFn, equal: bool):
    codec, dtype, (lo, hi) = draw(st.sampled_from(CODEC_CASES))
    smooth = draw(st.booleans())  # random walks compress, white noise does not
    length = draw(st.integers(0, 300)) if equal else None
    out = []
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(0 if not equal else 1, 5))
        lens = (
            [length] * n if equal else draw(st.lists(st.integers(0, 200), min_size=n, max_size=n))
        )
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        rows = []
        for k in lens:
            if smooth:
                start = rng.integers(lo, hi, endpoint=True)
                walk = start + np.cumsum(rng.integers(-50, 51, size=k))
                rows.append(np.clip(walk, lo, hi).astype(dtype))
            else:
                rows.append(rng.integers(lo, hi, size=k, endpoint=True).astype(dtype))
        out.append(rows)
    return codec, dtype, out


def _wf_table(rows: list[np.ndarray], equal: bool, dtype: str) -> tft.WaveformTable:
    n = len(rows)
    if equal:
        values: Any = tft.ArrayOfEqualSizedArrays(nda=np.stack(rows).astype(dtype))
    else:
        lens = [len(r) for r in rows]
        flat = np.concatenate(rows).astype(dtype) if rows else np.zeros(0, dtype)
        values = build_vov([lens], flat)
    return tft.WaveformTable(
        t0=np.arange(n, dtype="float32"), dt=np.full(n, 16.0, "float32"), values=values
    )


@ENCODED_SETTINGS
@given(case=waveform_chunks(equal=True))
def test_encoded_equal_sized_waveforms_roundtrip(case) -> None:
    codec, dtype, parts = case
    with lh5_file() as path:
        for rows in parts:  # the first write creates, the others append with the stored codec
            tfl.write(_wf_table(rows, True, dtype), "wf", path, codecs={"values": codec})
        enc = tfl.read("wf/values", path, decompress=False)
        assert isinstance(enc, tft.ArrayOfEncodedEqualSizedArrays)
        assert enc.attrs["codec"] == codec
        got = tfl.read("wf", path)
        want = np.concatenate([np.stack(r) for r in parts]).astype(np.int32)
        assert isinstance(got, tft.WaveformTable)
        assert_nda_equal(got.values.nda, want, "values")
        np.testing.assert_array_equal(
            got.t0.nda, np.concatenate([np.arange(len(r), dtype="float32") for r in parts])
        )
        # rows of the encoded column, by range and by index
        n = len(want)
        got = tfl.read("wf/values", path, start_row=1, n_rows=2)
        assert_nda_equal(got.nda, want[1:3], "values[1:3]")
        idx = list(range(0, n, 2))
        assert_nda_equal(tfl.read("wf/values", path, idx=idx).nda, want[idx], "values[idx]")


@ENCODED_SETTINGS
@given(case=waveform_chunks(equal=False))
def test_encoded_variable_length_waveforms_roundtrip(case) -> None:
    codec, dtype, parts = case
    with lh5_file() as path:
        for rows in parts:
            tfl.write(_wf_table(rows, False, dtype), "wf", path, codecs={"values": codec})
        enc = tfl.read("wf/values", path, decompress=False)
        assert isinstance(enc, tft.VectorOfEncodedVectors)
        all_rows = [r for rows in parts for r in rows]
        np.testing.assert_array_equal(enc.decoded_size.nda, [len(r) for r in all_rows])
        got = tfl.read("wf/values", path)
        flat = np.concatenate(all_rows).astype(np.int32) if all_rows else np.zeros(0, np.int32)
        assert_vov_equal(got, [[len(r) for r in all_rows]], flat, "values")
        idx = list(range(1, len(all_rows), 2))
        got = tfl.read("wf/values", path, idx=idx)
        sel = [all_rows[i] for i in idx]
        sel_flat = np.concatenate(sel).astype(np.int32) if sel else np.zeros(0, np.int32)
        assert_vov_equal(got, [[len(r) for r in sel]], sel_flat, "values[idx]")
