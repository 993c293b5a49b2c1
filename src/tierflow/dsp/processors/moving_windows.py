"""Moving-average windows (left, right, repeated) and the averaged derivative (current)."""

from __future__ import annotations

import numpy as np
from numba import njit

from tierflow.dsp.processors._common import has_nan, in_place, write_back
from tierflow.dsp.processors._gufunc import gufunc
from tierflow.dsp.processors.options import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _left(x: np.ndarray, length: float, o: np.ndarray) -> float:  # pragma: no cover - compiled
    """o[i] = o[i-1] + (x[i] - x[i-L]) / length, with x[0] standing in before the start."""
    n = x.shape[0]
    m = int(length)
    inv = 1.0 / np.float64(length)
    acc = np.float64(x[0])
    first = acc
    o[0] = x[0]
    for i in range(1, m):
        acc += (x[i] - first) * inv
        o[i] = acc
    a = x[m:]
    b = x[: n - m]
    oo = o[m:]
    for j in range(n - m):
        acc += (np.float64(a[j]) - b[j]) * inv
        oo[j] = acc
    return acc


@njit(**JIT_OPTIONS)
def _right(x: np.ndarray, length: float, o: np.ndarray) -> float:  # pragma: no cover - compiled
    """Mirror image of :func:`_left`: runs from the last sample towards the first."""
    n = x.shape[0]
    m = int(length)
    inv = 1.0 / np.float64(length)
    acc = np.float64(x[n - 1])
    last = acc
    o[n - 1] = x[n - 1]
    for i in range(1, m):
        acc += (x[n - 1 - i] - last) * inv
        o[n - 1 - i] = acc
    for k in range(n - 1 - m, -1, -1):
        acc += (np.float64(x[k]) - x[k + m]) * inv
        o[k] = acc
    return acc


@njit(**JIT_OPTIONS)
def _window(w_in, length, w_out, right):  # pragma: no cover - compiled
    n = w_in.shape[0]
    o = np.ascontiguousarray(w_out)
    if np.isnan(length) or not (1 <= length < n):
        o[:] = np.nan
    else:
        x = np.ascontiguousarray(w_in)
        last = _right(x, length, o) if right else _left(x, length, o)
        if np.isnan(last):  # a NaN anywhere propagates into the running sum
            o[:] = np.nan
    write_back(o, w_out)


@gufunc(
    ["void(float32[:], float32, float32[:])", "void(float64[:], float64, float64[:])"],
    "(n),()->(n)",
)
def moving_window_left(
    w_in: np.ndarray, length: float, w_out: np.ndarray
) -> None:  # pragma: no cover
    """Moving average over the last ``length`` samples, started from the left.

    Signature ``(n),()->(n)``; arguments ``(w_in, length, w_out)``. ``w_out[0] = w_in[0]`` and
    ``w_out[i] = w_out[i-1] + (w_in[i] - w_in[i-L]) / length`` with ``L = int(length)``, where
    ``w_in[0]`` stands in for samples before the start (the baseline is assumed flat there).
    NaN in the waveform, or ``length`` NaN, below 1 or not below ``n``, gives an all-NaN output.

    >>> import numpy as np
    >>> moving_window_left(np.array([0.0, 0.0, 3.0, 3.0, 3.0, 3.0]), 3.0)
    array([0., 0., 1., 2., 3., 3.])
    """
    _window(w_in, length, w_out, False)


@gufunc(
    ["void(float32[:], float32, float32[:])", "void(float64[:], float64, float64[:])"],
    "(n),()->(n)",
)
def moving_window_right(
    w_in: np.ndarray, length: float, w_out: np.ndarray
) -> None:  # pragma: no cover
    """Moving average over the next ``length`` samples, started from the right.

    Signature ``(n),()->(n)``; arguments ``(w_in, length, w_out)``. The mirror image of
    :func:`moving_window_left`: ``w_out[-1] = w_in[-1]`` and the last sample stands in for
    samples past the end. NaN in the waveform, or ``length`` NaN, below 1 or not below ``n``,
    gives an all-NaN output.

    >>> import numpy as np
    >>> moving_window_right(np.array([0.0, 0.0, 3.0, 3.0, 3.0, 3.0]), 3.0)
    array([1., 2., 3., 3., 3., 3.])
    """
    _window(w_in, length, w_out, True)


