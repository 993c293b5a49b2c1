"""Soft pile-up correction: remove the tail of an earlier pulse from the baseline."""

from __future__ import annotations

import numpy as np
from numba import njit

from tierflow.dsp.processors._common import has_nan, write_back
from tierflow.dsp.processors._gufunc import gufunc
from tierflow.dsp.processors.options import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _subtract_exp(
    x: np.ndarray, a: float, b: float, tau: float, o: np.ndarray
) -> None:  # pragma: no cover
    for i in range(x.shape[0]):
        o[i] = x[i] - (a * np.exp(-i / tau) + b)


@njit(**JIT_OPTIONS)
def _exp_sums(
    x: np.ndarray, count: int, tau: float
) -> tuple[float, float, float, float]:  # pragma: no cover
    """sum(e), sum(e**2), sum(e * x), sum(x) over the first ``count`` samples, e = exp(-i/tau)."""
    s_e = 0.0
    s_ee = 0.0
    s_ex = 0.0
    s_x = 0.0
    for i in range(count):
        e = np.exp(-i / tau)
        s_e += e
        s_ee += e * e
        s_ex += e * x[i]
        s_x += x[i]
    return s_e, s_ee, s_ex, s_x


@gufunc(
    [
        "void(float32[:], float32, float32, float32[:])",
        "void(float64[:], float64, float64, float64[:])",
    ],
    "(n),(),()->(n)",
)
def soft_pileup_corr(
    w_in: np.ndarray, n_in: float, tau_in: float, w_out: np.ndarray
) -> None:  # pragma: no cover
    """Fit ``a exp(-i/tau_in) + b`` to the first ``n_in`` samples and subtract it everywhere.

    Signature ``(n),(),()->(n)``; arguments ``(w_in, n_in, tau_in, w_out)``, ``tau_in`` in
    samples. Linear least squares for ``a`` and ``b``. NaN in the waveform or parameters, a
    fractional ``n_in``, ``n_in < 2`` or ``n_in > n`` give an all-NaN output.

    >>> import numpy as np
    >>> wf = 5 + 3 * np.exp(-np.arange(8) / 4.0)
    >>> np.round(soft_pileup_corr(wf, 6.0, 4.0), 9) + 0.0
    array([0., 0., 0., 0., 0., 0., 0., 0.])
    """
    n = w_in.shape[0]
    o = np.ascontiguousarray(w_out)
    x = np.ascontiguousarray(w_in)
    if (
        np.isnan(n_in)
        or np.isnan(tau_in)
        or np.floor(n_in) != n_in
        or n_in < 2
        or n_in > n
        or has_nan(x)
    ):
        o[:] = np.nan
        write_back(o, w_out)
        return
    tau = np.float64(tau_in)
    count = int(n_in)
    s_e, s_ee, s_ex, s_x = _exp_sums(x, count, tau)
    b = (s_x - s_e * (s_ex * count - s_e * s_x) / (s_ee * count - s_e * s_e)) / count
    a = (s_ex - b * s_e) / s_ee
    _subtract_exp(x, a, b, tau, o)
    write_back(o, w_out)


@gufunc(
    [
        "void(float32[:], float32, float32, float32, float32[:])",
        "void(float64[:], float64, float64, float64, float64[:])",
    ],
    "(n),(),(),()->(n)",
)
def soft_pileup_corr_bl(
    w_in: np.ndarray, n_in: float, tau_in: float, b_in: float, w_out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """As :func:`soft_pileup_corr` with the constant ``b_in`` given: fits only ``a``.

    Signature ``(n),(),(),()->(n)``; arguments ``(w_in, n_in, tau_in, b_in, w_out)``. NaN in
    the waveform or parameters, a fractional ``n_in``, ``n_in < 1`` or ``n_in > n`` give an
    all-NaN output.

    >>> import numpy as np
    >>> wf = 5 + 3 * np.exp(-np.arange(6) / 4.0)
    >>> np.round(soft_pileup_corr_bl(wf, 4.0, 4.0, 5.0), 9) + 0.0
    array([0., 0., 0., 0., 0., 0.])
    """
    n = w_in.shape[0]
    o = np.ascontiguousarray(w_out)
    x = np.ascontiguousarray(w_in)
    bad = np.isnan(n_in) or np.isnan(tau_in) or np.isnan(b_in)
    if bad or np.floor(n_in) != n_in or n_in < 1 or n_in > n or has_nan(x):
        o[:] = np.nan
        write_back(o, w_out)
        return
    tau = np.float64(tau_in)
    s_e, s_ee, s_ex, _ = _exp_sums(x, int(n_in), tau)
    a = (s_ex - b_in * s_e) / s_ee
    _subtract_exp(x, a, np.float64(b_in), tau, o)
    write_back(o, w_out)
