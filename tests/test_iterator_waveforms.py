"""LH5Iterator over tables that hold waveforms, as a new user first tries it.

Every real raw file in the test data (plain waveforms of the 2023 files, radware- and
uleb128-encoded ones of the 2025 file) and a small simulated raw file are iterated with the
default ``buffer_len`` and with buffers smaller than a table (10, 7 rows, ``"1 MB"``), alone, with
friends, with field masks, over several files and groups and with entry lists. The rows of all
chunks, concatenated, must equal a whole ``tierflow.lh5.read`` of every table and what LEGEND's
own ``lh5.LH5Iterator`` / ``lh5.read`` give (the oracle).

Before the fix every iteration that needed a second chunk raised
``TypeError: 'ArrayOfEqualSizedArrays' object is not callable`` (the buffer was grown with
``table.values()``, which for a WaveformTable is its ``values`` column).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import hist
import numpy as np
import pytest

from testdata import DSP_CAL, LH5_FILES, RAW_P14
from tierflow import lh5, sim
from tierflow.lh5 import LH5Iterator
from tierflow.types import Table, WaveformTable

legend_lh5 = pytest.importorskip("lh5")

RAW_FILES = [f for f in LH5_FILES if f.name.endswith("tier_raw.lh5")]
P03_CAL_RAW = [f for f in RAW_FILES if "-p03-r001-cal-" in f.name]
BUFFERS = [None, 10, 7, "1 MB"]


def _short(path: Path) -> str:
    return path.name.removeprefix("l200-").removesuffix("-tier_raw.lh5")


def waveform_tables(path: Path) -> list[str]:
    """Every table of the file that holds a waveform table (``ch*/raw``, ``raw/<detector>``)."""
    found: list[str] = []

    def visit(name: str, obj: Any) -> None:
        dt = obj.attrs.get("datatype", b"")
        dt = dt.decode() if isinstance(dt, bytes) else str(dt)
        if isinstance(obj, h5py.Group) and dt.startswith("table{") and "waveform" in dt:
            found.append(name)

    with h5py.File(path, "r", locking=False) as h5f:
        h5f.visititems(visit)
    return sorted(found)


# --- rows as plain arrays, the same for tierflow and LEGEND objects ----------------------------
def leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Each leaf column of a table: numpy rows, or awkward for vectors and encoded bytes."""
    if hasattr(obj, "items") and not hasattr(obj, "nda"):  # Table, WaveformTable, Struct
        out: dict[str, Any] = {}
        for key, col in obj.items():
            out.update(leaves(col, f"{prefix}{key}/"))
        return out
    name = prefix.rstrip("/")
    if hasattr(obj, "encoded_data"):
        return {
            f"{name}/encoded_data": obj.encoded_data.view_as("ak"),
            f"{name}/decoded_size": np.asarray(getattr(obj.decoded_size, "value", None)),
        }
    if hasattr(obj, "cumulative_length"):
        return {name: obj.view_as("ak")}
    return {name: np.array(obj.nda, copy=True)}


