"""``build_tcm``: group the rows of all channels into events by coincidence columns.

Each channel is read in chunks of ``buffer_len`` rows; a chunk is sorted, and the sorted
chunks of all channels are merged by a compiled k-way merge up to a horizon (the smallest
last value among the channels still being read), so the memory the inputs take stays
bounded by the buffers (the tcm itself, two integers per hit, is kept until it is written).

Rows out of time order: within a chunk they are sorted. When a channel's later chunk starts
before the end of its earlier one, that channel is re-read whole (its coincidence columns
only) and sorted, and the tcm is rebuilt: the result is always that of every channel sorted
in full (as pygama would if it did not crash), ties broken by table key then row.

>>> import tempfile, os, numpy as np
>>> from tierflow import lh5
>>> from tierflow.types import Table
>>> path = os.path.join(tempfile.mkdtemp(), "hit.lh5")
>>> lh5.write(Table({"timestamp": np.array([1.0, 5.0])}), "ch1/hit", path)
>>> lh5.write(Table({"timestamp": np.array([1.0, 9.0])}), "ch2/hit", path)
>>> tcm = build_tcm([(path, "ch*/hit")], "timestamp")
>>> tcm["table_key"].view_as("ak").tolist()
[[1, 2], [1], [2]]
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass

import numpy as np

from .. import lh5
from ..errors import EventError, TierflowError
from ..lh5.files import open_file
from ..types import Table
from .coincidence import event_starts, kway_merge
from .tcm import TCM, array_values

_CYCLE = re.compile(r"\d{8}T\d{6}Z")


@dataclass
class _Channel:
    file: str
    handle: object
    table: str
    key: int
    n_rows: int
    whole: bool = False
    position: int = 0
    last_first: float = -math.inf
    vals: np.ndarray | None = None
    rows: np.ndarray | None = None

    @property
    def at_end(self) -> bool:
        return self.position >= self.n_rows

    @property
    def buffered(self) -> int:
        return 0 if self.rows is None else len(self.rows)


class _OutOfOrder(Exception):
    def __init__(self, channel: _Channel):
        self.channel = channel


def _as_list(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def _windows(coin_cols, coin_windows, window_refs) -> tuple[np.ndarray, np.ndarray]:
    windows, refs = _as_list(coin_windows), _as_list(window_refs)
    n = len(coin_cols)
    if len(windows) == 1:
        windows = windows * n
    if len(refs) == 1:
        refs = refs * n
    if len(windows) != n or len(refs) != n:
        raise EventError(
            f"coin_windows ({len(windows)}) and window_refs ({len(refs)}) must be one value or one per coin_cols ({n})"
        )
    for w in windows:
        if (
            isinstance(w, bool)
            or not isinstance(w, int | float | np.number)
            or not math.isfinite(w)
            or w < 0
        ):
            raise EventError(f"coin_windows: expected finite numbers >= 0, got {w!r}")
    for r in refs:
        if r not in ("last", "first"):
            raise EventError(f"window_refs: expected 'last' or 'first', got {r!r}")
    return np.asarray(windows, dtype=np.float64), np.array([r == "first" for r in refs])


def _channels(
    input_tables, hash_func, files: contextlib.ExitStack
) -> tuple[list[_Channel], list[str]]:
    channels, names, cycles = [], [], set()
    for file, patterns in input_tables:
        file = str(file)
        cycles.update(_CYCLE.findall(file.rsplit("/", 1)[-1]))
        handle = files.enter_context(open_file(file))
        tables = []
        for pattern in _as_list(patterns):
            found = lh5.ls(file, pattern)
            if not found:
                raise EventError(
                    f"{file}: no table matches {pattern!r}; the file holds {lh5.ls(file, '*/*') or lh5.ls(file)}"
                )
            tables += found
        for index, table in enumerate(tables):
            if hash_func is None:
                key = index
            else:
                match = re.search(hash_func, table)
                if match is None:
                    raise EventError(
                        f"{file}: hash_func {hash_func!r} finds no integer in table name {table!r}"
                    )
                key = int(match.group())
            rows = lh5.read_n_rows(table, handle)
            if rows is None:
                raise EventError(f"{file}: {table} is not a table of rows")
            channels.append(_Channel(file, handle, table, key, rows))
            names.append(table)
    if len(cycles) > 1:
        raise EventError(f"tables of different cycles mixed in one tcm: {sorted(cycles)}")
    return channels, names


def _read_chunk(ch: _Channel, coin_cols: list[str], buffer_len: int) -> None:
    n = ch.n_rows - ch.position if ch.whole else min(buffer_len, ch.n_rows - ch.position)
    vals = np.empty((len(coin_cols), n), dtype=np.float64)
    for c, col in enumerate(coin_cols):
        try:
            obj = lh5.read(f"{ch.table}/{col}", ch.handle, start_row=ch.position, n_rows=n)
            vals[c] = array_values(obj, f"{ch.file}: {ch.table}/{col}")
        except TierflowError as err:
            raise EventError(
                f"{ch.file}: table {ch.table} has no coincidence column {col!r} ({err})"
            ) from err
        if np.isnan(vals[c]).any():
            raise EventError(f"{ch.file}: table {ch.table} column {col!r} holds NaN")
    rows = np.arange(ch.position, ch.position + n, dtype=np.int64)
    order = np.lexsort((rows, *vals[::-1]))
    vals, rows = vals[:, order], rows[order]
    if n and vals[0, 0] < ch.last_first:
        raise _OutOfOrder(ch)
    if n:
        ch.last_first = vals[0, -1]
    ch.vals, ch.rows, ch.position = vals, rows, ch.position + n


def _build(channels, coin_cols, windows, first_ref, buffer_len) -> tuple[list, list, list]:
    """Event ends (cumulative lengths), table keys and rows, in parts, merged chunk by chunk."""
    ncols = len(coin_cols)
    pend_v = np.empty((ncols, 0))
    pend_k = pend_r = np.empty(0, dtype=np.int64)
    keys_out, rows_out, ends_out = [], [], []
    emitted = 0
    while True:
        for ch in channels:
            if ch.buffered == 0 and not ch.at_end:
                _read_chunk(ch, coin_cols, buffer_len)
        open_ends = [ch.vals[0, -1] for ch in channels if not ch.at_end and ch.buffered]
        horizon = min(open_ends) if open_ends else math.inf
        segs_v, segs_k, segs_r = [pend_v], [pend_k], [pend_r]
        for ch in channels:
            if not ch.buffered:
                continue
            take = (
                len(ch.rows)
                if horizon == math.inf
                else np.searchsorted(ch.vals[0], horizon, side="right")
            )
            segs_v.append(ch.vals[:, :take])
            segs_r.append(ch.rows[:take])
            segs_k.append(np.full(take, ch.key, dtype=np.int64))
            ch.vals, ch.rows = ch.vals[:, take:], ch.rows[take:]
        bounds = np.cumsum([0] + [len(r) for r in segs_r])
        vals, keys, rows = (
            np.concatenate(segs_v, axis=1),
            np.concatenate(segs_k),
            np.concatenate(segs_r),
        )
        vals, keys, rows = kway_merge(vals, keys, rows, bounds)
        is_start = event_starts(vals, windows, first_ref)
        done = horizon == math.inf and all(ch.at_end and not ch.buffered for ch in channels)
        if done:
            cut = len(rows)
        else:
            first_at_horizon = np.searchsorted(vals[0], horizon, side="left")
            starts = np.flatnonzero(is_start[: first_at_horizon + 1])
            cut = int(starts[-1]) if len(starts) else 0
        if cut:
            keys_out.append(keys[:cut])
            rows_out.append(rows[:cut])
            ends_out += [np.flatnonzero(is_start[1:cut]) + (emitted + 1), np.array([emitted + cut])]
            emitted += cut
        pend_v, pend_k, pend_r = vals[:, cut:], keys[cut:], rows[cut:]
        if done:
            return ends_out, keys_out, rows_out


def build_tcm(
    input_tables: list[tuple[str, str | list[str]]],
    coin_cols: str | list[str],
    hash_func: str | None = r"\d+",
    coin_windows: float | list[float] = 0,
    window_refs: str | list[str] = "last",
    out_file: str | None = None,
    out_name: str = "tcm",
    wo_mode: str = "write_safe",
    buffer_len: int | None = None,
    out_fields: str | list[str] | None = None,
) -> Table:
    r"""Build a time coincidence map with pygama's meaning; ``window_refs="first"`` also works.

    ``input_tables`` are ``(file, table pattern or patterns)`` pairs; ``hash_func`` takes
    the table key from a table's name (``None``: its index among the file's tables). Rows
    whose ``coin_cols`` lie within ``coin_windows`` of the reference row (the previous one,
    ``"last"``, or the event's first, ``"first"``) form one event. The table (pygama 2.1+
    layout, plus ``out_fields`` as vectors of vectors) is written to ``out_file`` when given,
    and returned.
    """
    coin_cols = _as_list(coin_cols)
    windows, first_ref = _windows(coin_cols, coin_windows, window_refs)
    with contextlib.ExitStack() as files:
        channels, names = _channels(input_tables, hash_func, files)
        table = _tcm_table(
            channels, names, coin_cols, windows, first_ref, buffer_len, hash_func, out_fields
        )
    if out_file is not None:
        lh5.write(table, out_name, out_file, wo_mode=wo_mode)
    return table


def _tcm_table(
    channels, names, coin_cols, windows, first_ref, buffer_len, hash_func, out_fields
) -> Table:
    """The tcm of the opened ``channels`` as a table, re-built whole if a channel is out of order."""
    if buffer_len is None:
        buffer_len = max(1, 10**7 // (max(1, len(channels)) * (2 + len(coin_cols))))
    if not isinstance(buffer_len, int) or buffer_len < 1:
        raise EventError(f"buffer_len: expected a positive integer, got {buffer_len!r}")
    while True:
        try:
            ends, keys, rows = _build(channels, coin_cols, windows, first_ref, buffer_len)
            break
        except _OutOfOrder as out_of_order:
            out_of_order.channel.whole = True
            for ch in channels:
                ch.position, ch.last_first, ch.vals, ch.rows = 0, -math.inf, None, None
    cat = lambda parts: np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)  # noqa: E731
    tcm = TCM(
        cat(ends),
        cat(keys),
        cat(rows),
        {"hash_func": str(hash_func), "tables": str(names)},
    )
    table = tcm.to_table()
    for name in _as_list(out_fields) if out_fields is not None else []:
        table.add_field(name, _gathered(channels, tcm, name))
    return table


def _gathered(channels: list[_Channel], tcm: TCM, name: str):
    from ..types import VectorOfVectors

    flat = None
    for ch in channels:
        at = np.flatnonzero(tcm.table_key == ch.key)
        obj = lh5.read(f"{ch.table}/{name}", ch.handle, idx=tcm.row_in_table[at])
        values = array_values(obj, f"{ch.file}: {ch.table}/{name}")
        flat = np.empty(len(tcm.table_key), dtype=values.dtype) if flat is None else flat
        flat[at] = values
    return VectorOfVectors(flattened_data=flat, cumulative_length=tcm.cumulative_length.copy())
