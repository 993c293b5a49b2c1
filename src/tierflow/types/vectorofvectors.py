"""VectorOfVectors: rows of variable length, nested to any depth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import awkward as ak
import numpy as np

from .array import Array, as_row_array
from .base import LGDO, check_library
from .views import byte_string_layout, is_text, pandas_column, text_to_numpy


def _split_layout(
    layout: ak.contents.Content, dtype: Any = None
) -> tuple[Array | VectorOfVectors, np.ndarray]:
    """Split an awkward list layout into (flattened_data object, cumulative_length).

    Empty innermost lists (awkward's ``unknown`` type) get ``dtype`` (float64 if None).
    """
    if isinstance(layout, ak.contents.IndexedArray):
        layout = layout.project()
    if isinstance(layout, ak.contents.NumpyArray) and layout.data.ndim > 1:
        layout = layout.to_RegularArray()
    if isinstance(layout, ak.contents.RegularArray | ak.contents.ListArray):
        layout = layout.to_ListOffsetArray64(True)
    if not isinstance(layout, ak.contents.ListOffsetArray):
        msg = f"cannot store awkward layout {type(layout).__name__} as a VectorOfVectors"
        if layout.is_option:
            msg += " (missing values are not supported; use ak.fill_none first)"
        raise TypeError(msg)
    offsets = np.asarray(layout.offsets.data, dtype=np.int64)
    content = layout.content[int(offsets[0]) : int(offsets[-1])]
    if isinstance(content, ak.contents.EmptyArray):  # no values: their type is ``dtype``
        flattened: Array | VectorOfVectors = Array(np.zeros(0, dtype or np.float64))
    elif is_text(content):  # strings are the values, not another level of lists
        given = np.dtype(dtype or np.float64)
        flattened = Array(text_to_numpy(content, given.itemsize if given.kind == "S" else 0))
    elif isinstance(content, ak.contents.NumpyArray) and content.data.ndim == 1:
        flattened = Array(np.asarray(content.data))
    else:
        inner, inner_cl = _split_layout(content, dtype)
        flattened = VectorOfVectors(flattened_data=inner, cumulative_length=inner_cl)
    return flattened, offsets[1:] - offsets[0]


class VectorOfVectors(LGDO):
    """Variable-length rows, stored as ``flattened_data`` plus ``cumulative_length``.

    ``cumulative_length[i]`` is the summed length of rows 0..i (no leading 0).
    ``flattened_data`` is an :class:`Array` or, for deeper nesting, another
    VectorOfVectors.

    >>> v = VectorOfVectors([[1, 2], [], [3]])
    >>> len(v), v.cumulative_length.nda.tolist(), v.form_datatype()
    (3, [2, 2, 3], 'array<1>{array<1>{real}}')
    >>> v.view_as("ak").tolist()
    [[1, 2], [], [3]]
    >>> VectorOfVectors([[[1], [2, 3]], [[4]]]).form_datatype()
    'array<1>{array<1>{array<1>{real}}}'
    """

    flattened_data: Array | VectorOfVectors
    cumulative_length: Array

    def __init__(
        self,
        data: Any = None,
        flattened_data: Any = None,
        cumulative_length: Any = None,
        dtype: Any = None,
        attrs: Mapping[str, Any] | None = None,
    ):
        if data is not None:
            if isinstance(data, VectorOfVectors):
                flattened_data, cumulative_length = data.flattened_data, data.cumulative_length
            else:
                array = data if isinstance(data, ak.Array) else ak.Array(data)
                if array.ndim < 2:
                    msg = f"a VectorOfVectors needs nested data, got {array.ndim} dimension(s)"
                    raise ValueError(msg)
                if dtype is not None and np.dtype(dtype).kind not in "SU":
                    array = ak.values_astype(array, dtype)
                flattened_data, cumulative_length = _split_layout(ak.to_layout(array), dtype)
        if cumulative_length is None:
            cumulative_length = np.zeros(0, np.int64)
        if flattened_data is None:
            flattened_data = np.zeros(0, dtype or np.float64)
        if not isinstance(flattened_data, Array | VectorOfVectors):
            flattened_data = Array(as_row_array(flattened_data, dtype))
        if not isinstance(cumulative_length, Array):
            cumulative_length = Array(np.asarray(cumulative_length))
        if cumulative_length.nda.ndim != 1:
            msg = "cumulative_length must be one-dimensional"
            raise ValueError(msg)
        self.flattened_data = flattened_data
        self.cumulative_length = cumulative_length
        super().__init__(attrs)

    # --- shape and type -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.cumulative_length)

    @property
    def ndim(self) -> int:
        """Nesting depth: 2 for a plain vector of vectors."""
        return 1 + (
            self.flattened_data.ndim if isinstance(self.flattened_data, VectorOfVectors) else 1
        )

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the innermost values."""
        return self.flattened_data.dtype

    def datatype_name(self) -> str:
        return "array"

    def form_datatype(self) -> str:
        return f"array<1>{{{self.flattened_data.form_datatype()}}}"

    def offsets(self) -> np.ndarray:
        """``cumulative_length`` with a leading 0, as int64 (awkward's offsets)."""
        out = np.empty(len(self) + 1, np.int64)
        out[0] = 0
        out[1:] = self.cumulative_length.nda
        return out

    # --- growing and selecting ------------------------------------------------------------
    def resize(self, new_size: int, trim: bool = False) -> None:
        """Change the row count; new rows are empty."""
        old = len(self)
        self.cumulative_length.resize(new_size, trim)
        if new_size > old:
            self.cumulative_length.nda[old:] = self.cumulative_length.nda[old - 1] if old else 0
        total = int(self.cumulative_length.nda[-1]) if new_size else 0
        self.flattened_data.resize(total, trim)

    def take(self, rows: slice | np.ndarray) -> VectorOfVectors:
        """A new VectorOfVectors with the selected rows (a slice, index array or bool mask).

        The values keep their dtype (``S7`` strings stay ``S7``); a slice shares them.

        >>> v = VectorOfVectors([[b"V02160A"], [], [b"B00035C", b"C000RG1"]])
        >>> picked = v.take(np.array([2, 0]))
        >>> picked.view_as("ak").tolist(), picked.dtype
        ([[b'B00035C', b'C000RG1'], [b'V02160A']], dtype('S7'))
        """
        cl = self.cumulative_length.nda
        if isinstance(rows, slice) and rows.step in (None, 1):
            start, stop, _ = rows.indices(len(self))
            stop = max(start, stop)
            base = int(cl[start - 1]) if start > 0 else 0
            end = int(cl[stop - 1]) if stop > start else base
            flat = self.flattened_data.take(slice(base, end))
            return VectorOfVectors(
                flattened_data=flat, cumulative_length=cl[start:stop] - base, attrs=self.getattrs()
            )
        index = np.arange(len(self))[rows]  # any numpy selection: checked, negatives resolved
        offsets = self.offsets()
        starts, lengths = offsets[index], offsets[index + 1] - offsets[index]
        new_cl = np.cumsum(lengths, dtype=np.int64)
        # the values' positions: each selected row's range, one after another
        values = np.arange(int(new_cl[-1]) if len(new_cl) else 0, dtype=np.int64)
        values += np.repeat(starts - (new_cl - lengths), lengths)
        return VectorOfVectors(
            flattened_data=self.flattened_data.take(values),
            cumulative_length=new_cl.astype(cl.dtype, copy=False),
            attrs=self.getattrs(),
        )

    def __getitem__(self, i: int) -> Any:
        if isinstance(i, slice | np.ndarray | list):
            return self.take(np.asarray(i) if isinstance(i, list) else i)
        i = range(len(self))[i]
        cl = self.cumulative_length.nda
        start = int(cl[i - 1]) if i > 0 else 0
        return self.flattened_data.take(slice(start, int(cl[i]))).view_as(
            "np" if isinstance(self.flattened_data, Array) else "ak"
        )

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # --- views ----------------------------------------------------------------------------
    def _layout(self) -> ak.contents.Content:
        if isinstance(self.flattened_data, VectorOfVectors):
            content = self.flattened_data._layout()
        elif self.flattened_data.nda.dtype.kind == "S":
            content = byte_string_layout(self.flattened_data.nda)
        else:
            content = ak.contents.NumpyArray(self.flattened_data.nda)
        return ak.contents.ListOffsetArray(ak.index.Index64(self.offsets()), content)

    def to_aoesa(self, max_len: int | None = None, fill_val: Any = None) -> np.ndarray:
        """Pad (or clip) rows to ``max_len`` into a numpy array of one more dimension.

        The padding is ``fill_val``: by default NaN (numbers become float64, as in LEGEND's
        ``to_aoesa``), or ``b""`` for byte strings (which keep their dtype). Deeper vectors
        pad every level to its longest list (``max_len`` is the second axis).

        >>> VectorOfVectors([[1, 2], [3]]).to_aoesa(fill_val=0).tolist()
        [[1, 2], [3, 0]]
        >>> VectorOfVectors([[b"ab"], []]).to_aoesa()
        array([[b'ab'],
               [b'']], dtype='|S2')
        >>> VectorOfVectors([[[1.0], [2.0, 3.0]], [[4.0]]]).to_aoesa().tolist()
        [[[1.0, nan], [2.0, 3.0]], [[4.0, nan], [nan, nan]]]
        """
        text = self.dtype.kind == "S"
        if fill_val is None:
            fill_val = b"" if text else np.nan
        offsets = self.offsets()
        lengths = np.diff(offsets)
        inner = (
            self.flattened_data.to_aoesa(fill_val=fill_val)
            if isinstance(self.flattened_data, VectorOfVectors)
            else self.flattened_data.nda
        )[: offsets[-1]]
        width = int(lengths.max(initial=0)) if max_len is None else int(max_len)
        dtype = inner.dtype if text else np.result_type(inner.dtype, np.asarray(fill_val).dtype)
        out = np.full((len(self), width, *inner.shape[1:]), fill_val, dtype)
        row = np.repeat(np.arange(len(self)), lengths)
        position = np.arange(len(inner)) - np.repeat(offsets[:-1], lengths)
        kept = position < width  # rows longer than max_len are clipped
        out[row[kept], position[kept]] = inner[kept]
        return out

    def view_as(self, library: str = "ak") -> Any:
        """awkward (no copy of the values), numpy (padded, see :meth:`to_aoesa`) or pandas
        (an awkward-pandas column, as LEGEND's; text decoded, see :mod:`tierflow.types.views`).

        >>> v = VectorOfVectors([[b"V02160A", b"B00035C"], []])
        >>> v.view_as("ak").tolist(), v.view_as("pd").tolist()
        ([[b'V02160A', b'B00035C'], []], [['V02160A', 'B00035C'], []])
        """
        check_library(library, ("ak", "np", "pd"), "VectorOfVectors")
        if library == "ak":
            return ak.Array(self._layout())
        if library == "np":
            return self.to_aoesa()
        return pandas_column(self.view_as("ak"))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, VectorOfVectors)
            and self.attrs == other.attrs
            and self.dtype == other.dtype
            and np.array_equal(self.offsets(), other.offsets())
            and ak.array_equal(self.view_as("ak"), other.view_as("ak"), equal_nan=True)
        )

    def __repr__(self) -> str:
        return f"VectorOfVectors({self.view_as('ak').tolist()!r:.200}, attrs={self.getattrs()})"
