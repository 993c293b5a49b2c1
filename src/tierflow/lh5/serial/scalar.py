"""Scalars: one value in a dataset of shape ``()``."""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np
from h5py import h5d, h5g

from ...types import LGDO, Scalar
from ..datatype import Datatype
from ..fieldmask import FieldMask
from .attrs import store_attrs
from .base import LayoutChanged, Plan, Rows, Serializer, WriteContext, kind_error
from .datasets import read_converted
from .rows import RowRequest

# --- reading ----------------------------------------------------------------------------------


class ScalarPlan(Plan):
    """Reads a scalar; it has no rows, so every row selection reads the one value."""

    def __init__(self, dsid: h5d.DatasetID, datatype: Datatype, attrs: dict[str, Any]):
        self.oid = dsid
        self.datatype = datatype
        self.attrs = self.stored_attrs(attrs)

    def stored_attrs(self, stored: dict[str, Any]) -> dict[str, Any]:
        element = self.datatype.element or ""
        if element.startswith("enum"):
            stored["datatype"] = "real"
            stored["enum"] = element
        return stored

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
    """Scalars: a dataset of shape ``()``, replaced as a whole by every write (a scalar has no
    rows to add).

    >>> import io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> ScalarSerializer().create(f, "x", Scalar(1.5), WriteContext())
    >>> ScalarSerializer().append(f, "x", Scalar("two"), WriteContext(mode="append"))
    >>> f["x"][()], f["x"].attrs["datatype"]
    (b'two', 'string')
    """

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

    def create(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Scalar)
        if name in parent:
            ctx.journal.replacing(parent, name)
        value = obj.value
        if isinstance(value, str):
            ds = parent.create_dataset(name, data=value, dtype=h5py.string_dtype())
        else:
            ds = parent.create_dataset(name, data=np.asarray(value))
        ctx.journal.created(parent, name)
        store_attrs(ds, obj)

    append = create
