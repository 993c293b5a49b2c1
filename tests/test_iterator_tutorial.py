"""Every cell of LEGEND's "Reading LH5 Data at Scale" tutorial, run on the real test files.

Each cell is written once, as a function of the ``LH5Iterator`` class, with the tutorial's
code unchanged but for ``display`` (the result is returned instead) and ``processes=3``
(2 here: the machine has 2 cores). It runs with ``from tierflow.lh5 import LH5Iterator`` and
with ``from lh5 import LH5Iterator`` (legend-lh5io, the oracle), and the results must match.

Where the two differ by design, the test says so: LEGEND's ``map(processes=N)`` without an
executor runs serially and returns one aggregate (a dict), so the tutorial's last loop cannot
run there; ours returns a list of partial aggregates, one per work item, that the loop combines.
Multi-process cells are compared with LEGEND's serial result (its pools would fork).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hist import axis

from testdata import DSP_CAL, HIT_CAL
from tierflow.lh5 import LH5Iterator as TierflowIterator

if len(HIT_CAL) < 2 or len(DSP_CAL) < 2:
    pytest.skip("the prod-ref-l200 hit and dsp cal files are missing", allow_module_level=True)

lh5_hit_dir = str(HIT_CAL[0].parent)
lh5_dsp_dir = str(DSP_CAL[0].parent)
channels = ["ch1084803", "ch1084804", "ch1121600"]
#: rows in the 2 files x 3 channels x 10 rows the tutorial reads
N_ROWS = 60


# --- the tutorial's cells ---------------------------------------------------------------------
def tutorial_iterator(LH5Iterator):
    lh5_it = LH5Iterator(
        lh5_files=f"{lh5_hit_dir}/*.lh5",  # all files in directory
        groups=[f"{ch}/hit" for ch in channels],  # hit table for all channels
        field_mask=["is_valid_cal", "cuspEmax_ctc_cal"],  # read only these fields
        buffer_len=20,  # read 20 entries at a time; default reads 100 MB worth of entries
    )
    return lh5_it


def cell_loop(LH5Iterator):
    lh5_it = tutorial_iterator(LH5Iterator)
    shown = []
    pd.set_option("display.max_rows", 6)
    for tb in lh5_it:
        shown.append(tb.view_as("pd").copy())  # display(tb.view_as("pd"))
    pd.reset_option("display.max_rows")
    return shown


def cell_current_files(LH5Iterator):
    lh5_it = tutorial_iterator(LH5Iterator)
    outputs = []
    for tb in lh5_it:
        df = tb.view_as("pd")
        df["file"] = lh5_it.current_files
        df["group"] = lh5_it.current_groups
        df = df.query("is_valid_cal and cuspEmax_ctc_cal>500")
        outputs += [df]
    df = pd.concat(outputs)
    return df


def cell_friends(LH5Iterator):
    lh5_it = LH5Iterator(
        lh5_files=f"{lh5_hit_dir}/*.lh5",
        groups=[f"{ch}/hit" for ch in channels],
        field_mask=["is_valid_cal", "cuspEmax_ctc_cal"],
        buffer_len=20,
        friend=LH5Iterator(
            lh5_files=f"{lh5_dsp_dir}/*.lh5",
            groups=[f"{ch}/dsp" for ch in channels],
            field_mask=["tp_0_est", "tp_90"],
        ),
    )
    outputs = []
    for tb in lh5_it:
        df = tb.view_as("pd")
        df = df.query("is_valid_cal and (tp_90 - tp_0_est)>1000")
        outputs += [df]
    df = pd.concat(outputs)
    return df


def cell_group_data(LH5Iterator):
    chan_data = {
        "chanid": [1084803, 1084804, 1121600],
        "detname": ["huey", "dewey", "louie"],
    }
    lh5_it = LH5Iterator(
        lh5_files=f"{lh5_hit_dir}/*.lh5",
        groups=[f"{ch}/hit" for ch in channels],
        field_mask=["is_valid_cal", "cuspEmax_ctc_cal"],
        group_data=chan_data,
        buffer_len=20,
    )
    outputs = []
    for tb in lh5_it:
        df = tb.view_as("pd")
        df = df.query("is_valid_cal and cuspEmax_ctc_cal>500")
        outputs += [df]
    df = pd.concat(outputs)
    return df


def cell_query(LH5Iterator, **legend_kwargs):
    lh5_it = tutorial_iterator(LH5Iterator)
    df = lh5_it.query("is_valid_cal & (cuspEmax_ctc_cal>500)", library="pd", **legend_kwargs)
    return df


def cell_query_processes(LH5Iterator):
    lh5_it = tutorial_iterator(LH5Iterator)
    df = lh5_it.query("is_valid_cal & (cuspEmax_ctc_cal>500)", processes=2, library="pd")
    return df


def cell_hist(LH5Iterator, **legend_kwargs):
    lh5_it = tutorial_iterator(LH5Iterator)
    h = lh5_it.hist(
        axis.Regular(30, 0, 3000, label="Energy (keV)"),
        where="is_valid_cal",
        keys="cuspEmax_ctc_cal",
        **legend_kwargs,
    )
    return h


# Select valid events and return energy and channel name
def selector(lh5_tb, lh5_it):
    df = lh5_tb.view_as("pd")
    mask = df.is_valid_cal
    E_col = df.cuspEmax_ctc_cal[mask]
    chan_col = lh5_it.current_groups[mask]
    chan_col = np.strings.replace(chan_col, "/hit", "")

    return E_col, chan_col


def cell_hist_selector(LH5Iterator, **legend_kwargs):
    lh5_it = tutorial_iterator(LH5Iterator)
    h = lh5_it.hist(
        [
            axis.Regular(30, 0, 3000, label="Energy (keV)"),
            axis.StrCategory([], growth=True, label="Channel"),
        ],
        where=selector,
        **legend_kwargs,
    )
    return h


# Count events in each channel with >400 keV of energy and store the results in a dict
def fill(lh5_tab, lh5_it):
    cts = {}
    for chan in np.unique(lh5_it.current_groups):
        key = chan.replace("/hit", "")
        cts[key] = np.sum(
            lh5_tab.is_valid_cal.nda
            & (lh5_tab.cuspEmax_ctc_cal.nda > 400)
            & (lh5_it.current_groups == chan)
        )
    return cts


# add results for each channel
def aggregate(cts_sum, cts_in):
    for key, cts in cts_in.items():
        if key in cts_sum:
            cts_sum[key] += cts
        else:
            cts_sum[key] = cts
    return cts_sum


def cell_map(LH5Iterator, processes=2):
    lh5_it = tutorial_iterator(LH5Iterator)
    results = lh5_it.map(
        fill,  # process chunks of data
        aggregate=aggregate,  # function for combining results
        init={},  # initial value of aggregation
        processes=processes,
    )
    return results


def cell_map_total(results):
    total_cts = {}
    for cts_sum in results:
        aggregate(total_cts, cts_sum)
    return total_cts


# --- comparing ---------------------------------------------------------------------------------
def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def normalised(df: pd.DataFrame) -> pd.DataFrame:
    """Index reset, string columns (numpy str, StringDType, pandas str) as Python ``str``."""
    out = df.reset_index(drop=True).copy()
    for name in out.columns:
        if out[name].dtype.kind in "OSUT" or isinstance(out[name].dtype, pd.StringDtype):
            out[name] = out[name].astype(object).map(_text).astype(object)
    return out


def assert_frames_equal(ours: pd.DataFrame, legend: pd.DataFrame) -> None:
    assert list(ours.columns) == list(legend.columns)
    pd.testing.assert_frame_equal(normalised(ours), normalised(legend), check_exact=True)


def assert_hists_equal(ours, legend) -> None:
    assert len(ours.axes) == len(legend.axes)
    for a, b in zip(ours.axes, legend.axes, strict=True):
        assert a.label == b.label
        assert list(a) == list(b)  # bin edges, or the categories in order of appearance
    np.testing.assert_array_equal(ours.values(), legend.values())


@pytest.fixture(scope="module")
def hit_columns() -> dict[str, np.ndarray]:
    """The tutorial's columns, read straight from the files (file outer, channel inner)."""
    import h5py

    cols: dict[str, list] = {"is_valid_cal": [], "cuspEmax_ctc_cal": [], "group": []}
    for path in sorted(HIT_CAL):
        with h5py.File(path, "r") as f:
            for ch in channels:
                cols["is_valid_cal"].append(f[f"{ch}/hit/is_valid_cal"][()].astype(bool))
                cols["cuspEmax_ctc_cal"].append(f[f"{ch}/hit/cuspEmax_ctc_cal"][()])
                cols["group"].append(np.full(len(cols["is_valid_cal"][-1]), f"{ch}/hit"))
    return {k: np.concatenate(v) for k, v in cols.items()}


