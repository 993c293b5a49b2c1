"""Splitting an iterator's pass into work items, and running a function over their chunks.

A work item is a range of entries made of whole chunks, so every executor sees the same
chunks a serial pass sees; one large dataset is shared by all workers. The iterator
travels with the function (pickled once per job, copied once per worker thread); work
items are small entry ranges that name their files and groups for error messages.
"""

from __future__ import annotations

import contextlib
import copy
import pickle
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import TierflowError
from ..parallel import count_workers, is_serial, run_tasks
from .source import ChunkSource


class ChunkFunctionError(TierflowError):
    """A user function (``where``, ``map``'s ``fun``, ``aggregate``...) raised on a chunk."""


@dataclass(frozen=True)
class EntryRange:
    """Entries ``[first, first + n)`` of a pass; ``label`` names their files and groups."""

    first: int
    n: int
    label: str

    def __str__(self) -> str:
        return self.label


def detach(result: Any) -> Any:
    """A deep copy of a chunk's result that shares no memory with the iterator's reused buffer.

    Views of the buffer (the table itself, its DataFrame or awkward views, rows taken from a
    vector column) would otherwise change when the next chunk is read. A DataFrame's object
    cells (the arrays of a vector column) are copied too, which ``DataFrame.copy`` does not do.

    >>> import numpy as np
    >>> buf = np.arange(3)
    >>> df = detach(pd.DataFrame({"v": [buf[:2], buf[2:]]}))
    >>> buf[:] = -1
    >>> [v.tolist() for v in df["v"]]
    [[0, 1], [2]]
    """
    if isinstance(result, pd.Series):
        out = result.copy(deep=True)
        return out.map(copy.deepcopy) if out.dtype == object else out
    if isinstance(result, pd.DataFrame):
        out = result.copy(deep=True)
        for name, dtype in out.dtypes.items():
            if dtype == np.dtype(object):
                out[name] = out[name].map(copy.deepcopy)
        return out
    return copy.deepcopy(result)


def describe_entries(it: ChunkSource, first: int, n: int) -> str:
    """Files, groups and rows of entries ``[first, first + n)``, for messages."""
    segments = it.selection.segments(first, n)
    if not segments:
        return f"entries {first}..{first + n} (none)"
    parts = []
    for i, rows in segments[:3]:
        ds = it.datasets[i]
        if isinstance(rows, slice):
            span = f"rows {rows.start}..{rows.stop}"
        else:
            span = f"{len(rows)} selected rows in {rows[0]}..{rows[-1] + 1}"
        parts.append(f"{ds.file}:{ds.group} {span}")
    more = f" and {len(segments) - 3} more datasets" if len(segments) > 3 else ""
    return f"entries {first}..{first + n} ({'; '.join(parts)}{more})"


def split_entries(it: ChunkSource, chunks_per_item: int) -> list[EntryRange]:
    """The pass as work items of ``chunks_per_item`` whole chunks each."""
    start, stop, step = it.i_start, it.i_start + len(it), it.buffer_len * chunks_per_item
    return [
        EntryRange(a, min(step, stop - a), describe_entries(it, a, min(step, stop - a)))
        for a in range(start, stop, step)
    ]


def chunks_per_item(it: ChunkSource, executor: Any, per_worker: int = 4) -> int:
    """Chunks per work item so that each worker gets about ``per_worker`` items."""
    n_chunks = max(1, -(-len(it) // it.buffer_len))
    if is_serial(executor):
        return n_chunks
    workers = max(1, count_workers(executor) or 1)
    return max(1, -(-n_chunks // (workers * per_worker)))


class ChunkWork:
    """Calls ``fun(table, iterator)`` on every chunk of a work item and reduces the results.

    Without ``aggregate`` the item's results come back as a list (copied, since the
    iterator reuses its buffer). With it, they are folded into a copy of ``init``.
    ``begin(it)`` and ``terminate(it)`` run around each item.
    """

    def __init__(
        self,
        iterator: ChunkSource,
        fun: Callable,
        aggregate: Callable | None = None,
        init: Any = None,
        begin: Callable | None = None,
        terminate: Callable | None = None,
        copy_results: bool = True,
    ):
        self.iterator = iterator
        self.fun, self.aggregate, self.init = fun, aggregate, init
        self.begin, self.terminate = begin, terminate
        self.copy_results = copy_results
        self._owner = threading.get_ident()
        self._local = threading.local()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_local")
        state["_owner"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def _iterator(self) -> ChunkSource:
        """The caller's iterator in its own thread; a private copy in any other."""
        if threading.get_ident() == self._owner:
            return self.iterator
        it = getattr(self._local, "iterator", None)
        if it is None:
            it = self._local.iterator = pickle.loads(pickle.dumps(self.iterator))
        return it

    def __call__(self, item: EntryRange) -> Any:
        it = self._iterator()
        if self.begin is not None:
            self.begin(it)
        out = self._run(item, it)
        if self.terminate is not None:
            self.terminate(it)
        return out

    def _run(self, item: EntryRange, it: ChunkSource) -> Any:
        results: list = []
        acc = copy.deepcopy(self.init)
        started = self.init is not None
        stop = item.first + item.n
        for first in range(item.first, stop, it.buffer_len):
            table = it.read(first, min(it.buffer_len, stop - first))
            with _chunk_errors(it, first, len(table)):
                result = self.fun(table, it)
                if self.aggregate is None:
                    results.append(detach(result) if self.copy_results else result)
                elif not started:
                    acc, started = copy.deepcopy(result), True
                else:
                    folded = self.aggregate(acc, result)
                    acc = acc if folded is None else folded
        return results if self.aggregate is None else acc


@contextlib.contextmanager
def _chunk_errors(it: ChunkSource, first: int, n: int) -> Iterator[None]:
    """Re-raise a user function's error as a :class:`ChunkFunctionError` naming the chunk."""
    try:
        yield
    except TierflowError:
        raise
    except Exception as err:
        raise ChunkFunctionError(
            f"{type(err).__name__}: {err}, on {describe_entries(it, first, n)}"
        ) from err


def run_chunks(
    it: ChunkSource,
    work: ChunkWork,
    executor: Any = None,
    progress: bool | None = None,
    description: str = "reading",
    per_item: int | None = None,
) -> list:
    """Run ``work`` over the iterator's pass; one result per work item, in order."""
    items = split_entries(it, per_item if per_item is not None else chunks_per_item(it, executor))
    return list(
        run_tasks(
            work,
            items,
            executor=executor,
            progress=progress,
            description=description,
            weights=[item.n for item in items],
            unit="rows",
        )
    )
