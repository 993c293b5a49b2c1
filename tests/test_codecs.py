"""Waveform codecs: bit-exactness with LEGEND (files and random data) and round trips.

LEGEND (``lgdo`` / ``lh5``) is only the oracle here; tests needing it are skipped when
it is not installed.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierflow.errors import CodecError
from tierflow.lh5.codecs import base as codecs_base
from tierflow.lh5.codecs import decode
from tierflow.lh5.codecs import radware_sigcompress as radware_module
from tierflow.lh5.codecs import uleb128_zigzag_diff as uleb_module
from tierflow.lh5.codecs.base import (
    CODECS,
    DEFAULT_DECODE_DTYPE,
    WaveformCodec,
    codec_by_name,
    codec_from_attrs,
)
from tierflow.lh5.codecs.radware_sigcompress import MAX_SAMPLES, RadwareSigcompress
from tierflow.lh5.codecs.uleb128_zigzag_diff import ULEB128ZigZagDiff
from tierflow.types import ArrayOfEncodedEqualSizedArrays, VectorOfVectors

RAW_FILE = Path(
    "/work/shared/testdata/lh5/prod-ref-l200/generated/tier/raw/cal/p14/r005/"
    "l200-p14-r004-cal-20250606T010224Z-tier_raw.lh5"
)

HYPOTHESIS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

I32 = np.iinfo(np.int32)
U32 = np.iinfo(np.uint32)


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------


def legend_compression() -> ModuleType:
    """LEGEND's compression package (``lh5.compression``, formerly ``lgdo.compression``)."""
    pytest.importorskip("lgdo")
    try:
        return importlib.import_module("lh5.compression")
    except ImportError:
        return pytest.importorskip("lgdo.compression")


def legend_submodule(name: str) -> ModuleType:
    return importlib.import_module(f"{legend_compression().__name__}.{name}")


def legend_read(name: str, path: Path) -> Any:
    """Read (and decode) an object with LEGEND's reader."""
    pytest.importorskip("lgdo")
    try:
        read = importlib.import_module("lh5").read
    except (ImportError, AttributeError):
        read = importlib.import_module("lgdo.lh5").read
    return read(name, str(path))


def split(data: np.ndarray, nbytes: np.ndarray) -> list[np.ndarray]:
    return np.split(data, np.cumsum(nbytes)[:-1]) if len(nbytes) else []


