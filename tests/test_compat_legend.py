"""Compatibility with LEGEND's own software, used as the oracle.

Three directions are checked:

* real LH5 files: every object of every file under ``/work/shared/testdata/lh5`` read with
  :func:`tierflow.lh5.read` equals what LEGEND's ``lh5.read`` gives (types, values, dtypes,
  attributes), plus partial reads (row ranges, index lists, field masks, lists of files);
* tierflow → LEGEND: objects of every type written by :func:`tierflow.lh5.write` read back in
  LEGEND equal the originals;
* LEGEND → tierflow: objects written by LEGEND's ``lh5.write`` read back in tierflow equal the
  originals, and a LEGEND file appended to by tierflow reads the same in both.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from testdata import TESTDATA as TESTDATA_ROOT

lgdo = pytest.importorskip("lgdo")
lh5 = pytest.importorskip("lh5")

import tierflow.lh5 as tfl  # noqa: E402
from tierflow import types as tft  # noqa: E402

TESTDATA = TESTDATA_ROOT / "lh5"
FILES = sorted(TESTDATA.rglob("*.lh5")) if TESTDATA.is_dir() else []


def _short(path: Path) -> str:
    """``l200-p03-r001-phy-20230322T160139Z-tier_raw.lh5`` -> ``p03-r001-phy-20230322T160139Z-raw``."""
    return path.name.removeprefix("l200-").removesuffix(".lh5").replace("-tier_", "-")


def _find(pattern: str) -> Path:
    hits = [f for f in FILES if f.match(pattern)]
    if not hits:
        pytest.skip(f"no test file matches {pattern}")
    return hits[0]


def lh5_objects(path: Path) -> list[str]:
    """Every group or dataset in the file that carries a ``datatype`` attribute, nested ones too."""
    names: list[str] = []
    with h5py.File(path, "r", locking=False) as h5f:
        h5f.visititems(lambda name, obj: names.append(name) if "datatype" in obj.attrs else None)
    return names


# --- comparing a tierflow object with a LEGEND one ----------------------------------------------
#: class names that differ between the two implementations but mean the same thing
_TYPE_NAMES = {"Axis": "Struct"}  # both call a histogram axis (a Struct) "Axis"


def _type_name(obj: Any) -> str:
    name = type(obj).__name__
    return _TYPE_NAMES.get(name, name)


def _norm_value(value: Any) -> Any:
    """numpy scalars -> Python numbers, bytes -> str; nothing else changes."""
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _kind(value: Any) -> str:
    """The kind of a normalised value: ``bool``, ``int``, ``float``, ``complex`` or ``str``."""
    for kind in (bool, int, float, complex, str):
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


def _same_value(a: Any, b: Any) -> bool:
    a, b = _norm_value(a), _norm_value(b)
    if _kind(a) != _kind(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _norm_attrs(attrs: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    return {k: (_kind(_norm_value(v)), _norm_value(v)) for k, v in attrs.items()}


def compare(ours: Any, theirs: Any, where: str) -> list[str]:
    """All differences between a tierflow object and a LEGEND object, as readable lines."""
    out: list[str] = []
    if _type_name(ours) != _type_name(theirs):
        return [f"{where}: type {type(ours).__name__} != LEGEND {type(theirs).__name__}"]
    a_attrs = _norm_attrs(ours.getattrs(datatype=True))
    b_attrs = _norm_attrs(theirs.getattrs(datatype=True))
    if (
        isinstance(theirs, lgdo.ArrayOfEqualSizedArrays | lgdo.VectorOfVectors)
        and "codec" in b_attrs
    ):
        # Decoded waveforms: LEGEND's decoder copies the encoded group's ``codec`` and
        # ``codec_shift`` onto the decoded plain array, where they no longer describe the data
        # (written back, they would tag an unencoded dataset with a codec). tierflow drops them
        # on purpose; everything else must match, and ours must really not carry them.
        if "codec" in a_attrs or "codec_shift" in a_attrs:
            out.append(f"{where}: decoded waveforms still carry codec attrs {a_attrs}")
        b_attrs = {k: v for k, v in b_attrs.items() if k not in ("codec", "codec_shift")}
    if a_attrs != b_attrs:
        out.append(f"{where}: attrs {a_attrs} != LEGEND {b_attrs}")

    if isinstance(theirs, lgdo.Scalar):
        if not _same_value(ours.value, theirs.value):
            out.append(f"{where}: value {ours.value!r} != LEGEND {theirs.value!r}")
    elif isinstance(theirs, lgdo.Struct):  # Table, WaveformTable, Histogram, Axis too
        if sorted(ours.keys()) != sorted(theirs.keys()):
            out.append(f"{where}: fields {sorted(ours.keys())} != LEGEND {sorted(theirs.keys())}")
        if isinstance(theirs, lgdo.Table) and len(ours) != len(theirs):
            out.append(f"{where}: {len(ours)} rows != LEGEND {len(theirs)}")
        for key in sorted(set(ours.keys()) & set(theirs.keys())):
            out += compare(ours[key], theirs[key], f"{where}/{key}")
    elif isinstance(theirs, lgdo.VectorOfVectors):
        if len(ours) != len(theirs):
            out.append(f"{where}: {len(ours)} rows != LEGEND {len(theirs)}")
        out += _compare_nda(
            ours.cumulative_length.nda, theirs.cumulative_length.nda, f"{where}/cumulative_length"
        )
        out += compare(ours.flattened_data, theirs.flattened_data, f"{where}/flattened_data")
        if not out:  # the whole thing, as awkward sees it (NaN-free data only)
            a, b = ours.view_as("ak"), theirs.view_as("ak")
            if not bool(np.any(np.isnan(_flat_numbers(ours)))) and a.to_list() != b.to_list():
                out.append(f"{where}: awkward view differs from LEGEND's")
    elif isinstance(theirs, lgdo.ArrayOfEncodedEqualSizedArrays | lgdo.VectorOfEncodedVectors):
        out += compare(ours.encoded_data, theirs.encoded_data, f"{where}/encoded_data")
        out += compare(ours.decoded_size, theirs.decoded_size, f"{where}/decoded_size")
    elif isinstance(theirs, lgdo.Array):  # FixedSizeArray, ArrayOfEqualSizedArrays too
        out += _compare_nda(ours.nda, theirs.nda, where)
    else:
        out.append(f"{where}: no comparison for LEGEND type {type(theirs).__name__}")
    return out


def _flat_numbers(vov: Any) -> np.ndarray:
    flat = vov.flattened_data
    while not hasattr(flat, "nda"):
        flat = flat.flattened_data
    return flat.nda if flat.nda.dtype.kind in "fc" else np.zeros(0)


def _compare_nda(a: np.ndarray, b: np.ndarray, where: str) -> list[str]:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype:
        return [f"{where}: dtype {a.dtype} != LEGEND {b.dtype}"]
    if a.shape != b.shape:
        return [f"{where}: shape {a.shape} != LEGEND {b.shape}"]
    if not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
        bad = np.flatnonzero(~((a == b) | ((a != a) & (b != b))).reshape(len(a), -1).all(axis=1))
        return [f"{where}: values differ from LEGEND's in rows {bad[:10].tolist()}"]
    return []


def assert_same(ours: Any, theirs: Any, where: str = "obj") -> None:
    diffs = compare(ours, theirs, where)
    assert not diffs, "\n".join(diffs)


# --- real files: every object ---------------------------------------------------------------------
def _encoded_subtree(path: Path, names: list[str]) -> list[str]:
    """Objects that are, or hold, encoded waveforms."""
    with h5py.File(path, "r", locking=False) as h5f:
        encoded = [n for n in names if "encoded" in str(_attr(h5f[n], "datatype"))]
    return [n for n in names if any(e == n or e.startswith(n + "/") for e in encoded)]


def _attr(obj: h5py.HLObject, key: str) -> Any:
    value = obj.attrs.get(key)
    return value.decode() if isinstance(value, bytes) else value


@pytest.mark.parametrize("path", FILES, ids=[_short(f) for f in FILES])
def test_every_object_reads_as_in_legend(path: Path) -> None:
    names = lh5_objects(path)
    assert names, f"{path} holds no LH5 objects"
    mismatches: list[str] = []
    for name in names:
        theirs = lh5.read(name, str(path))
        try:
            ours = tfl.read(name, str(path))
        except Exception as err:
            mismatches.append(f"{name}: tierflow raised {type(err).__name__}: {err}")
            continue
        mismatches += compare(ours, theirs, name)
    for name in _encoded_subtree(path, names):
        theirs = lh5.read(name, str(path), decompress=False)
        try:
            ours = tfl.read(name, str(path), decompress=False)
        except Exception as err:
            mismatches.append(f"{name} (decompress=False): tierflow raised {err!r}")
            continue
        mismatches += compare(ours, theirs, f"{name} (decompress=False)")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


def test_compare_sees_differences() -> None:
    """The comparison above is not vacuous: it reports values, dtypes, attrs and types."""
    base = lgdo.Array(np.array([1.0, np.nan]), attrs={"units": "keV"})
    assert compare(tft.Array(np.array([1.0, np.nan]), attrs={"units": "keV"}), base, "a") == []
    assert compare(tft.Array(np.array([1.0, 2.0]), attrs={"units": "keV"}), base, "a")
    assert compare(tft.Array(np.array([1.0, np.nan], "f4"), attrs={"units": "keV"}), base, "a")
    assert compare(tft.Array(np.array([1.0, np.nan]), attrs={"units": "ns"}), base, "a")
    assert compare(tft.Array(np.array([1.0, np.nan])), base, "a")
    assert compare(tft.FixedSizeArray(np.array([1.0, np.nan]), attrs={"units": "keV"}), base, "a")
    assert compare(tft.Scalar(1), lgdo.Scalar(1.0), "s")  # int is not float
    assert compare(tft.Scalar(True), lgdo.Scalar(1), "s")  # bool is not int
    vov = lgdo.VectorOfVectors([[1, 2], [3]])
    assert compare(tft.VectorOfVectors([[1, 2], [3]]), vov, "v") == []
    assert compare(tft.VectorOfVectors([[1], [2, 3]]), vov, "v")
    assert compare(tft.Table({"a": np.arange(2)}), lgdo.Table({"b": lgdo.Array(np.arange(2))}), "t")


# --- real files: partial reads --------------------------------------------------------------------
#: (file pattern, table) pairs covering plain columns, vectors of vectors, waveforms and bool columns
PARTIAL_TABLES = [
    ("*r000-cal-*tier_dsp.lh5", "ch1104000/dsp"),  # 38343 rows, gzip-compressed, chunked
    ("*phy-20230322T160139Z-tier_raw.lh5", "ch1084803/raw"),  # tracelist (VoV), waveform table
    ("*cal-20230318T012144Z-tier_hit.lh5", "ch1084803/hit"),  # bool columns
    ("*phy-20230322T160139Z-tier_tcm.lh5", "hardware_tcm_1"),  # VoV columns only
    ("*phy-20230322T160139Z-tier_hit.lh5", "ch1057600/hit"),  # 2-d columns
]


def _rows_cases(n: int) -> list[tuple[int, int]]:
    return [(0, n), (0, 1), (1, 3), (n // 2, n), (n - 1, 1), (n - 3, 10**6), (2, 0)]


def _idx_cases(n: int) -> list[list[int]]:
    rng = np.random.default_rng(n)
    return [
        [0],
        [n - 1],
        [0, 2, 3, n - 1],
        list(range(1, n, 3)),
        sorted(rng.choice(n, size=min(n, 7), replace=False).tolist()),
        list(range(2, min(n, 6))),  # consecutive: LEGEND turns it into a row range
    ]


@pytest.mark.parametrize(("pattern", "table"), PARTIAL_TABLES, ids=[t for _, t in PARTIAL_TABLES])
def test_partial_reads_match_legend(pattern: str, table: str) -> None:
    path = str(_find(pattern))
    n = lh5.read_n_rows(table, path)
    assert tfl.read_n_rows(table, path) == n
    mismatches: list[str] = []
    for start, count in _rows_cases(n):
        theirs = lh5.read(table, path, start_row=start, n_rows=count)
        ours = tfl.read(table, path, start_row=start, n_rows=count)
        mismatches += compare(ours, theirs, f"{table}[start_row={start}, n_rows={count}]")
    for idx in _idx_cases(n):
        theirs = lh5.read(table, path, idx=np.array(idx))
        ours = tfl.read(table, path, idx=np.array(idx))
        mismatches += compare(ours, theirs, f"{table}[idx={idx}]")
        ours = tfl.read(table, path, idx=idx)  # a plain list works the same
        mismatches += compare(ours, theirs, f"{table}[idx=list {idx}]")
    # a boolean mask and (n, 2) row ranges
    mask = np.zeros(n, bool)
    mask[[0, n // 2, n - 1]] = True
    for idx in (mask, np.array([[0, 2], [3, 4], [n - 2, n]])):
        theirs = lh5.read(table, path, idx=idx.copy())
        ours = tfl.read(table, path, idx=idx.copy())
        mismatches += compare(ours, theirs, f"{table}[idx={idx.tolist()}]")
    # idx together with start_row/n_rows: both cut the index list the same way
    idx = list(range(0, n, 2))
    theirs = lh5.read(table, path, idx=np.array(idx), start_row=3, n_rows=2)
    ours = tfl.read(table, path, idx=np.array(idx), start_row=3, n_rows=2)
    mismatches += compare(ours, theirs, f"{table}[idx={idx}, start_row=3, n_rows=2]")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize(("pattern", "table"), PARTIAL_TABLES, ids=[t for _, t in PARTIAL_TABLES])
def test_field_masks_match_legend(pattern: str, table: str) -> None:
    path = str(_find(pattern))
    n = lh5.read_n_rows(table, path)
    fields = sorted(lh5.read(table, path, n_rows=1).keys())
    some = fields[:: max(1, len(fields) // 3)][:3]
    masks: list[Any] = [
        some,
        fields[:1],
        {f: True for f in some},
        {fields[0]: False},
    ]
    if set(some) != set(fields):
        masks.append({f: False for f in some})
    if "waveform" in fields:  # reaching into a nested table
        masks += [["waveform/t0", "timestamp"], {"waveform/values": False}]
    mismatches: list[str] = []
    for mask in masks:
        theirs = lh5.read(table, path, field_mask=mask)
        ours = tfl.read(table, path, field_mask=mask)
        mismatches += compare(ours, theirs, f"{table}[field_mask={mask}]")
        theirs = lh5.read(table, path, field_mask=mask, start_row=1, n_rows=2)
        ours = tfl.read(table, path, field_mask=mask, start_row=1, n_rows=2)
        mismatches += compare(ours, theirs, f"{table}[field_mask={mask}, rows 1:3]")
    assert not mismatches, "\n".join(mismatches)
    # A mask that drops every field: LEGEND returns a table of 0 rows; tierflow keeps the row
    # count of the selection (the rows exist, no column was asked for). Not compared.
    empty = tfl.read(table, path, field_mask={f: False for f in fields}, start_row=1, n_rows=2)
    assert isinstance(empty, tft.Table) and list(empty.keys()) == [] and len(empty) == min(2, n - 1)


#: pairs of files with the same objects, to read as one
FILE_PAIRS = [
    ("*cal-20230318T012144Z-tier_dsp.lh5", "*cal-20230318T012228Z-tier_dsp.lh5", "ch1084803/dsp"),
    ("*phy-20230322T160139Z-tier_raw.lh5", "*phy-20230322T170202Z-tier_raw.lh5", "ch1084803/raw"),
    ("*phy-20230322T160139Z-tier_tcm.lh5", "*phy-20230322T170202Z-tier_tcm.lh5", "hardware_tcm_1"),
    ("*r000-cal-*tier_dsp.lh5", "*r000-cal-*tier_dsp.lh5", "ch1104000/dsp/trapEmax"),
]


@pytest.mark.parametrize(
    ("first", "second", "name"),
    FILE_PAIRS,
    ids=[f"{n}-{i}" for i, (*_, n) in enumerate(FILE_PAIRS)],
)
def test_reading_two_files_matches_legend(first: str, second: str, name: str) -> None:
    files = [str(_find(first)), str(_find(second))]
    n0 = lh5.read_n_rows(name, files[0])
    total = n0 + lh5.read_n_rows(name, files[1])
    mismatches: list[str] = []
    theirs = lh5.read(name, files)
    mismatches += compare(tfl.read(name, files), theirs, f"{name} (two files)")
    assert len(theirs) == total
    # start_row within the first file (LEGEND applies start_row to the first file only)
    for start, count in [(0, total), (1, n0), (n0 - 1, 2), (3, 10**6)]:
        theirs = lh5.read(name, files, start_row=start, n_rows=count)
        ours = tfl.read(name, files, start_row=start, n_rows=count)
        mismatches += compare(
            ours, theirs, f"{name} (two files)[start_row={start}, n_rows={count}]"
        )
    # a global sorted index list across both files, and one index list per file
    for idx in ([0, 1, n0 - 1, n0, total - 1], list(range(0, total, 3)), [n0 + 1]):
        theirs = lh5.read(name, files, idx=np.array(idx))
        ours = tfl.read(name, files, idx=np.array(idx))
        mismatches += compare(ours, theirs, f"{name} (two files)[idx={idx}]")
    per_file = [np.array([0, 2]), np.array([1, n0 - 1])]
    theirs = lh5.read(name, files, idx=per_file)
    ours = tfl.read(name, files, idx=per_file)
    mismatches += compare(ours, theirs, f"{name} (two files)[idx per file]")
    mask_name = name.rsplit("/", 1)[0] if name.endswith("trapEmax") else name
    if mask_name == name:  # a table: field masks with two files
        fields = sorted(lh5.read(name, files[0], n_rows=1).keys())[:2]
        theirs = lh5.read(name, files, field_mask=fields)
        ours = tfl.read(name, files, field_mask=fields)
        mismatches += compare(ours, theirs, f"{name} (two files)[field_mask={fields}]")
    assert not mismatches, "\n".join(mismatches)


def test_partial_reads_of_encoded_waveforms_match_legend() -> None:
    path = str(_find("*p14-*tier_raw.lh5"))
    mismatches: list[str] = []
    for name in ("ch1105600/raw/waveform_windowed", "ch1105600/raw/waveform_presummed"):
        for decompress in (True, False):
            for kwargs in ({"idx": [0]}, {"start_row": 0, "n_rows": 1}, {"n_rows": 0}):
                theirs = lh5.read(name, path, decompress=decompress, **kwargs)
                ours = tfl.read(name, path, decompress=decompress, **kwargs)
                mismatches += compare(ours, theirs, f"{name}[{kwargs}, decompress={decompress}]")
            files = [path, path]
            theirs = lh5.read(name, files, decompress=decompress)
            ours = tfl.read(name, files, decompress=decompress)
            mismatches += compare(ours, theirs, f"{name} (file twice, decompress={decompress})")
    # structs with a field mask. (Rows are not compared for structs: LEGEND passes start_row,
    # n_rows and idx down to every table inside, culling indices past a table's end silently,
    # while tierflow selects rows of array-likes and tables only and reads a struct whole.)
    for kwargs in (
        {"field_mask": ["RunControl", "fcid_1/config"]},
        {"field_mask": {"OrcaHeader": False}},
    ):
        mismatches += compare(
            tfl.read("extra", path, **kwargs), lh5.read("extra", path, **kwargs), f"extra{kwargs}"
        )
    table = "extra/RunControl"  # 3 rows of bool and int columns
    for kwargs in ({"idx": [0, 2]}, {"start_row": 1}, {"field_mask": ["time", "run_number"]}):
        mismatches += compare(
            tfl.read(table, path, **kwargs), lh5.read(table, path, **kwargs), f"{table}[{kwargs}]"
        )
    assert not mismatches, "\n".join(mismatches)


# --- objects of every type, built in tierflow and converted to LEGEND's classes ---------------
INT_FLOAT_DTYPES = [
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64",
]  # fmt: skip


def catalogue() -> dict[str, Any]:
    """One or more tierflow objects of every kind LH5 stores, with attributes."""
    rng = np.random.default_rng(7)
    objs: dict[str, Any] = {}
    for dt in INT_FLOAT_DTYPES:
        info = np.iinfo(dt) if dt[0] in "iu" else np.finfo(dt)
        values = np.array([info.min, info.max, 0, 1, 2], dtype=dt)
        objs[f"array_{dt}"] = tft.Array(values, attrs={"units": "keV", "description": f"a {dt}"})
    objs["array_float_special"] = tft.Array(np.array([np.nan, np.inf, -np.inf, -0.0, 1e-300]))
    objs["array_bool"] = tft.Array(np.array([True, False, True, True]))
    objs["array_bytes"] = tft.Array(np.array([b"ab", b"", b"hello world"]))
    objs["array_unicode"] = tft.Array(np.array(["ab", "", "xyz"]))  # stored as bytes
    objs["array_2d"] = tft.Array(rng.normal(size=(5, 3)).astype("float32"), attrs={"units": "ns"})
    objs["array_3d"] = tft.Array(rng.integers(0, 9, size=(4, 2, 3)).astype("int16"))
    objs["array_empty"] = tft.Array(np.zeros(0, "float64"))
    objs["array_numeric_attrs"] = tft.Array(
        np.arange(4, dtype="int32"), attrs={"length": 2400, "gain": 1.5, "codec_shift": -32768.0}
    )
    objs["detector_ids"] = tft.ArrayOfDetectorIDs(np.array([1104000, 1084803, 1121600]))
    objs["fixedsize"] = tft.FixedSizeArray(np.array([1.5, 2.5, 3.5]), attrs={"units": "s"})
    objs["aoesa"] = tft.ArrayOfEqualSizedArrays(
        nda=rng.integers(0, 2**14, size=(6, 11)).astype("uint16"), attrs={"units": "ADC"}
    )
    objs["aoesa_bool"] = tft.ArrayOfEqualSizedArrays(nda=rng.random((3, 4)) > 0.5)
    objs["vov"] = tft.VectorOfVectors(
        [[1, 2], [], [3], [], [4, 5, 6], []], dtype="int32", attrs={"units": "ns"}
    )
    objs["vov_float"] = tft.VectorOfVectors([[1.5, np.nan], [2.0], [], [-np.inf]], dtype="float32")
    objs["vov_3"] = tft.VectorOfVectors(
        [[[1], [2, 3]], [], [[]], [[4, 5, 6], [], [7]]], dtype="uint16"
    )
    objs["vov_empty"] = tft.VectorOfVectors(flattened_data=np.zeros(0, "float64"))
    objs["struct"] = tft.Struct(
        {
            "real": tft.Scalar(2.5, attrs={"units": "keV"}),
            "int": tft.Scalar(42),
            "yes": tft.Scalar(True),
            "no": tft.Scalar(False),
            "text": tft.Scalar("hello LH5", attrs={"description": "a string"}),
            "arr": tft.Array(np.arange(3)),
            "inner": tft.Struct({"x": tft.Scalar(-1.0)}),
        },
        attrs={"description": "mixed"},
    )
    inner = tft.Table({"a": np.arange(4, dtype="int32"), "b": np.linspace(0, 1, 4)})
    objs["table"] = tft.Table(
        {
            "energy": tft.Array(rng.random(4), attrs={"units": "keV"}),
            "flag": np.array([True, False, False, True]),
            "name": np.array([b"ch1", b"ch22", b"c", b"ch4444"]),
            "hits": tft.VectorOfVectors([[1.0], [], [2.0, 3.0], [4.0]]),
            "trace": tft.ArrayOfEqualSizedArrays(nda=rng.normal(size=(4, 5))),
            "inner": inner,
        },
        attrs={"description": "a table"},
    )
    objs["waveforms"] = tft.WaveformTable(
        t0=np.arange(5, dtype="float32") * 16,
        t0_units="ns",
        dt=np.full(5, 16.0, "float32"),
        dt_units="ns",
        values=tft.ArrayOfEqualSizedArrays(
            nda=rng.integers(0, 2**16, size=(5, 40)).astype("uint16")
        ),
        values_units="ADC",
    )
    objs["waveforms_varlen"] = tft.WaveformTable(
        t0=np.zeros(3, "float64"),
        dt=np.ones(3, "float64"),
        values=tft.VectorOfVectors([[1, 2, 3], [], [4, 5]], dtype="int16"),
    )
    objs["hist_regular"] = tft.Histogram(
        np.array([1.0, 2.0, 3.0, 4.0]), [tft.Axis.regular(0, 8, 2, units="keV")]
    )
    objs["hist_variable"] = tft.Histogram(
        np.array([5.0, 0.0, 1.5]), [tft.Axis.variable([0.0, 1.0, 5.0, 10.0], units="ns")]
    )
    objs["hist_2d"] = tft.Histogram(
        np.arange(6.0).reshape(2, 3), [(0.0, 2.0, 1.0), np.array([0.0, 0.5, 2.0, 3.0])], True
    )
    objs["hist_2d_regular"] = tft.Histogram(
        np.ones((3, 2)), [(-3.0, 3.0, 2.0), (0.0, 1.0, 0.5)], attrs={"description": "2d"}
    )
    return objs


def to_lgdo(obj: Any) -> Any:
    """The same object built from LEGEND's classes."""
    attrs = obj.getattrs()
    if isinstance(obj, tft.Scalar):
        return lgdo.Scalar(obj.value, attrs=attrs)
    if isinstance(obj, tft.ArrayOfEqualSizedArrays):
        return lgdo.ArrayOfEqualSizedArrays(nda=obj.nda.copy(), attrs=attrs)
    if isinstance(obj, tft.ArrayOfDetectorIDs):
        return lgdo.ArrayOfDetectorIDs(obj.nda.copy(), attrs=attrs)
    if isinstance(obj, tft.FixedSizeArray):
        return lgdo.FixedSizeArray(obj.nda.copy(), attrs=attrs)
    if isinstance(obj, tft.Array):
        return lgdo.Array(obj.nda.copy(), attrs=attrs)
    if isinstance(obj, tft.VectorOfVectors):
        return lgdo.VectorOfVectors(
            flattened_data=to_lgdo(obj.flattened_data),
            cumulative_length=lgdo.Array(obj.cumulative_length.nda.copy()),
            attrs=attrs,
        )
    if isinstance(obj, tft.ArrayOfEncodedEqualSizedArrays):
        return lgdo.ArrayOfEncodedEqualSizedArrays(
            to_lgdo(obj.encoded_data), to_lgdo(obj.decoded_size), attrs=attrs
        )
    if isinstance(obj, tft.VectorOfEncodedVectors):
        return lgdo.VectorOfEncodedVectors(
            to_lgdo(obj.encoded_data), to_lgdo(obj.decoded_size), attrs=attrs
        )
    if isinstance(obj, tft.Histogram):
        axes = []
        for ax in obj.binning:
            edge_attrs = ax["binedges"].getattrs() or None
            if ax.is_range:
                b = ax["binedges"]
                first, last, step = (b[k].value for k in ("first", "last", "step"))
                axes.append(lgdo.Histogram.Axis(None, first, last, step, ax.closedleft, edge_attrs))
            else:
                axes.append(
                    lgdo.Histogram.Axis(
                        ax.edges.copy(), None, None, None, ax.closedleft, edge_attrs
                    )
                )
        return lgdo.Histogram(obj.weights.nda.copy(), axes, obj.isdensity, attrs=attrs or None)
    if isinstance(obj, tft.WaveformTable):
        return lgdo.WaveformTable(
            t0=to_lgdo(obj.t0), dt=to_lgdo(obj.dt), values=to_lgdo(obj.values), attrs=attrs
        )
    if isinstance(obj, tft.Table):
        return lgdo.Table({k: to_lgdo(v) for k, v in obj.items()}, attrs=attrs)
    if isinstance(obj, tft.Struct):
        return lgdo.Struct({k: to_lgdo(v) for k, v in obj.items()}, attrs=attrs)
    raise TypeError(f"no LEGEND counterpart for {type(obj).__name__}")


