"""Events: the known truth of every simulated waveform, drawn before anything is rendered.

:func:`draw_events` decides, for ``n`` waveforms of one channel, what each one is:
its energy (from :mod:`.spectrum`, or the pulser line), where the pulse starts,
how fast it rises, whether a second pulse piles up on it, and the seed of its
noise. :func:`render_events` turns those into ADC traces and fills in what is only
known after rendering (saturation). The truth is a :class:`~tierflow.types.Table`
with units, one row per waveform:

==================  =======  ==========================================================
column              units    meaning
==================  =======  ==========================================================
eventnumber                  the waveform's event number (joins with the raw table)
energy              keV      deposited energy (pulser: the pulser line)
energy_smeared      keV      energy after resolution and charge-collection tail
line                         index in ``TH228_LINES``; -1 continuum, -2 high energy,
                             -3 pulser
amplitude           ADC      pole-zero corrected pulse height, ``gain * energy_smeared``
t0                  ns       start of the rise, from the first sample
rise_time           ns       10-90 % rise time of the charge pulse
current_exponent             shape of the current, ``x^k (1 - x)`` (see :mod:`.pulses`)
tau                 ns       preamplifier decay time
baseline            ADC      the channel's mean baseline
is_pulser                    a test-pulser event
is_pileup                    a second pulse is on the trace
pileup_t0           ns       its start (NaN when none)
pileup_energy       keV      its smeared energy (NaN when none)
pileup_rise_time    ns       its rise time (NaN when none)
pileup_exponent              its current exponent (NaN when none)
is_saturated                 some samples were clipped at 0 or 65535
==================  =======  ==========================================================

>>> import numpy as np
>>> from tierflow.sim.channels import Channel
>>> truth, seeds = draw_events(4, np.random.default_rng(0), Channel(1084803))
>>> sorted(truth)[:4], seeds.dtype
(['amplitude', 'baseline', 'current_exponent', 'energy'], dtype('uint64'))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import SimulationError
from ..types import Array, Table
from .channels import Channel
from .pulses import N_SAMPLES, SAMPLING_PERIOD, RenderedWaveforms, render_waveforms
from .spectrum import PULSER, PULSER_ENERGY, pulser_energies, sample_energies

#: where pulses start (ns): around 48 us, as in LEGEND-200 raw data (tp_0_est of p03)
T0_RANGE = (47_500.0, 48_300.0)

#: current exponent of test-pulser signals: a symmetric smooth step
PULSER_EXPONENT = 1.0

#: truth columns and their units
TRUTH_UNITS: dict[str, str | None] = {
    "eventnumber": None,
    "energy": "keV",
    "energy_smeared": "keV",
    "line": None,
    "amplitude": "ADC",
    "t0": "ns",
    "rise_time": "ns",
    "current_exponent": None,
    "tau": "ns",
    "baseline": "ADC",
    "is_pulser": None,
    "is_pileup": None,
    "pileup_t0": "ns",
    "pileup_energy": "keV",
    "pileup_rise_time": "ns",
    "pileup_exponent": None,
    "is_saturated": None,
}


def draw_events(
    n: int,
    rng: np.random.Generator,
    channel: Channel,
    *,
    is_pulser: np.ndarray | None = None,
    energies: np.ndarray | float | None = None,
    pulser_energy: float = PULSER_ENERGY,
    pileup_fraction: float = 0.01,
    t0_range: tuple[float, float] = T0_RANGE,
    n_samples: int = N_SAMPLES,
    dt: float = SAMPLING_PERIOD,
    spectrum: Mapping[str, Any] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The truth of ``n`` waveforms of ``channel`` and one noise seed each.

    ``is_pulser`` marks pulser events (fixed start time in the middle of
    ``t0_range``, fastest rise time of the channel, a symmetric shape, no pile-up). ``energies``
    (keV) replaces the spectrum with given energies (no smearing). ``spectrum``
    holds keywords for :func:`~tierflow.sim.spectrum.sample_energies`. The draws
    happen in a fixed order, whatever the options, so a seed always gives the same
    events. Returns ``(truth columns, seeds)``; ``is_saturated`` is filled in by
    :func:`render_events`.

    >>> import numpy as np
    >>> truth, _ = draw_events(3, np.random.default_rng(1), Channel(1084803), energies=1000.0)
    >>> truth["amplitude"].tolist()
    [6500.0, 6500.0, 6500.0]
    """
    n = int(n)
    if n < 0:
        raise SimulationError(f"cannot draw {n} events")
    if not 0.0 <= pileup_fraction <= 1.0:
        raise SimulationError(f"pileup_fraction must be in [0, 1], not {pileup_fraction}")
    lo, hi = (float(x) for x in t0_range)
    trace_end = n_samples * dt
    if not 0.0 <= lo <= hi < trace_end:
        raise SimulationError(f"t0_range {t0_range} must lie inside the trace [0, {trace_end}) ns")
    pulser = np.zeros(n, bool) if is_pulser is None else np.asarray(is_pulser, bool)
    if pulser.shape != (n,):
        raise SimulationError(f"is_pulser has shape {pulser.shape}, expected ({n},)")

    physics = sample_energies(n, rng, resolution=channel.resolution, **(spectrum or {}))
    pulser_amp = pulser_energies(n, rng, pulser_energy)
    rt_lo, rt_hi = channel.rise_time
    rise = rng.uniform(rt_lo, rt_hi, n)
    t0 = rng.uniform(lo, hi, n)
    pileup = (rng.random(n) < pileup_fraction) & ~pulser
    pileup_energy = sample_energies(n, rng, resolution=channel.resolution, **(spectrum or {}))
    pileup_t0 = t0 + rng.random(n) * (trace_end - t0)
    pileup_rise = rng.uniform(rt_lo, rt_hi, n)
    k_lo, k_hi = channel.current_exponent
    exponent = rng.uniform(k_lo, k_hi, n)
    pileup_exponent = rng.uniform(k_lo, k_hi, n)
    seeds = rng.integers(0, 2**63, n, dtype=np.uint64, endpoint=False)

    if energies is not None:
        given = np.broadcast_to(np.asarray(energies, np.float64), (n,))
        true, smeared, line = given.copy(), given.copy(), np.full(n, -1, np.int16)
    else:
        true, smeared, line = physics.true, physics.smeared, physics.line
    true = np.where(pulser, pulser_energy, true)
    smeared = np.where(pulser, pulser_amp, smeared)
    line = np.where(pulser, np.int16(PULSER), line).astype(np.int16)
    rise = np.where(pulser, rt_lo, rise)
    exponent = np.where(pulser, PULSER_EXPONENT, exponent)
    t0 = np.where(pulser, 0.5 * (lo + hi), t0)
    nan = np.full(n, np.nan)
    truth = {
        "eventnumber": np.arange(n, dtype=np.int32),
        "energy": true,
        "energy_smeared": smeared,
        "line": line,
        "amplitude": channel.gain * np.clip(smeared, 0.0, None),
        "t0": t0,
        "rise_time": rise,
        "current_exponent": exponent,
        "tau": np.full(n, float(channel.tau)),
        "baseline": np.full(n, float(channel.baseline)),
        "is_pulser": pulser,
        "is_pileup": pileup,
        "pileup_t0": np.where(pileup, pileup_t0, nan),
        "pileup_energy": np.where(pileup, np.clip(pileup_energy.smeared, 0.0, None), nan),
        "pileup_rise_time": np.where(pileup, pileup_rise, nan),
        "pileup_exponent": np.where(pileup, pileup_exponent, nan),
        "is_saturated": np.zeros(n, bool),
    }
    return truth, seeds


