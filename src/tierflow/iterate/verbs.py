"""What an iterator does with its chunks: map a function, query rows, fill a histogram.

All three run through :func:`run_chunks`, so the same call runs serially, on a number of
processes, on any ``concurrent.futures.Executor`` or on a dask ``distributed.Client``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import awkward as ak
import hist as hist_module
import numpy as np
import pandas as pd

from ..errors import ExpressionError
from ..types import LGDO, Table
from ..types.concat import concat
from ..types.safe_eval import check, check_value, run
from . import hist_fill
from .direct import DirectHistWork, direct_columns
from .source import ChunkSource
from .work import ChunkWork, detach, run_chunks

LIBRARIES = ("lgdo", "pd", "ak", "np")


def executor_of(processes: Any, executor: Any) -> Any:
    """One executor from LEGEND's two arguments: ``executor`` wins; else ``processes``."""
    return executor if executor is not None else processes


def expression_names(expr: str) -> set[str]:
    """Names an expression reads (``a__b`` for nested columns becomes ``a/b``); the expression
    is checked against the closed language of :mod:`tierflow.types.safe_eval`.

    >>> sorted(expression_names("is_valid & (geds__energy > 500) & np.isfinite(x)"))
    ['geds/energy', 'is_valid', 'x']
    """
    return {n.replace("__", "/") for n in check(expr).names}


def check_names(it: ChunkSource, exprs: Sequence[str], what: str = "expression") -> None:
    """Raise :class:`ExpressionError` listing the iterator's fields if an expression in
    ``exprs`` reads a name that is none of them, or names anything the expression language
    does not allow (checked before any chunk is read)."""
    known: set[str] | None = None
    for expr in exprs:
        if not expr:
            continue
        used = expression_names(expr)
        if not used:
            continue
        known = it.known_fields() if known is None else known
        unknown = sorted(used - known)
        if unknown:
            raise ExpressionError(
                f"unknown name(s) {[_typed(n) for n in unknown]} in {what} {expr!r}; the "
                f"iterator's fields are {sorted(_typed(n) for n in known)} (a nested field "
                "a/b is written a__b in an expression)"
            )


def _typed(name: str) -> str:
    """A field's name as an expression spells it (``a/b`` as ``a__b``)."""
    return name.replace("/", "__")


# --- map ------------------------------------------------------------------------------------------
def map_chunks(
    it: ChunkSource,
    fun: Callable,
    aggregate: Callable | None = None,
    init: Any = None,
    begin: Callable | None = None,
    terminate: Callable | None = None,
    executor: Any = None,
    progress: bool | None = None,
) -> list:
    """Results of ``fun(table, it)`` per chunk in order, or with ``aggregate`` one partial
    result per work item (each worker folds what it read; combine them with ``aggregate``)."""
    work = ChunkWork(it, fun, aggregate, init, begin, terminate)
    per_item = 1 if aggregate is None else None
    results = run_chunks(it, work, executor, progress, "map", per_item)
    if aggregate is None:
        return [r for item in results for r in item]
    return results


# --- query ------------------------------------------------------------------------------------------
class _ExpressionSelect:
    """``where`` as an expression: the rows where it is true, with the chosen columns."""

    def __init__(self, expr: str, fields: Mapping[str, str | None] | None):
        self.expr = expr
        self.fields = fields

    def __call__(self, table: Table, _it: Any) -> Table:
        selected = table if not self.expr else table.take(_mask(table, self.expr))
        if self.fields is None:
            return selected
        out = Table(size=len(selected))
        for name, alias in self.fields.items():
            if alias:
                out.add_field(alias, selected[name])
                continue
            # a nested field keeps its place: trigger/type is out["trigger"]["type"]
            *parents, leaf = name.split("/")
            parent = out
            for part in parents:
                if part not in parent:
                    parent.add_field(part, Table(size=len(selected)))
                parent = parent[part]
            parent.add_field(leaf, selected[name])
        return out


