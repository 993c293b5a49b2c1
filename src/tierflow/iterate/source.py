"""What the verbs need of an iterator: a source of chunks of entries.

``map``, ``query``, ``hist`` and ``to_dask`` (:mod:`.verbs`, :mod:`.work`, :mod:`.direct`,
:mod:`.dask_io`) are written against :class:`ChunkSource`, not against
:class:`~tierflow.iterate.iterator.LH5Iterator`: the iterator implements the protocol and
calls the verbs, the verbs never import the iterator. The protocol is what they really use:

- the pass: ``len(source)`` entries from ``i_start``, read ``buffer_len`` at a time with
  ``read(i_entry, n)`` into a table that the next read may overwrite;
- where the entries are: ``datasets`` (the (file, group) pairs) and ``selection`` (which rows
  of which dataset make up entries ``[first, first + n)``), for messages and for ``hist``'s
  direct route, which also opens files with ``open_file`` and needs to know about ``friends``
  and ``group_data`` (columns that are not in the files);
- the provenance of the chunk just read (``current_files`` ...), which user functions
  ``fun(table, source)`` may ask for;
- the columns: ``available_fields`` (in the tables), ``known_fields`` (any a chunk can have)
  and ``reading(names)``, a copy that reads fewer of them;
- a copy for another thread or process: a source pickles (``__getstate__``) without its open
  files and reopens them when unpickled (``__setstate__``); each worker reads with its own
  copy, since a source reuses its buffer.

>>> import os, tempfile
>>> from tierflow import lh5
>>> from tierflow.iterate import LH5Iterator
>>> path = os.path.join(tempfile.mkdtemp(), "source.lh5")
>>> lh5.write(Table({"e": np.arange(3.0)}), "hit", path)
>>> it = LH5Iterator(path, "hit", buffer_len=2)
>>> isinstance(it, ChunkSource), len(it), it.read(2, 1)["e"].nda.tolist()
(True, 3, [2.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import h5py
import numpy as np

from ..lh5.serial.table import TablePlan
from ..types import Table
from .datasets import Dataset
from .selection import EntrySelection

__all__ = ["ChunkSource"]


@runtime_checkable
class ChunkSource(Protocol):
    """A pass over entries read in chunks from (file, group) datasets (see the module)."""

    @property
    def i_start(self) -> int:
        """First entry of a pass."""
        ...

    @property
    def buffer_len(self) -> int:
        """Entries per chunk."""
        ...

    def __len__(self) -> int:
        """Entries a full pass yields."""
        ...

    def read(self, i_entry: int, n_entries: int | None = None) -> Table:
        """Entries ``[i_entry, i_entry + n_entries)`` (default ``buffer_len``); the table may
        be reused by the next read: copy what you keep."""
        ...

    @property
    def datasets(self) -> Sequence[Dataset]:
        """The (file, group) pairs, in reading order."""
        ...

    @property
    def selection(self) -> EntrySelection:
        """Which rows of which dataset are the entries (``segments(first, n)``)."""
        ...

    @property
    def friends(self) -> Sequence[tuple[ChunkSource, str, str]]:
        """Sources joined row by row, with the prefix and suffix of their columns."""
        ...

    @property
    def group_data(self) -> Mapping[str, np.ndarray]:
        """Columns of per-group values (indexed by ``Dataset.group_index``), not in the files."""
        ...

    @property
    def current_files(self) -> np.ndarray:
        """The file of each entry of the chunk just read."""
        ...

    @property
    def current_groups(self) -> np.ndarray:
        """The group of each entry of the chunk just read."""
        ...

    @property
    def current_local_entries(self) -> np.ndarray:
        """The row of each entry of the chunk just read, inside its own table."""
        ...

    @property
    def current_global_entries(self) -> np.ndarray:
        """The row of each entry of the chunk just read, over all datasets."""
        ...

    def open_file(self, file: str) -> h5py.File:
        """The open file ``file`` (one of the datasets' files), from the source's own cache."""
        ...

    def table_plan(self, file: str, group: str) -> TablePlan:
        """The read plan of the table ``file:group`` (:mod:`tierflow.lh5.serial`), the one the
        source's chunks are read with."""
        ...

    def close(self) -> None:
        """Close the files the source has open (they reopen when it reads again)."""
        ...

    def available_fields(self) -> list[str]:
        """Columns of the tables in the files (nested ones as ``a/b``)."""
        ...

    def known_fields(self) -> set[str]:
        """Every column a chunk can have: the tables', ``group_data``'s and the friends'."""
        ...

    def reading(self, names: set[str] | None) -> ChunkSource:
        """A copy reading only the columns in ``names`` (itself where ``names`` is ``None``)."""
        ...

    def __getstate__(self) -> Any:
        """The source without its open files and buffers, for a copy in another worker."""
        ...

    def __setstate__(self, state: Any) -> None:
        """Restore a copy; its files are reopened as it reads."""
        ...
