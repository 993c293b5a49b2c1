"""Tables and waveform tables: a struct whose fields share their rows."""

from __future__ import annotations

from typing import Any

import numpy as np
from h5py import h5d, h5g

from ...errors import LH5DecodeError
from ...types import LGDO, Table, WaveformTable
from ..datatype import Datatype
from ..fieldmask import FieldMask
from .base import LayoutChanged, Plan, Rows, Serializer, kind_error, n_selected
from .describe import child, rows_of
from .rows import RowRequest
from .struct import field_plans, rebind_fields

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
        return ("table", tuple((k, p.layout()) for k, p in self.fields.items()))


# --- writing ----------------------------------------------------------------------------------


class TableSerializer(Serializer):
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
        if not isinstance(oid, h5g.GroupID):
            raise kind_error(oid, "table", "a group")
        plan = TablePlan(oid, datatype, attrs, {})
        plan.fields = field_plans(oid, datatype, mask, decompress, plan.file, plan.path)
        return plan
