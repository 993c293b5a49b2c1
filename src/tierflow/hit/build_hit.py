"""``build_hit``: dsp tables in, ``chNNNNNNN/hit`` tables out, all checked before any work.

``hit_config`` is one config for every table (a :class:`~tierflow.hit.config.HitConfig`, a
dict, a JSON/YAML file) or a mapping from table patterns to configs (or config files), for
per-channel configs: ``{"ch10848*": cfg_a, "*": cfg_default}``. Keys are matched against
the table (``ch1084803/dsp``) and its channel (``ch1084803``): an exact key first, then the
first matching fnmatch pattern in the mapping's order; LEGEND's table → config-file maps
are such mappings. With a pattern mapping and no ``lh5_tables``, the tables processed are
the ``ch*/dsp`` tables that some key matches.

``parameters`` (a dict or a JSON/YAML file) maps channels (or tables, or patterns, matched
the same way) to that channel's operation overrides, e.g. a calibration's output
``{"ch1084803": {"cuspEmax_ctc_cal": {"parameters": {"a": 0.1, "b": 0.2}}}}``, merged over
the config (see :meth:`~tierflow.hit.config.HitConfig.with_parameters`). Channels without
an entry use the config as it is.

Before anything is read or written, every table's config is resolved, merged with its
parameters and checked against the dsp table's columns, so that an unknown key, column or
table is reported at once. Then each table is read in chunks of ``buffer_len`` rows (only
the columns the outputs need), and all output tables are written to a temporary file
beside ``f_hit`` that replaces ``f_hit`` only when everything has succeeded.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py

from ..errors import (
    ExpressionError,
    HitConfigError,
    LH5FileError,
    LH5ObjectNotFoundError,
    LH5WriteError,
    TierflowError,
)
from ..lh5 import ls, read, read_n_rows, write
from ..lh5.files import open_file
from ..lh5.safewrite import locked_target, temporary_path
from ..types import Table
from .config import CONFIG_KEYS, HitConfig, load_mapping, match_table

__all__ = [
    "DEFAULT_TABLES",
    "TablePlan",
    "build_hit",
    "hit_file_name",
    "hit_table_name",
    "plan_hit",
]

#: the dsp tables processed when ``lh5_tables`` is not given
DEFAULT_TABLES = "ch*/dsp"
_WO_MODES = {
    "of": "overwrite_file",
    "overwrite_file": "overwrite_file",
    "w": "write_safe",
    "write_safe": "write_safe",
    "a": "append",
    "append": "append",
}


@dataclass(frozen=True)
class TablePlan:
    """What ``build_hit`` does for one dsp table: its config (parameters merged in), the
    columns it reads and the rows it processes."""

    table: str
    output: str
    config: HitConfig
    columns: tuple[str, ...]
    n_rows: int


def hit_file_name(f_dsp: str | os.PathLike) -> str:
    """The default hit file for a dsp file: beside it, ``tier_dsp`` → ``tier_hit``.

    >>> hit_file_name("/d/l200-p03-r001-cal-20230318T012144Z-tier_dsp.lh5")
    '/d/l200-p03-r001-cal-20230318T012144Z-tier_hit.lh5'
    >>> hit_file_name("run_dsp.lh5"), hit_file_name("run.lh5")
    ('run_hit.lh5', 'run_hit.lh5')
    """
    path = Path(f_dsp)
    stem = path.stem
    if "tier_dsp" in stem:
        stem = stem.replace("tier_dsp", "tier_hit")
    elif stem.endswith(("_dsp", "-dsp")):
        stem = stem[:-3] + "hit"
    else:
        stem += "_hit"
    return os.fspath(path.with_name(stem + (path.suffix or ".lh5")))


def hit_table_name(table: str) -> str:
    """The hit table written for a dsp table: its last level becomes ``hit``.

    >>> hit_table_name("ch1084803/dsp"), hit_table_name("dsp")
    ('ch1084803/hit', 'hit')
    """
    parent, _, _ = table.strip("/").rpartition("/")
    return f"{parent}/hit" if parent else "hit"


# --- configs and parameters --------------------------------------------------------------------
def _load_configs(hit_config: Any) -> HitConfig | dict[str, HitConfig]:
    """One config, or ``{pattern: HitConfig}`` for per-channel configs."""
    if hit_config is None:
        raise HitConfigError("build_hit needs a hit_config (a config, a file or a mapping)")
    if isinstance(hit_config, HitConfig):
        return hit_config
    raw, folder = load_mapping(hit_config, "hit config")
    source = None if folder is None else os.fspath(hit_config)
    if not raw:
        raise HitConfigError("the hit config is empty; it needs 'outputs' and 'operations'")
    if any(k in CONFIG_KEYS for k in raw) or not all(
        isinstance(v, Mapping | str | os.PathLike | HitConfig) for v in raw.values()
    ):
        return HitConfig.from_dict(raw, source=source)
    configs: dict[str, HitConfig] = {}
    loaded: dict[str, HitConfig] = {}
    for pattern, value in raw.items():
        try:
            if isinstance(value, str | os.PathLike) and not isinstance(value, HitConfig):
                path = Path(value)
                if folder is not None and not path.is_absolute():
                    path = folder / path
                key = os.fspath(path)
                if key not in loaded:
                    loaded[key] = HitConfig.from_file(path)
                configs[str(pattern)] = loaded[key]
            else:
                configs[str(pattern)] = HitConfig.load(value)
        except HitConfigError as err:
            raise HitConfigError(
                f"{err.reason} (the config for {pattern!r})",
                key=f"{pattern}.{err.key}" if err.key else str(pattern),
                file=err.file or source,
            ) from None
    return configs


def _load_parameters(parameters: Any) -> tuple[dict[str, Any], str | None]:
    """The parameters by channel, and their file (``None`` when not from a file)."""
    if parameters is None:
        return {}, None
    raw, folder = load_mapping(parameters, "parameters")
    return raw, None if folder is None else os.fspath(parameters)


# --- planning ----------------------------------------------------------------------------------
def _datatype(obj: h5py.HLObject) -> str:
    value = obj.attrs.get("datatype", "")
    return value.decode() if isinstance(value, bytes) else str(value)


def _tables_in(h5f: h5py.File) -> list[str]:
    names = [n for n in ls(h5f, "*") + ls(h5f, "*/*") if _datatype(h5f[n]).startswith("table")]
    return sorted(names)


def _columns_of(group: h5py.Group, prefix: str = "", top: str | None = None) -> dict[str, str]:
    """``{column name: top-level field}`` of a table group; nested columns are ``a__b``."""
    out: dict[str, str] = {}
    for key in group:
        obj = group[key]
        field = top or key
        if isinstance(obj, h5py.Group) and _datatype(obj).startswith("table"):
            out.update(_columns_of(obj, f"{prefix}{key}__", field))  # as Table.flatten names them
        else:
            out[f"{prefix}{key}"] = field
    return out


def _find_tables(h5f: h5py.File, lh5_tables: Any, f_dsp: str) -> tuple[list[str], bool]:
    explicit = lh5_tables is not None
    patterns = (
        [DEFAULT_TABLES]
        if lh5_tables is None
        else ([lh5_tables] if isinstance(lh5_tables, str) else list(lh5_tables))
    )
    if not patterns:
        raise HitConfigError(
            "an empty list names no table; give names or patterns", key="lh5_tables"
        )
    tables: list[str] = []
    for pattern in patterns:
        found = ls(h5f, str(pattern))
        if not found:
            raise LH5ObjectNotFoundError(
                f"no table matches {pattern!r}; the file's tables are {_tables_in(h5f)}",
                file=f_dsp,
            )
        for name in found:
            if not _datatype(h5f[name]).startswith("table"):
                raise LH5ObjectNotFoundError(
                    f"{name!r} is a {_datatype(h5f[name]) or 'plain HDF5 object'}, not a table",
                    file=f_dsp,
                    obj=name,
                )
            if name not in tables:
                tables.append(name)
    return tables, explicit


def plan_hit(
    f_dsp: str | os.PathLike,
    hit_config: Any,
    lh5_tables: str | Sequence[str] | None = None,
    parameters: Any = None,
    n_max: int | None = None,
) -> list[TablePlan]:
    """Check everything ``build_hit`` would do and say what it is; nothing is written.

    Raises :class:`~tierflow.errors.HitConfigError` for a bad config, parameter set or a
    column that a table lacks, and ``LH5`` errors for missing files and tables.

    >>> import tempfile, os, numpy as np
    >>> from tierflow import lh5
    >>> from tierflow.types import Table
    >>> path = os.path.join(tempfile.mkdtemp(), "run-tier_dsp.lh5")
    >>> lh5.write(Table({"trapEmax": np.ones(5), "A_max": np.ones(5)}), "ch1/dsp", path)
    >>> [(p.table, p.output, p.columns, p.n_rows) for p in plan_hit(
    ...     path, {"outputs": ["e"], "operations": {"e": "2*trapEmax"}})]
    [('ch1/dsp', 'ch1/hit', ('trapEmax',), 5)]
    """
    f_dsp = os.fspath(f_dsp)
    configs = _load_configs(hit_config)
    pars, pars_file = _load_parameters(parameters)
    if n_max is not None and int(n_max) < 0:
        raise HitConfigError(f"n_max must be 0 or more, not {n_max}", key="n_max")
    plans: list[TablePlan] = []
    with open_file(f_dsp) as h5f:
        tables, explicit = _find_tables(h5f, lh5_tables, f_dsp)
        chosen: list[tuple[str, HitConfig]] = []
        if isinstance(configs, HitConfig):
            chosen = [(table, configs) for table in tables]
        else:
            for table in tables:
                match = match_table(configs, table)
                if match is None:
                    if explicit:
                        raise HitConfigError(
                            f"no config for table {table!r}; the config's patterns are "
                            f"{list(configs)} (add '*' for a default)"
                        )
                    continue
                chosen.append((table, match[1]))
            if not chosen:
                raise HitConfigError(
                    f"no table of {f_dsp} matches the config's patterns {list(configs)}; "
                    f"its tables are {_tables_in(h5f)}"
                )
        matched_pars: set[str] = set()
        outputs: dict[str, str] = {}
        for table, cfg in chosen:
            entry = match_table(pars, table) if pars else None
            if entry is not None:
                matched_pars.add(entry[0])
                try:
                    cfg = cfg.with_parameters(entry[1])
                except HitConfigError as err:
                    key = (err.key or "").removeprefix("parameters").lstrip(".")
                    raise HitConfigError(
                        err.reason,
                        key=f"parameters.{entry[0]}" + (f".{key}" if key else ""),
                        file=pars_file,
                    ) from None
            columns = _columns_of(h5f[table])
            cfg.check_columns(columns, f"{os.path.basename(f_dsp)}:/{table}")
            to_read = tuple(sorted({columns[c] for c in cfg.input_columns}))
            n_rows = read_n_rows(table, h5f) or 0
            if n_max is not None:
                n_rows = min(n_rows, int(n_max))
            output = hit_table_name(table)
            if output in outputs:
                raise HitConfigError(
                    f"tables {outputs[output]!r} and {table!r} would both be written as "
                    f"{output!r}; choose them with lh5_tables"
                )
            outputs[output] = table
            plans.append(TablePlan(table, output, cfg, to_read, n_rows))
        if pars and not matched_pars:
            op_names = set()
            for _, cfg in chosen:
                op_names |= set(cfg.operations)
            looks_flat = sorted(set(pars) & op_names)
            if looks_flat:
                raise HitConfigError(
                    f"the parameters are keyed by operation ({looks_flat}), but they are keyed "
                    f"by channel: {{'ch1084803': {{...}}}}, or {{'*': {{...}}}} for every table",
                    key="parameters",
                )
    return plans


# --- running -----------------------------------------------------------------------------------
def _run_table(plan: TablePlan, h5in: h5py.File, h5out: h5py.File, buffer_len: int) -> None:
    start = 0
    while True:
        n = min(buffer_len, plan.n_rows - start)
        if plan.columns:
            chunk = read(plan.table, h5in, start_row=start, n_rows=n, field_mask=list(plan.columns))
            assert isinstance(chunk, Table)  # _find_tables checked its datatype
        else:  # outputs of parameters only
            chunk = Table(size=n)
        try:
            hit = plan.config.apply(chunk)
        except ExpressionError as err:
            raise ExpressionError(f"{h5in.filename}:/{plan.table}: {err}") from err
        except HitConfigError as err:
            raise HitConfigError(
                f"{err.reason} (in {h5in.filename}:/{plan.table})", err.key
            ) from err
        except TierflowError:
            raise
        except (ArithmeticError, LookupError, TypeError, ValueError) as err:
            # an evaluation the expression checks let through (the cause is kept)
            raise ExpressionError(
                f"{h5in.filename}:/{plan.table}: evaluating the hit config failed: "
                f"{type(err).__name__}: {err}"
            ) from err
        write(hit, plan.output, h5out, wo_mode="append")
        start += n
        if start >= plan.n_rows:
            return


def build_hit(
    f_dsp: str | os.PathLike,
    f_hit: str | os.PathLike | None = None,
    hit_config: Any = None,
    lh5_tables: str | Sequence[str] | None = None,
    parameters: Any = None,
    n_max: int | None = None,
    buffer_len: int = 3200,
    wo_mode: str = "of",
) -> str:
    """Compute the hit tier of the dsp file ``f_dsp`` into ``f_hit``; return ``f_hit``.

    - ``hit_config``: one config (dict, JSON/YAML file, :class:`HitConfig`) or a mapping of
      table patterns to configs (see the module docs).
    - ``lh5_tables``: a pattern or a list of tables/patterns; default every ``ch*/dsp``.
    - ``parameters``: per-channel operation overrides (dict or JSON/YAML file).
    - ``n_max``: at most this many rows of each table.
    - ``buffer_len``: rows read and computed at a time.
    - ``wo_mode``: ``"of"``/``"overwrite_file"`` (default) writes a new file that replaces
      ``f_hit``; ``"w"``/``"write_safe"`` refuses an existing ``f_hit``; ``"a"``/``"append"``
      adds rows (or tables) to a copy of an existing ``f_hit`` that replaces it.

    Each dsp table ``chNNNNNNN/dsp`` becomes ``chNNNNNNN/hit`` with the config's outputs:
    float results in float64 (float32 dsp columns are promoted first, as in LEGEND's hit
    files), flags as LH5 bools, bitmasks as unsigned integers with ``bit_names``.
    Everything is checked before anything is read; the output appears (or is replaced)
    only when every table has been written. ``f_hit`` defaults to the dsp file's name with
    ``tier_dsp`` → ``tier_hit``.

    >>> import tempfile, os, numpy as np
    >>> from tierflow import lh5
    >>> from tierflow.types import Table
    >>> d = tempfile.mkdtemp()
    >>> dsp = os.path.join(d, "run-tier_dsp.lh5")
    >>> for ch in ("ch1084803", "ch1084804"):
    ...     lh5.write(Table({"trapEmax": np.array([100., 200.], "float32")}), f"{ch}/dsp", dsp)
    >>> cfg = {"outputs": ["e_cal"], "operations": {"e_cal": {
    ...     "expression": "a + b*trapEmax", "parameters": {"a": 0.0, "b": 1.0}, "units": "keV"}}}
    >>> hit = build_hit(dsp, hit_config=cfg, parameters={"ch1084804": {"e_cal": {"parameters": {"b": 2.0}}}})
    >>> os.path.basename(hit), lh5.ls(hit, "*/*")
    ('run-tier_hit.lh5', ['ch1084803/hit', 'ch1084804/hit'])
    >>> lh5.read("ch1084804/hit/e_cal", hit).nda.tolist()
    [200.0, 400.0]
    """
    mode = _WO_MODES.get(str(wo_mode))
    if mode is None:
        raise HitConfigError(
            f"unknown wo_mode {wo_mode!r}; use one of {sorted(set(_WO_MODES))}", key="wo_mode"
        )
    if isinstance(buffer_len, bool) or not isinstance(buffer_len, int) or buffer_len < 1:
        raise HitConfigError(f"buffer_len is a number of rows, 1 or more, not {buffer_len!r}")
    f_dsp = os.fspath(f_dsp)
    f_hit = hit_file_name(f_dsp) if f_hit is None else os.fspath(f_hit)
    if os.path.exists(f_hit) and os.path.samefile(f_hit, f_dsp):
        raise LH5WriteError("the hit file would replace its own dsp input", file=f_hit)
    plans = plan_hit(f_dsp, hit_config, lh5_tables, parameters, n_max)

    exists = os.path.exists(f_hit)
    if exists and mode == "write_safe":
        raise LH5WriteError("exists; use wo_mode='of' to replace it or 'a' to append", file=f_hit)
    directory = os.path.dirname(os.path.abspath(f_hit))
    if not os.path.isdir(directory):
        raise LH5FileError(f"directory {directory} does not exist", file=f_hit)
    with locked_target(f_hit):  # one writer at a time; killed runs' temporaries removed
        tmp = temporary_path(f_hit)
        try:
            if mode == "append" and os.path.exists(f_hit):  # looked at again under the lock
                shutil.copyfile(f_hit, tmp)
            with open_file(f_dsp) as h5in, h5py.File(tmp, "a") as h5out:
                for plan in plans:
                    _run_table(plan, h5in, h5out, buffer_len)
            os.replace(tmp, f_hit)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
    return f_hit
