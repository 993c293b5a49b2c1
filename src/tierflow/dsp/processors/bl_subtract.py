"""Subtract a constant baseline from a waveform."""

from __future__ import annotations

import numpy as np
from numba import guvectorize, njit

from tierflow.dsp.processors._common import write_back
from tierflow.dsp.processors.options import GUFUNC_OPTIONS, JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _subtract(x: np.ndarray, b: float, o: np.ndarray) -> bool:  # pragma: no cover - compiled
    bad = False
    for i in range(x.shape[0]):
        v = x[i]
        bad |= np.isnan(v)
        o[i] = v - b
    return bad


@guvectorize(
    ["void(float32[:], float32, float32[:])", "void(float64[:], float64, float64[:])"],
    "(n),()->(n)",
    **GUFUNC_OPTIONS,
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
