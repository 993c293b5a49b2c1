"""Structs and histograms: a group of named objects (a histogram is a struct of ``binning``,
``isdensity`` and ``weights``)."""

from __future__ import annotations

import sys
from typing import Any

from h5py import h5d, h5g

from ...types import LGDO, Histogram, Struct
from ..datatype import Datatype
from ..fieldmask import FieldMask
from .base import LayoutChanged, Plan, Rows, Serializer, kind_error
from .describe import child, member_names, plan_of
from .rows import RowRequest

#: the fields that make a struct a histogram
HISTOGRAM_FIELDS = frozenset({"binning", "isdensity", "weights"})
#: every row of every member
ALL_ROWS = RowRequest(0, sys.maxsize, None)

# --- reading ----------------------------------------------------------------------------------


def field_plans(
    gid: h5g.GroupID,
    datatype: Datatype,
    mask: FieldMask | None,
    decompress: bool,
    file: str,
    path: str,
) -> dict[str, Plan]:
    """Plans of the fields of a struct or table that ``mask`` selects, in the stored order."""
    fields = datatype.fields if datatype.fields else tuple(member_names(gid))
    selected = [(f, None) for f in fields] if mask is None else mask.select(fields, file, path)
    return {name: plan_of(child(gid, name), sub, decompress) for name, sub in selected}


class StructPlan(Plan):
    """Reads a struct: each member with the rows asked, resolved against its own length (a
    histogram's members whole)."""

    def __init__(
        self, gid: h5g.GroupID, datatype: Datatype, attrs: dict[str, Any], fields: dict[str, Plan]
    ):
        self.oid = gid
        self.datatype = datatype
        self.attrs = attrs
        self.fields = fields
        self.histogram = set(datatype.fields or ()) == HISTOGRAM_FIELDS

    def n_rows(self) -> None:
        return None

    def read(self, rows: Rows | RowRequest) -> LGDO:
        if self.histogram:
            rows = ALL_ROWS
        fields = {
            name: plan.read(rows.resolve(plan) if isinstance(rows, RowRequest) else rows)
            for name, plan in self.fields.items()
        }
        if set(fields) == HISTOGRAM_FIELDS and isinstance(fields["binning"], Struct):
            try:
                return Histogram(
                    fields["weights"],  # type: ignore[arg-type]  # checked by Histogram
                    list(fields["binning"].values()),
                    fields["isdensity"].value,  # type: ignore[attr-defined]
                    attrs=dict(self.attrs),
                )
            except (ValueError, KeyError, AttributeError):
                pass  # a struct that only looks like a histogram
        return Struct(fields, attrs=dict(self.attrs))

    def rebind(self, oid: h5g.GroupID | h5d.DatasetID) -> StructPlan:
        if not isinstance(oid, h5g.GroupID):
            raise LayoutChanged
        plan = object.__new__(StructPlan)
        plan.__dict__.update(self.__dict__)
        plan.oid = oid
        plan.fields = rebind_fields(self.fields, oid)
        return plan

    def layout(self) -> tuple:
        return ("struct", self.datatype, tuple((k, p.layout()) for k, p in self.fields.items()))


def rebind_fields(fields: dict[str, Plan], gid: h5g.GroupID) -> dict[str, Plan]:
    """The field plans rebound to the members of another group (:class:`LayoutChanged` if
    one is missing or of another layout)."""
    out = {}
    for name, plan in fields.items():
        try:
            oid = plan.member(gid, name.encode("utf8"))
        except (KeyError, ValueError):  # missing, or another kind of object: another layout
            raise LayoutChanged from None
        out[name] = plan.rebind(oid)
    return out


# --- writing ----------------------------------------------------------------------------------


class StructSerializer(Serializer):
    kinds = ("struct",)
    classes = (Histogram, Struct)

    def plan(
        self,
        oid: h5g.GroupID | h5d.DatasetID,
        datatype: Datatype,
        attrs: dict[str, Any],
        mask: FieldMask | None,
        decompress: bool,
    ) -> StructPlan:
        if not isinstance(oid, h5g.GroupID):
            raise kind_error(oid, "struct", "a group")
        plan = StructPlan(oid, datatype, attrs, {})
        plan.fields = field_plans(oid, datatype, mask, decompress, plan.file, plan.path)
        return plan
