"""Waveform codec interface, registry and shared input checks.

A waveform codec turns a batch of integer waveforms, stored as one flat array of
samples plus the number of samples of each waveform, into one flat array of bytes
plus the number of bytes of each waveform (and back). This is the layout of
LEGEND's ``array_of_encoded_equalsized_arrays`` / ``vector_of_encoded_vectors``
objects on disk: ``encoded_data/flattened_data`` holds the bytes and
``encoded_data/cumulative_length`` the running sum of the byte counts.

Concrete codecs live in their own modules and register themselves with
:func:`register`; look them up with :func:`codec_by_name` or, from the HDF5
attributes of an encoded object, with :func:`codec_from_attrs`.

>>> codec = codec_from_attrs({"codec": "radware_sigcompress", "codec_shift": -32768.0})
>>> codec
RadwareSigcompress(codec_shift=-32768)
>>> codec.attrs()
{'codec': 'radware_sigcompress', 'codec_shift': -32768}
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import DTypeLike

__all__ = [
    "CODECS",
    "DEFAULT_DECODE_DTYPE",
    "WaveformCodec",
    "codec_by_name",
    "codec_from_attrs",
    "register",
]

DEFAULT_DECODE_DTYPE: np.dtype = np.dtype(np.int32)
"""Sample type that decoding produces when no ``dtype`` is given.

LEGEND's reader (``lh5.read`` → ``lh5.compression.decode``) always allocates
``int32`` output for both built-in codecs, whatever the type of the waveforms
before encoding; we do the same so that values *and* dtype match it.
"""

# modules holding the built-in codecs, imported on first registry lookup so that
# the registry is complete even when only this module was imported
_BUILTIN_MODULES = (
    "tierflow.lh5.codecs.radware_sigcompress",
    "tierflow.lh5.codecs.uleb128_zigzag_diff",
)

CODECS: dict[str, type[WaveformCodec]] = {}
"""Registry of the known codecs, by their on-disk name (the ``codec`` attribute)."""

_C = TypeVar("_C", bound="type[WaveformCodec]")


@dataclass(frozen=True)
class WaveformCodec:
    """Abstract base of the waveform codecs.

    Subclasses are frozen dataclasses whose fields are the codec parameters. They
    set the class variable :attr:`name` (the on-disk identifier, stored as the
    ``codec`` HDF5 attribute) and implement :meth:`encode` and :meth:`decode`.

    >>> from tierflow.lh5.codecs.uleb128_zigzag_diff import ULEB128ZigZagDiff
    >>> codec = ULEB128ZigZagDiff()
    >>> data, nbytes = codec.encode(np.array([5, 6, 7], dtype="uint16"), np.array([3]))
    >>> codec.decode(data, nbytes, np.array([3])).tolist()
    [5, 6, 7]
    """

    name: ClassVar[str]
    default_dtype: ClassVar[np.dtype] = DEFAULT_DECODE_DTYPE

    def encode(self, values: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encode a batch of waveforms.

        Parameters
        ----------
        values
            1-D array with all waveforms concatenated (any integer dtype).
        lengths
            number of samples of each waveform (non-negative, summing to
            ``len(values)``).

        Returns
        -------
        data, nbytes
            the concatenated encoded bytes (``uint8``) and the number of bytes of
            each waveform (``int64``).

        >>> from tierflow.lh5.codecs.uleb128_zigzag_diff import ULEB128ZigZagDiff
        >>> ULEB128ZigZagDiff().encode(np.array([1, 2, 300]), np.array([2, 1]))[1].tolist()
        [2, 2]
        """
        raise NotImplementedError

    def decode(
        self,
        data: np.ndarray,
        byte_lengths: np.ndarray,
        decoded_lengths: np.ndarray,
        dtype: DTypeLike | None = None,
    ) -> np.ndarray:
        """Decode a batch of waveforms; the inverse of :meth:`encode`.

        Parameters
        ----------
        data
            concatenated encoded bytes (``uint8``).
        byte_lengths
            number of bytes of each waveform, summing to ``len(data)``.
        decoded_lengths
            number of samples of each waveform.
        dtype
            integer sample type of the output; ``None`` means
            :data:`DEFAULT_DECODE_DTYPE` (``int32``, like LEGEND). A
            :class:`ValueError` is raised if a decoded value does not fit.

        Returns
        -------
        values
            1-D array with all decoded waveforms concatenated.

        >>> from tierflow.lh5.codecs.uleb128_zigzag_diff import ULEB128ZigZagDiff
        >>> data = np.array([2, 2, 2], "uint8")
        >>> ULEB128ZigZagDiff().decode(data, np.array([2, 1]), np.array([2, 1]))
        array([1, 2, 1], dtype=int32)
        """
        raise NotImplementedError

    def attrs(self) -> dict[str, Any]:
        """HDF5 attributes identifying this codec, to store on the encoded object.

        >>> from tierflow.lh5.codecs.radware_sigcompress import RadwareSigcompress
        >>> RadwareSigcompress(codec_shift=-32768).attrs()
        {'codec': 'radware_sigcompress', 'codec_shift': -32768}
        """
        return {"codec": self.name}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> WaveformCodec:
        """Build the codec from the HDF5 attributes of an encoded object.

        Attributes that are not codec parameters (e.g. ``datatype``) are ignored.

        >>> from tierflow.lh5.codecs.uleb128_zigzag_diff import ULEB128ZigZagDiff
        >>> ULEB128ZigZagDiff.from_attrs({"codec": "uleb128_zigzag_diff", "datatype": "..."})
        ULEB128ZigZagDiff()
        """
        name = attrs.get("codec", cls.name)
        name = as_str(name)
        if name != cls.name:
            msg = f"attributes name codec {name!r}, not {cls.name!r}"
            raise ValueError(msg)
        return cls()


