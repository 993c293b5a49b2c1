"""``tierflow.iterate.hist_fill.fill`` leaves a histogram exactly as ``h.fill`` would."""

from __future__ import annotations

import threading

import boost_histogram as bh
import hist
import numpy as np
import pytest

from tierflow.iterate import hist_fill
from tierflow.iterate.hist_fill import fill

SEED = 20240611

STORAGES = {
    "double": hist.storage.Double,
    "int64": hist.storage.Int64,
    "weight": hist.storage.Weight,
}
FLOWS = {
    "uoflow": {},
    "none": {"underflow": False, "overflow": False},
    "uflow": {"overflow": False},
    "oflow": {"underflow": False},
}
# (bins, start, stop) per axis of a 3-d histogram; the first n are used for an n-d one
FLOAT_AXES = [(100, -5.0, 5.0), (7, -0.3, 1.1), (3, 1e6, 1e6 + 1e-3)]
INT_AXES = [(10, 0.0, 20.0), (7, -3.0, 4.0), (5, -2.5, 100.0)]
ODD_AXES = [
    (100, -5.0, 5.0),
    (7, -0.3, 1.1),
    (3, 1e6, 1e6 + 1e-3),
    (3, 0.1, 0.7),
    (13, -1e-20, 1.0),
    (10, 2.0, 1.0),  # decreasing
    (1, -1.0, 1.0),
    (1000, -1e-3, 3e-3),
    (6, -1e300, 1e300),
    (5, 1e-300, 3e-300),
]


@pytest.fixture(autouse=True)
def _fast_path_for_small_inputs(monkeypatch):
    """Most tests use a few thousand values: send them through the kernels too."""
    monkeypatch.setattr(hist_fill, "MIN_ENTRIES", 0)


# --------------------------------------------------------------------------- helpers


def takes_fast_path(h, arrays, weight=None) -> bool:
    """Whether :func:`hist_fill.fill` would use the numba kernels (not ``h.fill``)."""
    plan = hist_fill._histogram_plan(h)
    return plan is not None and hist_fill._arrays_plan(plan, arrays, weight) is not None


def make_hist(specs, storage: str, flow: str = "uoflow") -> hist.Hist:
    axes = [hist.axis.Regular(*spec, name=f"a{i}", **FLOWS[flow]) for i, spec in enumerate(specs)]
    return hist.Hist(*axes, storage=STORAGES[storage]())


def assert_identical(fast: bh.Histogram, ref: bh.Histogram) -> None:
    """Same contents bit for bit (all fields, flow bins), same variance bookkeeping."""
    a = np.asarray(fast.view(flow=True))
    b = np.asarray(ref.view(flow=True))
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes()
    for name in a.dtype.names or ():
        assert np.array_equal(a[name], b[name], equal_nan=True)
    assert np.array_equal(fast.values(flow=True), ref.values(flow=True), equal_nan=True)
    assert (fast.variances() is None) == (ref.variances() is None)
    assert fast._variance_known == ref._variance_known


def probe_values(spec, dtype, rng: np.random.Generator) -> np.ndarray:
    """Values on every edge of ``Regular(*spec)``, one ulp either side (in ``dtype``
    and in float64), non-finite and huge values, and values spread over the axis."""
    edges = bh.axis.Regular(*spec).edges
    lo, hi = min(edges[0], edges[-1]), max(edges[0], edges[-1])
    spread = rng.uniform(lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo), 200)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        parts = [edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), spread]
        with np.errstate(over="ignore"):
            e = edges.astype(dtype)
            parts += [e, np.nextafter(e, dtype.type(-np.inf)), np.nextafter(e, dtype.type(np.inf))]
        info = np.finfo(dtype)
        special = [np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0, -0.0, 5e-324, -5e-324]
        special += [info.max, -info.max, info.tiny, -info.tiny]
        with np.errstate(over="ignore", invalid="ignore"):
            return np.concatenate(
                [np.asarray(p, dtype=np.float64) for p in parts] + [special]
            ).astype(dtype)
    info = np.iinfo(dtype)
    ints = np.concatenate([np.floor(edges) + d for d in (-1, 0, 1, 2)] + [np.round(spread)])
    ints = ints[(ints >= info.min) & (ints <= info.max)]
    return np.concatenate([ints.astype(dtype), np.array([info.min, info.max, 0], dtype=dtype)])


