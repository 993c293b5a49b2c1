"""Which rows of each dataset an iterator yields, and where entry ``i`` lives.

An *entry* is a position in the sequence of rows the iterator yields: all rows of
every dataset in order, or only those an entry list or mask selects. Row counts are
read from metadata only when needed, so opening an iterator over thousands of files
costs nothing until they are read.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import LH5IndexError

Rows = slice | np.ndarray


class EntrySelection:
    """Row counts and selected rows of ``n_datasets`` datasets.

    ``rows_of(i)`` gives the rows of dataset ``i`` (called once each, lazily).
    ``entry_list`` is global (sorted row numbers over all datasets) or one list per
    dataset; ``entry_mask`` likewise with booleans.

    >>> sel = EntrySelection(3, lambda i: [4, 0, 3][i], entry_list=[1, 3, 4, 6])
    >>> [sel.entries(i).tolist() for i in range(3)], len(sel)
    ([[1, 3], [], [0, 2]], 4)
    >>> [(i, r.tolist()) for i, r in sel.segments(1, 3)]
    [(0, [3]), (2, [0, 2])]
    """

    def __init__(
        self,
        n_datasets: int,
        rows_of: Callable[[int], int],
        entry_list: Any = None,
        entry_mask: Any = None,
        describe: Callable[[int], str] = str,
    ):
        if entry_list is not None and entry_mask is not None:
            msg = "give entry_list or entry_mask, not both"
            raise ValueError(msg)
        self.n_datasets = n_datasets
        self.rows_of = rows_of
        self.describe = describe
        self._rows: list[int] = []
        self._cum_entries: list[int] = [0]  # entries before dataset i
        self._entries: list[np.ndarray | None] | None = None
        if entry_mask is not None:
            entry_list = self._mask_to_list(entry_mask)
        if entry_list is not None:
            self._entries = [*self._split(entry_list)]

    # --- row counts ---------------------------------------------------------------------------
    def rows(self, i: int) -> int:
        """Rows of dataset ``i`` (from metadata, cached)."""
        while len(self._rows) <= i:
            self._rows.append(int(self.rows_of(len(self._rows))))
        return self._rows[i]

    def all_rows(self) -> np.ndarray:
        """Rows of every dataset."""
        self.rows(self.n_datasets - 1) if self.n_datasets else None
        return np.array(self._rows, dtype=np.int64)

    def known(self) -> dict:
        """The cached counts, for handing to a copy (workers need not reread metadata)."""
        return {"rows": list(self._rows), "entries": self._entries}

    def restore(self, known: dict) -> None:
        self._rows = list(known["rows"])
        self._entries = known["entries"]
        self._cum_entries = [0]

    # --- selected entries ---------------------------------------------------------------------
    def _mask_to_list(self, mask: Any) -> Any:
        if hasattr(mask, "to_numpy"):
            mask = mask.to_numpy()
        if isinstance(mask, np.ndarray) and mask.ndim == 1 and mask.dtype == bool:
            total = int(self.all_rows().sum())
            if len(mask) != total:
                raise LH5IndexError(
                    f"entry_mask has {len(mask)} values for {total} rows in "
                    f"{self.n_datasets} datasets"
                )
            return np.flatnonzero(mask)
        return [np.flatnonzero(np.asarray(m, dtype=bool)) for m in mask]

    def _split(self, entry_list: Any) -> list[np.ndarray]:
        if hasattr(entry_list, "to_numpy"):
            entry_list = entry_list.to_numpy()
        is_global = isinstance(entry_list, np.ndarray) and entry_list.ndim == 1
        if not is_global:
            entry_list = list(entry_list)
            is_global = all(np.isscalar(e) for e in entry_list)
        if not is_global:
            return self._per_dataset(entry_list)
        entries = np.sort(np.asarray(entry_list, dtype=np.int64), kind="stable")
        offsets = np.concatenate([[0], np.cumsum(self.all_rows())])
        if len(entries) and (entries[0] < 0 or entries[-1] >= offsets[-1]):
            bad = entries[(entries < 0) | (entries >= offsets[-1])][:5].tolist()
            raise LH5IndexError(
                f"entry_list has entries {bad} outside the {offsets[-1]} rows of "
                f"{self.n_datasets} datasets"
            )
        bounds = np.searchsorted(entries, offsets, side="left")
        return [entries[bounds[i] : bounds[i + 1]] - offsets[i] for i in range(self.n_datasets)]

    def _per_dataset(self, lists: Sequence[Any]) -> list[np.ndarray]:
        if len(lists) != self.n_datasets:
            raise LH5IndexError(
                f"entry_list has {len(lists)} lists for {self.n_datasets} datasets; give one "
                "list per (file, group) dataset, or one list of global entries"
            )
        out = []
        for i, local in enumerate(lists):
            local = np.sort(np.asarray(local, dtype=np.int64).reshape(-1), kind="stable")
            if len(local) and (local[0] < 0 or local[-1] >= self.rows(i)):
                raise LH5IndexError(
                    f"entry_list for dataset {i} ({self.describe(i)}) has entries outside its "
                    f"{self.rows(i)} rows: {local[(local < 0) | (local >= self.rows(i))][:5].tolist()}"
                )
            out.append(local)
        return out

    def entries(self, i: int) -> np.ndarray | None:
        """The selected local rows of dataset ``i`` (``None``: all of them)."""
        return None if self._entries is None else self._entries[i]

    def n_entries(self, i: int) -> int:
        """Entries the iterator yields from dataset ``i``."""
        local = self.entries(i)
        return self.rows(i) if local is None else len(local)

    def entries_before(self, i: int) -> int:
        """Entries yielded before dataset ``i``."""
        while len(self._cum_entries) <= i:
            j = len(self._cum_entries) - 1
            self._cum_entries.append(self._cum_entries[-1] + self.n_entries(j))
        return self._cum_entries[i]

    def rows_before(self, i: int) -> int:
        """Rows of all datasets before ``i`` (the global row number of its first row)."""
        self.rows(i - 1) if i > 0 else None
        return int(sum(self._rows[:i]))

    def __len__(self) -> int:
        return self.entries_before(self.n_datasets)

    # --- where entries live -------------------------------------------------------------------
    def locate(self, i_entry: int) -> tuple[int, int]:
        """(dataset, entry offset inside it) of entry ``i_entry``; past the end gives n_datasets."""
        cum = self._cum_entries
        while cum[-1] <= i_entry and len(cum) <= self.n_datasets:
            self.entries_before(len(cum))
        i = min(bisect.bisect_right(cum, i_entry) - 1, self.n_datasets)
        return i, i_entry - cum[i]

    def segments(self, i_entry: int, n: int) -> list[tuple[int, Rows]]:
        """The (dataset, local rows) pieces that make up entries ``[i_entry, i_entry + n)``."""
        out: list[tuple[int, Rows]] = []
        i, offset = self.locate(i_entry)
        while n > 0 and i < self.n_datasets:
            available = self.n_entries(i) - offset
            take = min(available, n)
            if take > 0:
                local = self.entries(i)
                rows = (
                    slice(offset, offset + take) if local is None else local[offset : offset + take]
                )
                out.append((i, rows))
                n -= take
            i, offset = i + 1, 0
        return out
