"""Minimum and maximum of a waveform, with their positions; normalisation by them."""

from __future__ import annotations

import numpy as np
from numba import njit

from tierflow.dsp.processors._common import write_back
from tierflow.dsp.processors._gufunc import gufunc
from tierflow.dsp.processors.options import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _min_max(x: np.ndarray) -> tuple[int, int, float, float, bool]:  # pragma: no cover
    """First indices and values of the minimum and maximum; stops at a NaN (returns True).

    Stopping at the NaN also keeps comparisons away from it (they would set the FP
    "invalid" flag and numpy would warn).
    """
    lo = x[0]
    hi = x[0]
    i_lo = 0
    i_hi = 0
    for i in range(x.shape[0]):
        v = x[i]
        if v != v:
            return i_lo, i_hi, lo, hi, True
        if v < lo:
            lo = v
            i_lo = i
        elif v > hi:
            hi = v
            i_hi = i
    return i_lo, i_hi, lo, hi, False


@gufunc(
    [
        "void(float32[:], float32[:], float32[:], float32[:], float32[:])",
        "void(float64[:], float64[:], float64[:], float64[:], float64[:])",
    ],
    "(n)->(),(),(),()",
)
def min_max(
    w_in: np.ndarray, t_min: np.ndarray, t_max: np.ndarray, a_min: np.ndarray, a_max: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Indices and values of the waveform's minimum and maximum (the first of equal ones).

    Signature ``(n)->(),(),(),()``; arguments ``(w_in, t_min, t_max, a_min, a_max)``; the
    indices come out as floats (sample numbers). NaN anywhere in the waveform gives NaN for
    all four outputs.

    >>> import numpy as np
    >>> [float(v) for v in min_max(np.array([3.0, -1.0, 5.0, 5.0, -1.0]))]
    [1.0, 2.0, -1.0, 5.0]
    """
    if w_in.shape[0] == 0:
        t_min[0] = t_max[0] = a_min[0] = a_max[0] = np.nan
        return
    i_lo, i_hi, lo, hi, bad = _min_max(np.ascontiguousarray(w_in))
    if bad:
        t_min[0] = t_max[0] = a_min[0] = a_max[0] = np.nan
        return
    t_min[0] = i_lo
    t_max[0] = i_hi
    a_min[0] = lo
    a_max[0] = hi


@njit(**JIT_OPTIONS)
def _scale(x: np.ndarray, scale: float, o: np.ndarray) -> bool:  # pragma: no cover - compiled
    bad = False
    for i in range(x.shape[0]):
        v = x[i]
        bad |= np.isnan(v)
        o[i] = v / scale
    return bad


@gufunc(
    [
        "void(float32[:], float32, float32, float32[:])",
        "void(float64[:], float64, float64, float64[:])",
    ],
    "(n),(),()->(n)",
)
def min_max_norm(
    w_in: np.ndarray, a_min: float, a_max: float, w_out: np.ndarray
) -> None:  # pragma: no cover
    """Divide the waveform by ``|a_max|`` or ``|a_min|``, whichever is larger.

    Signature ``(n),(),()->(n)``; arguments ``(w_in, a_min, a_max, w_out)``. If either is
    zero the waveform is copied unchanged. NaN in the waveform, ``a_min`` or ``a_max`` gives
    an all-NaN output.

    >>> import numpy as np
    >>> min_max_norm(np.array([-2.0, 1.0, 4.0]), -2.0, 4.0)
    array([-0.5 ,  0.25,  1.  ])
    """
    o = np.ascontiguousarray(w_out)
    lo = abs(a_min)
    hi = abs(a_max)
    if np.isnan(lo) or np.isnan(hi):
        o[:] = np.nan
    else:
        scale = 1.0 if (lo == 0 or hi == 0) else max(lo, hi)
        if _scale(np.ascontiguousarray(w_in), scale, o):
            o[:] = np.nan
    write_back(o, w_out)