def concatenated(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows of ``parts`` (one dict of leaves per chunk or table) one after another."""
    if not parts:
        return {}
    out = {}
    for key, first in parts[0].items():
        values = [p[key] for p in parts]
        if key.endswith("/decoded_size"):
            out[key] = first
        elif isinstance(first, ak.Array):
            out[key] = ak.concatenate(values)
        else:
            out[key] = np.concatenate(values)
    return out


def select_rows(rows: dict[str, Any], entries: np.ndarray) -> dict[str, Any]:
    return {k: v if k.endswith("/decoded_size") else v[entries] for k, v in rows.items()}


def assert_same_rows(ours: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    assert sorted(ours) == sorted(expected), f"{what}: columns differ"
    for key, want in expected.items():
        got = ours[key]
        if isinstance(want, ak.Array):
            assert ak.array_equal(ak.Array(got), want, equal_nan=True), f"{what}: {key} differs"
        else:
            assert got.dtype == want.dtype, f"{what}: {key} dtype {got.dtype} != {want.dtype}"
            assert np.array_equal(got, want, equal_nan=got.dtype.kind in "fc"), (
                f"{what}: {key} differs"
            )


def iterated_rows(it: Any) -> tuple[dict[str, Any], list[int]]:
    """Every chunk of a full pass (copied: the buffer is reused), concatenated."""
    parts, sizes = [], []
    for chunk in it:
        parts.append(leaves(copy.deepcopy(chunk)))
        sizes.append(len(chunk))
    return concatenated(parts), sizes


def whole_tables(files: list[Path], groups: list[str], **read_kwargs: Any) -> dict[str, Any]:
    """Every (file, group) table read whole by tierflow, files outer, concatenated."""
    return concatenated([leaves(lh5.read(g, f, **read_kwargs)) for f in files for g in groups])


def legend_tables(files: list[Path], groups: list[str], **read_kwargs: Any) -> dict[str, Any]:
    """The same, read by LEGEND's ``lh5.read`` (waveforms decoded)."""
    return concatenated(
        [leaves(legend_lh5.read(g, str(f), **read_kwargs)) for f in files for g in groups]
    )


def _buffer_id(b: Any) -> str:
    return "default" if b is None else str(b).replace(" ", "")


def _iterator(files: Any, groups: Any, buffer_len: Any, **kwargs: Any) -> LH5Iterator:
    if buffer_len is not None:
        kwargs["buffer_len"] = buffer_len
    return LH5Iterator(files, groups, **kwargs)


# --- every real raw file -------------------------------------------------------------------------
@pytest.mark.parametrize("buffer_len", BUFFERS, ids=_buffer_id)
@pytest.mark.parametrize("path", RAW_FILES, ids=_short)
def test_every_real_raw_file_iterates_to_its_whole_rows(path: Path, buffer_len: Any) -> None:
    groups = waveform_tables(path)
    assert groups, f"{path.name} has no waveform tables"
    it = _iterator(str(path), groups, buffer_len)
    rows, sizes = iterated_rows(it)
    whole = whole_tables([path], groups)
    assert sum(sizes) == len(it) == len(next(iter(whole.values())))
    if isinstance(buffer_len, int):
        assert all(n == buffer_len for n in sizes[:-1]) and 0 < sizes[-1] <= buffer_len
    assert_same_rows(rows, whole, f"{path.name} buffer_len={buffer_len}")
    assert_same_rows(rows, legend_tables([path], groups), f"{path.name} vs LEGEND's lh5.read")


@pytest.mark.parametrize("buffer_len", BUFFERS, ids=_buffer_id)
@pytest.mark.parametrize("path", RAW_FILES, ids=_short)
def test_every_real_raw_file_iterates_like_legends_iterator(path: Path, buffer_len: Any) -> None:
    groups = waveform_tables(path)
    ours, _ = iterated_rows(_iterator(str(path), groups, buffer_len))
    kwargs = {} if buffer_len is None else {"buffer_len": buffer_len}
    theirs, _ = iterated_rows(legend_lh5.LH5Iterator(str(path), groups, **kwargs))
    assert_same_rows(ours, theirs, f"{path.name} vs LEGEND's LH5Iterator")


def test_the_real_raw_files_hold_both_encoded_waveform_codecs() -> None:
    """The encoded-waveform cases above are really covered: radware and uleb128 are in the files."""
    codecs = set()
    with h5py.File(RAW_P14, "r", locking=False) as h5f:
        h5f.visititems(
            lambda name, obj: codecs.add(str(obj.attrs["codec"])) if "codec" in obj.attrs else None
        )
    assert {"radware_sigcompress", "uleb128_zigzag_diff"} <= codecs


def test_the_first_chunk_of_encoded_waveforms_is_decoded() -> None:
    groups = waveform_tables(RAW_P14)
    chunk = next(iter(LH5Iterator(str(RAW_P14), groups, buffer_len=2)))
    windowed = chunk["waveform_windowed"]
    assert isinstance(windowed, WaveformTable)
    assert windowed.values.nda.shape == (2, 1400)
    first = legend_lh5.read(f"{groups[0]}/waveform_windowed/values", str(RAW_P14))
    assert np.array_equal(windowed.values.nda[0], first.nda[0])


@pytest.mark.parametrize("buffer_len", [1, 7, 10, 25, "1 MB"], ids=_buffer_id)
def test_several_files_and_groups_iterate_to_their_whole_rows(buffer_len: Any) -> None:
    groups = waveform_tables(P03_CAL_RAW[0])
    files = [str(f) for f in P03_CAL_RAW]
    it = LH5Iterator(files, groups, buffer_len=buffer_len)
    rows, sizes = iterated_rows(it)
    assert sum(sizes) == 2 * len(groups) * 10
    assert_same_rows(rows, whole_tables(P03_CAL_RAW, groups), f"buffer_len={buffer_len}")
    assert_same_rows(rows, legend_tables(P03_CAL_RAW, groups), "vs LEGEND's lh5.read")


@pytest.mark.parametrize(
    "field_mask",
    [
        ["waveform", "daqenergy"],
        ["waveform"],
        {"tracelist": False},
        ["waveform/values", "timestamp"],
    ],
    ids=["waveform+daqenergy", "waveform-only", "all-but-tracelist", "waveform-values"],
)
def test_field_masks_with_waveforms_iterate_to_the_masked_rows(field_mask: Any) -> None:
    groups = waveform_tables(P03_CAL_RAW[0])
    it = LH5Iterator([str(f) for f in P03_CAL_RAW], groups, buffer_len=7, field_mask=field_mask)
    rows, _ = iterated_rows(it)
    expected = whole_tables(P03_CAL_RAW, groups, field_mask=field_mask)
    assert_same_rows(rows, expected, f"field_mask={field_mask}")
    assert_same_rows(rows, legend_tables(P03_CAL_RAW, groups, field_mask=field_mask), "LEGEND")


def test_field_mask_of_a_nested_waveform_column_is_what_legend_reads() -> None:
    groups = waveform_tables(P03_CAL_RAW[0])
    mask = ["waveform/values", "timestamp"]
    chunk = next(iter(LH5Iterator(str(P03_CAL_RAW[0]), groups, buffer_len=7, field_mask=mask)))
    assert sorted(chunk.keys()) == ["timestamp", "waveform"]
    assert list(chunk["waveform"].keys()) == ["values"]


@pytest.mark.parametrize("buffer_len", [3, 7, 10])
def test_global_entry_list_over_waveform_tables_picks_those_rows(buffer_len: int) -> None:
    groups = waveform_tables(P03_CAL_RAW[0])
    entries = np.array([0, 3, 9, 10, 11, 19, 28, 31, 45, 59])
    it = LH5Iterator(
        [str(f) for f in P03_CAL_RAW], groups, buffer_len=buffer_len, entry_list=entries
    )
    rows, sizes = iterated_rows(it)
    assert sum(sizes) == len(entries)
    whole = whole_tables(P03_CAL_RAW, groups)
    assert_same_rows(rows, select_rows(whole, entries), f"entry_list, buffer_len={buffer_len}")


def test_per_dataset_entry_lists_and_masks_over_waveform_tables_pick_those_rows() -> None:
    groups = waveform_tables(P03_CAL_RAW[0])[:2]
    per_dataset = [[1, 2, 8], [], [0, 9], [4, 5, 6, 7]]  # 2 files x 2 groups
    it = LH5Iterator([str(f) for f in P03_CAL_RAW], groups, buffer_len=4, entry_list=per_dataset)
    rows, _ = iterated_rows(it)
    global_rows = np.concatenate([np.asarray(e, int) + 10 * i for i, e in enumerate(per_dataset)])
    whole = whole_tables(P03_CAL_RAW, groups)
    assert_same_rows(rows, select_rows(whole, global_rows), "per-dataset entry lists")

    mask = np.zeros(40, bool)
    mask[global_rows] = True
    masked, _ = iterated_rows(
        LH5Iterator([str(f) for f in P03_CAL_RAW], groups, buffer_len=3, entry_mask=mask)
    )
    assert_same_rows(masked, select_rows(whole, global_rows), "entry_mask")


@pytest.mark.parametrize("buffer_len", [None, 7, "1 MB"], ids=_buffer_id)
def test_raw_with_dsp_friend_iterates_both_tables_row_by_row(buffer_len: Any) -> None:
    raw_groups = waveform_tables(P03_CAL_RAW[0])
    dsp_groups = [g.replace("/raw", "/dsp") for g in raw_groups]
    dsp = LH5Iterator([str(f) for f in DSP_CAL], dsp_groups)
    it = _iterator(
        [str(f) for f in P03_CAL_RAW], raw_groups, buffer_len, friend=dsp, friend_prefix="dsp_"
    )
    rows, _ = iterated_rows(it)
    raw_whole = whole_tables(P03_CAL_RAW, raw_groups)
    dsp_whole = {f"dsp_{k}": v for k, v in whole_tables(DSP_CAL, dsp_groups).items()}
    assert_same_rows(rows, {**raw_whole, **dsp_whole}, f"raw + dsp friend, buffer_len={buffer_len}")


def test_a_waveform_friend_joins_a_flat_iterator() -> None:
    raw_groups = waveform_tables(P03_CAL_RAW[0])
    dsp_groups = [g.replace("/raw", "/dsp") for g in raw_groups]
    raw = LH5Iterator([str(f) for f in P03_CAL_RAW], raw_groups, field_mask=["waveform"])
    it = LH5Iterator([str(f) for f in DSP_CAL], dsp_groups, buffer_len=7, friend=raw)
    rows, _ = iterated_rows(it)
    expected = whole_tables(P03_CAL_RAW, raw_groups, field_mask=["waveform"])
    assert_same_rows({k: v for k, v in rows.items() if k.startswith("waveform/")}, expected, "")


# --- the demo's simulated raw file -----------------------------------------------------------------
SIM_GROUPS = ["ch1084803/raw", "ch1084804/raw"]


@pytest.fixture(scope="module", params=[None, "radware_sigcompress", "uleb128_zigzag_diff"])
def sim_raw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small simulated raw file (2 channels x 25 waveforms, seed 1), plain or encoded."""
    codecs = None if request.param is None else {"waveform/values": request.param}
    outdir = tmp_path_factory.mktemp(f"sim-{request.param}")
    run = sim.simulate_run(
        outdir, n_events=25, channels=2, seed=1, compression=False, codecs=codecs
    )
    return run.raw_files[0]


@pytest.mark.parametrize("buffer_len", [None, 7, 10, "1 MB"], ids=_buffer_id)
def test_simulated_raw_file_iterates_to_its_whole_rows(sim_raw: str, buffer_len: Any) -> None:
    rows, sizes = iterated_rows(_iterator(sim_raw, SIM_GROUPS, buffer_len))
    assert sum(sizes) == 50
    assert_same_rows(rows, whole_tables([Path(sim_raw)], SIM_GROUPS), "simulated raw")
    assert_same_rows(rows, legend_tables([Path(sim_raw)], SIM_GROUPS), "simulated raw, LEGEND")


def test_the_issues_call_iterates_a_demo_sized_raw_file(tmp_path: Path) -> None:
    """``LH5Iterator(raw_file, groups, buffer_len=1000)`` on 2 x 600 simulated waveforms."""
    run = sim.simulate_run(tmp_path, n_events=600, channels=2, seed=3, compression=False)
    rows, sizes = iterated_rows(LH5Iterator(run.raw_files[0], SIM_GROUPS, buffer_len=1000))
    assert sizes == [1000, 200]
    assert_same_rows(rows, whole_tables([Path(run.raw_files[0])], SIM_GROUPS), "demo raw")


def _whole_sim(sim_raw: str) -> Table:
    return Table.concat([lh5.read(g, sim_raw) for g in SIM_GROUPS])


@pytest.mark.parametrize("library", ["lgdo", "pd", "ak", "np"])
def test_query_of_a_waveform_table_gives_the_selected_rows(sim_raw: str, library: str) -> None:
    whole = _whole_sim(sim_raw)
    keep = whole["daqenergy"].nda > np.median(whole["daqenergy"].nda)
    it = LH5Iterator(sim_raw, SIM_GROUPS, buffer_len=7)
    cut = float(np.median(whole["daqenergy"].nda))
    out = it.query(f"daqenergy > {cut}", fields=["daqenergy", "waveform"], library=library)
    want = whole["waveform"].values.nda[keep]
    if library == "lgdo":
        assert isinstance(out["waveform"], WaveformTable)
        got = out["waveform"].values.nda
    elif library == "pd":
        got = np.stack(out["waveform_values"].to_list())
    elif library == "ak":
        got = ak.to_numpy(out["waveform"]["values"])
    else:
        got = out["waveform"]["values"]
    assert np.array_equal(got, want)


def test_map_over_a_waveform_table_sees_every_waveform(sim_raw: str) -> None:
    whole = _whole_sim(sim_raw)
    it = LH5Iterator(sim_raw, SIM_GROUPS, buffer_len=7)
    maxima = it.map(lambda tb, it: tb["waveform"].values.nda.max(axis=1).copy())
    assert [len(m) for m in maxima] == [7] * 7 + [1]
    assert np.array_equal(np.concatenate(maxima), whole["waveform"].values.nda.max(axis=1))


def test_hist_of_a_waveform_expression_counts_every_waveform(sim_raw: str) -> None:
    whole = _whole_sim(sim_raw)
    it = LH5Iterator(sim_raw, SIM_GROUPS, buffer_len=7)
    axis = hist.axis.Regular(20, 0, 2**16, name="wfmax")
    h = it.hist(axis, keys="np.max(waveform__values, axis=1)")
    want = hist.Hist(axis).fill(whole["waveform"].values.nda.max(axis=1))
    assert np.array_equal(h.values(), want.values())
    assert h.sum() == 50
