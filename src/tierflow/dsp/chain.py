"""Processing chains: compile a config once per input shape, run it on tables.

:func:`compile_chain` binds a config (dict, JSON/YAML, or a :class:`ProcessingChain` built by
:meth:`~ProcessingChain.add`) to the columns of a table and a channel's database entry, and
caches the result: every channel with the same config, waveform length, ``dt`` and database
values gets the same :class:`CompiledChain`, with its buffers already allocated.

>>> import numpy as np
>>> from tierflow.types import Table, WaveformTable
>>> wf = np.zeros((2, 100), "uint16"); wf[:, 50:] = 1000
>>> tb = Table({"waveform": WaveformTable(values=wf, dt=16, dt_units="ns", t0_units="ns")})
>>> config = {"outputs": ["bl", "wf_max"], "processors": {
...     "bl": "waveform[0]", "wf_max": "waveform[99] - bl"}}
>>> process(tb, config)["wf_max"].nda.tolist()
[1000, 1000]
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DSPConfigError, DSPInputError
from ..types import LGDO, Array, ArrayOfEqualSizedArrays, Table, WaveformTable
from ..types.table import is_column
from . import legacy
from .compiler import Prepared, bind, prepare, prepare_per_row
from .config import ChainConfig, load_config, value_key
from .executor import Executor, RunReport
from .plan import Plan, Schema
from .units import unit_in_ns

__all__ = [
    "ChainResult",
    "CompiledChain",
    "ProcessingChain",
    "cache_info",
    "compile_chain",
    "process",
    "required_columns",
    "run_together",
]


@dataclass
class ChainResult:
    """The output of a run: the table, and how many rows failed (their outputs are NaN)."""

    table: Table
    failed: int = 0
    failed_rows: list[int] = field(default_factory=list)
    first_error: str | None = None


class CompiledChain:
    """A config bound to one input schema and one channel's database values.

    Build it with :func:`compile_chain` (cached). ``columns`` are the input columns it reads.
    Database values that are numbers or times are read per row (``plan.parameters``):
    ``parameters`` holds this channel's, and chains that differ only in them share their plan
    and executors (``shared``), so :func:`run_together` runs their rows in one go.
    """

    def __init__(
        self,
        plan: Plan,
        config: ChainConfig,
        key: tuple,
        setup_seconds: float = 0.0,
        parameters: tuple = (),
        shared: CompiledChain | None = None,
    ):
        self.plan = plan
        self.config = config
        self.key = key
        self.setup_seconds = setup_seconds
        self.parameters = parameters
        self.shared = shared
        self._channels: dict[tuple, CompiledChain] = {}
        self._local = threading.local()  # buffers are per thread: threads may share a chain

    def for_parameters(self, values: tuple) -> CompiledChain:
        """This chain with the per-row database values ``values`` (cached by value)."""
        key = value_key(values)
        found = self._channels.get(key)
        if found is None:
            if len(self._channels) >= _COMPILED_SIZE:
                self._channels.clear()
            found = self._channels[key] = CompiledChain(
                self.plan, self.config, self.key, self.setup_seconds, values, self
            )
        return found

    def parameter_columns(self, n_rows: int) -> dict[str, np.ndarray]:
        """This chain's per-row database values as columns of ``n_rows`` rows."""
        return {
            p.name: np.full(n_rows, v, p.dtype)
            for p, v in zip(self.plan.parameters, self.parameters, strict=True)
        }

    @property
    def columns(self) -> tuple[str, ...]:
        """Top-level input columns the chain reads (a field mask)."""
        return self.plan.columns

    @property
    def outputs(self) -> list[str]:
        """Names of the output columns."""
        return [o.name for o in self.plan.outputs]

    def executor(self, block_width: int = 16) -> Executor:
        """The executor with buffers ``block_width`` rows deep (made once per thread, shared
        by the chains of every channel of the same plan)."""
        if self.shared is not None:
            return self.shared.executor(block_width)
        executors = getattr(self._local, "executors", None)
        if executors is None:
            executors = self._local.executors = {}
        ex = executors.get(block_width)
        if ex is None:
            ex = executors[block_width] = Executor(self.plan, block_width)
        return ex

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_local", "_channels")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._channels = {}
        self._local = threading.local()

    def describe(self) -> str:
        """The steps the chain runs, one per line."""
        return self.plan.describe()

    def run(
        self,
        table: Table,
        start: int = 0,
        n_rows: int | None = None,
        block_width: int = 16,
    ) -> ChainResult:
        """Process rows ``start:start+n_rows`` of ``table``; failed rows are NaN and counted.

        >>> import numpy as np
        >>> from tierflow.types import Table
        >>> chain = compile_chain({"outputs": ["y"], "processors": {"y": "x + 1"}},
        ...                       Table({"x": np.arange(3.0)}))
        >>> chain.run(Table({"x": np.arange(3.0)}), start=1).table["y"].nda.tolist()
        [2.0, 3.0]
        """
        total = len(table)
        stop = total if n_rows is None else min(total, start + n_rows)
        start = min(max(start, 0), total)
        n = max(stop - start, 0)
        columns = input_arrays(table, self.plan, start, stop, self.parameter_columns(n))
        # fewer rows than a block: buffers of just those rows (the same single block)
        ex = self.executor(min(block_width, max(n, 1)))
        out = ex.allocate(n)
        report = ex.run(columns, n, out) if n else RunReport()
        return ChainResult(
            output_table(self.plan, out, table, start, stop),
            report.failed,
            report.failed_rows,
            report.first_error,
        )

    def __call__(self, table: Table) -> Table:
        return self.run(table).table

    def __repr__(self) -> str:
        return f"CompiledChain(outputs={self.outputs}, reads={list(self.columns)})"


