"""String columns and nested tables, as in LEGEND's evt tier.

There is no evt file in the test data, so one is built here with LEGEND's own packages (lgdo
objects written by legend-lh5io, the oracle): a table of nested tables (``trigger``,
``coincident``, ``geds`` with ``geds/quality`` two levels down, ``spms``) holding fixed-length
byte strings (``S7`` detector names and trigger types), vectors of byte strings
(``trigger/cycle``, ``geds/name``), bools, floats, ints, vectors and vectors of vectors.

Before the fixes, ``view_as("ak")``, ``view_as("np")`` of these tables and ``LH5Iterator.query``
failed with awkward's ``TypeError: unsupported dtype: dtype('S7')``; pandas views held Python
objects for jagged columns (and took ~30x LEGEND's time on 100,000 rows); iterating files whose
strings have different lengths silently cut the longer ones (``b"physics"`` -> ``b"physic"``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np
import pandas as pd
import pytest

from tierflow import lh5
from tierflow.lh5 import LH5Iterator
from tierflow.types import Array, Table, VectorOfVectors

lgdo = pytest.importorskip("lgdo")
legend_lh5 = pytest.importorskip("lh5")

from test_compat_legend import assert_same  # noqa: E402  (the object-by-object comparison)

DETECTORS = np.array([b"V02160A", b"V02162B", b"B00035C", b"C000RG1", b"P00574A", b"V05266A"])
CYCLES = np.array([b"20230318T012144Z", b"20230318T012228Z"])
TRIGGERS = np.array([b"physics", b"forced", b"pulser"], dtype="S7")


# --- a LEGEND evt table, built and written by LEGEND's packages -------------------------------------
def legend_evt(n: int, seed: int = 0, triggers: np.ndarray = TRIGGERS) -> Any:
    """An lgdo evt Table of ``n`` events, the layout of LEGEND's current evt tier."""
    rng = np.random.default_rng(seed)

    def vov(flat: np.ndarray, lengths: np.ndarray) -> Any:
        return lgdo.VectorOfVectors(
            flattened_data=lgdo.Array(flat), cumulative_length=lgdo.Array(np.cumsum(lengths))
        )

    mult = rng.integers(0, 4, n)
    hits = int(mult.sum())
    trigger_type = triggers[rng.integers(0, len(triggers), n)]
    n_cycles = rng.integers(1, 3, n)
    n_spms = rng.integers(0, 3, n)
    n_pulses = rng.integers(0, 4, int(n_spms.sum()))
    return lgdo.Table(
        {
            "trigger": lgdo.Table(
                {
                    "timestamp": lgdo.Array(1.679e9 + np.sort(rng.random(n)) * 60),
                    "is_forced": lgdo.Array(trigger_type == b"forced"),
                    "type": lgdo.Array(trigger_type),
                    "cycle": vov(CYCLES[rng.integers(0, 2, int(n_cycles.sum()))], n_cycles),
                }
            ),
            "coincident": lgdo.Table(
                {
                    "geds": lgdo.Array(mult > 0),
                    "spms": lgdo.Array(n_spms > 0),
                    "puls": lgdo.Array(trigger_type == b"pulser"),
                }
            ),
            "geds": lgdo.Table(
                {
                    "multiplicity": lgdo.Array(mult.astype("i4")),
                    "energy": vov(rng.random(hits) * 3000, mult),
                    "rawid": vov(rng.integers(1_000_000, 1_200_000, hits).astype("i4"), mult),
                    "name": vov(DETECTORS[rng.integers(0, len(DETECTORS), hits)], mult),
                    "first_name": lgdo.Array(
                        np.where(mult > 0, DETECTORS[rng.integers(0, len(DETECTORS), n)], b"")
                    ),
                    "quality": lgdo.Table(
                        {
                            "is_bb_like": vov(rng.random(hits) > 0.5, mult),
                            "n_good": lgdo.Array(rng.integers(0, 3, n).astype("i2")),
                        }
                    ),
                }
            ),
            "spms": lgdo.Table(
                {
                    "energy": lgdo.VectorOfVectors(
                        flattened_data=vov(rng.random(int(n_pulses.sum())).astype("f4"), n_pulses),
                        cumulative_length=lgdo.Array(np.cumsum(n_spms)),
                    ),
                    "multiplicity": lgdo.Array(n_spms),
                }
            ),
        }
    )


