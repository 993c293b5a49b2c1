"""Histograms of a waveform's samples, and the mode and width of a histogram (baseline mode)."""

from __future__ import annotations

import numpy as np
from numba import njit

from tierflow.dsp.processors._common import Processor, has_nan, in_place
from tierflow.dsp.processors._gufunc import gufunc
from tierflow.dsp.processors.options import JIT_OPTIONS


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


@gufunc(
    ["void(float32[:], float32[:], float32[:])", "void(float64[:], float64[:], float64[:])"],
    "(n),(m),(p)",
)
def _histogram(
    w_in: np.ndarray, weights_out: np.ndarray, borders_out: np.ndarray
) -> None:  # pragma: no cover
    """Kernel of :data:`histogram`."""
    n_bins = weights_out.shape[0]
    if borders_out.shape[0] != n_bins + 1:
        raise ValueError("histogram: borders_out must be one longer than weights_out")
    n = w_in.shape[0]
    if n == 0 or has_nan(w_in):  # checked first: comparisons with NaN raise FP warnings
        weights_out[:] = np.nan
        borders_out[:] = np.nan
        return
    lo = w_in[0]
    hi = lo
    for i in range(n):
        lo = min(lo, w_in[i])
        hi = max(hi, w_in[i])
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


@gufunc(
    [
        "void(float32[:], float32, float32, float32[:], float32[:])",
        "void(float64[:], float64, float64, float64[:], float64[:])",
    ],
    "(n),(),(),(m),(p)",
)
def _histogram_around_mode(
    w_in: np.ndarray,
    center: float,
    bin_width: float,
    weights_out: np.ndarray,
    borders_out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Kernel of :data:`histogram_around_mode`."""
    n_bins = weights_out.shape[0]
    if borders_out.shape[0] != n_bins + 1:
        raise ValueError("histogram_around_mode: borders_out must be one longer than weights_out")
    n = w_in.shape[0]
    if n == 0 or np.isnan(bin_width) or not bin_width > 0 or has_nan(w_in):
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


@gufunc(
    [
        "void(float32[:], float32[:], float32[:], float32[:], float32[:], float32)",
        "void(float64[:], float64[:], float64[:], float64[:], float64[:], float64)",
    ],
    "(n),(m),(),(),(),()",
)
def _histogram_stats(
    weights_in: np.ndarray,
    edges_in: np.ndarray,
    mode_out: np.ndarray,
    max_out: np.ndarray,
    fwhm_out: np.ndarray,
    max_in: float,
) -> None:  # pragma: no cover - compiled
    """Kernel of :data:`histogram_stats`."""
    n = weights_in.shape[0]
    if edges_in.shape[0] != n + 1:
        raise ValueError("histogram_stats: edges_in must be one longer than weights_in")
    mode_out[0] = np.nan
    max_out[0] = np.nan
    fwhm_out[0] = np.nan
    if n == 0:
        return
    for i in range(n):
        if np.isnan(weights_in[i]):
            return
    top = 0
    if np.isnan(max_in):
        for i in range(n):
            if weights_in[i] > weights_in[top]:
                top = i
    elif max_in > edges_in[n - 1]:
        top = n - 1
    else:
        for i in range(n):
            if abs(max_in - edges_in[i]) < abs(max_in - edges_in[top]):
                top = i
    mode_out[0] = top
    max_out[0] = edges_in[top]
    half = 0.5 * weights_in[top]
    for i in range(top, n):
        if weights_in[i] <= half and weights_in[i] != 0:
            fwhm_out[0] = abs(max_out[0] - edges_in[i])
            break
    for i in range(top):
        if weights_in[i] >= half and weights_in[i] != 0:
            d = abs(max_out[0] - edges_in[i])
            if fwhm_out[0] < d:
                fwhm_out[0] = d
            break


histogram_stats = Processor(
    _histogram_stats,
    "(n),(m),(),(),(),()",
    [t.replace("->", "") for t in _histogram_stats.types],
    name="histogram_stats",
    ufunc=_histogram_stats,
    doc="""Mode (as a bin index and its left edge) and half width at half maximum of a histogram.

    Signature ``(n),(m),(),(),(),()`` in LEGEND's argument order, with the outputs *before*
    the last input: ``(weights_in, edges_in, mode_out, max_out, fwhm_out, max_in)``;
    ``m = n + 1`` edges (otherwise ``ValueError``). ``mode_out`` is the index of the fullest
    bin (the first of equal ones), or with ``max_in`` given (not NaN) the bin whose left
    edge is closest to it; ``max_out`` is that bin's left edge. ``fwhm_out`` is a half width:
    the distance from ``max_out`` to the left edge of the first non-empty bin at or below
    half the peak walking right, or, if larger, to the first non-empty bin at or above half
    the peak from the left. NaN weights give NaN for all three outputs.

    >>> import numpy as np
    >>> weights, edges = np.array([1.0, 4.0, 9.0, 4.0, 1.0]), np.arange(6.0)
    >>> mode, peak, hwhm = np.empty(()), np.empty(()), np.empty(())
    >>> histogram_stats(weights, edges, mode, peak, hwhm, np.nan)
    >>> float(mode), float(peak), float(hwhm)
    (2.0, 2.0, 1.0)
    """,
)


@gufunc(
    [
        "void(float32[:], float32[:], float32, int32, int32, float32[:], float32[:])",
        "void(float64[:], float64[:], float64, int32, int32, float64[:], float64[:])",
    ],
    "(n),(m),(),(),()->(),()",
)
def histogram_peakstats(
    weights_in: np.ndarray,
    edges_in: np.ndarray,
    max_in: float,
    skip_zeroes: int,
    width_type: int,
    mode_out: np.ndarray,
    width_out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Mode (a bin centre) and width of a histogram's peak.

    Signature ``(n),(m),(),(),()->(),()``; arguments ``(weights_in, edges_in, max_in,
    skip_zeroes, width_type, mode_out, width_out)``, ``m = n + 1`` (otherwise
    ``ValueError``). The peak bin is the fullest one, or with ``max_in`` given (not NaN) the
    bin containing it (clamped to the first or last bin); ``mode_out`` is its centre. Walking
    out from the peak, each side's half width reaches the far edge of the first bin at or
    below half the peak (``skip_zeroes`` 1 passes over empty bins), or the histogram's edge.
    ``width_type``: 0 full width (both sides), 1 the smaller side, 2 the larger, 3 the left,
    4 the right. NaN weights or an unknown ``width_type`` give NaN for both outputs.

    >>> import numpy as np
    >>> weights, edges = np.array([1.0, 4.0, 9.0, 4.0, 1.0]), np.arange(6.0)
    >>> mode, width = histogram_peakstats(weights, edges, np.nan, 0, 0)
    >>> float(mode), float(width)
    (2.5, 1.0)
    """
    n = weights_in.shape[0]
    if edges_in.shape[0] != n + 1:
        raise ValueError("histogram_peakstats: edges_in must be one longer than weights_in")
    mode_out[0] = np.nan
    width_out[0] = np.nan
    if n == 0 or width_type < 0 or width_type > 4:
        return
    for i in range(n):
        if np.isnan(weights_in[i]):
            return
    top = 0
    if np.isnan(max_in):
        for i in range(n):
            if weights_in[i] > weights_in[top]:
                top = i
    elif max_in > edges_in[n]:
        top = n - 1
    elif max_in < edges_in[0]:
        top = 0
    else:
        for i in range(n):
            if edges_in[i] <= max_in < edges_in[i + 1]:
                top = i
                break
    mode_out[0] = edges_in[top] + 0.5 * (edges_in[top + 1] - edges_in[top])
    mode = mode_out[0]  # in the output's precision, as the widths are measured from it
    half = 0.5 * weights_in[top]
    right = abs(mode - edges_in[n])
    for i in range(top, n):
        if skip_zeroes and weights_in[i] == 0:
            continue
        if weights_in[i] <= half:
            right = abs(mode - edges_in[i])
            break
    left = abs(mode - edges_in[0])
    for i in range(top, -1, -1):
        if skip_zeroes and weights_in[i] == 0:
            continue
        if weights_in[i] <= half:
            left = abs(mode - edges_in[i + 1])
            break
    if width_type == 0:
        width_out[0] = left + right
    elif width_type == 1:
        width_out[0] = min(left, right)
    elif width_type == 2:
        width_out[0] = max(left, right)
    elif width_type == 3:
        width_out[0] = left
    else:
        width_out[0] = right