@pytest.fixture(scope="module")
def LegendIterator():
    """LEGEND's iterator, imported here and not at the top: worker processes import this module
    to find ``fill`` and ``aggregate``, and need not import legend-lh5io for that."""
    return pytest.importorskip("lh5").LH5Iterator


# --- the tests ------------------------------------------------------------------------------------
def test_tutorial_files_are_the_expected_ones(hit_columns):
    assert len(hit_columns["is_valid_cal"]) == N_ROWS
    assert hit_columns["is_valid_cal"].dtype == bool
    assert len(TierflowIterator(f"{lh5_hit_dir}/*.lh5", [f"{ch}/hit" for ch in channels])) == N_ROWS


def test_loop_chunks_equal_legend(hit_columns, LegendIterator):
    ours, legend = cell_loop(TierflowIterator), cell_loop(LegendIterator)
    assert [len(df) for df in ours] == [len(df) for df in legend] == [20, 20, 20]
    for a, b in zip(ours, legend, strict=True):
        assert_frames_equal(a, b)
        assert a.dtypes.tolist() == [np.dtype(bool), np.dtype("float64")]
    energy = np.concatenate([df["cuspEmax_ctc_cal"].to_numpy() for df in ours])
    np.testing.assert_array_equal(energy, hit_columns["cuspEmax_ctc_cal"])


