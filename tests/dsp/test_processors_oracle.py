"""Agreement with LEGEND's dspeed, called directly as the oracle on the same realistic pulses."""

from __future__ import annotations

import numpy as np
import pytest

from tierflow.dsp import processors as T

D = pytest.importorskip("dspeed.processors")

N_ROWS, N_SAMPLES = 12, 1500


def assert_close(ours, theirs, dtype, exact: bool = False, scale: float | None = None) -> None:
    """float64: rtol 1e-4; float32: rtol 1e-3; both with an absolute floor of a tiny fraction
    of ``scale`` (by default the largest value: samples near zero, e.g. a subtracted baseline,
    carry the rounding of the large ones); exact for indices and counts. NaN must be in the
    same places."""
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    if exact:
        np.testing.assert_array_equal(ours, theirs)
        return
    if scale is None:
        scale = np.nanmax(np.abs(theirs)) if np.any(np.isfinite(theirs)) else 1.0
    if dtype == np.float64:
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-9 * scale)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-5 * scale)


def both(name: str, *args, outs: list[tuple], dtype: type) -> tuple[list, list]:
    """Call T.name and D.name with the same inputs and fresh outputs of the given shapes."""
    mine = [np.full(s, -7.0, dtype=dtype) for s in outs]
    ref = [np.full(s, -7.0, dtype=dtype) for s in outs]
    getattr(T, name)(*args, *mine)
    getattr(D, name)(*args, *ref)
    return mine, ref


@pytest.fixture
def wf(make_pulses, wf_dtype):
    return make_pulses(N_ROWS, N_SAMPLES, wf_dtype)


@pytest.fixture
def pz(wf, wf_dtype):
    """Baseline-subtracted, pole-zero corrected pulses (tierflow's; checked below)."""
    blsub = T.bl_subtract(wf, T.linear_slope_fit(wf[:, :500])[0])
    return T.pole_zero(blsub, wf_dtype(800.0))


def test_linear_slope_fit(wf, wf_dtype):
    mine, ref = both("linear_slope_fit", wf[:, :500], outs=[(N_ROWS,)] * 4, dtype=wf_dtype)
    for a, b in zip(mine, ref, strict=True):
        assert_close(a, b, wf_dtype)
    mine2, ref2 = both(
        "linear_slope_diff", wf[:, :500], ref[2], ref[3], outs=[(N_ROWS,)] * 2, dtype=wf_dtype
    )
    assert_close(mine2[1], ref2[1], wf_dtype)
    # the dspeed "mean" (a sum of r_i / (i+1)) is small and noisy: compare on the rms scale
    np.testing.assert_allclose(mine2[0], ref2[0], atol=1e-4 * float(ref2[1].max()))


def test_bl_subtract_and_pole_zero(wf, wf_dtype):
    baseline = wf[:, :500].mean(axis=1).astype(wf_dtype)
    mine, ref = both("bl_subtract", wf, baseline, outs=[wf.shape], dtype=wf_dtype)
    assert_close(mine[0], ref[0], wf_dtype, exact=True)
    blsub = ref[0]
    for tau in (wf_dtype(800.0), wf_dtype(20000.0)):
        mine, ref = both("pole_zero", blsub, tau, outs=[wf.shape], dtype=wf_dtype)
        assert_close(mine[0], ref[0], wf_dtype)
    mine, ref = both(
        "double_pole_zero",
        blsub,
        wf_dtype(800.0),
        wf_dtype(40.0),
        wf_dtype(0.05),
        outs=[wf.shape],
        dtype=wf_dtype,
    )
    assert_close(mine[0], ref[0], wf_dtype)


@pytest.mark.parametrize(
    "name,params",
    [
        ("trap_filter", (250, 60)),
        ("trap_norm", (250, 60)),
        ("trap_norm", (1, 0)),
        ("trap_norm", (8, 100)),
        ("asym_trap_filter", (8, 4, 125)),
        ("asym_trap_filter", (100, 20, 40)),
    ],
)
def test_trapezoids(pz, wf_dtype, name, params):
    mine, ref = both(name, pz, *params, outs=[pz.shape], dtype=wf_dtype)
    assert_close(mine[0], ref[0], wf_dtype)


