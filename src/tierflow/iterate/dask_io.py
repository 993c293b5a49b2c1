"""Handing an iterator's data to dask: one partition per chunk, read lazily."""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

import pandas as pd

from .work import EntryRange, split_entries

if TYPE_CHECKING:
    from .iterator import LH5Iterator


class ReadChunk:
    """Reads one chunk as a DataFrame or awkward array (its own iterator copy per process)."""

    def __init__(self, iterator: LH5Iterator, library: str):
        self.iterator_bytes = pickle.dumps(iterator)
        self.library = library
        self._iterator: LH5Iterator | None = None

    def __getstate__(self) -> dict:
        return {"iterator_bytes": self.iterator_bytes, "library": self.library, "_iterator": None}

    def __call__(self, item: EntryRange) -> Any:
        if self._iterator is None:
            self._iterator = pickle.loads(self.iterator_bytes)
        table = self._iterator.read(item.first, item.n)
        view = table.view_as(self.library)
        if self.library == "pd":
            view = view.copy()
            view.index = pd.RangeIndex(item.first, item.first + len(view))
        else:
            import awkward as ak

            view = ak.copy(view)
        return view


def to_dask(it: LH5Iterator, library: str = "pd") -> Any:
    """A lazy dask DataFrame (``"pd"``) or dask Bag of awkward arrays (``"ak"``), one partition
    per chunk; the index of the DataFrame is the entry number."""
    items = split_entries(it, 1)
    reader = ReadChunk(it, library)
    if library == "pd":
        import dask.dataframe as dd

        meta = reader(EntryRange(it.i_start, 0, "meta"))
        divisions = (
            [item.first for item in items] + [items[-1].first + items[-1].n - 1] if items else None
        )
        return dd.from_map(reader, items, meta=meta, divisions=divisions, enforce_metadata=False)
    if library == "ak":
        import dask.bag as db
        from dask import delayed

        return db.from_delayed([delayed(reader)(item) for item in items])
    raise ValueError(f"to_dask library must be 'pd' or 'ak', not {library!r}")