def _field_paths(
    fields: Sequence[str] | Mapping[str, str | None],
) -> dict[str, str | None]:
    """``query``'s ``fields`` as ``{path: alias}``, nested names as paths (``a__b`` is ``a/b``).

    >>> _field_paths(["energy", "trigger__type"])
    {'energy': None, 'trigger/type': None}
    >>> _field_paths({"trigger/type": "type"})
    {'trigger/type': 'type'}
    """
    if not isinstance(fields, Mapping):
        fields = dict.fromkeys(fields)
    return {name.replace("__", "/"): alias for name, alias in fields.items()}


def _mask(table: Table, expr: str) -> np.ndarray:
    result = table.eval(expr)
    mask = result.nda if hasattr(result, "nda") else np.asarray(result)
    if mask.dtype != bool or mask.shape != (len(table),):
        raise ExpressionError(
            f"where={expr!r} must give one boolean per row; it gave {mask.dtype}{mask.shape}"
        )
    return mask


def _as_library(result: Any, library: str) -> Any:
    if not isinstance(result, Table) or library == "lgdo":
        return result
    return result.view_as(library)


def _combine(parts: list, library: str) -> Any:
    """Concatenate per-chunk results of one kind."""
    if not parts:
        return None
    first = parts[0]
    if isinstance(first, LGDO):
        return concat(parts) if len(parts) > 1 else parts[0]
    if isinstance(first, pd.DataFrame | pd.Series):
        return pd.concat(parts, ignore_index=True)
    if isinstance(first, ak.Array):
        return ak.concatenate(parts)
    if isinstance(first, np.ndarray):
        return np.concatenate(parts)
    if isinstance(first, Mapping):
        return {k: _combine([p[k] for p in parts], library) for k in first}
    if isinstance(first, tuple | list):
        return type(first)(_combine([p[i] for p in parts], library) for i in range(len(first)))
    raise TypeError(
        f"query cannot combine results of type {type(first).__name__}; return a Table, "
        "DataFrame, awkward or numpy array, dict or tuple of arrays"
    )


class _QueryChunk:
    def __init__(self, where: Callable):
        self.where = where

    def __call__(self, table: Table, it: Any) -> Any:
        # the result may be (or view) the iterator's buffer, which the next chunk overwrites
        return detach(self.where(table, it))


def query(
    it: ChunkSource,
    where: str | Callable | None,
    fields: Sequence[str] | Mapping[str, str | None] | None = None,
    library: str = "lgdo",
    executor: Any = None,
    progress: bool | None = None,
) -> Any:
    """The rows (or values) ``where`` selects from every chunk, concatenated."""
    if library not in LIBRARIES:
        raise ValueError(f"library must be one of {LIBRARIES}, not {library!r}")
    source = it
    if where is None or isinstance(where, str):
        expr = where or ""
        check_names(it, [expr])
        if fields is not None:
            fields = _field_paths(fields)
            _check_fields(it, list(fields))
        source = it.reading(_needed(it, expr, fields))
        where = _ExpressionSelect(expr, fields)
    work = ChunkWork(source, _QueryChunk(where), copy_results=False)
    try:
        parts = [
            r for item in run_chunks(source, work, executor, progress, "query", 1) for r in item
        ]
        if not parts:
            return _as_library(where(source.read(0, 0), source), library)
    finally:
        if source is not it:
            source.close()  # the copy's files, and the datasets open in them
    # tables are joined first and converted once: vector columns as numpy are padded to the
    # longest vector of the whole result, not of each chunk
    return _as_library(_combine(parts, library), library)


def _check_fields(it: ChunkSource, fields: list[str]) -> None:
    known = it.known_fields()
    unknown = sorted(f for f in fields if f not in known)
    if unknown:
        raise ExpressionError(
            f"query fields {unknown} are not fields of the iterator; its fields are {sorted(known)}"
        )


def _needed(it: ChunkSource, expr: str, fields: Any) -> set[str] | None:
    """Columns to read for an expression query; ``None`` keeps the iterator's mask."""
    if fields is None:
        return None
    return set(fields) | (expression_names(expr) if expr.strip() else set())