def pulses(n: int, length: int, seed: int) -> np.ndarray:
    """uint16 pulse-like waveforms: baseline + noise + a step with exponential decay."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    base = rng.integers(10000, 20000, size=(n, 1))
    amp = rng.exponential(3000, size=(n, 1))
    t0 = rng.integers(0, max(length, 1), size=(n, 1))
    tau = rng.uniform(20, 600, size=(n, 1))
    sig = np.where(t >= t0, amp * np.exp(-(t - t0) / tau), 0.0)
    wf = base + sig + rng.normal(0, 5, size=(n, length))
    return np.clip(wf, 0, 65535).round().astype(np.uint16)


def random_values(rng: np.random.Generator, size: int, lo: int, hi: int, style: str) -> np.ndarray:
    """Samples in [lo, hi] (as int64) following one of a few shapes."""
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    if style == "uniform":
        return rng.integers(lo, hi, size=size, endpoint=True)
    if style == "extremes":
        picks = np.array(sorted({lo, lo + 1, hi - 1, hi, max(lo, min(hi, 0)), (lo + hi) // 2}))
        return rng.choice(picks, size=size)
    if style == "const":
        return np.full(size, rng.integers(lo, hi, endpoint=True))
    # random walks with small or huge steps, folded back into [lo, hi]
    step = {"walk_small": 3, "walk_mid": 300, "walk_big": 40000}[style]
    start = rng.integers(lo, hi, endpoint=True)
    walk = start + np.cumsum(rng.integers(-step, step, size=size, endpoint=True))
    span = hi - lo + 1
    return lo + np.mod(walk - lo, span)


STYLES = ["uniform", "extremes", "const", "walk_small", "walk_mid", "walk_big"]
SPECIAL_LENGTHS = [0, 1, 2, 3, 47, 48, 49, 95, 96, 127, 128, 129, 175, 176, 177, 255, 256, 257]


@st.composite
def batches(draw: st.DrawFn, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """(values as int64, lengths) for a random batch of waveforms."""
    n = draw(st.integers(0, 6))
    lengths = draw(
        st.lists(
            st.one_of(st.sampled_from(SPECIAL_LENGTHS), st.integers(0, 400)),
            min_size=n,
            max_size=n,
        )
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    parts = [random_values(rng, m, lo, hi, draw(st.sampled_from(STYLES))) for m in lengths]
    values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return values.astype(np.int64), np.asarray(lengths, dtype=np.int64)


def encoded_objects_in(path: Path) -> list[str]:
    """HDF5 paths of all encoded waveform groups (those with a ``codec`` attribute)."""
    if not path.exists():
        return []
    import h5py
    import hdf5plugin  # noqa: F401  (registers the Zstd filter)

    found: list[str] = []
    with h5py.File(path, "r") as f:

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Group) and "codec" in obj.attrs:
                found.append(name)

        f.visititems(visit)
    return sorted(found)


def read_encoded(path: Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict, int]:
    """Raw bytes, byte counts, decoded lengths, attrs and row count of an encoded group."""
    import h5py
    import hdf5plugin  # noqa: F401

    with h5py.File(path, "r") as f:
        grp = f[name]
        data = grp["encoded_data/flattened_data"][()]
        cumlen = grp["encoded_data/cumulative_length"][()]
        size = grp["decoded_size"][()]
        attrs = dict(grp.attrs)
    nbytes = np.diff(cumlen.astype(np.int64), prepend=0)
    lengths = np.full(len(nbytes), int(size)) if np.ndim(size) == 0 else size.astype(np.int64)
    return data, nbytes, lengths, attrs, len(nbytes)


ENCODED_IN_FILE = encoded_objects_in(RAW_FILE)


def radware_used_words(row: np.ndarray) -> int:
    """Words (16-bit) a radware stream uses before padding: a plain-Python walk of its blocks."""
    words = row.view(">u2").astype(int)
    n, i, done = int(words[0]), 1, 0
    while done < n:
        nw, nb = int(words[i]), int(words[i + 1])
        if nb >= 32:  # header: nw, nb + 32, start, min; then nw - 1 values
            i, nbits = i + 4, (nw - 1) * (nb - 32)
        else:  # header: nw, nb, min; then nw values
            i, nbits = i + 3, nw * nb
        i += -(-nbits // 16)
        done += nw
    return i


def radware_padding(data: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """Boolean mask of the bytes of ``data`` that are padding words."""
    mask = np.zeros(data.size, dtype=bool)
    start = 0
    for row, size in zip(split(data, nbytes), nbytes, strict=True):
        used = radware_used_words(row)
        assert size == 2 * (used + used % 2)
        if used % 2:
            mask[start + 2 * used : start + 2 * used + 2] = True
        start += size
    return mask


# ----------------------------------------------------------------------------
# bit-exactness on real LEGEND data
# ----------------------------------------------------------------------------


def test_file_has_both_codecs() -> None:
    if not ENCODED_IN_FILE:
        pytest.skip(f"{RAW_FILE} not available")
    channels = {p.split("/")[0] for p in ENCODED_IN_FILE}
    assert len(ENCODED_IN_FILE) == 2 * len(channels) >= 12
    assert all(
        p.endswith(("waveform_windowed/values", "waveform_presummed/values"))
        for p in ENCODED_IN_FILE
    )


@pytest.mark.skipif(not ENCODED_IN_FILE, reason="LEGEND test file not available")
@pytest.mark.parametrize("name", ENCODED_IN_FILE)
def test_file_decode_and_reencode_bit_exact(name: str) -> None:
    data, nbytes, lengths, attrs, nrows = read_encoded(RAW_FILE, name)
    codec = codec_from_attrs(attrs)
    expected = {
        "waveform_windowed": RadwareSigcompress(codec_shift=-32768),
        "waveform_presummed": ULEB128ZigZagDiff(),
    }[name.split("/")[-2]]
    assert codec == expected

    decoded = codec.decode(data, nbytes, lengths)
    assert decoded.dtype == np.int32 == DEFAULT_DECODE_DTYPE
    assert decoded.size == lengths.sum()

    # re-encoding gives back the very bytes in the file, except radware's padding
    # words: LEGEND leaves them uninitialised (np.empty), so files hold leftover
    # memory there, while we write zeros
    reencoded, renbytes = codec.encode(decoded, lengths)
    assert renbytes.dtype == np.int64
    np.testing.assert_array_equal(renbytes, nbytes)
    padding = np.zeros(data.size, bool)
    if isinstance(codec, RadwareSigcompress):
        padding = radware_padding(data, nbytes)
        assert not reencoded[padding].any()
    np.testing.assert_array_equal(reencoded[~padding], data[~padding])
    # ... also from the narrowest dtype that holds the samples
    narrow = decoded.astype(np.uint16 if decoded.max() < 2**16 else np.uint32)
    np.testing.assert_array_equal(codec.encode(narrow, lengths)[0], reencoded)
    np.testing.assert_array_equal(codec.decode(data, nbytes, lengths, dtype=narrow.dtype), narrow)

    # LEGEND's reader is the oracle for values *and* dtype
    table = legend_read(name.rsplit("/", 1)[0], RAW_FILE)
    ref = table.values.nda
    assert ref.dtype == decoded.dtype
    assert ref.shape == (nrows, lengths[0])
    np.testing.assert_array_equal(decoded.reshape(ref.shape), ref)


# ----------------------------------------------------------------------------
# bit-exactness with LEGEND's encoder on random data
# ----------------------------------------------------------------------------

SHAPES = [
    (1, 1),
    (3, 2),
    (4, 3),
    (5, 47),
    (5, 48),
    (4, 49),
    (6, 128),
    (3, 129),
    (20, 1000),
    (2, 5000),
]


def radware_inputs(kind: str, shape: tuple[int, int], seed: int) -> tuple[np.ndarray, int]:
    n, length = shape
    rng = np.random.default_rng(seed)
    if kind == "pulses":
        return pulses(n, length, seed), -32768
    if kind == "int16_noise":
        return rng.integers(-32768, 32767, size=shape, endpoint=True).astype(np.int16), 0
    if kind == "int16_extremes":
        picks = np.array([-32768, 32767, 0, -16001, 16001, -16000, 16000, -1])
        return rng.choice(picks, size=shape).astype(np.int16), 0
    if kind == "int32_jumps":  # big jumps exercise 16-bit wrap-around of differences
        walk = np.cumsum(rng.choice([-20000, 20000, -17000, 3, 0, -1], size=shape), axis=1)
        return (((walk + 32768) % 65536) - 32768 + 1000).astype(np.int32), -1000
    if kind == "int32_shifted":
        walk = 100000 + np.cumsum(rng.integers(-4, 5, size=shape), axis=1)
        return walk.astype(np.int32), -100000
    raise AssertionError(kind)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "kind", ["pulses", "int16_noise", "int16_extremes", "int32_jumps", "int32_shifted"]
)
def test_radware_bytes_match_legend(kind: str, shape: tuple[int, int]) -> None:
    legend = legend_submodule("radware")
    x, shift = radware_inputs(kind, shape, seed=zlib.crc32(repr((kind, shape)).encode()))
    n, length = shape
    codec = RadwareSigcompress(codec_shift=shift)
    data, nbytes = codec.encode(x.ravel(), np.full(n, length))

    # LEGEND writes into an uninitialised buffer (padding words would be garbage)
    # sized 2 bytes/sample (too small for short or noisy waveforms): give it a big,
    # zeroed one
    ref, ref_nbytes = legend.encode(
        x, sig_out=np.zeros((n, 4 * length + 64), np.uint8), shift=shift
    )
    np.testing.assert_array_equal(nbytes, ref_nbytes)
    for k, row in enumerate(split(data, nbytes)):
        np.testing.assert_array_equal(row, ref[k, : ref_nbytes[k]])

    ref_dec, _ = legend.decode((ref, ref_nbytes), shift=shift)
    ours = codec.decode(data, nbytes, np.full(n, length))
    assert ours.dtype == ref_dec.dtype == np.int32
    np.testing.assert_array_equal(ours.reshape(shape), ref_dec[:, :length])
    np.testing.assert_array_equal(
        codec.decode(data, nbytes, np.full(n, length), dtype=x.dtype), x.ravel()
    )


def uleb_inputs(kind: str, shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "pulses":
        return pulses(*shape, seed)
    if kind == "int32_full":
        return rng.integers(I32.min, I32.max, size=shape, endpoint=True).astype(np.int32)
    if kind == "int32_extremes":
        picks = np.array([I32.min, I32.max, 0, -1, 1, 63, 64, -64, -65, 8191, 8192])
        return rng.choice(picks, size=shape).astype(np.int32)
    if kind == "uint32_full":
        return rng.integers(0, U32.max, size=shape, endpoint=True).astype(np.uint32)
    if kind == "presummed":
        return (120000 + np.cumsum(rng.normal(0, 90, size=shape), axis=1)).astype(np.uint32)
    if kind == "int16":
        return rng.integers(-32768, 32767, size=shape, endpoint=True).astype(np.int16)
    raise AssertionError(kind)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "kind", ["pulses", "int32_full", "int32_extremes", "uint32_full", "presummed", "int16"]
)
def test_uleb128_bytes_match_legend(kind: str, shape: tuple[int, int]) -> None:
    legend = legend_submodule("varlen")
    x = uleb_inputs(kind, shape, seed=zlib.crc32(repr((kind, shape)).encode()))
    n, length = shape
    codec = ULEB128ZigZagDiff()
    data, nbytes = codec.encode(x.ravel(), np.full(n, length))

    ref, ref_nbytes = legend.encode(x)
    np.testing.assert_array_equal(nbytes, ref_nbytes)
    for k, row in enumerate(split(data, nbytes)):
        np.testing.assert_array_equal(row, ref[k, : ref_nbytes[k]])

    ref_dec, _ = legend.decode((ref, ref_nbytes))
    ours = codec.decode(data, nbytes, np.full(n, length))
    assert ours.dtype == ref_dec.dtype == np.int32
    np.testing.assert_array_equal(ours.reshape(shape), ref_dec[:, :length])
    np.testing.assert_array_equal(
        codec.decode(data, nbytes, np.full(n, length), dtype=x.dtype), x.ravel()
    )


@pytest.mark.parametrize(
    "codec", [RadwareSigcompress(codec_shift=-32768), ULEB128ZigZagDiff()], ids=lambda c: c.name
)
def test_legend_lgdo_api_agrees(codec: WaveformCodec) -> None:
    """LEGEND's object-level encode/decode read and write the same bytes as we do."""
    lgdo = pytest.importorskip("lgdo")
    compression = legend_compression()
    x = pulses(50, 1400, seed=7)
    lengths = np.full(50, 1400)
    data, nbytes = codec.encode(x.ravel(), lengths)

    # LEGEND decodes our bytes (and gives int32)
    encoded = lgdo.ArrayOfEncodedEqualSizedArrays(
        encoded_data=lgdo.VectorOfVectors(
            flattened_data=lgdo.Array(data),
            cumulative_length=lgdo.Array(np.cumsum(nbytes).astype(np.uint32)),
        ),
        decoded_size=1400,
        attrs=codec.attrs(),
    )
    decoded = compression.decode(encoded)
    assert decoded.nda.dtype == np.int32
    np.testing.assert_array_equal(decoded.nda, x)

    if isinstance(codec, ULEB128ZigZagDiff):  # radware's padding words are uninitialised in LEGEND
        legend_codec = compression.ULEB128ZigZagDiff()
        ref = compression.encode(lgdo.ArrayOfEqualSizedArrays(nda=x), legend_codec)
        np.testing.assert_array_equal(ref.encoded_data.flattened_data.nda, data)
        np.testing.assert_array_equal(ref.encoded_data.cumulative_length.nda, np.cumsum(nbytes))


