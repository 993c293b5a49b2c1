"""Processors against results known in closed form, in float32 and float64."""

from __future__ import annotations

import numpy as np
import pytest

from tierflow.dsp import processors as P


def tol(dtype: type, f64: float = 1e-9, f32: float = 1e-4) -> float:
    return f32 if dtype == np.float32 else f64


def step(n: int, at: int, height: float, dtype: type, tau: float | None = None) -> np.ndarray:
    """Zeros, then ``height`` from index ``at`` on (decaying as exp(-t/tau) if given)."""
    t = np.arange(n, dtype=np.float64)
    out = np.where(t >= at, height, 0.0)
    if tau is not None:
        out *= np.exp(-np.clip(t - at, 0, None) / tau)
    return out.astype(dtype)


# --- baseline ------------------------------------------------------------------------------


def test_linear_slope_fit_of_a_line(wf_dtype):
    n = 500
    i = np.arange(n)
    wf = np.stack([5.0 + 0.25 * i, -3.0 - 0.01 * i]).astype(wf_dtype)
    mean, std, slope, icpt = P.linear_slope_fit(wf)
    np.testing.assert_allclose(slope, [0.25, -0.01], rtol=tol(wf_dtype, 1e-12, 1e-5))
    np.testing.assert_allclose(icpt, [5.0, -3.0], rtol=tol(wf_dtype, 1e-12, 1e-5))
    np.testing.assert_allclose(
        mean, [5.0 + 0.25 * (n - 1) / 2, -3.0 - 0.01 * (n - 1) / 2], rtol=tol(wf_dtype, 1e-12, 1e-6)
    )
    # sample standard deviation of a linear ramp: |b| sqrt(n (n + 1) / 12)
    np.testing.assert_allclose(
        std,
        [0.25 * np.sqrt(n * (n + 1) / 12), 0.01 * np.sqrt(n * (n + 1) / 12)],
        rtol=tol(wf_dtype, 1e-10, 1e-5),
    )
    assert mean.dtype == wf_dtype


def test_linear_slope_fit_noise_std(make_pulses, wf_dtype):
    rng = np.random.default_rng(3)
    wf = (100 + rng.normal(0, 4.0, (3, 5000))).astype(wf_dtype)
    mean, std, slope, _ = P.linear_slope_fit(wf)
    np.testing.assert_allclose(
        std, np.std(wf.astype(np.float64), axis=1, ddof=1), rtol=tol(wf_dtype, 1e-10, 1e-5)
    )
    np.testing.assert_allclose(
        mean, wf.astype(np.float64).mean(axis=1), rtol=tol(wf_dtype, 1e-12, 1e-6)
    )
    assert np.all(np.abs(slope) < 0.01)


def test_linear_slope_diff_of_the_fitted_line(wf_dtype):
    wf = (2.0 + 0.5 * np.arange(100)).astype(wf_dtype)
    mean, rms = P.linear_slope_diff(wf, 0.5, 2.0)
    assert abs(float(mean)) < tol(wf_dtype, 1e-12, 1e-4)
    assert abs(float(rms)) < tol(wf_dtype, 1e-12, 1e-4)
    mean, rms = P.linear_slope_diff(wf, 0.5, 1.0)  # every residual is 1
    assert float(rms) == pytest.approx(np.sqrt(100 / 99), rel=1e-6)
    assert float(mean) == pytest.approx(np.sum(1 / np.arange(1, 101)), rel=1e-6)


def test_bl_subtract(wf_dtype):
    wf = np.array([[10, 11, 12], [0, 1, 2]], dtype=wf_dtype)
    out = P.bl_subtract(wf, np.array([10, -1], dtype=wf_dtype))
    np.testing.assert_array_equal(out, [[0, 1, 2], [1, 2, 3]])
    assert out.dtype == wf_dtype


# --- pole-zero ------------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [50.0, 2000.0])
def test_pole_zero_flattens_its_exponential(wf_dtype, tau):
    wf = step(3000, 1000, 1500.0, wf_dtype, tau=tau)
    out = P.pole_zero(wf, tau)
    np.testing.assert_allclose(out[1000:], 1500.0, rtol=tol(wf_dtype, 1e-9, 1e-5))
    np.testing.assert_array_equal(out[:1000], 0.0)
    # a wrong time constant leaves a slope behind
    wrong = P.pole_zero(wf, tau * 2)
    assert abs(float(wrong[-1]) - 1500.0) > 100


