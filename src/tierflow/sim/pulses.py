"""Pulses: charge-sensitive preamplifier signals of a germanium detector, rendered by numba.

While the charge drifts, the induced current grows as the holes near the point
contact and stops smoothly when they arrive: ``i(x) ~ x^k (1 - x)`` for
``x = (t - t0) / D`` in [0, 1], so the collected charge is
``q(x) = (k+2) x^(k+1) - (k+1) x^(k+2)``, from 0 at ``t0`` to 1 at ``t0 + D``. The
current exponent ``k`` sets the shape (``k = 1``: symmetric smoothstep; ``k = 3``: a
slow start and a steep end, like LEGEND's inverted-coaxial detectors); the 10-90 %
rise time is ``rise_fraction(k) * D``. The preamplifier integrates the current and
discharges with time constant ``tau``; sampled every ``dt``::

    v[i] = exp(-dt/tau) * v[i-1] + A * (q[i] - q[i-1])

which is exactly what a pole-zero correction
``p[i] = p[i-1] + v[i] - exp(-dt/tau) * v[i-1]`` undoes: ``p = A * q``. A pile-up
pulse is added the same way. Noise (:mod:`.noise`) and the baseline are added, and
the sum is rounded to the ADC's unsigned 16-bit range, clipping (saturating) at 0
and 65535.

>>> import numpy as np
>>> from tierflow.sim.channels import Channel
>>> quiet = Channel(1084803, noise=0.0, drift=0.0, tau=1e12)
>>> r = render_waveforms(
...     np.array([1], "uint64"), amplitude=[1000.0], t0=[40000.0], rise_time=[400.0],
...     channel=quiet, n_samples=4000)
>>> r.values.dtype, r.values[0, 0], r.values[0, -1], int(r.daqenergy[0])
(dtype('uint16'), np.uint16(15000), np.uint16(16000), 1000)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numba
import numpy as np

from ..errors import SimulationError
from .channels import Channel
from .noise import ZIGGURAT_FN, ZIGGURAT_KN, ZIGGURAT_WN, fill_noise

#: sampling period (ns) and trace length of LEGEND's FlashCam HPGe waveforms
SAMPLING_PERIOD = 16.0
N_SAMPLES = 8192
#: ADC range: unsigned 16 bit
ADC_MAX = 65535
#: samples at the start of a trace over which the DAQ's baseline estimate is averaged
BASELINE_SAMPLES = 2048
#: samples of the moving average whose maximum above the baseline is the DAQ's energy
DAQ_ENERGY_WINDOW = 32

_TWO_PI = 2.0 * math.pi


def charge_fraction(x: np.ndarray | float, exponent: np.ndarray | float = 3.0) -> np.ndarray:
    """The collected-charge shape ``q(x)`` for ``x = (t - t0) / D``: 0 before, 1 after.

    >>> charge_fraction(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]), 1.0).tolist()
    [0.0, 0.0, 0.5, 1.0, 1.0]
    """
    x = np.clip(np.asarray(x, np.float64), 0.0, 1.0)
    k = np.asarray(exponent, np.float64)
    return (k + 2.0) * x ** (k + 1.0) - (k + 1.0) * x ** (k + 2.0)


def _x_at(fraction: float, exponent: np.ndarray) -> np.ndarray:
    lo, hi = np.zeros_like(exponent), np.ones_like(exponent)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = charge_fraction(mid, exponent) < fraction
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def rise_fraction(exponent: np.ndarray | float = 3.0) -> np.ndarray:
    """The 10-90 % rise time as a fraction of the charge-collection time ``D``.

    >>> round(float(rise_fraction(1.0)), 4), round(float(rise_fraction(3.0)), 4)
    (0.6084, 0.4717)
    """
    k = np.asarray(exponent, np.float64)
    return _x_at(0.9, k) - _x_at(0.1, k)


def collection_time(
    rise_time: np.ndarray | float, exponent: np.ndarray | float = 3.0
) -> np.ndarray:
    """The charge-collection time ``D`` (ns) of a pulse whose 10-90 % rise time is given (ns).

    >>> bool(np.isclose(collection_time(500.0, 2.0) * rise_fraction(2.0), 500.0))
    True
    """
    return np.asarray(rise_time, np.float64) / rise_fraction(exponent)


@numba.njit(cache=True, inline="always")
def _charge(t, t0, inv_d, k):
    x = (t - t0) * inv_d
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    xk1 = x ** (k + 1.0)
    return (k + 2.0) * xk1 - (k + 1.0) * xk1 * x


@numba.njit(cache=True)
def _add_pulse(buf, amplitude, t0, duration, exponent, dt, decay, decay_pow):
    """Add one preamplifier pulse to ``buf``: the recursion over the rise, then pure decay."""
    n = buf.size
    lo = max(math.floor(t0 / dt), 0)
    if lo >= n or amplitude == 0.0:
        return
    hi = min(math.ceil((t0 + duration) / dt), n - 1)
    inv_d = 1.0 / duration
    v = 0.0
    q_prev = 0.0
    for i in range(lo, hi + 1):
        q = _charge(i * dt, t0, inv_d, exponent)
        v = decay * v + amplitude * (q - q_prev)
        q_prev = q
        buf[i] += v
    for i in range(hi + 1, n):
        buf[i] += v * decay_pow[i - hi]


@numba.njit(cache=True)
def _render(
    out,
    seeds,
    amplitude,
    t0,
    duration,
    exponent,
    pu_amplitude,
    pu_t0,
    pu_duration,
    pu_exponent,
    dt,
    decay,
    baseline,
    noise,
    noise_coeff,
    drift,
    drift_coeff,
    bl_samples,
    window,
    kn,
    wn,
    fn,
    bl_estimate,
    daq_energy,
    n_clipped,
):
    n_samples = out.shape[1]
    scratch = np.empty(n_samples, np.float64)
    decay_pow = np.empty(n_samples + 1, np.float64)
    decay_pow[0] = 1.0
    for j in range(1, n_samples + 1):
        decay_pow[j] = decay_pow[j - 1] * decay
    bl_n = min(bl_samples, n_samples)
    shift = baseline + 0.5
    for k in range(out.shape[0]):
        fill_noise(seeds[k], scratch, noise, noise_coeff, drift, drift_coeff, kn, wn, fn)
        _add_pulse(scratch, amplitude[k], t0[k], duration[k], exponent[k], dt, decay, decay_pow)
        if pu_amplitude[k] != 0.0:
            _add_pulse(
                scratch,
                pu_amplitude[k],
                pu_t0[k],
                pu_duration[k],
                pu_exponent[k],
                dt,
                decay,
                decay_pow,
            )
        row = out[k]
        clipped = 0
        for i in range(n_samples):
            adc = math.floor(scratch[i] + shift)
            if adc > ADC_MAX:
                adc = ADC_MAX
                clipped += 1
            elif adc < 0:
                adc = 0
                clipped += 1
            row[i] = adc
        bl_sum = 0
        for i in range(bl_n):
            bl_sum += np.int64(row[i])
        run = 0
        for i in range(min(window, n_samples)):
            run += np.int64(row[i])
        best = run
        for i in range(window, n_samples):
            run += np.int64(row[i]) - np.int64(row[i - window])
            best = max(best, run)
        bl = bl_sum / bl_n
        bl_estimate[k] = bl
        daq_energy[k] = best / window - bl
        n_clipped[k] = clipped


class RenderedWaveforms(NamedTuple):
    """What :func:`render_waveforms` returns.

    ``values``: (n, n_samples) uint16 ADC samples; ``baseline``: the DAQ's baseline
    estimate (ADC, mean of the first ``BASELINE_SAMPLES``); ``daqenergy``: the DAQ's
    rough energy (ADC, highest ``DAQ_ENERGY_WINDOW``-sample average above that
    baseline); ``n_clipped``: samples clipped at 0 or 65535.
    """

    values: np.ndarray
    baseline: np.ndarray
    daqenergy: np.ndarray
    n_clipped: np.ndarray


def _per_row(value: Sequence[float] | np.ndarray | float | None, n: int, fill: float) -> np.ndarray:
    if value is None:
        return np.full(n, fill)
    arr = np.asarray(value, np.float64)
    return np.full(n, float(arr)) if arr.ndim == 0 else np.ascontiguousarray(arr)


def render_waveforms(
    seeds: np.ndarray,
    amplitude: Sequence[float] | np.ndarray,
    t0: Sequence[float] | np.ndarray | float,
    rise_time: Sequence[float] | np.ndarray | float,
    *,
    channel: Channel,
    pileup_amplitude: Sequence[float] | np.ndarray | None = None,
    pileup_t0: Sequence[float] | np.ndarray | None = None,
    pileup_rise_time: Sequence[float] | np.ndarray | float | None = None,
    exponent: Sequence[float] | np.ndarray | float = 3.0,
    pileup_exponent: Sequence[float] | np.ndarray | float = 3.0,
    n_samples: int = N_SAMPLES,
    dt: float = SAMPLING_PERIOD,
    out: np.ndarray | None = None,
) -> RenderedWaveforms:
    """Render one waveform per entry of ``seeds`` (uint64, one noise seed per waveform).

    ``amplitude`` is the pole-zero corrected pulse height (ADC), ``t0`` the start of
    the rise (ns, from the first sample), ``rise_time`` the 10-90 % rise time (ns) and
    ``exponent`` the current exponent of the pulse shape. A pile-up pulse is added where ``pileup_amplitude`` is non-zero. Noise, baseline
    and decay time come from ``channel``. ``out`` may be a preallocated
    ``(n, n_samples)`` uint16 array.

    >>> import numpy as np
    >>> r = render_waveforms(np.arange(2, dtype="uint64"), [500.0, 800.0], 48000.0, 400.0,
    ...                      channel=Channel(1084803))
    >>> r.values.shape, bool(abs(r.baseline[0] - 15000) < 15)
    ((2, 8192), True)
    """
    seeds = np.ascontiguousarray(seeds, dtype=np.uint64)
    n = len(seeds)
    if out is None:
        out = np.empty((n, int(n_samples)), np.uint16)
    elif out.shape != (n, int(n_samples)) or out.dtype != np.uint16:
        raise SimulationError(
            f"out must be a ({n}, {n_samples}) uint16 array, not {out.dtype} {out.shape}"
        )
    amp = _per_row(amplitude, n, 0.0)
    start = _per_row(t0, n, 0.0)
    shape = _per_row(exponent, n, 3.0)
    duration = collection_time(_per_row(rise_time, n, 1.0), shape)
    pu_amp = np.nan_to_num(_per_row(pileup_amplitude, n, 0.0), nan=0.0)
    pu_start = np.nan_to_num(_per_row(pileup_t0, n, 0.0), nan=0.0)
    pu_shape = np.nan_to_num(_per_row(pileup_exponent, n, 3.0), nan=3.0)
    pu_duration = collection_time(
        np.nan_to_num(_per_row(pileup_rise_time, n, 1.0), nan=1.0), pu_shape
    )
    for name, arr in (
        ("amplitude", amp),
        ("t0", start),
        ("rise_time", duration),
        ("exponent", shape),
        ("pileup_amplitude", pu_amp),
        ("pileup_t0", pu_start),
        ("pileup_rise_time", pu_duration),
        ("pileup_exponent", pu_shape),
    ):
        if len(arr) != n:
            raise SimulationError(f"{name} has {len(arr)} entries for {n} seeds")
    if n and (
        min(start.min(), pu_start.min()) < 0
        or min(duration.min(), pu_duration.min()) <= 0
        or min(shape.min(), pu_shape.min()) < 0
    ):
        raise SimulationError(
            "pulse start times must be >= 0 ns, rise times > 0 ns and exponents >= 0"
        )
    baseline = np.empty(n)
    daqenergy = np.empty(n)
    n_clipped = np.empty(n, np.int64)
    _render(
        out,
        seeds,
        amp,
        start,
        duration,
        shape,
        pu_amp,
        pu_start,
        pu_duration,
        pu_shape,
        float(dt),
        math.exp(-dt / channel.tau),
        float(channel.baseline),
        float(channel.noise),
        math.exp(-dt / channel.noise_time),
        float(channel.drift),
        math.exp(-dt / channel.drift_time),
        BASELINE_SAMPLES,
        DAQ_ENERGY_WINDOW,
        ZIGGURAT_KN,
        ZIGGURAT_WN,
        ZIGGURAT_FN,
        baseline,
        daqenergy,
        n_clipped,
    )
    return RenderedWaveforms(out, baseline, daqenergy, n_clipped)
