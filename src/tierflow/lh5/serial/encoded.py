"""Encoded waveforms: ``encoded_vector_of_vectors`` and ``encoded_array_of_equalsized_arrays``
(``encoded_data``, a vector of byte vectors, and ``decoded_size``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import h5py
import numpy as np
from h5py import h5d, h5g

from ...errors import LH5DecodeError, LH5WriteError
from ...types import LGDO, ArrayOfEncodedEqualSizedArrays, VectorOfEncodedVectors
from ..buffer import store_into
from ..datatype import Datatype
from ..fieldmask import FieldMask
from ..guards import FAILURES, check_memory
from .array import ArrayPlan, ArraySerializer
from .base import (
    LayoutChanged,
    Plan,
    Rows,
    Serializer,
    WriteContext,
    kind_error,
    location,
    read_failed,
)
from .datasets import read_converted
from .describe import child, plan_of
from .dispatch import appends, check_object, new_group, stored_datatype, write_object
from .rows import RowRequest
from .vector import VectorPlan, append_vov, create_vov

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

    def members(self) -> list[Plan]:
        return [self.encoded] + ([] if isinstance(self.sizes, int) else [self.sizes])

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
Encoded = ArrayOfEncodedEqualSizedArrays | VectorOfEncodedVectors
_CODEC_ATTRS = ("codec", "codec_shift")
_ARRAYS = ArraySerializer()


def byte_count_dtype(obj: Encoded) -> type:
    """The type of the stored byte counts: uint32, as LEGEND's DAQ writer and decoder use,
    wider only when needed.

    >>> from tierflow.lh5.codecs import encode
    >>> from tierflow.types import ArrayOfEqualSizedArrays
    >>> byte_count_dtype(encode(ArrayOfEqualSizedArrays(nda=np.zeros((2, 4), "u2")), "radware_sigcompress"))
    <class 'numpy.uint32'>
    """
    cl = obj.encoded_data.cumulative_length.nda
    return np.uint32 if not len(cl) or cl[-1] < 2**31 else np.int64


def _check_same_encoding(
    group: h5py.Group, obj: Encoded, existing: str | None, ctx: WriteContext, path: str
) -> None:
    """Refuse encoded rows of another kind, codec, codec shift or waveform length than the
    stored ones in ``group``."""
    stored = {
        k: (v.decode() if isinstance(v, bytes) else v)
        for k, v in group.attrs.items()
        if k in _CODEC_ATTRS
    }
    given = {k: v for k, v in obj.getattrs().items() if k in _CODEC_ATTRS}
    if existing != obj.form_datatype() or {
        k: str(float(v)) if k == "codec_shift" else v for k, v in stored.items()
    } != {k: str(float(v)) if k == "codec_shift" else v for k, v in given.items()}:
        raise LH5WriteError(
            f"encoded rows ({given}) cannot be appended to {stored}", file=ctx.file, obj=path
        )
    if isinstance(obj, ArrayOfEncodedEqualSizedArrays) and int(group["decoded_size"][()]) != int(
        obj.decoded_size.value
    ):
        raise LH5WriteError(
            f"waveforms of {obj.decoded_size.value} samples cannot be appended to ones of {int(group['decoded_size'][()])}",
            file=ctx.file,
            obj=path,
        )


class EncodedSerializer(Serializer):
    """Encoded waveforms: a group of ``encoded_data`` (a vector of bytes, uint32 byte counts,
    unfiltered: the codec compresses) and ``decoded_size`` (a scalar for equal-sized
    waveforms, an array of lengths otherwise), with the codec's attributes.

    >>> import io
    >>> from tierflow.lh5.codecs import encode
    >>> from tierflow.types import ArrayOfEqualSizedArrays
    >>> wf = encode(ArrayOfEqualSizedArrays(nda=np.zeros((2, 4), "u2")), "radware_sigcompress")
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> EncodedSerializer().create(f, "wf", wf, WriteContext())
    >>> sorted(f["wf"]), f["wf"].attrs["codec"], f["wf/decoded_size"][()]
    (['decoded_size', 'encoded_data'], 'radware_sigcompress', np.int64(4))
    """

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

    def create(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Encoded)
        group = new_group(parent, name, obj, ctx)
        fresh = replace(ctx, mode="append", write_start=0, compression=False, codecs={})
        create_vov(
            group, "encoded_data", obj.encoded_data, fresh, inner_path, byte_count_dtype(obj)
        )
        write_object(
            group,
            "decoded_size",
            obj.decoded_size,
            replace(ctx, mode="append", write_start=0, codecs={}),
            inner_path,
        )

    def append(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Encoded)
        if not appends(ctx):
            self.create(parent, name, obj, ctx, inner_path)
            return
        group = parent[name]
        _check_same_encoding(
            group, obj, stored_datatype(parent, name), ctx, f"{parent.name}/{name}"
        )
        append_vov(group, "encoded_data", obj.encoded_data, ctx, inner_path)
        if isinstance(obj, VectorOfEncodedVectors):
            _ARRAYS.append(group, "decoded_size", obj.decoded_size, ctx)

    def check(self, obj: LGDO, file: str, path: str) -> None:
        assert isinstance(obj, Encoded)
        check_object(obj.encoded_data, file, f"{path}/encoded_data")