def test_catalogue_converts_faithfully() -> None:
    """The converter itself: every converted object compares equal to its source."""
    mismatches: list[str] = []
    for name, obj in catalogue().items():
        mismatches += compare(obj, to_lgdo(obj), name)
    assert not mismatches, "\n".join(mismatches)


# --- tierflow writes, LEGEND reads ------------------------------------------------------------------
def test_every_type_written_by_tierflow_reads_in_legend(tmp_path: Path) -> None:
    path = str(tmp_path / "tierflow.lh5")
    objs = catalogue()
    for name, obj in objs.items():
        tfl.write(obj, name, path)
    mismatches: list[str] = []
    for name, obj in objs.items():
        try:
            theirs = lh5.read(name, path)
        except Exception as err:
            mismatches.append(f"{name}: LEGEND raised {type(err).__name__}: {err}")
            continue
        mismatches += compare(obj, theirs, name)
        mismatches += compare(tfl.read(name, path), to_lgdo(obj), f"{name} (tierflow re-read)")
    assert not mismatches, "\n".join(mismatches)
    # also under a group, as in real files, and LEGEND's ls sees what tierflow's sees
    tfl.write(objs["table"], "raw", path, group="ch0000001")
    assert_same(objs["table"], lh5.read("ch0000001/raw", path), "ch0000001/raw")
    assert sorted(lh5.ls(path)) == sorted(tfl.ls(path))


