"""The time coincidence map in memory, and reading it from both of LEGEND's layouts.

pygama 2.1+ writes a table ``table{table_key,row_in_table}`` of two vectors of vectors
(one entry per event) with the ``hash_func`` and ``tables`` attributes; older files hold
``cumulative_length``, ``array_id`` and ``array_idx`` as three flat arrays. Both read into
:class:`TCM`.

>>> import numpy as np
>>> t = TCM(np.array([1, 3]), np.array([5, 5, 7]), np.array([0, 0, 1]))
>>> t.n_events, t.event_of_hits().tolist()
(2, [0, 1, 1])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import lh5
from ..errors import EventError
from ..types import LGDO, Array, Table, VectorOfVectors


@dataclass
class TCM:
    """Events as a cumulative length over flat ``table_key`` and ``row_in_table`` arrays."""

    cumulative_length: np.ndarray
    table_key: np.ndarray
    row_in_table: np.ndarray
    attrs: dict = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.cumulative_length)

    def event_of_hits(self) -> np.ndarray:
        """The event index of every hit (flat entry)."""
        return np.repeat(np.arange(self.n_events), np.diff(self.cumulative_length, prepend=0))

    def to_table(self) -> Table:
        """pygama 2.1+'s layout: a table of ``table_key`` and ``row_in_table`` vectors of vectors."""
        cl = np.asarray(self.cumulative_length, dtype=np.int64)
        return Table(
            {
                "table_key": VectorOfVectors(flattened_data=self.table_key, cumulative_length=cl),
                "row_in_table": VectorOfVectors(
                    flattened_data=self.row_in_table, cumulative_length=cl.copy()
                ),
            },
            attrs=dict(self.attrs),
        )


def array_values(obj: LGDO, what: str) -> np.ndarray:
    """The numbers of an :class:`~tierflow.types.Array` read for the tcm (``what`` names it in
    the error when it is some other object).

    >>> from tierflow.types import Array
    >>> array_values(Array([1, 2]), "x").tolist()
    [1, 2]
    """
    if not isinstance(obj, Array):
        raise EventError(f"{what} is a {type(obj).__name__}, not an array of numbers")
    return obj.nda


def read_tcm(lh5_file: str, name: str = "tcm") -> TCM:
    """Read a tcm written in either layout from ``lh5_file``.

    Raises :class:`~tierflow.errors.EventError` when ``name`` is in neither layout.
    """
    # fields one by one: the older layout's flat arrays are longer than its cumulative_length
    fields = {path.rsplit("/", 1)[-1] for path in lh5.ls(lh5_file, f"{name}/*")}
    if {"table_key", "row_in_table"} <= fields:
        obj = lh5.read(name, lh5_file)
        if not isinstance(obj, Table):
            raise EventError(f"{lh5_file}: {name} is a {type(obj).__name__}, not a tcm table")
        tk, rt = obj["table_key"], obj["row_in_table"]
        if not (isinstance(tk, VectorOfVectors) and isinstance(rt, VectorOfVectors)):
            raise EventError(f"{lh5_file}: {name}'s table_key and row_in_table are not vectors")
        attrs = {k: obj.attrs[k] for k in ("hash_func", "tables") if k in obj.attrs}
        return TCM(
            np.asarray(tk.cumulative_length.nda, dtype=np.int64),
            array_values(tk.flattened_data, f"{lh5_file}: {name}/table_key").astype(np.int64),
            array_values(rt.flattened_data, f"{lh5_file}: {name}/row_in_table").astype(np.int64),
            attrs,
        )
    if {"cumulative_length", "array_id", "array_idx"} <= fields:
        cl, key, row = (
            array_values(lh5.read(f"{name}/{f}", lh5_file), f"{lh5_file}: {name}/{f}").astype(
                np.int64, copy=False
            )
            for f in ("cumulative_length", "array_id", "array_idx")
        )
        return TCM(cl, key, row)
    raise EventError(
        f"{lh5_file}: {name} is not a tcm: expected fields table_key/row_in_table or "
        f"cumulative_length/array_id/array_idx, found {sorted(fields)}"
    )