# --- compiling with a cache -------------------------------------------------------------------
_COMPILED: OrderedDict[tuple, CompiledChain] = OrderedDict()
_COMPILED_SIZE = 512
_LOCK = threading.RLock()
_STATS = {"hits": 0, "misses": 0}


def cache_info() -> dict[str, int]:
    """Hits and misses of the compiled-chain cache, and its size.

    >>> sorted(cache_info())
    ['hits', 'misses', 'size']
    """
    return {**_STATS, "size": len(_COMPILED)}


def compile_chain(
    config: Any,
    table: Table | Schema | Mapping,
    database: Mapping | None = None,
    channel: str | None = None,
    outputs: Sequence[str] | None = None,
    *,
    prepared: Prepared | None = None,
    parameters: tuple | None = None,
    per_row: bool = False,
) -> CompiledChain:
    """The chain for ``config`` bound to the columns of ``table`` (a Table, a
    :class:`~tierflow.dsp.plan.Schema` or a dict of numpy columns) and to ``database``, the
    channel's entry (``db.pz.tau`` looks up ``database["pz"]["tau"]``).

    Compiled once and cached: the same config, input shapes and database values give the same
    object. With ``per_row``, database values that are numbers or times are read per row (see
    :mod:`~tierflow.dsp.parameters`), so channels that differ only in them share one bound
    plan and :func:`run_together` runs many small tables at once; a config that needs such a
    value as a constant while binding is bound per channel, as without ``per_row`` (which runs
    each block of rows a little faster). ``prepared`` and ``parameters``, when given, are
    ``prepare_per_row(config, database, channel)`` (or ``prepare(...)`` and ``None`` without
    ``per_row``) worked out already.

    >>> import numpy as np
    >>> from tierflow.types import Table
    >>> cfg = {"outputs": ["y"], "processors": {"y": "x * 2"}}
    >>> a = compile_chain(cfg, Table({"x": np.zeros(3)}))
    >>> a is compile_chain(cfg, Table({"x": np.ones(5)}))
    True
    """
    started = time.perf_counter()
    if isinstance(config, ProcessingChain):
        config = config.config
    with _LOCK:
        cfg = load_config(config, outputs)
        schema = _schema(table)
        if per_row:
            if prepared is None or prepared.cfg is not cfg or parameters is None:
                prepared, parameters = prepare_per_row(cfg, database, channel)
            if prepared.params:
                shared = _compiled(cfg, schema, database, channel, prepared, started, True)
                if shared is not None:
                    return shared.for_parameters(parameters)
                prepared = None  # bound with constants
        if prepared is None or prepared.cfg is not cfg or prepared.params:
            prepared = prepare(cfg, database, channel)
        chain = _compiled(cfg, schema, database, channel, prepared, started)
        assert chain is not None  # binding with constants raises what is wrong
        return chain


#: keys of plans whose per-row binding failed: bound with constants for each channel
_CONSTANTS_ONLY: set[tuple] = set()


