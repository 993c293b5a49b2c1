"""Trapezoidal filters: running sums, one pass, O(n) whatever the rise and flat-top lengths."""

from __future__ import annotations

import numpy as np
from numba import njit

from tierflow.dsp.processors._common import has_nan, write_back
from tierflow.dsp.processors._gufunc import gufunc
from tierflow.dsp.processors.options import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _trap(
    x: np.ndarray, rise: int, flat: int, fall: int, o: np.ndarray, scale_r: float, scale_f: float
) -> float:  # pragma: no cover
    """o[i] = scale_r * sum(x[i-rise+1 .. i]) - scale_f * sum(x[i-rise-flat-fall+1 .. i-rise-flat]).

    Indices before 0 count as absent. Both sums are running sums in float64; returns their
    last values combined, NaN if a NaN went in.
    """
    n = x.shape[0]
    r2 = rise + flat
    r3 = r2 + fall
    a = 0.0  # sum of the leading window
    b = 0.0  # sum of the trailing window
    for i in range(rise):
        a += x[i]
        o[i] = scale_r * a
    for i in range(rise, r2):
        a += x[i] - x[i - rise]
        o[i] = scale_r * a
    for i in range(r2, r3):
        a += x[i] - x[i - rise]
        b += x[i - r2]
        o[i] = scale_r * a - scale_f * b
    # steady state: all four taps inside the waveform; views keep the indices non-negative
    m = n - r3
    x0 = x[r3:]
    x1 = x[r3 - rise : n - rise]
    x2 = x[fall : n - r2]
    x3 = x[: n - r3]
    oo = o[r3:]
    if scale_r == scale_f:
        # symmetric trapezoid (trap_filter, trap_norm): one running sum
        acc = a - b
        for j in range(m):
            acc += (x0[j] - x1[j]) - (x2[j] - x3[j])
            oo[j] = scale_r * acc
        return acc
    for j in range(m):
        a += x0[j] - x1[j]
        b += x2[j] - x3[j]
        oo[j] = scale_r * a - scale_f * b
    return a - b


@njit(**JIT_OPTIONS)
def _apply(w_in, rise, flat, fall, w_out, scale_r, scale_f):  # pragma: no cover - compiled
    n = w_in.shape[0]
    o = np.ascontiguousarray(w_out)
    if rise < 1 or flat < 0 or fall < 1 or rise + flat + fall > n:
        o[:] = np.nan
    else:
        last = _trap(np.ascontiguousarray(w_in), rise, flat, fall, o, scale_r, scale_f)
        if np.isnan(last):
            o[:] = np.nan
    write_back(o, w_out)


@gufunc(
    ["void(float32[:], int32, int32, float32[:])", "void(float64[:], int32, int32, float64[:])"],
    "(n),(),()->(n)",
)
def trap_filter(
    w_in: np.ndarray, rise: int, flat: int, w_out: np.ndarray
) -> None:  # pragma: no cover
    """Symmetric trapezoidal filter, not normalised: difference of two ``rise``-sample sums.

    Signature ``(n),(),()->(n)``; arguments ``(w_in, rise, flat, w_out)``, lengths in samples.
    ``w_out[i] = sum(w_in[i-rise+1 .. i]) - sum(w_in[i-2*rise-flat+1 .. i-rise-flat])``, with
    samples before the start of the waveform counted as absent; a step of height ``h`` gives
    a trapezoid of height ``rise * h``. One pass with running sums in float64. NaN in the
    waveform, ``rise < 1``, ``flat < 0`` or ``2*rise + flat > n`` give an all-NaN output.

    >>> import numpy as np
    >>> trap_filter(np.r_[np.zeros(3), np.ones(7)], 2, 1)
    array([0., 0., 0., 1., 2., 2., 1., 0., 0., 0.])
    """
    _apply(w_in, rise, flat, rise, w_out, 1.0, 1.0)


