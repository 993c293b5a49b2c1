"""Interpolation between samples, shared by the pick-off and threshold processors."""

from __future__ import annotations

import numpy as np
from numba import njit

from tierflow.dsp.processors.options import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def check_mode(mode: int, allowed: str) -> None:  # pragma: no cover - compiled
    """Raise ``ValueError`` unless the character code ``mode`` is one of ``allowed``."""
    for c in allowed:
        if mode == ord(c):
            return
    raise ValueError("unknown interpolation mode")


@njit(**JIT_OPTIONS)
def _spline_second_derivatives(x: np.ndarray, stop: int) -> np.ndarray:  # pragma: no cover
    """Second derivatives of the natural cubic spline through ``x`` (unit spacing).

    Tridiagonal solve (Thomas algorithm): forward sweep over the whole waveform, back
    substitution down to index ``stop`` only (the values below it are not needed).
    """
    n = x.shape[0]
    d2 = np.zeros(n)
    u = np.zeros(n)
    for i in range(1, n - 1):
        p = 0.5 * d2[i - 1] + 2.0
        d2[i] = -0.5 / p
        u[i] = (3.0 * (x[i + 1] - 2.0 * x[i] + x[i - 1]) - 0.5 * u[i - 1]) / p
    d2[n - 1] = 0.0
    for i in range(n - 2, stop - 1, -1):
        d2[i] = d2[i] * d2[i + 1] + u[i]
    return d2


@njit(**JIT_OPTIONS)
def pickoff(x: np.ndarray, t: float, mode: int) -> float:  # pragma: no cover - compiled
    """Value of ``x`` at index ``t`` with interpolation ``mode`` (a character code).

    NaN if ``t`` is NaN or outside ``[0, n-1]``; ``x`` holds no NaN (the caller checked).
    """
    n = x.shape[0]
    if np.isnan(t) or t < 0 or t > n - 1:
        return np.nan
    i = int(t)
    if i == t:
        return np.float64(x[i])
    t0 = np.float64(t) - i
    t1 = 1.0 - t0
    if mode == 105:  # 'i': integer times only
        return np.nan
    if mode == 110:  # 'n': nearest
        return np.float64(x[i] if t0 < 0.5 else x[i + 1])
    if mode == 102:  # 'f': floor
        return np.float64(x[i])
    if mode == 99:  # 'c': ceiling
        return np.float64(x[i + 1])
    if mode == 108:  # 'l': linear
        return t1 * x[i] + t0 * x[i + 1]
    if mode == 104:  # 'h': cubic Hermite with finite-difference tangents
        m0 = np.float64(x[1] - x[0]) if i == 0 else (np.float64(x[i + 1]) - x[i - 1]) / 2.0
        m1 = np.float64(x[n - 1] - x[n - 2]) if i == n - 2 else (np.float64(x[i + 2]) - x[i]) / 2.0
        return (
            (3.0 - 2.0 * t1) * t1 * t1 * x[i]
            + (3.0 - 2.0 * t0) * t0 * t0 * x[i + 1]
            + t1 * t1 * t0 * m0
            - t0 * t0 * t1 * m1
        )
    # 's': natural cubic spline through the whole waveform
    d2 = _spline_second_derivatives(x, i)
    return t1 * x[i] + t0 * x[i + 1] + ((t1**3 - t1) * d2[i] + (t0**3 - t0) * d2[i + 1]) / 6.0