# --- hist -----------------------------------------------------------------------------------------
def make_hist(axes: Any, **hist_kwargs: Any) -> hist_module.Hist:
    """An empty ``hist.Hist`` from an axis, a list of axes, or a histogram (copied, zeroed)."""
    if isinstance(axes, hist_module.Hist):
        h = axes.copy()
        h.reset()
        return h
    if isinstance(axes, hist_module.axis.AxesMixin):
        axes = [axes]
    return hist_module.Hist(*axes, **hist_kwargs)


class HistFiller:
    """Fills a histogram from a chunk: axes matched to values by key, name or label."""

    def __init__(
        self,
        h: hist_module.Hist,
        where: str | Callable | None,
        keys: str | Sequence[str] | None,
        weights: str | None,
    ):
        self.where = where
        self.keys = [keys] if isinstance(keys, str) else (list(keys) if keys is not None else None)
        self.weights = weights
        self.axis_names = [a.name or a.label for a in h.axes]
        self.axis_keys = [a.name for a in h.axes], [a.label for a in h.axes]
        if self.keys is not None and len(self.keys) != len(self.axis_names):
            raise ValueError(f"{len(self.keys)} keys for {len(self.axis_names)} axes")

    def values(self, table: Table, it: Any) -> tuple[list, Any]:
        """(one array per axis, weights or None) for a chunk."""
        if self.where is None or isinstance(self.where, str):
            selected = table if not self.where else table.take(_mask(table, self.where))
            return self._from_table(selected)
        return self._from_result(self.where(table, it))

    def _from_table(self, table: Table) -> tuple[list, Any]:
        weight = _values(table.eval(self.weights)) if self.weights else None
        if self.keys is not None:
            return [_values(table.eval(k)) for k in self.keys], weight
        return [_values(table[self._column(table, i)]) for i in range(len(self.axis_names))], weight

    def _column(self, table: Mapping, i: int) -> str:
        for candidate in (self.axis_keys[0][i], self.axis_keys[1][i]):
            if candidate and candidate in table:
                return candidate
        raise ExpressionError(
            f"no column for axis {self.axis_names[i]!r} (name {self.axis_keys[0][i]!r}, label "
            f"{self.axis_keys[1][i]!r}); give keys=..., columns are {sorted(table)}"
        )

    def _from_result(self, result: Any) -> tuple[list, Any]:
        n_axes = len(self.axis_names)
        if isinstance(result, Table):
            return self._from_table(result)
        if isinstance(result, pd.DataFrame):
            result = {str(k): result[k].to_numpy() for k in result.columns}
        if isinstance(result, ak.Array) and result.fields:
            result = {f: result[f] for f in result.fields}
        if isinstance(result, Mapping):
            weight = result.get("weight", result.get("weights"))
            if self.keys is not None:
                return [_values(_evaluate_key(k, result)) for k in self.keys], _opt(weight)
            return [_values(result[self._column(result, i)]) for i in range(n_axes)], _opt(weight)
        if isinstance(result, np.ndarray | pd.Series | ak.Array) and np.ndim(result) == 1:
            return [_values(result)], None
        if isinstance(result, np.ndarray) and result.ndim == 2:
            return [_values(r) for r in result], None
        if isinstance(result, tuple | list):
            if len(result) == n_axes + 1:
                return [_values(r) for r in result[:-1]], _values(result[-1])
            return [_values(r) for r in result], None
        raise TypeError(
            f"hist: where returned {type(result).__name__}; return arrays (one per axis), a "
            "dict, DataFrame, awkward record array or Table"
        )

    def __call__(self, table: Table, it: Any) -> tuple[list, Any]:
        return self.values(table, it)


def _evaluate_key(key: str, columns: Mapping) -> Any:
    """A hist key over what a ``where`` function returned: a name, or an expression over the
    names (the closed language of :mod:`tierflow.types.safe_eval`)."""
    if key in columns:
        return columns[key]
    checked = check(key)
    unknown = sorted(checked.names - set(columns))
    if unknown:
        raise ExpressionError(
            f"unknown name(s) {unknown} in key {key!r}; the values are {sorted(columns)}"
        )
    names = {k: check_value(k, _values(columns[k]), key) for k in checked.names}
    return run(checked, names)