def make_data(specs, dtype, rng: np.random.Generator, n_probe: int = 3000, n_bulk: int = 20000):
    """One array per axis: random picks of the probe values, then a normal bulk."""
    arrays = []
    for spec in specs:
        probes = probe_values(spec, dtype, rng)
        picks = rng.choice(probes, n_probe)
        edges = bh.axis.Regular(*spec).edges
        mid, half = 0.5 * (edges[0] + edges[-1]), 0.6 * abs(edges[-1] - edges[0])
        bulk = mid + half * rng.standard_normal(n_bulk)
        if np.dtype(dtype).kind in "iu":
            info = np.iinfo(dtype)
            bulk = np.clip(np.round(bulk), info.min, info.max)
        arrays.append(np.concatenate([picks, bulk.astype(dtype)]))
    return arrays


def make_weight(kind: str, n: int, rng: np.random.Generator) -> np.ndarray | None:
    if kind == "none":
        return None
    w = rng.normal(1.0, 0.7, n)
    w[::97] = 0.0
    w[1::89] = -0.0
    w[2::83] = 1e-3 * rng.standard_normal(w[2::83].size)
    return w.astype(np.float32 if kind == "f32" else np.float64)


def fill_both(h: bh.Histogram, arrays, weight=None) -> tuple[bh.Histogram, bh.Histogram]:
    """``fill`` on ``h`` and ``h.fill`` on a copy; returns (fast, reference)."""
    ref = h.copy()
    ref.fill(*arrays, weight=weight)
    fill(h, arrays, weight)
    return h, ref


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("flow", list(FLOWS))
@pytest.mark.parametrize("storage", list(STORAGES))
@pytest.mark.parametrize("wkind", ["none", "f64", "f32"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint16"])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_matches_boost(ndim, dtype, wkind, storage, flow):
    rng = np.random.default_rng([SEED, ndim, len(dtype), len(wkind), len(storage), len(flow)])
    specs = (INT_AXES if np.dtype(dtype).kind in "iu" else FLOAT_AXES)[:ndim]
    h = make_hist(specs, storage, flow)
    arrays = make_data(specs, dtype, rng)
    weight = make_weight(wkind, arrays[0].size, rng)

    fast_path = takes_fast_path(h, arrays, weight)
    assert fast_path == (storage != "int64" or weight is None)

    fast, ref = fill_both(h, arrays, weight)
    assert_identical(fast, ref)
    assert ref.sum(flow=True) != 0  # the comparison is not between two empty histograms

    # a second fill accumulates on top of the first, still exactly
    arrays2 = make_data(specs, dtype, rng, n_probe=500, n_bulk=3000)
    weight2 = make_weight(wkind, arrays2[0].size, rng)
    ref.fill(*arrays2, weight=weight2)
    fill(fast, arrays2, weight2)
    assert_identical(fast, ref)


@pytest.mark.parametrize("flow", list(FLOWS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec", ODD_AXES, ids=str)
def test_every_edge_and_ulp_1d(spec, dtype, flow):
    rng = np.random.default_rng(SEED)
    h = make_hist([spec], "double", flow)
    x = probe_values(spec, dtype, rng)
    assert takes_fast_path(h, [x], None)
    fast, ref = fill_both(h, [x])
    assert_identical(fast, ref)
    # each value alone lands where boost puts it (catches compensating errors)
    mn, dl, size, _, over, inclusive = hist_fill._regular_params(h.axes[0])
    assert (mn, dl, size) == (spec[1], spec[2] - spec[1], spec[0])
    assert inclusive == (not over)
    x64 = x.astype(np.float64)
    mine = [hist_fill._index_of(v, mn, dl, size, inclusive) for v in x64.tolist()]
    assert mine == h.axes[0]._ax.index(x64).tolist()


@pytest.mark.parametrize("flow", list(FLOWS))
def test_parameter_check_rejects_wrong_values(flow):
    """The per-call check of (min, delta, upper-edge rule) against boost's axis works."""
    core = bh.axis.Regular(7, -0.3, 1.1, **FLOWS[flow])._ax
    mn, dl = -0.3, 1.1 - -0.3
    inclusive = not core.traits_overflow
    assert hist_fill._agrees(core, mn, dl, 7, inclusive)
    assert not hist_fill._agrees(core, mn, dl, 7, not inclusive)
    assert not hist_fill._agrees(core, np.nextafter(mn, 1.0), dl, 7, inclusive)
    assert not hist_fill._agrees(core, mn, np.nextafter(dl, 0.0), 7, inclusive)
    assert not hist_fill._agrees(core, mn, dl, 8, inclusive)


@pytest.mark.parametrize("flow", list(FLOWS))
def test_upper_edge(flow):
    """Without overflow bin boost puts the upper edge in the last bin."""
    h = make_hist([(4, 0.0, 4.0)], "int64", flow)
    x = np.array([4.0, np.nextafter(4.0, 5.0), np.nextafter(4.0, 3.0), 0.0, -1e-300])
    fast, ref = fill_both(h, [x])
    assert_identical(fast, ref)
    last = fast.values()[-1]
    assert last == (1 if FLOWS[flow].get("overflow", True) else 2)


@pytest.mark.parametrize("storage", list(STORAGES))
def test_dropped_entries_nd(storage):
    """An entry in a missing flow bin of any axis is dropped on all axes."""
    h = hist.Hist(
        hist.axis.Regular(4, 0, 4, underflow=False),
        hist.axis.Regular(2, 0, 2, overflow=False),
        storage=STORAGES[storage](),
    )
    x = np.array([-1.0, 0.5, 0.5, 5.0, np.nan, 3.5, -np.inf])
    y = np.array([0.5, 9.0, -1.0, 0.5, 1.5, np.nan, 1.5])
    fast, ref = fill_both(h, [x, y])
    assert_identical(fast, ref)
    # kept: (0.5, -1) -> x bin 0 / y underflow, (5, 0.5) -> x overflow, (nan, 1.5) -> x overflow
    assert fast.sum(flow=True) == (3 if storage != "weight" else bh.accumulators.WeightedSum(3, 3))
    assert np.asarray(fast.view(flow=True)).shape == (5, 3)


@pytest.mark.parametrize("storage", list(STORAGES))
@pytest.mark.parametrize("weighted", [False, True])
def test_empty_arrays(storage, weighted):
    h = make_hist(FLOAT_AXES[:2], storage)
    x = np.array([0.1, 0.2, 1e6])
    y = np.array([0.5, 2.0, 0.1])
    fill(h, [x, y])
    before = np.asarray(h.view(flow=True)).copy()
    empty = np.empty(0)
    weight = empty if weighted else None
    fast, ref = fill_both(h, [empty, empty.astype(np.float32)], weight)
    assert_identical(fast, ref)
    assert np.asarray(fast.view(flow=True)).tobytes() == before.tobytes()


def test_fill_twice_accumulates_mixed():
    """Unweighted, weighted (non-integer bins), unweighted again: all exact."""
    rng = np.random.default_rng(SEED)
    fast = make_hist([(20, -2.0, 2.0)], "double")
    ref = fast.copy()
    steps = [
        (rng.standard_normal(5000), None),
        (rng.standard_normal(3000), rng.uniform(0, 1, 3000)),
        (rng.standard_normal(50000), None),  # counts kernel refused: bins not integral
        (rng.standard_normal(7), None),
    ]
    for x, w in steps:
        ref.fill(x, weight=w)
        fill(fast, [x], w)
        assert_identical(fast, ref)
    assert not np.all(np.trunc(fast.values()) == fast.values())


@pytest.mark.parametrize("storage", ["double", "weight"])
def test_counts_near_2_53(storage):
    """Bins beyond exact integer range get the one-by-one (rounding) behaviour."""
    h = make_hist([(4, 0.0, 4.0)], storage)
    view = h.view(flow=True)
    big = 2.0**53 - 3
    if storage == "weight":
        view["value"][:] = big
        view["variance"][:] = big
    else:
        view[:] = big
    x = np.repeat([0.5, 1.5, 2.5], 1001)
    fast, ref = fill_both(h, [x])
    assert_identical(fast, ref)
    assert fast.values()[0] != big + 1001  # saturates like boost's additions


def test_negative_zero_bins_untouched():
    h = make_hist([(4, 0.0, 4.0)], "double")
    h.view(flow=True)[:] = -0.0
    x = np.repeat([0.5, 1.5], 100)
    fast, ref = fill_both(h, [x])
    assert_identical(fast, ref)
    assert np.signbit(fast.view(flow=True)[4])  # an empty bin keeps its -0.0


@pytest.mark.parametrize("storage", list(STORAGES))
def test_large_histogram_few_entries(storage):
    rng = np.random.default_rng(SEED)
    specs = [(300, -3.0, 3.0), (200, -3.0, 3.0)]
    h = make_hist(specs, storage, "uflow")
    arrays = [rng.standard_normal(1000), rng.standard_normal(1000)]
    fast, ref = fill_both(h, arrays)
    assert_identical(fast, ref)
    assert fast.sum(flow=True) != 0


def test_special_weights():
    h = make_hist([(3, 0.0, 3.0)], "weight")
    x = np.array([0.5, 0.5, 1.5, 1.5, 2.5, 2.5, 2.5])
    w = np.array([np.nan, 1.0, np.inf, -np.inf, 1e308, 1e308, -0.0])
    fast, ref = fill_both(h, [x], w)
    assert_identical(fast, ref)
    assert np.isinf(fast.view()["value"][2])


def test_fill_writes_into_histogram():
    """Writing through ``h.view(flow=True)`` really changes ``h``."""
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-1.0, 1.0, 10000)
    h = hist.Hist(hist.axis.Regular(10, -1.0, 1.0, name="x"))
    fill(h, [x])
    assert h.sum(flow=True) == 10000
    assert np.array_equal(h.values(), np.histogram(x, bins=10, range=(-1.0, 1.0))[0])
    hw = hist.Hist(hist.axis.Regular(10, -1.0, 1.0, name="x"), storage=hist.storage.Weight())
    fill(hw, [x], np.full(x.size, 0.5))
    assert hw.sum(flow=True).value == 5000.0
    assert hw.sum(flow=True).variance == 2500.0


def test_plain_boost_histogram():
    rng = np.random.default_rng(SEED)
    h = bh.Histogram(bh.axis.Regular(50, -3, 3), bh.axis.Regular(5, 0, 1, underflow=False))
    arrays = [rng.standard_normal(40000).astype(np.float32), rng.uniform(-0.5, 1.5, 40000)]
    assert takes_fast_path(h, arrays, None)
    fast, ref = fill_both(h, arrays)
    assert_identical(fast, ref)


def test_small_inputs_use_boost(monkeypatch):
    monkeypatch.setattr(hist_fill, "MIN_ENTRIES", 1000)
    rng = np.random.default_rng(SEED)
    h = make_hist([(10, -1.0, 1.0)], "double")
    small, large = rng.standard_normal(999), rng.standard_normal(1000)
    assert not takes_fast_path(h, [small], None)
    assert takes_fast_path(h, [large], None)
    fast, ref = fill_both(h, [small])
    assert_identical(fast, ref)
    assert fast.sum(flow=True) == 999


@pytest.mark.parametrize("storage", ["double", "int64", "weight", "mean"])
def test_storage_lookup(storage):
    st = {**STORAGES, "mean": hist.storage.Mean}[storage]
    h = hist.Hist(hist.axis.Regular(3, 0, 1), storage=st())
    expected = None if storage == "mean" else h.storage_type
    assert hist_fill._storage(h) is expected


# --------------------------------------------------------------------------- fallbacks


def _fallback_cases():
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal(500)
    y = rng.standard_normal(500)
    reg = hist.axis.Regular(10, -2, 2)
    return {
        "variable": (hist.Hist(hist.axis.Variable([-2, -1, 0, 0.5, 2])), [x], None),
        "integer": (hist.Hist(hist.axis.Integer(-2, 3)), [np.round(x).astype(int)], None),
        "strcat_growth": (
            hist.Hist(reg, hist.axis.StrCategory([], growth=True)),
            [x, np.where(y > 0, "a", "b")],
            None,
        ),
        "regular_growth": (hist.Hist(hist.axis.Regular(10, -1, 1, growth=True)), [x], None),
        "circular": (hist.Hist(hist.axis.Regular(10, 0, 1, circular=True)), [x], None),
        "log": (
            hist.Hist(hist.axis.Regular(10, 0.1, 10, transform=hist.axis.transform.log)),
            [np.abs(x)],
            None,
        ),
        "int64_weighted": (
            hist.Hist(reg, storage=hist.storage.Int64()),
            [x],
            rng.uniform(0, 3, 500),
        ),
        "five_axes": (hist.Hist(*[hist.axis.Regular(3, -1, 1) for _ in range(5)]), [x] * 5, None),
        "list_input": (hist.Hist(reg), [list(x)], None),
        "scalar_weight": (hist.Hist(reg, storage=hist.storage.Weight()), [x], 2.5),
        "complex": (hist.Hist(reg), [x + 0j], None),
        "weighted_mean": (hist.Hist(reg, storage=hist.storage.WeightedMean()), [x], None),
        "unlimited": (hist.Hist(reg, storage=hist.storage.Unlimited()), [x], None),
    }


@pytest.mark.filterwarnings("ignore:Casting complex values")
@pytest.mark.parametrize("case", list(_fallback_cases()))
def test_fallback_same_as_boost(case):
    h, arrays, weight = _fallback_cases()[case]
    assert not takes_fast_path(h, arrays, weight)
    ref = h.copy()
    try:
        ref.fill(*arrays, weight=weight)
    except Exception as err:
        with pytest.raises(type(err), match=None):
            fill(h, arrays, weight)
        return
    fill(h, arrays, weight)
    assert h == ref
    assert np.asarray(h.view(flow=True)).tobytes() == np.asarray(ref.view(flow=True)).tobytes()
    assert h.sum(flow=True) != 0 or case == "weighted_mean"


@pytest.mark.parametrize(
    "arrays",
    [
        [np.zeros(3), np.zeros(4)],  # mismatched lengths
        [np.zeros(3)],  # wrong number of arrays
        [np.zeros((3, 2)), np.zeros(6)],  # not 1-d
    ],
    ids=["lengths", "count", "ndim"],
)
def test_bad_input_raises_like_boost(arrays):
    h = make_hist(FLOAT_AXES[:2], "double")
    assert not takes_fast_path(h, arrays, None)
    with pytest.raises(Exception) as expected:
        h.copy().fill(*arrays)
    with pytest.raises(expected.type):
        fill(h, arrays)


def test_weight_length_mismatch_raises_like_boost():
    h = make_hist(FLOAT_AXES[:1], "weight")
    x, w = np.zeros(5), np.ones(4)
    assert not takes_fast_path(h, [x], w)
    with pytest.raises(Exception) as expected:
        h.copy().fill(x, weight=w)
    with pytest.raises(expected.type):
        fill(h, [x], w)


def test_mean_storage_falls_back():
    h = hist.Hist(hist.axis.Regular(10, -1, 1), storage=hist.storage.Mean())
    x = np.zeros(3)
    assert not takes_fast_path(h, [x], None)
    with pytest.raises(TypeError) as expected:
        h.copy().fill(x)
    with pytest.raises(TypeError, match=str(expected.value)[:30]):
        fill(h, [x])


def test_named_hist_falls_back():
    h = hist.NamedHist(hist.axis.Regular(10, -1, 1, name="x"))
    x = np.zeros(3)
    assert not takes_fast_path(h, [x], None)
    with pytest.raises(Exception) as expected:
        h.copy().fill(x)
    with pytest.raises(expected.type):
        fill(h, [x])


# --------------------------------------------------------------------------- threads


def test_kernels_release_gil_and_few_specialisations():
    rng = np.random.default_rng(SEED)
    for storage in STORAGES:
        for dtype in (np.float32, np.float64, np.int32):
            for weight in (None, rng.uniform(0, 1, 500)):
                h = make_hist([(10, -1.0, 1.0)], storage)
                fill(h, [rng.standard_normal(500).astype(dtype)], weight)
    # one compiled version per input dtype (float32, float64); _sum_kernel is also called from
    # _count_floats with a literal ``weighted=False``: up to two versions per dtype
    for kernel, most in (
        (hist_fill._count_kernel, 2),
        (hist_fill._count_floats, 2),
        (hist_fill._sum_kernel, 4),
    ):
        assert kernel.targetoptions["nogil"] is True
        assert 1 <= len(kernel.signatures) <= most
    for helper in (hist_fill._integral, hist_fill._add_counts):  # called inside kernels only
        assert helper.targetoptions["nogil"] is True


def test_concurrent_fills_in_threads():
    rng = np.random.default_rng(SEED)
    data = [rng.standard_normal(200_000).astype(np.float32) for _ in range(4)]
    hists = [make_hist([(100, -5.0, 5.0)], "double") for _ in data]
    refs = [h.copy() for h in hists]
    threads = [
        threading.Thread(target=fill, args=(h, [x])) for h, x in zip(hists, data, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for h, ref, x in zip(hists, refs, data, strict=True):
        ref.fill(x)
        assert_identical(h, ref)


def test_a_filler_reused_over_many_chunks_matches_boost(monkeypatch):
    """A Filler examines the histogram once; chunk after chunk it matches h.fill exactly."""
    monkeypatch.setattr(hist_fill, "MIN_ENTRIES", 1000)
    rng = np.random.default_rng(5)
    axes = (hist.axis.Regular(20, -2.0, 2.0), hist.axis.Regular(7, 0.0, 1.0, overflow=False))
    ours = hist.Hist(*axes, storage=hist.storage.Weight())
    theirs = ours.copy()
    filler = hist_fill.Filler(ours)
    for _ in range(5):
        n = int(rng.integers(hist_fill.MIN_ENTRIES, 3 * hist_fill.MIN_ENTRIES))
        x, y = rng.normal(size=n).astype(np.float32), rng.random(n).astype(np.float32)
        w = rng.exponential(size=n)
        assert takes_fast_path(ours, [x, y], w)
        filler([x, y], w)
        theirs.fill(x, y, weight=w)
    assert np.array_equal(ours.view(flow=True), theirs.view(flow=True))
    small = np.zeros(3)  # below MIN_ENTRIES: boost fills it, through the same Filler
    filler([small, small])
    theirs.fill(small, small)
    assert np.array_equal(ours.view(flow=True), theirs.view(flow=True))