def _compiled(
    cfg: ChainConfig,
    schema: Schema,
    database: Mapping | None,
    channel: str | None,
    prepared: Prepared,
    started: float,
    per_row: bool = False,
) -> CompiledChain | None:
    """The cached chain of ``prepared`` bound to ``schema``, bound now if new. With
    ``per_row`` (``prepared`` has per-row parameters), ``None`` where the config needs its
    database values as constants (remembered); otherwise a failed bind raises."""
    read = tuple(n for n in (*prepared.leaves, *cfg.outputs) if n in schema)
    key = (cfg.fingerprint, prepared.values_key, schema.key(read))
    found = _COMPILED.get(key)
    if found is not None:
        _STATS["hits"] += 1
        _COMPILED.move_to_end(key)
        return found
    if per_row and key in _CONSTANTS_ONLY:
        return None
    try:
        plan = bind(cfg, schema, database, channel, prepared=prepared)
    except Exception:  # per row: a value needed as a constant, or an error constants report
        if not per_row:
            raise
        if len(_CONSTANTS_ONLY) >= 4096:
            _CONSTANTS_ONLY.clear()
        _CONSTANTS_ONLY.add(key)
        return None
    _STATS["misses"] += 1
    plan.key = key
    chain = _COMPILED[key] = CompiledChain(plan, cfg, key, time.perf_counter() - started)
    while len(_COMPILED) > _COMPILED_SIZE:
        _COMPILED.popitem(last=False)
    return chain


def run_together(
    chains: Sequence[CompiledChain], tables: Sequence[Table], block_width: int = 16
) -> list[ChainResult]:
    """Run each table with its chain, all of them through one executor: the chains must share
    a plan (channels that differ only in per-row database values). The results are those of
    ``chain.run(table)`` for each pair.

    >>> import numpy as np
    >>> from tierflow.types import Table
    >>> cfg = {"outputs": ["y"], "processors": {"y": {"function": "x * db.gain",
    ...        "defaults": {"db.gain": 1}}}}
    >>> tables = [Table({"x": np.arange(2.0)}), Table({"x": np.arange(3.0)})]
    >>> chains = [compile_chain(cfg, t, {"gain": g}, per_row=True)
    ...           for t, g in zip(tables, (2.0, 10.0))]
    >>> [r.table["y"].nda.tolist() for r in run_together(chains, tables)]
    [[0.0, 2.0], [0.0, 10.0, 20.0]]
    """
    plan = chains[0].plan
    if any(chain.plan is not plan for chain in chains):
        raise DSPInputError("run_together needs chains that share one plan")
    sizes = [len(t) for t in tables]
    total = sum(sizes)
    parts = [
        input_arrays(t, plan, 0, n, chain.parameter_columns(n))
        for chain, t, n in zip(chains, tables, sizes, strict=True)
    ]
    columns = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    ex = chains[0].executor(min(block_width, max(total, 1)))
    out = ex.allocate(total)
    report = ex.run(columns, total, out) if total else RunReport()
    results = []
    lo = 0
    failed = np.asarray(report.failed_rows, dtype=np.int64)
    for table, n in zip(tables, sizes, strict=True):
        hi = lo + n
        rows = (failed[(failed >= lo) & (failed < hi)] - lo).tolist()
        error = report.first_error if rows else None
        part = {name: array[lo:hi] for name, array in out.items()}
        results.append(ChainResult(output_table(plan, part, table, 0, n), len(rows), rows, error))
        lo = hi
    return results


def required_columns(
    config: Any,
    available: Sequence[str],
    database: Mapping | None = None,
    channel: str | None = None,
    outputs: Sequence[str] | None = None,
) -> list[str]:
    """The columns of ``available`` a chain reads: the field mask for reading raw data.

    >>> required_columns({"outputs": ["y", "timestamp"], "processors": {"y": "baseline * 2"}},
    ...                  ["baseline", "timestamp", "waveform"])
    ['baseline', 'timestamp']
    """
    if isinstance(config, ProcessingChain):
        config = config.config
    cfg = load_config(config, outputs)
    return prepared_columns(prepare(cfg, database, channel), available)


def prepared_columns(prepared: Prepared, available: Sequence[str]) -> list[str]:
    """:func:`required_columns` of a config prepared for a channel already."""
    have = set(available)
    return list(dict.fromkeys(n for n in (*prepared.leaves, *prepared.cfg.outputs) if n in have))


