"""Tables and waveform tables: a struct whose fields share their rows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import h5py
import numpy as np
from h5py import h5d, h5g

from ...errors import LH5DecodeError, LH5WriteError
from ...types import LGDO, Table, WaveformTable
from ..datatype import Datatype
from ..fieldmask import FieldMask
from .attrs import set_attr
from .base import LayoutChanged, Plan, Rows, Serializer, WriteContext, n_selected
from .create import Node
from .describe import child, rows_of
from .dispatch import appends, check_write_start, child_path, stored_datatype, write_object
from .rows import RowRequest
from .struct import check_members, create_members, member_plans, members_node, rebind_fields

#: the fields that make a table a waveform table
WAVEFORM_FIELDS = frozenset({"t0", "dt", "values"})

# --- reading ----------------------------------------------------------------------------------


class TablePlan(Plan):
    """Reads a table: the plan of each selected column reads the same rows into the table's
    columns. A table's rows are its first stored field's (as LEGEND's reader counts them),
    whether that field is read or not."""

    def __init__(
        self, gid: h5g.GroupID, datatype: Datatype, attrs: dict[str, Any], fields: dict[str, Plan]
    ):
        self.oid = gid
        self.datatype = datatype
        self.attrs = attrs
        self.fields = fields
        self.first = datatype.fields[0] if datatype.fields else None

    def members(self) -> list[Plan]:
        return list(self.fields.values())

    def n_rows(self) -> int:
        if self.first is None:
            return 0
        plan = self.fields.get(self.first)
        rows = plan.n_rows() if plan is not None else rows_of(child(self.oid, self.first))
        if rows is None:
            raise LH5DecodeError(
                f"the first field {self.first!r} has no rows, so the table has none",
                file=self.file,
                obj=self.path,
            )
        return rows

    def new(self, n: int) -> LGDO:
        return self._assemble({name: plan.new(n) for name, plan in self.fields.items()}, n)

    def _assemble(self, columns: dict[str, LGDO], n: int) -> Table:
        lengths = {name: len(column) for name, column in columns.items()}  # type: ignore[arg-type]
        if any(length != n for length in lengths.values()):
            raise LH5DecodeError(
                f"table columns differ in length: {lengths}", file=self.file, obj=self.path
            )
        if set(columns) == WAVEFORM_FIELDS:
            return WaveformTable(
                t0=columns["t0"], dt=columns["dt"], values=columns["values"], attrs=dict(self.attrs)
            )
        return Table(columns, size=n, attrs=dict(self.attrs))

    def read(self, rows: Rows | RowRequest) -> LGDO:
        """The selected rows: each column read into memory of its own, allocated once."""
        assert isinstance(rows, slice | np.ndarray), "a table's rows are resolved"
        columns = {name: plan.read(rows) for name, plan in self.fields.items()}
        return self._assemble(columns, n_selected(rows))

    def column(self, path: str) -> Plan | None:
        """The plan of the column ``path`` (``a/b`` inside nested tables), ``None`` if this
        plan does not read it."""
        head, _, rest = path.partition("/")
        plan = self.fields.get(head)
        if rest:
            return plan.column(rest) if isinstance(plan, TablePlan) else None
        return plan

    def read_into(self, out: LGDO, rows: Rows, pos: int) -> None:
        assert isinstance(out, Table)
        for name, plan in self.fields.items():
            plan.read_into(out[name], rows, pos)
        out.resize(pos + n_selected(rows))

    def rebind(self, oid: h5g.GroupID | h5d.DatasetID) -> TablePlan:
        if not isinstance(oid, h5g.GroupID):
            raise LayoutChanged
        plan = object.__new__(TablePlan)
        plan.__dict__.update(self.__dict__)
        plan.oid = oid
        plan.fields = rebind_fields(self.fields, oid)
        return plan

    def layout(self) -> tuple:
        found = self.__dict__.get("_layout")  # a rebound plan's is its kept plan's
        if found is None:
            found = self._layout = ("table", tuple((k, p.layout()) for k, p in self.fields.items()))
        return found


# --- writing ----------------------------------------------------------------------------------
def stored_rows(group: h5py.Group, ctx: WriteContext, path: str) -> int:
    """The rows of the stored table ``group``; its columns must agree (a table damaged by
    another writer is not made worse).

    >>> import io, numpy as np
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> TableSerializer().create(f, "tb", Table({"a": np.arange(3)}), WriteContext())
    >>> stored_rows(f["tb"], WriteContext(), "/tb")
    3
    """

    lengths = {}
    for key in group:  # plain datasets through the low-level API: tables are checked per append
        oid = h5py.h5o.open(group.id, key.encode("utf8"))
        plain = isinstance(oid, h5py.h5d.DatasetID) and oid.shape
        lengths[key] = oid.shape[0] if plain else rows_of(group[key])
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{key!r}: {n}" for key, n in sorted(lengths.items()))
        raise LH5WriteError(
            f"the stored table's columns differ in length ({shown} rows); it is damaged, "
            "so nothing was written",
            file=ctx.file,
            obj=path,
        )
    return next(iter(lengths.values()), 0) or 0


class TableSerializer(Serializer):
    """Tables and waveform tables: a struct whose columns share their rows. Rows are appended
    to every column of a stored table with the same columns; ``append_column`` adds columns
    of its rows.

    >>> import io, numpy as np
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> TableSerializer().create(f, "tb", Table({"a": np.arange(3)}), WriteContext())
    >>> ctx = WriteContext(mode="append_column")
    >>> TableSerializer().append(f, "tb", Table({"b": np.ones(3)}), ctx)
    >>> f["tb"].attrs["datatype"]
    'table{a,b}'
    """

    kinds = ("table",)
    classes = (Table,)

    def plan(
        self,
        oid: h5g.GroupID | h5d.DatasetID,
        datatype: Datatype,
        attrs: dict[str, Any],
        mask: FieldMask | None,
        decompress: bool,
    ) -> TablePlan:
        return TablePlan(oid, datatype, attrs, member_plans(oid, datatype, mask, decompress))

    def create(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Table)
        create_members(parent, name, obj, ctx, inner_path)

    def append(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Table)
        if ctx.mode == "append_column":
            self._append_columns(parent, name, obj, ctx, inner_path)
            return
        if not appends(ctx):
            self.create(parent, name, obj, ctx, inner_path)
            return
        path = f"{parent.name}/{name}"
        group = parent[name]
        if not isinstance(group, h5py.Group):
            raise LH5WriteError(
                f"exists as a dataset ({stored_datatype(parent, name) or 'no datatype'}), not "
                "a table; cannot append table rows to it",
                file=ctx.file,
                obj=path,
            )
        stored = set(group.keys())
        if stored != set(obj.keys()):
            raise LH5WriteError(
                f"cannot append a table with columns {sorted(obj.keys())} to one with {sorted(stored)}",
                file=ctx.file,
                obj=path,
            )
        rows = stored_rows(group, ctx, path)
        if ctx.mode == "overwrite":
            check_write_start(ctx.write_start, rows, ctx, path)
        for key, value in obj.items():
            write_object(group, key, value, ctx, child_path(inner_path, key))

    def _append_columns(
        self, parent: h5py.Group, name: str, obj: Table, ctx: WriteContext, inner_path: str
    ) -> None:
        """``append_column``: the columns of ``obj`` added to the stored table, whose rows
        they must have."""

        path = f"{parent.name}/{name}"
        if name not in parent:
            raise LH5WriteError(
                "append_column needs an existing table to add columns to", file=ctx.file, obj=path
            )
        group = parent[name]
        existing = stored_datatype(parent, name) or ""
        if not existing.startswith("table"):
            raise LH5WriteError(
                f"append_column needs a table, found {existing or 'no datatype'}",
                file=ctx.file,
                obj=path,
            )
        n_existing = rows_of(group)
        clash = sorted(set(obj.keys()) & set(group.keys()))
        if clash:
            raise LH5WriteError(
                f"column(s) {clash} exist already; append_column adds new columns only",
                file=ctx.file,
                obj=path,
            )
        if len(obj) != n_existing:
            raise LH5WriteError(
                f"new columns have {len(obj)} rows but the table has {n_existing}",
                file=ctx.file,
                obj=path,
            )
        fresh = replace(ctx, mode="append", write_start=0)
        for key, value in obj.items():
            write_object(group, key, value, fresh, child_path(inner_path, key))
        set_attr(group, "datatype", f"table{{{','.join(sorted(group.keys()))}}}", ctx.journal)

    def check(self, obj: LGDO, file: str, path: str) -> None:
        assert isinstance(obj, Table)
        lengths = {key: len(column) for key, column in obj.items()}
        if any(n != len(obj) for n in lengths.values()):
            shown = ", ".join(f"{key!r}: {n}" for key, n in lengths.items())
            raise LH5WriteError(
                f"the table's columns differ in length ({shown} rows; the table has "
                f"{len(obj)}); nothing was written",
                file=file,
                obj=path,
            )
        check_members(obj, file, path)

    def node(self, obj: LGDO, name: str, ctx: WriteContext, inner_path: str) -> Node | None:
        assert isinstance(obj, Table)
        return members_node(obj, name, ctx, inner_path)