def register(cls: _C) -> _C:
    """Class decorator adding a codec to :data:`CODECS` under its ``name``.

    >>> @register
    ... @dataclass(frozen=True)
    ... class Identity(WaveformCodec):
    ...     name = "identity_example"
    >>> CODECS["identity_example"] is Identity
    True
    >>> del CODECS["identity_example"]
    """
    if not (isinstance(cls, type) and issubclass(cls, WaveformCodec)):
        msg = f"{cls!r} is not a WaveformCodec subclass"
        raise TypeError(msg)
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        msg = f"codec class {cls.__name__} must define a non-empty class attribute 'name'"
        raise TypeError(msg)
    known = CODECS.get(name)
    if known is not None and known.__qualname__ != cls.__qualname__:
        msg = f"codec name {name!r} already registered by {known.__qualname__}"
        raise ValueError(msg)
    CODECS[name] = cls
    return cls


def _load_builtin_codecs() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def _lookup(name: Any) -> type[WaveformCodec]:
    _load_builtin_codecs()
    key = as_str(name)
    cls = CODECS.get(key)
    if cls is None:
        known = ", ".join(sorted(CODECS)) or "none"
        msg = f"unknown waveform codec {key!r}; known codecs: {known}"
        raise ValueError(msg)
    return cls


def codec_by_name(name: str, **kwargs: Any) -> WaveformCodec:
    """Instantiate a registered codec by its on-disk name.

    >>> codec_by_name("radware_sigcompress", codec_shift=-32768)
    RadwareSigcompress(codec_shift=-32768)
    >>> codec_by_name("gzip")
    Traceback (most recent call last):
    ...
    ValueError: unknown waveform codec 'gzip'; known codecs: radware_sigcompress, ...
    """
    return _lookup(name)(**kwargs)


def codec_from_attrs(attrs: Mapping[str, Any]) -> WaveformCodec:
    """Build the codec described by the HDF5 attributes of an encoded object.

    >>> codec_from_attrs({"codec": "uleb128_zigzag_diff"})
    ULEB128ZigZagDiff()
    """
    if "codec" not in attrs:
        _load_builtin_codecs()
        known = ", ".join(sorted(CODECS))
        msg = f"attributes carry no 'codec' entry, cannot pick a decoder (known codecs: {known})"
        raise ValueError(msg)
    return _lookup(attrs["codec"]).from_attrs(attrs)


# ----------------------------------------------------------------------------
# helpers shared by the concrete codecs
# ----------------------------------------------------------------------------


def as_str(value: Any) -> str:
    """A codec setting as ``str``: bytes (as HDF5 attributes may hold) decoded, a 0-d array
    unwrapped, anything else through ``str``.

    >>> as_str(b"radware_sigcompress"), as_str(np.array("x")), as_str(3)
    ('radware_sigcompress', 'x', '3')
    """
    if isinstance(value, bytes | np.bytes_):
        return value.decode()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return as_str(value.item())
    return str(value)


