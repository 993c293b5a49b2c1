"""The pipeline's configuration: which raw files, where outputs go, and the tier configs.

A config is a dict, or a JSON or YAML file::

    raw: data/tier/raw/{type}/{period}/{run}/*.lh5   # a glob or a path template
    outdir: out                                     # tier/ and par/ are made below it
    tables: "ch*/raw"                               # which raw tables are waveforms
    dsp: {config: hpge-simple, database: null}      # a built-in name, a path or a dict
    hit: {config: null, parameters: null}           # parameters: skip calibration, use these
    calibration: {energy: trapEmax, output: trapEmax_cal, run_type: cal, deg: 1, plots: false}
    processes: 2
    buffer_len: 3200

Unknown keys are rejected before any work starts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import TierflowError

_TOP = {"raw", "outdir", "tables", "dsp", "hit", "calibration", "processes", "buffer_len"}
_DSP = {"config", "database"}
_HIT = {"config", "parameters"}
_CALIBRATION = {"energy", "output", "run_type", "deg", "lines", "plots"}


class PipelineConfigError(TierflowError, ValueError):
    """A pipeline config with an unknown key, a missing value or a column that does not exist."""


@dataclass
class CalibrationSettings:
    """How hit parameters are made from calibration runs."""

    energy: str = "trapEmax"
    output: str = "trapEmax_cal"
    run_type: str = "cal"
    deg: int = 1
    lines: list[float] | None = None
    plots: bool = False


@dataclass
class PipelineConfig:
    """A checked pipeline configuration (see the module docstring for the keys).

    >>> cfg = PipelineConfig.from_dict({"raw": "raw/*.lh5", "outdir": "out"})
    >>> os.path.basename(cfg.dsp_config), cfg.calibration.energy
    ('hpge-simple.json', 'trapEmax')
    >>> PipelineConfig.from_dict({"raw": "x", "outdir": "o", "procesess": 2})
    Traceback (most recent call last):
    ...
    tierflow.pipeline.config.PipelineConfigError: unknown key 'procesess' in the pipeline config; keys are: buffer_len, calibration, dsp, hit, outdir, processes, raw, tables
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

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str | None = None) -> PipelineConfig:
        _check_keys(raw, _TOP, "the pipeline config")
        for key in ("raw", "outdir"):
            if not raw.get(key):
                raise PipelineConfigError(f"the pipeline config needs {key!r}")
        dsp = _section(raw, "dsp", _DSP)
        hit = _section(raw, "hit", _HIT)
        cal = _section(raw, "calibration", _CALIBRATION)
        base = os.path.dirname(os.path.abspath(source)) if source else ""
        return cls(
            raw=_relative(raw["raw"], base),
            outdir=_relative(raw["outdir"], base),
            tables=raw.get("tables", "ch*/raw"),
            dsp_config=_dsp_config(dsp.get("config", "hpge-simple"), base),
            dsp_database=_maybe_path(dsp.get("database"), base),
            hit_config=_maybe_path(hit.get("config"), base),
            hit_parameters=_maybe_path(hit.get("parameters"), base),
            calibration=CalibrationSettings(**cal),
            processes=raw.get("processes"),
            buffer_len=int(raw.get("buffer_len", 3200)),
            source=source,
        )

    @classmethod
    def load(cls, source: str | os.PathLike | Mapping[str, Any]) -> PipelineConfig:
        """From a dict or a JSON/YAML file."""
        if isinstance(source, Mapping):
            return cls.from_dict(source)
        path = os.fspath(source)
        try:
            with open(path) as f:
                text = f.read()
        except OSError as err:
            raise PipelineConfigError(f"cannot read pipeline config {path}: {err}") from None
        try:
            data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as err:
            raise PipelineConfigError(f"pipeline config {path} is not valid: {err}") from None
        if not isinstance(data, Mapping):
            raise PipelineConfigError(f"pipeline config {path} must be a mapping of keys")
        return cls.from_dict(data, source=path)

    def fingerprint(self) -> str:
        """A hash of everything that changes outputs (configs by content, files by path and time)."""
        parts = [
            self.tables,
            _content(self.dsp_config),
            _content(self.dsp_database),
            _content(self.hit_config),
            _content(self.hit_parameters),
            vars(self.calibration),
        ]
        return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _check_keys(raw: Mapping, allowed: set[str], where: str) -> None:
    if not isinstance(raw, Mapping):
        raise PipelineConfigError(f"{where} must be a mapping, not {type(raw).__name__}")
    for key in raw:
        if key not in allowed:
            raise PipelineConfigError(
                f"unknown key {key!r} in {where}; keys are: {', '.join(sorted(allowed))}"
            )


def _section(raw: Mapping, name: str, allowed: set[str]) -> dict:
    section = raw.get(name) or {}
    _check_keys(section, allowed, f"the pipeline config's {name!r} section")
    return dict(section)


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