N_EVENTS = 500


@pytest.fixture(scope="module")
def evt_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    """(path, the lgdo table written there as ``evt``)."""
    table = legend_evt(N_EVENTS, seed=13)
    path = str(tmp_path_factory.mktemp("evt") / "l200-p03-r001-phy-tier_evt.lh5")
    legend_lh5.write(table, "evt", path, wo_mode="of")
    return path, table


def _leaf_paths(table: Any, prefix: str = "") -> list[str]:
    out = []
    for key, col in table.items():
        if isinstance(col, lgdo.Table | Table):
            out += _leaf_paths(col, f"{prefix}{key}/")
        else:
            out.append(prefix + key)
    return out


def _legend_rows(col: Any) -> list:
    """A LEGEND column's rows as Python lists (bytes kept)."""
    if isinstance(col, lgdo.VectorOfVectors):
        return col.view_as("ak").to_list()
    return col.nda.tolist()


# --- reading and writing byte for byte ---------------------------------------------------------------
def test_evt_written_by_legend_reads_in_tierflow_as_the_same_objects(evt_file) -> None:
    path, theirs = evt_file
    ours = lh5.read("evt", path)
    assert_same(ours, legend_lh5.read("evt", path), "evt")
    assert_same(ours, theirs, "evt")  # the objects LEGEND wrote
    assert ours["trigger/type"].nda.dtype == np.dtype("S7")
    assert ours["geds/name"].flattened_data.nda.dtype == np.dtype("S7")
    assert ours["trigger/cycle"].flattened_data.nda.dtype == np.dtype("S16")


def test_evt_written_by_tierflow_reads_in_legend_byte_for_byte(evt_file, tmp_path: Path) -> None:
    path, theirs = evt_file
    copy_path = str(tmp_path / "tierflow_evt.lh5")
    lh5.write(lh5.read("evt", path), "evt", copy_path)
    assert_same(lh5.read("evt", copy_path), legend_lh5.read("evt", path), "evt")
    back = legend_lh5.read("evt", copy_path)
    for name in _leaf_paths(theirs):
        assert _legend_rows(back[name]) == _legend_rows(theirs[name]), name
    with h5py.File(path, "r", locking=False) as a, h5py.File(copy_path, "r", locking=False) as b:
        for name in ("trigger/type", "geds/first_name", "geds/name/flattened_data"):
            ds_a, ds_b = a[f"evt/{name}"], b[f"evt/{name}"]
            assert ds_b.dtype == ds_a.dtype  # fixed-length |S7, not variable-length strings
            assert ds_b[()].tobytes() == ds_a[()].tobytes(), name
            assert ds_b.attrs["datatype"] == ds_a.attrs["datatype"]


def test_strings_built_in_tierflow_round_trip_through_legend(tmp_path: Path) -> None:
    padded = np.array([b"V02160A", b"", b"ab\x00c"], dtype="S7")  # embedded NUL kept
    names = VectorOfVectors([[b"V02160A", b"B00035C"], [], [b"C000RG1"]])
    path = str(tmp_path / "strings.lh5")
    lh5.write(Table({"name": padded, "names": names}), "t", path)
    back = legend_lh5.read("t", path)
    assert back["name"].nda.dtype == np.dtype("S7")
    assert back["name"].nda.tobytes() == padded.tobytes()
    assert back["names"].view_as("ak").to_list() == [[b"V02160A", b"B00035C"], [], [b"C000RG1"]]
    legend_path = str(tmp_path / "legend.lh5")
    legend_lh5.write(back, "t", legend_path)
    again = lh5.read("t", legend_path)
    assert again["name"].nda.tobytes() == padded.tobytes()
    assert again["names"] == names