def as_int(value: Any, what: str) -> int:
    """An integral codec setting as ``int`` (HDF5 may hold it as a float or a string);
    ``ValueError`` naming ``what`` for anything else, booleans included.

    >>> as_int(np.float64(-32768.0), "codec_shift"), as_int(b"7", "codec_shift")
    (-32768, 7)
    >>> as_int(0.5, "codec_shift")
    Traceback (most recent call last):
    ...
    ValueError: codec_shift must be an integer, got 0.5
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bytes | str | np.bytes_ | np.str_):
        value = as_str(value)
        try:
            value = float(value)
        except ValueError:
            msg = f"{what} must be an integer, got {value!r}"
            raise ValueError(msg) from None
    if isinstance(value, bool | np.bool_):
        msg = f"{what} must be an integer, got {value!r}"
        raise ValueError(msg)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return int(value)
    msg = f"{what} must be an integer, got {value!r}"
    raise ValueError(msg)


def check_values(values: Any) -> np.ndarray:
    """The samples to encode as a 1-D contiguous integer array, or ``ValueError``.

    >>> check_values([[1, 2]])
    Traceback (most recent call last):
    ...
    ValueError: values must be a 1-D (flattened) array, got shape (1, 2)
    """
    arr = np.asarray(values)
    if arr.ndim != 1:
        msg = f"values must be a 1-D (flattened) array, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.dtype.kind not in "iu":
        msg = f"values must have an integer dtype, got {arr.dtype}"
        raise ValueError(msg)
    return np.ascontiguousarray(arr)


def check_lengths(lengths: Any, total: int | None, what: str = "lengths") -> np.ndarray:
    """Per-waveform counts as a 1-D int64 array of non-negative values (summing to ``total``
    if given), or ``ValueError`` naming ``what``.

    >>> check_lengths(np.array([2, 3], dtype=np.uint8), 5)
    array([2, 3])
    >>> check_lengths([2, 3], 4, "byte_lengths")
    Traceback (most recent call last):
    ...
    ValueError: byte_lengths sum to 5 but the data holds 4 elements
    """
    arr = np.asarray(lengths)
    if arr.ndim != 1:
        msg = f"{what} must be a 1-D array, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.size and arr.dtype.kind not in "iu":
        msg = f"{what} must have an integer dtype, got {arr.dtype}"
        raise ValueError(msg)
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        msg = f"{what} holds values too large"
        raise ValueError(msg)
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.size and arr.min() < 0:
        msg = f"{what} must be non-negative"
        raise ValueError(msg)
    if total is not None and int(arr.sum()) != total:
        msg = f"{what} sum to {int(arr.sum())} but the data holds {total} elements"
        raise ValueError(msg)
    return arr


def _check_bytes(data: Any) -> np.ndarray:
    """1-D contiguous uint8 array (int8 is reinterpreted), or ValueError."""
    arr = np.asarray(data)
    if arr.ndim != 1:
        msg = f"encoded data must be a 1-D array of bytes, got shape {arr.shape}"
        raise ValueError(msg)
    if arr.dtype == np.int8:
        arr = arr.view(np.uint8)
    if arr.size == 0:
        arr = arr.astype(np.uint8)
    if arr.dtype != np.uint8:
        msg = f"encoded data must be uint8, got {arr.dtype}"
        raise ValueError(msg)
    return np.ascontiguousarray(arr)


def check_decode_args(
    data: Any, byte_lengths: Any, decoded_lengths: Any, dtype: DTypeLike | None, default: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.dtype]:
    """The arguments of :meth:`WaveformCodec.decode` checked: (bytes as uint8, byte counts,
    sample counts, output dtype, ``default`` when ``dtype`` is ``None``), or ``ValueError``.

    >>> buf, nbytes, nsamples, dtype = check_decode_args(
    ...     np.zeros(3, np.uint8), [1, 2], [4, 4], None, DEFAULT_DECODE_DTYPE
    ... )
    >>> nbytes.tolist(), nsamples.tolist(), dtype
    ([1, 2], [4, 4], dtype('int32'))
    """
    buf = _check_bytes(data)
    nbytes = check_lengths(byte_lengths, buf.size, "byte_lengths")
    nsamples = check_lengths(decoded_lengths, None, "decoded_lengths")
    if nsamples.shape != nbytes.shape:
        msg = (
            f"decoded_lengths has {nsamples.size} entries but byte_lengths has {nbytes.size}; "
            "need one per waveform"
        )
        raise ValueError(msg)
    out_dtype = default if dtype is None else np.dtype(dtype)
    if out_dtype.kind not in "iu":
        msg = f"decoded dtype must be an integer type, got {out_dtype}"
        raise ValueError(msg)
    return buf, nbytes, nsamples, out_dtype


def offsets_from_counts(counts: np.ndarray) -> np.ndarray:
    """Where each waveform starts (and the last one ends) in a flat array of them: the
    running sum of ``counts`` after a leading zero (length ``len(counts) + 1``).

    >>> offsets_from_counts(np.array([2, 0, 3])).tolist()
    [0, 2, 2, 5]
    """
    off = np.empty(counts.size + 1, dtype=np.int64)
    off[0] = 0
    np.cumsum(counts, out=off[1:])
    return off


def dtype_bounds(dtype: np.dtype) -> tuple[int, int]:
    """Smallest and largest value of an integer dtype, clipped to the int64 range.

    >>> dtype_bounds(np.dtype(np.uint64)) == (0, 2**63 - 1), dtype_bounds(np.dtype(np.int16))
    (True, (-32768, 32767))
    """
    info = np.iinfo(dtype)
    i64 = np.iinfo(np.int64)
    return max(int(info.min), int(i64.min)), min(int(info.max), int(i64.max))
