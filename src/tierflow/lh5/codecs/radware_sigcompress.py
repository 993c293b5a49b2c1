"""``radware_sigcompress``: D. Radford's block bit-packing waveform codec, as used by LEGEND.

Byte layout of one encoded waveform (bit-exact with ``lh5.compression.radware``):
a stream of big-endian unsigned 16-bit words.

* word 0: number of samples ``n`` (at most 32767: LEGEND's decoder reads it as int16).
* then blocks, each starting on a word boundary:

  - *absolute* block: ``nw`` (samples in block), ``nb`` (bits per value, 2..16),
    ``min`` (int16 as uint16), then ``nw`` values ``y - min`` packed with ``nb`` bits
    each, most significant bit first, in ``ceil(nw * nb / 16)`` words;
  - *difference* block: ``nw``, ``nb + 32``, the first sample ``y0``, ``min`` (the
    minimum difference, wrapped to 16 bits), then the ``nw - 1`` values
    ``(y[i] - y[i-1]) - min`` packed the same way. Decoding adds differences with
    16-bit wrap-around.

* the total word count is padded to an even number with one more word, so byte counts
  are multiples of 4. We write zero there; LEGEND encodes into an uninitialised buffer,
  so files it wrote can hold arbitrary bytes in that padding word (decoders ignore it).

Here ``y = x + codec_shift`` must fit in int16; decoding returns ``y - codec_shift``.

Block sizing (the rules of the original C code, quirks included): a block starts as a
window of up to 48 samples. Over that window the value range ``max - min`` is compared
to the range of the differences; the running max/min of the differences start at
-16000/+16000 instead of at the first difference, so a one-sample final window always
becomes a difference block (range -32000, ``nb`` = 2, ``min`` = 16000), and a window
whose differences all lie below -16000 (above +16000) gets a range stretched up to
-16000 (down to +16000). The smaller range wins (ties go to absolute values) and fixes
``nb`` (smallest >= 2 that holds the range); the block then grows sample by sample, up
to 128 samples, while the range still fits in ``nb`` bits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numba
import numpy as np
from numpy.typing import DTypeLike

from ..guards import check_memory
from .base import (
    WaveformCodec,
    as_int,
    as_str,
    check_decode_args,
    check_lengths,
    check_values,
    dtype_bounds,
    offsets_from_counts,
    register,
)

__all__ = ["MAX_SAMPLES", "RadwareSigcompress"]

MAX_SAMPLES = 32767
"""Longest waveform the format can hold (LEGEND decodes the length word as int16)."""

_WINDOW = 48  # initial window used to choose absolute vs difference coding
_MAX_BLOCK = 128  # a block never holds more samples than this

# decode status codes (per waveform); encoding flags out-of-range samples with a
# byte count of -1
_OK = 0
_ERR_TRUNCATED = 2  # decode: stream ends before all samples were read
_ERR_COUNT = 3  # decode: sample-count word disagrees with decoded_lengths
_ERR_BITS = 4  # decode: invalid bit count in a block header
_ERR_DTYPE = 5  # decode: value does not fit the requested dtype

_DECODE_ERRORS = {
    _ERR_TRUNCATED: "encoded stream is truncated",
    _ERR_COUNT: "sample count stored in the stream differs from decoded_lengths",
    _ERR_BITS: "invalid bit count in a block header (corrupt stream?)",
    _ERR_DTYPE: "decoded value does not fit in the requested dtype",
}

# input dtypes the encoder is compiled for (others are converted first); kept few,
# as each costs a compilation
_ENCODE_NATIVE = {np.dtype(t) for t in ("uint16", "int32", "int64")}


# ----------------------------------------------------------------------------
# compiled kernels
# ----------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _put16(buf: np.ndarray, pos: int, word: int) -> None:
    buf[pos] = np.uint8((word >> 8) & 0xFF)
    buf[pos + 1] = np.uint8(word & 0xFF)


@numba.njit(cache=True, inline="always")
def _get16(buf: np.ndarray, pos: int) -> int:
    return (np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1])


@numba.njit(cache=True, inline="always")
def _nbits(span: int) -> int:
    """Smallest bit count >= 2 able to hold values 0..span."""
    nb = 2
    while span > (1 << nb) - 1:
        nb += 1
    return nb


@numba.njit(cache=True)
def _encode_one(
    values: np.ndarray, first: int, n: int, shift: int, out: np.ndarray, pos: int
) -> int:
    """Encode ``values[first:first+n]`` at byte ``pos`` of ``out``; return the byte count.

    Returns -1 if a shifted sample does not fit in int16.
    """
    for i in range(first, first + n):
        y = np.int64(values[i]) + shift
        if y < -32768 or y > 32767:
            return -1

    start = pos
    _put16(out, pos, n)
    pos += 2
    j = 0
    while j < n:
        # --- choose the coding over a window of up to _WINDOW samples ---
        y0 = np.int64(values[first + j]) + shift
        vmax = y0
        vmin = y0
        dmax = np.int64(-16000)
        dmin = np.int64(16000)
        prev = y0
        i = j + 1
        stop = min(n, j + _WINDOW)
        while i < stop:
            y = np.int64(values[first + i]) + shift
            d = y - prev
            vmax = max(vmax, y)
            vmin = min(vmin, y)
            dmax = max(dmax, d)
            dmin = min(dmin, d)
            prev = y
            i += 1
        stop = min(n, j + _MAX_BLOCK)

        if vmax - vmin <= dmax - dmin:
            # --- absolute values: grow the block while the range fits ---
            nb = _nbits(vmax - vmin)
            limit = (1 << nb) - 1
            while i < stop:
                y = np.int64(values[first + i]) + shift
                hi = max(vmax, y)
                lo = min(vmin, y)
                if hi - lo > limit:
                    break
                vmax = hi
                vmin = lo
                i += 1
            _put16(out, pos, i - j)
            _put16(out, pos + 2, nb)
            _put16(out, pos + 4, vmin & 0xFFFF)
            pos += 6
            acc = np.int64(0)
            nacc = 0
            for k in range(first + j, first + i):
                acc = (acc << nb) | (np.int64(values[k]) + shift - vmin)
                nacc += nb
                if nacc >= 16:
                    nacc -= 16
                    _put16(out, pos, (acc >> nacc) & 0xFFFF)
                    pos += 2
            if nacc > 0:
                _put16(out, pos, (acc << (16 - nacc)) & 0xFFFF)
                pos += 2
        else:
            # --- differences: grow the block while their range fits ---
            nb = _nbits(dmax - dmin)
            limit = (1 << nb) - 1
            while i < stop:
                y = np.int64(values[first + i]) + shift
                d = y - prev
                hi = max(dmax, d)
                lo = min(dmin, d)
                if hi - lo > limit:
                    break
                dmax = hi
                dmin = lo
                prev = y
                i += 1
            _put16(out, pos, i - j)
            _put16(out, pos + 2, nb + 32)
            _put16(out, pos + 4, y0 & 0xFFFF)
            _put16(out, pos + 6, dmin & 0xFFFF)
            pos += 8
            acc = np.int64(0)
            nacc = 0
            prev = y0
            for k in range(first + j + 1, first + i):
                y = np.int64(values[k]) + shift
                acc = (acc << nb) | (y - prev - dmin)
                prev = y
                nacc += nb
                if nacc >= 16:
                    nacc -= 16
                    _put16(out, pos, (acc >> nacc) & 0xFFFF)
                    pos += 2
            if nacc > 0:
                _put16(out, pos, (acc << (16 - nacc)) & 0xFFFF)
                pos += 2
        j = i

    if ((pos - start) >> 1) & 1:  # odd number of words: pad with a zero word
        _put16(out, pos, 0)
        pos += 2
    return pos - start


@numba.njit(cache=True, parallel=True)
def _encode_batch(
    values: np.ndarray,
    offsets: np.ndarray,
    shift: int,
    scratch_offsets: np.ndarray,
    scratch: np.ndarray,
    nbytes: np.ndarray,
) -> None:
    for k in numba.prange(offsets.size - 1):
        nbytes[k] = _encode_one(
            values, offsets[k], offsets[k + 1] - offsets[k], shift, scratch, scratch_offsets[k]
        )


@numba.njit(cache=True, parallel=True)
def _gather(
    src: np.ndarray, src_offsets: np.ndarray, dst_offsets: np.ndarray, dst: np.ndarray
) -> None:
    for k in numba.prange(dst_offsets.size - 1):
        s = src_offsets[k]
        d = dst_offsets[k]
        for m in range(dst_offsets[k + 1] - d):
            dst[d + m] = src[s + m]


@numba.njit(cache=True)
def _decode_one(
    data: np.ndarray,
    pos: int,
    end: int,
    n: int,
    shift: int,
    out: np.ndarray,
    o: int,
    lo: int,
    hi: int,
) -> int:
    """Decode one waveform from ``data[pos:end]`` into ``out[o:o+n]``; return a status."""
    if end - pos < 2:
        return _ERR_TRUNCATED
    if _get16(data, pos) != n:
        return _ERR_COUNT
    pos += 2
    done = 0
    while done < n:
        if end - pos < 6:
            return _ERR_TRUNCATED
        nw = _get16(data, pos)
        nb = _get16(data, pos + 2)
        diff = nb >= 32
        if diff:
            nb -= 32
        if nb > 16:
            return _ERR_BITS
        mask = (np.int64(1) << nb) - 1
        if diff:
            if end - pos < 8:
                return _ERR_TRUNCATED
            y = _get16(data, pos + 4)
            y -= (y >> 15) << 16  # int16
            vmin = _get16(data, pos + 6)
            vmin -= (vmin >> 15) << 16
            pos += 8
            v = y - shift
            if v < lo or v > hi:
                return _ERR_DTYPE
            out[o + done] = v
            done += 1
            count = min(max(nw - 1, 0), n - done)
        else:
            vmin = _get16(data, pos + 4)
            vmin -= (vmin >> 15) << 16
            pos += 6
            count = min(nw, n - done)
            y = np.int64(0)

        nwords = (count * nb + 15) >> 4
        if end - pos < 2 * nwords:
            return _ERR_TRUNCATED
        acc = np.int64(0)
        nacc = 0
        base = o + done
        for s in range(count):
            if nacc < nb:
                acc = ((acc & 0xFFFF) << 16) | _get16(data, pos)
                pos += 2
                nacc += 16
            nacc -= nb
            bits = (acc >> nacc) & mask
            if diff:
                y = ((y + vmin + bits + 32768) & 0xFFFF) - 32768
            else:
                y = vmin + bits
            v = y - shift
            if v < lo or v > hi:
                return _ERR_DTYPE
            out[base + s] = v
        done += count
    return _OK


@numba.njit(cache=True, parallel=True)
def _decode_batch(
    data: np.ndarray,
    in_offsets: np.ndarray,
    out_offsets: np.ndarray,
    shift: int,
    out: np.ndarray,
    lo: int,
    hi: int,
    status: np.ndarray,
) -> None:
    for k in numba.prange(in_offsets.size - 1):
        status[k] = _decode_one(
            data,
            in_offsets[k],
            in_offsets[k + 1],
            out_offsets[k + 1] - out_offsets[k],
            shift,
            out,
            out_offsets[k],
            lo,
            hi,
        )


# ----------------------------------------------------------------------------
# public codec
# ----------------------------------------------------------------------------


def _max_encoded_bytes(lengths: np.ndarray) -> np.ndarray:
    """Upper bound on the encoded size of waveforms with the given lengths.

    Every block but the last holds at least ``_WINDOW`` samples, costs at most 4
    header words and at most one data word per sample; add the count word and the
    padding word.
    """
    nblocks = lengths // _WINDOW + 1
    return 2 * (2 + lengths + 4 * nblocks)


@register
@dataclass(frozen=True)
class RadwareSigcompress(WaveformCodec):
    """The ``radware_sigcompress`` codec, bit-exact with LEGEND's.

    (Bit-exact except for the padding word: zero here, uninitialised memory in LEGEND;
    see the module notes.)

    ``codec_shift`` is added to every sample before encoding (and subtracted after
    decoding); shifted samples must fit in int16, so ``uint16`` waveforms need
    ``codec_shift=-32768``. Waveforms may hold at most :data:`MAX_SAMPLES` samples.

    >>> codec = RadwareSigcompress(codec_shift=-32768)
    >>> wfs = np.array([15000, 15002, 14999, 15001, 40000, 39000], dtype="uint16")
    >>> data, nbytes = codec.encode(wfs, np.array([4, 2]))
    >>> nbytes.tolist()
    [12, 12]
    >>> codec.decode(data, nbytes, np.array([4, 2]))
    array([15000, 15002, 14999, 15001, 40000, 39000], dtype=int32)
    """

    name: ClassVar[str] = "radware_sigcompress"

    codec_shift: int = 0
    """Offset added to the samples before encoding (stored as the ``codec_shift`` attribute)."""

    def __post_init__(self) -> None:
        shift = as_int(self.codec_shift, "codec_shift")
        if not -(2**31) <= shift < 2**31:
            msg = f"codec_shift must fit in int32, got {shift}"
            raise ValueError(msg)
        object.__setattr__(self, "codec_shift", shift)

    def attrs(self) -> dict[str, Any]:
        """HDF5 attributes: the codec name and ``codec_shift``.

        >>> RadwareSigcompress(codec_shift=-32768).attrs()
        {'codec': 'radware_sigcompress', 'codec_shift': -32768}
        """
        return {"codec": self.name, "codec_shift": self.codec_shift}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> RadwareSigcompress:
        """Build from HDF5 attributes; ``codec_shift`` may be stored as a float.

        >>> RadwareSigcompress.from_attrs({"codec": "radware_sigcompress", "codec_shift": -32768.0})
        RadwareSigcompress(codec_shift=-32768)
        """
        name = as_str(attrs.get("codec", cls.name))
        if name != cls.name:
            msg = f"attributes name codec {name!r}, not {cls.name!r}"
            raise ValueError(msg)
        return cls(codec_shift=as_int(attrs.get("codec_shift", 0), "codec_shift"))

    def encode(self, values: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encode waveforms; returns ``(bytes, bytes per waveform)``.

        Raises :class:`ValueError` if a sample plus ``codec_shift`` does not fit in
        int16 or a waveform is longer than :data:`MAX_SAMPLES`.

        >>> data, nbytes = RadwareSigcompress().encode(np.array([1, 2, 3], "int16"), np.array([3]))
        >>> data.tolist(), nbytes.tolist()
        ([0, 3, 0, 3, 0, 34, 0, 1, 0, 1, 0, 0], [12])
        """
        vals = check_values(values)
        lens = check_lengths(lengths, vals.size)
        if lens.size and lens.max() > MAX_SAMPLES:
            k = int(np.argmax(lens))
            msg = (
                f"radware_sigcompress holds at most {MAX_SAMPLES} samples per waveform, "
                f"waveform {k} has {int(lens[k])}"
            )
            raise ValueError(msg)
        vals = _native_input(vals, self.codec_shift)

        offsets = offsets_from_counts(lens)
        scratch_offsets = offsets_from_counts(_max_encoded_bytes(lens))
        scratch = np.empty(int(scratch_offsets[-1]), dtype=np.uint8)
        nbytes = np.empty(lens.size, dtype=np.int64)
        _encode_batch(vals, offsets, self.codec_shift, scratch_offsets, scratch, nbytes)

        if lens.size and nbytes.min() < 0:
            k = int(np.argmax(nbytes < 0))
            msg = (
                f"waveform {k}: samples + codec_shift ({self.codec_shift}) must fit in int16 "
                "for radware_sigcompress (use codec_shift=-32768 for uint16 data)"
            )
            raise ValueError(msg)

        out_offsets = offsets_from_counts(nbytes)
        out = np.empty(int(out_offsets[-1]), dtype=np.uint8)
        _gather(scratch, scratch_offsets, out_offsets, out)
        return out, nbytes

    def decode(
        self,
        data: np.ndarray,
        byte_lengths: np.ndarray,
        decoded_lengths: np.ndarray,
        dtype: DTypeLike | None = None,
    ) -> np.ndarray:
        """Decode waveforms to a flat array of ``dtype`` (default ``int32``, like LEGEND).

        >>> codec = RadwareSigcompress()
        >>> data, nbytes = codec.encode(np.array([1, 2, 3], "int16"), np.array([3]))
        >>> codec.decode(data, nbytes, np.array([3]), dtype="int16")
        array([1, 2, 3], dtype=int16)
        """
        buf, nbytes, nsamples, out_dtype = check_decode_args(
            data, byte_lengths, decoded_lengths, dtype, self.default_dtype
        )
        _check_sample_counts(buf, nbytes, nsamples)
        lo, hi = dtype_bounds(out_dtype)
        # the kernel writes int32 (or int64 when the shift could push values out of
        # int32), checking every value against the bounds of the requested dtype, so
        # the final conversion is exact; valid streams hold y in [-32768, 32767],
        # corrupt absolute blocks up to min + 65535
        i32 = np.iinfo(np.int32)
        fits32 = i32.min <= -32768 - self.codec_shift and 98302 - self.codec_shift <= i32.max
        work_dtype = np.dtype(np.int32 if fits32 and out_dtype != np.int64 else np.int64)
        out_offsets = offsets_from_counts(nsamples)
        check_memory(int(out_offsets[-1]) * work_dtype.itemsize, "the decoded waveforms")
        out = np.empty(int(out_offsets[-1]), dtype=work_dtype)
        if nsamples.size == 0:
            return out.astype(out_dtype, copy=False)
        status = np.empty(nsamples.size, dtype=np.int64)
        _decode_batch(
            buf, offsets_from_counts(nbytes), out_offsets, self.codec_shift, out, lo, hi, status
        )
        bad = np.flatnonzero(status)
        if bad.size:
            k = int(bad[0])
            reason = _DECODE_ERRORS.get(int(status[k]), "corrupt stream")
            if status[k] == _ERR_DTYPE:
                reason += f" ({out_dtype})"
            msg = f"radware_sigcompress: cannot decode waveform {k}: {reason}"
            raise ValueError(msg)
        return out.astype(out_dtype, copy=False)