# --- views -----------------------------------------------------------------------------------------------
def test_awkward_view_of_evt_has_legends_bytes_and_values(evt_file) -> None:
    path, theirs = evt_file
    ours = lh5.read("evt", path).view_as("ak")
    legend = legend_lh5.read("evt", path).view_as("ak")
    for name in _leaf_paths(theirs):
        keys = tuple(name.split("/"))
        assert str(ours[keys].type) == str(legend[keys].type), name
        assert ours[keys].to_list() == legend[keys].to_list(), name
    assert str(ours["trigger", "type"].type) == f"{N_EVENTS} * bytes"
    assert str(ours["geds", "name"].type) == f"{N_EVENTS} * var * bytes"
    physics = ours[ours["trigger", "type"] == b"physics"]
    assert len(physics) == int(np.sum(theirs["trigger/type"].nda == b"physics")) > 0


def test_numpy_view_of_evt_pads_vectors_and_keeps_byte_strings(evt_file) -> None:
    path, theirs = evt_file
    ours = lh5.read("evt", path).view_as("np")
    assert set(ours) == {"trigger", "coincident", "geds", "spms"}
    assert ours["trigger"]["type"].dtype == np.dtype("S7")
    assert np.array_equal(ours["trigger"]["type"], theirs["trigger/type"].nda)
    # numeric vectors: NaN-padded float64, as LEGEND's view_as("np")
    legend_energy = theirs["geds/energy"].view_as("np")
    assert np.array_equal(ours["geds"]["energy"], legend_energy, equal_nan=True)
    # string vectors: padded with b"" (LEGEND's view_as("np") fails on them)
    names = ours["geds"]["name"]
    assert names.dtype == np.dtype("S7")
    assert names.shape == (N_EVENTS, int(theirs["geds/multiplicity"].nda.max()))
    for row, want in zip(names, _legend_rows(theirs["geds/name"]), strict=True):
        assert row[: len(want)].tolist() == want and not row[len(want) :].any()
    # vectors of vectors: every level padded
    spms = ours["spms"]["energy"]
    assert spms.ndim == 3
    want = theirs["spms/energy"].view_as("ak").to_list()
    for row, want_row in zip(spms, want, strict=True):
        for pulses, want_pulses in zip(row, want_row, strict=False):
            assert pulses[: len(want_pulses)].tolist() == pytest.approx(want_pulses)
            assert np.isnan(pulses[len(want_pulses) :]).all()


def test_pandas_view_of_evt_has_legends_columns_as_awkward_not_objects(evt_file) -> None:
    path, theirs = evt_file
    ours = lh5.read("evt", path).view_as("pd")
    legend = legend_lh5.read("evt", path).view_as("pd")
    assert sorted(ours.columns) == sorted(legend.columns)
    assert "coincident_geds" in ours.columns and "geds_quality_is_bb_like" in ours.columns
    assert not [c for c in ours.columns if ours[c].dtype == object]
    for name in ours.columns:
        if str(legend[name].dtype) == "awkward":
            assert str(ours[name].dtype) == "awkward", name
    # values: LEGEND's, with text decoded to str
    assert ours["trigger_type"].tolist() == [t.decode() for t in theirs["trigger/type"].nda]
    assert ours["geds_name"].tolist() == [
        [d.decode() for d in row] for row in _legend_rows(theirs["geds/name"])
    ]
    assert ours["geds_energy"].tolist() == legend["geds_energy"].tolist()
    assert ours["spms_energy"].tolist() == legend["spms_energy"].tolist()
    assert ours["geds_quality_n_good"].tolist() == legend["geds_quality_n_good"].tolist()


