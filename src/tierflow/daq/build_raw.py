"""``build_raw``: a DAQ file to raw-tier LH5 files, with legend-daq2lh5's interface.

The stream reader of the file's format (:mod:`tierflow.daq.stream`) decodes the file block by
block; each decoder's rows go to the tables the routing config says
(:mod:`tierflow.daq.routing`), are gathered per table up to ``buffer_size`` rows, processed by
the table's ``proc_spec`` (:mod:`tierflow.daq.processing`) and appended to the table.

Output files appear only when complete: each is written as a temporary file beside it
(``.NAME.tmp-PID-XXXXXXXX``) and renamed into place at the end; a build that fails leaves
the outputs as they were (an existing file replaced with ``overwrite=True`` stays until the
new one is complete). A file that ends inside a record is the exception: every complete
record before the partial one is written and the outputs are put in place, then the
:class:`~tierflow.errors.DAQTruncatedError` (naming the file and the byte offset of the
partial record) is raised, with the build's summary as its ``summary`` attribute.

>>> summary = build_raw("run.orca", out_spec="run_raw.lh5")  # doctest: +SKIP
>>> print(summary)  # doctest: +SKIP
run.orca (ORCA) -> run_raw.lh5: 4 tables, 12,345 rows, 1.2 MB in 0.1 s
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from ..errors import DAQError, DAQTruncatedError, LH5WriteError, UsageError
from ..lh5.files import open_file
from ..lh5.safewrite import locked_target, temporary_path
from ..lh5.write import write
from ..parallel.progress import progress_bar
from ..types import LGDO, Array, Struct, Table
from .processing import apply_proc_spec
from .routing import Router, Target, load_out_spec
from .stream import DAQStream, Decoded, guess_stream_type, stream_types

log = logging.getLogger(__name__)

#: rows held for all tables together are written early when they take more bytes than this,
#: largest table first, so that routing to many tables cannot fill the memory. Measured on a
#: 1 GB simulated ORCA file (16 kB records, 3 channel tables, gzip): peak RSS 684 MB with
#: 256 MiB, 492 MB with 128 MiB, 459 MB with 64 MiB (200 MB of it imports), at the same MB/s
BUFFER_BYTES_LIMIT = 64 * 2**20
#: a table's rows are joined and written in runs of about this many bytes, so that writing
#: a full buffer does not hold a second copy of it (measured on a 1 GB ORCA file, 3 tables:
#: peak RSS 870 MB joining whole buffers, see benchmarks/README.md for after)
WRITE_RUN_BYTES = 16 * 2**20


@dataclass
class BuildRawSummary:
    """What :func:`build_raw` did: ``tables`` maps ``file:/path`` to the rows written."""

    in_stream: str
    stream_type: str
    out_files: list[str] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    """Records without a decoder, by data ID or record kind (from the stream)."""
    unrouted: dict[str, int] = field(default_factory=dict)
    """Rows of keys that no table of the routing config takes, by decoder."""
    discarded: dict[str, int] = field(default_factory=dict)
    """Rows of tables without an ``out_stream`` (decoded, not written), by table."""
    undeclared: dict[str, list] = field(default_factory=dict)
    """Keys met while decoding that the stream's header did not list, by decoder (routed as
    any other key: to the ``"*"`` key list of their decoder, if any)."""
    bytes_read: int = 0
    seconds: float = 0.0
    truncated: DAQTruncatedError | None = None

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def __str__(self) -> str:
        rate = self.bytes_read / 1e6 / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"{self.in_stream} ({self.stream_type}) -> {', '.join(self.out_files) or 'no file'}: "
            f"{len(self.tables)} tables, {self.rows:,} rows, {self.bytes_read / 1e6:.1f} MB in "
            f"{self.seconds:.1f} s ({rate:.1f} MB/s)"
        )
        for what, counts in (
            ("skipped records", self.skipped),
            ("unrouted rows", self.unrouted),
            ("discarded rows", self.discarded),
            ("keys not in the header", self.undeclared),
        ):
            if counts:
                text += f"; {what}: " + ", ".join(f"{k}: {v}" for k, v in counts.items())
        if self.truncated is not None:
            text += f"; TRUNCATED: {self.truncated}"
        return text


def build_raw(
    in_stream: str | os.PathLike,
    in_stream_type: str | None = None,
    out_spec: str | os.PathLike | Mapping[str, Any] | None = None,
    buffer_size: int = 8192,
    n_max: float = np.inf,
    overwrite: bool = False,
    compass_config_file: str | os.PathLike | None = None,
    hdf5_settings: Mapping[str, Any] | str | bool | None = None,
    progress: bool | None = None,
    **kwargs: Any,
) -> BuildRawSummary:
    """Decode the DAQ file ``in_stream`` into raw-tier LH5 tables.

    ``in_stream_type``: ``"ORCA"``, ``"FlashCam"``, ``"Compass"``, ``"LlamaDaq"`` or ``None``
    (recognised from the file's first bytes). ``out_spec``: ``None`` (``{stem}.lh5`` beside the
    input, one table per decoder, named as legend-daq2lh5 names them), an output file name
    (``out.lh5`` or ``out.lh5:/group``), a JSON/YAML routing config file or a routing dict
    (see :mod:`tierflow.daq.routing`); ``kwargs`` fill its ``{placeholders}``.
    ``buffer_size``: rows gathered per table before they are written (and records decoded per
    block). ``n_max``: records (packets) decoded at most. ``overwrite``: replace output files
    that exist (otherwise an error before decoding). ``compass_config_file``: the CoMPASS
    settings XML. ``hdf5_settings``: the HDF5 filters of every dataset (a dict of h5py
    settings as legend-daq2lh5 takes, or a name of :func:`~tierflow.lh5.settings.hdf5_filters`;
    ``None``: gzip-4 with shuffle). ``progress``: a progress bar with MB/s (default: when
    stderr is a terminal).

    Returns a :class:`BuildRawSummary`. Raises :class:`~tierflow.errors.RoutingError` for a
    routing config that does not fit the stream, before decoding;
    :class:`~tierflow.errors.DAQError` for files that cannot be decoded (outputs left as
    they were); :class:`~tierflow.errors.DAQTruncatedError` after writing every complete
    record of a file that ends inside a record.
    """
    started = time.perf_counter()
    path = os.path.expandvars(os.fspath(in_stream))
    _check_arguments(buffer_size, n_max)
    if not os.path.isfile(path):
        reason = "is not a regular file" if os.path.exists(path) else "no such file"
        raise DAQError(reason, file=path)
    compression = _compression(hdf5_settings)
    config = load_out_spec(out_spec)
    stream_cls, stream_type = _stream_class(path, in_stream_type)
    options = {} if compass_config_file is None else {"compass_config_file": compass_config_file}
    default_file = ""
    if config is None:  # everything into one file: beside the input, or the one named
        default_file = (
            os.fspath(out_spec)
            if isinstance(out_spec, str | os.PathLike)
            else os.path.splitext(path)[0] + ".lh5"
        )
    summary = BuildRawSummary(path, stream_type)
    with stream_cls(path, **options) as stream:
        router = Router(config, stream.decoder_key_lists(), kwargs, default_file)
        outputs = _Outputs(overwrite, compression, source=path)
        for file in router.out_files():
            outputs.check_free(file)
        try:
            _decode(stream, router, outputs, summary, int(buffer_size), n_max, progress)
            outputs.finish(router.out_files())
        except BaseException:
            outputs.abandon()
            raise
        summary.out_files = outputs.written
        summary.undeclared = {d: list(keys) for d, keys in router.undeclared.items()}
        summary.skipped = dict(getattr(stream, "skipped", {}) or {})
        summary.bytes_read = stream.bytes_read
    summary.seconds = time.perf_counter() - started
    log.info("%s", summary)
    if summary.truncated is not None:
        summary.truncated.summary = summary  # type: ignore[attr-defined]
        raise summary.truncated
    return summary


def _check_arguments(buffer_size: Any, n_max: Any) -> None:
    if isinstance(buffer_size, bool) or not isinstance(buffer_size, int | np.integer):
        raise UsageError(f"buffer_size is a whole number of rows, not {buffer_size!r}")
    if buffer_size < 1:
        raise UsageError(f"buffer_size must be >= 1, not {buffer_size}")
    if isinstance(n_max, bool) or not isinstance(n_max, int | float | np.number) or n_max < 0:
        raise UsageError(f"n_max is a number of records >= 0 (or inf), not {n_max!r}")


def _stream_class(path: str, in_stream_type: str | None) -> tuple[type[DAQStream], str]:
    types = stream_types()
    name = guess_stream_type(path) if in_stream_type is None else in_stream_type
    if name not in types:
        raise DAQError(
            f"unknown stream type {name!r}; the known types are {', '.join(sorted(types))}",
            file=path,
        )
    return types[name], name


def _compression(hdf5_settings: Any) -> Any:
    """``write``'s ``compression`` for build_raw's ``hdf5_settings`` (``{}``: the default, as
    in legend-daq2lh5, where they are extra keywords of the writer)."""
    if hdf5_settings is None or (isinstance(hdf5_settings, Mapping) and not hdf5_settings):
        return None
    if isinstance(hdf5_settings, Mapping):
        return dict(hdf5_settings)
    if isinstance(hdf5_settings, str | bool):
        return hdf5_settings
    raise UsageError(
        "hdf5_settings is a dict of h5py settings (compression, shuffle, ...) or a filter "
        f"name, not {type(hdf5_settings).__name__}"
    )


def _decode(
    stream: DAQStream,
    router: Router,
    outputs: _Outputs,
    summary: BuildRawSummary,
    buffer_size: int,
    n_max: float,
    progress: bool | None,
) -> None:
    buffers: dict[tuple[str, str], _Buffer] = {}
    bar = progress_bar(
        stream.size,
        description=f"raw {os.path.basename(stream.path)}",
        unit="B",
        enabled=progress,
        unit_divisor=1000,
    )
    shown = 0
    try:
        blocks = stream.decode(buffer_size=buffer_size, n_max=n_max)
        while True:
            try:
                block = next(blocks, None)
            except DAQTruncatedError as err:
                summary.truncated = err
                block = None
            if block is None:
                break
            for piece in block:
                for target, obj in _by_target(piece, router):
                    _take(target, piece.decoder, obj, buffers, outputs, summary)
            for buffer in list(buffers.values()):
                if buffer.rows >= buffer_size:
                    buffer.flush(outputs, summary)
            _limit_memory(buffers, outputs, summary)
            if bar is not None:
                bar.update(stream.bytes_read - shown)
                shown = stream.bytes_read
        for buffer in buffers.values():
            buffer.flush(outputs, summary)
    finally:
        if bar is not None:
            bar.close()


def _by_target(piece: Decoded, router: Router) -> Iterator[tuple[Target | None, LGDO]]:
    """The rows of ``piece`` split by the table they go to, each table's rows in file order
    (keys sharing a table stay interleaved as in the file)."""
    keys = piece.keys
    if not isinstance(keys, np.ndarray):
        yield router.target(piece.decoder, keys), piece.obj
        return
    if len(keys) == 0:
        return
    uniques, inverse = np.unique(keys, return_inverse=True)
    slot_of: dict[tuple[str, str] | None, int] = {}
    tables: list[Target | None] = []
    slots = []
    for key in uniques:
        target = router.target(piece.decoder, key.item())
        table = None if target is None else (target.file, target.path)
        if table not in slot_of:
            slot_of[table] = len(tables)
            tables.append(target)
        slots.append(slot_of[table])
    if len(tables) == 1:
        yield tables[0], piece.obj
        return
    if not isinstance(piece.obj, Table):
        raise DAQError(f"{piece.decoder} gave keys per row of a {type(piece.obj).__name__}")
    rows_slot = np.asarray(slots)[inverse.reshape(-1)]
    for slot, target in enumerate(tables):
        yield target, piece.obj.take(np.flatnonzero(rows_slot == slot))


def _take(
    target: Target | None,
    decoder: str,
    obj: LGDO,
    buffers: dict[tuple[str, str], _Buffer],
    outputs: _Outputs,
    summary: BuildRawSummary,
) -> None:
    rows = len(obj) if isinstance(obj, Table) else 1
    if target is None:
        summary.unrouted[decoder] = summary.unrouted.get(decoder, 0) + rows
        return
    if not target.file:
        summary.discarded[target.path] = summary.discarded.get(target.path, 0) + rows
        return
    if not isinstance(obj, Table):  # a one-off object (a header): written as it is, once
        outputs.write(target.file, target.path, obj, "write_safe")
        summary.tables[f"{target.file}:/{target.path}"] = 1
        return
    buffer = buffers.get((target.file, target.path))
    if buffer is None:
        buffer = buffers[(target.file, target.path)] = _Buffer(target)
    buffer.add(obj)


def _limit_memory(
    buffers: dict[tuple[str, str], _Buffer], outputs: _Outputs, summary: BuildRawSummary
) -> None:
    total = sum(b.nbytes for b in buffers.values())
    if total <= BUFFER_BYTES_LIMIT:
        return
    for buffer in sorted(buffers.values(), key=lambda b: b.nbytes, reverse=True):
        total -= buffer.nbytes
        buffer.flush(outputs, summary)
        if total <= BUFFER_BYTES_LIMIT // 2:
            return


class _Buffer:
    """Rows of one output table waiting to be written."""

    def __init__(self, target: Target):
        self.target = target
        self.pieces: list[Table] = []
        self.rows = 0
        self.nbytes = 0

    def add(self, table: Table) -> None:
        self.pieces.append(table)
        self.rows += len(table)
        self.nbytes += nbytes(table)

    def flush(self, outputs: _Outputs, summary: BuildRawSummary) -> None:
        """Write the rows held, joined in runs of about :data:`WRITE_RUN_BYTES`."""
        if not self.pieces:
            return
        target = self.target
        first = layout(self.pieces[0])
        for piece in self.pieces[1:]:
            if layout(piece) != first:
                raise DAQError(
                    f"rows for table {target.path} of {target.file} do not fit together "
                    f"({first} and {layout(piece)}); route keys whose rows differ (waveform "
                    "lengths) to separate tables"
                )
        pieces, self.pieces, self.rows, self.nbytes = self.pieces, [], 0, 0
        name = f"{target.file}:/{target.path}"
        while pieces:
            run: list[Table] = []
            size = 0
            while pieces and (not run or size + nbytes(pieces[0]) <= WRITE_RUN_BYTES):
                size += nbytes(pieces[0])
                run.append(pieces.pop(0))
            table = run[0] if len(run) == 1 else Table.concat(run)
            processed = apply_proc_spec(table, target.proc_spec, target.path, target.lenient)
            outputs.write(target.file, target.path, processed, "append")
            summary.tables[name] = summary.tables.get(name, 0) + len(table)


def layout(obj: LGDO) -> tuple:
    """What rows of ``obj`` must share to be joined: its type, fields, dtypes and row shapes.

    >>> layout(Table({"a": np.zeros((2, 3), "u2")}))
    ('Table', (('a', ('ArrayOfEqualSizedArrays', 'uint16', (3,))),))
    """
    if isinstance(obj, Struct):
        return (type(obj).__name__, tuple((k, layout(obj[k])) for k in sorted(obj.keys())))
    if isinstance(obj, Array):
        return (type(obj).__name__, str(obj.nda.dtype), obj.nda.shape[1:])
    if isinstance(obj, LGDO):
        parts = sorted((k, layout(v)) for k, v in vars(obj).items() if isinstance(v, LGDO))
        return (type(obj).__name__, tuple(parts))
    return (type(obj).__name__,)


def nbytes(obj: Any) -> int:
    """Bytes of the numpy arrays inside a data object.

    >>> nbytes(Table({"a": np.zeros(2), "b": [[1, 2], [3]]}))
    56
    """
    if isinstance(obj, Array):
        return obj.nda.nbytes
    if isinstance(obj, Struct):
        return sum(nbytes(obj[k]) for k in obj.keys())  # not .values(): a WaveformTable column
    if isinstance(obj, LGDO):
        return sum(nbytes(v) for v in vars(obj).values() if isinstance(v, LGDO))
    return 0


class _Outputs:
    """The output files, each written as a temporary file renamed into place at the end."""

    def __init__(self, overwrite: bool, compression: Any, source: str):
        self.overwrite = overwrite
        self.source = os.path.abspath(source)
        self.compression = compression
        self.files: dict[str, tuple[str, h5py.File]] = {}
        self.locks = contextlib.ExitStack()
        self.written: list[str] = []

    def check_free(self, file: str) -> None:
        if os.path.abspath(file) == self.source:
            raise LH5WriteError("is the DAQ file being decoded, not an output file", file=file)
        if os.path.exists(file) and not self.overwrite:
            raise LH5WriteError("exists; pass overwrite=True to replace it", file=file)
        if os.path.isdir(file):
            raise LH5WriteError("is a directory, not an output file", file=file)

    def _open(self, file: str) -> h5py.File:
        if file in self.files:
            return self.files[file][1]
        directory = os.path.dirname(os.path.abspath(file))
        os.makedirs(directory, exist_ok=True)
        self.locks.enter_context(locked_target(file))
        self.check_free(file)  # again, holding the lock: another build may have written it
        tmp = temporary_path(file)
        h5f = open_file(tmp, "w")
        self.files[file] = (tmp, h5f)
        return h5f

    def write(self, file: str, path: str, obj: LGDO, mode: str) -> None:
        write(obj, path, self._open(file), wo_mode=mode, compression=self.compression)

    def finish(self, planned: list[str]) -> None:
        """Put every written file in place (and, with ``overwrite``, remove planned outputs
        that got nothing, as legend-daq2lh5 does)."""
        try:
            for file, (tmp, h5f) in self.files.items():
                h5f.close()
                os.replace(tmp, file)
                self.written.append(file)
            for file in planned:
                if file not in self.files and self.overwrite and os.path.isfile(file):
                    os.remove(file)
        finally:
            self.files.clear()
            self.locks.close()

    def abandon(self) -> None:
        """Remove the temporary files; the outputs stay as they were."""
        for tmp, h5f in self.files.values():
            with contextlib.suppress(Exception):
                h5f.close()
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
        self.files.clear()
        self.locks.close()