def test_trap_pickoff(pz, wf_dtype):
    t = np.linspace(560.0, 1499.0, N_ROWS).astype(wf_dtype)
    t[3] = 700.37
    mine, ref = both("trap_pickoff", pz, 250, 60, t, outs=[(N_ROWS,)], dtype=wf_dtype)
    assert_close(mine[0], ref[0], wf_dtype)


@pytest.mark.parametrize("mode", list("infclhs"))
def test_fixed_time_pickoff(pz, wf_dtype, mode):
    t = np.linspace(-3.0, N_SAMPLES + 2.0, N_ROWS).astype(wf_dtype)
    t[:4] = [700.0, 700.3, 700.7, 0.5]
    if mode == "i":  # dspeed raises for fractional times in mode 'i'; tierflow gives NaN
        assert np.all(np.isnan(T.fixed_time_pickoff(pz[1:4], t[1:4], np.int8(ord("i")))))
        t = np.round(t)
    mine, ref = both(
        "fixed_time_pickoff", pz, t, np.int8(ord(mode)), outs=[(N_ROWS,)], dtype=wf_dtype
    )
    assert_close(mine[0], ref[0], wf_dtype)


def test_min_max(wf, pz, wf_dtype):
    for data in (wf, pz):
        mine, ref = both("min_max", data, outs=[(N_ROWS,)] * 4, dtype=wf_dtype)
        for a, b in zip(mine, ref, strict=True):
            assert_close(a, b, wf_dtype, exact=True)
    mine, ref = both("min_max_norm", pz, ref[2], ref[3], outs=[pz.shape], dtype=wf_dtype)
    assert_close(mine[0], ref[0], wf_dtype)


@pytest.mark.parametrize("frac", [0.01, 0.1, 0.5, 0.9, 0.99])
def test_time_point_thresh(pz, wf_dtype, frac):
    _, t_max, _, a_max = T.min_max(pz)
    for start, forward in ((t_max, 0.0), (np.zeros(N_ROWS, wf_dtype), 1.0)):
        mine, ref = both(
            "time_point_thresh",
            pz,
            a_max * wf_dtype(frac),
            start,
            wf_dtype(forward),
            outs=[(N_ROWS,)],
            dtype=wf_dtype,
        )
        assert_close(mine[0], ref[0], wf_dtype, exact=True)
        assert np.all(np.isfinite(mine[0]))


@pytest.mark.parametrize("mode", list("ibcafrnl"))
def test_interpolated_time_point_thresh(pz, wf_dtype, mode):
    _, t_max, _, a_max = T.min_max(pz)
    for start, forward in ((t_max, 0), (np.zeros(N_ROWS, wf_dtype), 1)):
        mine, ref = both(
            "interpolated_time_point_thresh",
            pz,
            a_max * wf_dtype(0.5),
            start,
            forward,
            np.int8(ord(mode)),
            outs=[(N_ROWS,)],
            dtype=wf_dtype,
        )
        assert_close(mine[0], ref[0], wf_dtype)


def test_moving_windows_and_current(pz, wf_dtype):
    for name in ("moving_window_left", "moving_window_right"):
        mine, ref = both(name, pz, wf_dtype(48), outs=[pz.shape], dtype=wf_dtype)
        assert_close(mine[0], ref[0], wf_dtype)
    for mw_type in (0, 1, 2):
        mine, ref = both(
            "moving_window_multi",
            pz,
            wf_dtype(48),
            wf_dtype(3),
            mw_type,
            outs=[pz.shape],
            dtype=wf_dtype,
        )
        assert_close(mine[0], ref[0], wf_dtype)
    mine, ref = both("avg_current", pz, wf_dtype(1), outs=[(N_ROWS, N_SAMPLES - 1)], dtype=wf_dtype)
    assert_close(mine[0], ref[0], wf_dtype)


