"""Running raw → dsp → calibration → hit over many files, resumably.

Work whose output exists and is newer than its inputs and the config is skipped; every
output appears at once (written to a temporary file and renamed), so a run that is
killed leaves no half files and the next run carries on where it stopped. A file that
fails is reported and skipped; the others are processed.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import time
import warnings
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import TierflowError, UncalibratedChannelWarning
from ..lh5.files import open_file
from ..parallel import describe_executor, is_serial, run_tasks
from .config import DEFAULT_ENERGIES, PipelineConfig, PipelineConfigError
from .layout import CycleKey, LayoutError, find_raw_files, parameters_path
from .raw_stage import RawTask, RunRaw
from .report import PipelineReport, StageReport
from .uncalibrated import mark_uncalibrated, uncalibrated_channels


@dataclass
class Cycle:
    """One raw file and the names of what it becomes."""

    raw: str
    key: CycleKey
    dsp: str
    hit: str
    waveforms: int = 0
    daq: str | None = None


@dataclass
class _DspTask:
    cycle: Cycle

    @property
    def label(self) -> str:
        return self.cycle.raw


class _RunDsp:
    """Build one dsp file; a failure is returned, not raised, so the other files go on."""

    def __init__(self, cfg: PipelineConfig, executor: Any = None):
        self.cfg, self.executor = cfg, executor

    def __call__(self, task: _DspTask) -> tuple[int, str | None]:
        from ..dsp import build_dsp

        cycle = task.cycle
        os.makedirs(os.path.dirname(cycle.dsp), exist_ok=True)
        try:
            summary = build_dsp(
                cycle.raw,
                cycle.dsp,
                self.cfg.dsp_config,
                lh5_tables=self.cfg.tables,
                database=self.cfg.dsp_database,
                write_mode="r",
                buffer_len=self.cfg.buffer_len,
                executor=self.executor,
                progress=False,
            )
        except (TierflowError, OSError) as err:
            return 0, f"{type(err).__name__}: {err}"
        return summary.rows, None


class _RunHit:
    def __init__(self, cfg: PipelineConfig, hit_config: Any):
        self.cfg, self.hit_config = cfg, hit_config

    def __call__(self, task: tuple[Cycle, str]) -> tuple[int, str | None]:
        from ..hit import build_hit

        cycle, parameters = task
        os.makedirs(os.path.dirname(cycle.hit), exist_ok=True)
        try:
            build_hit(
                cycle.dsp,
                cycle.hit,
                self.hit_config,
                parameters=parameters,
                buffer_len=max(self.cfg.buffer_len, 100_000),
            )
        except (TierflowError, OSError) as err:
            return 0, f"{type(err).__name__}: {err}"
        return cycle.waveforms, None


def default_hit_config(cfg: PipelineConfig) -> dict:
    """The hit config used when none is given: the calibrated energy and a validity flag."""
    cal = cfg.calibration
    return {
        "outputs": [cal.output, "is_valid"],
        "operations": {
            cal.output: {
                "expression": f"a + b*{cal.energy}",
                "parameters": {"a": 0.0, "b": 1.0},
                "lgdo_attrs": {"units": "keV", "description": f"calibrated {cal.energy}"},
            },
            "is_valid": {
                "expression": f"({cal.output} > 25) & ({cal.output} < 10000)",
                "lgdo_attrs": {"description": "energy in the physics range"},
            },
        },
    }


def up_to_date(output: str, inputs: list[str]) -> bool:
    """``output`` exists and is at least as new as every input."""
    try:
        made = os.stat(output).st_mtime_ns
    except OSError:
        return False
    return all(os.stat(p).st_mtime_ns <= made for p in inputs if os.path.exists(p))


def remove_stale_temporaries(root: str) -> list[str]:
    """Delete the temporary files (``.NAME.tmp-PID...``) that killed writers left under
    ``root``; those of a writer still running on this machine are left alone.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in (f".a.lh5.tmp-{os.getpid()}-0123abcd", ".b.lh5.tmp-999999999-0123abcd"):
    ...     open(os.path.join(root, name), "w").close()
    >>> [os.path.basename(p) for p in remove_stale_temporaries(root)]
    ['.b.lh5.tmp-999999999-0123abcd']
    """
    stale = [
        path
        for path in glob.glob(os.path.join(root, "**", ".*.tmp-*"), recursive=True)
        if not _writer_running(path)
    ]
    for path in stale:
        with contextlib.suppress(FileNotFoundError):  # its writer finished meanwhile
            os.remove(path)
    return stale


def _writer_running(temporary: str) -> bool:
    """Whether the process whose id a temporary file's name holds still runs here."""
    found = re.search(r"\.tmp-(\d+)", os.path.basename(temporary))
    if found is None:
        return False
    try:
        os.kill(int(found.group(1)), 0)
    except PermissionError:  # someone else's live process
        return True
    except (ProcessLookupError, OverflowError):
        return False
    return True