def _waveforms(
    n: int = 6, length: int = 50, seed: int = 3, extremes: bool = True
) -> tft.WaveformTable:
    """uint16 ADC-like waveforms; with ``extremes`` the first one starts 0, 65535, 0, ...

    LEGEND's radware encoder must not be given ``extremes``: it writes incompressible
    waveforms past the end of its output buffer (2 bytes per sample), corrupting memory.
    """
    rng = np.random.default_rng(seed)
    base = rng.integers(10000, 50000, size=(n, 1))
    values = (base + np.cumsum(rng.integers(-40, 41, size=(n, length)), axis=1)).astype("uint16")
    if extremes:
        values[0, :5] = [0, 65535, 0, 65535, 0]
    return tft.WaveformTable(
        t0=np.arange(n, dtype="float32"),
        t0_units="ns",
        dt=np.full(n, 16.0, "float32"),
        dt_units="ns",
        values=tft.ArrayOfEqualSizedArrays(nda=values, attrs={"units": "ADC"}),
    )


def _varlen_waveforms(seed: int = 4) -> tft.WaveformTable:
    rng = np.random.default_rng(seed)
    rows = [rng.integers(-3000, 3000, size=k).astype("int16") for k in (0, 5, 1, 33, 0, 70)]
    return tft.WaveformTable(
        t0=np.zeros(len(rows), "float64"),
        dt=np.full(len(rows), 4.0),
        values=tft.VectorOfVectors([r.tolist() for r in rows], dtype="int16"),
    )


