"""In memory: simulated waveforms of one channel with their truth, for tests and DSP work.

>>> wf, truth = simulate_waveforms(4, seed=1)
>>> wf.values.nda.shape, wf.values.nda.dtype, wf.dt.nda[0], wf.dt.attrs["units"]
((4, 8192), dtype('uint16'), np.float32(16.0), 'ns')
>>> truth["energy"].attrs["units"], len(truth)
('keV', 4)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..types import Array, ArrayOfEqualSizedArrays, Table, WaveformTable
from .channels import Channel
from .events import T0_RANGE, draw_events, render_events, truth_table
from .pulses import N_SAMPLES, SAMPLING_PERIOD
from .spectrum import PULSER_ENERGY


def simulate_waveforms(
    n: int,
    seed: int | np.random.SeedSequence = 0,
    channel: Channel | None = None,
    *,
    energies: np.ndarray | float | None = None,
    pulser_fraction: float = 0.0,
    pulser_energy: float = PULSER_ENERGY,
    pileup_fraction: float = 0.01,
    t0_range: tuple[float, float] = T0_RANGE,
    n_samples: int = N_SAMPLES,
    dt: float = SAMPLING_PERIOD,
    spectrum: Mapping[str, Any] | None = None,
) -> tuple[WaveformTable, Table]:
    """``n`` waveforms of ``channel`` (default ``Channel(1084803)``) and their truth.

    Energies come from the Th-228 calibration spectrum unless ``energies`` (keV)
    are given; ``pulser_fraction`` of the events (chosen at random) are pulser
    events; ``spectrum`` passes keywords to
    :func:`~tierflow.sim.spectrum.sample_energies`. The same ``seed`` gives the same
    waveforms, byte for byte. Returns a :class:`~tierflow.types.WaveformTable`
    (``t0`` = 0 ns, ``dt`` in ns, uint16 ``values``) and the truth table (see
    :mod:`tierflow.sim.events`).

    >>> wf, truth = simulate_waveforms(2, seed=3, energies=2614.5, pileup_fraction=0.0)
    >>> truth["amplitude"].nda.tolist()
    [16994.25, 16994.25]
    >>> bool(np.array_equal(wf.values.nda, simulate_waveforms(2, seed=3, energies=2614.5,
    ...                                                        pileup_fraction=0.0)[0].values.nda))
    True
    """
    channel = Channel(1084803) if channel is None else channel
    rng = np.random.default_rng(seed)
    n = int(n)
    is_pulser = rng.random(n) < pulser_fraction
    truth, seeds = draw_events(
        n,
        rng,
        channel,
        is_pulser=is_pulser,
        energies=energies,
        pulser_energy=pulser_energy,
        pileup_fraction=pileup_fraction,
        t0_range=t0_range,
        n_samples=n_samples,
        dt=dt,
        spectrum=spectrum,
    )
    rendered = render_events(truth, seeds, channel, n_samples=n_samples, dt=dt)
    waveforms = WaveformTable(
        t0=Array(np.zeros(n, np.float32)),
        t0_units="ns",
        dt=Array(np.full(n, dt, np.float32)),
        dt_units="ns",
        values=ArrayOfEqualSizedArrays(nda=rendered.values),
    )
    return waveforms, truth_table(truth)