# ----------------------------------------------------------------------------
# round trips (hypothesis)
# ----------------------------------------------------------------------------


@HYPOTHESIS
@given(data=st.data(), dtype=st.sampled_from(["uint16", "int16", "int32", "int64"]))
def test_radware_round_trip(data: st.DataObject, dtype: str) -> None:
    if dtype == "uint16":
        shift = -32768
    elif dtype == "int16":
        shift = 0
    else:
        shift = data.draw(st.one_of(st.just(0), st.integers(-200000, 200000)), label="shift")
    values, lengths = data.draw(batches(-32768 - shift, 32767 - shift), label="batch")
    x = values.astype(dtype)
    codec = RadwareSigcompress(codec_shift=shift)

    encoded, nbytes = codec.encode(x, lengths)
    assert encoded.dtype == np.uint8 and nbytes.dtype == np.int64
    assert nbytes.shape == lengths.shape and encoded.size == nbytes.sum()
    assert np.all(nbytes % 4 == 0) and np.all(nbytes >= 4)
    for row, n in zip(split(encoded, nbytes), lengths, strict=True):
        assert int(row[0]) * 256 + int(row[1]) == n

    out = codec.decode(encoded, nbytes, lengths, dtype=dtype)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, x)
    default = codec.decode(encoded, nbytes, lengths)
    assert default.dtype == np.int32
    np.testing.assert_array_equal(default, values)