def render_events(
    truth: dict[str, np.ndarray],
    seeds: np.ndarray,
    channel: Channel,
    rows: slice = slice(None),
    *,
    n_samples: int = N_SAMPLES,
    dt: float = SAMPLING_PERIOD,
) -> RenderedWaveforms:
    """Render the waveforms ``rows`` of events drawn by :func:`draw_events`.

    Sets ``truth["is_saturated"]`` for those rows.

    >>> import numpy as np
    >>> ch = Channel(1084803)
    >>> truth, seeds = draw_events(3, np.random.default_rng(0), ch)
    >>> render_events(truth, seeds, ch, slice(0, 2)).values.shape
    (2, 8192)
    """
    pileup = truth["is_pileup"][rows]
    rendered = render_waveforms(
        seeds[rows],
        truth["amplitude"][rows],
        truth["t0"][rows],
        truth["rise_time"][rows],
        channel=channel,
        exponent=truth["current_exponent"][rows],
        pileup_amplitude=np.where(pileup, channel.gain * truth["pileup_energy"][rows], 0.0),
        pileup_t0=np.where(pileup, truth["pileup_t0"][rows], 0.0),
        pileup_rise_time=np.where(pileup, truth["pileup_rise_time"][rows], 1.0),
        pileup_exponent=np.where(pileup, truth["pileup_exponent"][rows], 1.0),
        n_samples=n_samples,
        dt=dt,
    )
    truth["is_saturated"][rows] = rendered.n_clipped > 0
    return rendered


def truth_table(truth: dict[str, np.ndarray]) -> Table:
    """The truth columns as a :class:`~tierflow.types.Table` with units.

    >>> import numpy as np
    >>> truth, _ = draw_events(2, np.random.default_rng(0), Channel(1084803))
    >>> truth_table(truth)["t0"].attrs["units"]
    'ns'
    """
    columns = {}
    for name, units in TRUTH_UNITS.items():
        columns[name] = Array(truth[name], attrs={"units": units} if units else None)
    return Table(columns)