CODECS = [
    ("radware_sigcompress", {"codec": "radware_sigcompress", "codec_shift": -32768}),
    ("uleb128_zigzag_diff", {"codec": "uleb128_zigzag_diff"}),
]


def legend_encode_rows(
    rows: list[np.ndarray], codec: str, shift: int = 0
) -> tuple[np.ndarray, list]:
    """Encode waveforms one by one with LEGEND's low-level encoders: (all bytes, bytes per row).

    LEGEND's array-level encoders have two defects worked around here: radware's output
    buffer (``np.empty``, 2 bytes per sample) is too small for incompressible waveforms, so
    they overflow it (memory corruption, even a segfault), and the padding bytes that round
    the output to whole 32-bit words are left uninitialised, so the same input gives different
    bytes from call to call. A zeroed, large buffer gives LEGEND's deterministic answer.
    """
    from lh5.compression import radware, varlen

    chunks, nbytes = [], []
    for row in rows:
        row = np.ascontiguousarray(row)[None, :]
        out = np.zeros((1, 8 * row.shape[1] + 16), np.uint8)
        if codec == "radware_sigcompress":
            buf, nb = radware.encode(row, sig_out=out, shift=shift)
        else:
            buf, nb = varlen.encode(row, sig_out=out)
        chunks.append(buf[0, : int(nb[0])])
        nbytes.append(int(nb[0]))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.uint8), nbytes


