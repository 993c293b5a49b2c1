"""``build_dsp``: raw-tier files to dsp-tier files.

For each table of a raw file (``ch*/raw`` by default; tables without the columns a chain
needs, such as DAQ configuration tables, are skipped), only the columns the chain reads are
read, ``buffer_len`` rows at a time; the chain is compiled once per config, input shape and
database values and reused for every channel. Small tables (a DAQ cycle's few waveforms per
channel) read their number and time database values per row: channels share one compiled chain,
and the tables of a buffer run through it together. Work is split into tasks of whole tables or row
ranges and run serially, in processes or on a dask ``Client``
(:func:`tierflow.parallel.run_tasks`). All tables are written into a temporary file next to
the output, which is renamed to it at the end: no half-written file ever exists at that path.

>>> import os, tempfile, numpy as np
>>> from tierflow import lh5
>>> from tierflow.types import Table, WaveformTable
>>> d = tempfile.mkdtemp()
>>> wf = np.zeros((5, 64), "uint16"); wf[:, 32:] = 100
>>> raw = Table({"waveform": WaveformTable(values=wf, dt=16, dt_units="ns", t0_units="ns")})
>>> lh5.write(raw, "ch1/raw", os.path.join(d, "raw.lh5"))
>>> summary = build_dsp(os.path.join(d, "raw.lh5"), os.path.join(d, "dsp.lh5"),
...     {"outputs": ["height"], "processors": {"height": "waveform[63] - waveform[0]"}},
...     progress=False)
>>> summary.rows, lh5.read("ch1/dsp/height", os.path.join(d, "dsp.lh5")).nda.tolist()
(5, [100, 100, 100, 100, 100])
"""

from __future__ import annotations

import fnmatch
import logging
import math
import os
import shutil
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import lh5
from ..errors import DSPConfigError, DSPInputError, LH5FileError, TaskError, TierflowError
from ..lh5.safewrite import locked_target, temporary_path
from ..lh5.tablereader import TableReader, datatype_attr, table_rows
from ..lh5.write import BatchWriter
from ..parallel import count_workers, is_serial, run_tasks
from ..types import Table, concat
from .chain import ChainResult, compile_chain, prepared_columns, run_together
from .compiler import Prepared, prepare, prepare_per_row
from .config import ChainConfig, in_file, load_config, load_mapping
from .units import is_unit_name

__all__ = ["DSPSummary", "TableSummary", "build_dsp", "dsp_name", "find_tables"]

log = logging.getLogger(__name__)

WRITE_MODES = (None, "r", "a")
#: tables of at most this many rows read their number and time database values per row, so
#: that many channels share a chain and run together; larger ones (which gain nothing from
#: running together) have them compiled in, which makes each block of rows cheaper
PER_ROW_MAX_ROWS = 256


@dataclass
class TableSummary:
    """One table processed: rows, rows that failed (NaN outputs), the first error."""

    table: str
    output: str
    rows: int = 0
    failed: int = 0
    first_error: str | None = None


