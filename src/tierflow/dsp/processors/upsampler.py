"""Upsampling: repeat each sample ``upsample`` times."""

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
def _upsampler(w_in: np.ndarray, upsample: float, w_out: np.ndarray) -> None:  # pragma: no cover
    """Kernel of :data:`upsampler`."""
    n = w_in.shape[0]
    p = w_out.shape[0]
    o = np.ascontiguousarray(w_out)
    o[:] = np.nan
    x = np.ascontiguousarray(w_in)
    if np.isnan(upsample) or not upsample > 0 or has_nan(x):
        write_back(o, w_out)
        return
    reps = int(upsample)
    shift = np.floor(upsample / 2)
    for i in range(n):
        start = int(i * upsample - shift)
        lo = max(start, 0)
        hi = min(start + reps, p)
        v = x[i]
        for k in range(lo, hi):
            o[k] = v
    write_back(o, w_out)


upsampler = in_place(
    _upsampler,
    "(n),()->(m)",
    name="upsampler",
    doc="""Repeat each sample ``int(upsample)`` times, centred on its upsampled position.

    Signature ``(n),()->(m)``; arguments ``(w_in, upsample, w_out)``. Sample ``i`` fills
    ``w_out[k]`` for ``k`` from ``int(i*upsample - floor(upsample/2))`` on, ``int(upsample)``
    times; positions that nothing fills are NaN. Follow it with moving windows to smooth.
    NaN in the waveform, or ``upsample`` NaN or not positive, gives an all-NaN output.

    >>> import numpy as np
    >>> out = np.empty(6)
    >>> upsampler(np.array([1.0, 2.0, 3.0]), 2.0, out)
    array([ 1.,  2.,  2.,  3.,  3., nan])
    """,
)
