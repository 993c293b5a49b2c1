"""Structs and histograms: a group of named objects (a histogram is a struct of ``binning``,
``isdensity`` and ``weights``)."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import h5py
from h5py import h5d, h5g

from ...types import LGDO, Histogram, Struct
from ..datatype import Datatype
from ..fieldmask import FieldMask
from .attrs import set_attr, stored_attrs
from .base import LayoutChanged, Plan, Rows, Serializer, WriteContext, kind_error, location
from .create import Node
from .describe import child, member_names, plan_of
from .dispatch import check_object, child_path, new_group, node_of, write_object
from .rows import RowRequest

#: the fields that make a struct a histogram
HISTOGRAM_FIELDS = frozenset({"binning", "isdensity", "weights"})
#: every row of every member
ALL_ROWS = RowRequest(0, sys.maxsize, None)

# --- reading ----------------------------------------------------------------------------------


def member_plans(
    gid: h5g.GroupID | h5d.DatasetID, datatype: Datatype, mask: FieldMask | None, decompress: bool
) -> dict[str, Plan]:
    """Plans of the fields of a struct or table that ``mask`` selects, in the stored order
    (a struct or table stored as anything but a group is an error)."""
    if not isinstance(gid, h5g.GroupID):
        raise kind_error(gid, datatype.kind, "a group")
    fields = datatype.fields if datatype.fields else tuple(member_names(gid))
    if mask is None:
        selected: list[tuple[str, FieldMask | None]] = [(f, None) for f in fields]
    elif mask.names() <= set(fields):
        selected = mask.select(fields, "", "")
    else:  # the message names the object: looked up only now
        file, path = location(gid)
        selected = mask.select(fields, file, path)
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

    def members(self) -> list[Plan]:
        return list(self.fields.values())

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
def create_members(
    parent: h5py.Group, name: str, obj: Struct, ctx: WriteContext, inner_path: str = ""
) -> None:
    """Write ``obj`` (a struct or a table) as the new group ``parent/name`` and each of its
    members as a new object in it.

    >>> import numpy as np
    >>> import io
    >>> from tierflow.types import Array
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> create_members(f, "s", Struct({"a": Array(np.arange(2))}), WriteContext())
    >>> f["s"].attrs["datatype"], f["s/a"][:].tolist()
    ('struct{a}', [0, 1])
    """
    group = new_group(parent, name, obj, ctx)
    fresh = replace(ctx, mode="append", write_start=0)
    for key, value in obj.items():
        write_object(group, key, value, fresh, child_path(inner_path, key))


def members_node(obj: Struct, name: str, ctx: WriteContext, inner_path: str) -> Node | None:
    """The form of ``obj`` (a struct or a table) for the fast creation path: a group of its
    members' forms (``None`` when one of them has none).

    >>> import numpy as np
    >>> from tierflow.types import Table
    >>> [c.name for c in members_node(Table({"a": np.arange(2)}), "tb", WriteContext(), "").children]
    [b'a']
    """
    attrs = stored_attrs(obj, ctx.file, name)
    children = []
    for key, value in obj.items():
        child = node_of(value, key, ctx, child_path(inner_path, key))
        if child is None:
            return None
        children.append(child)
    return Node(name, attrs, children=children)


def check_members(obj: Struct, file: str, path: str) -> None:
    """:func:`~.dispatch.check_object` of each member of ``obj`` (a struct or a table).

    >>> import numpy as np
    >>> from tierflow.types import VectorOfVectors
    >>> bad = VectorOfVectors(flattened_data=np.arange(2), cumulative_length=np.array([3]))
    >>> check_members(Struct({"v": bad}), "f.lh5", "s")
    Traceback (most recent call last):
    ...
    tierflow.errors.LH5WriteError: f.lh5:/s/v: cumulative_length ends at 3 but flattened_data has 2 values; nothing was written
    """
    for key, value in obj.items():
        check_object(value, file, f"{path}/{key}")


class StructSerializer(Serializer):
    """Structs and histograms: a group of named objects. Written into a stored struct, each
    member is appended to (or created), and the ``struct{...}`` datatype lists them all; a
    histogram's bins are replaced as a whole, never appended.

    >>> import numpy as np
    >>> import io
    >>> from tierflow.types import Array
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> StructSerializer().create(f, "s", Struct({"a": Array(np.arange(2))}), WriteContext())
    >>> StructSerializer().append(f, "s", Struct({"b": Array(np.arange(1))}), WriteContext())
    >>> f["s"].attrs["datatype"]
    'struct{a,b}'
    """

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
        return StructPlan(oid, datatype, attrs, member_plans(oid, datatype, mask, decompress))

    def create(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Struct)
        create_members(parent, name, obj, ctx, inner_path)

    def append(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Struct)
        group = parent.get(name)  # none under append_column: the struct is created
        if (
            isinstance(obj, Histogram)
            or ctx.mode not in ("append", "overwrite")
            or not isinstance(group, h5py.Group)
        ):
            create_members(parent, name, obj, ctx, inner_path)
            return
        for key, value in obj.items():
            write_object(group, key, value, ctx, child_path(inner_path, key))
        names = sorted(k for k in group.keys() if ".tierflow-replaced-" not in k)
        set_attr(group, "datatype", f"{obj.datatype_name()}{{{','.join(names)}}}", ctx.journal)

    def check(self, obj: LGDO, file: str, path: str) -> None:
        assert isinstance(obj, Struct)
        check_members(obj, file, path)

    def node(self, obj: LGDO, name: str, ctx: WriteContext, inner_path: str) -> Node | None:
        assert isinstance(obj, Struct)
        if isinstance(obj, Histogram):
            return None
        return members_node(obj, name, ctx, inner_path)