@HYPOTHESIS
@given(
    data=st.data(),
    dtype=st.sampled_from(
        ["int32", "uint32", "int16", "uint16", "int8", "uint8", "int64", "uint64"]
    ),
)
def test_uleb128_round_trip(data: st.DataObject, dtype: str) -> None:
    if dtype in ("int64", "uint64"):  # must fit in 32 bits
        info = np.iinfo(dtype.replace("64", "32"))
    else:
        info = np.iinfo(dtype)
    values, lengths = data.draw(batches(int(info.min), int(info.max)), label="batch")
    x = values.astype(dtype)
    codec = ULEB128ZigZagDiff()

    encoded, nbytes = codec.encode(x, lengths)
    assert encoded.dtype == np.uint8 and nbytes.dtype == np.int64
    assert encoded.size == nbytes.sum()
    assert np.all(nbytes >= lengths) and np.all(nbytes <= 5 * lengths)

    out = codec.decode(encoded, nbytes, lengths, dtype=dtype)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, x)
    default = codec.decode(encoded, nbytes, lengths)
    assert default.dtype == np.int32
    np.testing.assert_array_equal(default, values.astype(np.int32))  # uint32 wraps, as in LEGEND


@settings(max_examples=200, deadline=None)
@given(
    blob=st.binary(max_size=300),
    n=st.integers(0, 300),
    codec=st.sampled_from(
        [RadwareSigcompress(), RadwareSigcompress(codec_shift=-32768), ULEB128ZigZagDiff()]
    ),
    dtype=st.sampled_from(["int32", "int16", "uint16"]),
)
def test_decode_garbage_never_crashes(
    blob: bytes, n: int, codec: WaveformCodec, dtype: str
) -> None:
    data = np.frombuffer(blob, dtype=np.uint8)
    try:
        out = codec.decode(data, np.array([data.size]), np.array([n]), dtype=dtype)
    except ValueError:
        return
    assert out.shape == (n,) and out.dtype == np.dtype(dtype)


