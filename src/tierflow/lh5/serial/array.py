"""Arrays: ``array``, ``fixedsize_array``, ``array_of_equalsized_arrays`` (and arrays of detector ids), one dataset each."""

from __future__ import annotations

from typing import Any

import numpy as np
from h5py import h5d, h5g

from ...errors import LH5DecodeError
from ...types import (
    LGDO,
    Array,
    ArrayOfDetectorIDs,
    ArrayOfEqualSizedArrays,
    FixedSizeArray,
)
from ..datatype import Datatype
from ..fieldmask import FieldMask
from ..guards import FAILURES
from .base import LayoutChanged, Plan, Rows, Serializer, kind_error, n_selected, read_failed
from .datasets import check_rows, new_rows, plain_dtype, read_converted, read_into

# --- reading ----------------------------------------------------------------------------------


class ArrayPlan(Plan):
    """Reads an array dataset: rows straight into the array's memory.

    Numbers, bools and fixed-width strings are read by :func:`~.datasets.read_into` (bools
    stored as bytes are read as their bytes and made 0/1 in place); anything h5py converts
    (variable-length strings) through :func:`~.datasets.read_converted`.
    """

    def __init__(self, dsid: h5d.DatasetID, datatype: Datatype, attrs: dict[str, Any]):
        self.oid = dsid
        self.datatype = datatype
        self.attrs = attrs
        if not dsid.shape:
            raise LH5DecodeError(
                f"an {datatype.kind} needs rows, found a dataset of shape ()",
                file=self.file,
                obj=self.path,
            )
        if datatype.kind == "array_of_equalsized_arrays" and len(dsid.shape) < 2:
            raise LH5DecodeError(
                f"an array_of_equalsized_arrays must be 2-d, found shape {dsid.shape}",
                file=self.file,
                obj=self.path,
            )
        self.shape = dsid.shape
        self.tid = dsid.get_type()
        self.stored = plain_dtype(dsid)
        element = datatype.element or ""
        self.bools = element == "bool"
        self.memory: np.dtype | None
        if self.bools:
            self.memory = np.dtype(bool)
        elif self.stored is not None:
            self.memory = self.stored
        else:
            self.memory = None  # known once read (h5py converts)
        if element.startswith("enum"):
            self.attrs["enum"] = element

    def n_rows(self) -> int:
        return self.shape[0]

    def new(self, n: int) -> LGDO:
        if self.memory is None:
            empty = self._converted(slice(0, 0))
            return self._make(np.empty((n, *empty.shape[1:]), empty.dtype))
        return self._make(new_rows(self.oid, n, self.memory, self.file, self.path))

    def read_into(self, out: LGDO, rows: Rows, pos: int) -> None:
        assert isinstance(out, Array)
        n = n_selected(rows)
        check_rows(self.shape[0], rows, self)
        if self.memory is None or (self.bools and self.stored not in _BOOL_BYTES):
            data = self._converted(rows)
            if data.dtype.kind == "S" and data.dtype.itemsize > out.nda.dtype.itemsize:
                out.nda = out.nda.astype(data.dtype)  # longer strings: widen, never cut
            out.resize(pos + n)
            out.nda[pos:] = data
            return
        out.resize(pos + n)
        target = out.nda[pos : pos + n]
        try:
            read_into(self.oid, rows, target, self.shape)
        except FAILURES as err:
            raise read_failed(self, err) from err
        if self.bools and self.stored != np.dtype(bool):
            np.not_equal(target.view(np.uint8), 0, out=target)

    def _converted(self, rows: Rows) -> np.ndarray:
        data = read_converted(self.oid, rows)
        return data.astype(bool) if self.bools and data.dtype != bool else data

    def _make(self, data: np.ndarray) -> Array:
        kind, attrs = self.datatype.kind, dict(self.attrs)
        if kind == "array_of_equalsized_arrays":
            return ArrayOfEqualSizedArrays(dims=self.datatype.ndim, nda=data, attrs=attrs)
        if kind == "fixedsize_array":
            return FixedSizeArray(data, attrs=attrs)
        if self.datatype.element == "detectorid":
            return ArrayOfDetectorIDs(data, attrs=attrs)
        return Array(data, attrs=attrs)

    def rebind(self, oid: h5g.GroupID | h5d.DatasetID) -> ArrayPlan:
        if not isinstance(oid, h5d.DatasetID):
            raise LayoutChanged
        shape = oid.shape
        if not shape or shape[1:] != self.shape[1:] or oid.get_type() != self.tid:
            raise LayoutChanged
        plan = object.__new__(ArrayPlan)
        plan.__dict__.update(self.__dict__)
        plan.oid, plan.shape = oid, shape
        return plan

    def member(self, gid: h5g.GroupID, name: bytes) -> h5d.DatasetID:
        return h5d.open(gid, name)

    def layout(self) -> tuple:
        return ("array", self.datatype, self.memory, self.shape[1:])


#: stored types of bools read as their bytes
_BOOL_BYTES = (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(bool))


# --- writing ----------------------------------------------------------------------------------


class ArraySerializer(Serializer):
    kinds = ("array", "fixedsize_array", "array_of_equalsized_arrays")
    classes = (Array,)

    def plan(
        self,
        oid: h5g.GroupID | h5d.DatasetID,
        datatype: Datatype,
        attrs: dict[str, Any],
        mask: FieldMask | None,
        decompress: bool,
    ) -> ArrayPlan:
        if not isinstance(oid, h5d.DatasetID):
            raise kind_error(oid, datatype.kind, "a dataset")
        return ArrayPlan(oid, datatype, attrs)
