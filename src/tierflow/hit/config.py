"""Hit configs: output columns as expressions over dsp columns, checked before any work.

A config (a dict, or a JSON/YAML file holding one) has two keys:

- ``outputs``: the columns to write, in order. A name that is not an operation is a dsp
  column copied through as it is (``timestamp``), attributes included.
- ``operations``: ``{name: spec}`` in any order; a spec is an expression string or a dict
  with

  - ``expression``: a one-line expression over dsp columns, other operations and the
    parameters (the :mod:`tierflow.types.expression` language: numexpr for flat columns,
    ``np.``/``ak.`` functions and jagged columns through awkward). LEGEND's older ``@a``
    for a parameter ``a`` is accepted.
  - ``parameters``: ``{name: number}`` (calibration constants; numbers given as strings
    and lists of numbers are accepted too).
  - ``bitmask``: instead of ``expression``, a list of boolean operations or columns to
    pack into one unsigned integer column, bit ``i`` = ``i``-th name, its ``bit_names``
    attribute the comma-joined names (see :mod:`tierflow.hit.bitmask`).
  - ``lgdo_attrs`` (LEGEND's name) or the shortcuts ``units`` and ``description``:
    attributes of the output column.
  - ``dtype``: cast the result (e.g. ``"float32"``).

Operations may use other operations; they run in dependency order, a cycle is an error,
and operations no output needs are not computed. In an operation's own expression its
own name means the dsp column of that name (``"cuspEmax": "cuspEmax * 2"``); elsewhere an
operation's name means the operation. A parameter name wins over both.

Flat float inputs are promoted to float64 before evaluation, so float results are float64
(LEGEND's hit files hold float64 computed in double precision from float32 dsp columns);
``dtype`` narrows a result again. Booleans stay booleans (stored as LH5 ``bool``).

Per-channel parameters (for example the output of a calibration) are operation overrides
merged over the config with :meth:`HitConfig.with_parameters`:
``{"cuspEmax_ctc_cal": {"parameters": {"a": 0.1, "b": 0.2}}}`` replaces the two
constants; any other key given (``expression``, ``lgdo_attrs``...) replaces the config's.

>>> import numpy as np
>>> from tierflow.types import Table
>>> cfg = HitConfig.from_dict({
...     "outputs": ["energy_cal", "is_good"],
...     "operations": {
...         "energy_cal": {"expression": "a + b*energy", "parameters": {"a": 1.0, "b": 2.0},
...                        "units": "keV"},
...         "is_good": "energy_cal > 4",
...     },
... })
>>> sorted(cfg.input_columns)
['energy']
>>> hit = cfg.apply(Table({"energy": np.array([1.0, 2.0], dtype="float32")}))
>>> hit["energy_cal"].nda.tolist(), hit["energy_cal"].attrs["units"], hit["is_good"].nda.tolist()
([3.0, 5.0], 'keV', [False, True])
>>> cfg.apply(Table({"energy": [1.0]}), {"energy_cal": {"parameters": {"b": 10.0}}})["energy_cal"].nda
array([11.])
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from ..configfile import load_plain
from ..errors import ExpressionError, HitConfigError
from ..types import LGDO, Array, Scalar, Table, VectorOfVectors
from ..types.allowed_names import MODULE_NAMES
from ..types.expression import evaluate
from ..types.safe_eval import check
from .bitmask import MAX_BITS, bitmask_dtype, pack_bitmask

__all__ = [
    "CONFIG_KEYS",
    "OPERATION_KEYS",
    "HitConfig",
    "HitOperation",
    "load_mapping",
    "match_table",
]

#: top-level keys of a config
CONFIG_KEYS = ("outputs", "operations")
#: keys of one operation
OPERATION_KEYS = (
    "expression",
    "parameters",
    "bitmask",
    "lgdo_attrs",
    "units",
    "description",
    "dtype",
)
#: a LEGEND-style ``@name`` parameter reference
_AT_PARAMETER = re.compile(r"@([A-Za-z_]\w*)")


# --- loading ---------------------------------------------------------------------------------
def load_mapping(source: Any, what: str = "config") -> tuple[dict, Path | None]:
    """A dict from a dict, a JSON/YAML file, or JSON/YAML text, and the file's folder; checked
    to be plain data of bounded size (see :mod:`tierflow.configfile`), errors naming the file.

    >>> load_mapping('{"outputs": ["a"]}')
    ({'outputs': ['a']}, None)
    """
    raw, path = load_plain(source, what, config_error)
    return dict(raw), None if path is None else Path(path).resolve().parent


def config_error(message: str, key: str | None = None, file: str | None = None) -> HitConfigError:
    """The error of a hit config or parameter file that cannot be read (the factory
    :mod:`tierflow.configfile` raises)."""
    return HitConfigError(message, key, file)


def match_table(mapping: Mapping[str, Any], table: str) -> tuple[str, Any] | None:
    """The entry of ``mapping`` for an LH5 table: ``(key, value)`` or ``None``.

    An exact key (the table ``ch1084803/dsp`` or its channel ``ch1084803``) wins; otherwise
    the first key, in the mapping's order, that matches either as an fnmatch pattern.

    >>> match_table({"ch10848*": "A", "*": "B"}, "ch1084803/dsp")
    ('ch10848*', 'A')
    >>> match_table({"ch10848*": "A", "ch1121600": "C"}, "ch1121600/dsp")
    ('ch1121600', 'C')
    """
    channel = table.strip("/").split("/")[0]
    for key in (table, table.strip("/"), channel):
        if key in mapping:
            return key, mapping[key]
    for key, value in mapping.items():
        if not isinstance(key, str):
            continue
        if fnmatch.fnmatchcase(table.strip("/"), key) or fnmatch.fnmatchcase(channel, key):
            return key, value
    return None


def _closest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- one operation ---------------------------------------------------------------------------
def _parameter_value(value: Any, key: str) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise HitConfigError(f"{value} does not fit in 64 bits", key=key)
    if isinstance(value, bool | int | float | np.integer | np.floating):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, str):  # LEGEND's early configs quote numbers
        try:
            return float(value)
        except ValueError:
            raise HitConfigError(f"{value!r} is not a number", key=key) from None
    if isinstance(value, list | tuple | np.ndarray):
        try:
            return [float(v) for v in value]
        except (TypeError, ValueError, OverflowError):
            raise HitConfigError("a list parameter holds numbers only", key=key) from None
    raise HitConfigError(
        f"a parameter is a number or a list of numbers, not {type(value).__name__}", key=key
    )


def _numeric_dtype(value: Any, key: str) -> str:
    """The name of the numeric or boolean numpy type ``value`` names (``"float32"``)."""
    try:
        dtype = np.dtype(value) if isinstance(value, str | type | np.dtype) else None
    except (TypeError, ValueError, KeyError, SyntaxError, OverflowError):
        dtype = None
    if dtype is None or dtype.kind not in "biuf":
        raise HitConfigError(
            f"{value!r} is not a numeric numpy type; use e.g. 'float32', 'int64' or 'bool'",
            key=key,
        )
    return dtype.name


def _attr_value(value: Any, key: str) -> Any:
    if isinstance(value, str | bool | int | float):
        return value
    raise HitConfigError(
        f"an output attribute is a string or a number, not {type(value).__name__}", key=key
    )


@dataclass(frozen=True)
class HitOperation:
    """One entry of ``operations``, checked and normalised.

    ``names`` are the free names its expression (or bitmask) uses that are not its
    parameters, ``np`` or ``ak``: dsp columns or other operations.

    >>> op = HitOperation.parse("e_cal", {"expression": "@a + @b*trapEmax",
    ...                                    "parameters": {"a": "1", "b": 2}})
    >>> op.expression, op.parameters, op.names
    ('a + b*trapEmax', {'a': 1.0, 'b': 2}, ('trapEmax',))
    """

    name: str
    expression: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    bitmask: tuple[str, ...] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    dtype: str | None = None
    names: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, name: str, spec: Any, where: str | None = None) -> HitOperation:
        """Check one operation spec (a dict or an expression string)."""
        where = where or f"operations.{name}"
        if not isinstance(name, str) or not name.isidentifier():
            raise HitConfigError(
                f"operation name {name!r} is not a valid column name (letters, digits, _)",
                key=where,
            )
        if isinstance(spec, str):
            spec = {"expression": spec}
        if not isinstance(spec, Mapping):
            raise HitConfigError(
                f"an operation is a dict or an expression string, not {type(spec).__name__}",
                key=where,
            )
        spec = dict(spec)
        unknown = [k for k in spec if k not in OPERATION_KEYS]
        if unknown:
            hint = _closest(str(unknown[0]), OPERATION_KEYS)
            if not hint and isinstance(spec[unknown[0]], int | float | str):
                hint = " (constants go under 'parameters')"
            raise HitConfigError(
                f"unknown key {unknown[0]!r}{hint}; an operation has keys {list(OPERATION_KEYS)}",
                key=f"{where}.{unknown[0]}",
            )
        has_expr, has_bits = "expression" in spec, "bitmask" in spec
        if has_expr == has_bits:
            raise HitConfigError(
                "an operation has exactly one of 'expression' and 'bitmask'"
                + ("" if has_expr else f"; it has keys {sorted(spec)}"),
                key=where,
            )
        parameters = spec.get("parameters") or {}
        if not isinstance(parameters, Mapping):
            raise HitConfigError(
                f"'parameters' is a mapping of names to numbers, not {type(parameters).__name__}",
                key=f"{where}.parameters",
            )
        parameters = {
            str(k): _parameter_value(v, f"{where}.parameters.{k}") for k, v in parameters.items()
        }
        for k in parameters:
            if not k.isidentifier() or k in MODULE_NAMES:
                raise HitConfigError(
                    "a parameter name is an identifier other than np and ak",
                    key=f"{where}.parameters.{k}",
                )
        attrs = spec.get("lgdo_attrs") or {}
        if not isinstance(attrs, Mapping):
            raise HitConfigError("'lgdo_attrs' is a mapping", key=f"{where}.lgdo_attrs")
        attrs = {str(k): _attr_value(v, f"{where}.lgdo_attrs.{k}") for k, v in attrs.items()}
        for short in ("units", "description"):
            if short in spec:
                attrs[short] = _attr_value(spec[short], f"{where}.{short}")
        for reserved in ("datatype", "bit_names"):
            if reserved in attrs:
                raise HitConfigError(
                    f"attribute {reserved!r} is set by tierflow, not by the config",
                    key=f"{where}.lgdo_attrs.{reserved}",
                )
        dtype = spec.get("dtype")
        if dtype is not None:
            dtype = _numeric_dtype(dtype, f"{where}.dtype")
        if has_expr:
            expression, names = cls._parse_expression(spec["expression"], parameters, where)
            bitmask = None
        else:
            bitmask = cls._parse_bitmask(spec["bitmask"], where, dtype)
            expression, names = None, bitmask
            if parameters:
                raise HitConfigError("a bitmask takes no parameters", key=f"{where}.parameters")
        return cls(name, expression, parameters, bitmask, attrs, dtype, names, spec)

    @staticmethod
    def _parse_expression(
        expression: Any, parameters: Mapping[str, Any], where: str
    ) -> tuple[str, tuple[str, ...]]:
        if not isinstance(expression, str) or not expression.strip():
            raise HitConfigError("an expression is a non-empty string", key=f"{where}.expression")

        def unat(m: re.Match) -> str:
            if m.group(1) not in parameters:
                raise HitConfigError(
                    f"'@{m.group(1)}' names no parameter; parameters are {sorted(parameters)}",
                    key=f"{where}.expression",
                )
            return m.group(1)

        expression = _AT_PARAMETER.sub(unat, expression.strip())
        try:  # the closed expression language: nothing outside it is ever evaluated
            checked = check(expression)
        except ExpressionError as err:
            raise HitConfigError(str(err), key=f"{where}.expression") from None
        names = tuple(sorted(checked.names - set(parameters)))
        return expression, names

    @staticmethod
    def _parse_bitmask(bits: Any, where: str, dtype: str | None) -> tuple[str, ...]:
        if isinstance(bits, str) or not isinstance(bits, Sequence) or not bits:
            raise HitConfigError(
                "'bitmask' is a non-empty list of flag names, bit 0 first",
                key=f"{where}.bitmask",
            )
        for i, bit in enumerate(bits):
            if not isinstance(bit, str) or not bit.isidentifier():
                raise HitConfigError(f"{bit!r} is not a column name", key=f"{where}.bitmask[{i}]")
        if len(set(bits)) != len(bits):
            raise HitConfigError("a flag appears twice", key=f"{where}.bitmask")
        if len(bits) > MAX_BITS:
            raise HitConfigError(
                f"{len(bits)} flags; a bitmask holds at most {MAX_BITS}", key=f"{where}.bitmask"
            )
        if dtype is not None:
            dt = np.dtype(dtype)
            if dt.kind != "u" or dt.itemsize * 8 < len(bits):
                raise HitConfigError(
                    f"{len(bits)} flags do not fit in {dt.name}; use an unsigned type such as "
                    f"{bitmask_dtype(len(bits)).name}",
                    key=f"{where}.dtype",
                )
        return tuple(bits)

    # --- evaluation --------------------------------------------------------------------------
    def evaluate(self, columns: Mapping[str, LGDO], n_rows: int) -> LGDO:
        """The operation's column for ``n_rows`` rows, from ``columns`` (by name)."""
        if self.bitmask is not None:
            try:
                return pack_bitmask(
                    {b: columns[b] for b in self.bitmask}, attrs=self.attrs, dtype=self.dtype
                )
            except HitConfigError as err:
                raise HitConfigError(err.reason, key=f"operations.{self.name}.bitmask") from None
        assert self.expression is not None  # parse() gives an operation a bitmask or an expression
        try:
            parameters = {
                k: np.asarray(v) if isinstance(v, list) else v for k, v in self.parameters.items()
            }
            result = evaluate(self.expression, columns, parameters)
        except ExpressionError as err:
            raise ExpressionError(f"operations.{self.name}: {err}") from err
        if isinstance(result, Scalar):  # an expression of parameters only
            result = Array(np.full(n_rows, result.value))
        if len(result) != n_rows:
            raise ExpressionError(
                f"operations.{self.name}: {self.expression!r} gave {len(result)} rows, not {n_rows}"
            )
        if self.dtype is not None:
            if isinstance(result, VectorOfVectors):
                result = VectorOfVectors(ak.values_astype(result.view_as("ak"), self.dtype))
            else:
                result = Array(result.nda.astype(self.dtype), attrs=result.getattrs())
        result.attrs.update(self.attrs)
        return result


