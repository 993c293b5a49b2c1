"""Scalars: one value in a dataset of shape ``()``."""

from __future__ import annotations

from typing import Any

from h5py import h5d, h5g

from ...types import Scalar
from ..datatype import Datatype
from ..fieldmask import FieldMask
from .base import LayoutChanged, Plan, Rows, Serializer, kind_error
from .datasets import read_converted
from .rows import RowRequest

# --- reading ----------------------------------------------------------------------------------


class ScalarPlan(Plan):
    """Reads a scalar; it has no rows, so every row selection reads the one value."""

    def __init__(self, dsid: h5d.DatasetID, datatype: Datatype, attrs: dict[str, Any]):
        self.oid = dsid
        self.datatype = datatype
        self.attrs = attrs
        if (datatype.element or "").startswith("enum"):
            self.attrs["datatype"] = "real"
            self.attrs["enum"] = datatype.element

    def n_rows(self) -> None:
        return None

    def read(self, rows: Rows | RowRequest) -> Scalar:
        value: Any = read_converted(self.oid, slice(0, 0))[()]
        if isinstance(value, bytes):
            value = value.decode()
        elif self.datatype.element == "bool":
            value = bool(value)
        return Scalar(value, attrs=dict(self.attrs))

    def rebind(self, oid: h5g.GroupID | h5d.DatasetID) -> ScalarPlan:
        if not isinstance(oid, h5d.DatasetID) or oid.shape:
            raise LayoutChanged
        plan = object.__new__(ScalarPlan)
        plan.__dict__.update(self.__dict__)
        plan.oid = oid
        return plan

    def member(self, gid: h5g.GroupID, name: bytes) -> h5d.DatasetID:
        return h5d.open(gid, name)

    def layout(self) -> tuple:
        return ("scalar", self.datatype)


# --- writing ----------------------------------------------------------------------------------


class ScalarSerializer(Serializer):
    kinds = ("scalar",)
    classes = (Scalar,)

    def plan(
        self,
        oid: h5g.GroupID | h5d.DatasetID,
        datatype: Datatype,
        attrs: dict[str, Any],
        mask: FieldMask | None,
        decompress: bool,
    ) -> ScalarPlan:
        if not isinstance(oid, h5d.DatasetID):
            raise kind_error(oid, "scalar", "a dataset")
        return ScalarPlan(oid, datatype, attrs)