@pytest.mark.parametrize(("codec", "codec_attrs"), CODECS, ids=[c for c, _ in CODECS])
def test_encoded_waveforms_written_by_tierflow_decode_in_legend(
    tmp_path: Path, codec: str, codec_attrs: dict[str, Any]
) -> None:
    path = str(tmp_path / "enc.lh5")
    wf = _waveforms()
    tfl.write(tft.Table({"waveform": wf}), "raw", path, codecs={"waveform/values": codec})
    with h5py.File(path, "r") as h5f:
        stored = {k: _attr(h5f["raw/waveform/values"], k) for k in codec_attrs}
        assert stored == codec_attrs
        assert _attr(h5f["raw/waveform/values"], "datatype").startswith(
            "array_of_encoded_equalsized_arrays"
        )
    theirs = lh5.read("raw/waveform", path)
    assert isinstance(theirs, lgdo.WaveformTable)
    # LEGEND decodes to int32: same values, wider type
    assert theirs.values.nda.dtype == np.int32
    np.testing.assert_array_equal(theirs.values.nda, wf.values.nda.astype(np.int32))
    assert theirs.values.attrs["units"] == "ADC"
    assert_same(wf.t0, theirs.t0, "t0")
    assert_same(wf.dt, theirs.dt, "dt")
    # tierflow's own reading of its file equals LEGEND's, decoded and not
    assert_same(tfl.read("raw/waveform", path), theirs, "raw/waveform")
    enc_theirs = lh5.read("raw/waveform/values", path, decompress=False)
    assert isinstance(enc_theirs, lgdo.ArrayOfEncodedEqualSizedArrays)
    assert_same(tfl.read("raw/waveform/values", path, decompress=False), enc_theirs, "encoded")
    # and the bytes are what LEGEND's own encoder makes of the same waveforms
    data, nbytes = legend_encode_rows(list(wf.values.nda), codec, codec_attrs.get("codec_shift", 0))
    ours_vov = tfl.read("raw/waveform/values/encoded_data", path)
    np.testing.assert_array_equal(ours_vov.flattened_data.nda, data)
    np.testing.assert_array_equal(np.diff(ours_vov.offsets()), nbytes)
    in_memory = tfl.encode(wf.values, codec).encoded_data
    np.testing.assert_array_equal(in_memory.flattened_data.nda, data)
    np.testing.assert_array_equal(np.diff(in_memory.offsets()), nbytes)


