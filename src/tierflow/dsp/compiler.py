"""Binding a config to an input schema: argument kinds, types, shapes, units, steps.

The binder walks the processors in dependency order and evaluates each argument into a
variable (a column, an intermediate buffer, a slice of one), a constant (numbers, strings,
quantities such as ``10*us`` converted to samples with the waveform's ``dt``) or a new step
(one-line arithmetic such as ``trapTmax*0.9``). Each processor call then gets the first type
signature its inputs can be cast to (float32 for integer waveforms, as in LEGEND's chains),
output shapes from its gufunc signature, and a sampling grid for its times.

>>> import numpy as np
>>> from tierflow.dsp.config import load_config
>>> from tierflow.dsp.plan import Schema
>>> cfg = load_config({"outputs": ["b"], "processors": {"b": "a * 2 + 1"}})
>>> plan = bind(cfg, Schema.of_columns({"a": np.zeros(4, "float32")}))
>>> [s.text for s in plan.steps]
['b: multiply(a, 2)', 'b: add((a*2), 1)']
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import functools
import inspect
import operator
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import DSPConfigError, DSPInputError, DSPUnitError, ExpressionError
from ..types.allowed_names import NUMPY_CONSTANTS
from ..types.safe_eval import check_binop, check_depth, show
from . import processors as library
from .config import (
    MISSING,
    PROCESSOR_LIBRARIES,
    ChainConfig,
    ProcessorSpec,
    parse_source,
    value_key,
)
from .config_functions import config_function
from .graph import order, requirements
from .parameters import PLACEHOLDER, Parameter, kind_of
from .plan import ColumnInfo, Output, Plan, Schema, Step, Var
from .units import (
    Grid,
    TimeQuantity,
    UnitMismatchError,
    is_quantity,
    is_time_unit,
    is_unit_name,
    snap,
    to_samples,
    unit,
    unit_in_ns,
)

__all__ = ["bind", "prepare", "prepare_per_row"]

#: the absolute time frame of input columns with a time unit (values in ns from 0)
_ABSOLUTE = Grid(1.0)

_BINOPS: dict[type, tuple[np.ufunc, Callable, str]] = {
    ast.Add: (np.add, operator.add, "+"),
    ast.Sub: (np.subtract, operator.sub, "-"),
    ast.Mult: (np.multiply, operator.mul, "*"),
    ast.Div: (np.divide, operator.truediv, "/"),
    ast.FloorDiv: (np.floor_divide, operator.floordiv, "//"),
    ast.Mod: (np.remainder, operator.mod, "%"),
    ast.Pow: (np.power, operator.pow, "**"),
}
_COMPARE: dict[type, tuple[np.ufunc, Callable, str]] = {
    ast.Eq: (np.equal, operator.eq, "=="),
    ast.NotEq: (np.not_equal, operator.ne, "!="),
    ast.Lt: (np.less, operator.lt, "<"),
    ast.LtE: (np.less_equal, operator.le, "<="),
    ast.Gt: (np.greater, operator.gt, ">"),
    ast.GtE: (np.greater_equal, operator.ge, ">="),
}
_ROUNDING = {"round": np.rint, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc}
_DECLARE_ORDER = ("shape", "dtype", "grid", "unit", "is_coord", "period", "offset", "vector_len")


# --- preparing: database values, order -------------------------------------------------------
class Prepared:
    """A config with one channel's database values put in, ordered for its outputs."""

    def __init__(
        self,
        cfg: ChainConfig,
        values: Mapping[str, Mapping],
        channel: str | None,
        params: tuple[Parameter, ...] = (),
    ):
        self.cfg = cfg
        self.channel = channel
        #: the database values read per row (their names stand in for them in ``specs``)
        self.params = params
        placeholders = {p.name for p in params}
        specs: dict[str, ProcessorSpec] = {}
        missing: dict[str, ProcessorSpec] = {}
        needs: dict[str, tuple[str, ...]] = {}
        for key, spec in cfg.processors.items():
            vals = values.get(key, {})
            if vals and any(v is MISSING for v in vals.values()):
                missing[key] = spec
                vals = {k: (0 if v is MISSING else v) for k, v in vals.items()}
            specs[key], needs[key] = _substituted(cfg, key, spec, vals, channel)
            if placeholders:
                needs[key] = tuple(n for n in needs[key] if n not in placeholders)
        self.order, self.leaves = _order(cfg, specs, needs)
        self.values: tuple = ()
        #: ``values`` as a cache key (:func:`~tierflow.dsp.config.value_key`)
        self.values_key: tuple = ()
        for key in self.order:
            if key in missing:
                missing[key].substituted(values.get(key, {}), channel)  # raises, naming it
        self.specs = specs


#: (config fingerprint, processor key, its db values) -> (the spec, the spec with those values
#: put in, the names that one needs)
_SUBSTITUTED: dict[tuple, tuple[ProcessorSpec, ProcessorSpec, tuple[str, ...]]] = {}


def _substituted(
    cfg: ChainConfig, key: str, spec: ProcessorSpec, vals: Mapping[str, Any], channel: str | None
) -> tuple[ProcessorSpec, tuple[str, ...]]:
    """``spec`` (the processor ``key`` of ``cfg``) with the db values ``vals`` put in, and the
    names it needs; cached by content, since most processors get the same values for every
    channel."""
    cache_key = (cfg.fingerprint, key, value_key(tuple(vals.items())))
    found = _SUBSTITUTED.get(cache_key)
    if found is None or found[0] is not spec:
        new = spec.substituted(vals, channel) if spec.db_refs else spec
        found = (spec, new, _requirements(new))
        if len(_SUBSTITUTED) >= 8192:
            _SUBSTITUTED.clear()
        _SUBSTITUTED[cache_key] = found
    return found[1], found[2]


def _requirements(spec: ProcessorSpec) -> tuple[str, ...]:
    """:func:`~tierflow.dsp.graph.requirements`, cached: most processors of a config are the
    same for every channel."""
    try:
        return _requirements_cached(spec)
    except TypeError:  # unhashable settings
        return requirements(spec)


@functools.lru_cache(maxsize=4096)
def _requirements_cached(spec: ProcessorSpec) -> tuple[str, ...]:
    return requirements(spec)


