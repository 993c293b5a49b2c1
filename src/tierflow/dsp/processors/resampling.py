"""Windowing, presumming (downsampling) and upsampling of waveforms."""

from __future__ import annotations

import numpy as np

from tierflow.dsp.processors._common import has_nan, in_place, write_back
from tierflow.dsp.processors._gufunc import gufunc


@gufunc(
    ["void(float32[:], float32, float32[:])", "void(float64[:], float64, float64[:])"],
    "(n),(),(m)",
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


@gufunc(
    [
        "void(float32[:], float32, float32[:], float32[:])",
        "void(float64[:], float64, float64[:], float64[:])",
    ],
    "(n),(),(),(m)",
)
def _presum(
    w_in: np.ndarray, do_norm: float, ps_fact: np.ndarray, w_out: np.ndarray
) -> None:  # pragma: no cover
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


@gufunc(
    ["void(float32[:], float32, float32[:])", "void(float64[:], float64, float64[:])"],
    "(n),(),(m)",
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