@dataclass
class DSPSummary:
    """What :func:`build_dsp` did."""

    raw_file: str
    dsp_file: str
    tables: list[TableSummary] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: why each skipped table was skipped (``"no column 'waveform' (has: wf_raw, ...)"``)
    skip_reasons: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Rows processed, all tables together."""
        return sum(t.rows for t in self.tables)

    @property
    def failed(self) -> int:
        """Rows whose processing failed (NaN outputs), all tables together."""
        return sum(t.failed for t in self.tables)

    def __str__(self) -> str:
        text = (
            f"{self.raw_file} -> {self.dsp_file}: {len(self.tables)} tables, {self.rows} rows "
            f"in {self.seconds:.2f} s"
        )
        if self.failed:
            text += f", {self.failed} rows failed"
        if self.skipped:
            text += f", skipped {len(self.skipped)} tables without the chain's inputs"
        return text


@dataclass
class _Segment:
    table: str
    start: int
    stop: int


@dataclass
class _Task:
    segments: list[_Segment]

    @property
    def rows(self) -> int:
        return sum(s.stop - s.start for s in self.segments)

    @property
    def label(self) -> str:
        first, last = self.segments[0], self.segments[-1]
        if len(self.segments) == 1:
            return f"{first.table} rows {first.start}-{first.stop}"
        return f"{len(self.segments)} tables {first.table} ... {last.table}"


@dataclass
class _TableJob:
    table: str
    output: str
    channel: str | None
    config: ChainConfig
    database: Mapping | None
    columns: list[str]
    n_rows: int
    start: int
    prepared: Prepared | None = None  # the config prepared for this channel's database entry
    total: int | None = None  # the table's rows
    parameters: tuple | None = None  # this channel's per-row database values (of ``prepared``)
    per_row: bool = True  # database values read per row (else compiled in)


class _Worker:
    """Runs tasks: reads rows, compiles (cached per process), processes. Opens the raw file
    once per worker."""

    def __init__(
        self, raw_file: str, jobs: dict[str, _TableJob], buffer_len: int, block_width: int
    ):
        self.raw_file = raw_file
        self.jobs = jobs
        self.buffer_len = buffer_len
        self.block_width = block_width
        self._local = threading.local()  # one open raw file per worker thread

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def close(self) -> None:
        """Close this thread's raw file."""
        store = getattr(self._local, "store", None)
        if store is not None:
            store.close()
            self._local.store = None
        self._local.readers = {}

    def _reader(self, columns: list[str]) -> TableReader:
        """This thread's reader of ``columns`` (it keeps what it learns of the table layout)."""
        readers = getattr(self._local, "readers", None)
        if readers is None:
            readers = self._local.readers = {}
        key = tuple(columns)
        reader = readers.get(key)
        if reader is None:
            reader = readers[key] = TableReader(columns)
        return reader

    def __call__(self, task: _Task) -> list[tuple[str, int, Table, int, list[int], str | None]]:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = lh5.LH5Store(keep_open=True)
        h5f = store.gimme_file(self.raw_file)
        done: dict[int, list[tuple[int, ChainResult]]] = {}  # segment -> (first row, result)
        for batch in self._read_ahead(h5f, task):
            chains = []
            for i_seg, _lo, table in batch:
                job = self.jobs[task.segments[i_seg].table]
                try:
                    chain = compile_chain(
                        job.config,
                        table,
                        job.database,
                        job.channel,
                        prepared=job.prepared,
                        parameters=job.parameters,
                        per_row=job.per_row,
                    )
                except DSPConfigError as err:
                    if job.config.source is None or err.file is not None:
                        raise
                    raise in_file(err, job.config.source) from None
                except TierflowError:
                    raise
                except (ArithmeticError, LookupError, TypeError, ValueError, ImportError) as err:
                    raise chain_error(err, job.config, job.table) from err
                chains.append(chain)
            results = self._run(chains, [table for _, _, table in batch])
            for (i_seg, lo, _), result in zip(batch, results, strict=True):
                done.setdefault(i_seg, []).append((lo, result))
        out = []
        for i_seg, parts in done.items():
            seg = task.segments[i_seg]
            tables = [r.table for _, r in parts]
            failed_rows = [lo + row for lo, r in parts for row in r.failed_rows]
            first_error = next((r.first_error for _, r in parts if r.first_error), None)
            table = tables[0] if len(tables) == 1 else _concat_tables(tables)
            failed = sum(r.failed for _, r in parts)
            out.append((seg.table, seg.start, table, failed, failed_rows, first_error))
        return out

    def _run(self, chains: list, tables: list[Table]) -> list[ChainResult]:
        """Each table through its chain; neighbours whose chains share a plan (channels that
        differ only in per-row database values) through one run."""
        results: list[ChainResult] = []
        i = 0
        while i < len(chains):
            j = i + 1
            while j < len(chains) and chains[j].plan is chains[i].plan:
                j += 1
            if j - i == 1:
                results.append(chains[i].run(tables[i], block_width=self.block_width))
            else:
                results += run_together(chains[i:j], tables[i:j], self.block_width)
            i = j
        return results

    def _read_ahead(self, h5f: Any, task: _Task) -> Iterator[list[tuple[int, int, Table]]]:
        """The rows of ``task`` in batches of at most ``buffer_len`` rows (whole buffers), each
        buffer as (segment index, first row, rows read): what ``store.read(job.table, ...,
        field_mask=job.columns)`` gives, read faster. Reading many small tables one after
        another is faster than reading and processing them in turn, and a batch of small
        tables can run through one chain."""
        batch: list[tuple[int, int, Table]] = []
        rows = 0
        for i_seg, seg in enumerate(task.segments):
            job = self.jobs[seg.table]
            reader = self._reader(job.columns)
            for lo in range(seg.start, seg.stop, self.buffer_len):
                n = min(self.buffer_len, seg.stop - lo)
                if batch and rows + n > self.buffer_len:
                    yield batch
                    batch, rows = [], 0
                chunk = reader.read(h5f, job.table, lo, n, total=job.total)
                assert isinstance(chunk, Table)  # the plan found a table there
                batch.append((i_seg, lo, chunk))
                rows += n
        if batch:
            yield batch