def process(
    table: Table,
    config: Any,
    database: Mapping | None = None,
    channel: str | None = None,
    outputs: Sequence[str] | None = None,
    block_width: int = 16,
) -> Table:
    """Run ``config`` on ``table`` and return the output table.

    >>> import numpy as np
    >>> from tierflow.types import Table
    >>> process(Table({"x": np.arange(3.0)}), {"outputs": ["y"], "processors": {"y": "x - 1"}}
    ...         )["y"].nda.tolist()
    [-1.0, 0.0, 1.0]
    """
    chain = compile_chain(config, table, database, channel, outputs)
    return chain.run(table, block_width=block_width).table


def _schema(table: Any) -> Schema:
    if isinstance(table, Schema):
        return table
    if isinstance(table, Table):
        return Schema.of(table)
    if isinstance(table, Mapping):
        return Schema.of_columns(table)
    raise DSPInputError(
        f"expected a Table, a Schema or a dict of columns, not {type(table).__name__}"
    )


# --- data in and out --------------------------------------------------------------------------
def _column(table: Any, path: str) -> Any:
    node = table
    for part in path.split("/"):
        node = node[part]
    return node


def input_arrays(
    table: Any, plan: Plan, start: int, stop: int, parameters: Mapping | None = None
) -> dict[str, np.ndarray]:
    """The numpy arrays of the columns a plan reads (rows ``start:stop``), decoded, with the
    per-row database values ``parameters`` (given for those rows); checks that waveforms keep
    the ``dt`` the plan was compiled for."""
    arrays: dict[str, np.ndarray] = dict(parameters or {})
    for var in plan.inputs:
        if var.column in arrays:
            continue
        column = var.column
        assert column is not None  # an input names its column
        obj = _column(table, column)
        nda = _numpy(obj, column)
        arrays[column] = nda[start:stop]
    for name, dt in plan.waveforms.items():
        dt_col = _column(table, f"{name}/dt")
        values = _numpy(dt_col, f"{name}/dt")[start:stop]
        factor = unit_in_ns(getattr(dt_col, "attrs", {}).get("units")) or 1.0
        if len(values) and not _all_close(values * factor, dt):
            bad = np.unique(values * factor)[:5].tolist()
            raise DSPInputError(
                f"waveform {name!r} has sampling periods {bad} ns in these rows but the chain was "
                f"compiled for {dt} ns; process rows with different dt separately",
                key=name,
            )
    return arrays


def _all_close(values: np.ndarray, dt: float) -> bool:
    """``numpy.allclose(values, dt, rtol=1e-6, atol=0)``, without its overhead for a finite
    ``dt`` (a chain's sampling period), which is the case that matters for a few rows."""
    if not math.isfinite(dt):
        return bool(np.allclose(values, dt, rtol=1e-6, atol=0))
    return bool(np.all(np.abs(values - np.float64(dt)) <= 1e-6 * abs(dt)))


def _numpy(obj: Any, path: str) -> np.ndarray:
    if isinstance(obj, np.ndarray):
        return obj
    nda = getattr(obj, "nda", None)
    if nda is not None:
        return nda
    if type(obj).__name__ in ("ArrayOfEncodedEqualSizedArrays", "VectorOfEncodedVectors"):
        from ..lh5 import decode

        return _numpy(decode(obj), path)
    raise DSPInputError(f"column {path!r} ({type(obj).__name__}) is not an array", key=path)


def output_table(
    plan: Plan, out: Mapping[str, np.ndarray], table: Any, start: int, stop: int
) -> Table:
    """Wrap output arrays as a tierflow Table with units."""
    columns: dict[str, LGDO] = {}
    n = stop - start
    for o in plan.outputs:
        if o.kind == "passthrough":
            col = table[o.name]
            if is_column(col):
                columns[o.name] = (
                    col if (start == 0 and stop == len(col)) else col.take(slice(start, stop))
                )
            else:
                columns[o.name] = Array(np.asarray(col)[start:stop])
            continue
        attrs = dict(o.attrs)
        data = out[o.name]
        if o.kind == "array":
            columns[o.name] = Array(data, attrs=attrs)
        elif o.kind == "waveform":
            units = attrs.pop("units", None)
            wf = WaveformTable(
                size=n,
                t0=out[f"{o.name}.t0"].astype(np.float32),
                t0_units="ns",
                dt=np.full(n, o.dt, np.float32),
                dt_units="ns",
                values=ArrayOfEqualSizedArrays(nda=data),
                values_units=units,
                attrs=attrs or None,
            )
            columns[o.name] = wf
        else:
            columns[o.name] = ArrayOfEqualSizedArrays(nda=data, attrs=attrs)
    return Table(columns, size=n) if not columns else Table(columns)