def test_pole_zero_keeps_the_baseline_of_the_first_sample(wf_dtype):
    wf = np.full(50, 7.0, dtype=wf_dtype)
    out = P.pole_zero(wf, 100.0)
    assert out[0] == 7.0
    # a constant c turns into c + (1 - exp(-1/tau)) c i: the filter integrates the offset
    np.testing.assert_allclose(
        out, 7.0 + 7.0 * (1 - np.exp(-1 / 100.0)) * np.arange(50), rtol=tol(wf_dtype, 1e-12, 1e-5)
    )


def test_double_pole_zero_flattens_two_exponentials(wf_dtype):
    t = np.arange(2000.0)
    frac, tau1, tau2 = 0.1, 1500.0, 60.0
    shape = (1 - frac) * np.exp(-(t - 500) / tau1) + frac * np.exp(-(t - 500) / tau2)
    wf = np.where(t >= 500, 800.0 * shape, 0.0).astype(wf_dtype)
    out = P.double_pole_zero(wf, tau1, tau2, frac)
    np.testing.assert_allclose(out[500:], 800.0, rtol=tol(wf_dtype, 1e-9, 1e-4))
    np.testing.assert_array_equal(out[:500], 0.0)


# --- trapezoids -----------------------------------------------------------------------------


@pytest.mark.parametrize("rise,flat", [(1, 0), (10, 5), (250, 80)])
def test_trap_filter_of_a_step(wf_dtype, rise, flat):
    n, at, h = 1200, 400, 3.0
    out = P.trap_filter(step(n, at, h, wf_dtype), rise, flat)
    i = np.arange(n)
    expected = h * (np.clip(i - at + 1, 0, rise) - np.clip(i - at - rise - flat + 1, 0, rise))
    np.testing.assert_allclose(out, expected, atol=tol(wf_dtype, 1e-9, 1e-3))
    assert float(out.max()) == pytest.approx(rise * h)
    assert int(np.sum(np.isclose(out, rise * h))) == flat + 1  # the flat top


@pytest.mark.parametrize("rise,flat", [(10, 5), (250, 80)])
def test_trap_norm_height_is_the_step_height(wf_dtype, rise, flat):
    out = P.trap_norm(step(1200, 400, 37.5, wf_dtype), rise, flat)
    assert float(out.max()) == pytest.approx(37.5, rel=1e-6)
    np.testing.assert_allclose(out[400 + rise - 1 : 400 + rise + flat], 37.5, rtol=1e-6)
    assert np.all(out[:400] == 0)
    np.testing.assert_allclose(out[400 + 2 * rise + flat :], 0.0, atol=tol(wf_dtype, 1e-9, 1e-4))
    # rising edge is a straight line
    np.testing.assert_allclose(
        np.diff(out[400 : 400 + rise]), 37.5 / rise, rtol=tol(wf_dtype, 1e-9, 1e-3)
    )


def test_trap_filter_on_a_pulse_matches_direct_sums(make_pulses, wf_dtype):
    wf = make_pulses(3, 800, wf_dtype)
    rise, flat = 40, 13
    out = P.trap_filter(wf, rise, flat)
    x = wf.astype(np.float64)
    c = np.concatenate([np.zeros((3, 1)), np.cumsum(x, axis=1)], axis=1)  # c[:, k] = sum(x[:, :k])
    i = np.arange(2 * rise + flat, 800)
    direct = (c[:, i + 1] - c[:, i + 1 - rise]) - (
        c[:, i + 1 - rise - flat] - c[:, i + 1 - 2 * rise - flat]
    )
    np.testing.assert_allclose(out[:, i], direct, atol=tol(wf_dtype, 1e-6, 1.0))


def test_asym_trap_filter_of_a_step(wf_dtype):
    rise, flat, fall = 4, 3, 20
    out = P.asym_trap_filter(step(200, 50, 10.0, wf_dtype), rise, flat, fall)
    assert float(out.max()) == pytest.approx(10.0)
    np.testing.assert_allclose(out[50 : 50 + rise], 10.0 * np.arange(1, rise + 1) / rise, rtol=1e-6)
    np.testing.assert_allclose(out[53 : 50 + rise + flat], 10.0, rtol=1e-6)
    # the long fall section: falls by 10/fall per sample
    fall_part = out[50 + rise + flat - 1 : 50 + rise + flat + fall]
    np.testing.assert_allclose(np.diff(fall_part), -10.0 / fall, rtol=tol(wf_dtype, 1e-9, 1e-3))
    np.testing.assert_allclose(out[50 + rise + flat + fall :], 0.0, atol=1e-4)