def _concat_tables(parts: list[Table]) -> Table:
    return Table({name: concat([p[name] for p in parts]) for name in parts[0]})


def build_dsp(
    f_raw: str | os.PathLike,
    f_dsp: str | os.PathLike,
    dsp_config: Any = None,
    lh5_tables: str | Sequence[str] | None = None,
    database: str | os.PathLike | Mapping | None = None,
    outputs: Sequence[str] | None = None,
    n_max: int | None = None,
    write_mode: str | None = None,
    buffer_len: int = 3200,
    block_width: int = 16,
    chan_config: str | os.PathLike | Mapping | None = None,
    *,
    start_row: int = 0,
    n_rows: int | None = None,
    executor: Any = None,
    processes: int | None = None,
    progress: bool | None = None,
    rows_per_task: int | None = None,
) -> DSPSummary:
    """Process the raw tables of ``f_raw`` with a DSP chain into the file ``f_dsp``.

    - ``dsp_config``: the chain (dict, JSON/YAML file or text, or a ProcessingChain);
      ``chan_config`` maps table or channel patterns (``"ch10*"``) to other configs, the first
      match wins; a table matching none uses ``dsp_config`` (skipped if that is ``None``).
    - ``lh5_tables``: table names or glob patterns (``"ch*"`` means ``ch*/raw``); default: every
      ``*/raw`` table. Tables matched by a pattern that lack the chain's input columns (DAQ
      configuration tables) are skipped; a table named explicitly must have them.
    - ``database``: per-channel parameters (``{"ch1084803": {"pz": {"tau": "540*us"}}}``, or a
      JSON/YAML file): ``db.pz.tau`` in the config looks up the channel's entry, then the
      processor's ``defaults``; missing from both is an error.
    - ``outputs`` replaces the config's output list.
    - rows: ``start_row`` and ``n_rows`` select an entry range of every table, ``n_max`` caps
      the rows per table.
    - ``write_mode``: ``None`` refuses to replace an existing file, ``"r"`` replaces it, ``"a"``
      adds to it. Either way the file appears (or changes) only once everything is written.
    - ``executor`` (``None``, a number of processes, a ``concurrent.futures`` executor or a dask
      ``Client``) or ``processes``; ``progress`` shows a bar (``None``: when on a terminal).

    Rows on which a processor fails get NaN outputs and are counted in the summary.
    """
    started = time.perf_counter()
    raw_path = os.fspath(f_raw)
    dsp_path = os.fspath(f_dsp)
    if write_mode not in WRITE_MODES:
        raise DSPConfigError(
            f"write_mode must be None, 'r' or 'a', not {write_mode!r}", key="write_mode"
        )
    if processes is not None:
        if executor is not None:
            raise DSPConfigError("give either executor or processes, not both", key="processes")
        executor = processes
    if buffer_len < 1:
        raise DSPConfigError(f"buffer_len must be >= 1, not {buffer_len}", key="buffer_len")
    if not os.path.exists(raw_path):
        raise LH5FileError("no such file", file=raw_path)
    if os.path.exists(dsp_path) and write_mode is None:
        raise DSPConfigError(
            f"output file {dsp_path} exists; pass write_mode='r' to replace it or 'a' to add to it",
            key="write_mode",
        )
    if os.path.abspath(raw_path) == os.path.abspath(dsp_path):
        raise DSPConfigError("the output file is the input file", key="f_dsp")

    configs = _configs(dsp_config, chan_config, outputs)
    db = _database(database)
    summary = DSPSummary(raw_path, dsp_path)
    jobs = _plan_jobs(raw_path, lh5_tables, configs, db, summary, start_row, n_rows, n_max)
    tasks = _make_tasks(jobs, executor, buffer_len, rows_per_task)
    worker = _Worker(raw_path, {j.table: j for j in jobs}, buffer_len, block_width)
    totals = {j.table: TableSummary(j.table, j.output) for j in jobs}

    directory = os.path.dirname(os.path.abspath(dsp_path))
    if not os.path.isdir(directory):
        raise LH5FileError(f"directory {directory} does not exist", file=dsp_path)
    # one writer at a time: a concurrent run waits (or is refused), and temporary files of
    # killed runs are removed
    with locked_target(dsp_path):
        tmp = temporary_path(dsp_path)
        store = lh5.LH5Store(keep_open=True)
        try:
            if write_mode == "a" and os.path.exists(dsp_path):
                shutil.copy2(dsp_path, tmp)
            h5f = store.gimme_file(tmp, "a")
            writer = BatchWriter(h5f)
            results = run_tasks(
                worker,
                tasks,
                executor,
                progress=progress,
                description=f"dsp {os.path.basename(raw_path)}",
                weights=[t.rows for t in tasks],
                unit="wf",
            )
            for task_results in _unwrapped(results):
                for table, _start, out, failed, _rows, first_error in task_results:
                    job_out = totals[table]
                    writer.write(out, job_out.output)
                    job_out.rows += len(out)
                    job_out.failed += failed
                    job_out.first_error = job_out.first_error or first_error
            writer.close()
            store.close()
            worker.close()
            os.replace(tmp, dsp_path)
        except BaseException:
            store.close()
            worker.close()
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
    summary.tables = [totals[j.table] for j in jobs]
    summary.seconds = time.perf_counter() - started
    if summary.failed:
        msg = f"{summary.failed} rows failed in {raw_path} and have NaN outputs; first: " + next(
            t.first_error for t in summary.tables if t.first_error
        )
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    log.info("%s", summary)
    return summary


