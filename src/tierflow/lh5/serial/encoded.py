"""Encoded waveforms: ``encoded_vector_of_vectors`` and ``encoded_array_of_equalsized_arrays``
(``encoded_data``, a vector of byte vectors, and ``decoded_size``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from h5py import h5d, h5g

from ...errors import LH5DecodeError
from ...types import LGDO, ArrayOfEncodedEqualSizedArrays, VectorOfEncodedVectors
from ..buffer import store_into
from ..datatype import Datatype
from ..fieldmask import FieldMask
from ..guards import FAILURES, check_memory
from .array import ArrayPlan
from .base import LayoutChanged, Plan, Rows, Serializer, kind_error, location, read_failed
from .datasets import read_converted
from .describe import child, plan_of
from .rows import RowRequest
from .vector import VectorPlan

# --- reading ----------------------------------------------------------------------------------


class EncodedPlan(Plan):
    """Reads encoded waveforms and, if ``decompress``, decodes them (into an
    ``ArrayOfEqualSizedArrays`` or a ``VectorOfVectors``, what the codec made them from)."""

    def __init__(
        self,
        gid: h5g.GroupID,
        datatype: Datatype,
        attrs: dict[str, Any],
        encoded: VectorPlan,
        sizes: ArrayPlan | int,
        decompress: bool,
    ):
        self.oid = gid
        self.datatype = datatype
        self.attrs = attrs
        self.encoded = encoded
        self.sizes = sizes
        self.decompress = decompress

    def n_rows(self) -> int:
        return self.encoded.n_rows()

    def read(self, rows: Rows | RowRequest) -> LGDO:
        encoded = self.encoded.read(rows)
        assert not isinstance(encoded, int)
        obj: LGDO
        if isinstance(self.sizes, int):
            obj = ArrayOfEncodedEqualSizedArrays(encoded, self.sizes, attrs=dict(self.attrs))
        else:
            sizes = self.sizes.read(rows)
            obj = VectorOfEncodedVectors(encoded, sizes, attrs=dict(self.attrs))
        if not self.decompress:
            return obj
        from ..codecs import decode  # the codecs compile on first use: imported when needed

        try:
            return decode(obj, file=self.file, obj_path=self.path)
        except FAILURES as err:
            raise read_failed(self, err) from err

    def new(self, n: int) -> LGDO:
        empty: Any = self.read(slice(0, 0))
        row_bytes = getattr(empty, "nda", np.empty(0)).dtype.itemsize * int(
            np.prod(getattr(empty, "nda", np.empty((0, 1))).shape[1:])
        )
        check_memory(n * row_bytes, f"{n} decoded waveforms", self.file, self.path)
        empty.resize(n)
        return empty

    def read_into(self, out: LGDO, rows: Rows, pos: int) -> None:
        store_into(out, self.read(rows), pos)  # decoded into new memory: copied once

    def rebind(self, oid: h5g.GroupID | h5d.DatasetID) -> EncodedPlan:
        if not isinstance(oid, h5g.GroupID):
            raise LayoutChanged
        try:
            encoded = self.encoded.rebind(child(oid, "encoded_data"))
            size_id = child(oid, "decoded_size")
        except LH5DecodeError:
            raise LayoutChanged from None
        sizes: ArrayPlan | int
        if isinstance(self.sizes, int):
            sizes = _equal_size(size_id)
            if sizes != self.sizes:
                raise LayoutChanged
        else:
            sizes = self.sizes.rebind(size_id)
        plan = object.__new__(EncodedPlan)
        plan.__dict__.update(self.__dict__)
        plan.oid, plan.encoded, plan.sizes = oid, encoded, sizes
        return plan

    def layout(self) -> tuple:
        sizes = self.sizes if isinstance(self.sizes, int) else self.sizes.layout()
        return ("encoded", self.datatype, self.decompress, self.encoded.layout(), sizes)


def _equal_size(oid: Any) -> int:
    """The ``decoded_size`` of equal-sized waveforms: a count of samples."""
    size: Any = read_converted(oid, slice(0, 0))[()] if isinstance(oid, h5d.DatasetID) else None
    if np.ndim(size) or not isinstance(size, int | np.integer) or size < 0:
        file, path = location(oid)
        raise LH5DecodeError(
            f"decoded_size must be a count of samples, found {size!r:.80}", file=file, obj=path
        )
    return int(size)


# --- writing ----------------------------------------------------------------------------------


class EncodedSerializer(Serializer):
    kinds = ("encoded_vector_of_vectors", "encoded_array_of_equalsized_arrays")
    classes = (ArrayOfEncodedEqualSizedArrays, VectorOfEncodedVectors)

    def plan(
        self,
        oid: h5g.GroupID | h5d.DatasetID,
        datatype: Datatype,
        attrs: dict[str, Any],
        mask: FieldMask | None,
        decompress: bool,
    ) -> EncodedPlan:
        if not isinstance(oid, h5g.GroupID):
            raise kind_error(oid, datatype.kind, "a group")
        encoded = plan_of(child(oid, "encoded_data"), None, decompress)
        if not isinstance(encoded, VectorPlan):
            raise kind_error(oid, datatype.kind, "encoded_data as a vector_of_vectors")
        size_id = child(oid, "decoded_size")
        sizes: ArrayPlan | int
        if datatype.kind == "encoded_array_of_equalsized_arrays":
            sizes = _equal_size(size_id)
        else:
            size_plan = plan_of(size_id, None, decompress)
            if not isinstance(size_plan, ArrayPlan):
                raise kind_error(oid, datatype.kind, "decoded_size as an array")
            sizes = size_plan
        return EncodedPlan(oid, datatype, attrs, encoded, sizes, decompress)