# --- a whole config --------------------------------------------------------------------------
class HitConfig:
    """A checked hit config: ``outputs`` and ``operations`` in dependency order.

    Build it with :meth:`from_dict`, :meth:`from_file` or :meth:`load`; apply it to a
    table of dsp columns with :meth:`apply`. Unknown keys, bad expressions and cycles
    are errors here; columns missing from the dsp data are found by
    :meth:`check_columns` (before reading) or :meth:`apply`.

    >>> HitConfig.from_dict({"outputs": ["x"], "operations": {"x": {"expresion": "a"}}})
    Traceback (most recent call last):
    ...
    tierflow.errors.HitConfigError: operations.x.expresion: unknown key 'expresion' (did you mean 'expression'?); ...
    >>> HitConfig.from_dict({"outputs": ["a"], "operations": {"a": "b + 1", "b": "a * 2"}})
    Traceback (most recent call last):
    ...
    tierflow.errors.HitConfigError: operations.a: operations depend on each other in a cycle: a -> b -> a
    """

    def __init__(
        self,
        outputs: Sequence[str],
        operations: Mapping[str, HitOperation],
        source: str | None = None,
    ):
        self.outputs: tuple[str, ...] = tuple(outputs)
        self.operations: dict[str, HitOperation] = dict(operations)
        self.source = source
        self.order: tuple[str, ...] = self._order()
        needed = self._needed_operations()
        #: the operations the outputs need, in the order they run
        self.steps: tuple[str, ...] = tuple(n for n in self.order if n in needed)
        #: the dsp columns the outputs need (read only these)
        self.input_columns: frozenset[str] = frozenset(
            {o for o in self.outputs if o not in self.operations}
            | {c for n in self.steps for c in self._inputs_of(n)}
        )

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, config: Mapping[str, Any], source: str | None = None) -> HitConfig:
        """Check a config dict (see the module docs for its keys); errors name ``source``."""
        if isinstance(config, HitConfig):
            return config
        try:
            return cls._from_dict(config, source)
        except HitConfigError as err:
            if source is None or err.file is not None:
                raise
            raise HitConfigError(err.reason, err.key, file=source) from None

    @classmethod
    def _from_dict(cls, config: Mapping[str, Any], source: str | None) -> HitConfig:
        if not isinstance(config, Mapping):
            raise HitConfigError(f"a hit config is a mapping, not {type(config).__name__}")
        unknown = [k for k in config if k not in CONFIG_KEYS]
        if unknown:
            raise HitConfigError(
                f"unknown key {unknown[0]!r}{_closest(str(unknown[0]), CONFIG_KEYS)}; "
                f"a hit config has keys {list(CONFIG_KEYS)}",
                key=str(unknown[0]),
            )
        if "outputs" not in config:
            raise HitConfigError("a hit config needs 'outputs', the columns to write")
        outputs = config["outputs"]
        if isinstance(outputs, str) or not isinstance(outputs, Sequence) or not outputs:
            raise HitConfigError("'outputs' is a non-empty list of column names", key="outputs")
        for i, name in enumerate(outputs):
            if not isinstance(name, str) or not name:
                raise HitConfigError(f"{name!r} is not a column name", key=f"outputs[{i}]")
        if len(set(outputs)) != len(outputs):
            twice = sorted({o for o in outputs if list(outputs).count(o) > 1})
            raise HitConfigError(f"column(s) {twice} listed twice", key="outputs")
        operations = config.get("operations") or {}
        if not isinstance(operations, Mapping):
            raise HitConfigError(
                f"'operations' is a mapping of names to operations, not {type(operations).__name__}",
                key="operations",
            )
        ops = {k: HitOperation.parse(k, v) for k, v in operations.items()}
        return cls(outputs, ops, source)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> HitConfig:
        """Load and check a JSON or YAML config file."""
        raw, _ = load_mapping(Path(path), "hit config")
        return cls.from_dict(raw, source=os.fspath(path))

    @classmethod
    def load(cls, config: Any) -> HitConfig:
        """A config from a :class:`HitConfig`, a dict, a file path or JSON/YAML text."""
        if isinstance(config, HitConfig):
            return config
        raw, folder = load_mapping(config, "hit config")
        return cls.from_dict(raw, source=None if folder is None else os.fspath(config))

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data (operations as given, ``@`` references resolved).

        >>> HitConfig.from_dict({"outputs": ["x"], "operations": {"x": "a*2"}}).to_dict()
        {'outputs': ['x'], 'operations': {'x': {'expression': 'a*2'}}}
        """
        ops = {}
        for name, op in self.operations.items():
            raw = copy.deepcopy(op.raw)
            if op.expression is not None:
                raw["expression"] = op.expression
            if op.parameters:
                raw["parameters"] = dict(op.parameters)
            ops[name] = raw
        return {"outputs": list(self.outputs), "operations": ops}

    def with_parameters(self, overrides: Mapping[str, Any] | None) -> HitConfig:
        """The config with per-operation overrides merged in (e.g. one channel's calibration).

        ``overrides`` maps operation names to partial specs: their ``parameters`` are merged
        name by name, other keys replace the config's. An override with an ``expression``
        or ``bitmask`` for a name that is not an operation adds that operation. LEGEND's
        wrappers ``{"operations": {...}}`` and ``{"pars": {"operations": {...}}}`` are
        unwrapped.

        >>> cfg = HitConfig.from_dict({"outputs": ["e"], "operations": {
        ...     "e": {"expression": "a + b*x", "parameters": {"a": 0, "b": 1}}}})
        >>> cfg.with_parameters({"e": {"parameters": {"b": 2}}}).operations["e"].parameters
        {'a': 0, 'b': 2}
        """
        overrides = unwrap_parameters(overrides)
        if not overrides:
            return self
        ops = {name: copy.deepcopy(op.raw) for name, op in self.operations.items()}
        for name, spec in overrides.items():
            where = f"parameters.{name}"
            if not isinstance(name, str):
                raise HitConfigError(f"an operation name is a string, not {name!r}", key=where)
            if isinstance(spec, str):
                spec = {"expression": spec}
            if not isinstance(spec, Mapping):
                raise HitConfigError(
                    f"an override is a mapping of operation keys, not {type(spec).__name__}",
                    key=where,
                )
            if name not in ops:
                if "expression" not in spec and "bitmask" not in spec:
                    raise HitConfigError(
                        f"parameters for {name!r}, which is not an operation"
                        f"{_closest(name, ops)}; operations are {sorted(ops)}",
                        key=where,
                    )
                ops[name] = dict(spec)
                continue
            merged = ops[name]
            for key, value in spec.items():
                if key == "parameters" and isinstance(value, Mapping):
                    merged["parameters"] = {**(merged.get("parameters") or {}), **value}
                else:
                    merged[key] = value
                    if key == "expression":
                        merged.pop("bitmask", None)
                    elif key == "bitmask":
                        merged.pop("expression", None)
        parsed = {}
        for name, spec in ops.items():
            overridden = f"parameters.{name}" if name in overrides else None
            parsed[name] = HitOperation.parse(name, spec, overridden)
        return HitConfig(self.outputs, parsed, self.source)

    # --- dependencies --------------------------------------------------------------------------
    def _deps_of(self, name: str) -> list[str]:
        return [n for n in self.operations[name].names if n in self.operations and n != name]

    def _inputs_of(self, name: str) -> list[str]:
        return [n for n in self.operations[name].names if n not in self.operations or n == name]

    def _order(self) -> tuple[str, ...]:
        order: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = [*path[path.index(name) :], name]
                raise HitConfigError(
                    "operations depend on each other in a cycle: " + " -> ".join(cycle),
                    key=f"operations.{cycle[0]}",
                )
            state[name] = 1
            for dep in self._deps_of(name):
                visit(dep, [*path, name])
            state[name] = 2
            order.append(name)

        for name in self.operations:
            visit(name, [])
        return tuple(order)

    def _needed_operations(self) -> set[str]:
        needed: set[str] = set()
        todo = [o for o in self.outputs if o in self.operations]
        while todo:
            name = todo.pop()
            if name not in needed:
                needed.add(name)
                todo.extend(self._deps_of(name))
        return needed

    # --- checks and evaluation -----------------------------------------------------------------
    def check_columns(self, available: Iterable[str], table: str | None = None) -> None:
        """Raise :class:`~tierflow.errors.HitConfigError` naming the first needed column not in
        ``available`` (the dsp table's columns), listing what there is.

        >>> cfg = HitConfig.from_dict({"outputs": ["x"], "operations": {"x": "cuspEmx * 2"}})
        >>> cfg.check_columns(["cuspEmax", "A_max"], "ch1/dsp")
        Traceback (most recent call last):
        ...
        tierflow.errors.HitConfigError: operations.x.expression: column 'cuspEmx' is not in ch1/dsp (did you mean 'cuspEmax'?); its columns are ['A_max', 'cuspEmax']
        """
        available = set(available)
        where = f"in {table}" if table else "in the dsp table"
        for name in self.outputs:
            if name not in self.operations and name not in available:
                raise HitConfigError(
                    f"output {name!r} is neither an operation nor a column {where}"
                    f"{_closest(name, [*available, *self.operations])}; operations are "
                    f"{sorted(self.operations)}, columns are {sorted(available)}",
                    key=f"outputs[{self.outputs.index(name)}]",
                )
        for step in self.steps:
            op = self.operations[step]
            for col in self._inputs_of(step):
                if col not in available:
                    key = "bitmask" if op.bitmask is not None else "expression"
                    raise HitConfigError(
                        f"column {col!r} is not {where}{_closest(col, available)}; "
                        f"its columns are {sorted(available)}",
                        key=f"operations.{step}.{key}",
                    )

    def apply(self, table: Table, parameters: Mapping[str, Any] | None = None) -> Table:
        """The hit table for a table of dsp columns: the ``outputs``, in order.

        ``parameters`` are per-operation overrides for this table's channel (see
        :meth:`with_parameters`). Nested dsp columns are named ``a__b``.
        """
        cfg = self.with_parameters(parameters) if parameters else self
        flat = table.flatten()
        columns = {name: flat[name] for name in flat}
        cfg.check_columns(columns)
        n = len(table)
        promoted: dict[str, LGDO] = {}
        results: dict[str, LGDO] = {}
        for step in cfg.steps:
            op = cfg.operations[step]
            scope: dict[str, LGDO] = {}
            for name in op.names:
                if name in cfg.operations and name != step:
                    scope[name] = results[name]
                elif op.bitmask is not None:  # flags keep their own type
                    scope[name] = columns[name]
                else:
                    if name not in promoted:
                        promoted[name] = _promoted(columns[name])
                    scope[name] = promoted[name]
            results[step] = op.evaluate(scope, n)
        out = Table(size=n)
        for name in cfg.outputs:
            out.add_field(name, results[name] if name in results else columns[name])
        return out

    def __repr__(self) -> str:
        return (
            f"HitConfig(outputs={list(self.outputs)}, {len(self.operations)} operations"
            + (f", from {self.source}" if self.source else "")
            + ")"
        )


def _promoted(col: LGDO) -> LGDO:
    """Flat float columns as float64, so that results are computed in double precision."""
    if isinstance(col, Array) and col.nda.dtype.kind == "f" and col.nda.dtype.itemsize < 8:
        return Array(col.nda.astype(np.float64), attrs=col.getattrs())
    return col


def unwrap_parameters(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """One channel's operation overrides, without LEGEND's ``pars``/``operations`` wrappers.

    >>> unwrap_parameters({"pars": {"operations": {"e": {"parameters": {"a": 1}}}}, "results": {}})
    {'e': {'parameters': {'a': 1}}}
    """
    if not overrides:
        return {}
    if not isinstance(overrides, Mapping):
        raise HitConfigError(
            f"parameters are a mapping of operation names to overrides, not "
            f"{type(overrides).__name__}"
        )
    if "pars" in overrides and isinstance(overrides["pars"], Mapping):
        overrides = overrides["pars"]
    if set(overrides) == {"operations"} and isinstance(overrides["operations"], Mapping):
        overrides = overrides["operations"]
    return dict(overrides)
