"""Handing an iterator's data to dask: one partition per chunk, read lazily."""

from __future__ import annotations

import pickle
import threading
from typing import Any

import pandas as pd

from .source import ChunkSource
from .work import EntryRange, detach, split_entries


class ReadChunk:
    """Reads one chunk as a DataFrame or awkward array.

    Each thread (of each process) reads with its own copy of the iterator: dask's default
    scheduler runs partitions on several threads at once, and an iterator reads every chunk
    into the same reused buffer. The chunk is copied out of that buffer before it is returned.
    """

    def __init__(self, iterator: ChunkSource, library: str):
        self.iterator_bytes = pickle.dumps(iterator)
        self.library = library
        self._local = threading.local()

    def __getstate__(self) -> dict:
        return {"iterator_bytes": self.iterator_bytes, "library": self.library}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def _iterator(self) -> ChunkSource:
        it = getattr(self._local, "iterator", None)
        if it is None:
            it = self._local.iterator = pickle.loads(self.iterator_bytes)
        return it

    def __call__(self, item: EntryRange) -> Any:
        table = detach(self._iterator().read(item.first, item.n))
        view = table.view_as(self.library)
        if self.library == "pd":
            view.index = pd.RangeIndex(item.first, item.first + len(view))
        return view


def to_dask(it: ChunkSource, library: str = "pd") -> Any:
    """A lazy dask DataFrame (``"pd"``) or dask Bag of awkward arrays (``"ak"``), one partition
    per chunk; the index of the DataFrame is the entry number."""
    items = split_entries(it, 1)
    reader = ReadChunk(it, library)
    if library == "pd":
        import dask
        import dask.dataframe as dd

        meta = reader(EntryRange(it.i_start, 0, "meta"))
        divisions = (
            [item.first for item in items] + [items[-1].first + items[-1].n - 1] if items else None
        )
        # dask would turn object columns (the arrays of vector columns) into strings
        with dask.config.set({"dataframe.convert-string": False}):
            return dd.from_map(
                reader, items, meta=meta, divisions=divisions, enforce_metadata=False
            )
    if library == "ak":
        import dask.bag as db
        from dask import delayed

        return db.from_delayed([delayed(reader)(item) for item in items])
    raise ValueError(f"to_dask library must be 'pd' or 'ak', not {library!r}")
