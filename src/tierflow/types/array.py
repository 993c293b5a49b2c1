"""Arrays with rows on axis 0: Array, FixedSizeArray and ArrayOfEqualSizedArrays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import awkward as ak
import numpy as np
import pandas as pd

from .base import LGDO, check_library, element_type
from .views import pandas_column, pandas_text


def as_row_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Turn array-like ``data`` into a numpy array with rows on axis 0.

    Numpy unicode strings become UTF-8 bytes, the way LH5 stores strings.

    >>> as_row_array(["ab", "c"]).dtype
    dtype('S2')
    """
    if isinstance(data, ak.Array):
        data = ak.to_numpy(data)
    elif isinstance(data, pd.Series | pd.Index):
        data = data.to_numpy()
    nda = np.asarray(data, dtype=dtype)
    if nda.dtype.kind == "U":
        nda = np.char.encode(nda, "utf-8")
    if nda.dtype.kind == "O":
        msg = "object arrays cannot be stored in LH5; give a numeric, bool or string array"
        raise TypeError(msg)
    return nda


class Array(LGDO):
    """An N-dimensional numpy array, rows on axis 0, that can grow.

    ``nda`` is the data; ``resize`` keeps spare capacity so that growing by
    appends is amortised.

    >>> a = Array(np.arange(3, dtype="float32"), attrs={"units": "keV"})
    >>> a.form_datatype(), len(a)
    ('array<1>{real}', 3)
    >>> a.resize(5); a.nda[3:] = 7; a.nda
    array([0., 1., 2., 7., 7.], dtype=float32)
    """

    def __init__(
        self,
        nda: Any = None,
        shape_guess: Sequence[int] | int | None = None,
        dtype: Any = None,
        fill_val: Any = None,
        attrs: Mapping[str, Any] | None = None,
    ):
        if nda is None:
            shape = (0,) if shape_guess is None else tuple(np.atleast_1d(shape_guess))
            dtype = np.float64 if dtype is None else dtype
            nda = np.empty(shape, dtype) if fill_val is None else np.full(shape, fill_val, dtype)
        elif isinstance(nda, Array):
            nda = nda.nda
        self._buffer = as_row_array(nda, dtype)
        if self._buffer.ndim == 0:
            msg = "an Array needs at least one dimension; use Scalar for single values"
            raise ValueError(msg)
        self._nda = self._buffer
        super().__init__(attrs)

    @property
    def nda(self) -> np.ndarray:
        """The data, ``len(self)`` rows."""
        return self._nda

    @nda.setter
    def nda(self, value: np.ndarray) -> None:
        self._buffer = self._nda = as_row_array(value)

    @property
    def dtype(self) -> np.dtype:
        return self._nda.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self._nda.shape

    def __len__(self) -> int:
        return len(self._nda)

    def datatype_name(self) -> str:
        return "array"

    def form_datatype(self) -> str:
        return f"array<{self._nda.ndim}>{{{element_type(self._nda.dtype)}}}"

    def capacity(self) -> int:
        """Rows that fit without reallocating."""
        return len(self._buffer)

    def resize(self, new_size: int, trim: bool = False) -> None:
        """Change the row count, keeping the leading rows; new rows are uninitialised."""
        if new_size > len(self._buffer) or (trim and new_size != len(self._buffer)):
            capacity = new_size if trim else max(new_size, 2 * len(self._buffer))
            buffer = np.empty((capacity, *self._buffer.shape[1:]), self._buffer.dtype)
            keep = min(len(self._nda), new_size)
            buffer[:keep] = self._nda[:keep]
            self._buffer = buffer
        self._nda = self._buffer[:new_size]

    def append(self, value: Any) -> None:
        """Add one row at the end."""
        self.resize(len(self) + 1)
        self._nda[-1] = value

    def take(self, rows: slice | np.ndarray) -> Array:
        """A new object of the same type with the selected rows (a slice is a view)."""
        return self._with_nda(self._nda[rows])

    def _with_nda(self, nda: np.ndarray) -> Array:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._buffer = new._nda = nda
        new.attrs = dict(self.attrs)
        return new

    def view_as(self, library: str = "np") -> Any:
        """The data as numpy (no copy), pandas or awkward (no copy).

        Byte strings are awkward ``bytes`` and pandas ``str``; rows of several values are an
        awkward-pandas column (see :mod:`tierflow.types.views`).

        >>> Array([1, 2]).view_as("pd").tolist()
        [1, 2]
        >>> Array(["huey"]).view_as("pd").tolist(), Array(["huey"]).view_as("ak").tolist()
        (['huey'], [b'huey'])
        >>> str(Array(np.zeros((2, 3), "uint16")).view_as("pd").dtype)
        'awkward'
        """
        check_library(library, ("np", "pd", "ak"), type(self).__name__)
        if library == "np":
            return self._nda
        if library == "ak":
            return ak.from_numpy(self._nda, regulararray=True)
        if self._nda.ndim > 1:
            return pandas_column(self.view_as("ak"))
        if self._nda.dtype.kind == "S":
            return pandas_text(self._nda)
        return pd.Series(self._nda, copy=False)

    def __getitem__(self, item: Any) -> Any:
        return self._nda[item]

    def __setitem__(self, item: Any, value: Any) -> None:
        self._nda[item] = value

    def __iter__(self):
        return iter(self._nda)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.attrs == other.attrs
            and self.dtype == other.dtype
            and np.array_equal(self._nda, other._nda, equal_nan=self.dtype.kind in "fc")
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({np.array2string(self._nda, threshold=10)}, attrs={self.getattrs()})"