class Pipeline:
    """A configured run of the tiers over a set of raw files.

    >>> import tempfile
    >>> pipe = Pipeline({"raw": "/nowhere/*.lh5", "outdir": tempfile.mkdtemp()})
    >>> pipe.run(progress=False)
    Traceback (most recent call last):
    ...
    tierflow.pipeline.config.PipelineConfigError: no raw files match '/nowhere/*.lh5'
    """

    def __init__(self, config: PipelineConfig | Mapping | str | os.PathLike):
        self.cfg = config if isinstance(config, PipelineConfig) else PipelineConfig.load(config)

    # --- before any work -----------------------------------------------------------------------
    def cycles(self) -> list[Cycle]:
        """The raw files (or the DAQ files the raw files are built from) and their outputs."""
        daq = self.cfg.daq is not None
        pattern = self.cfg.daq.files if self.cfg.daq is not None else self.cfg.raw
        found = find_raw_files(pattern)
        if not found:
            what = "DAQ" if daq else "raw"
            raise PipelineConfigError(
                f"no {what} files match {pattern!r}", key="daq" if daq else None
            )
        out = []
        for path in found:
            try:
                key = CycleKey.from_daq_path(path) if daq else CycleKey.from_path(path)
            except LayoutError as err:
                raise PipelineConfigError(f"{path}: {err}") from None
            out.append(
                Cycle(
                    key.tier_path(self.cfg.outdir, "raw") if daq else path,
                    key,
                    key.tier_path(self.cfg.outdir, "dsp"),
                    key.tier_path(self.cfg.outdir, "hit"),
                    daq=path if daq else None,
                )
            )
        return out

    def check(self) -> Any:
        """Load and cross-check the configs; returns the hit config. Raises before any work."""
        from ..dsp import load_config
        from ..hit import HitConfig

        dsp = load_config(self.cfg.dsp_config)
        columns = set(dsp.outputs)
        cal = self.cfg.calibration
        if cal.energy is None and (self.cfg.hit_parameters is None or self.cfg.hit_config is None):
            raise PipelineConfigError(
                "the dsp config outputs none of the energies calibrated by default "
                f"({', '.join(DEFAULT_ENERGIES)}); name one in calibration.energy",
                key="calibration.energy",
            )
        if self.cfg.hit_parameters is None and cal.energy not in columns:
            raise PipelineConfigError(
                f"calibration energy {cal.energy!r} is not an output of the dsp config; "
                f"outputs are {sorted(columns)}"
            )
        hit_raw = (
            self.cfg.hit_config if self.cfg.hit_config is not None else default_hit_config(self.cfg)
        )
        hit = (
            HitConfig.from_dict(hit_raw)
            if isinstance(hit_raw, Mapping)
            else HitConfig.from_file(hit_raw)
        )
        missing = sorted(set(hit.input_columns) - columns)
        if missing:
            raise PipelineConfigError(
                f"the hit config reads {missing}, which the dsp config does not produce; "
                f"dsp outputs are {sorted(columns)}"
            )
        return hit_raw

    def _stamp(self) -> str:
        """A file whose time is when the config last changed (outputs older than it are redone)."""
        path = os.path.join(self.cfg.outdir, ".tierflow", "config-fingerprint")
        fingerprint = self.cfg.fingerprint()
        try:
            with open(path) as f:
                if f.read() == fingerprint:
                    return path
        except OSError:
            pass
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(fingerprint)
        return path

    # --- the run ----------------------------------------------------------------------------------
    def run(self, executor: Any = None, progress: bool | None = None) -> PipelineReport:
        """Run every tier; returns the report (``report.ok`` is False if anything failed)."""
        start = time.perf_counter()
        cycles = self.cycles()
        hit_config = self.check()
        executor = executor if executor is not None else self.cfg.processes
        os.makedirs(self.cfg.outdir, exist_ok=True)
        remove_stale_temporaries(self.cfg.outdir)
        stamp = self._stamp()
        report = PipelineReport(executor=describe_executor(executor))
        if self.cfg.daq is not None:
            report.stages.append(self._run_raw(cycles, stamp, executor, progress))
            cycles = [c for c in cycles if os.path.exists(c.raw)]
        for cycle in cycles:
            cycle.waveforms = _count_waveforms(cycle.raw, self.cfg.tables)
        report.stages.append(self._run_dsp(cycles, stamp, executor, progress))
        usable = [c for c in cycles if os.path.exists(c.dsp)]
        calibration, parameters = self._calibrate(usable, stamp)
        report.stages.append(calibration)
        report.stages.append(
            self._run_hit(usable, parameters, hit_config, stamp, executor, progress)
        )
        report.calibrations = self.calibration_summaries(usable)
        report.seconds = time.perf_counter() - start
        return report

    def _run_raw(
        self, cycles: list[Cycle], stamp: str, executor: Any, progress: Any
    ) -> StageReport:
        """DAQ files → raw tier (the ``daq`` config key)."""
        assert self.cfg.daq is not None  # run() calls it only then
        stage = StageReport("raw")
        todo = [c for c in cycles if c.daq and not up_to_date(c.raw, [c.daq, stamp])]
        stage.skipped = len(cycles) - len(todo)
        t = time.perf_counter()
        results = run_tasks(
            RunRaw(self.cfg.daq),
            [RawTask(str(c.daq), c.raw) for c in todo],
            executor=executor if len(todo) > 1 else None,
            progress=progress,
            description="daq → raw",
            weights=[max(os.path.getsize(str(c.daq)), 1) for c in todo],
            unit="B",
        )
        for cycle, (rows, error) in zip(todo, results, strict=True):
            stage.record(str(cycle.daq), rows, error)
        stage.seconds = time.perf_counter() - t
        return stage

    def _run_dsp(
        self, cycles: list[Cycle], stamp: str, executor: Any, progress: Any
    ) -> StageReport:
        stage = StageReport("dsp")
        todo = [c for c in cycles if not up_to_date(c.dsp, [c.raw, stamp])]
        stage.skipped = len(cycles) - len(todo)
        t = time.perf_counter()
        inner = executor if len(todo) == 1 and not is_serial(executor) else None
        outer = None if inner is not None else executor
        results = run_tasks(
            _RunDsp(self.cfg, inner),
            [_DspTask(c) for c in todo],
            executor=outer,
            progress=progress,
            description="raw → dsp",
            weights=[max(c.waveforms, 1) for c in todo],
            unit="wf",
        )
        for cycle, (rows, error) in zip(todo, results, strict=True):
            stage.record(cycle.raw, rows, error)
        stage.seconds = time.perf_counter() - t
        return stage

    def _calibrate(
        self, cycles: list[Cycle], stamp: str
    ) -> tuple[StageReport, dict[tuple, str | None]]:
        """Hit parameters per run: from the config's file, or fitted on the calibration runs."""
        stage = StageReport("calibration", unit="channels")
        t = time.perf_counter()
        if self.cfg.hit_parameters is not None:
            params = self.cfg.hit_parameters
            if isinstance(params, Mapping):
                params = self._write_json(
                    os.path.join(self.cfg.outdir, "par", "hit-parameters.json"), params
                )
            stage.skipped = 1
            stage.seconds = time.perf_counter() - t
            return stage, {c.key.run_key: params for c in cycles}
        runs: dict[tuple, list[Cycle]] = defaultdict(list)
        for c in cycles:
            if c.key.run_type == self.cfg.calibration.run_type:
                runs[c.key.run_key].append(c)
        made: dict[tuple, str] = {}
        for run_key, members in sorted(runs.items()):
            path = parameters_path(self.cfg.outdir, members[0].key)
            if up_to_date(path, [c.dsp for c in members] + [stamp]):
                stage.skipped += 1
            else:
                self._calibrate_run(members, path, stage)
            if os.path.exists(path):
                made[run_key] = path
        stage.seconds = time.perf_counter() - t
        return stage, {c.key.run_key: _parameters_for(c.key, made) for c in cycles}

    def _calibrate_run(self, members: list[Cycle], path: str, stage: StageReport) -> None:
        from ..hit.calibration import calibrate, save_plots

        cal_cfg = self.cfg.calibration
        energy, output = cal_cfg.energy, cal_cfg.output
        assert energy is not None and output is not None  # check() asks for them without parameters
        energies = _read_column_per_channel([c.dsp for c in members], energy)
        parameters: dict[str, Any] = {}
        summary: dict[str, Any] = {}
        for channel, values in sorted(energies.items()):
            kwargs: dict[str, Any] = {"deg": cal_cfg.deg}
            if cal_cfg.lines is not None:
                kwargs["lines"] = cal_cfg.lines
            try:
                cal = calibrate(values[np.isfinite(values)], **kwargs)
            except (TierflowError, ValueError, RuntimeError) as err:
                stage.record(
                    f"{members[0].key.run_key} {channel}", 0, f"{type(err).__name__}: {err}"
                )
                continue
            parameters[channel] = cal.hit_parameters(energy, output)
            fwhm, fwhm_err = cal.fwhm_at(2614.5)
            qbb, qbb_err = cal.fwhm_at(2039.0)
            summary[channel] = {
                "fwhm_2614": fwhm,
                "fwhm_2614_err": fwhm_err,
                "fwhm_qbb": qbb,
                "fwhm_qbb_err": qbb_err,
                "events": len(values),
                "calibration": cal.to_dict(),
            }
            if cal_cfg.plots:
                save_plots(cal, os.path.join(os.path.dirname(path), "plots", channel), values)
            stage.record(channel, 1, None)
        if parameters:
            self._write_json(path, parameters)
            self._write_json(path.replace("par_hit.json", "cal_summary.json"), summary)

    @staticmethod
    def _write_json(path: str, data: Any) -> str:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = (
            f"{os.path.join(os.path.dirname(path), '.' + os.path.basename(path))}.tmp-{os.getpid()}"
        )
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, default=float)
        os.replace(tmp, path)
        return path

    def calibration_summaries(self, cycles: list[Cycle]) -> dict[str, dict]:
        """FWHM per channel from the calibration summaries written for these cycles' runs."""
        out: dict[str, dict] = {}
        for run_key in sorted({c.key.run_key for c in cycles}):
            key = next(c.key for c in cycles if c.key.run_key == run_key)
            path = parameters_path(self.cfg.outdir, key).replace("par_hit.json", "cal_summary.json")
            if os.path.exists(path):
                with open(path) as f:
                    for channel, values in json.load(f).items():
                        out[f"{key.period}-{key.run} {channel}"] = values
        return out

    def _run_hit(
        self,
        cycles: list[Cycle],
        parameters: dict[tuple, str | None],
        hit_config: Any,
        stamp: str,
        executor: Any,
        progress: Any,
    ) -> StageReport:
        stage = StageReport("hit")
        t = time.perf_counter()
        todo = []
        for c in cycles:
            params = parameters.get(c.key.run_key)
            if params is None:
                stage.record(c.dsp, 0, f"no calibration for run {c.key.period}-{c.key.run}")
            elif up_to_date(c.hit, [c.dsp, params, stamp]):
                stage.skipped += 1
            else:
                todo.append((c, self._calibrated_or_marked(c, params, hit_config)))
        results = run_tasks(
            _RunHit(self.cfg, hit_config),
            todo,
            executor=executor if len(todo) > 1 else None,
            progress=progress,
            description="dsp → hit",
            weights=[max(c.waveforms, 1) for c, _ in todo],
            unit="wf",
        )
        for (cycle, _), (rows, error) in zip(todo, results, strict=True):
            stage.record(cycle.dsp, rows, error)
        stage.seconds = time.perf_counter() - t
        return stage

    def _calibrated_or_marked(self, cycle: Cycle, parameters: Any, hit_config: Any) -> Any:
        """``parameters`` for the hit tier of ``cycle``; channels without calibration are named
        in a warning and, with the default hit config, written as uncalibrated ADC (see
        :mod:`tierflow.pipeline.uncalibrated`)."""
        from ..hit import HitConfig

        output = self.cfg.calibration.output
        if output not in HitConfig.load(hit_config).operations:
            return parameters
        channels = uncalibrated_channels(cycle.dsp, parameters, output)
        if not channels:
            return parameters
        warnings.warn(UncalibratedChannelWarning(channels, cycle.dsp), stacklevel=4)
        if self.cfg.hit_config is not None:
            return parameters
        return mark_uncalibrated(parameters, channels, output)


