"""Reading rows of many (file, group) tables into one reused buffer.

Each table is read by the plan of its layout (:mod:`tierflow.lh5.serial`), kept from table to
table and rebound to the next one (:class:`~tierflow.lh5.tablereader.KeptPlans`), straight into
the buffer's columns: the first chunk allocates the buffer for all its rows at once, later
chunks reuse it. A table of another layout than the buffer's (longer strings, another dtype) is
read on its own and copied in.
"""

from __future__ import annotations

from collections.abc import Callable

import h5py
from h5py import h5o

from ..errors import LH5DecodeError, LH5Error, LH5ObjectNotFoundError, TierflowError
from ..lh5 import read as lh5_read
from ..lh5 import read_n_rows
from ..lh5.buffer import store_into
from ..lh5.guards import translated
from ..lh5.serial.base import Plan, Rows, n_selected
from ..lh5.serial.table import TablePlan
from ..lh5.tablereader import KeptPlans
from ..types import Table

#: plans bound to tables at once (one per table of the pass, up to this many)
BOUND_PLANS = 4096


class ChunkReader:
    """Reads row ranges of tables into a buffer table that is reused from chunk to chunk.

    ``open_file(path)`` gives an open ``h5py.File`` (the iterator's file cache).

    >>> import tempfile, os, numpy as np, tierflow.lh5 as lh5
    >>> from tierflow.types import Table
    >>> path = os.path.join(tempfile.mkdtemp(), "r.lh5")
    >>> lh5.write(Table({"a": np.arange(5.0), "b": np.arange(5)}), "t", path)
    >>> reader = ChunkReader(lambda p: h5py.File(p, "r"), field_mask=["a"])
    >>> buf = reader.read(path, "t", slice(1, 3), None, 0)
    >>> buf = reader.read(path, "t", np.array([4]), buf, 2)
    >>> buf["a"].nda.tolist(), list(buf)
    ([1.0, 2.0, 4.0], ['a'])
    """

    def __init__(self, open_file: Callable[[str], h5py.File], field_mask=None):
        self.open_file = open_file
        self.kept = KeptPlans(field_mask)
        self.field_mask = self.kept.mask
        #: the layout of the plans that filled the buffer (``None``: none yet, or mixed)
        self._layout: tuple | None = None
        #: the plans bound to the tables counted or read, while their files stay open
        self._bound: dict[tuple[str, str], Plan] = {}
        #: the table read last: its plan is let go when the next table is read, since HDF5
        #: keeps memory as large as a dataset's last read while the dataset is open
        #: (measured: 20 datasets of 1e6 float32 read while all open, 20,132 page faults and
        #: 79 ms; each closed after its read, 2,380 and 49 ms)
        self._last_read: tuple[str, str] | None = None

    def plan(self, file: str, group: str) -> TablePlan:
        """The plan of the table ``file:group`` (kept while its file stays open)."""
        key = (file, group)
        plan: Plan | None = self._bound.get(key)
        if plan is None or not plan.oid.valid:
            h5f = self.open_file(file)
            failure: TierflowError | None = None
            try:
                with translated(h5f.filename, group, "reading"):
                    plan = self.kept.plan(_open_group(h5f, group))
            except TierflowError as err:
                failure = err
            if failure is not None or plan is None:
                lh5_read(group, h5f, 0, 0, field_mask=self.field_mask)  # says what is wrong
                raise failure or LH5DecodeError("cannot plan the read", file=file, obj=group)
            if len(self._bound) >= BOUND_PLANS:
                self._bound.clear()
            self._bound[key] = plan
        if not isinstance(plan, TablePlan):
            raise LH5DecodeError(
                f"the iterator reads tables; this is a {plan.datatype.kind}", file=file, obj=group
            )
        return plan

    def release(self) -> None:
        """Let go of every plan bound to a table (their datasets close with their files)."""
        self._bound.clear()
        self._last_read = None

    def rows(self, file: str, group: str) -> int | None:
        """Rows of the table ``file:group``, from its metadata."""
        try:
            plan = self.plan(file, group)
            with translated(file, group, "counting rows"):
                return plan.n_rows()
        except LH5ObjectNotFoundError:
            raise
        except TierflowError:  # not a table: count it as lh5.read_n_rows does, or say why not
            return read_n_rows(group, self.open_file(file))

    def read(
        self,
        file: str,
        group: str,
        rows: Rows,
        buffer: Table | None,
        pos: int,
        capacity: int = 0,
    ) -> Table:
        """Rows of ``file:group`` into ``buffer`` from row ``pos`` on. A chunk's first table
        (``pos == 0``) of another layout than the buffer's, or without a buffer, gets a new
        buffer with room for ``capacity`` rows (at least these), allocated once."""
        plan = self.plan(file, group)
        key = (file, group)
        if self._last_read != key:
            if self._last_read is not None:
                self._bound.pop(self._last_read, None)
            self._last_read = key
        with translated(file, group, "reading"):
            layout = plan.layout()
            if buffer is None or (pos == 0 and layout != self._layout):
                new = plan.new(max(capacity, n_selected(rows)))
                assert isinstance(new, Table)
                new.resize(0)
                buffer, self._layout = new, layout
            if layout == self._layout:
                plan.read_into(buffer, rows, pos)
                return buffer
            obj = plan.read(rows)
            assert isinstance(obj, Table)
            _check_same_columns(buffer, obj, file, group)
            try:
                store_into(buffer, obj, pos)
            except LH5Error as err:
                if err.file is not None:
                    raise
                raise type(err)(
                    f"this table's columns differ from the previous tables': {err.reason}",
                    file=file,
                    obj=group,
                ) from None
            self._layout = None  # a buffer of mixed layouts: the next chunk makes a new one
            return buffer


def _open_group(h5f: h5py.File, group: str) -> h5py.h5g.GroupID | h5py.h5d.DatasetID:
    """The object ``group`` of the file: a group as a rule (opened as such: the quicker call),
    anything else so that planning can say what it is."""
    name = group.strip("/").encode("utf8")
    try:
        return h5py.h5g.open(h5f.id, name)
    except ValueError:  # not a group
        return h5o.open(h5f.id, name)


def _check_same_columns(buffer: Table, obj: Table, file: str, group: str) -> None:
    if set(buffer) != set(obj):
        missing, extra = sorted(set(buffer) - set(obj)), sorted(set(obj) - set(buffer))
        raise LH5ObjectNotFoundError(
            f"this table's columns differ from the previous tables' (missing {missing}, "
            f"extra {extra})",
            file=file,
            obj=group,
        )