class FixedSizeArray(Array):
    """An Array whose length is not meant to change (a tag only; same layout).

    >>> FixedSizeArray([1.0, 2.0]).form_datatype()
    'fixedsize_array<1>{real}'
    """

    def datatype_name(self) -> str:
        return "fixedsize_array"

    def form_datatype(self) -> str:
        return f"fixedsize_array<{self._nda.ndim}>{{{element_type(self._nda.dtype)}}}"


class ArrayOfEqualSizedArrays(Array):
    """Rows that are arrays of one common length, such as waveforms: a 2-d dataset.

    >>> w = ArrayOfEqualSizedArrays(nda=np.zeros((4, 100), "uint16"))
    >>> w.form_datatype(), len(w)
    ('array_of_equalsized_arrays<1,1>{real}', 4)
    """

    def __init__(
        self,
        dims: tuple[int, ...] | None = None,
        nda: Any = None,
        shape_guess: Sequence[int] | None = None,
        dtype: Any = None,
        fill_val: Any = None,
        attrs: Mapping[str, Any] | None = None,
    ):
        super().__init__(
            nda=nda, shape_guess=shape_guess, dtype=dtype, fill_val=fill_val, attrs=attrs
        )
        if self._nda.ndim < 2 and nda is not None:
            msg = f"ArrayOfEqualSizedArrays needs 2 or more dimensions, got shape {self._nda.shape}"
            raise ValueError(msg)
        self.dims = tuple(dims) if dims is not None else (1, max(self._nda.ndim - 1, 1))
        self.update_datatype()

    def datatype_name(self) -> str:
        return "array_of_equalsized_arrays"

    def form_datatype(self) -> str:
        dims = getattr(self, "dims", (1, max(self._nda.ndim - 1, 1)))
        return (
            f"array_of_equalsized_arrays<{','.join(map(str, dims))}>{{{element_type(self.dtype)}}}"
        )

    def view_as(self, library: str = "np") -> Any:
        """numpy (2-d, no copy), awkward (regular, no copy) or pandas (an awkward-pandas column)."""
        return super().view_as(library)


class ArrayOfDetectorIDs(Array):
    """Detector ids (``uint32``, such as raw channel ids): ``array<N>{detectorid}`` on disk.

    >>> ids = ArrayOfDetectorIDs([1104000, 1084803])
    >>> ids.form_datatype(), ids.dtype
    ('array<1>{detectorid}', dtype('uint32'))
    """

    def __init__(
        self,
        nda: Any = None,
        shape_guess: Sequence[int] | int | None = None,
        fill_val: Any = None,
        attrs: Mapping[str, Any] | None = None,
    ):
        super().__init__(
            nda=nda, shape_guess=shape_guess, dtype=np.uint32, fill_val=fill_val, attrs=attrs
        )

    def form_datatype(self) -> str:
        return f"array<{self._nda.ndim}>{{detectorid}}"
