"""Mode and width of a histogram (the baseline's most likely value and its spread)."""

from __future__ import annotations

import numpy as np
from numba import guvectorize

from tierflow.dsp.processors._common import Processor
from tierflow.dsp.processors.options import GUFUNC_OPTIONS


@guvectorize(
    [
        "void(float32[:], float32[:], float32[:], float32[:], float32[:], float32)",
        "void(float64[:], float64[:], float64[:], float64[:], float64[:], float64)",
    ],
    "(n),(m),(),(),(),()",
    **GUFUNC_OPTIONS,
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
    ufunc=_histogram_stats.ufunc,
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


@guvectorize(
    [
        "void(float32[:], float32[:], float32, int32, int32, float32[:], float32[:])",
        "void(float64[:], float64[:], float64, int32, int32, float64[:], float64[:])",
    ],
    "(n),(m),(),(),()->(),()",
    **GUFUNC_OPTIONS,
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
