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
    "bl_subtract": "bl_subtract",
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
    """
    try:
        module = PROCESSOR_MODULES[name]
    except KeyError:
        raise UnknownProcessorError(
            f"unknown processor {name!r}; known processors: {', '.join(names())}"
        ) from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __getattr__(name: str) -> Callable:
    if name in PROCESSOR_MODULES:
        return get(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