def _unwrapped(results: Any) -> Any:
    """Iterate ``results``; a task that failed with a tierflow error raises that error."""
    try:
        yield from results
    except TaskError as err:
        cause = err.__cause__
        if isinstance(cause, TierflowError):
            raise cause from None
        raise


# --- configuration ------------------------------------------------------------------------
def _configs(
    dsp_config: Any, chan_config: Any, outputs: Sequence[str] | None
) -> list[tuple[str | None, ChainConfig | None]]:
    """(pattern, config) pairs, the default (pattern ``None``) last."""
    from .chain import ProcessingChain

    def one(config: Any) -> ChainConfig | None:
        if config is None:
            return None
        if isinstance(config, ProcessingChain):
            config = config.config
        return load_config(config, outputs)

    pairs: list[tuple[str | None, ChainConfig | None]] = []
    if chan_config is not None:
        mapping = load_mapping(chan_config, "chan_config")
        pairs += [(str(pattern), one(config)) for pattern, config in mapping.items()]
    elif dsp_config is None:
        raise DSPConfigError("no dsp_config given", key="dsp_config")
    pairs.append((None, one(dsp_config)))
    return pairs


def _database(database: Any) -> Mapping | None:
    if database is None:
        return None
    db = load_mapping(database, "database")
    if not isinstance(db, Mapping):
        raise DSPConfigError("the database must be a mapping of channel names", key="database")
    return db