def test_a_max_path(pz, wf_dtype):
    """windower -> avg_current -> upsampler -> moving_window_multi -> min_max, as in an HPGe chain."""
    t0 = (T.min_max(pz)[1] - 40).astype(wf_dtype)
    outs = {}
    for lib in (T, D):
        le = np.empty((N_ROWS, 301), wf_dtype)
        lib.windower(pz, t0, le)
        cur = np.empty((N_ROWS, 300), wf_dtype)
        lib.avg_current(le, wf_dtype(1), cur)
        up = np.empty((N_ROWS, 4784), wf_dtype)
        lib.upsampler(cur, wf_dtype(16), up)
        av = np.empty_like(up)
        lib.moving_window_multi(up, wf_dtype(48), wf_dtype(3), 0, av)
        outs[lib] = (le, cur, up, av, *lib.min_max(av))
    for a, b in zip(outs[T], outs[D], strict=True):
        assert_close(a, b, wf_dtype)


@pytest.mark.parametrize("start", [-20.0, 100.0, 1400.0])
def test_windower(pz, wf_dtype, start):
    mine, ref = both(
        "windower", pz, np.full(N_ROWS, start, wf_dtype), outs=[(N_ROWS, 301)], dtype=wf_dtype
    )
    assert_close(mine[0], ref[0], wf_dtype, exact=True)


@pytest.mark.parametrize("do_norm", [0, 1])
def test_presum(wf, wf_dtype, do_norm):
    mine, ref = both(
        "presum", wf, wf_dtype(do_norm), outs=[(N_ROWS,), (N_ROWS, 374)], dtype=wf_dtype
    )
    assert_close(mine[0], ref[0], wf_dtype, exact=True)
    assert_close(mine[1], ref[1], wf_dtype)


def test_saturation(wf, wf_dtype):
    data = wf.copy()
    data[:, 10:20] = 0
    data[:3, 700:750] = 2**16 - 16
    mine, ref = both("saturation", data, wf_dtype(16), outs=[(N_ROWS,)] * 2, dtype=wf_dtype)
    for a, b in zip(mine, ref, strict=True):
        assert_close(a, b, wf_dtype, exact=True)


def test_histograms(wf, wf_dtype):
    base = wf[:, :600]
    mine, ref = both("histogram", base, outs=[(N_ROWS, 64), (N_ROWS, 65)], dtype=wf_dtype)
    assert_close(mine[0], ref[0], wf_dtype, exact=True)
    assert_close(mine[1], ref[1], wf_dtype)
    weights, edges = ref
    mine_s = [np.empty(N_ROWS, wf_dtype) for _ in range(3)]
    ref_s = [np.empty(N_ROWS, wf_dtype) for _ in range(3)]
    T.histogram_stats(weights, edges, *mine_s, wf_dtype(np.nan))
    D.histogram_stats(weights, edges, *ref_s, wf_dtype(np.nan))
    for a, b in zip(mine_s, ref_s, strict=True):
        assert_close(a, b, wf_dtype, exact=True)
    for width_type in range(5):
        for skip in (0, 1):
            mine, ref = both(
                "histogram_peakstats",
                weights,
                edges,
                wf_dtype(np.nan),
                skip,
                width_type,
                outs=[(N_ROWS,)] * 2,
                dtype=wf_dtype,
            )
            for a, b in zip(mine, ref, strict=True):
                assert_close(a, b, wf_dtype, exact=True)
    mine, ref = both(
        "histogram_around_mode",
        base,
        wf_dtype(np.nan),
        wf_dtype(1),
        outs=[(N_ROWS, 41), (N_ROWS, 42)],
        dtype=wf_dtype,
    )
    assert_close(mine[0], ref[0], wf_dtype, exact=True)
    assert_close(mine[1], ref[1], wf_dtype)


