"""Waveform codecs: one file per codec, found by name; object-level encode and decode.

>>> import numpy as np
>>> from tierflow.types import ArrayOfEqualSizedArrays
>>> wf = ArrayOfEqualSizedArrays(nda=np.array([[10, 12, 11], [5, 5, 6]], "uint16"))
>>> enc = encode(wf, RadwareSigcompress(codec_shift=-32768))
>>> enc.attrs["codec"], decode(enc).nda.tolist()
('radware_sigcompress', [[10, 12, 11], [5, 5, 6]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import CodecError, LH5DecodeError
from ...types import (
    Array,
    ArrayOfEncodedEqualSizedArrays,
    ArrayOfEqualSizedArrays,
    VectorOfEncodedVectors,
    VectorOfVectors,
)
from .base import (
    CODECS,
    DEFAULT_DECODE_DTYPE,
    WaveformCodec,
    codec_by_name,
    codec_from_attrs,
    register,
)
from .radware_sigcompress import RadwareSigcompress
from .uleb128_zigzag_diff import ULEB128ZigZagDiff

__all__ = [
    "CODECS",
    "DEFAULT_DECODE_DTYPE",
    "RadwareSigcompress",
    "ULEB128ZigZagDiff",
    "WaveformCodec",
    "codec_by_name",
    "codec_from_attrs",
    "decode",
    "encode",
    "register",
]

_CODEC_ATTRS = ("codec", "codec_shift", "compression", "hdf5_settings")


def encode(
    obj: ArrayOfEqualSizedArrays | VectorOfVectors, codec: WaveformCodec | str
) -> ArrayOfEncodedEqualSizedArrays | VectorOfEncodedVectors:
    """Encode equal-sized or variable-length waveforms with ``codec`` (an instance or a name).

    Named ``"radware_sigcompress"`` for uint16 samples, the codec shift is -32768.
    """
    if isinstance(codec, str):
        # by name, radware takes uint16 ADC samples into int16 range as LEGEND's DAQ does
        unsigned16 = codec == RadwareSigcompress.name and obj.dtype == np.uint16
        codec = codec_by_name(codec, **({"codec_shift": -32768} if unsigned16 else {}))
    attrs = {k: v for k, v in obj.getattrs().items() if k not in _CODEC_ATTRS} | codec.attrs()
    try:
        if isinstance(obj, ArrayOfEqualSizedArrays):
            n, length = obj.nda.shape[0], int(np.prod(obj.nda.shape[1:]))
            data, nbytes = codec.encode(obj.nda.reshape(-1), np.full(n, length, np.int64))
            return ArrayOfEncodedEqualSizedArrays(_bytes_vov(data, nbytes), length, attrs=attrs)
        if isinstance(obj, VectorOfVectors) and not isinstance(obj.flattened_data, VectorOfVectors):
            lengths = np.diff(obj.offsets())
            data, nbytes = codec.encode(obj.flattened_data.nda, lengths)
            return VectorOfEncodedVectors(
                _bytes_vov(data, nbytes), lengths.astype(np.uint32), attrs=attrs
            )
    except ValueError as err:
        raise CodecError(f"{codec.name} cannot encode these waveforms: {err}") from err
    raise CodecError(
        f"{codec.name} encodes 2-d equal-sized arrays or plain vectors of vectors, not {obj!r:.80}"
    )


def decode(
    obj: ArrayOfEncodedEqualSizedArrays | VectorOfEncodedVectors,
    dtype: Any = None,
    file: str | None = None,
    obj_path: str | None = None,
) -> ArrayOfEqualSizedArrays | VectorOfVectors:
    """Decode encoded waveforms (int32 samples by default, as LEGEND's reader gives)."""
    try:
        codec = codec_from_attrs(obj.attrs)
        attrs = {k: v for k, v in obj.getattrs().items() if k not in _CODEC_ATTRS}
        vov = obj.encoded_data
        if not isinstance(vov.flattened_data, Array):
            raise ValueError("encoded_data holds vectors of vectors, not rows of bytes")
        data = vov.flattened_data.nda
        nbytes = np.diff(vov.offsets())
        if isinstance(obj, ArrayOfEncodedEqualSizedArrays):
            length = int(obj.decoded_size.value)
            flat = codec.decode(data, nbytes, np.full(len(vov), length, np.int64), dtype)
            return ArrayOfEqualSizedArrays(nda=flat.reshape(len(vov), length), attrs=attrs)
        lengths = obj.decoded_size.nda.astype(np.int64)
        flat = codec.decode(data, nbytes, lengths, dtype)
        return VectorOfVectors(
            flattened_data=flat, cumulative_length=np.cumsum(lengths), attrs=attrs
        )
    except ValueError as err:
        if file is not None:
            raise LH5DecodeError(
                f"cannot decode waveforms: {err}", file=file, obj=obj_path
            ) from err
        raise CodecError(f"cannot decode waveforms: {err}") from err


def _bytes_vov(data: np.ndarray, nbytes: np.ndarray) -> VectorOfVectors:
    return VectorOfVectors(flattened_data=data, cumulative_length=np.cumsum(nbytes, dtype=np.int64))
