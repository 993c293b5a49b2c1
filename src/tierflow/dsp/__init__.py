"""Waveform digital signal processing: processors, processing chains and ``build_dsp``.

A chain is a config in the field's format (``outputs`` and ``processors``; see
:mod:`tierflow.dsp.config`) or one built in code with :class:`ProcessingChain`; it is compiled
once per input shape and reused for every channel (:func:`compile_chain`), and
:func:`build_dsp` runs it over raw-tier files.

>>> import numpy as np
>>> from tierflow.dsp import process
>>> from tierflow.types import Table
>>> process(Table({"x": np.arange(3.0)}), {"outputs": ["y"], "processors": {"y": "x * 2"}}
...         )["y"].nda.tolist()
[0.0, 2.0, 4.0]
"""

from .build_dsp import DSPSummary, build_dsp
from .chain import (
    ChainResult,
    CompiledChain,
    ProcessingChain,
    cache_info,
    compile_chain,
    process,
    required_columns,
)
from .config import ChainConfig, ProcessorSpec, load_config
from .configs import config_path

__all__ = [
    "ChainConfig",
    "ChainResult",
    "CompiledChain",
    "DSPSummary",
    "ProcessingChain",
    "ProcessorSpec",
    "build_dsp",
    "cache_info",
    "compile_chain",
    "config_path",
    "load_config",
    "process",
    "required_columns",
]
