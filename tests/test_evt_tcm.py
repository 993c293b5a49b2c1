"""build_tcm against pygama's (test-only oracle), LEGEND's real tcm files and simulated runs."""

from __future__ import annotations

import glob
import os

import h5py
import numpy as np
import pytest

from testdata import LH5_DATA
from tierflow import lh5
from tierflow.errors import EventError
from tierflow.evt import build_tcm, read_tcm
from tierflow.sim.run import draw_cycles
from tierflow.types import Table

pygama_evt = pytest.importorskip("pygama.evt")

TIER = str(LH5_DATA)
CYCLES = ["20230318T012144Z", "20230318T012228Z"]


def _tier_file(tier: str, cycle: str) -> str:
    return glob.glob(f"{TIER}/{tier}/cal/p03/r001/*{cycle}-tier_{tier}.lh5")[0]


def _lists(table) -> tuple[list, list]:
    return table["table_key"].view_as("ak").tolist(), table["row_in_table"].view_as("ak").tolist()


def _write_channels(path: str, columns: dict[int, dict[str, np.ndarray]]) -> None:
    for ch, cols in columns.items():
        lh5.write(
            Table(cols), f"ch{ch:03d}/hit", path, wo_mode="of" if not os.path.exists(path) else "a"
        )


@pytest.mark.skipif(not os.path.isdir(TIER), reason="LEGEND test data missing")
@pytest.mark.parametrize("cycle", CYCLES)
@pytest.mark.parametrize("tier", ["hit", "dsp"])
def test_real_files_equal_pygama(tier, cycle):
    inputs = [(_tier_file(tier, cycle), f"ch*/{tier}")]
    ours = build_tcm(inputs, "timestamp")
    theirs = pygama_evt.build_tcm(inputs, "timestamp")
    assert _lists(ours) == _lists(theirs)
    assert ours.attrs["hash_func"] == theirs.attrs["hash_func"]
    assert ours.attrs["tables"] == theirs.attrs["tables"]


@pytest.mark.skipif(not os.path.isdir(TIER), reason="LEGEND test data missing")
@pytest.mark.parametrize("cycle", CYCLES)
def test_real_tcm_file_equals_build_on_raw_eventnumber(cycle, tmp_path):
    # LEGEND's hardware_tcm_1: raw tables, coincidence column eventnumber, window 0
    real = read_tcm(_tier_file("tcm", cycle), "hardware_tcm_1")
    out = str(tmp_path / "tcm.lh5")
    built = build_tcm(
        [(_tier_file("raw", cycle), "ch*/raw")],
        "eventnumber",
        out_file=out,
        out_name="hardware_tcm_1",
    )
    written = read_tcm(out, "hardware_tcm_1")
    assert np.array_equal(written.cumulative_length, real.cumulative_length)
    assert np.array_equal(written.table_key, real.table_key)
    assert np.array_equal(written.row_in_table, real.row_in_table)
    assert built.attrs["tables"] == real.attrs["tables"]
    assert _lists(built) == _lists(
        pygama_evt.build_tcm([(_tier_file("raw", cycle), "ch*/raw")], "eventnumber")
    )


def test_older_layout_read(tmp_path):
    # pygama < 2.1: a table of three flat arrays, array_id/array_idx longer than cumulative_length
    path = str(tmp_path / "old.lh5")
    with h5py.File(path, "w") as f:
        group = f.create_group("tcm")
        group.attrs["datatype"] = "table{cumulative_length,array_id,array_idx}"
        for name, values in (
            ("cumulative_length", [2, 3]),
            ("array_id", [1, 2, 1]),
            ("array_idx", [0, 0, 1]),
        ):
            group.create_dataset(name, data=np.array(values, dtype=np.uint32))
            group[name].attrs["datatype"] = "array<1>{real}"
    tcm = read_tcm(path, "tcm")
    assert tcm.cumulative_length.tolist() == [2, 3]
    assert tcm.table_key.tolist() == [1, 2, 1]
    assert tcm.row_in_table.tolist() == [0, 0, 1]
    assert tcm.event_of_hits().tolist() == [0, 0, 1]


