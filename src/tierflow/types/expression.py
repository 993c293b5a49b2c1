"""Evaluate one-line expressions over table columns (the ``Table.eval`` language).

Flat numeric columns go through numexpr; if any column the expression uses is
jagged, or the expression calls ``np.`` or ``ak.`` functions, it is evaluated as
Python with only the columns, the parameters, ``np`` and ``ak`` in scope (no
builtins).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Mapping
from typing import Any

import awkward as ak
import numexpr as ne
import numpy as np

from ..errors import ExpressionError
from .array import Array, ArrayOfEqualSizedArrays
from .base import LGDO
from .scalar import Scalar
from .vectorofvectors import VectorOfVectors

#: functions numexpr evaluates natively
NUMEXPR_FUNCTIONS = frozenset(
    [
        "where",
        "sin",
        "cos",
        "tan",
        "arcsin",
        "arccos",
        "arctan",
        "arctan2",
        "sinh",
        "cosh",
        "tanh",
        "arcsinh",
        "arccosh",
        "arctanh",
        "log",
        "log10",
        "log1p",
        "exp",
        "expm1",
        "sqrt",
        "abs",
        "conj",
        "real",
        "imag",
        "complex",
        "contains",
        "sum",
        "prod",
        "min",
        "max",
        "floor",
        "ceil",
        "round",
        "isnan",
        "isfinite",
        "isinf",
    ]
)
MODULES = {"np": np, "ak": ak}
#: what compiled code (numpy's lazy imports) needs; expressions cannot name it
_BUILTINS = {"__import__": builtins.__import__}


def names_in(expr: str) -> tuple[set[str], set[str]]:
    """The free names of ``expr``, split into (called as functions, used as values).

    >>> sorted(names_in("where(a > 1, b, np.sqrt(c))")[1])
    ['a', 'b', 'c', 'np']
    """
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"cannot parse expression {expr!r}: {err.msg}") from None
    called, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExpressionError(
                f"expression {expr!r} uses the private attribute {node.attr!r}; "
                "only public names of columns, np and ak are allowed"
            )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called.add(node.func.id)
        elif isinstance(node, ast.Name) and node.id not in called:
            used.add(node.id)
    used -= called
    return called, used


def to_lgdo(result: Any, expr: str) -> LGDO:
    """Wrap what an expression returned in the matching data object."""
    if isinstance(result, LGDO):
        return result
    if isinstance(result, ak.Array):
        if result.ndim == 1:
            nda = ak.to_numpy(result)
            if isinstance(nda, np.ma.MaskedArray):
                if nda.dtype.kind not in "fc":
                    raise ExpressionError(
                        f"expression {expr!r} gave missing values (None); "
                        "fill them, e.g. ak.fill_none(..., -1)"
                    )
                nda = nda.filled(np.nan)
            return Array(nda)
        return VectorOfVectors(result)
    if np.isscalar(result) or (isinstance(result, np.ndarray) and result.ndim == 0):
        return Scalar(np.asarray(result).item())
    if isinstance(result, np.ndarray):
        if result.ndim == 1:
            return Array(result)
        return ArrayOfEqualSizedArrays(nda=result)
    raise ExpressionError(f"expression {expr!r} gave a {type(result).__name__}, not an array")


def evaluate(
    expr: str, columns: Mapping[str, LGDO], parameters: Mapping[str, Any] | None = None
) -> LGDO:
    """Evaluate ``expr`` with ``columns`` (flattened names, ``a__b``) and ``parameters``.

    >>> cols = {"a": Array([1.0, 2.0]), "b": VectorOfVectors([[1], [2, 3]])}
    >>> evaluate("a * k", cols, {"k": 2}).nda.tolist()
    [2.0, 4.0]
    >>> evaluate("ak.sum(b, axis=-1) + a", cols).nda.tolist()
    [2.0, 7.0]
    """
    parameters = dict(parameters or {})
    called, used = names_in(expr)
    unknown = sorted(
        (used - set(columns) - set(parameters) - set(MODULES)) | (called - NUMEXPR_FUNCTIONS)
    )
    if unknown:
        raise ExpressionError(
            f"unknown name(s) {unknown} in expression {expr!r}; columns are {sorted(columns)}"
            + (f", parameters are {sorted(parameters)}" if parameters else "")
        )
    needed = {k: columns[k] for k in used if k in columns}
    flat = all(isinstance(v, Array) for v in needed.values())
    namespace = {
        k: v.view_as("ak" if isinstance(v, VectorOfVectors) else "np") for k, v in needed.items()
    }
    namespace.update(parameters)
    if flat and not (used & set(MODULES)):
        try:
            return to_lgdo(ne.evaluate(expr, local_dict=namespace, global_dict={}), expr)
        except (KeyError, TypeError, ValueError, NotImplementedError, SyntaxError):
            pass  # something numexpr does not do: evaluate as Python below
    if called:
        raise ExpressionError(
            f"function(s) {sorted(called)} in {expr!r} work only on flat numeric columns; "
            "use np.<function> or ak.<function>"
        )
    try:
        result = eval(
            compile(expr.strip(), "<expression>", "eval"),
            {"__builtins__": _BUILTINS, **MODULES},
            namespace,
        )
    except Exception as err:
        raise ExpressionError(f"evaluating {expr!r} failed: {type(err).__name__}: {err}") from err
    return to_lgdo(result, expr)
