"""map, query and hist give identical results serially, with ``processes=2``, on a thread pool,
on a user's process pool and on a dask ``distributed`` cluster.

The pools are started once for the module: a ``ProcessPoolExecutor(2)`` (forkserver: no test
relies on fork), a ``ThreadPoolExecutor(2)`` and a ``distributed.LocalCluster`` of 2 one-thread
workers. Functions sent to workers are module-level functions or lambdas (cloudpickle).
"""

from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import hist
import numpy as np
import pandas as pd
import pytest

from tierflow import lh5
from tierflow.errors import TierflowError
from tierflow.lh5 import LH5Iterator
from tierflow.types import Array, Table, VectorOfVectors

GROUPS = ["ch0/hit", "ch1/hit", "ch2/hit"]
BUFFER_LEN = 7


@pytest.fixture(autouse=True)
def no_hang():
    """Turn a hang into a failure (a guard, not a timing assertion)."""

    def hung(signum, frame):
        raise TimeoutError("the test hung for 240 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(240)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# --- data and pools ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    """Two files x three groups (empty ones included) of a hit and a dsp tier, same rows."""
    rng = np.random.default_rng(31)
    tmp: Path = tmp_path_factory.mktemp("parallel")
    out: dict = {"hit": [], "dsp": [], "e": [], "a": [], "k": [], "group": [], "hits": []}
    out["local"] = []
    total = 0
    for f, sizes in enumerate([[20, 0, 13], [9, 17, 0]]):
        hit, dsp = str(tmp / f"hit{f}.lh5"), str(tmp / f"dsp{f}.lh5")
        out["hit"].append(hit)
        out["dsp"].append(dsp)
        for g, n in enumerate(sizes):
            e, a = rng.uniform(0, 3000, n), rng.normal(size=n)
            k = np.arange(total, total + n)
            lengths = rng.integers(0, 3, n)
            values = rng.normal(size=int(lengths.sum()))
            hits = VectorOfVectors(
                flattened_data=Array(values),
                cumulative_length=Array(np.cumsum(lengths).astype(np.uint32)),
            )
            lh5.write(Table({"e": e, "k": k, "hits": hits}), GROUPS[g], hit, wo_mode="a")
            lh5.write(Table({"a": a}), f"ch{g}/dsp", dsp, wo_mode="a")
            out["e"].append(e)
            out["a"].append(a)
            out["k"].append(k)
            out["group"] += [GROUPS[g]] * n
            out["local"] += list(range(n))
            out["hits"] += np.split(values, np.cumsum(lengths)[:-1]) if n else []
            total += n
    for name in ("e", "a", "k"):
        out[name] = np.concatenate(out[name])
    out["group"] = np.array(out["group"])
    out["n"] = total
    return out


def make_iterator(data: dict, **kwargs) -> LH5Iterator:
    """The hit tier with the dsp tier as a friend (prefix ``d_``) and group data."""
    kwargs.setdefault("buffer_len", BUFFER_LEN)
    selection = {k: kwargs[k] for k in ("entry_list", "entry_mask") if k in kwargs}
    friend = LH5Iterator(data["dsp"], [g.replace("hit", "dsp") for g in GROUPS], **selection)
    return LH5Iterator(
        data["hit"],
        GROUPS,
        friend=friend,
        friend_prefix="d_",
        group_data={"chan": [100, 101, 102]},
        **kwargs,
    )


@pytest.fixture(scope="module")
def user_pool():
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver"))
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def thread_pool():
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


EXECUTORS = ["serial", "processes=2", "threads", "user pool", "dask client"]


@pytest.fixture
def executor_kwargs(request) -> dict:
    """``map``/``query``/``hist`` keyword arguments selecting the executor ``request.param``."""
    name = request.param
    if name == "serial":
        return {}
    if name == "processes=2":
        return {"processes": 2}
    if name == "threads":
        return {"executor": request.getfixturevalue("thread_pool")}
    if name == "user pool":
        return {"executor": request.getfixturevalue("user_pool")}
    return {"executor": request.getfixturevalue("client")}


# --- what runs on the workers --------------------------------------------------------------------
def chunk_summary(tb, it):
    """Per chunk: its first global entry, its length, its groups and the sum of e."""
    return (
        int(it.current_global_entries[0]),
        len(tb),
        sorted(set(it.current_groups.tolist())),
        float(tb["e"].nda.sum()),
    )


def count_by_group(tb, it):
    out: dict[str, int] = {}
    for group in np.unique(it.current_groups):
        out[str(group)] = out.get(str(group), 0) + int(np.sum(it.current_groups == group))
    return out


def add_counts(total, counts):
    for key, n in counts.items():
        total[key] = total.get(key, 0) + n
    return total


def select_high(tb, it):
    mask = tb["e"].nda > 1500
    return tb["k"].nda[mask], it.current_groups[mask], tb["d_a"].nda[mask]


def energy_and_group(tb, it):
    return tb["e"].nda, np.strings.replace(it.current_groups, "/hit", "")


def merged(counts: list[dict]) -> dict:
    total: dict[str, int] = {}
    for c in counts:
        add_counts(total, c)
    return total


#: every verb once; each gets the executor's keyword arguments
VERBS = {
    "map": lambda it, kw: it.map(chunk_summary, **kw),
    "map_lambda": lambda it, kw: it.map(lambda tb, it: it.current_local_entries.tolist(), **kw),
    "counts": lambda it, kw: merged(it.map(count_by_group, aggregate=add_counts, init={}, **kw)),
    "query_pd": lambda it, kw: it.query("(e > 1000) & (d_a > 0)", library="pd", **kw),
    "query_lgdo": lambda it, kw: it.query("e < 500", fields=["k", "hits", "chan"], **kw),
    "query_fn": lambda it, kw: it.query(select_high, **kw),
    "hist": lambda it, kw: it.hist(
        hist.axis.Regular(10, 0, 3000, name="e"), where="d_a > -1", weights="chan", **kw
    ),
    "hist_fn": lambda it, kw: it.hist(
        [hist.axis.Regular(5, 0, 3000), hist.axis.StrCategory([], growth=True)],
        where=energy_and_group,
        **kw,
    ),
}
#: with processes=2 every call starts a pool (2 new processes): one call per verb
PROCESS_VERBS = ("counts", "query_pd", "hist_fn")


def run_everything(it: LH5Iterator, verbs=tuple(VERBS), **kwargs) -> dict:
    return {name: VERBS[name](it, kwargs) for name in verbs}


def assert_same(got: dict, want: dict) -> None:
    assert got
    for name, value in got.items():
        expected = want[name]
        if name == "query_lgdo":
            for col in ("k", "chan"):
                np.testing.assert_array_equal(value[col].nda, expected[col].nda)
            assert value["hits"] == expected["hits"]
        elif name == "query_pd":
            pd.testing.assert_frame_equal(value, expected)
        elif name == "query_fn":
            for a, b in zip(value, expected, strict=True):
                np.testing.assert_array_equal(a, b)
        elif name.startswith("hist"):
            assert [list(ax) for ax in value.axes] == [list(ax) for ax in expected.axes]
            np.testing.assert_array_equal(value.values(), expected.values())
        else:
            assert value == expected, name


@pytest.fixture(scope="module")
def serial(data) -> dict:
    return run_everything(make_iterator(data))


# --- the tests ---------------------------------------------------------------------------------------
def test_serial_results_are_right(serial, data):
    n = data["n"]
    starts = list(range(0, n, BUFFER_LEN))
    assert [m[0] for m in serial["map"]] == starts  # one result per chunk, in order
    assert [m[1] for m in serial["map"]] == [min(BUFFER_LEN, n - s) for s in starts]
    assert sum(m[3] for m in serial["map"]) == pytest.approx(data["e"].sum())
    groups, counts = np.unique(data["group"], return_counts=True)
    assert serial["counts"] == dict(zip(groups.tolist(), counts.tolist(), strict=True))
    sel = (data["e"] > 1000) & (data["a"] > 0)
    np.testing.assert_array_equal(serial["query_pd"]["k"], data["k"][sel])
    np.testing.assert_array_equal(serial["query_pd"]["d_a"], data["a"][sel])
    k, group, a = serial["query_fn"]
    np.testing.assert_array_equal(k, data["k"][data["e"] > 1500])
    assert group.tolist() == data["group"][data["e"] > 1500].tolist()
    np.testing.assert_array_equal(a, data["a"][data["e"] > 1500])
    chan = np.array([100 + int(g[2]) for g in data["group"]])
    expected = np.histogram(
        data["e"][data["a"] > -1], np.linspace(0, 3000, 11), weights=chan[data["a"] > -1]
    )[0]
    np.testing.assert_array_equal(serial["hist"].values(), expected)
    assert serial["hist_fn"].values().sum() == n
    low = data["e"] < 500
    np.testing.assert_array_equal(serial["query_lgdo"]["k"].nda, data["k"][low])
    np.testing.assert_array_equal(serial["query_lgdo"]["chan"].nda, chan[low])
    want_hits = [h.tolist() for h, s in zip(data["hits"], low, strict=True) if s]
    assert [h.tolist() for h in serial["query_lgdo"]["hits"]] == want_hits
    assert len(serial["map_lambda"]) == len(starts)
    assert [x for chunk in serial["map_lambda"] for x in chunk] == data["local"]


@pytest.mark.parametrize("executor_kwargs", EXECUTORS[1:], indirect=True)
def test_identical_results_on_every_executor(data, serial, executor_kwargs):
    verbs = PROCESS_VERBS if "processes" in executor_kwargs else tuple(VERBS)
    got = run_everything(make_iterator(data), verbs, **executor_kwargs)
    assert list(got) == list(verbs)
    assert_same(got, serial)


@pytest.mark.parametrize("executor_kwargs", ["threads", "user pool", "dask client"], indirect=True)
def test_identical_with_entry_selection(data, executor_kwargs):
    rng = np.random.default_rng(8)
    # with the last row of a dataset and the first of the next
    rows = np.unique(np.concatenate([rng.choice(data["n"], 28, replace=False), [19, 20]]))

    def build():
        return make_iterator(data, entry_list=rows, i_start=3, n_entries=25, buffer_len=4)

    want = build().query(None, fields=["k", "d_a", "chan"], library="pd")
    got = build().query(None, fields=["k", "d_a", "chan"], library="pd", **executor_kwargs)
    pd.testing.assert_frame_equal(got, want)
    np.testing.assert_array_equal(got["k"], rows[3:28])
    assert len(got) == 25
    assert build().map(chunk_summary, **executor_kwargs) == build().map(chunk_summary)


@pytest.mark.parametrize("executor_kwargs", EXECUTORS[1:], indirect=True)
def test_more_workers_than_chunks(data, executor_kwargs):
    it = make_iterator(data, buffer_len=1000)  # one chunk
    assert it.map(chunk_summary, **executor_kwargs) == it.map(chunk_summary)
    if "processes" in executor_kwargs:
        return  # a pool per call: enough
    df = it.query("e > 2000", library="pd", **executor_kwargs)
    np.testing.assert_array_equal(df["k"], data["k"][data["e"] > 2000])
    h = it.hist(hist.axis.Regular(3, 0, 3000, name="e"), **executor_kwargs)
    assert h.values().sum() == data["n"]


def test_many_threads_few_chunks(data):
    it = make_iterator(data, buffer_len=40)  # 2 chunks
    with ThreadPoolExecutor(8) as pool:
        assert it.map(chunk_summary, executor=pool) == it.map(chunk_summary)
        counts = merged(it.map(count_by_group, aggregate=add_counts, init={}, executor=pool))
    assert sum(counts.values()) == data["n"]


@pytest.mark.parametrize("executor_kwargs", ["threads", "user pool"], indirect=True)
def test_map_results_in_input_order(data, executor_kwargs):
    it = make_iterator(data, buffer_len=3)
    starts = it.map(lambda tb, it: int(it.current_global_entries[0]), **executor_kwargs)
    assert starts == list(range(0, data["n"], 3))
    partials = it.map(lambda tb, it: [len(tb)], aggregate=lambda a, b: a + b, **executor_kwargs)
    assert [n for part in partials for n in part] == [len(tb) for tb in it]


def fail_in_second_dataset(tb, it):
    if np.any(it.current_groups == "ch2/hit"):
        raise ValueError("bad chunk")
    return tb


@pytest.mark.parametrize("executor_kwargs", ["user pool", "dask client"], indirect=True)
def test_failing_where_names_the_chunk_and_leaves_the_executor_usable(data, executor_kwargs):
    it = make_iterator(data, buffer_len=5)
    with pytest.raises(TierflowError) as info:
        it.query(fail_in_second_dataset, **executor_kwargs)
    message = str(info.value)
    assert "bad chunk" in message and "ValueError" in message
    assert "hit0.lh5" in message and "ch2/hit" in message  # file and group
    assert "entries 20..25" in message  # the chunk's entry range
    # the same executor still works afterwards
    executor = executor_kwargs.get("executor")
    if executor is not None:
        assert executor.submit(abs, -3).result() == 3
    df = it.query("e > 2500", library="pd", **executor_kwargs)
    np.testing.assert_array_equal(df["k"], data["k"][data["e"] > 2500])


def test_begin_and_terminate_run_around_each_work_item(data):
    it = make_iterator(data)
    calls: list[str] = []
    it.map(
        lambda tb, it: calls.append("chunk"),
        begin=lambda it: calls.append("begin"),
        terminate=lambda it: calls.append("end"),
    )
    assert calls[0] == "begin" and calls[-1] == "end"
    assert calls.count("chunk") == -(-data["n"] // BUFFER_LEN)
