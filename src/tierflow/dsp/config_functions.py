"""The functions a dsp config may name outside tierflow's processor library.

A config is data, often shared: it must not choose code to run. Its ``"module"`` may be
numpy, and then ``"function"`` is one of the numpy functions of the expression language
(ufuncs such as ``subtract`` and functions such as ``amax``, ``percentile``, ``cumsum``:
:data:`tierflow.types.allowed_names.LIBRARY`), never ``numpy.save``, ``numpy.load`` or a
submodule. Any other module (``os``, ``subprocess``, ``builtins``, ``scipy.signal``, a module
of your own processors) is refused unless the person running the chain trusts it by listing
it in the environment variable ``TIERFLOW_DSP_MODULES`` (comma-separated module names); the
config cannot do that itself.

>>> config_function("numpy", "subtract").__name__
'subtract'
>>> config_function("numpy", "save")
Traceback (most recent call last):
...
tierflow.errors.DSPConfigError: function: numpy.save is not a function a dsp config may name...
>>> config_function("os", "system")
Traceback (most recent call last):
...
tierflow.errors.DSPConfigError: module: module 'os' is not allowed: ...
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

from ..errors import DSPConfigError
from ..types.allowed_names import LIBRARY

__all__ = ["TRUSTED_MODULES", "config_function", "trusted_modules"]

#: the environment variable listing the modules whose functions dsp configs may name
TRUSTED_MODULES = "TIERFLOW_DSP_MODULES"

#: LEGEND's packages, whose processors tierflow has under its own names
_LEGEND_PACKAGES = ("dspeed", "pygama", "lgdo")


def trusted_modules() -> list[str]:
    """The modules listed in ``TIERFLOW_DSP_MODULES`` (comma-separated).

    >>> import os
    >>> os.environ[TRUSTED_MODULES] = "my_processors, lab.filters"
    >>> trusted_modules()
    ['my_processors', 'lab.filters']
    >>> del os.environ[TRUSTED_MODULES]
    """
    return [m.strip() for m in os.environ.get(TRUSTED_MODULES, "").split(",") if m.strip()]


def config_function(module: str, name: str) -> Callable:
    """The function ``name`` of ``module`` if a dsp config may name it; else a
    :class:`DSPConfigError` whose key is ``module`` or ``function``."""
    if module in ("np", "numpy"):
        entry = LIBRARY["np"].get(name)
        if entry is None or entry.positional is None:
            raise DSPConfigError(
                f"numpy.{name} is not a function a dsp config may name; numpy's ufuncs and the "
                "functions listed in tierflow.types.allowed_names are",
                key="function",
            )
        return entry.value
    if module.split(".")[0] in _LEGEND_PACKAGES:
        raise DSPConfigError(f"module {module!r} is not available in tierflow", key="module")
    if module not in trusted_modules():
        raise DSPConfigError(
            f"module {module!r} is not allowed: a dsp config may name tierflow's processors and "
            f"numpy's functions; to use a module of your own, list it in the environment "
            f"variable {TRUSTED_MODULES}",
            key="module",
        )
    if not name.isidentifier() or name.startswith("_"):
        raise DSPConfigError(f"{name!r} is not a public function name", key="function")
    try:
        found = importlib.import_module(module)
    except ImportError as err:
        raise DSPConfigError(f"cannot import module {module!r}: {err}", key="module") from None
    func = getattr(found, name, None)
    if not callable(func):
        raise DSPConfigError(f"module {module!r} has no function {name!r}", key="function")
    return func