def test_pandas_view_of_evt_converts_back_to_a_table(evt_file) -> None:
    path, _ = evt_file
    df = lh5.read("evt", path).view_as("pd")
    back = Table(df)
    assert isinstance(back["geds_energy"], VectorOfVectors)
    assert back["geds_energy"].view_as("ak").to_list() == df["geds_energy"].tolist()
    assert back["geds_name"].dtype == np.dtype("S7")
    assert back["trigger_type"].nda.tolist() == [t.encode() for t in df["trigger_type"]]


def test_waveforms_in_pandas_are_an_awkward_column_like_legends() -> None:
    wf = np.arange(12, dtype="uint16").reshape(4, 3)
    ours = Array(wf).view_as("pd")
    theirs = lgdo.ArrayOfEqualSizedArrays(nda=wf).view_as("pd")
    assert str(ours.dtype) == str(theirs.dtype) == "awkward"
    assert ours.tolist() == theirs.tolist() == wf.tolist()


# --- iterating and querying ---------------------------------------------------------------------------
@pytest.mark.parametrize("library", ["lgdo", "ak", "np", "pd"])
def test_query_of_evt_gives_the_selected_events(evt_file, library: str) -> None:
    path, theirs = evt_file
    it = LH5Iterator(path, "evt", buffer_len=128)
    out = it.query("geds__multiplicity > 1", library=library)
    keep = theirs["geds/multiplicity"].nda > 1
    want_names = [r for r, k in zip(_legend_rows(theirs["geds/name"]), keep, strict=True) if k]
    want_type = theirs["trigger/type"].nda[keep]
    if library == "lgdo":
        assert out["geds/name"].view_as("ak").to_list() == want_names
        assert out["geds/name"].dtype == np.dtype("S7")
        assert out["trigger/type"].nda.tolist() == want_type.tolist()
    elif library == "ak":
        assert out["geds", "name"].to_list() == want_names
        assert out["trigger", "type"].to_list() == want_type.tolist()
    elif library == "np":
        assert out["trigger"]["type"].tolist() == want_type.tolist()
        assert out["geds"]["name"].shape[0] == int(keep.sum())
    else:
        assert out["trigger_type"].tolist() == [t.decode() for t in want_type]
        assert out["geds_name"].tolist() == [[d.decode() for d in r] for r in want_names]


def test_query_selecting_by_a_string_column(evt_file) -> None:
    path, theirs = evt_file
    it = LH5Iterator(path, "evt", buffer_len=100)
    fields = {"trigger/type": "type", "geds/energy": "energy"}
    out = it.query("trigger__type == b'physics'", fields=fields)
    assert set(out["type"].nda.tolist()) == {b"physics"}
    assert out["type"].nda.dtype == np.dtype("S7")
    assert len(out) == int(np.sum(theirs["trigger/type"].nda == b"physics"))
    by_function = it.query(lambda tb, it: tb[tb["trigger/type"].nda == b"forced"])
    assert len(by_function) == int(np.sum(theirs["trigger/type"].nda == b"forced"))


def test_query_result_with_strings_writes_back_and_reads_in_legend(evt_file, tmp_path) -> None:
    path, theirs = evt_file
    out = LH5Iterator(path, "evt", buffer_len=64).query("coincident__geds")
    out_path = str(tmp_path / "skim.lh5")
    lh5.write(out, "evt", out_path)
    back = legend_lh5.read("evt", out_path)
    keep = theirs["coincident/geds"].nda
    assert back["geds/name"].flattened_data.nda.dtype == np.dtype("S7")
    assert back["geds/first_name"].nda.tolist() == theirs["geds/first_name"].nda[keep].tolist()
    want = [r for r, k in zip(_legend_rows(theirs["trigger/cycle"]), keep, strict=True) if k]
    assert _legend_rows(back["trigger/cycle"]) == want