def test_trap_pickoff_equals_trap_norm(make_pulses, wf_dtype):
    wf = make_pulses(4, 600, wf_dtype)
    rise, flat = 30, 10
    trap = P.trap_norm(wf, rise, flat)
    for t in (2 * rise + flat, 300, 599):
        np.testing.assert_allclose(
            P.trap_pickoff(wf, rise, flat, float(t)), trap[:, t], rtol=tol(wf_dtype, 1e-9, 1e-4)
        )
    mid = P.trap_pickoff(wf, rise, flat, 300.25)
    np.testing.assert_allclose(
        mid, 0.75 * trap[:, 300] + 0.25 * trap[:, 301], rtol=tol(wf_dtype, 1e-9, 1e-4)
    )
    assert np.all(
        np.isnan(P.trap_pickoff(wf, rise, flat, 2.0 * rise + flat - 1))
    )  # before the first full trapezoid
    assert np.all(np.isnan(P.trap_pickoff(wf, rise, flat, 600.0)))


# --- pick-off, extrema, thresholds ----------------------------------------------------------


@pytest.mark.parametrize(
    "mode,expected",
    [("n", 16.0), ("f", 9.0), ("c", 16.0), ("l", 12.5), ("h", 12.25), ("i", np.nan)],
)
def test_fixed_time_pickoff_modes_on_a_parabola(wf_dtype, mode, expected):
    wf = (np.arange(8.0) ** 2).astype(wf_dtype)  # Hermite with central differences is exact here
    got = float(P.fixed_time_pickoff(wf, 3.5, ord(mode)))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_fixed_time_pickoff_spline_and_edges(wf_dtype):
    line = (3.0 * np.arange(20.0) - 4).astype(wf_dtype)
    assert float(P.fixed_time_pickoff(line, 7.25, ord("s"))) == pytest.approx(
        3 * 7.25 - 4, rel=1e-6
    )
    assert float(P.fixed_time_pickoff(line, 12.0, ord("i"))) == 32.0  # integer times: the sample
    assert float(P.fixed_time_pickoff(line, 0.0, ord("h"))) == -4.0
    assert float(P.fixed_time_pickoff(line, 19.0, ord("l"))) == 53.0
    assert np.isnan(P.fixed_time_pickoff(line, 19.5, ord("l")))
    assert np.isnan(P.fixed_time_pickoff(line, -0.5, ord("l")))
    with pytest.raises(ValueError, match="interpolation mode"):
        P.fixed_time_pickoff(line, 2.5, ord("q"))


def test_min_max_positions(wf_dtype):
    wf = np.array([[0, 5, -2, 5, -2, 1], [1, 1, 1, 1, 1, 1]], dtype=wf_dtype)
    t_min, t_max, a_min, a_max = P.min_max(wf)
    np.testing.assert_array_equal(t_min, [2, 0])
    np.testing.assert_array_equal(t_max, [1, 0])
    np.testing.assert_array_equal(a_min, [-2, 1])
    np.testing.assert_array_equal(a_max, [5, 1])


def test_min_max_norm(wf_dtype):
    wf = np.array([[-8.0, 2.0, 4.0], [0.0, 3.0, 6.0]], dtype=wf_dtype)
    out = P.min_max_norm(wf, np.array([-8.0, 0.0]), np.array([4.0, 6.0]))
    np.testing.assert_allclose(
        out, [[-1.0, 0.25, 0.5], [0.0, 3.0, 6.0]]
    )  # a zero extreme: unchanged


