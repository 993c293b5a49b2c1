"""Presumming: add up (or average) consecutive samples to shorten a waveform."""

from __future__ import annotations

import numpy as np
from numba import guvectorize

from tierflow.dsp.processors._common import in_place, write_back
from tierflow.dsp.processors.options import GUFUNC_OPTIONS


@guvectorize(
    [
        "void(float32[:], float32, float32[:], float32[:])",
        "void(float64[:], float64, float64[:], float64[:])",
    ],
    "(n),(),(),(m)",
    **GUFUNC_OPTIONS,
)
def _presum(w_in: np.ndarray, do_norm: float, ps_fact: np.ndarray, w_out: np.ndarray) -> None:  # pragma: no cover
    """Kernel of :data:`presum`."""
    n = w_in.shape[0]
    p = w_out.shape[0]
    o = np.ascontiguousarray(w_out)
    if p == 0 or p > n or not (do_norm == 0 or do_norm == 1):
        ps_fact[0] = np.nan
        o[:] = np.nan
        write_back(o, w_out)
        return
    f = n // p
    x = np.ascontiguousarray(w_in)
    scale = 1.0 / f if do_norm == 1 else 1.0
    bad = False
    for i in range(p):
        acc = 0.0
        for v in x[i * f : (i + 1) * f]:
            acc += v
        bad |= np.isnan(acc)
        o[i] = acc * scale
    if bad:
        ps_fact[0] = np.nan
        o[:] = np.nan
    else:
        ps_fact[0] = f
    write_back(o, w_out)


presum = in_place(
    _presum,
    "(n),()->(),(m)",
    name="presum",
    doc="""Sum consecutive chunks of ``n // m`` samples into an output of length ``m``.

    Signature ``(n),()->(),(m)``; arguments ``(w_in, do_norm, ps_fact, w_out)``. ``ps_fact``
    receives the presum factor ``n // m``; samples past ``m * (n // m)`` are dropped.
    ``do_norm`` 1 averages each chunk instead of summing it. NaN in the waveform, ``do_norm``
    other than 0 or 1, or an output longer than the input give NaN for both outputs.

    >>> import numpy as np
    >>> fact, out = np.empty(()), np.empty(3)
    >>> presum(np.arange(7.0), 0.0, fact, out)
    (array(2.), array([1., 5., 9.]))
    """,
)