@pytest.mark.parametrize(("codec", "codec_attrs"), CODECS, ids=[c for c, _ in CODECS])
def test_encoded_vectors_written_by_tierflow_read_in_legend(
    tmp_path: Path, codec: str, codec_attrs: dict[str, Any]
) -> None:
    path = str(tmp_path / "venc.lh5")
    wf = _varlen_waveforms()
    tfl.write(wf, "wf", path, codecs={"values": codec})
    if codec == "radware_sigcompress":  # by name, the shift is only -32768 for uint16 samples
        codec_attrs = {**codec_attrs, "codec_shift": 0}
    # LEGEND's reader crashes decoding a VectorOfEncodedVectors ('numpy.ndarray' object has no
    # attribute 'to_vov', a LEGEND bug; see test_legend_cannot_decode_encoded_vectors below), so
    # LEGEND reads the encoded bytes and tierflow decodes them.
    theirs = lh5.read("wf/values", path, decompress=False)
    assert isinstance(theirs, lgdo.VectorOfEncodedVectors)
    assert {k: _norm_value(theirs.attrs[k]) for k in codec_attrs} == codec_attrs
    ours_enc = tfl.read("wf/values", path, decompress=False)
    assert_same(ours_enc, theirs, "wf/values (encoded)")
    np.testing.assert_array_equal(theirs.decoded_size.nda, [len(r) for r in wf.values])
    decoded = tfl.decode(
        tft.VectorOfEncodedVectors(
            tft.VectorOfVectors(
                flattened_data=theirs.encoded_data.flattened_data.nda,
                cumulative_length=theirs.encoded_data.cumulative_length.nda,
            ),
            theirs.decoded_size.nda,
            attrs=theirs.getattrs(),
        )
    )
    assert decoded.dtype == np.int32
    assert decoded.view_as("ak").to_list() == wf.values.view_as("ak").to_list()
    read_back = tfl.read("wf", path)
    assert read_back["values"].view_as("ak").to_list() == wf.values.view_as("ak").to_list()
    assert read_back["values"].dtype == np.int32
    # LEGEND's own (per-waveform) encoder gives the same bytes
    shift = _norm_value(theirs.attrs.get("codec_shift", 0))
    data, nbytes = legend_encode_rows(list(wf.values), codec, shift)
    np.testing.assert_array_equal(ours_enc.encoded_data.flattened_data.nda, data)
    np.testing.assert_array_equal(np.diff(ours_enc.encoded_data.offsets()), nbytes)


@pytest.mark.xfail(
    raises=AttributeError,
    strict=False,
    reason="LEGEND bug: decoding a VectorOfEncodedVectors fails with "
    "'numpy.ndarray' object has no attribute 'to_vov'",
)
def test_legend_cannot_decode_encoded_vectors(tmp_path: Path) -> None:
    path = str(tmp_path / "venc.lh5")
    wf = _varlen_waveforms()
    tfl.write(wf, "wf", path, codecs={"values": "uleb128_zigzag_diff"})
    theirs = lh5.read("wf/values", path)  # raises inside LEGEND
    assert theirs.view_as("ak").to_list() == wf.values.view_as("ak").to_list()


