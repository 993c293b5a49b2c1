"""The pipeline's configuration: which raw files, where outputs go, and the tier configs.

A config is a dict, or a JSON or YAML file::

    raw: data/tier/raw/{type}/{period}/{run}/*.lh5   # a glob or a path template
    outdir: out                                     # tier/ and par/ are made below it
    daq: data/tier/daq/{type}/{period}/{run}/*.orca  # instead of raw: DAQ files, see below
    tables: "ch*/raw"                               # which raw tables are waveforms
    dsp: {config: hpge-simple, database: null}      # a built-in name, a path or a dict
    hit: {config: null, parameters: null}           # parameters: skip calibration, use these
    calibration: {energy: trapTmax, output: trapTmax_cal, run_type: cal, deg: 1, plots: false}
    processes: 2
    buffer_len: 3200

Only ``raw`` (or ``daq``) and ``outdir`` are needed. With ``daq`` the pipeline starts where
real data starts: the raw tier is built from the DAQ files (named
``{exp}-{period}-{run}-{type}-{timestamp}.{ext}``) into ``outdir/tier/raw/...`` with
:func:`tierflow.daq.build_raw`, under the same rules as the other tiers. ``daq`` is a glob or
path template, or a section ``{files, stream_type, out_spec, buffer_size}``: ``out_spec`` is a
build_raw routing config (its tables all go to the cycle's raw file); without it, the
waveforms of each channel go to ``ch{key:07d}/raw`` and everything else to one table per
decoder. Without ``calibration.energy`` the energy calibrated
is the first of :data:`DEFAULT_ENERGIES` that the dsp config outputs (``trapTmax`` for the
default ``hpge-simple``), and ``calibration.output`` is that name with ``_cal``.

Unknown keys and values of the wrong type are rejected before any work starts, with an
error naming the file, the key and what was expected.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..configfile import check_plain, parse_config_text, read_config_file
from ..errors import TierflowError

_TOP = {"raw", "daq", "outdir", "tables", "dsp", "hit", "calibration", "processes", "buffer_len"}
_DAQ = {"files", "stream_type", "out_spec", "buffer_size"}
_DSP = {"config", "database"}
_HIT = {"config", "parameters"}
_CALIBRATION = {"energy", "output", "run_type", "deg", "lines", "plots"}
#: the energies calibrated when the config names none, the first one the dsp config outputs
DEFAULT_ENERGIES = ("trapEmax", "cuspEmax", "zacEmax", "trapTmax")
#: the most worker processes a config may ask for
MAX_PROCESSES = 1024
#: the largest ``buffer_len`` (rows read at a time)
MAX_BUFFER_LEN = 10**8


class PipelineConfigError(TierflowError, ValueError):
    """A pipeline config with an unknown key, a missing or wrong value or a column that does
    not exist; names the file and the key when known.

    >>> str(PipelineConfigError("expected a whole number", key="buffer_len", file="run.yaml"))
    'run.yaml: buffer_len: expected a whole number'
    """

    def __init__(self, message: str, key: str | None = None, file: str | None = None):
        self.reason, self.key, self.file = message, key, file
        text = f"{key}: {message}" if key else message
        super().__init__(f"{file}: {text}" if file else text)

    def __reduce__(self):
        return (type(self), (self.reason, self.key, self.file))


@dataclass
class CalibrationSettings:
    """How hit parameters are made from calibration runs (``energy`` ``None``: the first of
    :data:`DEFAULT_ENERGIES` that the dsp config outputs)."""

    energy: str | None = None
    output: str | None = None
    run_type: str = "cal"
    deg: int = 1
    lines: list[float] | None = None
    plots: bool = False

    def __post_init__(self) -> None:
        if self.output is None and self.energy is not None:
            self.output = f"{self.energy}_cal"


@dataclass
class DaqSettings:
    """Where the DAQ files are and how their raw tier is built (see the module docstring)."""

    files: str
    stream_type: str | None = None
    out_spec: Any = None
    buffer_size: int = 8192


@dataclass
class PipelineConfig:
    """A checked pipeline configuration (see the module docstring for the keys).

    >>> cfg = PipelineConfig.from_dict({"raw": "raw/*.lh5", "outdir": "out"})
    >>> os.path.basename(cfg.dsp_config), cfg.calibration.energy, cfg.calibration.output
    ('hpge-simple.json', 'trapTmax', 'trapTmax_cal')
    >>> PipelineConfig.from_dict({"raw": "x", "outdir": "o", "procesess": 2})
    Traceback (most recent call last):
    ...
    tierflow.pipeline.config.PipelineConfigError: unknown key 'procesess' in the pipeline config; keys are: buffer_len, calibration, daq, dsp, hit, outdir, processes, raw, tables
    >>> PipelineConfig.from_dict({"raw": "x", "outdir": "o", "calibration": {"deg": "1"}})
    Traceback (most recent call last):
    ...
    tierflow.pipeline.config.PipelineConfigError: calibration.deg: expected 1 or 2, not '1'
    """

    raw: str
    outdir: str
    tables: str | list[str] | None = "ch*/raw"
    dsp_config: Any = "hpge-simple"
    dsp_database: Any = None
    hit_config: Any = None
    hit_parameters: Any = None
    calibration: CalibrationSettings = field(default_factory=CalibrationSettings)
    processes: Any = None
    buffer_len: int = 3200
    source: str | None = None
    daq: DaqSettings | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str | None = None) -> PipelineConfig:
        """Check a config dict; errors name ``source`` (the file it came from)."""
        try:
            return cls._from_dict(raw, source)
        except PipelineConfigError as err:
            if source is None or err.file is not None:
                raise
            raise PipelineConfigError(err.reason, err.key, source) from None

    @classmethod
    def _from_dict(cls, raw: Mapping[str, Any], source: str | None) -> PipelineConfig:
        _check_keys(raw, _TOP, "the pipeline config")
        check_plain(raw, "pipeline config", PipelineConfigError)
        if raw.get("raw") and raw.get("daq"):
            raise PipelineConfigError(
                "give the pipeline 'raw' files or 'daq' files to build them from, not both"
            )
        for key in ("raw" if not raw.get("daq") else "daq", "outdir"):
            if not raw.get(key):
                raise PipelineConfigError(f"the pipeline config needs {key!r}")
            if key != "daq":
                _path_text(raw[key], key)
        dsp = _section(raw, "dsp", _DSP)
        hit = _section(raw, "hit", _HIT)
        cal = _calibration(_section(raw, "calibration", _CALIBRATION))
        base = os.path.dirname(os.path.abspath(source)) if source else ""
        dsp_config = _dsp_config(
            _config_value(dsp.get("config", "hpge-simple"), "dsp.config"), base
        )
        if cal.get("energy") is None:
            cal["energy"] = default_energy(dsp_config)
        daq = _daq(raw.get("daq"), base)
        return cls(
            raw=_raw_of_daq(raw["outdir"], base) if daq else _relative(raw["raw"], base),
            daq=daq,
            outdir=_relative(raw["outdir"], base),
            tables=_tables(raw.get("tables", "ch*/raw")),
            dsp_config=dsp_config,
            dsp_database=_maybe_path(_config_value(dsp.get("database"), "dsp.database"), base),
            hit_config=_maybe_path(_config_value(hit.get("config"), "hit.config"), base),
            hit_parameters=_maybe_path(
                _config_value(hit.get("parameters"), "hit.parameters"), base
            ),
            calibration=CalibrationSettings(**cal),
            processes=_whole_number(
                raw.get("processes"), "processes", -1, MAX_PROCESSES, none_ok=True
            ),
            buffer_len=_whole_number(raw.get("buffer_len", 3200), "buffer_len", 1, MAX_BUFFER_LEN),
            source=source,
        )

    @classmethod
    def load(cls, source: str | os.PathLike | Mapping[str, Any]) -> PipelineConfig:
        """From a dict or a JSON/YAML file."""
        if isinstance(source, Mapping):
            return cls.from_dict(source)
        if not isinstance(source, str | os.PathLike):
            raise PipelineConfigError(
                f"a pipeline config is a mapping or a JSON/YAML file, not {type(source).__name__}"
            )
        path = os.fspath(source)
        text = read_config_file(path, "pipeline config", PipelineConfigError)
        data = parse_config_text(text, "pipeline config", PipelineConfigError, path)
        return cls.from_dict(data, source=path)

    def fingerprint(self) -> str:
        """A hash of everything that changes outputs (configs by content, files by path and time)."""
        parts = [
            vars(self.daq) if self.daq else None,
            _content(self.daq.out_spec) if self.daq else None,
            self.tables,
            _content(self.dsp_config),
            _content(self.dsp_database),
            _content(self.hit_config),
            _content(self.hit_parameters),
            vars(self.calibration),
        ]
        try:
            text = json.dumps(parts, sort_keys=True, default=repr)
        except TypeError:  # keys of several types cannot be sorted
            text = json.dumps(parts, default=repr)
        return hashlib.sha1(text.encode()).hexdigest()


def default_energy(dsp_config: Any) -> str | None:
    """The first of :data:`DEFAULT_ENERGIES` that ``dsp_config`` outputs, or ``None``.

    >>> from tierflow.dsp.configs import config_path
    >>> default_energy(config_path("hpge-full")), default_energy(config_path("hpge-simple"))
    ('trapEmax', 'trapTmax')
    """
    from ..dsp import load_config

    outputs = load_config(dsp_config).outputs
    return next((name for name in DEFAULT_ENERGIES if name in outputs), None)


def _check_keys(raw: Mapping, allowed: set[str], where: str, key: str | None = None) -> None:
    if not isinstance(raw, Mapping):
        raise PipelineConfigError(
            f"{where} must be a mapping of keys, not {type(raw).__name__}", key=key
        )
    for name in raw:
        if name not in allowed:
            raise PipelineConfigError(
                f"unknown key {name!r} in {where}; keys are: {', '.join(sorted(allowed))}"
            )


def _section(raw: Mapping, name: str, allowed: set[str]) -> dict:
    section = raw.get(name)
    if section is None:
        return {}
    _check_keys(section, allowed, f"the pipeline config's {name!r} section", key=name)
    return dict(section)


def _daq(value: Any, base: str) -> DaqSettings | None:
    """The ``daq`` key: a glob or template of DAQ files, or a section of settings."""
    if value is None:
        return None
    section = {"files": value} if isinstance(value, str | os.PathLike) else value
    _check_keys(section, _DAQ, "the pipeline config's 'daq' section", key="daq")
    files = section.get("files")
    if not files:
        raise PipelineConfigError("expected a glob or path template of DAQ files", key="daq.files")
    stream_type = section.get("stream_type")
    if stream_type is not None and not (isinstance(stream_type, str) and stream_type):
        raise PipelineConfigError(
            f"expected a stream type such as 'ORCA', not {stream_type!r}", key="daq.stream_type"
        )
    out_spec = _config_value(section.get("out_spec"), "daq.out_spec")
    return DaqSettings(
        files=_relative(_path_text(files, "daq.files"), base),
        stream_type=stream_type,
        out_spec=_maybe_path(out_spec, base),
        buffer_size=_whole_number(
            section.get("buffer_size", 8192), "daq.buffer_size", 1, MAX_BUFFER_LEN
        ),
    )


def _raw_of_daq(outdir: Any, base: str) -> str:
    """Where the raw files built from DAQ files are (under ``outdir``)."""
    root = _relative(_path_text(outdir, "outdir"), base)
    return os.path.join(root, "tier", "raw", "{type}", "{period}", "{run}", "*-tier_raw.lh5")


def _calibration(cal: dict) -> dict:
    """The calibration section, each value checked."""
    for key in ("energy", "output"):
        value = cal.get(key)
        if value is not None and not (isinstance(value, str) and value.isidentifier()):
            raise PipelineConfigError(
                f"expected a column name, not {value!r}", key=f"calibration.{key}"
            )
    run_type = cal.get("run_type", "cal")
    if not isinstance(run_type, str) or not run_type:
        raise PipelineConfigError(
            f"expected a run type such as 'cal', not {run_type!r}", key="calibration.run_type"
        )
    deg = cal.get("deg", 1)
    if isinstance(deg, bool) or deg not in (1, 2) or not isinstance(deg, int):
        raise PipelineConfigError(f"expected 1 or 2, not {deg!r}", key="calibration.deg")
    lines = cal.get("lines")
    if lines is not None:
        if not isinstance(lines, list) or not lines:
            raise PipelineConfigError(
                f"expected a list of line energies in keV, not {type(lines).__name__}",
                key="calibration.lines",
            )
        for i, line in enumerate(lines):
            if (
                isinstance(line, bool)
                or not isinstance(line, int | float)
                or not (math.isfinite(line) and line > 0)
            ):
                raise PipelineConfigError(
                    f"expected a positive energy in keV, not {line!r}",
                    key=f"calibration.lines[{i}]",
                )
    plots = cal.get("plots", False)
    if not isinstance(plots, bool):
        raise PipelineConfigError(f"expected true or false, not {plots!r}", key="calibration.plots")
    return cal


def _path_text(value: Any, key: str) -> str:
    if not isinstance(value, str | os.PathLike):
        raise PipelineConfigError(f"expected a path, not {type(value).__name__}", key=key)
    text = os.fspath(value)
    if "\x00" in str(text):
        raise PipelineConfigError("a path cannot hold a NUL character", key=key)
    return str(text)


def _config_value(value: Any, key: str) -> Any:
    """A config given as a file (or a shipped name), a mapping or nothing."""
    if value is None or isinstance(value, Mapping):
        return value
    if isinstance(value, str | os.PathLike) and os.fspath(value):
        return _path_text(value, key)
    raise PipelineConfigError(
        f"expected a file name or a mapping, not {type(value).__name__} {value!r}"[:200], key=key
    )


def _tables(value: Any) -> str | list[str] | None:
    if value is None or (isinstance(value, str) and value):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return value
    raise PipelineConfigError(
        f"expected a table pattern such as 'ch*/raw' or a list of them, not {value!r}"[:200],
        key="tables",
    )


def _whole_number(value: Any, key: str, low: int, high: int, none_ok: bool = False) -> Any:
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PipelineConfigError(
            f"expected a whole number from {low} to {high}, not {value!r}"[:200], key=key
        )
    return value


def _relative(path: str, base: str) -> str:
    path = os.path.expanduser(os.path.expandvars(str(path)))
    return os.path.join(base, path) if base and not os.path.isabs(path) else path


def _maybe_path(value: Any, base: str) -> Any:
    """Config values that name files are taken relative to the config file."""
    if isinstance(value, str) and (value.endswith((".json", ".yaml", ".yml"))):
        return _relative(value, base)
    return value


def _dsp_config(value: Any, base: str) -> Any:
    """A shipped config's name (``hpge-simple``) becomes its path; files are taken as paths."""
    from ..dsp.configs import config_path, names

    if isinstance(value, str) and value in names():
        return str(config_path(value))
    return _maybe_path(value, base)


def _content(value: Any) -> Any:
    if isinstance(value, str) and os.path.isfile(value):
        with open(value, "rb") as f:
            return hashlib.sha1(f.read()).hexdigest()
    return value