@gufunc(
    [
        "void(float32[:], float32, float32, int32, float32[:])",
        "void(float64[:], float64, float64, int32, float64[:])",
    ],
    "(n),(),(),()->(n)",
)
def moving_window_multi(
    w_in: np.ndarray, length: float, num_mw: float, mw_type: int, w_out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """``num_mw`` moving-average windows of ``length`` samples, one after the other.

    Signature ``(n),(),(),()->(n)``; arguments ``(w_in, length, num_mw, mw_type, w_out)``.
    ``mw_type`` 0 alternates left and right windows (left first), 1 applies only left ones,
    2 only right ones (see :func:`moving_window_left`). Three alternating windows smooth an
    upsampled current pulse for ``A_max``. NaN in the waveform, a non-integer ``length`` or
    ``num_mw``, ``length`` below 1 or not below ``n``, or ``num_mw < 1`` give an all-NaN output.

    >>> import numpy as np
    >>> moving_window_multi(np.array([0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0]), 2.0, 2.0, 0)
    array([0., 0., 1., 2., 1., 0., 0.])
    """
    n = w_in.shape[0]
    o = np.ascontiguousarray(w_out)
    bad = (
        np.isnan(length)
        or np.isnan(num_mw)
        or np.floor(length) != length
        or np.floor(num_mw) != num_mw
        or not (1 <= length < n)
        or num_mw < 1
    )
    x = np.ascontiguousarray(w_in)
    if bad or has_nan(x):
        o[:] = np.nan
        write_back(o, w_out)
        return
    count = int(num_mw)
    # ping-pong between the output and one scratch row, so the last pass lands in `o`
    scratch = np.empty_like(o)
    src = x
    for k in range(count):
        dst = o if (count - 1 - k) % 2 == 0 else scratch
        if (k % 2 == 1 and mw_type == 0) or mw_type == 2:
            _right(src, length, dst)
        else:
            _left(src, length, dst)
        src = dst
    write_back(o, w_out)


@gufunc(
    ["void(float32[:], float32, float32[:])", "void(float64[:], float64, float64[:])"],
    "(n),(),(m)",
)
def _avg_current(w_in: np.ndarray, length: float, w_out: np.ndarray) -> None:  # pragma: no cover
    """Kernel of :data:`avg_current`."""
    n = w_in.shape[0]
    p = w_out.shape[0]
    o = np.ascontiguousarray(w_out)
    if np.isnan(length) or not (1 <= length < n) or p != n - int(length):
        o[:] = np.nan
        write_back(o, w_out)
        return
    x = np.ascontiguousarray(w_in)
    m = int(length)
    a = x[m:]
    b = x[: n - m]
    bad = False
    for j in range(p):
        d = a[j] - b[j]
        bad |= np.isnan(d)
        o[j] = d / length
    if bad:
        o[:] = np.nan
    write_back(o, w_out)


avg_current = in_place(
    _avg_current,
    "(n),()->(m)",
    name="avg_current",
    doc="""Derivative of the waveform averaged over ``length`` samples (the current, for ``A_max``).

    Signature ``(n),()->(m)``; arguments ``(w_in, length, w_out)`` with ``m = n - L``,
    ``L = int(length)``: ``w_out[i] = (w_in[i + L] - w_in[i]) / length``. NaN in the waveform,
    ``length`` NaN, below 1 or not below ``n``, or an output of another length give an
    all-NaN output.

    >>> import numpy as np
    >>> out = np.empty(4)
    >>> avg_current(np.array([0.0, 1.0, 3.0, 6.0, 10.0]), 1.0, out)
    array([1., 2., 3., 4.])
    """,
)
