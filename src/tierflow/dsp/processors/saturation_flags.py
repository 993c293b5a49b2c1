"""Count samples sitting at the ADC's limits."""

from __future__ import annotations

import numpy as np

from tierflow.dsp.processors._gufunc import gufunc


@gufunc(
    [
        "void(float32[:], float32, float32[:], float32[:])",
        "void(float64[:], float64, float64[:], float64[:])",
    ],
    "(n),()->(),()",
)
def saturation(
    w_in: np.ndarray, bit_depth_in: float, n_lo_out: np.ndarray, n_hi_out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Number of samples at the low (0) and high limit of an ADC of ``bit_depth_in`` bits.

    Signature ``(n),()->(),()``; arguments ``(w_in, bit_depth_in, n_lo_out, n_hi_out)``.
    The high limit is ``2**bit_depth_in - bit_depth_in``, as LEGEND's dspeed defines it
    (``65520`` for 16 bits), so that configs give the same counts. NaN in the waveform, or a
    bit depth that is NaN, not an integer or not positive, gives NaN for both counts.

    >>> import numpy as np
    >>> lo, hi = saturation(np.array([0.0, 5.0, 0.0, 65520.0]), 16.0)
    >>> float(lo), float(hi)
    (2.0, 1.0)
    """
    n_lo_out[0] = np.nan
    n_hi_out[0] = np.nan
    if np.isnan(bit_depth_in) or np.floor(bit_depth_in) != bit_depth_in or bit_depth_in <= 0:
        return
    bits = int(bit_depth_in)
    top = 2.0**bits - bits
    lo = 0
    hi = 0
    bad = False
    for i in range(w_in.shape[0]):
        v = w_in[i]
        bad |= np.isnan(v)
        lo += v == 0
        hi += v == top
    if not bad:
        n_lo_out[0] = lo
        n_hi_out[0] = hi