# --- the programmatic chain -------------------------------------------------------------------
class ProcessingChain:
    """A chain built in code, one processor at a time, as in the 2018 interface.

    ``add(name)`` with a name of :data:`tierflow.dsp.legacy.RECIPES` (``fit_baseline``,
    ``bl_subtract``, ``pole_zero``, ``trap_filter``, ``trap_max``, ...) adds that step with its
    settings; ``add(key, spec)`` adds any processor entry of the config format.

    >>> import numpy as np
    >>> from tierflow.types import Table, WaveformTable
    >>> wf = np.full((1, 200), 100.0, "float32"); wf[:, 100:] += 50
    >>> tb = Table({"waveform": WaveformTable(values=wf, dt=10, dt_units="ns", t0_units="ns")})
    >>> chain = ProcessingChain().add("wf_blsub", "waveform - 100").add(
    ...     "height", "wf_blsub[199]")
    >>> chain.process(tb)["height"].nda.tolist()
    [50.0]
    """

    def __init__(self, config: Any = None, outputs: Sequence[str] | None = None):
        raw = copy.deepcopy(load_config(config, outputs).raw) if config is not None else {}
        self._processors: dict[str, Any] = dict(raw.get("processors", {}))
        self._outputs: list[str] = list(raw.get("outputs", []))
        self.state = legacy.ChainState()
        for key in self._processors:
            for name in key.replace(",", " ").split():
                self.state.produced.add(name)

    def add(
        self, name: str, settings: Any = None, *, output: bool | None = None
    ) -> ProcessingChain:
        """Add a processor; returns the chain (so calls can be chained).

        ``name`` is a 2018 step (``add("fit_baseline", {"i_end": 800})``) or the key of a
        config entry with ``settings`` its entry (a dict, a one-line call or an expression).
        ``output`` (default: the recipe's scalar results, or ``True`` for an entry) adds the
        computed names to the outputs.
        """
        if name in legacy.RECIPES and (settings is None or _is_recipe_settings(settings)):
            entries, outs = legacy.RECIPES[name](self.state, settings or {})
            if output is False:
                outs = []
        else:
            if settings is None:
                close = legacy.suggest(name)
                raise DSPConfigError(
                    f"unknown step {name!r}; give its entry (a dict, a call or an expression) or "
                    f"use one of {', '.join(sorted(legacy.RECIPES))}" + close,
                    processor=name,
                )
            entries = {name: settings}
            outs = [n for n in name.replace(",", " ").split()] if output is not False else []
        for key, entry in entries.items():
            if key in self._processors:
                raise DSPConfigError(f"{key!r} is already in the chain", processor=key)
            self._processors[key] = entry
            self.state.produced.update(key.replace(",", " ").split())
        for n in outs:
            if n not in self._outputs:
                self._outputs.append(n)
        load_config(self.config)  # check the entry now, not when running
        return self

    @property
    def config(self) -> dict:
        """The chain as a config dict (JSON-able)."""
        return {"outputs": list(self._outputs), "processors": copy.deepcopy(self._processors)}

    @property
    def outputs(self) -> list[str]:
        """The output columns."""
        return list(self._outputs)

    @outputs.setter
    def outputs(self, names: Sequence[str]) -> None:
        self._outputs = list(names)

    def compile(
        self,
        table: Table | Schema | Mapping,
        database: Mapping | None = None,
        channel: str | None = None,
    ) -> CompiledChain:
        """Bind the chain to ``table``'s columns (cached, see :func:`compile_chain`)."""
        return compile_chain(self.config, table, database, channel)

    def run(
        self,
        table: Table,
        database: Mapping | None = None,
        channel: str | None = None,
        block_width: int = 16,
    ) -> ChainResult:
        """Process ``table``; the result counts rows that failed."""
        return self.compile(table, database, channel).run(table, block_width=block_width)

    def process(
        self, table: Table, database: Mapping | None = None, channel: str | None = None
    ) -> Table:
        """Process ``table`` and return the output table."""
        return self.run(table, database, channel).table

    __call__ = process

    def __repr__(self) -> str:
        return f"ProcessingChain({list(self._processors)}, outputs={self._outputs})"


def _is_recipe_settings(settings: Any) -> bool:
    return isinstance(settings, Mapping) and "function" not in settings and "args" not in settings
