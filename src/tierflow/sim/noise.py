"""Noise for simulated waveforms: a per-waveform random generator inside numba kernels.

Every waveform gets its own 64-bit seed, drawn from the caller's
``numpy.random.Generator``; inside the kernel that seed drives ``splitmix64``
(Steele, Lea and Flood 2014; passes BigCrush), and normal deviates come from
Marsaglia and Tsang's ziggurat (2000) with 128 layers. The layer index and the
sample use separate bits of one 64-bit draw, so most samples cost one draw, a
table look-up and a multiplication: a few nanoseconds, which is what makes
8192-sample noise traces cheap. Because each waveform owns its seed, the samples
do not depend on how waveforms are batched or on which thread renders them.

:func:`fill_noise` renders a channel's noise: white noise band-limited by a one-pole
filter (the preamplifier and anti-aliasing bandwidth) plus a slow drift.

>>> import numpy as np
>>> x = normal_samples(np.uint64(7), 100_000)
>>> bool(abs(x.mean()) < 0.02), bool(abs(x.std() - 1) < 0.02)
(True, True)
>>> bool(np.array_equal(x, normal_samples(np.uint64(7), 100_000)))
True
"""

from __future__ import annotations

import math

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
_MASK7 = np.uint64(127)
_MASK12 = np.uint64(0xFFF)
_S7 = np.uint64(7)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53
_ZIGGURAT_R = 3.442619855899


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 128-layer tables of Marsaglia and Tsang's RNOR for 32-bit signed draws."""
    m1 = 2147483648.0
    dn = tn = _ZIGGURAT_R
    vn = 9.91256303526217e-3
    kn = np.zeros(128, np.int64)
    wn = np.zeros(128, np.float64)
    fn = np.zeros(128, np.float64)
    q = vn / math.exp(-0.5 * dn * dn)
    kn[0] = int((dn / q) * m1)
    kn[1] = 0
    wn[0] = q / m1
    wn[127] = dn / m1
    fn[0] = 1.0
    fn[127] = math.exp(-0.5 * dn * dn)
    for i in range(126, 0, -1):
        dn = math.sqrt(-2.0 * math.log(vn / dn + math.exp(-0.5 * dn * dn)))
        kn[i + 1] = int((dn / tn) * m1)
        tn = dn
        fn[i] = math.exp(-0.5 * dn * dn)
        wn[i] = dn / m1
    return kn, wn, fn


ZIGGURAT_KN, ZIGGURAT_WN, ZIGGURAT_FN = _ziggurat_tables()


@numba.njit(cache=True, inline="always")
def splitmix64(state: np.uint64) -> tuple[np.uint64, np.uint64]:
    """Advance ``state``; return ``(new_state, 64 random bits)``."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return state, z ^ (z >> _S31)


@numba.njit(cache=True, inline="always")
def uniform(state: np.uint64) -> tuple[np.uint64, float]:
    """``(new_state, u)`` with ``u`` uniform in [0, 1) (53 bits)."""
    state, z = splitmix64(state)
    return state, float(z >> _S11) * _TWO_M53


@numba.njit(cache=True)
def _normal_tail(state, hz, iz, kn, wn, fn):
    """The ziggurat's slow path (about 1 % of draws): wedges and the tail."""
    while True:
        x = hz * wn[iz]
        if iz == 0:
            while True:
                state, u1 = uniform(state)
                state, u2 = uniform(state)
                x = -math.log(1.0 - u1) / _ZIGGURAT_R
                y = -math.log(1.0 - u2)
                if y + y >= x * x:
                    break
            return state, (_ZIGGURAT_R + x) if hz > 0 else (-_ZIGGURAT_R - x)
        state, u = uniform(state)
        if fn[iz] + u * (fn[iz - 1] - fn[iz]) < math.exp(-0.5 * x * x):
            return state, x
        state, z = splitmix64(state)
        iz = np.int64(z & _MASK7)
        hz = np.int64(np.int32(np.uint32(z >> _S32)))
        if abs(hz) < kn[iz]:
            return state, hz * wn[iz]


@numba.njit(cache=True)
def _one_normal(state, kn, wn, fn):
    """``(new_state, one standard normal deviate)``."""
    state, z = splitmix64(state)
    iz = np.int64(z & _MASK7)
    hz = np.int64(np.int32(np.uint32(z >> _S32)))
    if abs(hz) < kn[iz]:
        return state, hz * wn[iz]
    return _normal_tail(state, hz, iz, kn, wn, fn)


@numba.njit(cache=True)
def fill_noise(state, out, noise, noise_coeff, drift, drift_coeff, kn, wn, fn):
    """Fill ``out`` with band-limited white noise plus a slow drift; return the new state.

    Fast part: ``y[i] = c*y[i-1] + noise*sqrt(1-c^2)*g[i]`` with standard normal ``g``
    (stationary standard deviation ``noise``, ``c = noise_coeff`` per sample). Slow
    part: the same recursion with ``drift_coeff`` and standard deviation ``drift``,
    driven by uniform deviates from 12 bits of each draw that the ziggurat leaves
    unused (over the thousands of samples it averages, the sum is Gaussian). Both
    start from their stationary distribution. One 64-bit draw per sample.
    """
    state, y = _one_normal(state, kn, wn, fn)
    state, d = _one_normal(state, kn, wn, fn)
    y *= noise
    d *= drift
    y_in = noise * math.sqrt(1.0 - noise_coeff * noise_coeff)
    d_in = drift * math.sqrt(1.0 - drift_coeff * drift_coeff) * math.sqrt(12.0)
    for i in range(out.size):
        state = state + _GOLDEN
        z = state
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
        z = z ^ (z >> _S31)
        iz = np.int64(z & _MASK7)
        hz = np.int64(np.int32(np.uint32(z >> _S32)))
        u = np.int64((z >> _S7) & _MASK12) * (1.0 / 4096.0) - 0.5
        if abs(hz) < kn[iz]:
            x = hz * wn[iz]
        else:
            state, x = _normal_tail(state, hz, iz, kn, wn, fn)
        y = noise_coeff * y + y_in * x
        d = drift_coeff * d + d_in * u
        out[i] = y + d
    return state


def normal_samples(seed: int | np.uint64, n: int) -> np.ndarray:
    """``n`` standard normal float64 samples from the kernel generator seeded with ``seed``.

    The same generator the pulse renderer uses (white noise of unit variance), for
    tests and checks.

    >>> normal_samples(1, 3).shape
    (3,)
    """
    out = np.empty(int(n), np.float64)
    fill_noise(np.uint64(seed), out, 1.0, 0.0, 0.0, 0.0, ZIGGURAT_KN, ZIGGURAT_WN, ZIGGURAT_FN)
    return out