def test_time_point_thresh_on_a_ramp(wf_dtype):
    ramp = np.arange(100, dtype=wf_dtype)  # w[i] = i
    fwd = P.time_point_thresh(ramp, np.array([10.0, 50.5, 90.0]), 0.0, 1.0)
    np.testing.assert_array_equal(fwd, [10.0, 50.0, 90.0])  # the sample just before the crossing
    back = P.time_point_thresh(ramp, np.array([10.0, 50.5, 90.0]), 99.0, 0.0)
    np.testing.assert_array_equal(back, [10.0, 51.0, 90.0])  # the sample just after it
    # tp_10 / tp_50 / tp_90 of a linear rise from 0 to 1000 over samples 100..200
    rise = np.clip((np.arange(400) - 100) * 10.0, 0, 1000).astype(wf_dtype)
    tps = P.time_point_thresh(rise, np.array([100.0, 500.0, 900.0]), 300.0, 0.0)
    np.testing.assert_array_equal(tps, [110.0, 150.0, 190.0])


def test_time_point_thresh_falling_edge_and_misses(wf_dtype):
    fall = np.arange(100, 0, -1).astype(wf_dtype)  # 100 .. 1
    assert float(P.time_point_thresh(fall, 50.5, 0.0, 1.0)) == 49.0
    assert float(P.time_point_thresh(fall, 50.5, 99.0, 0.0)) == 50.0
    assert np.isnan(P.time_point_thresh(fall, 500.0, 0.0, 1.0))  # never crossed
    assert np.isnan(P.time_point_thresh(fall, 50.5, 5.5, 1.0))  # fractional start
    assert np.isnan(P.time_point_thresh(fall, 50.5, 100.0, 1.0))  # start past the end
    assert np.isnan(P.time_point_thresh(fall, 50.5, -1.0, 0.0))
    assert np.isnan(P.time_point_thresh(fall, 50.5, 10.0, 0.5))  # fractional direction


@pytest.mark.parametrize(
    "mode,expected",
    [("l", 21.25), ("i", 21.0), ("b", 21.0), ("a", 22.0), ("f", 22.0), ("r", 21.0), ("n", 21.5)],
)
def test_interpolated_time_point_thresh_modes(wf_dtype, mode, expected):
    ramp = (4.0 * np.arange(50)).astype(
        wf_dtype
    )  # threshold 85 lies between samples 21 (84) and 22 (88)
    assert float(P.interpolated_time_point_thresh(ramp, 85.0, 0.0, 1, ord(mode))) == expected
    assert float(P.interpolated_time_point_thresh(ramp, 85.0, 49.0, 0, ord(mode))) == expected


# --- windows, current, resampling -----------------------------------------------------------


def test_moving_windows_of_a_step(wf_dtype):
    wf = step(40, 10, 6.0, wf_dtype)
    left = P.moving_window_left(wf, 3.0)
    np.testing.assert_allclose(left[9:14], [0, 2, 4, 6, 6], atol=1e-5)
    right = P.moving_window_right(wf, 3.0)
    np.testing.assert_allclose(right[6:12], [0, 0, 2, 4, 6, 6], atol=1e-5)
    const = np.full(30, 4.0, dtype=wf_dtype)
    np.testing.assert_allclose(P.moving_window_multi(const, 5.0, 3.0, 0), 4.0, rtol=1e-6)


def test_moving_window_multi_composes_single_windows(make_pulses, wf_dtype):
    wf = make_pulses(3, 500, wf_dtype)
    expected = P.moving_window_left(P.moving_window_right(P.moving_window_left(wf, 7.0), 7.0), 7.0)
    np.testing.assert_allclose(
        P.moving_window_multi(wf, 7.0, 3.0, 0), expected, rtol=tol(wf_dtype, 1e-12, 1e-6)
    )
    only_right = P.moving_window_right(P.moving_window_right(wf, 7.0), 7.0)
    np.testing.assert_allclose(
        P.moving_window_multi(wf, 7.0, 2.0, 2), only_right, rtol=tol(wf_dtype, 1e-12, 1e-6)
    )


def test_avg_current_is_the_averaged_derivative(wf_dtype):
    wf = (0.5 * np.arange(20.0) ** 2).astype(wf_dtype)
    out = np.empty(17, dtype=wf_dtype)
    P.avg_current(wf, 3.0, out)
    np.testing.assert_allclose(out, (wf[3:].astype(float) - wf[:-3]) / 3.0, rtol=1e-6)
    np.testing.assert_allclose(np.diff(out), 1.0, rtol=1e-5)  # derivative of i^2/2 grows by 1
    wrong_length = np.empty(16, dtype=wf_dtype)
    assert np.all(np.isnan(P.avg_current(wf, 3.0, wrong_length)))


