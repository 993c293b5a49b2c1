"""``tierflow demo``: simulate a Th-228 calibration run and take it to calibrated spectra.

No configuration and no data needed: the simulator writes the run as a DAQ file (ORCA with
FlashCam records, as LEGEND's DAQ writes), the pipeline runs DAQ → raw → dsp → calibration →
hit, and three pictures and a summary come out.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import sim
from ..lh5 import read
from ..lh5.files import open_file
from ..types import Array, WaveformTable
from .layout import find_raw_files
from .plots import plot_spectra, plot_waveforms
from .report import PipelineReport
from .runner import Pipeline

#: the dsp config of the demo: baseline, pole-zero and a 10 us / 3 us trapezoid maximum
DEMO_DSP_CONFIG = "hpge-simple"
DEMO_ENERGY = "trapTmax"


@dataclass
class DemoResult:
    """What the demo made: the pipeline's report and the paths of its pictures."""

    report: PipelineReport
    pictures: dict[str, str] = field(default_factory=dict)
    simulated: int = 0
    simulation_seconds: float = 0.0

    def __str__(self) -> str:
        lines = [
            f"simulated {self.simulated:,} waveforms in {self.simulation_seconds:.1f} s",
            "",
            str(self.report),
            "",
        ]
        lines += [f"{name:<16}{path}" for name, path in self.pictures.items()]
        return "\n".join(lines)


def demo_config(outdir: str, channels: Sequence[sim.Channel], daq: bool = False) -> dict[str, Any]:
    """The pipeline config of the demo; the dsp database gives each channel its decay time.

    ``daq=True``: the run starts from the simulated DAQ files (what ``tierflow demo`` does);
    otherwise from raw-tier files that :func:`tierflow.sim.simulate_run` wrote.
    """
    database = {f"ch{c.rawid}": {"pz": {"tau": f"{c.tau / 1000:.3f}*us"}} for c in channels}
    source = (
        {"daq": os.path.join(outdir, "tier", "daq", "cal", "p00", "r000", "*.orca")}
        if daq
        else {"raw": os.path.join(outdir, "tier", "raw", "cal", "p00", "r000", "*-tier_raw.lh5")}
    )
    return {
        **source,
        "outdir": outdir,
        "dsp": {"config": DEMO_DSP_CONFIG, "database": database},
        "calibration": {"energy": DEMO_ENERGY, "output": f"{DEMO_ENERGY}_cal"},
    }


def run_demo(
    outdir: str | os.PathLike = "tierflow-demo",
    n_events: int = 20_000,
    n_channels: int = 3,
    seed: int = 42,
    executor: Any = None,
    progress: bool | None = None,
) -> DemoResult:
    """Simulate ``n_channels`` channels of ``n_events`` Th-228 events, run the pipeline, plot.

    Simulated files already in ``outdir`` (same settings) are reused, and finished tiers are
    skipped, so running it again only redoes what is missing.
    """
    outdir = os.fspath(outdir)
    channels = sim.default_channels(n_channels)
    config = demo_config(outdir, channels, daq=True)
    start = time.perf_counter()
    daq_files = find_raw_files(config["daq"])
    settings = {"n_events": n_events, "n_channels": n_channels, "seed": seed}
    simulated = 0
    if not daq_files or _simulated_with(outdir) != settings:
        for old in daq_files:
            os.remove(old)
        result = sim.simulate_daq_run(outdir, n_events=n_events, channels=channels, seed=seed)
        _remember_simulation(outdir, settings)
        simulated = result.n_waveforms
    simulation_seconds = time.perf_counter() - start
    pipeline = Pipeline(config)
    report = pipeline.run(executor=executor, progress=progress)
    demo = DemoResult(report, simulated=simulated, simulation_seconds=simulation_seconds)
    demo.pictures = _pictures(pipeline, outdir, report)
    return demo


def _settings_file(outdir: str) -> str:
    return os.path.join(outdir, ".tierflow", "demo-simulation.json")


