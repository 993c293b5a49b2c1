"""Subtract a constant baseline from a waveform."""

from __future__ import annotations

import numpy as np
from numba import guvectorize

from tierflow.dsp.processors.options import GUFUNC_OPTIONS


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
    if np.isnan(a_baseline):
        w_out[:] = np.nan
        return
    for i in range(w_in.shape[0]):
        if np.isnan(w_in[i]):
            w_out[:] = np.nan
            return
        w_out[i] = w_in[i] - a_baseline
