"""The 2018 programmatic interface: steps added by name, each a small config entry.

``chain.add("fit_baseline", {"i_end": 800})``, ``add("bl_subtract")``, ``add("trap_filter")``,
``add("trap_max")``: every step reads the waveform the previous one made (``waveform`` at first)
and writes a new one, so they compose in the order they are added. Settings are checked: an
unknown name is an error.

>>> state = ChainState()
>>> entries, outputs = RECIPES["fit_baseline"](state, {"i_end": 800})
>>> entries["bl_mean, bl_std, bl_slope, bl_intercept"]["args"][0], outputs[0]
('waveform[0:800]', 'bl_mean')
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import DSPConfigError

__all__ = ["RECIPES", "ChainState", "suggest"]


@dataclass
class ChainState:
    """What the steps added so far made: the current waveform and every name produced."""

    waveform: str = "waveform"
    baseline: str | None = None
    produced: set[str] = field(default_factory=set)


Recipe = Callable[[ChainState, Mapping[str, Any]], tuple[dict[str, Any], list[str]]]


def _settings(step: str, given: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        raise DSPConfigError(f"settings must be a dict, not {type(given).__name__}", processor=step)
    unknown = [k for k in given if k not in defaults]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(defaults), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DSPConfigError(
            f"unknown argument {unknown[0]!r}{hint}; {step} takes {', '.join(defaults) or 'none'}",
            processor=step,
            key=unknown[0],
        )
    return {**defaults, **given}


def _time(value: Any) -> Any:
    """Numbers are samples; strings are times such as ``"4*us"``."""
    return value


def fit_baseline(state: ChainState, given: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """Straight-line fit to the samples ``i_start:i_end``: ``bl_mean, bl_std, bl_slope,
    bl_intercept``."""
    s = _settings("fit_baseline", given, {"i_start": 0, "i_end": 500})
    key = "bl_mean, bl_std, bl_slope, bl_intercept"
    entry = {
        "function": "linear_slope_fit",
        "args": [
            f"{state.waveform}[{s['i_start']}:{s['i_end']}]",
            "bl_mean",
            "bl_std",
            "bl_slope",
            "bl_intercept",
        ],
        "unit": ["ADC", "ADC", "ADC", "ADC"],
    }
    state.baseline = "bl_mean"
    return {key: entry}, ["bl_mean", "bl_std", "bl_slope", "bl_intercept"]


def bl_subtract(state: ChainState, given: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """Subtract the fitted baseline (or the DAQ's ``baseline`` column): ``wf_blsub``."""
    s = _settings("bl_subtract", given, {"baseline": state.baseline or "baseline"})
    entry = {
        "function": "bl_subtract",
        "args": [state.waveform, s["baseline"], "wf_blsub"],
        "unit": "ADC",
    }
    state.waveform = "wf_blsub"
    return {"wf_blsub": entry}, []


def pole_zero(state: ChainState, given: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """Pole-zero correction with decay time ``tau``: ``wf_pz``."""
    s = _settings("pole_zero", given, {"tau": "db.pz.tau", "default_tau": "400*us"})
    entry = {
        "function": "pole_zero",
        "args": [state.waveform, _time(s["tau"]), "wf_pz"],
        "unit": "ADC",
        "defaults": {"db.pz.tau": s["default_tau"]},
    }
    state.waveform = "wf_pz"
    return {"wf_pz": entry}, []


def trap_filter(state: ChainState, given: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """Trapezoid normalised to the step height (``rise``, ``flat``; numbers are samples):
    ``wf_trap``."""
    s = _settings("trap_filter", given, {"rise": "4*us", "flat": "2*us"})
    entry = {
        "function": "trap_norm",
        "args": [state.waveform, _time(s["rise"]), _time(s["flat"]), "wf_trap"],
        "unit": "ADC",
    }
    state.waveform = "wf_trap"
    return {"wf_trap": entry}, []


def trap_max(state: ChainState, given: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """Maximum of the current waveform (the trapezoid): ``trap_max``. ``test`` (plotting in
    2018) is accepted and ignored."""
    _settings("trap_max", given, {"test": False})
    entry = {
        "function": "amax",
        "module": "numpy",
        "args": [state.waveform, 1, "trap_max"],
        "signature": "(n),()->()",
        "types": ["fi->f", "di->d"],
        "unit": "ADC",
    }
    return {"trap_max": entry}, ["trap_max"]


#: the steps :meth:`~tierflow.dsp.chain.ProcessingChain.add` knows by name
RECIPES: dict[str, Recipe] = {
    "fit_baseline": fit_baseline,
    "bl_subtract": bl_subtract,
    "pole_zero": pole_zero,
    "trap_filter": trap_filter,
    "trap_max": trap_max,
}


def suggest(name: str) -> str:
    """`` (did you mean ...?)`` for a misspelt step name, else ``""``.

    >>> suggest("fit_basline")
    " (did you mean 'fit_baseline'?)"
    """
    close = difflib.get_close_matches(name, list(RECIPES), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
