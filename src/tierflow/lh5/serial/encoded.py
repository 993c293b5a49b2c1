"""Encoded waveforms: ``encoded_vector_of_vectors`` and ``encoded_array_of_equalsized_arrays`` (``encoded_data`` and ``decoded_size``)."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np

from ...errors import LH5WriteError
from ...types import LGDO, ArrayOfEncodedEqualSizedArrays, VectorOfEncodedVectors
from .array import ArraySerializer
from .base import Serializer, WriteContext
from .dispatch import appends, check_object, new_group, stored_datatype, write_object
from .vector import append_vov, create_vov

# --- reading ----------------------------------------------------------------------------------


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