@pytest.mark.parametrize(
    "name,args,length",
    [
        ("cusp_filter", (200.0, 40.0, 800.0), 1000),
        ("zac_filter", (200.0, 40.0, 800.0), 1000),
        ("cusp_filter", (20.0, 3.0, 50.0), 61),
        ("t0_filter", (8.0, 125.0), 133),
    ],
)
def test_kernels(wf_dtype, name, args, length):
    args = tuple(wf_dtype(a) for a in args)
    mine, ref = both(name, *args, outs=[(length,)], dtype=wf_dtype)
    assert_close(mine[0], ref[0], wf_dtype)


@pytest.mark.parametrize("name", ["convolve_wf", "fft_convolve_wf"])
@pytest.mark.parametrize("kernel_name", ["cusp", "t0", "short"])
@pytest.mark.parametrize("mode", ["v", "s", "f"])
def test_convolutions(pz, wf_dtype, name, kernel_name, mode):
    if kernel_name == "cusp":
        kernel = T.cusp_filter(
            wf_dtype(200.0), wf_dtype(40.0), wf_dtype(800.0), np.empty(1000, wf_dtype)
        )
    elif kernel_name == "t0":
        kernel = T.t0_filter(wf_dtype(8.0), wf_dtype(125.0), np.empty(133, wf_dtype))
    else:
        kernel = np.array([1.0, -2.0, 1.0], wf_dtype)
    data = pz.copy()
    data[2, 300] = np.nan  # a NaN row stays NaN in both
    m = kernel.size
    length = {"v": N_SAMPLES - m + 1, "s": N_SAMPLES, "f": N_SAMPLES + m - 1}[mode]
    mine, ref = both(
        name, data, kernel, np.int8(ord(mode)), outs=[(N_ROWS, length)], dtype=wf_dtype
    )
    # FFT rounding scales with the input and the kernel, not with the (possibly small) output
    scale = float(np.nanmax(np.abs(pz)) * np.abs(kernel.astype(float)).sum())
    assert_close(mine[0], ref[0], wf_dtype, scale=scale)


def test_reflected_convolve_wf(pz, wf_dtype):
    kernel = np.hanning(101).astype(wf_dtype)
    mine, ref = both("reflected_convolve_wf", pz, kernel, outs=[pz.shape], dtype=wf_dtype)
    assert_close(mine[0], ref[0], wf_dtype)


def test_soft_pileup_corr(wf, wf_dtype):
    mine, ref = both(
        "soft_pileup_corr", wf, wf_dtype(500), wf_dtype(800), outs=[wf.shape], dtype=wf_dtype
    )
    assert_close(mine[0], ref[0], wf_dtype)
    mine, ref = both(
        "soft_pileup_corr_bl",
        wf,
        wf_dtype(500),
        wf_dtype(800),
        wf_dtype(12000),
        outs=[wf.shape],
        dtype=wf_dtype,
    )
    assert_close(mine[0], ref[0], wf_dtype)


def test_peak_snr_threshold(pz, wf_dtype):
    idx = np.tile(np.array([500.0, 700.0, np.nan, 1200.0], wf_dtype), (N_ROWS, 1))
    mine = [np.empty((N_ROWS, 4), wf_dtype), np.empty(N_ROWS, np.uint32)]
    ref = [np.empty((N_ROWS, 4), wf_dtype), np.empty(N_ROWS, np.uint32)]
    T.peak_snr_threshold(pz, idx, wf_dtype(0.5), wf_dtype(20), *mine)
    D.peak_snr_threshold(pz, idx, wf_dtype(0.5), wf_dtype(20), *ref)
    assert_close(mine[0], ref[0], wf_dtype, exact=True)
    np.testing.assert_array_equal(mine[1], ref[1])


def test_rounding_and_where(wf_dtype):
    x = np.random.default_rng(0).normal(0, 5000, 64).astype(wf_dtype)
    x[3] = np.nan
    for name in ("round_to_nearest", "floor_to_nearest", "ceil_to_nearest", "trunc_to_nearest"):
        assert_close(
            getattr(T, name)(x, wf_dtype(16)),
            getattr(D, name)(x, wf_dtype(16)),
            wf_dtype,
            exact=True,
        )
    assert_close(T.where(x > 0, x, -x), D.where(x > 0, x, -x), wf_dtype, exact=True)
