"""Database values as per-row parameters, so that channels share one compiled chain.

A ``db.*`` value that is a number (``50``, ``"0.8"``) or a time (``"500*us"``) need not be
folded into a chain as a constant. The binder can read it instead as a column with one value
per row, typed as the constant it replaces would be. Channels whose database entries differ
only in such values then get the same plan, bound once, and their rows run through one
executor together. Values of any other kind (strings, lists, other units) stay constants,
and a config that needs a parameter's value while binding (a shape, a slice bound, a
factory's set-up argument) is bound with constants for each channel instead.

>>> kind_of(50), kind_of("0.8"), kind_of("500*us"), kind_of("'s'"), kind_of(True)
(('int', 50), ('float', 0.8), ('time', 500000.0), None, None)
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import MISSING
from .units import TimeQuantity, snap, unit

__all__ = ["PLACEHOLDER", "Parameter", "kind_of"]

#: the name a parameter's column has in a plan: ``__db0``, ``__db1``, ...
PLACEHOLDER = "__db{}"

#: numpy dtype of each kind's column (times in ns)
DTYPES = {"int": np.dtype("int64"), "float": np.dtype("float64"), "time": np.dtype("float64")}


@dataclass(frozen=True)
class Parameter:
    """One ``db.*`` value of one processor read per row: ``name`` is its column in the plan,
    ``kind`` is ``int``, ``float`` or ``time`` (in ns)."""

    name: str
    processor: str
    ref: str
    kind: str

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the parameter's column."""
        return DTYPES[self.kind]


def kind_of(value: Any) -> tuple[str, int | float] | None:
    """``(kind, number)`` of a database value that can be a per-row parameter, else ``None``.

    Times are given in ns, as the binder would compute them from the text.
    """
    kind = type(value)
    if kind is str:
        return _parse(value.strip())
    if kind is float:
        return "float", value
    if kind is int:
        return "int", value
    if value is MISSING or isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return "int", int(value)
    if isinstance(value, float | np.floating):
        return "float", float(value)
    if isinstance(value, str):
        return _parse(value.strip())
    return None


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[str, int | float] | None:
    """:func:`kind_of` of a text: a number, or a number times a time unit (``500*us``)."""
    try:  # a value too long or too deep for the parser is simply not a number
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    number = _number(node)
    if number is not None:
        return kind_of(number)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        for num, name in ((node.left, node.right), (node.right, node.left)):
            value = _number(num)
            if value is not None and isinstance(name, ast.Name):
                try:
                    quantity = unit(name.id)
                except Exception:
                    return None
                if isinstance(quantity, TimeQuantity) and quantity.power == 1:
                    return "time", snap((value * quantity).ns)
    return None


def _number(node: ast.AST) -> int | float | None:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return sign * node.value
    return None