# ----------------------------------------------------------------------------
# format details and errors
# ----------------------------------------------------------------------------


def test_radware_known_bytes() -> None:
    codec = RadwareSigcompress()
    data, nbytes = codec.encode(np.array([1, 2, 3], "int16"), np.array([3]))
    # count=3 | diff block: nw=3, nb=2+32, start=1, min diff=1, bits 00 00 -> 1 word, pad
    assert data.tolist() == [0, 3, 0, 3, 0, 34, 0, 1, 0, 1, 0, 0]
    assert nbytes.tolist() == [12]
    # one sample: always a difference block whose min is the 16000 sentinel
    data, _ = codec.encode(np.array([-5], "int16"), np.array([1]))
    assert data.tolist() == [0, 1, 0, 1, 0, 34, 0xFF, 0xFB, 0x3E, 0x80, 0, 0]
    # empty waveform: count word + padding
    assert codec.encode(np.zeros(0, "int16"), np.array([0]))[0].tolist() == [0, 0, 0, 0]


def test_uleb128_known_bytes() -> None:
    codec = ULEB128ZigZagDiff()
    x = np.array([0, -1, 1, 64, -(2**31), 2**31 - 1], dtype=np.int32)
    data, nbytes = codec.encode(x, np.array([6]))
    # diffs 0, -1, 2, 63, then -2**31-64 wraps to 2**31-64 (zigzag 0xFFFFFF80, 5 bytes)
    # and 2**32-1 wraps to -1
    assert data.tolist() == [0, 1, 4, 126, 0x80, 0xFF, 0xFF, 0xFF, 0x0F, 1]
    assert nbytes.tolist() == [10]


