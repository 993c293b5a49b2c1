"""Channels without calibration parameters: found before the hit tier, named in a warning, and
not labelled keV.

A calibration run fits each channel's energy scale; a channel whose fit failed (too few
events, no peaks) or that is missing from the calibration runs has no entry for the
calibrated energy in the parameters. The pipeline's default hit config would write that
channel's energy with its identity default (``a = 0``, ``b = 1``) and ``units = keV``: the
numbers are ADC, and the keV label would hide it. So the pipeline, before its hit tier:

- warns with :class:`~tierflow.errors.UncalibratedChannelWarning`, naming the channels and
  the file;
- with its default hit config, still writes the channels (the hit file keeps every
  channel), their energy in ``units = ADC`` with a description saying it is not calibrated,
  and ``is_valid`` false for all their events (no energy range can be checked);
- with a hit config of your own, applies your config and its defaults as written (only the
  warning is added).

>>> mark_uncalibrated({"ch1": {"e_cal": {"parameters": {"a": 0.1, "b": 0.2}}}}, ["ch2"], "e_cal")["ch2"]["e_cal"]["units"]
'ADC'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..errors import TierflowError
from ..hit.build_hit import DEFAULT_TABLES
from ..hit.config import load_mapping, match_table, unwrap_parameters
from ..lh5 import ls

__all__ = ["mark_uncalibrated", "uncalibrated_channels"]

#: the description of an energy written without calibration
UNCALIBRATED = "not calibrated: no calibration parameters for this channel (ADC)"


def uncalibrated_channels(
    dsp_file: str | os.PathLike, parameters: Any, operation: str
) -> list[str]:
    """The channels of ``dsp_file`` (its ``ch*/dsp`` tables) for which ``parameters`` hold
    no values of ``operation``; ``[]`` when the file cannot be read (the hit tier reports
    that itself)."""
    pars = _loaded(parameters)
    try:
        tables = ls(dsp_file, DEFAULT_TABLES)
    except (TierflowError, OSError):
        return []
    missing = []
    for table in tables:
        entry = match_table(pars, table)
        if entry is None or operation not in _unwrapped(entry[1]):
            missing.append(table.split("/")[0])
    return missing


def mark_uncalibrated(parameters: Any, channels: list[str], output: str) -> dict[str, Any]:
    """``parameters`` (a dict or a file) with entries for ``channels`` that label their
    energy ``output`` as ADC, not calibrated, and set the default hit config's ``is_valid``
    false."""
    pars = dict(_loaded(parameters))
    for channel in channels:
        entry = match_table(pars, channel)
        own = dict(_unwrapped(entry[1])) if entry is not None else {}
        own[output] = {"units": "ADC", "description": UNCALIBRATED}
        own["is_valid"] = {
            "expression": f"({output} > 0) & ({output} < 0)",
            "description": "false: the channel is not calibrated",
        }
        pars[channel] = own
    return pars


def _loaded(parameters: Any) -> Mapping[str, Any]:
    if parameters is None:
        return {}
    raw, _ = load_mapping(parameters, "parameters")
    return raw


def _unwrapped(entry: Any) -> Mapping[str, Any]:
    try:
        return unwrap_parameters(entry)
    except TierflowError:
        return {}
