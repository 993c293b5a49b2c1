"""Time points where a waveform crosses a threshold (``tp_10``, ``tp_50``, ``tp_90`` ...)."""

from __future__ import annotations

import numpy as np
from numba import njit

from tierflow.dsp.processors._common import has_nan
from tierflow.dsp.processors._gufunc import gufunc
from tierflow.dsp.processors._interpolation import check_mode
from tierflow.dsp.processors.options import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _forward(x: np.ndarray, thr: float, start: int) -> int:  # pragma: no cover - compiled
    """First i >= start with the crossing between samples i and i+1; -1 if none."""
    for i in range(start, x.shape[0] - 1):
        a = x[i]
        b = x[i + 1]
        if (a <= thr < b) or (a >= thr > b):
            return i
    return -1


@njit(**JIT_OPTIONS)
def _backward(x: np.ndarray, thr: float, start: int, stop: int) -> int:  # pragma: no cover
    """First i <= start (walking down to ``stop``) with the crossing between i-1 and i; -1 if none."""
    for i in range(start, stop, -1):
        a = x[i - 1]
        b = x[i]
        if (a < thr <= b) or (a > thr >= b):
            return i
    return -1


@gufunc(
    [
        "void(float32[:], float32, float32, float32, float32[:])",
        "void(float64[:], float64, float64, float64, float64[:])",
    ],
    "(n),(),(),()->()",
)
def time_point_thresh(
    w_in: np.ndarray, a_threshold: float, t_start: float, walk_forward: float, t_out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Index where the waveform crosses ``a_threshold``, walking from ``t_start``.

    Signature ``(n),(),(),()->()``; arguments ``(w_in, a_threshold, t_start, walk_forward,
    t_out)``. Crossings in either direction count. Walking forward (``walk_forward == 1``)
    returns the first ``i >= t_start`` with the threshold between samples ``i`` and ``i+1``
    (``w[i] <= thr < w[i+1]`` or ``w[i] >= thr > w[i+1]``): the index just before the
    crossing. Walking back (any other integer) returns the first ``i <= t_start`` with
    ``w[i-1] < thr <= w[i]`` or ``w[i-1] > thr >= w[i]``: the index just after it.
    NaN when nothing is crossed, when any input is NaN, or when ``t_start`` or
    ``walk_forward`` is not an integer or ``t_start`` is outside the waveform.

    >>> import numpy as np
    >>> ramp = np.arange(10.0)  # w[i] = i
    >>> float(time_point_thresh(ramp, 4.5, 0.0, 1.0)), float(time_point_thresh(ramp, 4.5, 9.0, 0.0))
    (4.0, 5.0)
    """
    t_out[0] = np.nan
    n = w_in.shape[0]
    if np.isnan(a_threshold) or np.isnan(t_start) or np.isnan(walk_forward):
        return
    if np.floor(t_start) != t_start or np.floor(walk_forward) != walk_forward:
        return
    if t_start < 0 or t_start >= n:
        return
    x = np.ascontiguousarray(w_in)
    if has_nan(x):
        return
    start = int(t_start)
    if int(walk_forward) == 1:
        i = _forward(x, a_threshold, start)
    else:
        i = _backward(x, a_threshold, start, 0)
    if i >= 0:
        t_out[0] = i


@gufunc(
    [
        "void(float32[:], float32, float32, int64, char, float32[:])",
        "void(float64[:], float64, float64, int64, char, float64[:])",
    ],
    "(n),(),(),(),()->()",
)
def interpolated_time_point_thresh(
    w_in: np.ndarray,
    a_threshold: float,
    t_start: float,
    walk_forward: int,
    mode_in: int,
    t_out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Time where the waveform crosses ``a_threshold``, interpolated between samples.

    Signature ``(n),(),(),(),()->()``; arguments ``(w_in, a_threshold, t_start,
    walk_forward, mode_in, t_out)``. Finds the crossing between samples ``i`` and ``i+1``
    walking forward (``walk_forward > 0``) or back from ``t_start`` (a fractional start is
    truncated), then returns, by ``mode_in`` (a character code):

    * ``i`` or ``b`` or ``c``: ``i``, the sample before the crossing
    * ``a`` or ``f``: ``i + 1``, the sample after it
    * ``r``: whichever of the two is closer in value to the threshold
    * ``n``: ``i + 0.5``
    * ``l``: linear interpolation between the two samples

    NaN when nothing is crossed, any input is NaN or ``t_start`` is outside the waveform;
    an unknown mode raises ``ValueError``.

    >>> import numpy as np
    >>> ramp = 2.0 * np.arange(10.0)  # w[i] = 2 i
    >>> float(interpolated_time_point_thresh(ramp, 9.0, 0.0, 1, ord("l")))
    4.5
    """
    check_mode(mode_in, "ibcafrnl")
    t_out[0] = np.nan
    n = w_in.shape[0]
    if np.isnan(a_threshold) or np.isnan(t_start):
        return
    if t_start < 0 or t_start >= n:
        return
    x = np.ascontiguousarray(w_in)
    if has_nan(x):
        return
    if walk_forward > 0:
        i = _forward(x, a_threshold, int(t_start))
    else:
        i = _backward(x, a_threshold, int(t_start), 1) - 1
        if i < 0:
            i = -1
    if i < 0:
        return
    a = x[i]
    b = x[i + 1]
    if mode_in == 105 or mode_in == 98 or mode_in == 99:  # i, b, c
        t_out[0] = i
    elif mode_in == 97 or mode_in == 102:  # a, f
        t_out[0] = i + 1
    elif mode_in == 114:  # r
        t_out[0] = i if abs(a_threshold - a) < abs(a_threshold - b) else i + 1
    elif mode_in == 110:  # n
        t_out[0] = i + 0.5
    else:  # l
        t_out[0] = i + (np.float64(a_threshold) - a) / (np.float64(b) - a)