def test_empty_batches() -> None:
    for codec in (RadwareSigcompress(), ULEB128ZigZagDiff()):
        data, nbytes = codec.encode(np.zeros(0, np.uint16), np.zeros(0, np.int64))
        assert data.dtype == np.uint8 and data.size == 0 and nbytes.size == 0
        out = codec.decode(data, nbytes, np.zeros(0, np.int64))
        assert out.dtype == np.int32 and out.size == 0
    data, nbytes = ULEB128ZigZagDiff().encode(np.zeros(0, np.uint16), np.array([0, 0]))
    assert nbytes.tolist() == [0, 0]


@pytest.mark.parametrize(
    ("codec", "values", "lengths", "match"),
    [
        (RadwareSigcompress(), np.array([40000], np.uint16), [1], "int16"),
        (RadwareSigcompress(codec_shift=-32768), np.array([-1], np.int32), [1], "int16"),
        (RadwareSigcompress(), np.array([2**63 + 1], np.uint64), [1], "int16"),
        (RadwareSigcompress(), np.zeros(MAX_SAMPLES + 1, np.int16), [MAX_SAMPLES + 1], "at most"),
        (ULEB128ZigZagDiff(), np.array([2**31], np.int64), [1], "32-bit"),
        (ULEB128ZigZagDiff(), np.array([-(2**31) - 1], np.int64), [1], "32-bit"),
        (ULEB128ZigZagDiff(), np.array([2**32], np.uint64), [1], "32-bit"),
        (ULEB128ZigZagDiff(), np.array([1.0, 2.0]), [2], "integer dtype"),
        (ULEB128ZigZagDiff(), np.zeros((2, 2), np.int16), [2, 2], "1-D"),
        (ULEB128ZigZagDiff(), np.zeros(4, np.int16), [2, 1], "sum"),
        (ULEB128ZigZagDiff(), np.zeros(4, np.int16), [5, -1], "non-negative"),
    ],
)
def test_encode_rejects(
    codec: WaveformCodec, values: np.ndarray, lengths: list[int], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        codec.encode(values, np.asarray(lengths))


def test_radware_max_length_round_trip() -> None:
    x = np.arange(MAX_SAMPLES, dtype=np.int64) % 1000
    codec = RadwareSigcompress()
    data, nbytes = codec.encode(x, np.array([MAX_SAMPLES]))
    np.testing.assert_array_equal(codec.decode(data, nbytes, np.array([MAX_SAMPLES])), x)


@pytest.mark.parametrize(
    "codec", [RadwareSigcompress(codec_shift=-32768), ULEB128ZigZagDiff()], ids=str
)
def test_decode_rejects(codec: WaveformCodec) -> None:
    x = pulses(3, 200, seed=1)
    x[1, 100] = 40000  # does not fit in int16
    lengths = np.full(3, 200)
    data, nbytes = codec.encode(x.ravel(), lengths)

    with pytest.raises(ValueError, match="waveform 2"):  # truncated last waveform
        codec.decode(data[:-6], nbytes - np.array([0, 0, 6]), lengths)
    with pytest.raises(ValueError, match="waveform 0"):  # wrong decoded length
        codec.decode(data, nbytes, np.array([199, 200, 200]))
    with pytest.raises(ValueError, match="sum"):
        codec.decode(data, nbytes + 1, lengths)
    with pytest.raises(ValueError, match="one per waveform"):
        codec.decode(data, nbytes, lengths[:2])
    with pytest.raises(ValueError, match="integer"):
        codec.decode(data, nbytes, lengths, dtype="float32")
    with pytest.raises(ValueError, match="int16"):  # pulses exceed int16 ...
        codec.decode(data, nbytes, lengths, dtype="int16")
    np.testing.assert_array_equal(codec.decode(data, nbytes, lengths, dtype="uint16"), x.ravel())
    with pytest.raises(ValueError, match="uint8"):
        codec.decode(data, nbytes, lengths, dtype="uint8")
    with pytest.raises(ValueError, match="uint8"):
        codec.decode(data.astype(np.int16), nbytes, lengths)


def test_decode_of_nested_byte_vectors_is_a_codec_error() -> None:
    nested = VectorOfVectors([[[1]], [[2, 3]]], dtype="uint8")  # uint8, but not rows of bytes
    encoded = ArrayOfEncodedEqualSizedArrays(nested, 4, attrs={"codec": "uleb128_zigzag_diff"})
    with pytest.raises(CodecError, match="vectors of vectors, not rows of bytes"):
        decode(encoded)


def test_uleb128_rejects_trailing_and_overlong() -> None:
    codec = ULEB128ZigZagDiff()
    with pytest.raises(ValueError, match="left over"):
        codec.decode(np.array([2, 2], np.uint8), np.array([2]), np.array([1]))
    with pytest.raises(ValueError, match="10 bytes"):
        codec.decode(np.array([0x80] * 10 + [1], np.uint8), np.array([11]), np.array([1]))
    # overlong (but at most 10-byte) varints are accepted, like LEGEND does
    out = codec.decode(np.array([0x82, 0x80, 0], np.uint8), np.array([3]), np.array([1]))
    assert out.tolist() == [1]


def test_decode_dtypes() -> None:
    x = np.array([0, 1, 65535, 70000, 2**32 - 1], np.uint32)
    codec = ULEB128ZigZagDiff()
    data, nbytes = codec.encode(x, np.array([5]))
    assert codec.decode(data, nbytes, [5], dtype="uint32").tolist() == x.tolist()
    assert codec.decode(data, nbytes, [5], dtype="uint64").tolist() == x.tolist()
    assert codec.decode(data, nbytes, [5], dtype="int64").tolist() == [0, 1, 65535, 70000, -1]
    assert codec.decode(data, nbytes, [5]).tolist() == [0, 1, 65535, 70000, -1]


# ----------------------------------------------------------------------------
# codec objects, attributes and registry
# ----------------------------------------------------------------------------


def test_registry() -> None:
    assert CODECS["radware_sigcompress"] is RadwareSigcompress
    assert CODECS["uleb128_zigzag_diff"] is ULEB128ZigZagDiff
    assert codec_by_name("radware_sigcompress", codec_shift=-32768) == RadwareSigcompress(-32768)
    assert codec_by_name("uleb128_zigzag_diff") == ULEB128ZigZagDiff()
    with pytest.raises(ValueError, match="known codecs: radware_sigcompress, uleb128_zigzag_diff"):
        codec_by_name("zstd")
    with pytest.raises(ValueError, match="known codecs"):
        codec_from_attrs({"codec": "nope"})
    with pytest.raises(ValueError, match="no 'codec'"):
        codec_from_attrs({"datatype": "array<1>{real}"})


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        (
            {"codec": "radware_sigcompress", "codec_shift": np.float64(-32768.0)},
            RadwareSigcompress(-32768),
        ),
        ({"codec": b"radware_sigcompress", "codec_shift": np.int64(-5)}, RadwareSigcompress(-5)),
        ({"codec": "radware_sigcompress"}, RadwareSigcompress(0)),
        ({"codec": "uleb128_zigzag_diff", "datatype": "array_of_encoded..."}, ULEB128ZigZagDiff()),
    ],
)
def test_codec_from_attrs(attrs: dict, expected: WaveformCodec) -> None:
    codec = codec_from_attrs(attrs)
    assert codec == expected
    assert type(codec.codec_shift if isinstance(codec, RadwareSigcompress) else 0) is int
    assert codec_from_attrs(codec.attrs()) == codec
    assert type(codec).from_attrs(attrs) == codec


def test_codec_objects() -> None:
    codec = RadwareSigcompress(codec_shift=-32768.0)
    assert codec.codec_shift == -32768 and type(codec.codec_shift) is int
    assert codec.attrs() == {"codec": "radware_sigcompress", "codec_shift": -32768}
    assert ULEB128ZigZagDiff().attrs() == {"codec": "uleb128_zigzag_diff"}
    assert hash(codec) == hash(RadwareSigcompress(-32768))
    with pytest.raises(dataclasses.FrozenInstanceError):
        codec.codec_shift = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="integer"):
        RadwareSigcompress(codec_shift=0.5)
    with pytest.raises(ValueError, match="int32"):
        RadwareSigcompress(codec_shift=2**40)
    with pytest.raises(ValueError, match="not 'radware_sigcompress'"):
        RadwareSigcompress.from_attrs({"codec": "uleb128_zigzag_diff"})
    with pytest.raises(NotImplementedError):
        WaveformCodec().encode(np.zeros(1), np.ones(1))


@pytest.mark.parametrize(
    "module", [codecs_base, radware_module, uleb_module], ids=lambda m: m.__name__
)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
