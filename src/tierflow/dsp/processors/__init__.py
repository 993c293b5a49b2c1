"""The processor library: numba gufunc kernels, one file per kernel family, found by name.

Every processor keeps the name and argument order that LEGEND's chains use, so the field's
configs run unchanged: inputs first, outputs last, outputs filled in place. Most processors are
numba gufuncs with loops for float32 and float64, each compiled on first use (``proc.signature`` says how
arguments broadcast, for example ``"(n),()->(n)"``; ``proc.types`` lists the loops, e.g.
``'fii->f'``; a mode character such as ``'l'`` is passed as its code, ``ord('l')``, type ``b``).
The others are :class:`~tierflow.dsp.processors._common.Processor` objects with the same
attributes: outputs whose length is their own (``windower``: ``(n),()->(m)``, the caller
allocates the output; ``.ufunc`` is the compiled kernel taking all arguments positionally),
block-wise FFT convolutions (``fft_convolve_wf``), elementwise ufuncs (``round_to_nearest``) and
kernel generators that also take LEGEND's older ``init_args`` form (``cusp_filter``).
``histogram_stats`` keeps dspeed's order with outputs before its last input, so its signature
has no ``->``. A factory, called with set-up constants, returns such a processor
(``is_factory = True`` where that is the only way to call it).

NaN in gives NaN out: a NaN anywhere in a row's waveform (or in one of its parameters) makes all
of that row's outputs NaN, and a value a processor cannot use (a start index outside the
waveform, a trapezoid longer than it) gives NaN for that row instead of an error. Shapes that
cannot work for any row (an output of the wrong length, an unknown mode) raise ``ValueError``.

Families (module: processors): ``baseline`` (bl_subtract, linear_slope_fit,
linear_slope_diff), ``pole_zeros`` (pole_zero, double_pole_zero), ``trap_filters`` (trap_filter,
trap_norm, asym_trap_filter, trap_pickoff), ``pickoff`` (fixed_time_pickoff), ``extrema``
(min_max, min_max_norm), ``time_points`` (time_point_thresh, interpolated_time_point_thresh),
``moving_windows`` (moving_window_left/right/multi, avg_current), ``resampling`` (windower,
presum, upsampler), ``convolutions`` (convolve_wf, fft_convolve_wf, reflected_convolve_wf),
``energy_kernels`` (cusp_filter, zac_filter), ``kernels`` (t0_filter), ``saturation_flags``
(saturation), ``histograms`` (histogram, histogram_around_mode, histogram_stats,
histogram_peakstats), ``pileup`` (soft_pileup_corr, soft_pileup_corr_bl), ``peak_selection``
(peak_snr_threshold), ``conditional`` (where), ``rounding`` (round/floor/ceil/trunc_to_nearest).
To add a processor, write it in a family's file (or a new file) and add its name here.

Modules are imported only when one of their processors is asked for, and a gufunc compiles a loop
only when a chain or a call uses it (:mod:`~tierflow.dsp.processors._gufunc`), so a chain compiles
only what it runs.

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
    "bl_subtract": "baseline",
    "ceil_to_nearest": "rounding",
    "convolve_wf": "convolutions",
    "cusp_filter": "energy_kernels",
    "double_pole_zero": "pole_zeros",
    "fft_convolve_wf": "convolutions",
    "fixed_time_pickoff": "pickoff",
    "floor_to_nearest": "rounding",
    "histogram": "histograms",
    "histogram_around_mode": "histograms",
    "histogram_peakstats": "histograms",
    "histogram_stats": "histograms",
    "interpolated_time_point_thresh": "time_points",
    "linear_slope_diff": "baseline",
    "linear_slope_fit": "baseline",
    "min_max": "extrema",
    "min_max_norm": "extrema",
    "moving_window_left": "moving_windows",
    "moving_window_multi": "moving_windows",
    "moving_window_right": "moving_windows",
    "peak_snr_threshold": "peak_selection",
    "pole_zero": "pole_zeros",
    "presum": "resampling",
    "reflected_convolve_wf": "convolutions",
    "round_to_nearest": "rounding",
    "saturation": "saturation_flags",
    "soft_pileup_corr": "pileup",
    "soft_pileup_corr_bl": "pileup",
    "t0_filter": "kernels",
    "time_point_thresh": "time_points",
    "trap_filter": "trap_filters",
    "trap_norm": "trap_filters",
    "trap_pickoff": "trap_filters",
    "trunc_to_nearest": "rounding",
    "upsampler": "resampling",
    "where": "conditional",
    "windower": "resampling",
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