def run_pipeline(
    config: PipelineConfig | Mapping | str | os.PathLike,
    executor: Any = None,
    progress: bool | None = None,
) -> PipelineReport:
    """Run raw → dsp → calibration → hit as ``config`` says (see :class:`PipelineConfig`)."""
    return Pipeline(config).run(executor=executor, progress=progress)


def _parameters_for(key: CycleKey, made: dict[tuple, str]) -> str | None:
    """The calibration of the cycle's own run, else the latest earlier run of its period."""
    if key.run_key in made:
        return made[key.run_key]
    earlier = [k for k in made if k[:2] == key.run_key[:2] and k[2] <= key.run]
    return made[max(earlier)] if earlier else None


def _count_waveforms(raw: str, tables: Any) -> int:
    """Rows of the waveform tables of a raw file (metadata only; 0 if unreadable)."""
    from fnmatch import fnmatch

    from ..lh5.read import read_n_rows

    patterns = [tables] if isinstance(tables, str) else list(tables or ["*/raw"])
    try:
        with open_file(raw) as h5f:
            names = [
                f"{top}/{sub}"
                for top in h5f
                if hasattr(h5f[top], "keys")
                for sub in h5f[top]
                if any(fnmatch(f"{top}/{sub}", p) for p in patterns)
            ]
            return int(sum(read_n_rows(n, h5f) or 0 for n in names))
    except (TierflowError, OSError):
        return 0


def _read_column_per_channel(files: list[str], column: str) -> dict[str, np.ndarray]:
    """``column`` of every ``chX/dsp`` table, concatenated over files, per channel."""
    from ..lh5 import read
    from ..types import Array

    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    for path in files:
        with open_file(path) as h5f:
            for top in h5f:
                name = f"{top}/dsp/{column}"
                if name in h5f:
                    values = read(name, h5f)
                    if not isinstance(values, Array):
                        raise PipelineConfigError(
                            f"expected a column of numbers, but {path}:/{name} is a "
                            f"{type(values).__name__}",
                            key="calibration.energy",
                        )
                    parts[top].append(values.nda.astype(np.float64))
    return {ch: np.concatenate(v) for ch, v in parts.items()}
