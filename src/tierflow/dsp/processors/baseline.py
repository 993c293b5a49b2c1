"""Baseline processors: subtract a constant, fit a straight line over a window."""

from __future__ import annotations

import numpy as np
from numba import njit

from tierflow.dsp.processors._common import write_back
from tierflow.dsp.processors._gufunc import gufunc
from tierflow.dsp.processors.options import JIT_OPTIONS, REDUCTION_FASTMATH


@njit(**JIT_OPTIONS)
def _subtract(x: np.ndarray, b: float, o: np.ndarray) -> bool:  # pragma: no cover - compiled
    bad = False
    for i in range(x.shape[0]):
        v = x[i]
        bad |= np.isnan(v)
        o[i] = v - b
    return bad


@gufunc(
    ["void(float32[:], float32, float32[:])", "void(float64[:], float64, float64[:])"],
    "(n),()->(n)",
)
def bl_subtract(w_in: np.ndarray, a_baseline: float, w_out: np.ndarray) -> None:  # pragma: no cover
    """``w_out = w_in - a_baseline``; NaN anywhere in the input gives an all-NaN output.

    Signature ``(n),()->(n)``.

    >>> import numpy as np
    >>> bl_subtract(np.array([[10.0, 12.0], [1.0, np.nan]]), np.array([10.0, 0.0]))
    array([[ 0.,  2.],
           [nan, nan]])
    """
    o = np.ascontiguousarray(w_out)
    bad = _subtract(np.ascontiguousarray(w_in), a_baseline, o)
    if bad or np.isnan(a_baseline):
        o[:] = np.nan
    write_back(o, w_out)


_FAST = {**JIT_OPTIONS, "fastmath": set(REDUCTION_FASTMATH)}


@njit(**_FAST)
def _sums(x: np.ndarray) -> tuple[float, float]:  # pragma: no cover - compiled
    """sum(x) and sum(i * x) in float64."""
    sy = 0.0
    sxy = 0.0
    for i in range(x.shape[0]):
        v = np.float64(x[i])
        sy += v
        sxy += i * v
    return sy, sxy


@njit(**_FAST)
def _sum_sq_dev(x: np.ndarray, mean: float) -> float:  # pragma: no cover - compiled
    ss = 0.0
    for i in range(x.shape[0]):
        d = x[i] - mean
        ss += d * d
    return ss


@njit(**_FAST)
def _residuals(
    x: np.ndarray, slope: float, intercept: float
) -> tuple[float, float]:  # pragma: no cover
    """sum(r / (i + 1)) and sum(r**2) of r = x - (slope * i + intercept)."""
    s = 0.0
    ss = 0.0
    for i in range(x.shape[0]):
        r = x[i] - (slope * i + intercept)
        s += r / (i + 1)
        ss += r * r
    return s, ss


@gufunc(
    [
        "void(float32[:], float32[:], float32[:], float32[:], float32[:])",
        "void(float64[:], float64[:], float64[:], float64[:], float64[:])",
    ],
    "(n)->(),(),(),()",
)
def linear_slope_fit(
    w_in: np.ndarray, mean: np.ndarray, stdev: np.ndarray, slope: np.ndarray, intercept: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Mean, sample standard deviation, and least-squares slope and intercept of ``w_in``.

    Signature ``(n)->(),(),(),()``; arguments ``(w_in, mean, stdev, slope, intercept)``.
    The line is fitted against the sample index (``0 .. n-1``), so the slope is in units per
    sample and the intercept is the value at index 0. ``stdev`` divides by ``n - 1``. Sums are
    taken in float64 (two passes: mean, then squared deviations). NaN anywhere in the input
    gives NaN for every output; fewer than two samples give NaN for ``stdev``, ``slope`` and
    ``intercept``.

    >>> import numpy as np
    >>> mean, std, slope, icpt = linear_slope_fit(3.0 + 0.5 * np.arange(5.0))
    >>> float(mean), float(std), float(slope), float(icpt)
    (4.0, 0.7905694150420949, 0.5, 3.0)
    """
    n = w_in.shape[0]
    if n == 0:
        mean[0] = stdev[0] = slope[0] = intercept[0] = np.nan
        return
    x = np.ascontiguousarray(w_in)
    sy, sxy = _sums(x)
    m = sy / n
    ss = _sum_sq_dev(x, m)
    xm = (n - 1) / 2.0
    sxx = n * (n * n - 1.0) / 12.0  # sum over i of (i - xm)**2
    sl = (sxy - xm * sy) / sxx if n > 1 else np.nan
    mean[0] = m
    stdev[0] = np.sqrt(ss / (n - 1)) if n > 1 else np.nan
    slope[0] = sl
    intercept[0] = m - sl * xm


@gufunc(
    [
        "void(float32[:], float32, float32, float32[:], float32[:])",
        "void(float64[:], float64, float64, float64[:], float64[:])",
    ],
    "(n),(),()->(),()",
)
def linear_slope_diff(
    w_in: np.ndarray, slope: float, intercept: float, mean: np.ndarray, rms: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Mean and RMS of ``w_in`` about a given line ``slope * i + intercept``.

    Signature ``(n),(),()->(),()``; arguments ``(w_in, slope, intercept, mean, rms)``.
    With residuals ``r[i] = w_in[i] - (slope * i + intercept)``, ``rms`` is
    ``sqrt(sum(r**2) / (n - 1))`` (not centred on the mean) and ``mean`` is computed exactly
    as LEGEND's dspeed computes it, ``sum(r[i] / (i + 1))`` (a running-mean update that
    leaves out the previous mean), so that ``bl_slope_diff`` columns agree with LEGEND's files;
    it is the true mean only when the residuals are zero after the first. NaN in the waveform
    or the line gives NaN for both outputs.

    >>> import numpy as np
    >>> mean, rms = linear_slope_diff(np.array([3.0, 2.0, 3.0, 4.0]), 1.0, 1.0)  # r = 2 0 0 0
    >>> float(mean), float(rms)
    (2.0, 1.1547005383792515)
    """
    n = w_in.shape[0]
    if n == 0 or np.isnan(slope) or np.isnan(intercept):
        mean[0] = rms[0] = np.nan
        return
    s, ss = _residuals(np.ascontiguousarray(w_in), np.float64(slope), np.float64(intercept))
    mean[0] = s
    rms[0] = np.sqrt(ss / (n - 1)) if n > 1 else np.nan