def _opt(values: Any) -> Any:
    return None if values is None else _values(values)


def _values(obj: Any) -> np.ndarray:
    if hasattr(obj, "nda"):
        return obj.nda
    if isinstance(obj, pd.Series):
        return obj.to_numpy()
    if isinstance(obj, ak.Array):
        return ak.to_numpy(ak.ravel(obj))
    return np.asarray(obj)


class _FillChunk:
    """Fill the work item's histogram with one chunk."""

    def __init__(self, filler: HistFiller):
        self.filler = filler

    def __call__(self, table: Table, it: Any) -> tuple[list, Any]:
        return self.filler(table, it)


class _HistAccumulator:
    """``aggregate`` of hist's map: fill the partial histogram in place.

    Each thread keeps a :class:`~tierflow.iterate.hist_fill.Filler` for the histogram it
    fills, so the histogram is examined once per work item, not once per chunk.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self._local = threading.local()

    def __call__(self, h: hist_module.Hist, values: tuple[list, Any]) -> hist_module.Hist:
        filler = getattr(self._local, "filler", None)
        if filler is None or filler.h is not h:
            filler = self._local.filler = hist_fill.Filler(h)
        arrays, weight = values
        filler(arrays, weight)
        return h


def fill_hist(
    it: ChunkSource,
    axes: Any,
    where: str | Callable | None = None,
    keys: str | Sequence[str] | None = None,
    weights: str | None = None,
    executor: Any = None,
    progress: bool | None = None,
    **hist_kwargs: Any,
) -> hist_module.Hist:
    """A histogram of the values ``where``/``keys`` give over the whole pass."""
    h = make_hist(axes, **hist_kwargs)
    filler = HistFiller(h, where, keys, weights)
    source = it
    if where is None or isinstance(where, str):
        check_names(it, [where or ""], "where")
        check_names(it, [weights or ""], "weights")
        check_names(it, filler.keys or [], "keys")
        if filler.keys is None:
            _check_axes(it, h)
        source = it.reading(_hist_columns(it, h, where, filler.keys, weights))
    work = ChunkWork(source, _FillChunk(filler), _HistAccumulator(), h)
    if not where:
        columns = direct_columns(source, _axis_columns(source, h, filler.keys), weights)
        if columns is not None:
            work = DirectHistWork(
                source, _FillChunk(filler), _HistAccumulator(), h, columns, bool(weights)
            )
    try:
        partials = run_chunks(source, work, executor, progress, "hist")
    finally:
        if source is not it:
            source.close()  # the copy's files, and the datasets open in them
    total = h
    for part in partials:
        total = total + part
    if isinstance(axes, hist_module.Hist):
        axes += total  # filled in place, as LEGEND's hist does
        return axes
    return total


def _axis_columns(it: ChunkSource, h: hist_module.Hist, keys: list | None) -> list[str] | None:
    """The column each axis is filled from, where every axis takes a column as it is (by its
    key, else by its name or label); ``None`` where some key is an expression."""
    known = it.known_fields()
    if keys is not None:
        return list(keys) if all(k in known for k in keys) else None
    columns = []
    for ax in h.axes:
        found = [c for c in (ax.name, ax.label) if c and c in known]
        if not found:
            return None
        columns.append(found[0])
    return columns


def _check_axes(it: ChunkSource, h: hist_module.Hist) -> None:
    known = it.known_fields()
    for ax in h.axes:
        if not ({ax.name, ax.label} & known):
            raise ExpressionError(
                f"no field for axis {ax.name or ax.label!r} (name {ax.name!r}, label "
                f"{ax.label!r}); give keys=..., the iterator's fields are {sorted(known)}"
            )


def _hist_columns(
    it: ChunkSource, h: hist_module.Hist, where: str | None, keys: list | None, weights: str | None
) -> set[str] | None:
    names: set[str] = set()
    for expr in [where or "", weights or "", *(keys or [])]:
        if expr:
            names |= expression_names(expr)
    if keys is None:
        names |= {a.name for a in h.axes if a.name} | {a.label for a in h.axes if a.label}
    return names
