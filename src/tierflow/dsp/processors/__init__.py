"""The processor library: numba gufunc kernels, one file per kernel family, found by name.

Every processor keeps the name and argument order that LEGEND's chains use, so the field's
configs run unchanged: inputs first, outputs last, outputs filled in place. Most processors are
``numba.guvectorize`` gufuncs compiled for float32 and float64 (``proc.signature`` says how
arguments broadcast, for example ``"(n),()->(n)"``); *factories* take set-up constants and return
such a gufunc (marked ``is_factory = True``).

Modules are imported only when one of their processors is asked for, so a chain compiles only what
it uses.

>>> import numpy as np
>>> from tierflow.dsp import processors
>>> bl_subtract = processors.get("bl_subtract")
>>> bl_subtract.signature
'(n),()->(n)'
>>> bl_subtract(np.array([3.0, 4.0, 5.0]), 3.0)
array([0., 1., 2.])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from tierflow.errors import TierflowError

#: processor name -> module (file) in this package that defines it
PROCESSOR_MODULES: dict[str, str] = {
    "avg_current": "moving_windows",
    "asym_trap_filter": "trap_filters",
    "bl_subtract": "bl_subtract",
    "ceil_to_nearest": "round_to_nearest",
    "convolve_wf": "convolutions",
    "cusp_filter": "energy_kernels",
    "double_pole_zero": "pole_zero",
    "fft_convolve_wf": "convolutions",
    "fixed_time_pickoff": "fixed_time_pickoff",
    "floor_to_nearest": "round_to_nearest",
    "histogram": "histogram",
    "histogram_around_mode": "histogram",
    "histogram_peakstats": "histogram_stats",
    "histogram_stats": "histogram_stats",
    "interpolated_time_point_thresh": "time_point_thresh",
    "linear_slope_diff": "linear_slope_fit",
    "linear_slope_fit": "linear_slope_fit",
    "min_max": "min_max",
    "min_max_norm": "min_max",
    "moving_window_left": "moving_windows",
    "moving_window_multi": "moving_windows",
    "moving_window_right": "moving_windows",
    "peak_snr_threshold": "peak_snr_threshold",
    "pole_zero": "pole_zero",
    "presum": "presum",
    "reflected_convolve_wf": "convolutions",
    "round_to_nearest": "round_to_nearest",
    "saturation": "saturation",
    "soft_pileup_corr": "soft_pileup_corr",
    "soft_pileup_corr_bl": "soft_pileup_corr",
    "t0_filter": "kernels",
    "time_point_thresh": "time_point_thresh",
    "trap_filter": "trap_filters",
    "trap_norm": "trap_filters",
    "trap_pickoff": "trap_filters",
    "trunc_to_nearest": "round_to_nearest",
    "upsampler": "upsampler",
    "where": "where",
    "windower": "windower",
    "zac_filter": "energy_kernels",
}


class UnknownProcessorError(TierflowError, KeyError):
    """A processor name that no module of the library defines."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def names() -> list[str]:
    """All processor names, sorted.

    >>> "bl_subtract" in names()
    True
    """
    return sorted(PROCESSOR_MODULES)


def get(name: str) -> Callable:
    """The processor called ``name``, importing (and compiling) only its module.

    >>> get("bl_subtract").__name__
    'bl_subtract'
    >>> from tierflow.dsp import processors
    >>> processors.pole_zero is get("pole_zero")  # the processor, not its module
    True
    """
    try:
        module = PROCESSOR_MODULES[name]
    except KeyError:
        raise UnknownProcessorError(
            f"unknown processor {name!r}; known processors: {', '.join(names())}"
        ) from None
    found = importlib.import_module(f"{__name__}.{module}")
    # Bind every processor of that module as an attribute of this package, so that
    # ``processors.pole_zero`` is the processor, not the submodule of the same name that the
    # import just bound here.
    here = globals()
    for other, where in PROCESSOR_MODULES.items():
        if where == module:
            here[other] = getattr(found, other)
    return here[name]


def __getattr__(name: str) -> Callable:
    if name in PROCESSOR_MODULES:
        return get(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