def test_windower(wf_dtype):
    wf = np.arange(10, dtype=wf_dtype)
    out = np.empty((3, 4), dtype=wf_dtype)
    P.windower(np.stack([wf] * 3), np.array([2.0, -2.0, 8.0]), out)
    np.testing.assert_array_equal(out[0], [2, 3, 4, 5])
    np.testing.assert_array_equal(out[1], [np.nan, np.nan, 0, 1])
    np.testing.assert_array_equal(out[2], [8, 9, np.nan, np.nan])


@pytest.mark.parametrize("do_norm", [0.0, 1.0])
def test_presum_sums_chunks(wf_dtype, do_norm):
    wf = np.arange(26, dtype=wf_dtype)
    factor, out = np.empty((), wf_dtype), np.empty(6, wf_dtype)
    P.presum(wf, do_norm, factor, out)
    assert float(factor) == 4.0
    sums = np.arange(24).reshape(6, 4).sum(axis=1)
    np.testing.assert_allclose(out, sums / 4 if do_norm else sums)
    assert np.all(np.isnan(P.presum(wf, 2.0, factor, out)[1]))  # do_norm must be 0 or 1


def test_upsampler_repeats_samples(wf_dtype):
    out = np.empty(12, dtype=wf_dtype)
    P.upsampler(np.array([1, 2, 3], dtype=wf_dtype), 4.0, out)
    np.testing.assert_array_equal(out, [1, 1, 2, 2, 2, 2, 3, 3, 3, 3, np.nan, np.nan])
    assert np.all(np.isnan(P.upsampler(np.array([1, 2, 3], dtype=wf_dtype), 0.0, out)))


# --- flags and histograms -------------------------------------------------------------------


def test_saturation_counts(wf_dtype):
    wf = np.array([[0, 0, 5, 16370, 16370, 16370], [1, 2, 3, 4, 5, 6]], dtype=wf_dtype)
    lo, hi = P.saturation(wf, 14.0)  # 14 bits: high limit 2**14 - 14 = 16370
    np.testing.assert_array_equal(lo, [2, 0])
    np.testing.assert_array_equal(hi, [3, 0])
    lo, hi = P.saturation(wf, 14.5)
    assert np.all(np.isnan(lo)) and np.all(np.isnan(hi))


def test_histogram_and_its_mode(wf_dtype):
    data = np.array([0, 1, 1, 2, 2, 2, 2, 3, 3, 4, 8], dtype=wf_dtype)  # 8 bins of width 1
    weights, edges = np.empty(8, wf_dtype), np.empty(9, wf_dtype)
    P.histogram(data, weights, edges)
    np.testing.assert_array_equal(edges, np.arange(9))
    np.testing.assert_array_equal(
        weights, [1, 2, 4, 2, 1, 0, 0, 0]
    )  # the maximum (8) is not counted
    mode, peak, hwhm = np.empty((), wf_dtype), np.empty((), wf_dtype), np.empty((), wf_dtype)
    P.histogram_stats(weights, edges, mode, peak, hwhm, np.nan)
    assert (float(mode), float(peak), float(hwhm)) == (2.0, 2.0, 1.0)
    P.histogram_stats(weights, edges, mode, peak, hwhm, 3.2)  # bin edge closest to 3.2
    assert float(mode) == 3.0
    centre, width = P.histogram_peakstats(weights, edges, np.nan, 0, 0)
    assert (float(centre), float(width)) == (2.5, 1.0)
    with pytest.raises(ValueError, match="one longer"):
        P.histogram(data, weights, np.empty(8, wf_dtype))


def test_histogram_around_mode_centres_the_mode(wf_dtype):
    rng = np.random.default_rng(5)
    data = np.round(rng.normal(1000, 2, 5000)).astype(wf_dtype)
    weights, edges = np.empty(21, wf_dtype), np.empty(22, wf_dtype)
    P.histogram_around_mode(data, np.nan, 1.0, weights, edges)
    assert float(edges[10]) + 0.5 == 1000.0  # the mode sits in the middle bin
    assert int(np.argmax(weights)) == 10
    assert float(weights.sum()) == np.sum(np.abs(data - 1000) <= 10)


# --- kernels and convolutions ---------------------------------------------------------------