def _config_for(configs: list, table: str, channel: str | None) -> ChainConfig | None:
    for pattern, config in configs:
        if (
            pattern is None
            or fnmatch.fnmatch(table, pattern)
            or (channel is not None and fnmatch.fnmatch(channel, pattern))
        ):
            return config
    return None


# --- tables ---------------------------------------------------------------------------------
def dsp_name(table: str) -> str:
    """The output table for a raw table: ``ch1/raw`` -> ``ch1/dsp``, ``raw/V01`` -> ``dsp/V01``.

    >>> dsp_name("ch1084803/raw"), dsp_name("raw/B00000D"), dsp_name("geds")
    ('ch1084803/dsp', 'dsp/B00000D', 'geds/dsp')
    """
    parts = table.strip("/").split("/")
    if "raw" in parts:
        return "/".join("dsp" if p == "raw" else p for p in parts)
    return f"{table.strip('/')}/dsp"


def channel_of(table: str) -> str | None:
    """The channel (database key) of a table: its first path part that is not ``raw``.

    >>> channel_of("ch1084803/raw"), channel_of("raw/B00000D"), channel_of("raw")
    ('ch1084803', 'B00000D', None)
    """
    return next((p for p in table.strip("/").split("/") if p and p != "raw"), None)


def _table_fields(
    h5f: Any, name: str, known: dict[str, Any] | None = None
) -> tuple[tuple[str, ...], bool] | None:
    """(columns, whether they come from a valid ``datatype``) of the table ``name``, or ``None``
    when ``name`` is not a table; remembered in ``known`` when given (planning asks twice).
    The attribute is read with h5py's low-level calls when it is a plain string (a raw file
    has hundreds of tables)."""
    if known is None:
        return _read_table_fields(h5f, name)
    if name not in known:
        known[name] = _read_table_fields(h5f, name)
    return known[name]


def _read_table_fields(h5f: Any, name: str) -> tuple[tuple[str, ...], bool] | None:
    """:func:`_table_fields`, from the file."""
    try:
        datatype = datatype_attr(h5f, name) or ""
    except KeyError:
        return None
    except TierflowError:  # a damaged attribute, found before HDF5 would read it
        raise
    except Exception:
        try:
            obj = h5f[name]
        except KeyError:
            return None
        datatype = obj.attrs.get("datatype", b"")
        datatype = datatype.decode() if isinstance(datatype, bytes) else str(datatype)
    if not datatype.startswith("table"):
        return None
    try:
        return tuple(lh5.parse_datatype(datatype).fields or ()), True
    except Exception:
        return tuple(h5f[name].keys()), False


def _n_rows(h5f: Any, name: str, found: tuple[tuple[str, ...], bool] | None) -> tuple[int, bool]:
    """Rows of the table ``name`` (``lh5.read_n_rows``), and whether they were counted from its
    first field's shape (as :class:`TableReader` counts them) rather than in general."""
    if found is not None and found[1] and found[0]:
        try:
            return table_rows(h5f, name, found[0][0]), True
        except Exception:
            pass  # the general count, or its error
    return lh5.read_n_rows(name, h5f) or 0, False


def _is_table(h5f: Any, name: str, known: dict[str, Any] | None = None) -> bool:
    return _table_fields(h5f, name, known) is not None


