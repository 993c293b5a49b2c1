"""``uleb128_zigzag_diff``: variable-length coding of waveform differences, as used by LEGEND.

Byte layout of one encoded waveform (bit-exact with ``lh5.compression.varlen``): for
each sample, the difference to the previous sample (the first sample is taken as is),
computed modulo 2**32 and read as int32, is ZigZag-mapped to uint32
(``(d << 1) ^ (d >> 31)``: 0, -1, 1, -2, ... → 0, 1, 2, 3, ...) and written as an
unsigned LEB128 varint: 7 bits per byte, least significant group first, the high bit
(0x80) set on every byte but the last. There is no header and no padding; a sample
takes 1 to 5 bytes.

The codec therefore carries 32-bit samples. Decoding accumulates the differences
modulo 2**32 and reads the result as int32 for signed output dtypes, as uint32 for
unsigned ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np
from numpy.typing import DTypeLike

from .base import (
    WaveformCodec,
    _check_decode_args,
    _check_lengths,
    _check_values,
    _dtype_bounds,
    _offsets,
    register,
)

__all__ = ["ULEB128ZigZagDiff"]

_OK = 0
_ERR_RANGE = 1  # encode: sample outside the 32-bit range of its signedness
_ERR_TRUNCATED = 2  # decode: bytes end before all samples were read
_ERR_TRAILING = 3  # decode: bytes left over after the last sample
_ERR_VARINT = 4  # decode: varint longer than 10 bytes
_ERR_DTYPE = 5  # decode: value does not fit the requested dtype

_DECODE_ERRORS = {
    _ERR_TRUNCATED: "encoded bytes end before decoded_lengths samples were read",
    _ERR_TRAILING: "bytes left over after decoded_lengths samples were read",
    _ERR_VARINT: "varint longer than 10 bytes (corrupt stream?)",
    _ERR_DTYPE: "decoded value does not fit in the requested dtype",
}

_ENCODE_NATIVE = {np.dtype(t) for t in ("int16", "uint16", "int32", "uint32", "int64")}
_DECODE_NATIVE = {np.dtype(t) for t in ("int16", "uint16", "int32", "uint32", "int64")}

_MASK32 = 0xFFFFFFFF


# ----------------------------------------------------------------------------
# compiled kernels
# ----------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _zigzag(cur: int, prev: int) -> int:
    """ZigZag code (as int64 in 0..2**32-1) of ``cur - prev`` taken modulo 2**32 as int32."""
    d = (cur - prev) & _MASK32
    return ((d << 1) & _MASK32) ^ (_MASK32 if d >= 0x80000000 else 0)


@numba.njit(cache=True, parallel=True)
def _count_bytes(
    values: np.ndarray, offsets: np.ndarray, lo: int, hi: int, nbytes: np.ndarray
) -> None:
    """Encoded size of each waveform; -1 marks a sample outside ``lo..hi``."""
    for k in numba.prange(offsets.size - 1):
        prev = np.int64(0)
        total = np.int64(0)
        bad = False
        for i in range(offsets[k], offsets[k + 1]):
            cur = np.int64(values[i])
            bad |= (cur < lo) | (cur > hi)
            z = _zigzag(cur, prev)
            total += 1 + (z > 0x7F) + (z > 0x3FFF) + (z > 0x1FFFFF) + (z > 0xFFFFFFF)
            prev = cur
        nbytes[k] = -1 if bad else total


@numba.njit(cache=True, parallel=True)
def _encode_batch(
    values: np.ndarray, offsets: np.ndarray, out_offsets: np.ndarray, out: np.ndarray
) -> None:
    for k in numba.prange(offsets.size - 1):
        pos = out_offsets[k]
        prev = np.int64(0)
        for i in range(offsets[k], offsets[k + 1]):
            cur = np.int64(values[i])
            z = _zigzag(cur, prev)
            prev = cur
            while z > 0x7F:
                out[pos] = np.uint8((z & 0x7F) | 0x80)
                z >>= 7
                pos += 1
            out[pos] = np.uint8(z)
            pos += 1


@numba.njit(cache=True)
def _decode_one(
    data: np.ndarray,
    pos: int,
    end: int,
    out: np.ndarray,
    o: int,
    n: int,
    signed: bool,
    lo: int,
    hi: int,
) -> int:
    acc = np.int64(0)  # running value, modulo 2**32
    s = 0
    while s < n:
        # fast path: the next 8 bytes are 8 one-byte varints (small differences),
        # which can be decoded without the byte-by-byte dependency on ``pos``
        if n - s >= 8 and end - pos >= 8:
            high = np.int64(0)
            for q in range(8):
                high |= np.int64(data[pos + q])
            if high < 0x80:
                for q in range(8):
                    z = np.int64(data[pos + q])
                    acc = (acc + ((z >> 1) ^ -(z & 1))) & _MASK32
                    v = acc - ((acc >> 31) << 32) if signed else acc
                    if v < lo or v > hi:
                        return _ERR_DTYPE
                    out[o + s + q] = v
                pos += 8
                s += 8
                continue
        # general path: one varint of 1 to 10 bytes
        if pos >= end:
            return _ERR_TRUNCATED
        b = np.int64(data[pos])
        pos += 1
        z = b & 0x7F
        shift = 7
        while b > 0x7F:
            if pos >= end:
                return _ERR_TRUNCATED
            if shift > 63:
                return _ERR_VARINT
            b = np.int64(data[pos])
            pos += 1
            if shift < 32:
                z |= (b & 0x7F) << shift
            shift += 7
        z &= _MASK32
        acc = (acc + ((z >> 1) ^ -(z & 1))) & _MASK32
        v = acc - ((acc >> 31) << 32) if signed else acc
        if v < lo or v > hi:
            return _ERR_DTYPE
        out[o + s] = v
        s += 1
    if pos != end:
        return _ERR_TRAILING
    return _OK


@numba.njit(cache=True, parallel=True)
def _decode_batch(
    data: np.ndarray,
    in_offsets: np.ndarray,
    out_offsets: np.ndarray,
    out: np.ndarray,
    signed: bool,
    lo: int,
    hi: int,
    status: np.ndarray,
) -> None:
    for k in numba.prange(in_offsets.size - 1):
        status[k] = _decode_one(
            data,
            in_offsets[k],
            in_offsets[k + 1],
            out,
            out_offsets[k],
            out_offsets[k + 1] - out_offsets[k],
            signed,
            lo,
            hi,
        )


# ----------------------------------------------------------------------------
# public codec
# ----------------------------------------------------------------------------


@register
@dataclass(frozen=True)
class ULEB128ZigZagDiff(WaveformCodec):
    """The ``uleb128_zigzag_diff`` codec, bit-exact with LEGEND's.

    Samples must be representable in 32 bits: any ``int8``..``int32`` or
    ``uint8``..``uint32`` array; ``int64`` arrays with values in the int32 range and
    ``uint64`` arrays with values in the uint32 range.

    >>> codec = ULEB128ZigZagDiff()
    >>> data, nbytes = codec.encode(np.array([100, 101, 99, 7], dtype="uint16"), np.array([3, 1]))
    >>> data.tolist(), nbytes.tolist()
    ([200, 1, 2, 3, 14], [4, 1])
    >>> codec.decode(data, nbytes, np.array([3, 1]))
    array([100, 101,  99,   7], dtype=int32)
    """

    name: ClassVar[str] = "uleb128_zigzag_diff"

    def encode(self, values: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encode waveforms; returns ``(bytes, bytes per waveform)``.

        Raises :class:`ValueError` for samples that do not fit in 32 bits.

        >>> ULEB128ZigZagDiff().encode(np.array([-1, 63, 64]), np.array([3]))[0].tolist()
        [1, 128, 1, 2]
        """
        vals = _check_values(values)
        lens = _check_lengths(lengths, vals.size)
        vals, lo, hi = _native_input(vals)
        offsets = _offsets(lens)
        nbytes = np.empty(lens.size, dtype=np.int64)
        _count_bytes(vals, offsets, lo, hi, nbytes)
        if lens.size and nbytes.min() < 0:
            k = int(np.argmax(nbytes < 0))
            msg = (
                f"waveform {k}: samples of dtype {np.asarray(values).dtype} outside "
                f"[{lo}, {hi}] cannot be encoded with uleb128_zigzag_diff (32-bit samples only)"
            )
            raise ValueError(msg)
        out_offsets = _offsets(nbytes)
        out = np.empty(int(out_offsets[-1]), dtype=np.uint8)
        _encode_batch(vals, offsets, out_offsets, out)
        return out, nbytes

    def decode(
        self,
        data: np.ndarray,
        byte_lengths: np.ndarray,
        decoded_lengths: np.ndarray,
        dtype: DTypeLike = None,
    ) -> np.ndarray:
        """Decode waveforms to a flat array of ``dtype`` (default ``int32``, like LEGEND).

        >>> ULEB128ZigZagDiff().decode(np.array([1, 128, 1, 2], "uint8"), np.array([4]), np.array([3]))
        array([-1, 63, 64], dtype=int32)
        """
        buf, nbytes, nsamples, out_dtype = _check_decode_args(
            data, byte_lengths, decoded_lengths, dtype, self.default_dtype
        )
        lo, hi = _dtype_bounds(out_dtype)
        work_dtype = out_dtype if out_dtype in _DECODE_NATIVE else np.dtype(np.int64)
        out_offsets = _offsets(nsamples)
        out = np.empty(int(out_offsets[-1]), dtype=work_dtype)
        if nsamples.size == 0:
            return out.astype(out_dtype, copy=False)
        status = np.empty(nsamples.size, dtype=np.int64)
        signed = out_dtype.kind == "i"
        _decode_batch(buf, _offsets(nbytes), out_offsets, out, signed, lo, hi, status)
        bad = np.flatnonzero(status)
        if bad.size:
            k = int(bad[0])
            reason = _DECODE_ERRORS.get(int(status[k]), "corrupt stream")
            if status[k] == _ERR_DTYPE:
                reason += f" ({out_dtype})"
            msg = f"uleb128_zigzag_diff: cannot decode waveform {k}: {reason}"
            raise ValueError(msg)
        return out.astype(out_dtype, copy=False)


def _native_input(values: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Samples in a kernel-supported dtype plus the allowed value range."""
    dt = values.dtype
    if dt.kind == "u":
        lo, hi = 0, 2**32 - 1
    else:
        lo, hi = -(2**31), 2**31 - 1
    if dt in _ENCODE_NATIVE:
        return values, lo, hi
    if dt.itemsize < 2:
        return values.astype(np.int16 if dt.kind == "i" else np.uint16), lo, hi
    # uint64: check here, as values above the int64 range would not survive the cast
    if values.size and values.max() > hi:
        msg = (
            f"samples of dtype {dt} outside [{lo}, {hi}] cannot be encoded with "
            "uleb128_zigzag_diff (32-bit samples only)"
        )
        raise ValueError(msg)
    return values.astype(np.int64), lo, hi
