"""Simulated germanium-detector data with known truth: waveforms, spectra and raw-tier files.

The pieces, one concept per module:

- :mod:`.spectrum`: a Th-228 calibration spectrum (:data:`TH228_LINES`, Compton
  continuum, high-energy events), the pulser line and the resolution model;
  :func:`sample_energies`.
- :mod:`.channels`: a detector channel's response and readout address
  (:class:`Channel`, :func:`default_channels`).
- :mod:`.noise` and :mod:`.pulses`: numba kernels that render preamplifier pulses
  with noise, baseline, pile-up and 16-bit ADC saturation (:func:`render_waveforms`).
- :mod:`.events`: the truth of each waveform, drawn before rendering.
- :mod:`.waveforms`: :func:`simulate_waveforms`, in memory.
- :mod:`.raw` and :mod:`.run`: LEGEND raw-tier tables and files with their truth
  (:func:`simulate_run`; its cycles: :func:`draw_cycles`).
- :mod:`.daq`: the same runs as ORCA DAQ files with FlashCam records
  (:func:`simulate_daq_run`, :func:`simulate_daq_file`).

Everything is driven by ``numpy.random.default_rng(seed)``: the same seed gives the
same bytes.

>>> import numpy as np
>>> from tierflow import sim
>>> wf, truth = sim.simulate_waveforms(3, seed=0)
>>> wf.values.nda.shape, truth["energy"].attrs["units"]
((3, 8192), 'keV')
"""

from .channels import Channel, default_channels
from .daq import SimulatedDAQRun, simulate_daq_file, simulate_daq_run, write_orca_cycle
from .events import TRUTH_UNITS, draw_events, render_events, truth_table
from .pulses import N_SAMPLES, SAMPLING_PERIOD, render_waveforms, rise_fraction
from .raw import FLASHCAM_COLUMNS, raw_table
from .run import (
    ChannelEvents,
    CycleEvents,
    SimulatedRun,
    draw_cycles,
    simulate_run,
    tier_file_path,
)
from .spectrum import (
    PULSER_ENERGY,
    TH228_LINES,
    EnergySample,
    Line,
    Resolution,
    line_index,
    sample_energies,
)
from .waveforms import simulate_waveforms

__all__ = [
    "FLASHCAM_COLUMNS",
    "N_SAMPLES",
    "PULSER_ENERGY",
    "SAMPLING_PERIOD",
    "TH228_LINES",
    "TRUTH_UNITS",
    "Channel",
    "ChannelEvents",
    "CycleEvents",
    "EnergySample",
    "Line",
    "Resolution",
    "SimulatedDAQRun",
    "SimulatedRun",
    "default_channels",
    "draw_cycles",
    "draw_events",
    "line_index",
    "raw_table",
    "render_events",
    "render_waveforms",
    "rise_fraction",
    "sample_energies",
    "simulate_daq_file",
    "simulate_daq_run",
    "simulate_run",
    "simulate_waveforms",
    "tier_file_path",
    "truth_table",
    "write_orca_cycle",
]