@pytest.mark.parametrize(
    "mode,m", [("f", 5), ("v", 5), ("s", 5), ("s", 4), ("s", 60), ("v", 60), ("f", 61)]
)
def test_convolutions_follow_numpy_convolve(wf_dtype, mode, m):
    rng = np.random.default_rng(m)
    wf = rng.normal(size=(3, 200)).astype(wf_dtype)
    kernel = rng.normal(size=m).astype(wf_dtype)
    expected = np.array(
        [
            np.convolve(
                row.astype(float),
                kernel.astype(float),
                mode={"f": "full", "v": "valid", "s": "same"}[mode],
            )
            for row in wf
        ]
    )
    for name in ("convolve_wf", "fft_convolve_wf"):
        out = np.empty(expected.shape, wf_dtype)
        getattr(P, name)(wf, kernel, mode, out)
        np.testing.assert_allclose(out, expected, atol=tol(wf_dtype, 1e-9, 1e-4))


def test_convolution_kernel_per_row_and_strided_output(wf_dtype):
    rng = np.random.default_rng(2)
    wf = rng.normal(size=(2, 100)).astype(wf_dtype)
    kernels = rng.normal(size=(2, 70)).astype(wf_dtype)
    big = np.zeros((2, 62), wf_dtype)
    out = big[:, ::2]  # not contiguous
    P.fft_convolve_wf(wf, kernels, ord("v"), out)
    for r in range(2):
        np.testing.assert_allclose(
            out[r], np.convolve(wf[r], kernels[r], "valid"), atol=tol(wf_dtype, 1e-9, 1e-4)
        )
    assert np.all(big[:, 1::2] == 0)


def test_convolution_rejects_bad_shapes():
    wf = np.zeros((1, 10))
    with pytest.raises(ValueError, match="output has"):
        P.fft_convolve_wf(wf, np.ones(3), "v", np.empty((1, 9)))
    with pytest.raises(ValueError, match="longer than the waveform"):
        P.convolve_wf(wf, np.ones(11), "s", np.empty((1, 10)))
    with pytest.raises(ValueError, match="unknown convolution mode"):
        P.convolve_wf(wf, np.ones(3), "x", np.empty((1, 10)))


def test_reflected_convolve_wf_keeps_a_line_straight(wf_dtype):
    line = (2.0 * np.arange(50) + 1).astype(wf_dtype)
    out = np.empty(50, wf_dtype)
    P.reflected_convolve_wf(line, np.ones(5, wf_dtype) / 5, out)
    np.testing.assert_allclose(out[3:-3], line[3:-3], rtol=1e-5)  # a symmetric average of a line


def test_cusp_and_zac_kernels(wf_dtype):
    cusp = P.cusp_filter(40.0, 10.0, 0.0, np.empty(101, wf_dtype))  # decay 0: no deconvolution
    lt = (101 - 10) // 2
    np.testing.assert_allclose(cusp[lt : lt + 11], 1.0)
    assert float(cusp[0]) == 0.0
    np.testing.assert_allclose(cusp[1:lt], cusp[-1:-lt:-1], rtol=1e-6)  # symmetric
    zac = P.zac_filter(40.0, 10.0, 0.0, np.empty(101, wf_dtype))
    assert abs(float(zac.astype(float).sum())) < tol(wf_dtype, 1e-9, 1e-4)  # zero area
    np.testing.assert_allclose(zac[lt : lt + 11], 1.0)


def test_deconvolved_cusp_kernel_undoes_the_decay(wf_dtype):
    tau, sigma, flat = 300.0, 20.0, 10.0
    shape = P.cusp_filter(sigma, flat, 0.0, np.empty(251, np.float64))
    kernel = P.cusp_filter(sigma, flat, tau, np.empty(251, wf_dtype))
    np.testing.assert_allclose(kernel[1:], shape[1:] - np.exp(-1 / tau) * shape[:-1], atol=1e-6)
    # the deconvolution turns a decaying step of height h into an impulse, so the filtered
    # pulse is h times the CUSP shape: its maximum is the step height, on a flat top
    decaying = step(900, 300, 100.0, wf_dtype, tau=tau)
    out = np.empty(650, wf_dtype)
    P.fft_convolve_wf(decaying, kernel, "v", out)
    assert float(out.max()) == pytest.approx(100.0, rel=1e-3)
    assert int(np.sum(np.abs(out - 100.0) < 0.1)) >= flat + 1