def test_loop_with_current_files_and_groups_equals_legend(hit_columns, LegendIterator):
    ours, legend = cell_current_files(TierflowIterator), cell_current_files(LegendIterator)
    assert len(ours) > 0
    assert_frames_equal(ours, legend)
    # and both are right: the selection made with numpy on the raw columns
    sel = hit_columns["is_valid_cal"] & (hit_columns["cuspEmax_ctc_cal"] > 500)
    np.testing.assert_array_equal(ours["cuspEmax_ctc_cal"], hit_columns["cuspEmax_ctc_cal"][sel])
    assert ours["group"].tolist() == hit_columns["group"][sel].tolist()
    assert {_text(f) for f in ours["file"]} <= {str(p) for p in HIT_CAL}


def test_friends_with_dsp_tier_equal_legend(LegendIterator):
    ours, legend = cell_friends(TierflowIterator), cell_friends(LegendIterator)
    assert len(ours) > 0
    assert set(ours.columns) == {"is_valid_cal", "cuspEmax_ctc_cal", "tp_0_est", "tp_90"}
    assert_frames_equal(ours, legend)
    assert ((ours["tp_90"] - ours["tp_0_est"]) > 1000).all()


def test_group_data_equals_legend(LegendIterator):
    ours, legend = cell_group_data(TierflowIterator), cell_group_data(LegendIterator)
    assert_frames_equal(ours, legend)
    names = {1084803: "huey", 1084804: "dewey", 1121600: "louie"}
    assert [names[c] for c in ours["chanid"]] == [_text(d) for d in ours["detname"]]
    assert set(ours["chanid"]) == set(names)


def test_query_pd_equals_legend(hit_columns, LegendIterator):
    ours = cell_query(TierflowIterator)
    legend = cell_query(LegendIterator, progress=False)
    assert isinstance(ours, pd.DataFrame)
    assert_frames_equal(ours, legend)
    sel = hit_columns["is_valid_cal"] & (hit_columns["cuspEmax_ctc_cal"] > 500)
    assert len(ours) == sel.sum() > 0


def test_query_with_processes_equals_legend(LegendIterator):
    ours = cell_query_processes(TierflowIterator)
    legend = cell_query(LegendIterator, progress=False)  # LEGEND's pool would fork: serial
    assert_frames_equal(ours, legend)
    assert_frames_equal(ours, cell_query(TierflowIterator))


def test_hist_with_keys_and_where_equals_legend(hit_columns, LegendIterator):
    ours = cell_hist(TierflowIterator)
    legend = cell_hist(LegendIterator, progress=False)
    assert_hists_equal(ours, legend)
    valid = hit_columns["cuspEmax_ctc_cal"][hit_columns["is_valid_cal"]]
    expected, _ = np.histogram(valid, bins=np.linspace(0, 3000, 31))
    np.testing.assert_array_equal(ours.values(), expected)
    assert ours.values().sum() > 0


def test_hist_with_selector_and_growing_category_equals_legend(hit_columns, LegendIterator):
    ours = cell_hist_selector(TierflowIterator)
    legend = cell_hist_selector(LegendIterator, progress=False)
    assert_hists_equal(ours, legend)
    assert list(ours.axes[1]) == channels
    per_channel = ours.values(flow=True).sum(axis=0)
    valid_groups = hit_columns["group"][hit_columns["is_valid_cal"]]
    assert per_channel.tolist() == [np.sum(valid_groups == f"{ch}/hit") for ch in channels]


def test_map_with_aggregate_and_processes_equals_legend(hit_columns, LegendIterator):
    results = cell_map(TierflowIterator)
    assert isinstance(results, list) and len(results) >= 1
    assert all(isinstance(r, dict) for r in results)
    ours = cell_map_total(results)

    # LEGEND runs processes=N without an executor serially and gives a single dict, so the
    # tutorial's last loop (over partial results) cannot run on it: compare with that dict
    legend = cell_map(LegendIterator)
    assert isinstance(legend, dict)
    assert ours == legend

    sel = hit_columns["is_valid_cal"] & (hit_columns["cuspEmax_ctc_cal"] > 400)
    expected = {ch: int(np.sum(sel & (hit_columns["group"] == f"{ch}/hit"))) for ch in channels}
    assert {k: int(v) for k, v in ours.items()} == expected
    # serially, the same total
    assert cell_map_total(cell_map(TierflowIterator, processes=None)) == ours
