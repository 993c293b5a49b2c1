"""The values of a dsp config's processor entries, checked: column and module names,
arguments, units, gufunc and type signatures, ``db.*`` values.

Each check raises :class:`~tierflow.errors.DSPConfigError` naming the processor, the key
and what was expected.

>>> check_argument(["a"], "wf_blsub", "args[1]")
Traceback (most recent call last):
...
tierflow.errors.DSPConfigError: processor 'wf_blsub' (processors.wf_blsub.args[1]): expected a column, an expression or a number, not list
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..errors import DSPConfigError

__all__ = [
    "as_list",
    "check_argument",
    "check_database_value",
    "check_module",
    "check_signature",
    "check_types",
    "is_column_name",
    "optional_text",
    "parse_units",
    "text_list",
]

#: a module a processor may come from (``numpy``, ``dspeed.processors``)
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
#: numpy's type characters of booleans and numbers, as gufunc type signatures use them
NUMPY_TYPE_CHARS = "?bBhHiIlLqQpPefdgFDG"
#: a gufunc type signature: ``"fi->f"``
TYPE_SIGNATURE = re.compile(f"[{re.escape(NUMPY_TYPE_CHARS)}]+->[{re.escape(NUMPY_TYPE_CHARS)}]+")
_DIMS = r"(?:[A-Za-z_]\w*|\d+)(?:,(?:[A-Za-z_]\w*|\d+))*"
_CORE = rf"\((?:{_DIMS})?\)"
#: a gufunc signature (spaces removed): ``"(n),()->()"``
GUFUNC_SIGNATURE = re.compile(rf"{_CORE}(?:,{_CORE})*->{_CORE}(?:,{_CORE})*")
#: the magnitude integer arguments stay below (they become int64 constants)
MAX_ARGUMENT = 2**63


def is_column_name(name: str) -> bool:
    """Whether ``name`` can name a column: an ASCII identifier.

    >>> is_column_name("trapEmax"), is_column_name("énergie"), is_column_name("2x")
    (True, False, False)
    """
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) is not None


def as_list(value: Any, label: str, key: str) -> list:
    """``value`` as a list; a string or a non-sequence is an error."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise DSPConfigError(
            f"expected a list, not {type(value).__name__}", processor=label, key=key
        )
    return list(value)


def text_list(value: Any, label: str, key: str) -> tuple[str, ...]:
    """``value``, a list of strings, as a tuple."""
    items = as_list(value, label, key)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise DSPConfigError(
                f"expected a string, not {type(item).__name__}", processor=label, key=f"{key}[{i}]"
            )
    return tuple(items)


def optional_text(value: Any, label: str, key: str) -> None:
    """``value`` is a string or ``None``."""
    if value is not None and not isinstance(value, str):
        raise DSPConfigError(
            f"expected a string, not {type(value).__name__}", processor=label, key=key
        )


def check_argument(arg: Any, label: str, key: str) -> None:
    """An argument is a column, an expression (a string) or a number (an integer of 64 bits)."""
    if isinstance(arg, bool | int | float | str):
        if isinstance(arg, str) and not arg.strip():
            raise DSPConfigError(
                "an empty argument; expected a column, an expression or a number",
                processor=label,
                key=key,
            )
        if isinstance(arg, int) and not -MAX_ARGUMENT <= arg < MAX_ARGUMENT:
            raise DSPConfigError(f"{arg} does not fit in 64 bits", processor=label, key=key)
        return
    raise DSPConfigError(
        f"expected a column, an expression or a number, not {type(arg).__name__}",
        processor=label,
        key=key,
    )


def check_database_value(value: Any, key: str, processor: str | None = None) -> None:
    """A ``db.*`` value (a database entry or a default) is a number, a string (such as
    ``"500*us"``) or a flat list of numbers.

    >>> check_database_value([1.0, 2.0], "db.coeffs")
    >>> check_database_value({"a": 1}, "db.pz.tau")
    Traceback (most recent call last):
    ...
    tierflow.errors.DSPConfigError: db.pz.tau: expected a number, a string such as '500*us' or a list of numbers, not dict
    """
    if isinstance(value, bool | int | float | str):
        return
    if isinstance(value, list | tuple) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        return
    raise DSPConfigError(
        "expected a number, a string such as '500*us' or a list of numbers, not "
        + type(value).__name__,
        processor=processor,
        key=key,
    )


def parse_units(label: str, unit: Any, n: int) -> tuple[str | None, ...]:
    """One unit (or ``None``) per output from ``unit``: a name, or a list of one or ``n``.

    >>> parse_units("x", "ADC", 2), parse_units("x", ["ns", "ADC"], 2)
    (('ADC', 'ADC'), ('ns', 'ADC'))
    """
    if unit is None:
        return (None,) * n
    if isinstance(unit, str):
        return (unit,) * n
    if isinstance(unit, Sequence):
        for i, u in enumerate(unit):
            if u is not None and not isinstance(u, str):
                raise DSPConfigError(
                    f"expected a unit name, not {type(u).__name__}",
                    processor=label,
                    key=f"unit[{i}]",
                )
        units = list(unit)
        if len(units) == 1:
            return tuple(units) * n
        if len(units) != n:
            raise DSPConfigError(f"{len(units)} units for {n} outputs", processor=label, key="unit")
        return tuple(units)
    raise DSPConfigError(
        f"expected a string or a list, not {type(unit).__name__}", processor=label, key="unit"
    )


def check_signature(signature: str | None, label: str) -> None:
    """A gufunc ``signature`` such as ``"(n),()->()"`` (or ``None``).

    >>> check_signature("(n),(,)->()", "x")
    Traceback (most recent call last):
    ...
    tierflow.errors.DSPConfigError: processor 'x' (processors.x.signature): '(n),(,)->()' is not a gufunc signature such as '(n),()->()'
    """
    if signature is not None and not GUFUNC_SIGNATURE.fullmatch(re.sub(r"\s", "", signature)):
        raise DSPConfigError(
            f"{signature!r} is not a gufunc signature such as '(n),()->()'",
            processor=label,
            key="signature",
        )


def check_module(module: str | None, label: str) -> None:
    """A module name such as ``numpy`` or ``dspeed.processors`` (or ``None``)."""
    if module is not None and not MODULE_NAME.fullmatch(module):
        raise DSPConfigError(
            f"{module!r} is not a module name such as 'numpy' or 'dspeed.processors'",
            processor=label,
            key="module",
        )


def check_types(types: Sequence[str], label: str) -> None:
    """Type signatures such as ``"fi->f"``: numpy type characters, inputs ``->`` outputs."""
    for i, sig in enumerate(types):
        if not TYPE_SIGNATURE.fullmatch(sig):
            raise DSPConfigError(
                f"{sig!r} is not a type signature such as 'fi->f' (numpy type "
                f"characters {NUMPY_TYPE_CHARS!r}, inputs '->' outputs)",
                processor=label,
                key=f"types[{i}]",
            )
