"""Encoded waveforms: compressed rows of bytes plus their decoded sizes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .array import Array
from .base import LGDO, check_library
from .scalar import Scalar
from .vectorofvectors import VectorOfVectors


def _bytes_vov(encoded_data: Any) -> VectorOfVectors:
    vov = (
        encoded_data
        if isinstance(encoded_data, VectorOfVectors)
        else VectorOfVectors(encoded_data, dtype=np.uint8)
    )
    if vov.dtype != np.uint8:
        msg = f"encoded_data must hold uint8 bytes, not {vov.dtype}"
        raise TypeError(msg)
    return vov


class ArrayOfEncodedEqualSizedArrays(LGDO):
    """Equal-length waveforms, each encoded to a variable number of bytes.

    ``attrs["codec"]`` names the codec (and ``codec_shift`` for radware);
    ``decoded_size`` is the common number of samples. Decode with
    :func:`tierflow.lh5.codecs.decode`.

    >>> e = ArrayOfEncodedEqualSizedArrays(VectorOfVectors([[1, 2], [3]], dtype="uint8"), 100)
    >>> len(e), e.decoded_size.value, e.form_datatype()
    (2, 100, 'array_of_encoded_equalsized_arrays<1,1>{real}')
    """

    def __init__(
        self,
        encoded_data: Any = None,
        decoded_size: int | Scalar = 0,
        attrs: Mapping[str, Any] | None = None,
    ):
        self.encoded_data = _bytes_vov(
            encoded_data if encoded_data is not None else VectorOfVectors(dtype=np.uint8)
        )
        self.decoded_size = (
            decoded_size if isinstance(decoded_size, Scalar) else Scalar(int(decoded_size))
        )
        super().__init__(attrs)

    def datatype_name(self) -> str:
        return "array_of_encoded_equalsized_arrays"

    def form_datatype(self) -> str:
        return "array_of_encoded_equalsized_arrays<1,1>{real}"

    def __len__(self) -> int:
        return len(self.encoded_data)

    def resize(self, new_size: int, trim: bool = False) -> None:
        self.encoded_data.resize(new_size, trim)

    def __getitem__(self, i: int) -> np.ndarray:
        """The encoded bytes of row ``i`` (as LEGEND's).

        >>> ArrayOfEncodedEqualSizedArrays(VectorOfVectors([[1, 2], [3]], dtype="uint8"), 4)[0]
        array([1, 2], dtype=uint8)
        """
        return self.encoded_data[i]

    def take(self, rows: Any) -> ArrayOfEncodedEqualSizedArrays:
        return ArrayOfEncodedEqualSizedArrays(
            self.encoded_data.take(rows), self.decoded_size, self.getattrs()
        )

    def view_as(self, library: str = "ak") -> Any:
        """The encoded bytes (awkward, or a pandas Series of byte arrays)."""
        check_library(library, ("ak", "pd"), type(self).__name__)
        return self.encoded_data.view_as(library)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.getattrs() == other.getattrs()
            and self.decoded_size.value == other.decoded_size.value
            and self.encoded_data == other.encoded_data
        )


class VectorOfEncodedVectors(LGDO):
    """Variable-length waveforms, each encoded; ``decoded_size`` holds one length per row.

    >>> e = VectorOfEncodedVectors(VectorOfVectors([[1], [2]], dtype="uint8"), np.array([10, 20]))
    >>> e.decoded_size.nda.tolist(), e.form_datatype()
    ([10, 20], 'array<1>{encoded_array<1>{real}}')
    """

    def __init__(
        self,
        encoded_data: Any = None,
        decoded_size: Any = None,
        attrs: Mapping[str, Any] | None = None,
    ):
        self.encoded_data = _bytes_vov(
            encoded_data if encoded_data is not None else VectorOfVectors(dtype=np.uint8)
        )
        if decoded_size is None:
            decoded_size = np.zeros(len(self.encoded_data), np.uint32)
        self.decoded_size = (
            decoded_size if isinstance(decoded_size, Array) else Array(np.asarray(decoded_size))
        )
        if len(self.decoded_size) != len(self.encoded_data):
            msg = (
                f"{len(self.decoded_size)} decoded sizes for {len(self.encoded_data)} encoded rows"
            )
            raise ValueError(msg)
        super().__init__(attrs)

    def datatype_name(self) -> str:
        return "array"

    def form_datatype(self) -> str:
        return "array<1>{encoded_array<1>{real}}"

    def __len__(self) -> int:
        return len(self.encoded_data)

    def resize(self, new_size: int, trim: bool = False) -> None:
        self.encoded_data.resize(new_size, trim)
        old = len(self.decoded_size)
        self.decoded_size.resize(new_size, trim)
        self.decoded_size.nda[old:] = 0

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        """The encoded bytes of row ``i`` and its decoded length (as LEGEND's).

        >>> VectorOfEncodedVectors(VectorOfVectors([[1], [2, 3]], dtype="uint8"), [10, 20])[1]
        (array([2, 3], dtype=uint8), 20)
        """
        return self.encoded_data[i], int(self.decoded_size[i])

    def take(self, rows: Any) -> VectorOfEncodedVectors:
        return VectorOfEncodedVectors(
            self.encoded_data.take(rows), self.decoded_size.take(rows), self.getattrs()
        )

    def view_as(self, library: str = "ak") -> Any:
        """The encoded bytes (awkward, or a pandas Series of byte arrays)."""
        check_library(library, ("ak", "pd"), type(self).__name__)
        return self.encoded_data.view_as(library)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.getattrs() == other.getattrs()
            and self.decoded_size == other.decoded_size
            and self.encoded_data == other.encoded_data
        )
