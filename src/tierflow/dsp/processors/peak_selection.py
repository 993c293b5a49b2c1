"""Keep candidate peaks whose neighbourhood minimum is small against the peak (SiPM chains)."""

from __future__ import annotations

import numpy as np

from tierflow.dsp.processors._common import has_nan
from tierflow.dsp.processors._gufunc import gufunc


@gufunc(
    [
        "void(float32[:], float32[:], float32, float32, float32[:], uint32[:])",
        "void(float64[:], float64[:], float64, float64, float64[:], uint32[:])",
    ],
    "(n),(m),(),()->(m),()",
)
def peak_snr_threshold(
    w_in: np.ndarray,
    idx_in: np.ndarray,
    ratio_in: float,
    width_in: float,
    idx_out: np.ndarray,
    n_idx_out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Keep the candidate indices ``idx_in`` whose local minimum is below ``ratio_in`` of the peak.

    Signature ``(n),(m),(),()->(m),()``; arguments ``(w_in, idx_in, ratio_in, width_in,
    idx_out, n_idx_out)``. For each index ``i`` (NaN entries are skipped) the minimum of
    ``w_in`` over ``[i - width, i + width)`` (clipped to the waveform) is found; ``i`` is kept
    if ``|min / w_in[i]| < ratio_in``. Kept indices fill ``idx_out`` from the front (NaN
    after them), their number goes to ``n_idx_out``. NaN in the waveform gives no indices.

    >>> import numpy as np
    >>> wf = np.array([0.0, 10.0, 0.0, 9.0, 8.0, 9.0])
    >>> idx, count = peak_snr_threshold(wf, np.array([1.0, 4.0, np.nan]), 0.5, 1.0)
    >>> idx, int(count)
    (array([ 1., nan, nan]), 1)
    """
    idx_out[:] = np.nan
    n_idx_out[0] = 0
    n = w_in.shape[0]
    if n == 0 or has_nan(w_in) or np.isnan(ratio_in) or np.isnan(width_in):
        return
    width = int(width_in)
    k = 0
    for j in range(idx_in.shape[0]):
        c = idx_in[j]
        if np.isnan(c):
            continue
        i = int(c)
        if i < 0 or i >= n:
            continue
        lo = max(i - width, 0)
        hi = min(i + width, n - 1)
        best = lo
        for t in range(lo, hi):
            if w_in[t] < w_in[best]:
                best = t
        if abs(w_in[best] / w_in[i]) < ratio_in:
            idx_out[k] = c
            k += 1
    n_idx_out[0] = k
