"""query, hist and to_dask of an LH5Iterator, run serially (see test_iterator_parallel.py for
the same on pools): every library, selection functions returning each supported kind, hist
weights, key expressions, axes matched by name and label, and dask collections.

Expected values are computed with numpy from the arrays written into ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import hist
import numpy as np
import pandas as pd
import pytest

from tierflow import lh5
from tierflow.lh5 import LH5Iterator
from tierflow.types import Array, Table, VectorOfVectors

GROUPS = ["ch0/hit", "ch1/hit", "ch2/hit"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    """Two files of three groups (one empty in each): energy ``e``, ``flag``, row number ``k``,
    a vector column ``hits`` and an int channel ``ch``."""
    rng = np.random.default_rng(21)
    tmp: Path = tmp_path_factory.mktemp("verbs")
    cols: dict[str, list] = {"e": [], "flag": [], "k": [], "ch": [], "hits": [], "group": []}
    files, total = [], 0
    for f, sizes in enumerate([[13, 0, 8], [0, 11, 5]]):
        path = str(tmp / f"f{f}.lh5")
        files.append(path)
        for g, n in enumerate(sizes):
            e = rng.uniform(0, 3000, n)
            flag = rng.random(n) < 0.7
            k = np.arange(total, total + n)
            ch = np.full(n, g, dtype=np.int32)
            lengths = rng.integers(0, 4, n)
            values = rng.normal(size=int(lengths.sum()))
            hits = VectorOfVectors(
                flattened_data=Array(values),
                cumulative_length=Array(np.cumsum(lengths).astype(np.uint32)),
            )
            lh5.write(
                Table({"e": e, "flag": flag, "k": k, "ch": ch, "hits": hits}),
                GROUPS[g],
                path,
                wo_mode="a",
            )
            total += n
            for name, v in (("e", e), ("flag", flag), ("k", k), ("ch", ch)):
                cols[name].append(v)
            cols["hits"] += np.split(values, np.cumsum(lengths)[:-1]) if n else []
            cols["group"] += [GROUPS[g]] * n
    out = {k: np.concatenate(v) for k, v in cols.items() if k not in ("hits", "group")}
    out["hits"] = cols["hits"]
    out["group"] = np.array(cols["group"])
    out["files"] = files
    return out


@pytest.fixture
def it(data) -> LH5Iterator:
    return LH5Iterator(data["files"], GROUPS, buffer_len=6)


def assert_hits_equal(got, want) -> None:
    got = [np.asarray(v, dtype=float) for v in got]
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


# --- query -----------------------------------------------------------------------------------------
def test_query_lgdo(it, data):
    sel = data["flag"] & (data["e"] > 1000)
    tb = it.query("flag & (e > 1000)")
    assert isinstance(tb, Table)
    assert len(tb) == sel.sum() > 0
    np.testing.assert_array_equal(tb["k"].nda, data["k"][sel])
    assert_hits_equal(tb["hits"], [h for h, s in zip(data["hits"], sel, strict=True) if s])


def test_query_pd(it, data):
    sel = data["flag"] & (data["e"] > 1000)
    df = it.query("flag & (e > 1000)", library="pd")
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["ch", "e", "flag", "hits", "k"]
    assert df.index.tolist() == list(range(sel.sum()))
    np.testing.assert_array_equal(df["e"], data["e"][sel])
    assert_hits_equal(df["hits"], [h for h, s in zip(data["hits"], sel, strict=True) if s])


def test_query_ak(it, data):
    sel = data["e"] < 500
    arr = it.query("e < 500", library="ak")
    assert isinstance(arr, ak.Array)
    np.testing.assert_array_equal(ak.to_numpy(arr.k), data["k"][sel])
    assert_hits_equal(arr.hits.tolist(), [h for h, s in zip(data["hits"], sel, strict=True) if s])


def test_query_np(it, data):
    sel = data["ch"] == 2
    out = it.query("ch == 2", library="np")
    assert isinstance(out, dict)
    np.testing.assert_array_equal(out["k"], data["k"][sel])
    np.testing.assert_array_equal(out["e"], data["e"][sel])
    # the vector column, padded with NaN to the longest vector of the whole result
    hits = [h for h, s in zip(data["hits"], sel, strict=True) if s]
    width = max(len(h) for h in hits)
    assert out["hits"].shape == (sel.sum(), width)
    for row, h in zip(out["hits"], hits, strict=True):
        np.testing.assert_array_equal(row[: len(h)], h)
        assert np.isnan(row[len(h) :]).all()


def test_query_everything(it, data):
    # where=None: every row; the result must not be views of the reused buffer
    tb = it.query(None)
    np.testing.assert_array_equal(tb["k"].nda, data["k"])
    assert_hits_equal(tb["hits"], data["hits"])
    df = it.query(None, library="pd")
    np.testing.assert_array_equal(df["e"], data["e"])
    assert_hits_equal(df["hits"], data["hits"])
    arr = it.query("", library="ak")
    assert_hits_equal(arr.hits.tolist(), data["hits"])


def test_query_fields_list_and_aliases(it, data):
    sel = data["flag"]
    df = it.query("flag", fields=["k", "e"], library="pd")
    assert list(df.columns) == ["k", "e"]
    np.testing.assert_array_equal(df["k"], data["k"][sel])
    df = it.query("flag", fields={"k": "row", "e": None}, library="pd")
    assert list(df.columns) == ["row", "e"]
    np.testing.assert_array_equal(df["row"], data["k"][sel])


def test_query_selecting_nothing(it):
    df = it.query("e < 0", library="pd")
    assert len(df) == 0
    assert list(df.columns) == ["ch", "e", "flag", "hits", "k"]
    assert len(it.query("e < 0")) == 0


def test_query_jagged_expression(it, data):
    n_hits = np.array([len(h) for h in data["hits"]])
    df = it.query("ak.num(hits, axis=-1) >= 2", fields=["k"], library="pd")
    np.testing.assert_array_equal(df["k"], data["k"][n_hits >= 2])


def select_df(tb, it):
    df = tb.view_as("pd")
    return df[df.e > 2000][["k", "e"]]


def select_ak(tb, it):
    arr = tb.view_as("ak")
    return arr[arr.e > 2000]


def select_tuple(tb, it):
    mask = tb["e"].nda > 2000
    return tb["k"].nda[mask], it.current_groups[mask]


def select_dict(tb, it):
    mask = tb["e"].nda > 2000
    return {"k": tb["k"].nda[mask], "twice": 2 * tb["e"].nda[mask]}


def select_table(tb, it):
    return tb[tb["e"].nda > 2000]


def test_query_function_returning_dataframe(it, data):
    sel = data["e"] > 2000
    df = it.query(select_df)
    assert isinstance(df, pd.DataFrame)
    assert df.index.tolist() == list(range(sel.sum()))
    np.testing.assert_array_equal(df["k"], data["k"][sel])


def test_query_function_returning_awkward(it, data):
    sel = data["e"] > 2000
    arr = it.query(select_ak)
    assert isinstance(arr, ak.Array)
    np.testing.assert_array_equal(ak.to_numpy(arr.k), data["k"][sel])
    assert_hits_equal(arr.hits.tolist(), [h for h, s in zip(data["hits"], sel, strict=True) if s])


def test_query_function_returning_tuple_of_arrays(it, data):
    sel = data["e"] > 2000
    k, groups = it.query(select_tuple)
    np.testing.assert_array_equal(k, data["k"][sel])
    assert groups.tolist() == data["group"][sel].tolist()


def test_query_function_returning_dict_and_table(it, data):
    sel = data["e"] > 2000
    out = it.query(select_dict)
    np.testing.assert_array_equal(out["twice"], 2 * data["e"][sel])
    tb = it.query(select_table)
    assert isinstance(tb, Table)
    np.testing.assert_array_equal(tb["k"].nda, data["k"][sel])
    assert_hits_equal(tb["hits"], [h for h, s in zip(data["hits"], sel, strict=True) if s])
    df = it.query(select_table, library="pd")
    np.testing.assert_array_equal(df["k"], data["k"][sel])


def test_query_with_entry_list_and_i_start(data):
    rows = np.array([0, 12, 13, 20, 21, 31, 36])
    it = LH5Iterator(data["files"], GROUPS, entry_list=rows, i_start=1, n_entries=5, buffer_len=2)
    df = it.query(None, fields=["k"], library="pd")
    np.testing.assert_array_equal(df["k"], rows[1:6])


def test_query_bad_library(it):
    with pytest.raises(ValueError, match="library"):
        it.query("flag", library="polars")


# --- hist -----------------------------------------------------------------------------------------------
def numpy_hist(values, edges, weights=None):
    return np.histogram(values, bins=edges, weights=weights)[0]


def test_hist_axis_matched_by_name(it, data):
    h = it.hist(hist.axis.Regular(30, 0, 3000, name="e"))
    np.testing.assert_array_equal(h.values(), numpy_hist(data["e"], np.linspace(0, 3000, 31)))


def test_hist_axis_matched_by_label(it, data):
    h = it.hist(hist.axis.Regular(30, 0, 3000, label="e"), where="flag")
    expected = numpy_hist(data["e"][data["flag"]], np.linspace(0, 3000, 31))
    np.testing.assert_array_equal(h.values(), expected)


def test_hist_key_expressions_and_weights(it, data):
    h = it.hist(
        [hist.axis.Regular(20, 0, 6, label="E (MeV)"), hist.axis.Integer(0, 3, label="channel")],
        where="flag",
        keys=["e / 1000 * 2", "ch"],
        weights="e / 3000",
    )
    sel = data["flag"]
    expected, _, _ = np.histogram2d(
        data["e"][sel] / 1000 * 2,
        data["ch"][sel],
        bins=[np.linspace(0, 6, 21), np.arange(4)],
        weights=data["e"][sel] / 3000,
    )
    np.testing.assert_allclose(h.values(), expected, rtol=1e-12)
    assert h.sum() == pytest.approx((data["e"][sel] / 3000).sum())


def test_hist_weights_with_weight_storage(it, data):
    h = it.hist(
        hist.axis.Regular(3, 0, 3000, name="e"), weights="2 * ch", storage=hist.storage.Weight()
    )
    w = 2 * data["ch"]
    np.testing.assert_allclose(h.values(), numpy_hist(data["e"], [0, 1000, 2000, 3000], w))
    np.testing.assert_allclose(
        h.variances(), numpy_hist(data["e"], [0, 1000, 2000, 3000], w.astype(float) ** 2)
    )


def hist_selector(tb, it):
    mask = tb["flag"].nda
    return tb["e"].nda[mask], np.strings.replace(it.current_groups[mask], "/hit", "")


def test_hist_function_and_growing_category(it, data):
    h = it.hist(
        [hist.axis.Regular(3, 0, 3000, label="E"), hist.axis.StrCategory([], growth=True)],
        where=hist_selector,
    )
    sel = data["flag"]
    order = list(dict.fromkeys(data["group"][sel]))  # in order of appearance
    assert list(h.axes[1]) == [g.replace("/hit", "") for g in order]
    for j, group in enumerate(order):
        in_group = sel & (data["group"] == group)
        np.testing.assert_array_equal(
            h.values()[:, j], numpy_hist(data["e"][in_group], [0, 1000, 2000, 3000])
        )


def test_hist_function_returning_dataframe(it, data):
    h = it.hist(
        hist.axis.Regular(10, 0, 3000, name="energy"),
        where=lambda tb, it: pd.DataFrame({"energy": tb["e"].nda}),
    )
    np.testing.assert_array_equal(h.values(), numpy_hist(data["e"], np.linspace(0, 3000, 11)))


def test_hist_fills_a_given_histogram(it, data):
    h0 = hist.Hist(hist.axis.Regular(3, 0, 3000, name="e"))
    h0.fill([10.0, 10.0])
    h = it.hist(h0)
    expected = numpy_hist(data["e"], [0, 1000, 2000, 3000]) + np.array([2, 0, 0])
    np.testing.assert_array_equal(h.values(), expected)
    assert h is h0  # filled in place, as in LEGEND


def test_hist_with_friend_and_entry_mask(data):
    mask = data["e"] > 1500
    friend = LH5Iterator(data["files"], GROUPS, entry_mask=mask, field_mask=["e"])
    it = LH5Iterator(
        data["files"],
        GROUPS,
        entry_mask=mask,
        field_mask=["k"],
        friend=friend,
        friend_prefix="f_",
        buffer_len=4,
    )
    h = it.hist(hist.axis.Regular(6, 0, 3000, name="f_e"))
    np.testing.assert_array_equal(h.values(), numpy_hist(data["e"][mask], np.linspace(0, 3000, 7)))


# --- dask ------------------------------------------------------------------------------------------------
def test_to_dask_dataframe(it, data):
    dd = pytest.importorskip("dask.dataframe")
    ddf = it.to_dask()
    assert isinstance(ddf, dd.DataFrame)
    assert ddf.npartitions == -(-len(data["k"]) // it.buffer_len)
    df = ddf.compute()  # dask's default scheduler: threads
    chunks = pd.concat([tb.view_as("pd").copy() for tb in it])
    assert list(df.columns) == list(chunks.columns) == ["ch", "e", "flag", "hits", "k"]
    assert df.index.tolist() == list(range(len(data["k"])))  # the entry numbers
    np.testing.assert_array_equal(df["k"], data["k"])
    np.testing.assert_array_equal(df["e"], chunks["e"])
    assert_hits_equal(df["hits"], data["hits"])
    # lazily: a selection computed by dask
    assert int((ddf["e"] > 1000).sum().compute()) == int((data["e"] > 1000).sum())


def test_to_dask_dataframe_of_a_selection(data):
    pytest.importorskip("dask.dataframe")
    rows = np.arange(5, 37, 3)
    it = LH5Iterator(data["files"], GROUPS, entry_list=rows, field_mask=["k", "e"], buffer_len=4)
    df = it.to_dask().compute()
    np.testing.assert_array_equal(df["k"], rows)


def test_to_dask_awkward_bag(it, data):
    pytest.importorskip("dask.bag")
    import dask

    bag = it.to_dask("ak")
    parts = dask.compute(*bag.to_delayed(), scheduler="threads")
    assert len(parts) == -(-len(data["k"]) // it.buffer_len)
    arr = ak.concatenate(parts)
    np.testing.assert_array_equal(ak.to_numpy(arr.k), data["k"])
    assert_hits_equal(arr.hits.tolist(), data["hits"])
    records = bag.compute(scheduler="sync")
    assert [r["k"] for r in records] == data["k"].tolist()


def test_to_dask_bad_library(it):
    with pytest.raises(ValueError, match="library"):
        it.to_dask("np")


def test_to_dask_partitions_read_on_many_threads(tmp_path):
    # dask's threaded scheduler reads partitions at once: each must come from its own read
    pytest.importorskip("dask.dataframe")
    path = str(tmp_path / "many.lh5")
    for g in range(4):
        lh5.write(Table({"k": np.arange(250) + 250 * g}), f"ch{g}/hit", path, wo_mode="a")
    it = LH5Iterator(path, [f"ch{g}/hit" for g in range(4)], buffer_len=3)
    df = it.to_dask().compute(scheduler="threads", num_workers=4)
    np.testing.assert_array_equal(df["k"], np.arange(1000))