@gufunc(
    ["void(float32[:], int32, int32, float32[:])", "void(float64[:], int32, int32, float64[:])"],
    "(n),(),()->(n)",
)
def trap_norm(
    w_in: np.ndarray, rise: int, flat: int, w_out: np.ndarray
) -> None:  # pragma: no cover
    """Symmetric trapezoidal filter normalised by ``rise``: a step of height ``h`` gives ``h``.

    Signature ``(n),(),()->(n)``; arguments ``(w_in, rise, flat, w_out)``, lengths in samples.
    As :func:`trap_filter`, divided by ``rise``. NaN in the waveform, ``rise < 1``,
    ``flat < 0`` or ``2*rise + flat > n`` give an all-NaN output.

    >>> import numpy as np
    >>> trap_norm(np.r_[np.zeros(3), 4 * np.ones(7)], 2, 1)
    array([0., 0., 0., 2., 4., 4., 2., 0., 0., 0.])
    """
    _apply(w_in, rise, flat, rise, w_out, 1.0 / rise, 1.0 / rise)


@gufunc(
    [
        "void(float32[:], int32, int32, int32, float32[:])",
        "void(float64[:], int32, int32, int32, float64[:])",
    ],
    "(n),(),(),()->(n)",
)
def asym_trap_filter(
    w_in: np.ndarray, rise: int, flat: int, fall: int, w_out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Asymmetric trapezoid: mean of the last ``rise`` samples minus mean of ``fall`` earlier ones.

    Signature ``(n),(),(),()->(n)``; arguments ``(w_in, rise, flat, fall, w_out)``.
    ``w_out[i] = mean(w_in[i-rise+1 .. i]) - mean(w_in[i-rise-flat-fall+1 .. i-rise-flat])``
    where each mean divides by its full window length (``rise``, ``fall``) also near the start.
    NaN in the waveform, ``rise < 1``, ``fall < 1``, ``flat < 0`` or
    ``rise + flat + fall > n`` give an all-NaN output.

    >>> import numpy as np
    >>> asym_trap_filter(np.r_[np.zeros(2), 6 * np.ones(8)], 1, 1, 3)
    array([0., 0., 6., 6., 4., 2., 0., 0., 0., 0.])
    """
    _apply(w_in, rise, flat, fall, w_out, 1.0 / rise, 1.0 / fall)


@gufunc(
    [
        "void(float32[:], int32, int32, float32, float32[:])",
        "void(float64[:], int32, int32, float64, float64[:])",
    ],
    "(n),(),(),()->()",
)
def trap_pickoff(
    w_in: np.ndarray, rise: int, flat: int, t_pickoff: float, a_out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """The value of :func:`trap_norm` at one (possibly fractional) index, without the waveform.

    Signature ``(n),(),(),()->()``; arguments ``(w_in, rise, flat, t_pickoff, a_out)``.
    Sums ``2*rise`` samples, so it costs O(rise) per row. A fractional ``t_pickoff``
    interpolates linearly between the neighbouring trapezoid values. NaN when ``t_pickoff``
    is NaN, below ``2*rise + flat`` or past the last sample, when the waveform has a NaN, or
    for ``rise < 1``, ``flat < 0``, ``2*rise + flat > n``.

    >>> import numpy as np
    >>> float(trap_pickoff(np.r_[np.zeros(5), 4 * np.ones(10)], 2, 1, 7.0))
    4.0
    >>> float(trap_pickoff(np.r_[np.zeros(5), 4 * np.ones(10)], 2, 1, 7.5))  # between 4 and 2
    3.0
    """
    a_out[0] = np.nan
    n = w_in.shape[0]
    if rise < 1 or flat < 0 or 2 * rise + flat > n or np.isnan(t_pickoff):
        return
    if not (n > np.ceil(t_pickoff) and np.floor(t_pickoff) >= 2 * rise + flat):
        return
    x = np.ascontiguousarray(w_in)
    if has_nan(x):
        return
    t = int(np.floor(t_pickoff))
    frac = np.float64(t_pickoff) - t
    lead = 0.0
    trail = 0.0
    for k in range(rise):
        lead += x[t - k]
        trail += x[t - rise - flat - k]
    if frac > 0:
        lead += frac * (x[t + 1] - x[t - rise + 1])
        trail += frac * (x[t - rise - flat + 1] - x[t - 2 * rise - flat + 1])
    a_out[0] = (lead - trail) / rise