@pytest.mark.parametrize("buffer_len", [1, 3, 7, 1000])
def test_iterating_files_with_longer_strings_never_cuts_them(tmp_path, buffer_len: int) -> None:
    short = legend_evt(5, seed=1, triggers=np.array([b"forced", b"pulser"]))  # |S6
    long = legend_evt(5, seed=2, triggers=np.array([b"physics"]))  # |S7
    paths = []
    for i, table in enumerate([short, long, short]):
        paths.append(str(tmp_path / f"evt{i}.lh5"))
        legend_lh5.write(table, "evt", paths[-1], wo_mode="of")
    chunks = [copy.deepcopy(tb) for tb in LH5Iterator(paths, "evt", buffer_len=buffer_len)]
    types = np.concatenate([tb["trigger/type"].nda for tb in chunks]).tolist()
    want = [t for table in (short, long, short) for t in table["trigger/type"].nda.tolist()]
    assert types == want
    assert b"physics" in types
    whole = lh5.read("evt", paths)
    assert whole["trigger/type"].nda.tolist() == want


# --- names of nested columns ------------------------------------------------------------------------
def test_nested_column_spellings_are_legends_in_each_context(evt_file) -> None:
    path, _ = evt_file
    table = lh5.read("evt", path)
    flat = table["coincident/geds"].nda
    assert np.array_equal(table.eval("coincident__geds").nda, flat)  # expressions: __
    assert np.array_equal(table.view_as("pd")["coincident_geds"].to_numpy(), flat)  # pandas: _
    assert np.array_equal(ak.to_numpy(table.view_as("ak").coincident.geds), flat)  # nesting
    assert "coincident/geds" in LH5Iterator(path, "evt").available_fields()  # paths: /
    assert "coincident__geds" in table.flatten()


@pytest.mark.parametrize("typed", ["coincident__geds", "coincident_geds"])
def test_a_nested_column_typed_in_another_spelling_is_named_in_the_error(evt_file, typed) -> None:
    path, _ = evt_file
    table = lh5.read("evt", path)
    with pytest.raises(KeyError) as err:
        table[typed]
    message = str(err.value)
    assert "'coincident/geds'" in message
    assert "in expressions 'coincident__geds'" in message
    assert "in pandas 'coincident_geds'" in message


def test_string_columns_from_pandas_and_awkward_become_byte_strings() -> None:
    df = pd.DataFrame({"name": pd.Series(["V02160A", "B00035C"], dtype="string")})
    assert Table(df)["name"].nda.tolist() == [b"V02160A", b"B00035C"]
    from_ak = Table({"names": ak.Array([[b"V02160A"], [b"B00035C", b"C000RG1"]])})
    assert isinstance(from_ak["names"], VectorOfVectors)
    assert from_ak["names"].dtype == np.dtype("S7")  # values, not vectors of bytes
    assert from_ak["names"].form_datatype() == "array<1>{array<1>{string}}"


def test_bytes_that_are_not_utf8_stay_bytes_in_pandas() -> None:
    raw = np.array([b"\xff\xfe", b"ok"], dtype="S2")
    table = Table({"flat": raw, "jagged": VectorOfVectors([[b"\xff"], [b"ok"]])})
    df = table.view_as("pd")
    assert df["flat"].tolist() == [b"\xff\xfe", b"ok"]
    assert df["jagged"].tolist() == [[b"\xff"], [b"ok"]]
    assert Table({"t": np.array([b"ok"])}).view_as("pd")["t"].tolist() == ["ok"]


def test_string_vectors_keep_the_given_width_even_when_empty(tmp_path: Path) -> None:
    assert VectorOfVectors([[], []], dtype="S7").dtype == np.dtype("S7")
    assert VectorOfVectors([[b"ab"], []], dtype="S7").dtype == np.dtype("S7")
    empty = Table({"names": VectorOfVectors([[], []], dtype="S7")})
    path = str(tmp_path / "empty.lh5")
    lh5.write(empty, "t", path)
    back = legend_lh5.read("t", path)
    assert back["names"].flattened_data.nda.dtype == np.dtype("S7")
    assert back["names"].cumulative_length.nda.tolist() == [0, 0]