# --- appending, adding columns, overwriting: tierflow writes, LEGEND reads ---------------------
def _chunk(n: int, seed: int) -> tft.Table:
    """A table of ``n`` rows with every kind of column."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 4, size=n)
    return tft.Table(
        {
            "energy": tft.Array(rng.normal(size=n), attrs={"units": "keV"}),
            "channel": tft.Array(rng.integers(0, 2**31, size=n).astype("uint32")),
            "flag": tft.Array(rng.random(n) > 0.5),
            "label": tft.Array(np.array([b"ab", b"xyz", b""] * n)[:n].astype("S3")),
            "hits": tft.VectorOfVectors(
                flattened_data=rng.normal(size=int(lengths.sum())).astype("float32"),
                cumulative_length=np.cumsum(lengths),
            ),
            "trace": tft.ArrayOfEqualSizedArrays(
                nda=rng.integers(0, 99, size=(n, 6)).astype("int16")
            ),
            "sub": tft.Table({"x": np.arange(n, dtype="int64") + 100 * seed}),
        },
        attrs={"description": "chunked"},
    )


def test_appends_by_tierflow_read_in_legend(tmp_path: Path) -> None:
    ours_path, legend_path = str(tmp_path / "tf.lh5"), str(tmp_path / "legend.lh5")
    chunks = [_chunk(5, 1), _chunk(0, 2), _chunk(7, 3), _chunk(1, 4)]
    for i, chunk in enumerate(chunks):
        tfl.write(chunk, "tb", ours_path, wo_mode="of" if i == 0 else "append")
        lh5.write(to_lgdo(chunk), "tb", legend_path, wo_mode="of" if i == 0 else "append")
    expected = tft.concat(chunks)
    theirs = lh5.read("tb", ours_path)
    assert len(theirs) == 13
    assert_same(expected, theirs, "tb (tierflow appends, LEGEND reads)")
    # the same appends done by LEGEND's writer read the same in LEGEND and in tierflow
    assert_same(expected, lh5.read("tb", legend_path), "tb (LEGEND appends, LEGEND reads)")
    assert_same(tfl.read("tb", legend_path), lh5.read("tb", legend_path), "tb (LEGEND appends)")
    # and column by column, an array appended on its own
    tfl.write(tft.Array(np.arange(3.0)), "arr", ours_path)
    tfl.write(tft.Array(np.arange(3.0, 5.0)), "arr", ours_path, wo_mode="append")
    np.testing.assert_array_equal(lh5.read("arr", ours_path).nda, np.arange(5.0))


@pytest.mark.parametrize(("codec", "codec_attrs"), CODECS, ids=[c for c, _ in CODECS])
def test_encoded_appends_by_tierflow_read_in_legend(
    tmp_path: Path, codec: str, codec_attrs: dict[str, Any]
) -> None:
    path = str(tmp_path / "enc_append.lh5")
    chunks = [_waveforms(4, 30, seed=1), _waveforms(3, 30, seed=2), _waveforms(5, 30, seed=3)]
    for chunk in chunks:
        tfl.write(chunk, "wf", path, codecs={"values": codec})
    theirs = lh5.read("wf", path)
    expected = np.concatenate([c.values.nda for c in chunks]).astype(np.int32)
    np.testing.assert_array_equal(theirs.values.nda, expected)
    np.testing.assert_array_equal(theirs.t0.nda, np.concatenate([c.t0.nda for c in chunks]))
    assert_same(tfl.read("wf", path), theirs, "wf")
    assert_same(
        tfl.read("wf", path, decompress=False), lh5.read("wf", path, decompress=False), "wf (enc)"
    )
    # the same with varying lengths
    vpath = str(tmp_path / "venc_append.lh5")
    vchunks = [_varlen_waveforms(1), _varlen_waveforms(2)]
    for chunk in vchunks:
        tfl.write(chunk, "wf", vpath, codecs={"values": codec})
    enc = lh5.read("wf/values", vpath, decompress=False)  # LEGEND cannot decode these (see above)
    assert_same(tfl.read("wf/values", vpath, decompress=False), enc, "wf/values (enc)")
    expected_rows = [r.tolist() for c in vchunks for r in c.values]
    assert tfl.read("wf/values", vpath).view_as("ak").to_list() == expected_rows


def test_append_column_by_tierflow_reads_in_legend(tmp_path: Path) -> None:
    path, legend_path = str(tmp_path / "ac.lh5"), str(tmp_path / "ac_legend.lh5")
    full = _chunk(6, 5)
    first = tft.Table({k: full[k] for k in ("energy", "flag")}, attrs=full.getattrs())
    more = tft.Table({k: full[k] for k in full if k not in first})
    tfl.write(first, "tb", path)
    tfl.write(more, "tb", path, wo_mode="append_column")
    theirs = lh5.read("tb", path)
    assert_same(full, theirs, "tb (append_column)")
    # LEGEND's append_column replaces the table's attributes by those of the added columns'
    # table (tierflow keeps the stored ones, checked above), so give both the same here
    lh5.write(to_lgdo(first), "tb", legend_path)
    more.attrs.update(first.getattrs())
    lh5.write(to_lgdo(more), "tb", legend_path, wo_mode="append_column")
    assert_same(tfl.read("tb", legend_path), lh5.read("tb", legend_path), "tb (LEGEND ac)")
    assert_same(full, lh5.read("tb", legend_path), "tb (LEGEND ac vs expected)")


@pytest.mark.parametrize("write_start", [0, 2, 4, 6])
def test_overwrite_with_write_start_matches_legend(tmp_path: Path, write_start: int) -> None:
    """tierflow's ``overwrite`` from ``write_start`` leaves what LEGEND's leaves."""
    ours_path, legend_path = str(tmp_path / "o.lh5"), str(tmp_path / "o_legend.lh5")
    old, new = _chunk(6, 6), _chunk(3, 7)
    tfl.write(old, "tb", ours_path)
    tfl.write(new, "tb", ours_path, wo_mode="overwrite", write_start=write_start)
    lh5.write(to_lgdo(old), "tb", legend_path)
    lh5.write(to_lgdo(new), "tb", legend_path, wo_mode="overwrite", write_start=write_start)
    legend_result = lh5.read("tb", legend_path)
    assert_same(tfl.read("tb", legend_path), legend_result, "tb (LEGEND file)")
    assert_same(tfl.read("tb", ours_path), legend_result, "tb (tierflow file vs LEGEND file)")
    assert_same(lh5.read("tb", ours_path), legend_result, "tb (tierflow file in LEGEND)")
    expected = tft.concat([old.take(slice(0, write_start)), new]) if write_start else new
    assert_same(expected, lh5.read("tb", ours_path), "tb (expected rows)")


# --- LEGEND writes, tierflow reads ------------------------------------------------------------------
def test_every_type_written_by_legend_reads_in_tierflow(tmp_path: Path) -> None:
    path = str(tmp_path / "legend.lh5")
    objs = catalogue()
    for name, obj in objs.items():
        lh5.write(to_lgdo(obj), name, path)  # gzip + shuffle, chunked, as LEGEND does
    with h5py.File(path, "r") as h5f:
        assert h5f["table/energy"].compression == "gzip"
    mismatches: list[str] = []
    for name, obj in objs.items():
        theirs = to_lgdo(obj)
        try:
            ours = tfl.read(name, path)
        except Exception as err:
            mismatches.append(f"{name}: tierflow raised {type(err).__name__}: {err}")
            continue
        mismatches += compare(ours, theirs, name)
        mismatches += compare(ours, lh5.read(name, path), f"{name} (vs LEGEND's read)")
        if not isinstance(ours, tft.Scalar | tft.Struct) or isinstance(ours, tft.Table):
            # rows 1.. of what LEGEND wrote (LEGEND itself fails on start_row past the end:
            # "can't convert negative value to hsize_t", so only where there are rows)
            part = tfl.read(name, path, start_row=1)
            assert len(part) == max(len(ours) - 1, 0)
            if len(ours):
                mismatches += compare(part, lh5.read(name, path, start_row=1), f"{name}[1:]")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize(("codec", "codec_attrs"), CODECS, ids=[c for c, _ in CODECS])
def test_encoded_waveforms_written_by_legend_read_in_tierflow(
    tmp_path: Path, codec: str, codec_attrs: dict[str, Any]
) -> None:
    from lh5 import compression

    path = str(tmp_path / "legend_enc.lh5")
    wf = _waveforms(n=8, length=300, extremes=False)
    legend_wf = to_lgdo(wf)
    legend_wf.values.attrs["compression"] = (
        compression.RadwareSigcompress(codec_shift=-32768)
        if codec == "radware_sigcompress"
        else compression.ULEB128ZigZagDiff()
    )
    lh5.write(lgdo.Table({"waveform": legend_wf}), "raw", path)
    ours = tfl.read("raw/waveform", path)
    assert isinstance(ours, tft.WaveformTable)
    assert ours.values.dtype == np.int32
    np.testing.assert_array_equal(ours.values.nda, wf.values.nda.astype(np.int32))
    assert_same(ours, lh5.read("raw/waveform", path), "raw/waveform")
    enc = tfl.read("raw/waveform/values", path, decompress=False)
    assert isinstance(enc, tft.ArrayOfEncodedEqualSizedArrays)
    assert {k: _norm_value(enc.attrs[k]) for k in codec_attrs} == codec_attrs
    assert_same(enc, lh5.read("raw/waveform/values", path, decompress=False), "encoded")
    # row selections decode the right rows
    for kwargs in ({"idx": [1, 4, 7]}, {"start_row": 5, "n_rows": 2}):
        part = tfl.read("raw/waveform", path, **kwargs)
        assert_same(part, lh5.read("raw/waveform", path, **kwargs), f"raw/waveform {kwargs}")


def test_legend_file_appended_by_tierflow(tmp_path: Path) -> None:
    """LEGEND writes a file, tierflow appends to it, both read the concatenation."""
    from lh5 import compression

    path = str(tmp_path / "mixed.lh5")
    first, second, third = _chunk(4, 11), _chunk(3, 12), _chunk(2, 13)
    lh5.write(to_lgdo(first), "tb", path)
    tfl.write(second, "tb", path, wo_mode="append")
    lh5.write(to_lgdo(third), "tb", path, wo_mode="append")  # and LEGEND again after tierflow
    expected = tft.concat([first, second, third])
    assert_same(expected, lh5.read("tb", path), "tb (LEGEND)")
    assert_same(tfl.read("tb", path), lh5.read("tb", path), "tb (tierflow vs LEGEND)")
    # encoded waveforms written by LEGEND, appended by tierflow with the stored codec
    wf1, wf2 = _waveforms(3, 20, seed=5, extremes=False), _waveforms(4, 20, seed=6)
    legend_wf = to_lgdo(wf1)
    legend_wf.values.attrs["compression"] = compression.RadwareSigcompress(codec_shift=-32768)
    lh5.write(legend_wf, "wf", path)
    tfl.write(wf2, "wf", path, wo_mode="append")
    theirs = lh5.read("wf", path)
    expected_values = np.concatenate([wf1.values.nda, wf2.values.nda]).astype(np.int32)
    np.testing.assert_array_equal(theirs.values.nda, expected_values)
    assert_same(tfl.read("wf", path), theirs, "wf")
    # a LEGEND vector of vectors (uint32 lengths from a DAQ file are common too)
    lh5.write(lgdo.VectorOfVectors([[1, 2], [3]], attrs={"units": "ns"}), "vov", path)
    tfl.write(tft.VectorOfVectors([[], [4, 5, 6]], dtype="int64"), "vov", path, wo_mode="append")
    theirs = lh5.read("vov", path)
    assert theirs.view_as("ak").to_list() == [[1, 2], [3], [], [4, 5, 6]]
    assert_same(tfl.read("vov", path), theirs, "vov")


def test_real_daq_file_appended_by_tierflow(tmp_path: Path) -> None:
    """Rows appended to a copy of a real raw file (uint32 vector lengths, 2-d waveforms)."""
    src = _find("*phy-20230322T160139Z-tier_raw.lh5")
    path = str(tmp_path / src.name)
    Path(path).write_bytes(src.read_bytes())
    name = "ch1084803/raw"
    original = lh5.read(name, path)
    table = tfl.read(name, path)
    tfl.write(table.take(slice(2, 7)), name, path, wo_mode="append")
    with h5py.File(path, "r") as h5f:  # the stored types are kept
        assert h5f[f"{name}/tracelist/cumulative_length"].dtype == np.uint32
        assert h5f[f"{name}/waveform/values"].dtype == np.uint16
    theirs = lh5.read(name, path)
    assert len(theirs) == len(original) + 5
    assert_same(table, lh5.read(name, path, n_rows=len(original)), f"{name} (old rows)")
    assert_same(tfl.read(name, path), theirs, f"{name} (tierflow vs LEGEND)")
    assert_same(table.take(slice(2, 7)), lh5.read(name, path, start_row=len(original)), "new")


def test_rows_asked_of_a_struct_apply_to_its_members(tmp_path: Path) -> None:
    """LEGEND passes start_row/n_rows/idx down to the tables inside a struct; so do we."""
    path = str(tmp_path / "struct.lh5")
    a = lgdo.Table({"e": lgdo.Array(np.arange(10.0))})
    b = lgdo.Table({"e": lgdo.Array(np.arange(6.0)), "v": lgdo.VectorOfVectors([[1]] * 6)})
    lh5.write(lgdo.Struct({"a": a, "b": b}), "run", path)
    mismatches: list[str] = []
    for kwargs in ({"start_row": 2, "n_rows": 3}, {"idx": np.array([1, 4])}):
        ours, theirs = tfl.read("run", path, **kwargs), lh5.read("run", path, **kwargs)
        mismatches += compare(ours, theirs, f"run {kwargs}")
    assert len(ours["a"]) == 2 and len(ours["b"]) == 2
    assert not mismatches, "\n".join(mismatches)