def _check_sample_counts(buf: np.ndarray, nbytes: np.ndarray, nsamples: np.ndarray) -> None:
    """Each waveform's sample count, stored in its first word, must be ``nsamples``: checked
    before the output is allocated, so that a damaged decoded size cannot claim memory."""
    if not nsamples.size:
        return
    short = nbytes < 2
    if short.any():
        k = int(np.argmax(short))
        msg = f"radware_sigcompress: cannot decode waveform {k}: {_DECODE_ERRORS[_ERR_TRUNCATED]}"
        raise ValueError(msg)
    first = offsets_from_counts(nbytes)[:-1]
    stored = (buf[first].astype(np.int64) << 8) | buf[first + 1]
    if (stored != nsamples).any():
        k = int(np.argmax(stored != nsamples))
        msg = (
            f"radware_sigcompress: waveform {k} holds {int(stored[k])} samples, not the "
            f"{int(nsamples[k])} of its decoded size"
        )
        raise ValueError(msg)


def _native_input(values: np.ndarray, shift: int) -> np.ndarray:
    """Convert input samples to a dtype the encoder kernel is compiled for."""
    if values.dtype in _ENCODE_NATIVE:
        return values
    if values.dtype.itemsize <= 2:  # int8, uint8, int16
        return values.astype(np.int32)
    if values.dtype == np.uint64 and values.size and values.max() > np.iinfo(np.int64).max:
        msg = f"samples + codec_shift ({shift}) must fit in int16 for radware_sigcompress"
        raise ValueError(msg)
    return values.astype(np.int64)