def test_t0_kernel_has_zero_area(wf_dtype):
    kernel = P.t0_filter(8.0, 125.0, np.empty(133, wf_dtype))
    assert float(kernel[:8].astype(float).sum()) == pytest.approx(1.0)
    assert float(kernel.astype(float).sum()) == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(kernel[8:], -1 / 125.0, rtol=1e-6)
    with pytest.raises(ValueError, match="rise \\+ fall"):
        P.t0_filter(8.0, 125.0, np.empty(10, wf_dtype))


def test_legacy_factory_forms_build_convolvers(make_pulses):
    wf = make_pulses(4, 1000, np.float64)
    legacy = P.cusp_filter(400, 40.0, 10.0, 600.0)  # init_args: (length, sigma, flat, decay)
    assert legacy.signature == "(n)->(m)"
    out = np.empty((4, 601))
    legacy(wf, out)
    kernel = P.cusp_filter(40.0, 10.0, 600.0, np.empty(400))
    expected = np.empty((4, 601))
    P.fft_convolve_wf(wf, kernel, "v", expected)
    np.testing.assert_allclose(out, expected, rtol=1e-9)
    zac = P.zac_filter(400, 40.0, 10.0, 600.0)
    zac(wf, out)
    assert np.all(np.isfinite(out))
    t0 = P.t0_filter(8, 125)  # pygama's kernel: ramp normalised by rise**2
    t0_out = np.empty((4, 1000))
    t0(wf, t0_out)
    k = np.r_[2 * (8 - np.arange(8)) / 64.0, np.full(125, -1 / 125)]
    np.testing.assert_allclose(t0_out[0], np.convolve(wf[0], k)[:1000], rtol=1e-9, atol=1e-6)
    with pytest.raises(ValueError):
        P.cusp_filter(0, 40.0, 10.0, 600.0)


# --- the rest --------------------------------------------------------------------------------


def test_soft_pileup_corr_removes_an_exponential_tail(wf_dtype):
    t = np.arange(600.0)
    wf = (20.0 + 300.0 * np.exp(-t / 200.0)).astype(wf_dtype)
    np.testing.assert_allclose(
        P.soft_pileup_corr(wf, 300.0, 200.0), 0.0, atol=tol(wf_dtype, 1e-8, 2e-2)
    )
    np.testing.assert_allclose(
        P.soft_pileup_corr_bl(wf, 300.0, 200.0, 20.0), 0.0, atol=tol(wf_dtype, 1e-8, 2e-2)
    )
    assert np.all(np.isnan(P.soft_pileup_corr(wf, 1.0, 200.0)))  # needs two samples


def test_rounding_and_where(wf_dtype):
    x = np.array([-25.0, -5.0, 5.0, 15.0, 26.0, np.nan], dtype=wf_dtype)
    np.testing.assert_array_equal(P.round_to_nearest(x, wf_dtype(10)), [-20, -0, 0, 20, 30, np.nan])
    np.testing.assert_array_equal(
        P.floor_to_nearest(x, wf_dtype(10)), [-30, -10, 0, 10, 20, np.nan]
    )
    np.testing.assert_array_equal(P.ceil_to_nearest(x, wf_dtype(10)), [-20, 0, 10, 20, 30, np.nan])
    np.testing.assert_array_equal(P.trunc_to_nearest(x, wf_dtype(10)), [-20, 0, 0, 10, 20, np.nan])
    np.testing.assert_array_equal(P.round_to_nearest(np.array([17, 24]), 5), [15, 25])
    np.testing.assert_array_equal(P.where(x > 0, x, wf_dtype(-1))[:5], [-1, -1, 5, 15, 26])


def test_peak_snr_threshold(wf_dtype):
    wf = np.array([5, 10, 4, 9, 8, 9, 1, 3], dtype=wf_dtype)
    idx, count = P.peak_snr_threshold(wf, np.array([1.0, 4.0, np.nan, 7.0]), 0.5, 1.0)
    # around 1: min(wf[0:1]) = 5 -> 0.5, not kept; around 4: min(wf[3:4]) = 9/8 ... kept only if small
    expected = [i for i in (1, 4, 7) if abs(wf[max(i - 1, 0) : min(i + 1, 7)].min() / wf[i]) < 0.5]
    assert int(count) == len(expected)
    np.testing.assert_array_equal(idx[: len(expected)], expected)
    assert np.all(np.isnan(idx[len(expected) :]))
