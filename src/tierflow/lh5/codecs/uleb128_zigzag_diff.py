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
unsigned ones. (LEGEND's decoder does the same for its default int32 output; only if
handed a pre-allocated int64 buffer does it accumulate without wrapping, which
differs for waveforms whose differences overflow int32.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np
from numpy.typing import DTypeLike

from .base import (
    WaveformCodec,
    check_decode_args,
    check_lengths,
    check_values,
    dtype_bounds,
    offsets_from_counts,
    register,
)

__all__ = ["ULEB128ZigZagDiff"]

# decode status codes (per waveform); encoding flags out-of-range samples with a
# byte count of -1
_OK = 0
_ERR_TRUNCATED = 2  # decode: bytes end before all samples were read
_ERR_TRAILING = 3  # decode: bytes left over after the last sample
_ERR_VARINT = 4  # decode: varint longer than 10 bytes

_DECODE_ERRORS = {
    _ERR_TRUNCATED: "encoded bytes end before decoded_lengths samples were read",
    _ERR_TRAILING: "bytes left over after decoded_lengths samples were read",
    _ERR_VARINT: "varint longer than 10 bytes (corrupt stream?)",
}

# input dtypes the encoder is compiled for (others are converted first); kept few,
# as each costs a compilation
_ENCODE_NATIVE = {np.dtype(t) for t in ("uint16", "int32", "uint32", "int64")}

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
        last = out_offsets[k + 1] - 1
        first, stop = offsets[k], offsets[k + 1]
        # the byte count is known: with (almost) only one-byte varints a plain loop
        # is fastest, otherwise a branch-free one-or-two-byte store avoids
        # mispredicting the varint length
        mixed = 10 * (last + 1 - pos) > 11 * (stop - first)
        prev = np.int64(0)
        for i in range(first, stop):
            cur = np.int64(values[i])
            z = _zigzag(cur, prev)
            prev = cur
            if mixed and z <= 0x3FFF and pos < last:  # 2 bytes of room in our own range
                more = np.int64(z > 0x7F)
                out[pos] = np.uint8((z & 0x7F) | (more << 7))
                out[pos + 1] = np.uint8(z >> 7)  # overwritten next if not part of it
                pos += 1 + more
            else:
                while z > 0x7F:
                    out[pos] = np.uint8((z & 0x7F) | 0x80)
                    z >>= 7
                    pos += 1
                out[pos] = np.uint8(z)
                pos += 1


@numba.njit(cache=True, inline="always")
def _unzigzag(z: int) -> int:
    return (z >> 1) ^ -(z & 1)


@numba.njit(cache=True)
def _decode_one(data: np.ndarray, pos: int, end: int, out: np.ndarray, o: int, n: int) -> int:
    """Decode ``n`` samples from ``data[pos:end]`` into ``out[o:o+n]`` as int32 values.

    Returns a status code. Three paths, fastest first: eight one-byte varints in a
    row (no byte-to-byte dependency), a branch-free one-or-two-byte varint, and
    the general varint loop (up to 10 bytes, as LEGEND accepts).
    """
    acc = np.int64(0)  # running sample value, kept sign-extended from 32 bits
    s = 0
    while s < n:
        if n - s >= 8 and end - pos >= 8:
            high = np.int64(0)
            for q in range(8):
                high |= np.int64(data[pos + q])
            if high < 0x80:
                for q in range(8):
                    acc = np.int64(np.int32(acc + _unzigzag(np.int64(data[pos + q]))))
                    out[o + s + q] = acc
                pos += 8
                s += 8
                continue
        stop = min(n, s + 8)
        while s < stop:
            if end - pos >= 2:
                b0 = np.int64(data[pos])
                b1 = np.int64(data[pos + 1])
                more = b0 >> 7
                if (more & (b1 >> 7)) == 0:  # a one- or two-byte varint
                    z = (b0 & 0x7F) | (((b1 & 0x7F) << 7) & -more)
                    pos += 1 + more
                    acc = np.int64(np.int32(acc + _unzigzag(z)))
                    out[o + s] = acc
                    s += 1
                    continue
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
            acc = np.int64(np.int32(acc + _unzigzag(z & _MASK32)))
            out[o + s] = acc
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
        vals = check_values(values)
        lens = check_lengths(lengths, vals.size)
        vals, lo, hi = _native_input(vals)
        offsets = offsets_from_counts(lens)
        nbytes = np.empty(lens.size, dtype=np.int64)
        _count_bytes(vals, offsets, lo, hi, nbytes)
        if lens.size and nbytes.min() < 0:
            k = int(np.argmax(nbytes < 0))
            msg = (
                f"waveform {k}: samples of dtype {np.asarray(values).dtype} outside "
                f"[{lo}, {hi}] cannot be encoded with uleb128_zigzag_diff (32-bit samples only)"
            )
            raise ValueError(msg)
        out_offsets = offsets_from_counts(nbytes)
        out = np.empty(int(out_offsets[-1]), dtype=np.uint8)
        _encode_batch(vals, offsets, out_offsets, out)
        return out, nbytes

    def decode(
        self,
        data: np.ndarray,
        byte_lengths: np.ndarray,
        decoded_lengths: np.ndarray,
        dtype: DTypeLike | None = None,
    ) -> np.ndarray:
        """Decode waveforms to a flat array of ``dtype`` (default ``int32``, like LEGEND).

        >>> data = np.array([1, 128, 1, 2], "uint8")
        >>> ULEB128ZigZagDiff().decode(data, np.array([4]), np.array([3]))
        array([-1, 63, 64], dtype=int32)
        """
        buf, nbytes, nsamples, out_dtype = check_decode_args(
            data, byte_lengths, decoded_lengths, dtype, self.default_dtype
        )
        if nsamples.size and (nsamples > nbytes).any():  # a sample takes 1 byte or more
            k = int(np.argmax(nsamples > nbytes))
            msg = (
                f"uleb128_zigzag_diff: waveform {k} cannot hold {int(nsamples[k])} samples in "
                f"{int(nbytes[k])} bytes (a damaged decoded size?)"
            )
            raise ValueError(msg)
        # the kernel writes the int32 reading of the 32-bit samples, into an int32
        # array (or int64, sign-extending); other dtypes are derived from that
        work = np.empty(int(nsamples.sum()), dtype=np.int64 if out_dtype == np.int64 else np.int32)
        if nsamples.size:
            status = np.empty(nsamples.size, dtype=np.int64)
            _decode_batch(
                buf, offsets_from_counts(nbytes), offsets_from_counts(nsamples), work, status
            )
            bad = np.flatnonzero(status)
            if bad.size:
                k = int(bad[0])
                reason = _DECODE_ERRORS.get(int(status[k]), "corrupt stream")
                msg = f"uleb128_zigzag_diff: cannot decode waveform {k}: {reason}"
                raise ValueError(msg)
        if out_dtype == work.dtype:
            return work
        if out_dtype.kind == "u":
            work = work.view(np.uint32)
        if out_dtype.itemsize >= work.dtype.itemsize:  # uint32 (a view), uint64
            return work if out_dtype == work.dtype else work.astype(out_dtype)
        lo, hi = dtype_bounds(out_dtype)
        if work.size and (work.min() < lo or work.max() > hi):
            k = int(np.argmax((work < lo) | (work > hi)))
            msg = (
                f"uleb128_zigzag_diff: decoded value {int(work[k])} (sample {k}) does not "
                f"fit in the requested dtype {out_dtype}"
            )
            raise ValueError(msg)
        return work.astype(out_dtype)


def _native_input(values: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Samples in a kernel-supported dtype plus the allowed value range."""
    dt = values.dtype
    if dt.kind == "u":
        lo, hi = 0, 2**32 - 1
    else:
        lo, hi = -(2**31), 2**31 - 1
    if dt in _ENCODE_NATIVE:
        return values, lo, hi
    if dt.itemsize <= 2:  # int8, uint8, int16
        return values.astype(np.int32 if dt.kind == "i" else np.uint16), lo, hi
    # uint64: check here, as values above the int64 range would not survive the cast
    if values.size and values.max() > hi:
        msg = (
            f"samples of dtype {dt} outside [{lo}, {hi}] cannot be encoded with "
            "uleb128_zigzag_diff (32-bit samples only)"
        )
        raise ValueError(msg)
    return values.astype(np.int64), lo, hi
