"""LH5Iterator: chunks of rows from many files and groups, in bounded memory."""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import h5py
import numpy as np
import pandas as pd

from ..errors import LH5Error, LH5FileError, LH5IndexError, LH5ObjectNotFoundError
from ..lh5.files import get_object
from ..lh5.guards import translated
from ..lh5.read import datatype_of
from ..lh5.serial.table import TablePlan
from ..lh5.store import LH5Store
from ..lh5.write import write
from ..types import Array, Table, WaveformTable
from .buffer_size import bytes_per_row, mean_vector_length, rows_for_memory
from .dask_io import to_dask
from .datasets import Dataset, FilesSpec, GroupsSpec, list_datasets
from .reader import ChunkReader
from .selection import EntrySelection
from .verbs import executor_of, fill_hist, map_chunks, query


class FriendLengthError(LH5IndexError):
    """A friend iterator yields a different number of entries than the iterator it joins."""


class LH5Iterator(Iterator):
    """Iterate over chunks of rows of tables in many LH5 files and groups.

    Each step yields a :class:`~tierflow.types.Table` of at most ``buffer_len`` rows
    (rows, or memory such as ``"100 MB"`` sized from the columns read). The table is
    reused from step to step: copy what you keep. Datasets are (file, group) pairs:
    every group in every file, files outer. Rows can be picked with ``entry_list`` or
    ``entry_mask`` (global over all datasets, or one per dataset); ``friend`` joins
    another iterator row by row; ``group_data`` adds per-group values as columns.

    The chunk's provenance (``current_files``, ``current_groups``,
    ``current_local_entries``, ``current_global_entries``) is computed when asked for.

    >>> import tempfile, os, numpy as np
    >>> from tierflow import lh5
    >>> from tierflow.types import Table
    >>> path = os.path.join(tempfile.mkdtemp(), "it.lh5")
    >>> for ch in ("ch1", "ch2"):
    ...     lh5.write(Table({"e": np.arange(3.0)}), f"{ch}/hit", path, wo_mode="a")
    >>> it = LH5Iterator(path, ["ch1/hit", "ch2/hit"], buffer_len=4)
    >>> [tb["e"].nda.tolist() for tb in it]
    [[0.0, 1.0, 2.0, 0.0], [1.0, 2.0]]
    >>> it.current_groups.tolist(), len(it)
    (['ch2/hit', 'ch2/hit'], 6)
    """

    def __init__(
        self,
        lh5_files: FilesSpec,
        groups: GroupsSpec,
        *,
        base_path: str = "",
        entry_list: Any = None,
        entry_mask: Any = None,
        i_start: int = 0,
        n_entries: int | None = None,
        field_mask: Sequence[str] | Mapping[str, bool] | None = None,
        group_data: Mapping[str, Sequence] | pd.DataFrame | None = None,
        buffer_len: int | str = "100 MB",
        file_cache: int = 10,
        friend: LH5Iterator | Sequence[LH5Iterator] | None = None,
        friend_prefix: str | Sequence[str] = "",
        friend_suffix: str | Sequence[str] = "",
        allow_missing: bool = False,
    ):
        self.base_path = os.fspath(base_path)
        self.datasets, self.groups = list_datasets(lh5_files, groups, self.base_path)
        if not self.datasets:
            raise LH5FileError(f"no (file, group) pairs to read from files {lh5_files!r}")
        self.file_cache = file_cache
        self.field_mask = field_mask
        self.allow_missing = allow_missing
        self.missing: list[Dataset] = []
        self.i_start = int(i_start)
        self.n_entries = None if n_entries is None else int(n_entries)
        self._open()
        self.selection = EntrySelection(
            len(self.datasets),
            self._rows_of,
            entry_list,
            entry_mask,
            describe=lambda i: str(self.datasets[i]),
        )
        self.group_data = _group_columns(group_data, len(self.groups))
        self.friends: list[tuple[LH5Iterator, str, str]] = []
        self._requested_buffer_len = buffer_len
        for fr, prefix, suffix in _friends(friend, friend_prefix, friend_suffix):
            self.add_friend(fr, prefix, suffix)
        self.buffer_len = buffer_len
        self.current_i_entry = self.i_start
        self._next_entry = self.i_start
        self._segments: list[tuple[int, Any]] = []

    # --- files --------------------------------------------------------------------------------
    def _open(self) -> None:
        self._store = LH5Store(self.base_path, max_open=max(int(self.file_cache), 1))
        self._reader = ChunkReader(self._store.gimme_file, self.field_mask)
        self._table: Table | None = None
        self._buffer: Table | None = None

    def _rows_of(self, i: int) -> int:
        ds = self.datasets[i]
        try:
            rows = self._reader.rows(ds.file, ds.group)
        except (LH5FileError, LH5ObjectNotFoundError) as err:
            if not self.allow_missing:
                raise
            warnings.warn(f"skipping {ds}: {err}", stacklevel=4)
            self.missing.append(ds)
            return 0
        if rows is None:
            raise LH5ObjectNotFoundError(
                "expected a table, found an object without rows", file=ds.file, obj=ds.group
            )
        return rows

    # --- sizes --------------------------------------------------------------------------------
    @property
    def n_datasets(self) -> int:
        """Number of (file, group) pairs."""
        return len(self.datasets)

    def __len__(self) -> int:
        """Entries a full pass yields (after ``i_start`` and ``n_entries``)."""
        n = max(len(self.selection) - self.i_start, 0)
        return n if self.n_entries is None else min(n, self.n_entries)

    @property
    def buffer_len(self) -> int:
        """Rows per chunk."""
        return self._buffer_len

    @buffer_len.setter
    def buffer_len(self, value: int | str) -> None:
        if isinstance(value, str):
            value = rows_for_memory(value, self.bytes_per_row())
        value = int(value)
        if value < 1:
            raise ValueError(f"buffer_len must be at least 1 row, not {value}")
        self._buffer_len = value
        for fr, _, _ in self.friends:
            fr.buffer_len = value

    def bytes_per_row(self) -> float:
        """Memory one row takes in the buffer: the columns read, friends included."""
        sample = self._first_rows(1)
        own = 0.0 if sample is None else bytes_per_row(sample, self._vector_lengths())
        return own + sum(fr.bytes_per_row() for fr, _, _ in self.friends)

    def _first_rows(self, n: int) -> Table | None:
        for i in range(self.n_datasets):
            if self.selection.rows(i) > 0:
                ds = self.datasets[i]
                return self._reader.read(ds.file, ds.group, slice(0, n), None, 0)
        if n == 0:  # only empty tables: no rows, but their columns
            for ds in self.datasets:
                if ds not in self.missing:
                    return self._reader.read(ds.file, ds.group, slice(0, 0), None, 0)
        return None

    def _vector_lengths(self) -> Callable[[str], float]:
        def mean_length(path: str) -> float:
            for i in range(self.n_datasets):
                rows = self.selection.rows(i)
                if rows:
                    ds = self.datasets[i]
                    return mean_vector_length(self._reader.plan(ds.file, ds.group), path, rows)
            return 1.0

        return mean_length

    # --- friends ------------------------------------------------------------------------------
    def add_friend(self, friend: LH5Iterator, prefix: str = "", suffix: str = "") -> None:
        """Join ``friend``'s columns to every chunk (names get ``prefix`` and ``suffix``).

        Both iterators must yield the same number of entries.
        """
        if not isinstance(friend, LH5Iterator):
            raise TypeError(f"a friend must be an LH5Iterator, not {type(friend).__name__}")
        mine, theirs = len(self.selection), len(friend.selection)
        if mine != theirs:
            raise FriendLengthError(
                f"friend has {theirs} entries in {friend.n_datasets} datasets "
                f"({friend.datasets[0]} ...) but this iterator has {mine} in "
                f"{self.n_datasets} ({self.datasets[0]} ...); friends are joined row by row"
            )
        self.friends.append((friend, prefix, suffix))
        if hasattr(self, "_buffer_len"):
            friend.buffer_len = self._buffer_len

    # --- reading ------------------------------------------------------------------------------
    def read(self, i_entry: int, n_entries: int | None = None) -> Table:
        """The table of entries ``[i_entry, i_entry + n_entries)`` (default ``buffer_len``)."""
        n = self._buffer_len if n_entries is None else int(n_entries)
        if i_entry < 0:
            raise LH5IndexError(f"entry {i_entry} is negative")
        segments = self.selection.segments(int(i_entry), n)
        buffer, pos = self._buffer, 0
        capacity = sum(_n_rows(rows) for _, rows in segments)
        if buffer is not None:
            _reserve(buffer, capacity)
        for i, rows in segments:
            ds = self.datasets[i]
            buffer = self._reader.read(ds.file, ds.group, rows, buffer, pos, capacity)
            pos += len(range(rows.start, rows.stop)) if isinstance(rows, slice) else len(rows)
        if buffer is None:
            buffer = self._empty()
        elif pos == 0:
            buffer.resize(0)
        self._buffer = buffer
        self._segments = segments
        self.current_i_entry = int(i_entry)
        return self._assemble(buffer, pos, int(i_entry))

    def _empty(self) -> Table:
        sample = self._first_rows(0)
        return sample if sample is not None else Table(size=0)

    def _assemble(self, buffer: Table, n: int, i_entry: int) -> Table:
        table: Table
        if isinstance(buffer, WaveformTable) and not self.group_data and not self.friends:
            # a table of waveforms alone stays one (as lh5.read gives it)
            table = WaveformTable(
                t0=buffer["t0"], dt=buffer["dt"], values=buffer["values"], attrs=buffer.attrs
            )
        else:
            table = Table(size=n)
            for name, col in buffer.items():
                table.add_field(name, col)
        if self.group_data:
            self._add_group_data(table, n)
        for fr, prefix, suffix in self.friends:
            other = fr.read(i_entry, n)
            if len(other) != n:
                raise FriendLengthError(
                    f"friend gave {len(other)} rows for entries {i_entry}..{i_entry + n} where "
                    f"this iterator gave {n}"
                )
            for name, col in other.items():
                key = f"{prefix}{name}{suffix}"
                if key not in table:
                    table.add_field(key, col)
        return table

    def _add_group_data(self, table: Table, n: int) -> None:
        lengths = [_n_rows(rows) for _, rows in self._segments]
        which = [self.datasets[i].group_index for i, _ in self._segments]
        for name, values in self.group_data.items():
            table.add_field(
                name, Array(np.repeat(values[which], lengths)) if n else Array(values[:0])
            )

    def __iter__(self) -> LH5Iterator:
        self._next_entry = self.i_start
        return self

    def __next__(self) -> Table:
        end = len(self.selection) if self.n_entries is None else self.i_start + self.n_entries
        n = min(self._buffer_len, end - self._next_entry)
        if n <= 0:
            self.close()
            raise StopIteration
        table = self.read(self._next_entry, n)
        if len(table) == 0:
            self.close()
            raise StopIteration
        self._next_entry += len(table)
        return table

    # --- provenance of the current chunk ----------------------------------------------------------
    def _per_segment(self, values: Sequence[Any], dtype: Any = None) -> np.ndarray:
        lengths = [_n_rows(rows) for _, rows in self._segments]
        return np.repeat(np.asarray(values, dtype=dtype), lengths)

    @property
    def current_files(self) -> np.ndarray:
        """The file of each row of the current chunk."""
        return self._per_segment([self.datasets[i].file for i, _ in self._segments], str)

    @property
    def current_groups(self) -> np.ndarray:
        """The group of each row of the current chunk."""
        return self._per_segment([self.datasets[i].group for i, _ in self._segments], str)

    @property
    def current_local_entries(self) -> np.ndarray:
        """The row number of each row inside its own table."""
        parts = [
            np.arange(rows.start, rows.stop) if isinstance(rows, slice) else rows
            for _, rows in self._segments
        ]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    @property
    def current_global_entries(self) -> np.ndarray:
        """The row number of each row over all datasets (as if they were one table)."""
        offsets = [self.selection.rows_before(i) for i, _ in self._segments]
        return self.current_local_entries + self._per_segment(offsets, np.int64)

    # --- copies for workers ---------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for key in ("_store", "_reader", "_table", "_buffer"):
            state.pop(key, None)
        state["selection"] = self.selection.known()
        state["_plan"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        known = state.pop("selection")
        state.pop("_plan", None)
        self.__dict__.update(state)
        self._open()
        self.selection = EntrySelection(
            len(self.datasets), self._rows_of, describe=lambda i: str(self.datasets[i])
        )
        self.selection.restore(known)

    # --- columns ------------------------------------------------------------------------------
    def available_fields(self) -> list[str]:
        """Columns of the tables (nested ones as ``a/b``), from the first dataset found."""
        for ds in self.datasets:
            try:
                h5f = self._store.gimme_file(ds.file)
                with translated(ds.file, ds.group, "listing the fields"):
                    return _fields_of(get_object(h5f, ds.group))
            except (LH5FileError, LH5ObjectNotFoundError):
                continue
        return []

    def known_fields(self) -> set[str]:
        """Every column name a chunk can have: the tables' fields (nested ones as ``a/b``, read
        or not), ``group_data`` and the friends' (with their prefix and suffix)."""
        names = set(self.available_fields()) | set(self.group_data)
        for fr, prefix, suffix in self.friends:
            names |= {f"{prefix}{n}{suffix}" for n in fr.known_fields()}
        return names

    def reading(self, names: set[str] | None) -> LH5Iterator:
        """A copy that reads only the columns in ``names`` that exist (same chunks), friends too.

        >>> it = _doc_iterator()
        >>> sorted(it.reading({"e", "no_such_column"}).read(0, 1))
        ['e']
        >>> sorted(it.reading(set()).read(0, 1))
        []
        """
        if names is None:
            return self
        names = set(names)
        own = set(self.available_fields())
        state = self.__getstate__()
        state["field_mask"] = sorted(n for n in names if n in own and n not in self.group_data)
        state["friends"] = [
            (fr.reading(_unaffixed(names, prefix, suffix)), prefix, suffix)
            for fr, prefix, suffix in self.friends
        ]
        # a deep copy, as pickling gives a worker; unpickling opens it with the new field_mask
        clone = LH5Iterator.__new__(LH5Iterator)
        clone.__setstate__(pickle.loads(pickle.dumps(state)))
        return clone

    def open_file(self, file: str) -> h5py.File:
        """The open file ``file`` (a path as in :attr:`datasets`), from the iterator's cache of
        open files (opened if it is not)."""
        return self._store.gimme_file(file)

    def table_plan(self, file: str, group: str) -> TablePlan:
        """The plan the chunks of ``file:group`` are read with (see :mod:`tierflow.lh5.serial`)."""
        return self._reader.plan(file, group)

    # --- map, query, hist, dask -----------------------------------------------------------------
    def map(
        self,
        fun: Callable[[Table, LH5Iterator], Any],
        aggregate: Callable[[Any, Any], Any] | None = None,
        init: Any = None,
        begin: Callable[[LH5Iterator], None] | None = None,
        terminate: Callable[[LH5Iterator], None] | None = None,
        processes: int | Any = None,
        executor: Any = None,
        progress: bool | None = None,
    ) -> list:
        """Call ``fun(table, iterator)`` on every chunk; results in input order.

        With ``aggregate(acc, result)`` (returning the new ``acc`` or updating it in place),
        each work item folds its chunks' results starting from a copy of ``init``, and the
        list holds one partial result per work item: combine them with ``aggregate``.
        ``begin(it)``/``terminate(it)`` run before and after each work item. ``processes``
        (a number) or ``executor`` (any ``concurrent.futures.Executor`` or a
        ``distributed.Client``) run the chunks in parallel; the default is serial.

        >>> from tierflow.iterate.iterator import _doc_iterator
        >>> it = _doc_iterator()
        >>> it.map(lambda tb, it: len(tb))
        [4, 2]
        >>> sum(it.map(lambda tb, it: len(tb), aggregate=lambda a, b: a + b, init=0))
        6
        """
        return map_chunks(
            self, fun, aggregate, init, begin, terminate, executor_of(processes, executor), progress
        )

    def query(
        self,
        where: str | Callable | None,
        *,
        fields: Sequence[str] | Mapping[str, str | None] | None = None,
        library: str = "lgdo",
        processes: int | Any = None,
        executor: Any = None,
        progress: bool | None = None,
    ) -> Any:
        """The rows ``where`` selects, concatenated over the pass.

        ``where`` is an expression of the :meth:`Table.eval` language (the result has the
        iterator's columns, or ``fields``: a list, or a dict of new names), or a function
        ``(table, iterator)`` returning a Table, DataFrame, awkward array, numpy array, dict
        or tuple of arrays, which are concatenated alike. ``library`` is ``"lgdo"``,
        ``"pd"``, ``"ak"`` or ``"np"``.

        >>> from tierflow.iterate.iterator import _doc_iterator
        >>> _doc_iterator().query("e > 1", library="pd")["e"].tolist()
        [2.0, 2.0]
        """
        return query(self, where, fields, library, executor_of(processes, executor), progress)

    def hist(
        self,
        ax: Any,
        where: str | Callable | None = None,
        keys: str | Sequence[str] | None = None,
        weights: str | None = None,
        processes: int | Any = None,
        executor: Any = None,
        progress: bool | None = None,
        **hist_kwargs: Any,
    ) -> Any:
        """Fill a ``hist.Hist`` over the pass.

        ``ax`` is an axis, a list of axes or a histogram (filled on top of what it holds).
        Values come from ``keys`` (expressions, one per axis) or the columns named like the
        axes' ``name`` or ``label``, on the rows the ``where`` expression selects; or from a
        function ``where(table, iterator)`` returning one array per axis (a tuple, 2-d array,
        dict, DataFrame or Table). ``weights`` is an expression. Growing category axes work.

        >>> import hist
        >>> from tierflow.iterate.iterator import _doc_iterator
        >>> h = _doc_iterator().hist(hist.axis.Regular(3, 0, 3, name="e"), where="e > 0")
        >>> h.values().tolist()
        [0.0, 2.0, 2.0]
        """
        return fill_hist(
            self,
            ax,
            where,
            keys,
            weights,
            executor_of(processes, executor),
            progress,
            **hist_kwargs,
        )

    def to_dask(self, library: str = "pd") -> Any:
        """A lazy dask DataFrame (or, with ``library="ak"``, a dask Bag of awkward arrays for
        jagged columns), one partition per chunk."""
        return to_dask(self, library)

    def chunk_starts(self) -> range:
        """First entry of every chunk of a full pass."""
        return range(self.i_start, self.i_start + len(self), self._buffer_len)

    def close(self) -> None:
        """Close the open files (they reopen when read again)."""
        self._reader.release()
        self._store.close()
        for fr, _, _ in self.friends:
            fr.close()

    def __repr__(self) -> str:
        return (
            f"LH5Iterator({self.n_datasets} datasets: {self.datasets[0]} ..., "
            f"buffer_len={self._buffer_len})"
        )


def _fields_of(obj: Any, prefix: str = "") -> list[str]:
    out: list[str] = []
    if not isinstance(obj, h5py.Group):
        return out
    dt = datatype_of(obj)
    if dt.kind not in ("table", "struct"):
        return out
    for name in dt.fields or tuple(obj.keys()):
        out.append(prefix + name)
        if name in obj:
            out.extend(_fields_of(obj[name], f"{prefix}{name}/"))
    return out


def _doc_iterator() -> LH5Iterator:
    """A small iterator for the examples: two groups of 3 rows, ``e`` = 0, 1, 2."""
    path = os.path.join(tempfile.mkdtemp(), "doc.lh5")
    for ch in ("ch1", "ch2"):
        write(Table({"e": np.arange(3.0)}), f"{ch}/hit", path, wo_mode="a")
    return LH5Iterator(path, ["ch1/hit", "ch2/hit"], buffer_len=4)


def _reserve(obj: Any, rows: int) -> None:
    """Grow the buffer's columns to hold ``rows`` at once (not by doubling as datasets come)."""
    if isinstance(obj, Table):  # items(), not values(): WaveformTable.values is its column
        for _, col in obj.items():
            _reserve(col, rows)
    elif isinstance(obj, Array) and obj.capacity() < rows:
        obj.resize(rows)


def _n_rows(rows: Any) -> int:
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def _unaffixed(names: set[str], prefix: str, suffix: str) -> set[str]:
    """The names with ``prefix`` and ``suffix``, without them (a friend's own column names).

    >>> sorted(_unaffixed({"fr_e", "fr_t", "e"}, "fr_", ""))
    ['e', 't']
    """
    return {
        n[len(prefix) : len(n) - len(suffix)]
        for n in names
        if n.startswith(prefix) and n.endswith(suffix)
    }


def _friends(friend: Any, prefix: Any, suffix: Any) -> list[tuple[LH5Iterator, str, str]]:
    if friend is None:
        return []
    friends = [friend] if isinstance(friend, LH5Iterator) else list(friend)
    prefixes = [prefix] * len(friends) if isinstance(prefix, str) else list(prefix)
    suffixes = [suffix] * len(friends) if isinstance(suffix, str) else list(suffix)
    return list(zip(friends, prefixes, suffixes, strict=True))


def _group_columns(group_data: Any, n_groups: int) -> dict[str, np.ndarray]:
    """Per-group values as arrays indexed by group number; nested lists are flattened."""
    if group_data is None:
        return {}
    if isinstance(group_data, pd.DataFrame):
        group_data = {str(k): group_data[k].to_numpy() for k in group_data.columns}
    out = {}
    for name, values in dict(group_data).items():
        values = list(values)
        if values and all(isinstance(v, list | tuple | np.ndarray) for v in values):
            values = [v for vs in values for v in vs]
        arr = np.asarray(values)
        if arr.ndim != 1 or len(arr) != n_groups:
            raise LH5Error(
                f"group_data[{name!r}] has {len(arr)} values for {n_groups} groups; give one "
                "value per group"
            )
        out[name] = arr
    return out
