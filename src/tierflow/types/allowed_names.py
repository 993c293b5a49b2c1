"""The names the expression language allows (see :mod:`tierflow.types.safe_eval`).

Expressions reach numpy and awkward only through these lists: an ``np.<name>`` or
``ak.<name>`` that is not in :data:`LIBRARY` (a submodule, a file function, a private name)
does not exist for them. Functions carry how many positional arguments a call may give them,
so that a positional ``out`` (``np.add(a, 1, a)``) cannot be passed.

>>> LIBRARY["np"]["sqrt"].positional, LIBRARY["np"]["pi"].positional
(1, None)
>>> "save" in LIBRARY["np"] or "f2py" in LIBRARY["np"] or "to_parquet" in LIBRARY["ak"]
False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

__all__ = [
    "ARRAY_ATTRIBUTES",
    "ARRAY_METHODS",
    "AWKWARD_FUNCTIONS",
    "KEYWORDS",
    "LIBRARY",
    "MODULE_NAMES",
    "NUMEXPR_FUNCTIONS",
    "NUMPY_CONSTANTS",
    "NUMPY_FUNCTIONS",
    "NUMPY_UFUNCS",
    "Entry",
]


def _words(text: str) -> list[str]:
    """The names in a space-separated list (how the allow-lists below are written)."""
    return text.split()


#: the names the modules are reached by
MODULE_NAMES = ("np", "ak")

#: functions numexpr evaluates natively: called by their bare names on flat numeric columns
NUMEXPR_FUNCTIONS = frozenset(
    _words(
        "where sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh log "
        "log10 log1p exp expm1 sqrt abs conj real imag complex contains sum prod min max floor ceil "
        "round isnan isfinite isinf"
    )
)

#: numpy ufuncs allowed as ``np.<name>``; each takes as many positional arguments as it has
#: inputs (a further one would be ``out``)
NUMPY_UFUNCS = frozenset(
    _words(
        "abs absolute fabs sign sqrt cbrt square exp exp2 expm1 log log2 log10 log1p sin cos tan "
        "arcsin arccos arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh hypot deg2rad rad2deg "
        "degrees radians floor ceil trunc rint isnan isinf isfinite signbit copysign minimum maximum "
        "fmin fmax mod fmod remainder power float_power add subtract multiply divide true_divide "
        "floor_divide negative positive reciprocal logical_and logical_or logical_not logical_xor "
        "bitwise_and bitwise_or bitwise_xor invert left_shift right_shift greater greater_equal less "
        "less_equal equal not_equal conjugate conj heaviside logaddexp"
    )
)

#: other numpy functions allowed as ``np.<name>``: name -> most positional arguments (the
#: positions after them are ``out`` or other arguments an expression has no use for)
NUMPY_FUNCTIONS: dict[str, int] = {
    **dict.fromkeys(["unique", "fix", "real", "imag", "nan_to_num", "isneginf", "isposinf"], 1),
    **dict.fromkeys(
        _words(
            "round angle sum prod mean std var median min max amin amax argmin argmax ptp any all "
            "count_nonzero cumsum cumprod nansum nanprod nanmean nanstd nanvar nanmin nanmax "
            "nanmedian nanargmin nanargmax nancumsum sort argsort isin polyval zeros_like "
            "ones_like"
        ),
        2,
    ),
    **dict.fromkeys(
        _words(
            "where clip average percentile quantile nanpercentile nanquantile searchsorted digitize "
            "full_like"
        ),
        3,
    ),
    "isclose": 5,
    "interp": 6,
    # scalar types, for dtype arguments and conversions
    **dict.fromkeys(
        _words(
            "bool float16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 "
            "complex64 complex128"
        ),
        1,
    ),
}

#: numpy constants allowed as ``np.<name>``
NUMPY_CONSTANTS = frozenset(["pi", "e", "inf", "nan", "euler_gamma"])

#: awkward functions allowed as ``ak.<name>``: name -> most positional arguments
AWKWARD_FUNCTIONS: dict[str, int] = {
    **dict.fromkeys(["nan_to_none", "nan_to_num", "ravel", "zeros_like", "ones_like"], 1),
    **dict.fromkeys(
        _words(
            "sum prod min max argmin argmax ptp any all count count_nonzero num firsts singletons "
            "is_none drop_none flatten local_index values_astype full_like"
        ),
        2,
    ),
    **dict.fromkeys(["mean", "fill_none", "mask", "where"], 3),
    **dict.fromkeys(["std", "var", "sort", "argsort"], 4),
}

#: keyword arguments allowed in calls (never ``out``, ``copy``, ``signature``, ``behavior``)
KEYWORDS = frozenset(
    _words(
        "axis keepdims dtype decimals where initial ddof mask_identity valid_when nan posinf neginf "
        "side kind method weights weight left right period invert min max a_min a_max ascending "
        "stable q to value fill_value rtol atol equal_nan mergebool"
    )
)

#: methods of numpy arrays allowed as ``a.<name>(...)``: name -> most positional arguments
ARRAY_METHODS: dict[str, int] = {
    **dict.fromkeys(["conj", "flatten", "ravel"], 0),
    **dict.fromkeys(
        _words("all any argmax argmin astype cumprod cumsum max mean min prod round std sum var"),
        1,
    ),
    "clip": 2,
}

#: attributes of numpy arrays allowed as ``a.<name>``
ARRAY_ATTRIBUTES = frozenset(["T", "real", "imag", "ndim", "shape", "size"])


@dataclass(frozen=True)
class Entry:
    """One allowed ``np.``/``ak.`` name: the object and how many positional arguments a call
    may give it (``None``: a constant, not callable)."""

    value: Any
    positional: int | None


def _library_table() -> dict[str, dict[str, Entry]]:
    numpy: dict[str, Entry] = {}
    for name in NUMPY_UFUNCS:
        if isinstance(getattr(np, name, None), np.ufunc):
            numpy[name] = Entry(getattr(np, name), getattr(np, name).nin)
    for name, positional in NUMPY_FUNCTIONS.items():
        if hasattr(np, name):
            numpy[name] = Entry(getattr(np, name), positional)
    for name in NUMPY_CONSTANTS:
        numpy[name] = Entry(getattr(np, name), None)
    awkward = {
        name: Entry(getattr(ak, name), positional)
        for name, positional in AWKWARD_FUNCTIONS.items()
        if hasattr(ak, name)
    }
    return {"np": numpy, "ak": awkward}


#: ``np``/``ak`` -> allowed name -> entry; nothing else of either module is reachable
LIBRARY = _library_table()