def test_read_tcm_refuses_other_tables(tmp_path):
    path = str(tmp_path / "x.lh5")
    lh5.write(Table({"energy": np.array([1.0])}), "tcm", path)
    with pytest.raises(EventError, match="energy"):
        read_tcm(path, "tcm")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    cycle = next(draw_cycles(300, 5, seed=7))
    path = str(tmp_path_factory.mktemp("sim") / f"l200-p00-r000-cal-{cycle.timestamp}-tier_hit.lh5")
    _write_channels(
        path,
        {
            i: {
                "timestamp": cycle.start_time + cycle.runtime[i],
                "eventnumber": cycle.eventnumber[i],
            }
            for i in range(len(cycle.runtime))
        },
    )
    return cycle, path


def test_simulated_run_events_recovered(simulated):
    cycle, path = simulated
    tcm = read_tcm_from(build_tcm([(path, "ch*/hit")], "timestamp"))
    numbers = np.concatenate(cycle.eventnumber)
    offsets = np.cumsum([0] + [len(e) for e in cycle.eventnumber])
    hit_number = numbers[offsets[tcm.table_key] + tcm.row_in_table]
    event = tcm.event_of_hits()
    # every event holds one simulated event number, and each number is one event
    assert tcm.n_events == len(np.unique(numbers))
    assert len(np.unique(np.stack([event, hit_number]), axis=1)[0]) == tcm.n_events
    assert len(np.unique(hit_number[np.r_[0, tcm.cumulative_length[:-1]]])) == tcm.n_events
    assert np.any(np.diff(tcm.cumulative_length, prepend=0) > 1)  # pulser coincidences exist


def read_tcm_from(table):
    from tierflow.evt import TCM

    return TCM(
        table["table_key"].cumulative_length.nda,
        table["table_key"].flattened_data.nda,
        table["row_in_table"].flattened_data.nda,
    )


@pytest.mark.parametrize("window", [0, 0.05, 1.0])
def test_simulated_equals_pygama_and_small_buffers(simulated, window):
    _, path = simulated
    inputs = [(path, "ch*/hit")]
    big = build_tcm(inputs, "timestamp", coin_windows=window)
    assert _lists(big) == _lists(pygama_evt.build_tcm(inputs, "timestamp", coin_windows=window))
    for buffer_len in (1, 7, 100):
        assert _lists(
            build_tcm(inputs, "timestamp", coin_windows=window, buffer_len=buffer_len)
        ) == _lists(big)


def test_two_coincidence_columns_equal_pygama(simulated):
    _, path = simulated
    inputs = [(path, "ch*/hit")]
    ours = build_tcm(inputs, ["timestamp", "eventnumber"], coin_windows=[0.5, 0], buffer_len=13)
    assert _lists(ours) == _lists(
        pygama_evt.build_tcm(inputs, ["timestamp", "eventnumber"], coin_windows=[0.5, 0])
    )


def test_window_ref_first_is_rigid(tmp_path):
    path = str(tmp_path / "h.lh5")
    _write_channels(
        path, {1: {"t": np.array([0.0, 2.0, 4.0])}, 2: {"t": np.array([1.0, 3.0, 10.0])}}
    )
    last = build_tcm([(path, "ch*/hit")], "t", coin_windows=1.5, window_refs="last")
    first = build_tcm([(path, "ch*/hit")], "t", coin_windows=1.5, window_refs="first", buffer_len=1)
    assert _lists(last)[0] == [[1, 2, 1, 2, 1], [2]]
    assert _lists(first)[0] == [[1, 2], [1, 2], [1], [2]]
    assert _lists(first)[1] == [[0, 0], [1, 1], [2], [2]]


