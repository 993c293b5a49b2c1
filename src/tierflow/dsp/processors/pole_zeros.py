"""Pole-zero cancellation: undo the exponential decay of a charge-sensitive preamplifier."""

from __future__ import annotations

import numpy as np
from numba import njit

from tierflow.dsp.processors._common import write_back
from tierflow.dsp.processors._gufunc import gufunc
from tierflow.dsp.processors.options import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _single(x: np.ndarray, c: float, o: np.ndarray) -> float:  # pragma: no cover - compiled
    # o[i] = o[i-1] + x[i] - c * x[i-1], o[0] = x[0]; the running value is kept in float64
    acc = np.float64(x[0])
    prev = acc
    o[0] = x[0]
    for i in range(1, x.shape[0]):
        cur = np.float64(x[i])
        acc += cur - prev * c
        prev = cur
        o[i] = acc
    return acc


@gufunc(
    ["void(float32[:], float32, float32[:])", "void(float64[:], float64, float64[:])"],
    "(n),()->(n)",
)
def pole_zero(w_in: np.ndarray, t_tau: float, w_out: np.ndarray) -> None:  # pragma: no cover
    """Cancel a single exponential decay with time constant ``t_tau`` (in samples).

    Signature ``(n),()->(n)``; arguments ``(w_in, t_tau, w_out)``. With ``c = exp(-1/t_tau)``
    the output is ``w_out[0] = w_in[0]`` and
    ``w_out[i] = w_out[i-1] + w_in[i] - c * w_in[i-1]``, run in float64 whatever the input
    precision. A step that decays as ``exp(-t/t_tau)`` comes out flat. NaN anywhere in the
    waveform, or a NaN ``t_tau``, gives an all-NaN output.

    >>> import numpy as np
    >>> wf = np.r_[np.zeros(3), 100 * np.exp(-np.arange(5) / 50.0)]
    >>> np.round(pole_zero(wf, 50.0), 6)
    array([  0.,   0.,   0., 100., 100., 100., 100., 100.])
    """
    n = w_in.shape[0]
    if n == 0:
        return
    c = np.exp(-1.0 / np.float64(t_tau))
    o = np.ascontiguousarray(w_out)
    acc = _single(np.ascontiguousarray(w_in), c, o)
    if np.isnan(acc) or np.isnan(c):
        o[:] = np.nan
    write_back(o, w_out)


@njit(**JIT_OPTIONS)
def _double(
    x: np.ndarray, a1: float, a2: float, b1: float, b2: float, o: np.ndarray
) -> float:  # pragma: no cover - compiled
    # o[i] = x[i] + a1 x[i-1] + a2 x[i-2] - b1 o[i-1] - b2 o[i-2], first two samples copied
    y2 = np.float64(x[0])
    y1 = np.float64(x[1])
    x2 = y2
    x1 = y1
    o[0] = x[0]
    o[1] = x[1]
    for i in range(2, x.shape[0]):
        x0 = np.float64(x[i])
        y0 = x0 + a1 * x1 + a2 * x2 - b1 * y1 - b2 * y2
        o[i] = y0
        x2 = x1
        x1 = x0
        y2 = y1
        y1 = y0
    return y1


@gufunc(
    [
        "void(float32[:], float32, float32, float32, float32[:])",
        "void(float64[:], float64, float64, float64, float64[:])",
    ],
    "(n),(),(),()->(n)",
)
def double_pole_zero(
    w_in: np.ndarray, t_tau1: float, t_tau2: float, frac: float, w_out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Cancel a sum of two exponential decays: ``(1-frac) exp(-t/t_tau1) + frac exp(-t/t_tau2)``.

    Signature ``(n),(),(),()->(n)``; arguments ``(w_in, t_tau1, t_tau2, frac, w_out)``, time
    constants in samples. With ``a = exp(-1/t_tau1)`` and ``b = exp(-1/t_tau2)`` the
    second-order recursion whose transfer function is
    ``(1 - (a+b) z^-1 + ab z^-2) / (1 + (f b - f a - b - 1) z^-1 - (f b - f a - b) z^-2)``
    is run in float64; the first two samples are copied. NaN in the waveform or any parameter,
    or a waveform of three samples or fewer, gives an all-NaN output.

    >>> import numpy as np
    >>> t = np.arange(6.0)
    >>> wf = np.r_[np.zeros(2), 100 * (0.9 * np.exp(-t / 40.0) + 0.1 * np.exp(-t / 4.0))]
    >>> np.round(double_pole_zero(wf, 40.0, 4.0, 0.1), 6)
    array([  0.,   0., 100., 100., 100., 100., 100., 100.])
    """
    n = w_in.shape[0]
    o = np.ascontiguousarray(w_out)
    if n <= 3 or np.isnan(t_tau1) or np.isnan(t_tau2) or np.isnan(frac):
        o[:] = np.nan
        write_back(o, w_out)
        return
    a = np.exp(-1.0 / np.float64(t_tau1))
    b = np.exp(-1.0 / np.float64(t_tau2))
    f = np.float64(frac)
    den1 = f * b - f * a - b - 1.0
    den2 = -(f * b - f * a - b)
    last = _double(np.ascontiguousarray(w_in), -(a + b), a * b, den1, den2, o)
    if np.isnan(last):
        o[:] = np.nan
    write_back(o, w_out)
