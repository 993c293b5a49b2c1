"""Histograms of a waveform's samples (for the baseline mode and its width)."""

from __future__ import annotations

import numpy as np
from numba import guvectorize, njit

from tierflow.dsp.processors._common import in_place
from tierflow.dsp.processors.options import GUFUNC_OPTIONS, JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _fill(x, lo, width, weights, n_bins, skip_top, top):  # pragma: no cover - compiled
    """Add each sample to bin ``floor((x - lo) / width)`` when in ``[0, n_bins)``."""
    for i in range(x.shape[0]):
        v = x[i]
        if skip_top and v == top:
            continue
        k = int(np.floor((v - lo) / width))
        if 0 <= k < n_bins:
            weights[k] += 1


@guvectorize(
    ["void(float32[:], float32[:], float32[:])", "void(float64[:], float64[:], float64[:])"],
    "(n),(m),(p)",
    **GUFUNC_OPTIONS,
)
def _histogram(w_in: np.ndarray, weights_out: np.ndarray, borders_out: np.ndarray) -> None:  # pragma: no cover
    """Kernel of :data:`histogram`."""
    n_bins = weights_out.shape[0]
    if borders_out.shape[0] != n_bins + 1:
        raise ValueError("histogram: borders_out must be one longer than weights_out")
    n = w_in.shape[0]
    lo = w_in[0] if n else np.nan
    hi = lo
    bad = n == 0
    for i in range(n):
        v = w_in[i]
        bad |= np.isnan(v)
        lo = min(lo, v)
        hi = max(hi, v)
    if bad:
        weights_out[:] = np.nan
        borders_out[:] = np.nan
        return
    weights_out[:] = 0
    step = (np.float64(hi) - lo) / n_bins
    for k in range(n_bins):
        borders_out[k] = lo + k * step
    borders_out[n_bins] = hi
    # the bin width in the input precision, as the bins were always computed
    width = (hi - lo) / n_bins
    if width == 0:
        return
    _fill(w_in, borders_out[0], width, weights_out, n_bins, True, hi)


histogram = in_place(
    _histogram,
    "(n)->(m),(p)",
    name="histogram",
    doc="""Histogram of the waveform's samples in ``m`` equal bins from its minimum to its maximum.

    Signature ``(n)->(m),(p)``; arguments ``(w_in, weights_out, borders_out)`` with
    ``p = m + 1`` bin edges (otherwise ``ValueError``). The maximum itself is not counted; a
    flat waveform gives all-zero weights. NaN in the waveform gives NaN weights and edges.

    >>> import numpy as np
    >>> weights, edges = np.empty(3), np.empty(4)
    >>> histogram(np.array([0.0, 1.0, 1.0, 2.0, 3.0]), weights, edges)
    (array([1., 2., 1.]), array([0., 1., 2., 3.]))
    """,
)


@guvectorize(
    [
        "void(float32[:], float32, float32, float32[:], float32[:])",
        "void(float64[:], float64, float64, float64[:], float64[:])",
    ],
    "(n),(),(),(m),(p)",
    **GUFUNC_OPTIONS,
)
def _histogram_around_mode(
    w_in: np.ndarray, center: float, bin_width: float, weights_out: np.ndarray, borders_out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Kernel of :data:`histogram_around_mode`."""
    n_bins = weights_out.shape[0]
    if borders_out.shape[0] != n_bins + 1:
        raise ValueError("histogram_around_mode: borders_out must be one longer than weights_out")
    n = w_in.shape[0]
    bad = n == 0 or np.isnan(bin_width) or not bin_width > 0
    for i in range(n):
        bad |= np.isnan(w_in[i])
    if bad:
        weights_out[:] = np.nan
        borders_out[:] = np.nan
        return
    if np.isnan(center):
        # first pass over the full range to find the mode
        lo = w_in[0]
        hi = w_in[0]
        for i in range(n):
            lo = min(lo, w_in[i])
            hi = max(hi, w_in[i])
        width = (hi - lo) / n_bins
        if width == 0:
            center = lo
        else:
            weights_out[:] = 0
            _fill(w_in, lo, width, weights_out, n_bins, True, hi)
            best = 0
            for k in range(n_bins):
                if weights_out[k] > weights_out[best]:
                    best = k
            step = (np.float64(hi) - lo) / n_bins
            center = lo + best * step + 0.5 * width
            center = np.round(center / bin_width) * bin_width
    weights_out[:] = 0
    start = center - bin_width * (n_bins // 2) - 0.5 * bin_width
    for k in range(n_bins + 1):
        borders_out[k] = start + bin_width * k
    _fill(w_in, borders_out[0], bin_width, weights_out, n_bins, False, 0.0)


histogram_around_mode = in_place(
    _histogram_around_mode,
    "(n),(),()->(m),(p)",
    name="histogram_around_mode",
    doc="""Histogram of ``m`` bins of width ``bin_width`` centred on ``center`` (or on the mode).

    Signature ``(n),(),()->(m),(p)``; arguments ``(w_in, center, bin_width, weights_out,
    borders_out)``, ``p = m + 1``. With ``center`` NaN, a first histogram over the full range
    finds the mode, rounded to a multiple of ``bin_width``; the centre always falls in the
    middle of a bin. Samples outside the bins are not counted. NaN in the waveform, or a
    ``bin_width`` NaN or not positive, gives NaN weights and edges.

    >>> import numpy as np
    >>> weights, edges = np.empty(3), np.empty(4)
    >>> histogram_around_mode(np.array([9.0, 10.0, 10.0, 11.0, 30.0]), 10.0, 1.0, weights, edges)
    (array([1., 2., 1.]), array([ 8.5,  9.5, 10.5, 11.5]))
    """,
)