def find_tables(
    raw_file: str, lh5_tables: str | Sequence[str] | None = None
) -> list[tuple[str, bool]]:
    """The raw tables to process, each with whether it was named explicitly (not a pattern).

    Default: every ``*/raw`` table, else every ``raw/*`` table, else every top-level table.
    A name or pattern that matches a group holding a ``raw`` table means that table.
    """
    store = lh5.LH5Store(keep_open=False)
    h5f = store.gimme_file(raw_file)
    try:
        return _find_tables(h5f, raw_file, lh5_tables)
    finally:
        store.close()


def _find_tables(
    h5f: Any, raw_file: str, lh5_tables: Any, known: dict[str, Any] | None = None
) -> list[tuple[str, bool]]:
    """:func:`find_tables` in an open file; what it learns of tables goes into ``known`` (see
    :func:`_table_fields`)."""
    if lh5_tables is None:
        top = sorted(h5f.keys())
        found = [f"{k}/raw" for k in top if _is_table(h5f, f"{k}/raw", known)]
        if not found and "raw" in h5f and not _is_table(h5f, "raw", known):
            found = [
                f"raw/{k}" for k in sorted(h5f["raw"].keys()) if _is_table(h5f, f"raw/{k}", known)
            ]
        if not found:
            found = [k for k in top if _is_table(h5f, k, known)]
        return [(t, False) for t in found]
    patterns = [lh5_tables] if isinstance(lh5_tables, str) else list(lh5_tables)
    tables: dict[str, bool] = {}
    for pattern in patterns:
        explicit = not any(c in pattern for c in "*?[")
        matches = lh5.ls(h5f, pattern.strip("/"))
        if not matches and explicit:
            raise DSPInputError(f"{raw_file} has no table {pattern!r}", key="lh5_tables")
        for name in matches:
            if _is_table(h5f, name, known):
                tables.setdefault(name, explicit)
            elif _is_table(h5f, f"{name}/raw", known):
                tables.setdefault(f"{name}/raw", explicit)
            elif explicit:
                raise DSPInputError(f"{raw_file}:{name} is not a table", key="lh5_tables")
    return list(tables.items())


def _plan_jobs(
    raw_path: str,
    lh5_tables: Any,
    configs: list,
    db: Mapping | None,
    summary: DSPSummary,
    start_row: int,
    n_rows: int | None,
    n_max: int | None,
) -> list[_TableJob]:
    jobs = []
    store = lh5.LH5Store(keep_open=False)
    h5f = store.gimme_file(raw_path)
    known: dict[str, Any] = {}
    try:
        for table, explicit in _find_tables(h5f, raw_path, lh5_tables, known):
            channel = channel_of(table)
            config = _config_for(configs, table, channel)
            if config is None:
                summary.skipped.append(table)
                summary.skip_reasons[table] = "no config in chan_config matches it"
                continue
            found = _table_fields(h5f, table, known)
            available = list(found[0] if found is not None else ())
            entry = None
            if db is not None:
                entry = db.get(channel) if channel is not None else db
            prepared, parameters = _prepared(config, entry, channel, per_row=True)
            missing = [
                n
                for n in (*prepared.leaves, *config.outputs)
                if n not in available and n not in config.producers and not is_unit_name(n)
            ]
            if missing:
                if explicit:
                    raise DSPInputError(
                        f"table {table} of {raw_path} has no column {missing[0]!r} that the chain "
                        f"needs (it has {', '.join(available)})",
                        key="lh5_tables",
                    )
                log.info("skipping %s: no column %s", table, missing[0])
                summary.skipped.append(table)
                missing = list(dict.fromkeys(missing))
                summary.skip_reasons[table] = (
                    f"no column{'s' if len(missing) > 1 else ''} "
                    f"{_names([repr(m) for m in missing])} "
                    f"(has: {_names(available) or 'no columns'})"
                )
                continue
            columns = prepared_columns(prepared, available)
            total, counted = _n_rows(h5f, table, found)
            start = min(max(start_row, 0), total)
            stop = total if n_rows is None else min(total, start + n_rows)
            if n_max is not None:
                stop = min(stop, start + n_max)
            per_row = stop - start <= PER_ROW_MAX_ROWS
            if not per_row:
                prepared, parameters = _prepared(config, entry, channel, per_row=False)
            jobs.append(
                _TableJob(
                    table,
                    dsp_name(table),
                    channel,
                    config,
                    entry,
                    columns,
                    stop - start,
                    start,
                    prepared,
                    total if counted else None,
                    parameters,
                    per_row,
                )
            )
    finally:
        store.close()
    if not jobs:
        raise DSPInputError(
            f"{raw_path} has no table to process: " + _why_skipped(summary.skip_reasons),
            key="lh5_tables",
        )
    return jobs