def _simulated_with(outdir: str) -> dict[str, Any] | None:
    """The settings the DAQ files in ``outdir`` were simulated with (None: unknown)."""
    try:
        with open(_settings_file(outdir)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _remember_simulation(outdir: str, settings: dict[str, Any]) -> None:
    path = _settings_file(outdir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(settings, f)


def _pictures(pipeline: Pipeline, outdir: str, report: PipelineReport) -> dict[str, str]:
    from ..hit.calibration import EnergyCalibration, plot_calibration

    cycles = [c for c in pipeline.cycles() if os.path.exists(c.hit)]
    if not cycles:
        return {}
    pictures = {}
    output = pipeline.cfg.calibration.output
    assert output is not None  # demo_config names it
    energies: dict[str, list[np.ndarray]] = {}
    for cycle in cycles:
        with open_file(cycle.hit) as h5f:
            for ch in h5f:
                if f"{ch}/hit/{output}" in h5f:
                    column = read(f"{ch}/hit/{output}", h5f)
                    assert isinstance(column, Array)  # the demo's own hit tier
                    energies.setdefault(ch, []).append(column.nda)
    spectra = {ch: np.concatenate(parts) for ch, parts in energies.items()}
    single_run = len({name.split()[0] for name in report.calibrations}) <= 1
    fwhm = {
        name.split()[-1]: (values["fwhm_2614"], values.get("fwhm_2614_err", math.nan))
        for name, values in report.calibrations.items()
        if values.get("fwhm_2614") is not None
    }
    pictures["spectrum.png"] = os.path.join(outdir, "spectrum.png")
    plot_spectra(spectra, fwhm, pictures["spectrum.png"])

    pictures["waveforms.png"] = os.path.join(outdir, "waveforms.png")
    _waveform_picture(cycles[0].raw, cycles[0].hit, output, pictures["waveforms.png"])

    calibrations = {
        name.split()[-1] if single_run else name: EnergyCalibration.from_dict(values["calibration"])
        for name, values in report.calibrations.items()
    }
    if calibrations:
        pictures["calibration.png"] = os.path.join(outdir, "calibration.png")
        plot_calibration(calibrations).savefig(pictures["calibration.png"], dpi=130)
    return pictures


def _waveform_picture(raw_file: str, hit_file: str, energy: str, path: str) -> None:
    """A few waveforms of one channel near chosen energies, with their trapezoids."""
    from ..dsp import processors

    with open_file(hit_file) as h5f:
        channel = sorted(k for k in h5f if k.startswith("ch"))[0]
        column = read(f"{channel}/hit/{energy}", h5f)
    assert isinstance(column, Array)  # the demo's own hit tier
    energies = column.nda
    picks = []
    for target in (583.2, 1592.5, 2614.5):
        candidates = np.flatnonzero(np.abs(energies - target) < 3.0)
        if len(candidates):
            picks.append(int(candidates[0]))
    if not picks:
        picks = [int(np.argmax(np.where(np.isfinite(energies), energies, 0)))]
    with open_file(raw_file) as h5f:
        wf = read(f"{channel}/raw/waveform", h5f, idx=np.array(sorted(picks)))
    # the simulator's raw tier: waveforms of one length
    assert isinstance(wf, WaveformTable) and isinstance(wf.values, Array)
    order = np.argsort(np.argsort(picks))
    values = wf.values.nda.astype(np.float64)[order]
    dt = float(wf.dt.nda[0])
    tau = next(c.tau for c in sim.default_channels(8) if f"ch{c.rawid}" == channel)
    baseline = np.median(values[:, :2500], axis=1)
    blsub = processors.get("bl_subtract")(values, baseline)
    pz = processors.get("pole_zero")(blsub, tau / dt)
    rise, flat = int(10_000 / dt), int(3_008 / dt)
    trap = processors.get("trap_norm")(pz, rise, flat)
    plot_waveforms(values, trap, [float(energies[i]) for i in picks], dt, path, channel=channel)