_ORDERS: dict[tuple, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _order(
    cfg: ChainConfig, specs: Mapping[str, ProcessorSpec], needs: Mapping[str, tuple[str, ...]]
) -> tuple[list[str], list[str]]:
    """:func:`~tierflow.dsp.graph.order` of a config whose processors need ``needs``, cached
    by those needs (channels' database values seldom change them)."""
    key = (cfg.fingerprint, tuple(needs.items()))
    found = _ORDERS.get(key)
    if found is None:
        keys, leaves = order(specs, cfg.producers, cfg.outputs, needs)
        if len(_ORDERS) >= 1024:
            _ORDERS.clear()
        found = _ORDERS[key] = (tuple(keys), tuple(leaves))
    return list(found[0]), list(found[1])


def database_values(cfg: ChainConfig, db: Mapping | None) -> tuple:
    """The ``db.*`` values of every processor of ``cfg`` for one channel's entry ``db``."""
    return tuple(
        (key, spec.database_values(db)) for key, spec in cfg.processors.items() if spec.db_refs
    )


_PREPARED: dict[tuple, Prepared] = {}


def prepare(cfg: ChainConfig, db: Mapping | None = None, channel: str | None = None) -> Prepared:
    """``cfg`` with ``db`` substituted and ordered (cached by content).

    >>> from tierflow.dsp.config import load_config
    >>> cfg = load_config({"outputs": ["y"], "processors": {
    ...     "y": {"function": "x * db.gain", "defaults": {"db.gain": 2}}}})
    >>> prepare(cfg, {"gain": 3}).specs["y"].expression
    'x * (3)'
    >>> prepare(cfg, None).specs["y"].expression
    'x * (2)'
    """
    values = database_values(cfg, db)
    key = (cfg.fingerprint, value_key(values), channel if _any_missing(values) else None)
    found = _PREPARED.get(key)
    if found is None:
        found = Prepared(cfg, {k: dict(v) for k, v in values}, channel)
        found.values = values
        found.values_key = key[1]
        if len(_PREPARED) > 1024:
            _PREPARED.clear()
        _PREPARED[key] = found
    return found


def prepare_per_row(
    cfg: ChainConfig, db: Mapping | None = None, channel: str | None = None
) -> tuple[Prepared, tuple]:
    """``cfg`` prepared with its number and time database values as per-row parameters
    (:mod:`~tierflow.dsp.parameters`), and this channel's values of them, in the order of
    ``Prepared.params``. Channels whose other values are equal share the :class:`Prepared`.

    >>> from tierflow.dsp.config import load_config
    >>> cfg = load_config({"outputs": ["y"], "processors": {
    ...     "y": {"function": "x * db.gain", "defaults": {"db.gain": 2}}}})
    >>> a, values_a = prepare_per_row(cfg, {"gain": 3})
    >>> b, values_b = prepare_per_row(cfg, {"gain": 5})
    >>> a is b, a.specs["y"].expression, values_a, values_b
    (True, 'x * (__db0)', (3,), (5,))
    """
    values = database_values(cfg, db)
    params: list[Parameter] = []
    numbers: list[int | float] = []
    keyed = []
    substituted: dict[str, dict[str, Any]] = {}
    for key, vals in values:
        subs = substituted[key] = {}
        for ref, value in vals:
            found = kind_of(value)
            if found is None:
                keyed.append((key, ref, value_key(value)))
                subs[ref] = value
                continue
            param = Parameter(PLACEHOLDER.format(len(params)), key, ref, found[0])
            params.append(param)
            numbers.append(found[1])
            keyed.append((key, ref, param.kind))
            subs[ref] = param.name
    if not params:
        return prepare(cfg, db, channel), ()
    key = (cfg.fingerprint, tuple(keyed), channel if _any_missing(values) else None)
    prepared = _PER_ROW.get(key)
    if prepared is None:
        prepared = Prepared(cfg, substituted, channel, tuple(params))
        prepared.values = values
        prepared.values_key = ("per row", key[1])
        if len(_PER_ROW) > 1024:
            _PER_ROW.clear()
        _PER_ROW[key] = prepared
    return prepared, tuple(numbers)


_PER_ROW: dict[tuple, Prepared] = {}


def _any_missing(values: tuple) -> bool:
    return any(v is MISSING for _, vals in values for _, v in vals)


# --- binding ----------------------------------------------------------------------------------
def bind(
    cfg: ChainConfig,
    schema: Schema,
    db: Mapping | None = None,
    channel: str | None = None,
    prepared: Prepared | None = None,
) -> Plan:
    """Bind ``cfg`` to ``schema`` with the database entry ``db`` of ``channel``."""
    prepared = prepared or prepare(cfg, db, channel)
    binder = _Binder(schema, prepared.params)
    for key in prepared.order:
        binder.bind_processor(prepared.specs[key])
    return binder.finish(cfg, prepared)


class _Binder:
    def __init__(self, schema: Schema, params: Sequence[Parameter] = ()):
        self.schema = schema
        self.params = {p.name: p for p in params}
        #: ids of the variables computed from per-row database values alone: the same for
        #: every row of a channel
        self.per_channel: set[int] = set()
        self.names: dict[str, Var] = {}
        self.inputs: dict[tuple, Var] = {}
        self.steps: list[Step] = []
        self.memo: dict[tuple, Var] = {}
        self.columns: dict[str, None] = {}
        self.waveforms: dict[str, float] = {}
        self.label = ""
        self.key: str | None = None
        self.spec: ProcessorSpec | None = None
        self.serial = 0

    # --- errors ---------------------------------------------------------------------------
    def error(self, message: str, cls: type = DSPConfigError, key: str | None = None) -> Exception:
        return cls(message, processor=self.label or None, key=key or self.key)

    # --- processors -----------------------------------------------------------------------
    def bind_processor(self, spec: ProcessorSpec) -> None:
        self.spec = spec
        self.label = spec.label
        self.key = "function"
        fresh = [Var(name, unit=unit) for name, unit in zip(spec.outputs, spec.units, strict=True)]
        if spec.expression is not None:
            if len(spec.outputs) != 1:
                raise self.error("an expression computes one column, not several")
            value = self.evaluate(spec.expression)
            if isinstance(value, dict):
                raise self.error("an expression cannot be a keyword assignment")
            self.names[spec.outputs[0]] = self.alias(spec.outputs[0], value, spec.units[0])
            return
        for var in fresh:
            self.names[var.name] = var
        func = self.find_function(spec)
        if spec.init_args is not None:
            func = self.build_factory(spec, func)
        elif getattr(func, "is_factory", False):
            raise self.error(
                f"{spec.function!r} is a factory: give its set-up constants in 'init_args'",
                key="init_args",
            )
        keys: list[str] = []
        values: list[Any] = []
        kwargs: dict[str, tuple[str, Any]] = {}
        for i, arg in enumerate(spec.args):
            self.key = key = f"args[{i}]"
            value = self.evaluate(arg) if isinstance(arg, str) else _literal(arg)
            if isinstance(value, dict):
                for name, val in value.items():
                    kwargs[name] = (key, val)
            else:
                keys.append(key)
                values.append(value)
        self.key = "args"
        self.call(spec, func, keys, values, kwargs)
        for var in fresh:
            if not var.ready and self.names.get(var.name) is var:
                raise self.error(
                    f"{var.name!r} is named in the key but is not among the processor's outputs",
                    key="args",
                )

    def find_function(self, spec: ProcessorSpec) -> Callable:
        name, module = spec.function, spec.module
        assert name is not None  # only a processor spec with a function is called
        self.key = "function"
        if (
            module is None
            or module in PROCESSOR_LIBRARIES
            or module.startswith(tuple(m + "." for m in PROCESSOR_LIBRARIES))
        ):
            try:
                return _library_function(name)
            except library.UnknownProcessorError:
                close = difflib.get_close_matches(name, library.names(), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                known = "" if close else f"; known processors: {', '.join(library.names())}"
                raise self.error(f"unknown processor {name!r}{hint}{known}") from None
        try:  # numpy's allowed functions, or a module the user trusts: never one a config picks
            return config_function(module, name)
        except DSPConfigError as err:
            raise self.error(err.reason, key=err.key) from None

    def build_factory(self, spec: ProcessorSpec, factory: Callable) -> Callable:
        args, kwargs = [], {}
        for i, arg in enumerate(spec.init_args or ()):
            self.key = f"init_args[{i}]"
            value = self.evaluate(arg) if isinstance(arg, str) else _literal(arg)
            if isinstance(value, dict):
                kwargs.update({k: self.constant_value(v) for k, v in value.items()})
            else:
                args.append(self.constant_value(value))
        self.key = "init_args"
        try:
            return factory(*args, **kwargs)
        except Exception as err:
            raise self.error(f"{spec.function}(...) failed: {type(err).__name__}: {err}") from err

    def constant_value(self, value: Any) -> Any:
        if isinstance(value, Var):
            if value.kind != "const":
                raise self.error(
                    f"{value.name!r} varies per row; set-up arguments must be constants"
                )
            return value.value
        if is_quantity(value):
            grid = self.default_grid()
            try:
                return to_samples(value, grid)
            except ValueError as err:
                raise self.error(str(err), DSPUnitError) from None
        return value

    def default_grid(self) -> Grid | None:
        for var in self.inputs.values():
            if var.grid is not None and var.time is None:
                return var.grid
        return None

    # --- one call ---------------------------------------------------------------------------
    def call(
        self,
        spec: ProcessorSpec,
        func: Callable,
        keys: list[str],
        values: list[Any],
        kwargs: dict[str, tuple[str, Any]],
    ) -> None:
        """Bind one call of ``func``: ``values`` are its positional arguments (given as the
        config keys ``keys``), ``kwargs`` maps keyword names to (config key, value); both lists
        get the keyword arguments appended."""
        fname = spec.function or str(getattr(func, "__name__", "function"))
        info_sig, info_types, fast = _function_info(func)
        signature = spec.signature or info_sig
        types = tuple(spec.types) if spec.types else info_types
        if signature is None or not types:
            raise self.error(
                f"{fname!r} is not a gufunc: give its 'signature' (e.g. '(n),()->()') and "
                f"'types' (e.g. ['fi->f'])",
                key="function",
            )
        ins_dims, outs_dims = _parse_signature(signature)
        if kwargs and hasattr(func, "ufunc") and not isinstance(func, np.ufunc):
            first = next(iter(kwargs.values()))[0]
            raise self.error(f"{fname!r} takes no keyword arguments", key=first)
        n_pos = len(values)
        if kwargs:
            self.check_keywords(func, fname, kwargs)
            for key, value in kwargs.values():
                keys.append(key)
                values.append(value)
        n = len(values)
        dims_all = ins_dims + outs_dims
        if n != len(dims_all):
            raise self.error(
                f"{fname} takes {len(ins_dims)} inputs and {len(outs_dims)} outputs (signature "
                f"{signature}); got {n} arguments",
                key="args",
            )
        if "->" in signature:
            is_out, in_idx, out_idx = _split_outputs(len(ins_dims), n)
        else:  # in-place style "(n),(m),(p)": the variables this processor makes are outputs
            is_out = tuple(isinstance(v, Var) and not v.ready for v in values)
            in_idx = tuple(i for i in range(n) if not is_out[i])
            out_idx = tuple(i for i in range(n) if is_out[i])
        for k, value, out in zip(keys, values, is_out, strict=True):
            if isinstance(value, Var):
                if out == value.ready:
                    if out:
                        raise self.error(
                            f"argument {value.name} is an output of {fname} ({signature}) but "
                            "it is already computed",
                            key=k,
                        )
                    raise self.error(f"{value.name!r} is used before it is computed", key=k)
            elif out:
                raise self.error(
                    f"argument {value!r} is an output of {fname} ({signature}) but it is "
                    "not a column name",
                    key=k,
                )
        ins = [values[i] for i in in_idx]
        outs = [values[i] for i in out_idx]

        grid = self.processor_grid(spec, ins)
        sig = self.choose_types(fname, types, values, is_out)

        # inputs: casts, time conversions, constants; then the dimensions they fix
        prepared: list[Any] = list(values)
        for i in in_idx:
            self.key = keys[i]
            prepared[i] = self.prepare_input(values[i], sig[i], dims_all[i], grid, fname)
        ins = [prepared[i] for i in in_idx]
        ins_dims = [dims_all[i] for i in in_idx]
        dims_bound = self.bind_dims(fname, ins, ins_dims, [keys[i] for i in in_idx])
        # outputs: shapes, dtypes, grids, times
        for i in out_idx:
            self.key = keys[i]
            self.prepare_output(
                values[i], sig[i], dims_all[i], dims_bound, grid, ins, ins_dims, fname
            )

        self.key = "args"
        pos = tuple(prepared[:n_pos])
        kw = dict(zip(list(kwargs), prepared[n_pos:], strict=True)) if kwargs else {}
        text = _CallText(self.label, fname, pos, kw)
        target = func if kw else _loop(func, sig, fast)
        if all(not isinstance(v, Var) or v.kind == "const" for v in ins):
            self.run_constant(target, pos, kw, outs, text)
        elif not kw and self.per_channel_values(ins):
            rows = tuple(i for i, v in enumerate(pos) if isinstance(v, Var) and v.kind != "const")
            outputs = tuple(i for i, v in enumerate(pos) if any(v is o for o in outs))
            self.steps.append(Step(self.label, text, _DistinctRows(target, rows, outputs), pos))
            self.per_channel.update(id(o) for o in outs)
        else:
            self.steps.append(Step(self.label, text, target, pos, kw))
        for out in outs:
            out.ready = True

    def check_keywords(self, func: Callable, fname: str, kwargs: Mapping) -> None:
        if not kwargs or isinstance(func, np.ufunc):
            return
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            return
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return
        for name, (key, _) in kwargs.items():
            if name not in params:
                close = difflib.get_close_matches(name, list(params), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error(f"{fname} has no argument {name!r}{hint}", key=key)

    def processor_grid(self, spec: ProcessorSpec, ins: Sequence[Any]) -> Grid | None:
        if spec.coord_grid is not None:
            self.key = "coord_grid"
            value = self.evaluate(spec.coord_grid)
            if isinstance(value, Var) and value.grid is not None:
                return value.grid
            if isinstance(value, Grid):
                return value
            if isinstance(value, TimeQuantity) and value.power == 1:
                return Grid(value.ns)
            raise self.error(f"{spec.coord_grid!r} gives no sampling grid")
        for value in ins:
            if (
                isinstance(value, Var)
                and value.grid is not None
                and value.time is None
                and value.shape
            ):
                return value.grid
        for value in ins:
            if isinstance(value, Var) and value.time == "point" and value.grid is not None:
                return value.grid
        return None

    def choose_types(
        self, fname: str, types: Sequence[str], values: list, is_out: Sequence[bool]
    ) -> str:
        """The first type signature the arguments cast to (an exact match of the outputs'
        declared types first), remembered by the arguments' kinds and dtypes."""
        key = (types, is_out, *_type_keys(values))
        found = _CHOSEN_TYPES.get(key)
        if found is None:
            found = self._choose_types(fname, types, values, is_out)
            if len(_CHOSEN_TYPES) >= 4096:
                _CHOSEN_TYPES.clear()
            _CHOSEN_TYPES[key] = found
        return found

    def _choose_types(
        self, fname: str, types: Sequence[str], values: list, is_out: Sequence[bool]
    ) -> str:
        sigs = [t.replace("->", "") for t in types]
        n = len(values)
        sigs = [s for s in sigs if len(s) == n]
        if not sigs:
            raise self.error(f"the types of {fname} ({list(types)}) do not match its {n} arguments")
        found = sigs
        for i, value in enumerate(values):
            if (
                isinstance(value, Var) and value.dtype is not None and value.weak is None
            ) or isinstance(value, np.ndarray):
                found = [s for s in found if _can_cast(value.dtype, s[i])]
        if not found:
            have = ", ".join(
                f"{_show(v)}: {v.dtype}"
                for v, o in zip(values, is_out, strict=True)
                if isinstance(v, Var | np.ndarray) and not o
            )
            raise self.error(
                f"no type signature of {fname} fits its inputs ({have}); it takes {', '.join(types)}",
                DSPInputError,
                key="args",
            )
        exact = [
            s
            for s in found
            if all(
                not o or not isinstance(v, Var) or v.dtype is None or _dtype(s[i]) == v.dtype
                for i, (v, o) in enumerate(zip(values, is_out, strict=True))
            )
        ]
        return (exact or found)[0]

    def prepare_input(self, value: Any, ch: str, dims: tuple, grid: Grid | None, fname: str) -> Any:
        dtype = _dtype(ch)
        if isinstance(value, Var) and value.weak is not None:
            return self.prepare_weak_input(value, dtype, grid)
        if isinstance(value, Var):
            if value.shape is not None and len(value.shape) < len(dims):
                raise self.error(
                    f"{value.name!r} has one value per row (shape {value.shape}) but {fname} "
                    f"needs an array of shape ({', '.join(dims)}) per row here",
                    DSPInputError,
                )
            if value.time == "point" and grid is not None and value.grid != grid:
                value = self.regrid(value, grid)
            elif (
                value.time == "span" and grid is not None and value.sampling().period != grid.period
            ):
                value = self.rescale(value, grid)
            if value.dtype != dtype:
                value = self.cast(value, dtype)
            return value
        if value is None:
            return None
        if isinstance(value, Grid):
            raise self.error("a grid is not a value; use it in round(x, grid)")
        if is_quantity(value):
            try:
                value = to_samples(value, grid)
            except ValueError as err:
                raise self.error(f"{err} (in {fname})", DSPUnitError) from None
        if isinstance(value, str):
            if dtype.kind in "iub" and len(value) == 1:
                return dtype.type(ord(value))
            if dtype.kind in "iub":
                raise self.error(f"string {value!r} must be one character for {fname}")
            return value
        if isinstance(value, np.ndarray):
            if value.ndim < len(dims):
                raise self.error(f"constant of shape {value.shape} for ({', '.join(dims)})")
            return value.astype(dtype, copy=False)
        if dtype.kind in "iu":
            return dtype.type(round(float(value)))
        if dtype.kind in "fcb?":
            return dtype.type(value)
        return value

    def prepare_weak_input(self, value: Var, dtype: np.dtype, grid: Grid | None) -> Var:
        """A per-row database value as a processor's argument of type ``dtype``: converted as
        its constant would be (times to samples of ``grid``, rounded to the nearest integer
        for an integer argument)."""
        if value.time == "span":
            if grid is None:
                raise self.per_row_unsupported("a time without a waveform's grid")
            if value.sampling().period != grid.period:
                value = self.rescale(value, grid)
        elif value.time is not None:
            raise self.per_row_unsupported("a time point")
        if dtype.kind in "iu" and value.bound_dtype().kind == "f":
            value = self.round_step("round", value, 1.0)
        return self.cast(value, dtype) if value.dtype != dtype else value

    def bind_dims(
        self, fname: str, values: list[Any], ins_dims: list[tuple], keys: list[str]
    ) -> dict[str, int]:
        bound: dict[str, int] = {}
        for key, value, dims in zip(keys, values, ins_dims, strict=True):
            if not dims:
                continue
            shape = _shape_of(value)
            if shape is None:
                continue
            if len(shape) != len(dims):
                raise self.error(
                    f"{_show(value)} has shape {shape} per row but {fname} needs "
                    f"({', '.join(dims)})",
                    DSPInputError,
                    key=key,
                )
            for dim, size in zip(dims, shape, strict=True):
                if dim.isdigit():
                    if int(dim) != size:
                        raise self.error(
                            f"{_show(value)} must have length {dim}, not {size}",
                            DSPInputError,
                            key=key,
                        )
                elif bound.setdefault(dim, size) != size:
                    raise self.error(
                        f"{_show(value)} has length {size} but dimension {dim!r} of {fname} "
                        f"is {bound[dim]} from another argument",
                        DSPInputError,
                        key=key,
                    )
        return bound

    def prepare_output(
        self,
        out: Var,
        ch: str,
        dims: tuple,
        bound: dict[str, int],
        grid: Grid | None,
        ins: list[Any],
        ins_dims: list[tuple],
        fname: str,
    ) -> None:
        shape = []
        for dim in dims:
            if dim.isdigit():
                shape.append(int(dim))
            elif dim in bound:
                shape.append(bound[dim])
            elif out.shape is not None and len(out.shape) == len(dims):
                size = out.shape[len(shape)]
                bound[dim] = size
                shape.append(size)
            else:
                raise self.error(
                    f"cannot tell the length of dimension {dim!r} of output {out.name!r}; "
                    f"declare it, e.g. \"{out.name}(100, 'f')\"",
                )
        if out.shape is not None and tuple(out.shape) != tuple(shape):
            raise self.error(
                f"{out.name!r} is declared with shape {out.shape} but {fname} makes {tuple(shape)}",
                DSPInputError,
            )
        out.shape = tuple(shape)
        if out.dtype is None:
            out.dtype = np.dtype(ch)
        out.kind = "buffer"
        if is_time_unit(out.unit) and grid is not None and out.time is None:
            out.time, out.grid = "point", grid
        elif out.shape and out.grid is None:
            for value, vdims in zip(ins, ins_dims, strict=True):
                if (
                    isinstance(value, Var)
                    and value.grid is not None
                    and value.time is None
                    and vdims
                    and vdims[-1] == dims[-1]
                ):
                    out.grid = value.grid
                    break
        if out.unit is None and out.time is None:
            for value in ins:
                if isinstance(value, Var) and value.shape and value.time is None and value.unit:
                    out.unit = value.unit
                    break

    def run_constant(
        self, func: Callable, pos: Sequence, kw: dict, outs: list[Var], text: Callable
    ) -> None:
        arrays = {id(o): np.zeros(o.bound_shape(), o.bound_dtype()) for o in outs}

        def real(v: Any) -> Any:
            if isinstance(v, Var):
                return arrays.get(id(v), v.value)
            return v

        try:
            func(*[real(a) for a in pos], **{k: real(v) for k, v in kw.items()})
        except Exception as err:
            raise self.error(f"{text()} failed: {type(err).__name__}: {err}") from err
        for out in outs:
            out.kind = "const"
            out.value = arrays[id(out)]

    # --- derived variables -----------------------------------------------------------------
    def new_var(self, name: str, **attrs: Any) -> Var:
        return Var(name, ready=True, **attrs)

    def cast(self, var: Var, dtype: np.dtype) -> Var:
        key = ("cast", id(var), dtype.str)
        found = self.memo.get(key)
        if found is not None:
            return found
        name = f"{var.name}.astype({dtype.char!r})"
        attrs = dict(shape=var.shape, dtype=dtype, unit=var.unit, grid=var.grid, time=var.time)
        if var.kind == "input":
            out = self.new_var(
                name, kind="input", column=var.column, index=var.index, scale=var.scale, **attrs
            )
        elif var.kind == "const":
            out = self.new_var(
                name, kind="const", value=np.asarray(var.value).astype(dtype), **attrs
            )
        elif var.kind == "view" and var.base is not None and var.base.kind == "input":
            base = var.base
            out = self.new_var(
                name,
                kind="input",
                column=base.column,
                index=base.index + var.index,
                scale=base.scale,
                **attrs,
            )
        else:
            out = self.new_var(name, **attrs)
            self.steps.append(Step(self.label, f"{self.label}: {name}", _copy, (var, out)))
        self.per_channel_values([var], [out])
        self.memo[key] = out
        return out

    def offset_var(self, grid: Grid) -> Var | None:
        if grid.offset_var is None:
            return None
        return self.inputs[("t0", grid.offset_var)]

    def regrid(self, var: Var, grid: Grid, mode: str | None = None) -> Var:
        key = ("regrid", id(var), grid, mode)
        found = self.memo.get(key)
        if found is not None:
            return found
        src = var.grid or _ABSOLUTE
        dtype = var.dtype if var.bound_dtype().kind == "f" else np.dtype("float64")
        out = self.new_var(
            f"{var.name}@{grid.describe()}",
            shape=var.shape,
            dtype=dtype,
            unit=var.unit,
            grid=grid,
            time="point",
        )
        t0_from = self.offset_var(src) if not src.same_frame(grid) else None
        t0_to = self.offset_var(grid) if not src.same_frame(grid) else None
        rounding = None if mode is None else _ROUNDING.get(mode)
        func = _Regrid(src.period, grid.period, src.offset - grid.offset, rounding)
        text = f"{self.label}: {out.name} = {mode or 'convert'}({var.name})"
        self.steps.append(Step(self.label, text, func, (var, t0_from, t0_to, out)))
        self.memo[key] = out
        return out

    def rescale(self, var: Var, grid: Grid) -> Var:
        if var.weak is not None:  # as to_samples converts a constant: divided by the period
            divisor = grid.period / var.sampling().period
            out = self.binop_vars(ast.Div(), var, divisor, f"({var.name}/{divisor:g})")
            out.time, out.grid = "span", grid
            return self.snapped(out)
        factor = var.sampling().period / grid.period
        out = self.binop_vars(ast.Mult(), var, factor, f"({var.name}*{factor:g})")
        out.time, out.grid = "span", grid
        return out

    def alias(self, name: str, value: Any, unit: str | None) -> Var:
        if isinstance(value, Var) and value.weak is not None:
            if value.time is not None:
                raise self.per_row_unsupported(f"{name!r}, a time,")
            if value.weak is int and value.bound_dtype().kind == "f":  # a constant would be an int
                value = self.cast(value, np.dtype("int64"))
        if isinstance(value, Var):
            out = Var(
                name,
                shape=value.shape,
                dtype=value.dtype,
                unit=unit or value.unit,
                grid=value.grid,
                time=value.time,
                kind="const" if value.kind == "const" else "view",
                base=None if value.kind == "const" else value,
                value=value.value,
                ready=True,
            )
            if value.kind == "view":
                out.base, out.index = value.base, value.index
            return out
        if isinstance(value, TimeQuantity) and value.power == 1:
            if unit is not None and unit_in_ns(unit):
                value = value.to(unit)
            else:
                value, unit = value.ns, unit or "ns"
        elif is_quantity(value) or isinstance(value, Var):
            value = self.constant_value(value)
        if isinstance(value, str) or value is None or isinstance(value, Grid):
            raise self.error(f"{value!r} is not a number")
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise self.error(f"{value!r} is not a number")
        if arr.dtype.kind == "f" and arr.dtype != np.float64:
            arr = arr.astype(np.float64)
        return Var(
            name, shape=arr.shape, dtype=arr.dtype, unit=unit, kind="const", value=arr, ready=True
        )

    # --- inputs --------------------------------------------------------------------------------
    def input(self, name: str) -> Var:
        found = self.names.get(name)
        if found is not None:
            return found
        info: ColumnInfo = self.schema[name]
        self.columns[name] = None
        if info.kind == "array":
            var = Var(
                name,
                shape=info.shape,
                dtype=np.dtype(info.dtype),
                unit=info.unit,
                kind="input",
                column=name,
                ready=True,
            )
            ns = unit_in_ns(info.unit)
            if ns is not None and not info.shape:
                var.time, var.grid = "point", Grid(ns)
        elif info.kind == "waveform":
            if not info.dt or not np.isfinite(info.dt):
                raise self.error(
                    f"waveform column {name!r} has no sampling period dt", DSPInputError
                )
            t0_name = f"{name}.t0"
            t0_scale = unit_in_ns(info.t0_unit) or 1.0
            t0 = Var(
                t0_name,
                shape=(),
                dtype=np.dtype("float64"),
                unit="ns",
                kind="input",
                column=f"{name}/t0",
                scale=t0_scale,
                ready=True,
                time="point",
                grid=_ABSOLUTE,
            )
            self.inputs[("t0", t0_name)] = t0
            var = Var(
                name,
                shape=info.shape,
                dtype=np.dtype(info.dtype),
                unit=info.unit,
                grid=Grid(info.dt, 0.0, t0_name),
                kind="input",
                column=f"{name}/values",
                ready=True,
            )
            self.waveforms[name] = info.dt
        elif info.kind == "vov":
            raise self.error(
                f"column {name!r} holds arrays of different lengths per row (a vector of "
                "vectors); processors need equal-length waveforms",
                DSPInputError,
            )
        else:
            raise self.error(
                f"column {name!r} ({info.dtype}) cannot be used by a processor", DSPInputError
            )
        self.inputs[("col", name)] = var
        self.names[name] = var
        return var

    def parameter(self, param: Parameter) -> Var:
        """The per-row column of a database value, typed as the constant it stands for (a
        Python ``int`` or ``float``: "weak"); times are spans in ns."""
        key = ("param", param.name)
        found = self.inputs.get(key)
        if found is None:
            time = param.kind == "time"
            found = self.inputs[key] = Var(
                param.name,
                shape=(),
                dtype=param.dtype,
                unit="ns" if time else None,
                grid=_ABSOLUTE if time else None,
                time="span" if time else None,
                kind="input",
                column=param.name,
                ready=True,
                weak=int if param.kind == "int" else float,
            )
            self.per_channel.add(id(found))
        return found

    def per_channel_values(self, values: Sequence[Any], outs: Sequence[Var] = ()) -> bool:
        """Whether the variables among ``values`` come from per-row database values alone
        (and there is one at least); if so, ``outs`` are such values too."""
        found = [v for v in values if isinstance(v, Var) and v.kind != "const"]
        if not found or not all(id(v) in self.per_channel for v in found):
            return False
        self.per_channel.update(id(o) for o in outs)
        return True

    def per_row_unsupported(self, what: str) -> Exception:
        """The error for a use of a per-row database value that only a constant supports (the
        chain is then bound with the values as constants)."""
        return self.error(f"{what} needs the database value as a constant")

    # --- expressions ---------------------------------------------------------------------------
    def evaluate(self, text: str) -> Any:
        try:
            kind, target, node = _statement(text)
            if node is not None:
                check_depth(node, text)
        except SyntaxError as err:
            raise self.error(f"cannot parse {text!r}: {err.msg}") from None
        except (RecursionError, MemoryError):
            raise self.error(f"{show(text)} is nested too deeply") from None
        except ExpressionError as err:
            raise self.error(str(err)) from None
        if kind is _SEVERAL:
            raise self.error(f"{text!r} must be one expression")
        self.text = text
        if node is None:  # a statement other than an expression or a keyword assignment
            raise self.error(f"{text!r} is not an expression")
        value = self.expr(node)
        return {target: value} if kind is _ASSIGNMENT else value

    def expr(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.BinOp):
            return self.binop(node.op, self.expr(node.left), self.expr(node.right))
        if isinstance(node, ast.Call):
            return self.call_expr(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node.op, self.expr(node.operand))
        if isinstance(node, ast.List | ast.Tuple):
            try:
                return np.array(ast.literal_eval(node))
            except ValueError:
                raise self.error(f"list {ast.unparse(node)!r} must hold constants only") from None
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise self.error("chained comparisons are not supported")
            return self.compare(node.ops[0], self.expr(node.left), self.expr(node.comparators[0]))
        if isinstance(node, ast.IfExp):
            return self.where(self.expr(node.test), self.expr(node.body), self.expr(node.orelse))
        raise self.error(f"unsupported syntax {ast.unparse(node)!r}")

    def name(self, name: str) -> Any:
        found = self.names.get(name)
        if found is not None:
            return found
        if name in self.params:  # before columns: a column may not shadow a database value
            return self.parameter(self.params[name])
        if name in self.schema:
            return self.input(name)
        if is_unit_name(name):
            return unit(name)
        known = list(self.names) + list(self.schema.names)
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise self.error(
            f"unknown name {name!r}: no processor computes it and the input has no such column"
            f"{hint} (columns: {', '.join(self.schema.names)})",
            DSPInputError,
        )

    def fold(self, func: Callable, *values: Any) -> Any:
        try:
            result = func(*values)
        except Exception as err:
            if isinstance(err, UnitMismatchError) or "Dimensionality" in type(err).__name__:
                raise self.error(
                    f"units do not match in {self.text!r}: {err}", DSPUnitError
                ) from None
            raise self.error(f"cannot evaluate {self.text!r}: {err}") from None
        if is_quantity(result) and not isinstance(result, TimeQuantity) and result.dimensionless:
            return snap(float(result.to("").magnitude))
        return result

    def binop(self, op: ast.operator, a: Any, b: Any) -> Any:
        if type(op) not in _BINOPS:
            raise self.error(f"operator {type(op).__name__} is not supported")
        a, b = _unwrap_const(a), _unwrap_const(b)
        if not isinstance(a, Var) and not isinstance(b, Var):
            try:  # 9**9**9, 'x' * 10**12: refused, not computed
                check_binop(type(op), a, b, self.text)
            except ExpressionError as err:
                raise self.error(str(err)) from None
            return self.fold(_BINOPS[type(op)][1], a, b)
        return self.binop_vars(op, a, b)

    def as_operand(self, value: Any, like: Var) -> Any:
        if is_quantity(value):
            grid = like.grid if like.grid is not None else None
            try:
                return to_samples(value, grid)
            except ValueError as err:
                raise self.error(f"{err} (in {self.text!r})", DSPUnitError) from None
        if isinstance(value, str | Grid) or value is None:
            raise self.error(f"{value!r} cannot be used in arithmetic")
        return value

    def binop_vars(self, op: ast.operator, a: Any, b: Any, name: str | None = None) -> Var:
        for v in (a, b):
            if isinstance(v, Var) and not v.ready:
                raise self.error(f"{v.name!r} is used before it is computed")
        if any(_weak_time(v) for v in (a, b)):
            return self.weak_time_binop(op, a, b, name)
        return self.plain_binop(op, a, b, name)

    def plain_binop(self, op: ast.operator, a: Any, b: Any, name: str | None = None) -> Var:
        ufunc, _, sym = _BINOPS[type(op)]
        var = a if isinstance(a, Var) else b
        a = a if isinstance(a, Var) else self.as_operand(a, var)
        b = b if isinstance(b, Var) else self.as_operand(b, var)
        if (
            isinstance(a, Var)
            and isinstance(b, Var)
            and a.time == b.time == "point"
            and a.grid != b.grid
        ):
            b = self.regrid(b, a.sampling())
        time, grid, unit = _arith_units(type(op), _as_constant(a), _as_constant(b))
        return self.ufunc_step(
            ufunc, (a, b), name or f"({_show(a)}{sym}{_show(b)})", time, grid, unit
        )

    def weak_time_binop(self, op: ast.operator, a: Any, b: Any, name: str | None) -> Var:
        """Arithmetic on a per-row database time (a span), with the units its constant has:
        times add to times (on the other's grid), scale by numbers, divide by a time into a
        number. Anything else is left to constants."""
        kind = type(op)
        span_first = _weak_time(a)
        span, other = (a, b) if span_first else (b, a)
        unitless = (isinstance(other, int | float) and not isinstance(other, bool)) or (
            isinstance(other, Var) and other.weak is not None and other.time is None
        )
        if kind in (ast.Add, ast.Sub):
            if isinstance(other, TimeQuantity) and other.power == 1:
                return self.plain_binop(op, a, b, name)
            if not isinstance(other, Var) or other.time is None:
                raise self.per_row_unsupported("adding a time and a number")
            if other.grid is not None and other.grid.period != span.grid.period:
                if _weak_time(other):
                    other = self.rescale(other, span.sampling())
                else:
                    span = self.rescale(span, other.sampling())
            first, second = (span, other) if span_first else (other, span)
            return self.plain_binop(op, first, second, name)
        if unitless and (kind is ast.Mult or (kind is ast.Div and span_first)):
            out = self.plain_binop(op, a, b, name)
            out.time, out.grid, out.unit = "span", span.grid, span.unit
            return out
        if kind is ast.Div and span_first and isinstance(other, TimeQuantity) and other.power == 1:
            out = self.plain_binop(op, a, b, name)
            out.time, out.grid, out.unit = None, None, None
            return self.snapped(out)
        raise self.per_row_unsupported(f"{kind.__name__} on a time")

    def ufunc_step(
        self,
        ufunc: np.ufunc,
        operands: tuple,
        name: str,
        time: str | None,
        grid: Grid | None,
        unit: str | None,
    ) -> Var:
        weak = None
        if any(isinstance(v, Var) and v.weak is not None for v in operands):
            operands, weak = self.weak_operands(ufunc, operands)
        try:
            shape, dtype = _ufunc_result(ufunc, operands)
            operands = tuple(self.expand(v, len(shape)) for v in operands)
        except Exception as err:
            raise self.error(f"cannot compute {name}: {err}") from None
        out = self.new_var(
            name, shape=shape, dtype=dtype, unit=unit, grid=grid, time=time, weak=weak
        )
        if all(not isinstance(v, Var) or v.kind == "const" for v in operands):
            out.kind = "const"
            out.value = np.asarray(ufunc(*[_unwrap_value(v) for v in operands])).astype(dtype)
            return out
        args = (*operands, out)
        self.steps.append(Step(self.label, _UfuncText(self.label, ufunc, args), ufunc, args))
        self.per_channel_values(operands, [out])
        return out

    def weak_operands(self, ufunc: np.ufunc, operands: tuple) -> tuple[tuple, type | None]:
        """``operands`` with the per-row database values cast to the type numpy gives their
        constants in this ufunc (a Python number adopts the other operand's type), and the
        Python type of the result when every operand is such a value or a number (then the
        result stands for a constant too), else ``None``."""
        types: list[Any] = []
        for v in operands:
            if isinstance(v, Var):
                types.append(v.weak if v.weak is not None else v.dtype)
            elif type(v) in (int, float):
                types.append(type(v))
            else:
                types.append(np.asarray(v).dtype)
        try:
            loop = ufunc.resolve_dtypes((*types, *(None,) * ufunc.nout))
        except Exception as err:
            raise self.error(f"cannot compute {ufunc.__name__}: {err}") from None
        cast = tuple(
            self.cast(v, loop[i])
            if isinstance(v, Var) and v.weak is not None and v.dtype != loop[i]
            else v
            for i, v in enumerate(operands)
        )
        if not all(t in (int, float) for t in types):
            return cast, None
        kind = loop[-1].kind
        return cast, (float if kind == "f" else int if kind in "iu" else None)

    def expand(self, value: Any, ndim: int) -> Any:
        """A per-row variable with new axes after the row axis, to broadcast to ``ndim``."""
        if not isinstance(value, Var) or value.kind == "const":
            return value
        row_shape = value.bound_shape()
        if len(row_shape) >= ndim:
            return value
        extra = ndim - len(row_shape)
        index = (None,) * extra + (slice(None),) * len(row_shape)
        shape = (1,) * extra + row_shape
        view = self.new_var(
            value.name,
            shape=shape,
            dtype=value.dtype,
            unit=value.unit,
            grid=value.grid,
            time=value.time,
            kind="view",
            base=value,
            index=index,
        )
        self.per_channel_values([value], [view])
        return view

    def unary(self, op: ast.unaryop, a: Any) -> Any:
        a = _unwrap_const(a)
        if isinstance(op, ast.UAdd):
            return a
        if not isinstance(op, ast.USub):
            raise self.error(f"operator {type(op).__name__} is not supported")
        if not isinstance(a, Var):
            return self.fold(operator.neg, a)
        return self.ufunc_step(np.negative, (a,), f"(-{a.name})", a.time, a.grid, a.unit)

    def compare(self, op: ast.cmpop, a: Any, b: Any) -> Any:
        ufunc, func, sym = _COMPARE[type(op)]
        a, b = _unwrap_const(a), _unwrap_const(b)
        if any(isinstance(v, Var) and v.weak is not None for v in (a, b)):
            raise self.per_row_unsupported("a comparison")
        if not isinstance(a, Var) and not isinstance(b, Var):
            return self.fold(func, a, b)
        var = a if isinstance(a, Var) else b
        a = a if isinstance(a, Var) else self.as_operand(a, var)
        b = b if isinstance(b, Var) else self.as_operand(b, var)
        if (
            isinstance(a, Var)
            and isinstance(b, Var)
            and a.time == b.time == "point"
            and a.grid != b.grid
        ):
            b = self.regrid(b, a.sampling())
        return self.ufunc_step(ufunc, (a, b), f"({_show(a)}{sym}{_show(b)})", None, None, None)

    def subscript(self, node: ast.Subscript) -> Var:
        base = self.expr(node.value)
        if not isinstance(base, Var) or not base.shape:
            raise self.error(
                f"{ast.unparse(node.value)!r} is not an array per row and cannot be sliced"
            )
        length = base.shape[-1]
        if isinstance(node.slice, ast.Slice):
            parts = []
            for part in (node.slice.lower, node.slice.upper, node.slice.step):
                parts.append(None if part is None else self.index_value(part, base))
            sl = slice(*parts)
            start, stop, step = sl.indices(length)
            if step <= 0:
                raise self.error("slices must step forwards")
            size = len(range(start, stop, step))
            if size == 0:
                raise self.error(
                    f"slice {ast.unparse(node)!r} of {base.name!r} (length {length}) is empty",
                    DSPInputError,
                )
            index: tuple[slice | int, ...] = (slice(start, stop, step),)
            shape = (*base.shape[:-1], size)
            grid = (
                base.grid.sliced(start, step)
                if base.grid is not None and base.time is None
                else base.grid
            )
            name = f"{base.name}[{start}:{stop}" + (f":{step}]" if step != 1 else "]")
        else:
            i = self.index_value(node.slice, base)
            if not -length <= i < length:
                raise self.error(
                    f"index {i} is outside {base.name!r} (length {length})", DSPInputError
                )
            index = (i % length,)
            shape = base.shape[:-1]
            grid = None if base.time is None else base.grid
            name = f"{base.name}[{i}]"
        if base.kind == "const":
            last_axes = (..., *index)
            value = np.asarray(base.value)[last_axes]
            return Var(
                name,
                shape=value.shape,
                dtype=value.dtype,
                unit=base.unit,
                kind="const",
                value=value,
                ready=True,
            )
        root, prefix = (base.base, base.index) if base.kind == "view" else (base, ())
        if len(base.shape) > 1:
            index = (slice(None),) * (len(base.shape) - 1) + index
        if prefix:
            if len(prefix) != len(index) or not all(isinstance(p, slice) for p in prefix):
                # compose by creating a view of a view
                return self.new_var(
                    name,
                    shape=shape,
                    dtype=base.dtype,
                    unit=base.unit,
                    grid=grid,
                    time=base.time,
                    kind="view",
                    base=base,
                    index=index,
                )
            index = tuple(_compose(p, q) for p, q in zip(prefix, index, strict=True))
        return self.new_var(
            name,
            shape=shape,
            dtype=base.dtype,
            unit=base.unit,
            grid=grid,
            time=base.time,
            kind="view",
            base=root,
            index=index,
        )

    def index_value(self, node: ast.AST, base: Var) -> int:
        value = _unwrap_const(self.expr(node))
        if isinstance(value, Var):
            raise self.error("slice bounds must be constants, not per-row values")
        if is_quantity(value):
            try:
                value = to_samples(value, base.grid)
            except ValueError as err:
                raise self.error(str(err), DSPUnitError) from None
        if not isinstance(value, int | float | np.integer | np.floating):
            raise self.error(f"slice bound {ast.unparse(node)!r} is not a number")
        return round(float(value))

    def attribute(self, node: ast.Attribute) -> Any:
        if isinstance(node.value, ast.Name) and node.value.id in ("np", "numpy"):
            if node.attr not in NUMPY_CONSTANTS:
                raise self.error(f"numpy.{node.attr} is not one of {sorted(NUMPY_CONSTANTS)}")
            return getattr(np, node.attr)
        base = self.expr(node.value)
        grid = base if isinstance(base, Grid) else getattr(base, "grid", None)
        if node.attr in ("period", "grid", "offset"):
            if grid is None:
                raise self.error(
                    f"{ast.unparse(node.value)!r} has no sampling grid (it is not a waveform)"
                )
            if node.attr == "period":
                return TimeQuantity(grid.period)
            if node.attr == "grid":
                return grid
            offset = self.offset_var(grid)
            if offset is None:
                return TimeQuantity(grid.offset)
            if grid.offset:
                return self.binop_vars(ast.Add(), offset, grid.offset)
            return offset
        raise self.error(f"unknown attribute {node.attr!r} (use .period, .grid or .offset)")

    def call_expr(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name):
            raise self.error(
                f"cannot call {ast.unparse(node.func)!r} inside an argument; make it a processor entry"
            )
        fname = node.func.id
        args = [self.expr(a) for a in node.args]
        kwargs: dict[str, Any] = {}
        for k in node.keywords:
            if k.arg is None:
                raise self.error(f"{ast.unparse(node)!r}: **arguments are not supported")
            kwargs[k.arg] = self.expr(k.value)
        if fname == "len":
            (value,) = args
            if not isinstance(value, Var) or not value.shape:
                raise self.error(f"len() of {ast.unparse(node.args[0])!r}, which is not an array")
            return value.shape[-1]
        if fname in _ROUNDING:
            return self.rounding(fname, *args, **kwargs)
        if fname == "astype":
            value, dtype = args
            if not isinstance(value, Var):
                return np.asarray(value).astype(dtype)
            return self.cast(value, np.dtype(dtype)) if value.dtype != np.dtype(dtype) else value
        if fname == "where":
            return self.where(*args, **kwargs)
        if fname in ("isnan", "isfinite"):
            (value,) = args
            ufunc = np.isnan if fname == "isnan" else np.isfinite
            if not isinstance(value, Var):
                return bool(ufunc(value))
            if value.weak is not None:
                raise self.per_row_unsupported(f"{fname}()")
            return self.ufunc_step(ufunc, (value,), f"{fname}({value.name})", None, None, None)
        return self.declare(fname, args, kwargs)

    def declare(self, name: str, args: list, kwargs: dict) -> Var:
        var = self.names.get(name)
        if var is None:
            if name in self.schema.names:
                raise self.error(f"{name!r} is an input column; it cannot be declared")
            var = Var(name)
            self.names[name] = var
        elif var.ready:
            raise self.error(f"{name}(...) declares {name!r}, which is already computed")
        if len(args) > len(_DECLARE_ORDER):
            raise self.error(f"too many arguments in {name}(...)")
        options = dict(zip(_DECLARE_ORDER, args, strict=False))
        for key, value in kwargs.items():
            if key not in _DECLARE_ORDER:
                raise self.error(
                    f"{name}(...) has no option {key!r}; it takes {', '.join(_DECLARE_ORDER)}"
                )
            options[key] = value
        if options.get("shape") is not None:
            shape = options["shape"]
            shape = tuple(shape.tolist()) if isinstance(shape, np.ndarray) else shape
            shape = shape if isinstance(shape, tuple) else (shape,)
            if not all(isinstance(s, int | float | np.integer | np.floating) for s in shape):
                raise self.error(f"shape of {name!r} must be numbers, not {shape!r}")
            var.shape = tuple(round(float(s)) for s in shape)
        if options.get("dtype") is not None:
            try:
                var.dtype = np.dtype(options["dtype"])
            except TypeError:
                raise self.error(f"{options['dtype']!r} is not a dtype") from None
        grid = options.get("grid")
        if grid is not None:
            var.grid = grid.grid if isinstance(grid, Var) else grid
            if not isinstance(var.grid, Grid):
                raise self.error(f"grid of {name!r} must be a waveform's .grid")
        if options.get("period") is not None:
            period = options["period"]
            if not isinstance(period, TimeQuantity) or period.power != 1:
                raise self.error(f"period of {name!r} must be a time")
            var.grid = Grid(period.ns)
        unit_value = options.get("unit")
        if unit_value is not None:
            unit = unit_value
            if isinstance(unit, TimeQuantity):
                unit = unit.label or "ns"
            elif is_quantity(unit):
                unit = format(unit.units, "~")
            var.unit = str(unit)
        if options.get("vector_len") is not None:
            raise self.error("vector_len (variable-length outputs) is not supported")
        return var

    def rounding(self, mode: str, value: Any, to_nearest: Any = 1, dtype: Any = None) -> Any:
        func = _ROUNDING[mode]
        value = _unwrap_const(value)
        if not isinstance(value, Var):
            if isinstance(to_nearest, Grid):
                try:
                    result = float(func(to_samples(value, to_nearest)))
                except ValueError as err:
                    raise self.error(str(err), DSPUnitError) from None
            elif is_quantity(to_nearest):
                if not is_quantity(value):
                    raise self.error(
                        f"{mode}({value!r}, {to_nearest}) mixes a number and a time", DSPUnitError
                    )
                n = self.fold(lambda a, b: float(a / b), value, to_nearest)
                result = float(func(n)) * to_nearest
            elif is_quantity(value):
                raise self.error(
                    f"{mode}({value}, {to_nearest!r}): give the step as a time (e.g. 16*ns) or a "
                    "waveform's .grid",
                    DSPUnitError,
                )
            else:
                result = float(func(value / to_nearest) * to_nearest)
            if dtype is not None and not is_quantity(result):
                result = np.dtype(dtype).type(result)
            elif isinstance(result, float) and result.is_integer():
                result = int(result)
            return result
        if value.weak is not None:
            return self.weak_rounding(mode, value, to_nearest, dtype)
        if isinstance(to_nearest, Grid):
            if value.time != "point":
                raise self.error(f"{mode}({value.name}, grid) needs a time, not {value.name!r}")
            out = self.regrid(value, to_nearest, mode)
            return self.cast(out, np.dtype(dtype)) if dtype is not None else out
        step = self.as_operand(to_nearest, value)
        name = f"{mode}({value.name}, {step:g})"
        dtype = np.dtype(dtype) if dtype is not None else value.dtype
        out = self.new_var(
            name, shape=value.shape, dtype=dtype, unit=value.unit, grid=value.grid, time=value.time
        )
        text = f"{self.label}: {name}"
        self.steps.append(Step(self.label, text, _Round(func, float(step)), (value, out)))
        return out

    def weak_rounding(self, mode: str, value: Var, to_nearest: Any, dtype: Any) -> Var:
        """``round()`` and the like of a per-row database number; its result stands for an
        ``int`` constant when the step is an integer (as the constant's would be)."""
        if value.time is not None or not isinstance(to_nearest, int | float):
            raise self.per_row_unsupported(f"{mode}() of a time")
        out = self.round_step(mode, value, float(to_nearest))
        if dtype is not None:
            return self.cast(out, np.dtype(dtype))
        out.weak = int if float(to_nearest).is_integer() else float
        return out

    def snapped(self, var: Var) -> Var:
        """``var`` without the last-bit error of unit conversions, as
        :func:`~tierflow.dsp.units.snap` gives a constant converted to a number."""
        out = self.new_var(
            f"snap({var.name})",
            shape=var.shape,
            dtype=var.dtype,
            unit=var.unit,
            grid=var.grid,
            time=var.time,
            weak=var.weak,
        )
        self.steps.append(Step(self.label, f"{self.label}: {out.name}", _snap, (var, out)))
        self.per_channel_values([var], [out])
        return out

    def round_step(self, mode: str, value: Var, step: float) -> Var:
        """A step rounding ``value`` to a multiple of ``step``, in its dtype."""
        name = f"{mode}({value.name}, {step:g})"
        out = self.new_var(name, shape=value.shape, dtype=value.dtype)
        text = f"{self.label}: {name}"
        self.steps.append(Step(self.label, text, _Round(_ROUNDING[mode], step), (value, out)))
        self.per_channel_values([value], [out])
        return out

    def where(self, condition: Any, a: Any, b: Any, dtype: Any = None) -> Any:
        condition = _unwrap_const(condition)
        if any(isinstance(v, Var) and v.weak is not None for v in (condition, a, b)):
            raise self.per_row_unsupported("where()")
        if not isinstance(condition, Var):
            return a if condition else b
        if condition.dtype != np.dtype(bool):
            raise self.error(f"{condition.name!r} is not a condition (bool)")
        var = next((v for v in (a, b) if isinstance(v, Var)), None)
        if var is not None:
            a = a if isinstance(a, Var) else self.as_operand(a, var)
            b = b if isinstance(b, Var) else self.as_operand(b, var)
        samples = [np.zeros(0, v.dtype) if isinstance(v, Var) else v for v in (a, b)]
        out_dtype = (
            np.dtype(dtype) if dtype is not None else np.where(np.zeros(0, bool), *samples).dtype
        )
        shape = np.broadcast_shapes(*[_shape_of(v) or () for v in (condition, a, b)])
        condition, a, b = (self.expand(v, len(shape)) for v in (condition, a, b))
        unit = var.unit if var is not None else None
        out = self.new_var(
            f"where({condition.name}, {_show(a)}, {_show(b)})",
            shape=tuple(shape),
            dtype=out_dtype,
            unit=unit,
            grid=var.grid if var is not None else None,
            time=var.time if var is not None else None,
        )
        self.steps.append(
            Step(self.label, f"{self.label}: {out.name}", _where, (condition, a, b, out))
        )
        return out

    # --- outputs --------------------------------------------------------------------------------
    def finish(self, cfg: ChainConfig, prepared: Any) -> Plan:
        outputs: list[Output] = []
        self.label = ""
        for name in cfg.outputs:
            self.key = "outputs"
            spec_key = cfg.producers.get(name)
            if spec_key is None:
                if name not in self.schema:
                    close = difflib.get_close_matches(
                        name, list(cfg.producers) + list(self.schema.names), n=3
                    )
                    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                    raise DSPInputError(
                        f"output {name!r} is not computed by any processor and the input has no "
                        f"such column{hint}",
                        key="outputs",
                    )
                self.columns[name] = None
                outputs.append(Output(name, "passthrough"))
                continue
            spec = prepared.specs[spec_key]
            self.label = spec.label
            var = self.names[name]
            outputs.append(self.output(name, var, spec))
        used = _used_inputs(self.steps, outputs)
        inputs = [v for v in self.inputs.values() if id(v) in used]
        inputs += [v for v in self.memo.values() if v.kind == "input" and id(v) in used]
        columns = tuple(self.columns)
        return Plan(
            key=(),
            inputs=inputs,
            steps=self.steps,
            outputs=outputs,
            columns=columns,
            waveforms=dict(self.waveforms),
            label=cfg.source or "",
            parameters=tuple(prepared.params),
        )

    def output(self, name: str, var: Var, spec: ProcessorSpec) -> Output:
        attrs: dict[str, Any] = dict(spec.lh5_attrs)
        if spec.description:
            attrs["description"] = spec.description
        ns = unit_in_ns(var.unit)
        if var.time is not None and ns is not None and var.grid is not None:
            var = self.to_unit(var, ns)
        if var.unit:
            attrs["units"] = var.unit
        if not var.shape:
            return Output(name, "array", var, attrs)
        if var.grid is not None and var.time is None and len(var.shape) == 1:
            t0 = self.offset_var(var.grid)
            return Output(
                name,
                "waveform",
                var,
                attrs,
                t0_var=t0,
                t0_offset=var.grid.offset,
                dt=var.grid.period,
            )
        return Output(name, "aoesa", var, attrs)

    def to_unit(self, var: Var, ns: float) -> Var:
        grid = var.sampling()
        dtype = var.dtype if var.bound_dtype().kind == "f" else np.dtype("float64")
        out = self.new_var(f"{var.name}[{var.unit}]", shape=var.shape, dtype=dtype, unit=var.unit)
        t0 = self.offset_var(grid) if var.time == "point" else None
        shift = grid.offset if var.time == "point" else 0.0
        func = _Regrid(grid.period, ns, shift, None)
        if var.kind == "const" and t0 is None:
            out.kind = "const"
            out.value = np.zeros(var.shape, dtype)
            func(var.value, None, None, out.value)
            return out
        text = f"{self.label}: {out.name} = convert({var.name})"
        self.steps.append(Step(self.label, text, func, (var, t0, None, out)))
        return out


# --- helpers ----------------------------------------------------------------------------------
def _literal(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return np.array(value)
    return value


_FUNCTION_INFO: dict[Any, tuple] = {}


def _function_info(func: Callable) -> tuple[str | None, tuple[str, ...], Callable]:
    """(signature, types, the callable to run) of a processor, cached: for a numba gufunc the
    callable is the numpy ufunc under it (skipping numba's Python-level dispatch)."""
    try:
        found = _FUNCTION_INFO.get(func)
    except TypeError:  # unhashable
        found = None
    if found is not None:
        return found
    signature = getattr(func, "signature", None)
    types = getattr(func, "types", None)
    types = tuple(types) if types else ()
    nin, nout = getattr(func, "nin", None), getattr(func, "nout", None)
    if signature is None and isinstance(nin, int) and isinstance(nout, int):
        signature = ",".join(["()"] * nin) + "->" + ",".join(["()"] * nout)
    inner = getattr(func, "ufunc", None)
    fast = inner if isinstance(inner, np.ufunc) and not getattr(func, "is_dynamic", False) else func
    found = (signature, types, fast)
    with contextlib.suppress(TypeError):
        _FUNCTION_INFO[func] = found
    return found


_LOOPS: dict[tuple[Callable, str], Callable] = {}


def _loop(func: Callable, types: str, fast: Callable) -> Callable:
    """The compiled loop ``types`` of a processor that compiles loops on demand (it has a
    ``loop`` method), else ``fast`` (remembered: a compiled loop does not change)."""
    try:
        found = _LOOPS.get((func, types))
    except TypeError:  # unhashable
        found = None
    if found is not None:
        return found
    loop = getattr(func, "loop", None)
    found = loop(types) if callable(loop) else fast
    with contextlib.suppress(TypeError):
        if len(_LOOPS) >= 4096:
            _LOOPS.clear()
        _LOOPS[(func, types)] = found
    return found


_UFUNC_RESULTS: dict[tuple, tuple[tuple[int, ...], np.dtype]] = {}


def _ufunc_result(ufunc: np.ufunc, operands: tuple) -> tuple[tuple[int, ...], np.dtype]:
    """The shape per row and the dtype of ``ufunc`` on ``operands`` (variables and constants),
    as numpy works them out on empty rows; remembered by the variables' shapes and dtypes and
    the constants' types and values (not for arrays)."""
    key: list[Any] = [ufunc]
    for v in operands:
        if isinstance(v, Var):
            if v.kind == "const":
                key = []
                break
            key.append((v.shape, v.dtype))
        elif type(v) in _SCALAR_TYPES:
            key.append((type(v), v))
        else:
            key = []
            break
    cache_key = tuple(key) if key else None
    found = _UFUNC_RESULTS.get(cache_key) if cache_key is not None else None
    if found is None:
        shape = tuple(np.broadcast_shapes(*[_shape_of(v) or () for v in operands]))
        samples = [  # no rows, with the new axes _Binder.expand gives variables
            np.zeros(
                (0, *(1,) * (len(shape) - len(v.bound_shape())), *v.bound_shape()), v.bound_dtype()
            )
            if isinstance(v, Var) and v.kind != "const"
            else _unwrap_value(v)
            for v in operands
        ]
        found = (shape, ufunc(*samples).dtype)
        if cache_key is not None:
            if len(_UFUNC_RESULTS) >= 4096:
                _UFUNC_RESULTS.clear()
            _UFUNC_RESULTS[cache_key] = found
    return found


#: constants whose type and value decide a ufunc's result type
_SCALAR_TYPES = frozenset({int, float, bool, np.float32, np.float64, np.int32, np.int64})


@functools.lru_cache(maxsize=256)
def _split_outputs(n_in: int, n: int) -> tuple[tuple[bool, ...], tuple[int, ...], tuple[int, ...]]:
    """Which of ``n`` arguments are outputs when the first ``n_in`` are inputs, and the
    indices of the inputs and of the outputs."""
    return (
        tuple(i >= n_in for i in range(n)),
        tuple(range(min(n_in, n))),
        tuple(range(n_in, n)),
    )


#: the kinds of statement :func:`_statement` tells apart
_EXPRESSION, _ASSIGNMENT, _SEVERAL, _OTHER = "expression", "assignment", "several", "other"


@functools.lru_cache(maxsize=4096)
def _statement(text: str) -> tuple[str, str | None, ast.AST | None]:
    """What an argument's text is: ``(kind, target, node)``, ``kind`` one of an expression
    (``node``), a keyword assignment ``target=node``, several statements or another statement;
    raises ``SyntaxError``."""
    tree = parse_source(text)
    if len(tree.body) != 1:
        return _SEVERAL, None, None
    stmt = tree.body[0]
    if (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
    ):
        return _ASSIGNMENT, stmt.targets[0].id, stmt.value
    if isinstance(stmt, ast.Expr):
        return _EXPRESSION, None, stmt.value
    return _OTHER, None, None


_CHOSEN_TYPES: dict[tuple, str] = {}


def _type_keys(values: Sequence[Any]) -> list[tuple | None]:
    """What :meth:`_Binder.choose_types` looks at in each argument: a variable's or an array's
    dtype (``None`` for a variable whose type is not fixed yet); nothing of anything else."""
    keys: list[tuple | None] = []
    for value in values:
        if isinstance(value, Var):
            keys.append(("var", value.dtype) if value.weak is None else None)
        elif isinstance(value, np.ndarray):
            keys.append(("array", value.dtype))
        else:
            keys.append(None)
    return keys


_LIBRARY_FUNCTIONS: dict[str, Callable] = {}


def _library_function(name: str) -> Callable:
    """The processor ``name`` of tierflow's library (looked up once)."""
    found = _LIBRARY_FUNCTIONS.get(name)
    if found is None:
        found = _LIBRARY_FUNCTIONS[name] = library.get(name)
    return found


@functools.lru_cache(maxsize=256)
def _dtype(char: str) -> np.dtype:
    """The dtype of a type character of a processor's signature."""
    return np.dtype(char)


@functools.lru_cache(maxsize=4096)
def _can_cast(dtype: np.dtype, char: str) -> bool:
    """Whether ``dtype`` casts safely to the type character ``char``."""
    return bool(np.can_cast(dtype, _dtype(char)))


@functools.lru_cache(maxsize=1024)
def _parse_signature(signature: str) -> tuple[list[tuple], list[tuple]]:
    try:
        ins, outs = signature.replace(" ", "").split("->")
    except ValueError:
        raise DSPConfigError(
            f"{signature!r} is not a gufunc signature such as '(n),()->()'"
        ) from None

    def parts(text: str) -> list[tuple]:
        groups = re.findall(r"\(([^)]*)\)", text)
        return [tuple(d for d in g.split(",") if d) for g in groups]

    return parts(ins), parts(outs)


def _shape_of(value: Any) -> tuple | None:
    if isinstance(value, Var):
        return value.shape
    if isinstance(value, np.ndarray):
        return value.shape
    return ()


def _show(value: Any) -> str:
    if isinstance(value, Var):
        return value.name
    if isinstance(value, np.generic):
        return repr(value.item())
    return repr(value)


def _unwrap_const(value: Any) -> Any:
    """Constant variables with a scalar value act as plain numbers in arithmetic."""
    if (
        isinstance(value, Var)
        and value.kind == "const"
        and value.time is None
        and np.ndim(value.value) == 0
    ):
        return (
            value.value.item() if isinstance(value.value, np.ndarray | np.generic) else value.value
        )
    return value


def _unwrap_value(value: Any) -> Any:
    return value.value if isinstance(value, Var) else value


def _compose(outer: slice, inner: slice | int) -> slice | int:
    if isinstance(inner, int):
        return outer.start + inner * outer.step
    start = outer.start + inner.start * outer.step
    stop = outer.start + inner.stop * outer.step
    return slice(start, stop, outer.step * inner.step)


def _arith_units(op: type, a: Any, b: Any) -> tuple[str | None, Grid | None, str | None]:
    ta = a.time if isinstance(a, Var) else None
    tb = b.time if isinstance(b, Var) else None
    va = a if isinstance(a, Var) else None
    vb = b if isinstance(b, Var) else None
    first = va or vb
    grid = first.grid if first is not None else None
    unit_a = va.unit if va is not None else None
    unit_b = vb.unit if vb is not None else None
    if op in (ast.Add, ast.Sub):
        if ta == "point" and tb == "point":
            time = "span" if op is ast.Sub else None
        elif "point" in (ta, tb):
            time = "point"
        elif "span" in (ta, tb):
            time = "span"
        else:
            time = None
        if time == "point":
            point = va if ta == "point" else vb
            assert point is not None  # a time point is a variable's
            grid = point.grid
        return time, grid, unit_a or unit_b
    if va is not None and vb is not None:
        if op is ast.Mult and unit_a and unit_b:
            return None, None, f"{unit_a}*{unit_b}"
        if op is ast.Div and unit_a and unit_b:
            return None, None, None if unit_a == unit_b else f"{unit_a}/{unit_b}"
        return None, None, unit_a or unit_b
    var = va or vb
    assert var is not None  # one operand at least is a variable
    return var.time, var.grid, var.unit


def _weak_time(value: Any) -> bool:
    """Whether ``value`` is a per-row database time."""
    return isinstance(value, Var) and value.weak is not None and value.time is not None


def _as_constant(value: Any) -> Any:
    """A per-row database number as the constant it stands for, where units are worked out."""
    if isinstance(value, Var) and value.weak is not None and value.time is None:
        return value.weak(1)
    return value


def _used_inputs(steps: list[Step], outputs: list[Output]) -> set[int]:
    """The ids of the variables the steps and outputs use, and of the ones those view."""
    used: set[int] = set()
    values: list[Any] = []
    for step in steps:
        values += step.args
        if step.kwargs:
            values += step.kwargs.values()
    for out in outputs:
        values.append(out.var)
        values.append(out.t0_var)
    for value in values:
        while isinstance(value, Var) and id(value) not in used:
            used.add(id(value))
            value = value.base
    return used


def _snap(values: np.ndarray, out: np.ndarray) -> None:
    """:func:`~tierflow.dsp.units.snap` of each value (a few per row: database values)."""
    out[...] = np.reshape([snap(v) for v in np.ravel(values).tolist()], np.shape(values))


def _copy(src: np.ndarray, out: np.ndarray) -> None:
    np.copyto(out, src, casting="unsafe")


def _where(condition: np.ndarray, a: Any, b: Any, out: np.ndarray) -> None:
    np.copyto(out, np.where(condition, a, b), casting="unsafe")


class _CallText:
    """The text of a processor's step, ``label: function(args, name=value)``, made when asked
    for (one small object per step, where a closure would make several)."""

    __slots__ = ("args", "fname", "kwargs", "label")

    def __init__(self, label: str, fname: str, args: tuple, kwargs: dict):
        self.label, self.fname, self.args, self.kwargs = label, fname, args, kwargs

    def __call__(self) -> str:
        shown = ", ".join(_show(a) for a in self.args)
        return (
            f"{self.label}: {self.fname}({shown}"
            + "".join(f", {k}={_show(v)}" for k, v in self.kwargs.items())
            + ")"
        )


class _UfuncText:
    """The text of an arithmetic step, ``label: ufunc(operands)``; ``args`` are the step's
    arguments, the operands and then the output."""

    __slots__ = ("args", "label", "ufunc")

    def __init__(self, label: str, ufunc: np.ufunc, args: tuple):
        self.label, self.ufunc, self.args = label, ufunc, args

    def __call__(self) -> str:
        return f"{self.label}: {self.ufunc.__name__}({', '.join(_show(v) for v in self.args[:-1])})"


class _DistinctRows:
    """A processor call whose per-row arguments (at ``rows``) are the same for every row of a
    channel, such as a filter kernel made from its database values: called once per run of
    equal rows, its outputs (at ``outputs``) copied to the rest of the run. The outputs of the
    last :data:`DISTINCT_CACHE` distinct inputs are kept (a file's channels, run again)."""

    def __init__(self, func: Callable, rows: tuple[int, ...], outputs: tuple[int, ...]):
        self.func, self.rows, self.outputs = func, rows, outputs
        self.inputs = tuple(i for i in rows if i not in outputs)
        self.__name__ = getattr(func, "__name__", "processor")
        self._done: OrderedDict[tuple, tuple[np.ndarray, ...]] = OrderedDict()
        self._lock = threading.Lock()  # threads may share a chain

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_done", "_lock")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._done = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> None:
        n = len(args[self.rows[0]])
        changed = np.zeros(n, bool)
        changed[0] = True
        for i in self.inputs if n > 1 else ():
            a = args[i]
            changed[1:] |= (a[1:] != a[:-1]).reshape(n - 1, -1).any(axis=1)
        starts = np.flatnonzero(changed).tolist()
        for start, stop in zip(starts, [*starts[1:], n], strict=True):
            key = tuple(args[i][start].tobytes() for i in self.inputs)
            with self._lock:
                found = self._done.get(key)
            if found is None:
                one = [a[start : start + 1] if i in self.rows else a for i, a in enumerate(args)]
                self.func(*one)
                found = tuple(args[i][start].copy() for i in self.outputs)
                with self._lock:
                    self._done[key] = found
                    if len(self._done) > DISTINCT_CACHE:
                        self._done.popitem(last=False)
            for i, value in zip(self.outputs, found, strict=True):
                args[i][start:stop] = value


#: distinct inputs whose outputs each :class:`_DistinctRows` step keeps
DISTINCT_CACHE = 512


class _Round:
    def __init__(self, func: Callable, step: float):
        self.func, self.step = func, step
        self.__name__ = getattr(func, "__name__", "round")

    def __call__(self, value: np.ndarray, out: np.ndarray) -> None:
        np.copyto(out, self.func(value / self.step) * self.step, casting="unsafe")


class _Regrid:
    """Times from one grid to another: ``(v*p_from + shift + t0_from - t0_to) / p_to``."""

    def __init__(self, p_from: float, p_to: float, shift: float, rounding: Callable | None):
        self.p_from, self.p_to, self.shift, self.rounding = p_from, p_to, shift, rounding
        self.__name__ = "convert"

    def __call__(self, value: Any, t0_from: Any, t0_to: Any, out: np.ndarray) -> None:
        result = np.multiply(value, self.p_from / self.p_to, dtype=np.float64)
        shift = self.shift
        if t0_from is not None or t0_to is not None:
            per_row = np.full(out.shape[:1], 0.0 + shift)
            if t0_from is not None:
                per_row += t0_from
            if t0_to is not None:
                per_row -= t0_to
            per_row /= self.p_to
            result += per_row.reshape(per_row.shape + (1,) * (result.ndim - 1))
        elif shift:
            result += shift / self.p_to
        if self.rounding is not None:
            result = self.rounding(result)
        np.copyto(out, result, casting="unsafe")
