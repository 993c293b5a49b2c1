"""NaN in gives NaN out, row by row, and bad values give NaN rows instead of errors."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pytest

from tierflow.dsp import processors as P

N_ROWS, N_SAMPLES, BAD = 4, 300, 1


def empty(*shape: int, dtype: type) -> np.ndarray:
    return np.full((N_ROWS, *shape), -123.0, dtype=dtype)


def _hist(wf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    weights, edges = empty(20, dtype=wf.dtype), empty(21, dtype=wf.dtype)
    P.histogram(wf, weights, edges)
    return weights, edges


def _hist_stats(wf: np.ndarray) -> tuple:
    weights, edges = _hist(wf)
    mode, peak, width = (empty(dtype=wf.dtype) for _ in range(3))
    P.histogram_stats(weights, edges, mode, peak, width, np.nan)
    return mode, peak, width


def _peak_snr(wf: np.ndarray) -> tuple:
    idx = np.tile(np.array([100.0, 200.0], dtype=wf.dtype), (N_ROWS, 1))
    return (P.peak_snr_threshold(wf, idx, 2.0, 5.0)[0],)


def _pickoff(wf: np.ndarray, mode: str) -> np.ndarray:
    return P.fixed_time_pickoff(wf, 150.5, ord(mode))


def _presum(wf: np.ndarray) -> tuple:
    factor, out = empty(dtype=wf.dtype), empty(N_SAMPLES // 4, dtype=wf.dtype)
    return P.presum(wf, 0.0, factor, out)


#: processor -> call on a block of pulses; returns its outputs
CASES: dict[str, Callable[[np.ndarray], object]] = {
    "linear_slope_fit": lambda wf: P.linear_slope_fit(wf),
    "linear_slope_diff": lambda wf: P.linear_slope_diff(wf, 0.1, 12000.0),
    "bl_subtract": lambda wf: P.bl_subtract(wf, 12000.0),
    "pole_zero": lambda wf: P.pole_zero(wf, 800.0),
    "double_pole_zero": lambda wf: P.double_pole_zero(wf, 800.0, 30.0, 0.05),
    "trap_filter": lambda wf: P.trap_filter(wf, 20, 5),
    "trap_norm": lambda wf: P.trap_norm(wf, 20, 5),
    "asym_trap_filter": lambda wf: P.asym_trap_filter(wf, 4, 2, 30),
    "trap_pickoff": lambda wf: P.trap_pickoff(wf, 20, 5, 150.5),
    **{f"fixed_time_pickoff_{m}": functools.partial(_pickoff, mode=m) for m in "nfclhs"},
    "min_max": lambda wf: P.min_max(wf),
    "min_max_norm": lambda wf: P.min_max_norm(wf, -10.0, 15000.0),
    "time_point_thresh": lambda wf: P.time_point_thresh(wf, 12050.0, float(N_SAMPLES - 1), 0.0),
    "interpolated_time_point_thresh": lambda wf: P.interpolated_time_point_thresh(
        wf, 12050.0, 0.0, 1, ord("l")
    ),
    "moving_window_left": lambda wf: P.moving_window_left(wf, 10.0),
    "moving_window_right": lambda wf: P.moving_window_right(wf, 10.0),
    "moving_window_multi": lambda wf: P.moving_window_multi(wf, 10.0, 3.0, 0),
    "avg_current": lambda wf: P.avg_current(wf, 2.0, empty(N_SAMPLES - 2, dtype=wf.dtype)),
    "windower": lambda wf: P.windower(wf, 50.0, empty(100, dtype=wf.dtype)),
    "presum": _presum,
    "upsampler": lambda wf: P.upsampler(wf, 2.0, empty(2 * N_SAMPLES - 1, dtype=wf.dtype)),
    "saturation": lambda wf: P.saturation(wf, 16.0),
    "histogram": _hist,
    "histogram_around_mode": lambda wf: P.histogram_around_mode(
        wf, np.nan, 1.0, empty(30, dtype=wf.dtype), empty(31, dtype=wf.dtype)
    ),
    "histogram_stats": _hist_stats,
    "histogram_peakstats": lambda wf: P.histogram_peakstats(*_hist(wf), np.nan, 0, 0),
    "convolve_wf": lambda wf: P.convolve_wf(
        wf, np.ones(5, wf.dtype), "s", empty(N_SAMPLES, dtype=wf.dtype)
    ),
    "fft_convolve_wf": lambda wf: P.fft_convolve_wf(
        wf, np.hanning(60).astype(wf.dtype), "v", empty(N_SAMPLES - 59, dtype=wf.dtype)
    ),
    "reflected_convolve_wf": lambda wf: P.reflected_convolve_wf(
        wf, np.ones(7, wf.dtype) / 7, empty(N_SAMPLES, dtype=wf.dtype)
    ),
    "soft_pileup_corr": lambda wf: P.soft_pileup_corr(wf, 100.0, 500.0),
    "soft_pileup_corr_bl": lambda wf: P.soft_pileup_corr_bl(wf, 100.0, 500.0, 12000.0),
    "peak_snr_threshold": _peak_snr,
}


def as_outputs(result: object) -> list[np.ndarray]:
    return [np.asarray(r) for r in (result if isinstance(result, tuple) else (result,))]


def test_every_processor_has_a_nan_case():
    waveform_processors = set(P.names()) - {
        "cusp_filter",
        "zac_filter",
        "t0_filter",
        "where",
        "round_to_nearest",
        "floor_to_nearest",
        "ceil_to_nearest",
        "trunc_to_nearest",
    }
    covered = {name for name in CASES if not name.startswith("fixed_time_pickoff_")}
    covered.add("fixed_time_pickoff")
    assert waveform_processors <= covered


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("where", ["start", "middle", "end", "all"])
def test_nan_in_one_row_gives_nan_out_in_that_row(make_pulses, wf_dtype, name, where):
    wf = make_pulses(N_ROWS, N_SAMPLES, wf_dtype)
    index = {"start": 0, "middle": N_SAMPLES // 2, "end": N_SAMPLES - 1, "all": slice(None)}[where]
    wf[BAD, index] = np.nan
    outputs = as_outputs(CASES[name](wf))
    for out in outputs:
        assert np.all(np.isnan(out[BAD])), f"{name}: row with NaN gave {out[BAD]}"
        good = np.delete(out, BAD, axis=0)
        assert np.any(np.isfinite(good)), f"{name}: the rows without NaN gave no numbers"
    if name not in ("peak_snr_threshold",):
        # the other rows are what they would have been without the bad row
        clean = make_pulses(N_ROWS, N_SAMPLES, wf_dtype)
        for out, ref in zip(outputs, as_outputs(CASES[name](clean)), strict=True):
            np.testing.assert_array_equal(np.delete(out, BAD, axis=0), np.delete(ref, BAD, axis=0))


@pytest.mark.parametrize(
    "name,call",
    [
        ("bl_subtract", lambda wf, x: P.bl_subtract(wf, x)),
        ("pole_zero", lambda wf, x: P.pole_zero(wf, x)),
        ("double_pole_zero", lambda wf, x: P.double_pole_zero(wf, 800.0, 30.0, x)),
        ("linear_slope_diff", lambda wf, x: P.linear_slope_diff(wf, x, 0.0)),
        ("trap_pickoff", lambda wf, x: P.trap_pickoff(wf, 20, 5, x)),
        ("fixed_time_pickoff", lambda wf, x: P.fixed_time_pickoff(wf, x, ord("l"))),
        ("min_max_norm", lambda wf, x: P.min_max_norm(wf, -1.0, x)),
        ("time_point_thresh", lambda wf, x: P.time_point_thresh(wf, x, 299.0, 0.0)),
        ("time_point_thresh start", lambda wf, x: P.time_point_thresh(wf, 12050.0, x, 0.0)),
        ("moving_window_left", lambda wf, x: P.moving_window_left(wf, x)),
        ("moving_window_multi", lambda wf, x: P.moving_window_multi(wf, x, 3.0, 0)),
        ("soft_pileup_corr", lambda wf, x: P.soft_pileup_corr(wf, 100.0, x)),
        ("windower", lambda wf, x: P.windower(wf, x, np.empty((N_ROWS, 10), wf.dtype))),
        ("upsampler", lambda wf, x: P.upsampler(wf, x, np.empty((N_ROWS, 20), wf.dtype))),
        ("avg_current", lambda wf, x: P.avg_current(wf, x, np.empty((N_ROWS, 298), wf.dtype))),
        ("saturation", lambda wf, x: P.saturation(wf, x)),
    ],
)
def test_nan_parameter_gives_nan_row(make_pulses, wf_dtype, name, call):
    wf = make_pulses(N_ROWS, N_SAMPLES, wf_dtype)
    good = {
        "trap_pickoff": 150.0,
        "fixed_time_pickoff": 150.5,
        "min_max_norm": 100.0,
        "time_point_thresh": 12050.0,
        "time_point_thresh start": 299.0,
        "moving_window_left": 10.0,
        "moving_window_multi": 10.0,
        "soft_pileup_corr": 500.0,
        "windower": 5.0,
        "upsampler": 2.0,
        "avg_current": 2.0,
        "saturation": 16.0,
        "double_pole_zero": 0.1,
        "pole_zero": 800.0,
    }.get(name, 1.0)
    param = np.full(N_ROWS, good, dtype=wf_dtype)
    param[BAD] = np.nan
    for out in as_outputs(call(wf, param)):
        assert np.all(np.isnan(out[BAD]))
        assert np.any(np.isfinite(np.delete(out, BAD, axis=0)))


@pytest.mark.parametrize(
    "call",
    [
        lambda wf: P.trap_norm(wf, 200, 10),  # wider than the waveform
        lambda wf: P.trap_filter(wf, 0, 10),
        lambda wf: P.asym_trap_filter(wf, 4, -1, 30),
        lambda wf: P.trap_pickoff(wf, 20, 5, 10.0),  # before the first full trapezoid
        lambda wf: P.time_point_thresh(wf, 12050.0, 300.0, 0.0),  # start past the end
        lambda wf: P.time_point_thresh(wf, 12050.0, 12.5, 1.0),  # fractional start
        lambda wf: P.time_point_thresh(wf, 1e9, 0.0, 1.0),  # never crossed
        lambda wf: P.fixed_time_pickoff(wf, 400.0, ord("l")),
        lambda wf: P.fixed_time_pickoff(wf, 10.5, ord("i")),
        lambda wf: P.moving_window_left(wf, 0.5),
        lambda wf: P.moving_window_multi(wf, 10.5, 3.0, 0),
        lambda wf: P.moving_window_multi(wf, 10.0, 0.0, 0),
        lambda wf: P.avg_current(wf, 2.0, np.empty((N_ROWS, 10), wf.dtype)),  # wrong length
        lambda wf: P.double_pole_zero(wf[:, :3], 800.0, 30.0, 0.1),  # too short
        lambda wf: P.saturation(wf, -2.0),
        lambda wf: P.soft_pileup_corr(wf, 1000.0, 500.0),  # more samples than the waveform
        lambda wf: P.cusp_filter(-1.0, 10.0, 100.0, np.empty(50, wf.dtype)),
        lambda wf: P.zac_filter(10.0, 2.5, 100.0, np.empty(50, wf.dtype)),
        lambda wf: P.t0_filter(np.nan, 10.0, np.empty(12, wf.dtype)),
        lambda wf: P.histogram_peakstats(*_hist(wf), np.nan, 0, 7),  # unknown width type
    ],
)
def test_bad_values_give_nan_not_errors(make_pulses, wf_dtype, call):
    wf = make_pulses(N_ROWS, N_SAMPLES, wf_dtype)
    for out in as_outputs(call(wf)):
        assert np.all(np.isnan(out))


def test_kernels_with_nan_parameters(wf_dtype):
    for kernel in (P.cusp_filter, P.zac_filter):
        assert np.all(np.isnan(kernel(np.nan, 10.0, 100.0, np.empty(50, wf_dtype))))
        assert np.all(np.isnan(kernel(10.0, 10.0, np.nan, np.empty(50, wf_dtype))))
    for rounding in (P.round_to_nearest, P.floor_to_nearest, P.ceil_to_nearest, P.trunc_to_nearest):
        assert np.isnan(rounding(wf_dtype(np.nan), wf_dtype(4)))


def test_nan_kernel_gives_nan_convolution(wf_dtype):
    wf = np.ones((2, 50), wf_dtype)
    for name, taps in (("convolve_wf", 3), ("fft_convolve_wf", 3), ("convolve_wf", 60 // 2 + 30)):
        kernel = np.ones(min(taps, 50), wf_dtype)
        kernel[0] = np.nan
        out = np.empty((2, 50), wf_dtype)
        getattr(P, name)(wf, kernel, "s", out)
        assert np.all(np.isnan(out))
