"""Cut a window out of a waveform."""

from __future__ import annotations

import numpy as np
from numba import guvectorize

from tierflow.dsp.processors._common import has_nan, in_place, write_back
from tierflow.dsp.processors.options import GUFUNC_OPTIONS


@guvectorize(
    ["void(float32[:], float32, float32[:])", "void(float64[:], float64, float64[:])"],
    "(n),(),(m)",
    **GUFUNC_OPTIONS,
)
def _windower(w_in: np.ndarray, t0_in: float, w_out: np.ndarray) -> None:  # pragma: no cover
    """Kernel of :data:`windower`."""
    n = w_in.shape[0]
    p = w_out.shape[0]
    o = np.ascontiguousarray(w_out)
    x = np.ascontiguousarray(w_in)
    if np.isnan(t0_in) or has_nan(x):
        o[:] = np.nan
        write_back(o, w_out)
        return
    beg = int(t0_in)
    for j in range(p):
        k = beg + j
        o[j] = x[k] if 0 <= k < n else np.nan
    write_back(o, w_out)


windower = in_place(
    _windower,
    "(n),()->(m)",
    name="windower",
    doc="""The ``m`` samples of the waveform starting at index ``t0_in``; ``m`` is the output's length.

    Signature ``(n),()->(m)``; arguments ``(w_in, t0_in, w_out)``.
    ``w_out[j] = w_in[int(t0_in) + j]`` (a fractional start is truncated towards zero);
    positions outside the waveform (a negative start, or past the end) are NaN. NaN in the
    waveform or in ``t0_in`` gives an all-NaN output.

    >>> import numpy as np
    >>> out = np.empty(3)
    >>> windower(np.arange(5.0), 3.0, out)
    array([ 3.,  4., nan])
    """,
)
