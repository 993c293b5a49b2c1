"""Evaluate one-line expressions over table columns (the ``Table.eval`` language).

The language is closed (:mod:`tierflow.types.safe_eval`): columns, parameters, the listed
``np.``/``ak.`` functions and constants, numexpr's functions and a few array methods, checked
before anything is evaluated. Flat numeric columns go through numexpr; if any column the
expression uses is jagged, or the expression uses ``np.``/``ak.`` names or methods, the checked
tree is evaluated by :func:`tierflow.types.safe_eval.run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import awkward as ak
import numexpr as ne
import numpy as np

from ..errors import ExpressionError
from .array import Array, ArrayOfEqualSizedArrays
from .base import LGDO
from .safe_eval import check, check_value, run, show
from .scalar import Scalar
from .vectorofvectors import VectorOfVectors

#: what an expression gives: a column (flat, of equal-sized rows or jagged) or one value
ExpressionResult: TypeAlias = Array | VectorOfVectors | Scalar


def to_lgdo(result: Any, expr: str) -> ExpressionResult:
    """Wrap what an expression returned in the matching data object."""
    try:
        return _to_lgdo(result, expr)
    except ExpressionError:
        raise
    except Exception as err:
        raise ExpressionError(
            f"expression {show(expr)} gave a {type(result).__name__} that is not a column: "
            f"{type(err).__name__}: {err}"
        ) from err


def _to_lgdo(result: Any, expr: str) -> ExpressionResult:
    if isinstance(result, Array | VectorOfVectors | Scalar):
        return result
    if isinstance(result, ak.Array):
        if result.ndim == 1:
            nda = ak.to_numpy(result)
            if isinstance(nda, np.ma.MaskedArray):
                if nda.dtype.kind not in "fc":
                    raise ExpressionError(
                        f"expression {show(expr)} gave missing values (None); "
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
    raise ExpressionError(f"expression {show(expr)} gave a {type(result).__name__}, not an array")


def evaluate(
    expr: str, columns: Mapping[str, LGDO], parameters: Mapping[str, Any] | None = None
) -> ExpressionResult:
    """Evaluate ``expr`` with ``columns`` (flattened names, ``a__b``) and ``parameters``.

    >>> cols = {"a": Array([1.0, 2.0]), "b": VectorOfVectors([[1], [2, 3]])}
    >>> evaluate("a * k", cols, {"k": 2}).nda.tolist()
    [2.0, 4.0]
    >>> evaluate("ak.sum(b, axis=-1) + a", cols).nda.tolist()
    [2.0, 7.0]
    >>> evaluate("np.save('x.npy', a)", cols)
    Traceback (most recent call last):
    ...
    tierflow.errors.ExpressionError: 'np.save' in "np.save('x.npy', a)" is not an allowed numpy name...
    """
    checked = check(expr)
    parameters = dict(parameters or {})
    unknown = sorted(checked.names - set(columns) - set(parameters))
    if unknown:
        raise ExpressionError(
            f"unknown name(s) {unknown} in expression {show(checked.text)}; columns are "
            f"{sorted(columns)}" + (f", parameters are {sorted(parameters)}" if parameters else "")
        )
    needed = {k: columns[k] for k in checked.names if k in columns and k not in parameters}
    flat = all(isinstance(v, Array) for v in needed.values())
    namespace = {
        k: v.view_as("ak" if isinstance(v, VectorOfVectors) else "np") for k, v in needed.items()
    }
    namespace.update(
        (k, check_value(k, v, checked.text)) for k, v in parameters.items() if k in checked.names
    )
    if flat and not checked.uses_library:
        try:
            return to_lgdo(ne.evaluate(checked.text, local_dict=namespace, global_dict={}), expr)
        except Exception:
            pass  # something numexpr does not do: evaluate it with the interpreter below
    return to_lgdo(run(checked, namespace), expr)