def _prepared(
    config: ChainConfig, entry: Any, channel: str | None, per_row: bool
) -> tuple[Prepared, tuple | None]:
    """The config prepared for a channel (database values read per row or compiled in); a
    config error names the config's file."""
    try:
        if per_row:
            return prepare_per_row(config, entry, channel)
        return prepare(config, entry, channel), None
    except DSPConfigError as err:
        if config.source is None or err.file is not None:
            raise
        raise in_file(err, config.source) from None
    except TierflowError:
        raise
    except (ArithmeticError, LookupError, TypeError, ValueError, ImportError) as err:
        raise chain_error(err, config, channel) from err


def chain_error(err: Exception, config: ChainConfig, table: str | None) -> DSPConfigError:
    """A config the chain builder failed on in a way it does not check for (a constant of the
    wrong kind where a processor needs an axis, say), as a config error naming the config's
    file and the table; the builder's exception is its ``__cause__``."""
    return DSPConfigError(
        f"cannot build the chain{f' for {table}' if table else ''}: {type(err).__name__}: {err}",
        file=config.source,
    )


def _names(names: Sequence[str], limit: int = 12) -> str:
    """``a, b, c`` (at most ``limit`` names, then how many more)."""
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _why_skipped(reasons: Mapping[str, str]) -> str:
    """Each reason a table was skipped, with the tables it applies to.

    >>> _why_skipped({"ch1/raw": "no column 'waveform'", "ch2/raw": "no column 'waveform'"})
    "ch1/raw, ch2/raw: no column 'waveform'"
    >>> _why_skipped({})
    'it holds no table (expected */raw, raw/* or top-level tables)'
    """
    if not reasons:
        return "it holds no table (expected */raw, raw/* or top-level tables)"
    tables: dict[str, list[str]] = {}
    for table, reason in reasons.items():
        tables.setdefault(reason, []).append(table)
    return "; ".join(f"{_names(names, 5)}: {reason}" for reason, names in tables.items())


def _make_tasks(
    jobs: list[_TableJob], executor: Any, buffer_len: int, rows_per_task: int | None
) -> list[_Task]:
    total = sum(j.n_rows for j in jobs)
    if rows_per_task is None:
        if is_serial(executor):
            rows_per_task = buffer_len
        else:
            rows_per_task = max(1, math.ceil(total / (4 * count_workers(executor))))
    tasks: list[_Task] = []
    current: list[_Segment] = []
    size = 0
    for job in jobs:
        lo, stop = job.start, job.start + job.n_rows
        if job.n_rows == 0:
            current.append(_Segment(job.table, lo, lo))
            continue
        while lo < stop:
            hi = min(stop, lo + max(rows_per_task - size, 1))
            current.append(_Segment(job.table, lo, hi))
            size += hi - lo
            lo = hi
            if size >= rows_per_task:
                tasks.append(_Task(current))
                current, size = [], 0
    if current:
        tasks.append(_Task(current))
    return tasks