def test_out_of_order_channel(tmp_path):
    path = str(tmp_path / "h.lh5")
    rng = np.random.default_rng(3)
    t1, t2 = rng.permutation(50).astype(float), np.arange(0.5, 50, 2.0)[::-1].copy()
    _write_channels(path, {1: {"t": t1}, 2: {"t": t2}})
    inputs = [(path, "ch*/hit")]
    # pygama sorts each buffer: right with one buffer holding the channel, wrong with smaller ones
    pygama_whole = _lists(pygama_evt.build_tcm(inputs, "t", coin_windows=0.6))
    assert _lists(pygama_evt.build_tcm(inputs, "t", coin_windows=0.6, buffer_len=4)) != pygama_whole
    # semantics: as if every channel were sorted in full, whatever the buffers
    sorted_path = str(tmp_path / "sorted.lh5")
    o1, o2 = np.argsort(t1), np.argsort(t2)
    _write_channels(sorted_path, {1: {"t": t1[o1]}, 2: {"t": t2[o2]}})
    expected_keys, expected_rows = _lists(
        build_tcm([(sorted_path, "ch*/hit")], "t", coin_windows=0.6)
    )
    orig = {1: o1, 2: o2}
    expected_rows = [
        [int(orig[k][r]) for k, r in zip(ks, rs, strict=True)]
        for ks, rs in zip(expected_keys, expected_rows, strict=True)
    ]
    for buffer_len in (None, 1, 4, 17):
        keys, rows = _lists(build_tcm(inputs, "t", coin_windows=0.6, buffer_len=buffer_len))
        assert keys == expected_keys
        assert rows == expected_rows
    assert pygama_whole == (expected_keys, expected_rows)


def test_out_fields_and_written_file(simulated, tmp_path):
    _, path = simulated
    out = str(tmp_path / "tcm.lh5")
    table = build_tcm(
        [(path, "ch*/hit")], "timestamp", out_file=out, out_fields="eventnumber", buffer_len=50
    )
    # pygama 2.6 reads only coin_cols, so its out_fields fails: gather by hand
    keys, rows = _lists(table)
    numbers = {k: lh5.read(f"ch{k:03d}/hit/eventnumber", path).nda for k in range(5)}
    expected = [
        [int(numbers[k][r]) for k, r in zip(ks, rs, strict=True)]
        for ks, rs in zip(keys, rows, strict=True)
    ]
    assert table["eventnumber"].view_as("ak").tolist() == expected
    assert lh5.read("tcm", out)["row_in_table"].view_as("ak").tolist() == _lists(table)[1]


def test_missing_coincidence_column(simulated):
    _, path = simulated
    with pytest.raises(EventError, match=r"ch000/hit.*'energy'"):
        build_tcm([(path, "ch*/hit")], "energy")


def test_nan_in_coincidence_column(tmp_path):
    path = str(tmp_path / "h.lh5")
    _write_channels(path, {1: {"t": np.array([0.0, 1.0])}, 2: {"t": np.array([np.nan, 1.0])}})
    with pytest.raises(EventError, match=r"h\.lh5.*ch002/hit.*'t'.*NaN"):
        build_tcm([(path, "ch*/hit")], "t")


def test_no_table_matches_lists_tables(simulated):
    _, path = simulated
    with pytest.raises(EventError, match=r"no table matches .ch\*/dsp.*ch000/hit"):
        build_tcm([(path, "ch*/dsp")], "timestamp")


@pytest.mark.skipif(not os.path.isdir(TIER), reason="LEGEND test data missing")
def test_cycles_mixed():
    inputs = [(_tier_file("hit", c), "ch*/hit") for c in CYCLES]
    with pytest.raises(EventError, match="different cycles"):
        build_tcm(inputs, "timestamp")


@pytest.mark.parametrize(
    ("windows", "refs"),
    [
        (-1.0, "last"),
        (float("nan"), "last"),
        ("1", "last"),
        ([1.0, 2.0], "last"),
        (0, "middle"),
        (0, ["last"] * 3),
    ],
)
def test_bad_windows(simulated, windows, refs):
    _, path = simulated
    with pytest.raises(EventError):
        build_tcm([(path, "ch*/hit")], "timestamp", coin_windows=windows, window_refs=refs)
