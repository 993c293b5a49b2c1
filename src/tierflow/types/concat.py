"""Concatenate data objects row-wise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from .array import Array
from .base import LGDO
from .encoded import ArrayOfEncodedEqualSizedArrays, VectorOfEncodedVectors
from .table import Table
from .vectorofvectors import VectorOfVectors

T = TypeVar("T", bound=LGDO)


def concat(objs: Sequence[T]) -> T:
    """The rows of ``objs`` one after another, in a new object of their common type.

    Attributes come from the first object.

    >>> concat([Array([1, 2]), Array([3])]).nda.tolist()
    [1, 2, 3]
    >>> concat([VectorOfVectors([[1]]), VectorOfVectors([[2, 3]])]).view_as("ak").tolist()
    [[1], [2, 3]]
    """
    objs = list(objs)
    if not objs:
        raise ValueError("concat needs at least one object")
    first = objs[0]
    kinds = {type(o) for o in objs}
    if len(kinds) > 1:
        raise TypeError(f"cannot concatenate different types: {sorted(k.__name__ for k in kinds)}")
    if isinstance(first, Table):
        keys = list(first.keys())
        for o in objs[1:]:
            if set(o.keys()) != set(keys):
                raise ValueError(
                    f"tables have different columns: {sorted(keys)} and {sorted(o.keys())}"
                )
        return first._like(
            {k: concat([o[k] for o in objs]) for k in keys}, sum(len(o) for o in objs)
        )
    if isinstance(first, VectorOfVectors):
        return VectorOfVectors(
            flattened_data=concat([o.flattened_data for o in objs]),
            cumulative_length=_stack_cumulative([o.cumulative_length.nda for o in objs]),
            attrs=first.getattrs(),
        )
    if isinstance(first, ArrayOfEncodedEqualSizedArrays):
        sizes = sorted({int(o.decoded_size.value) for o in objs})
        if len(sizes) > 1:
            raise ValueError(f"cannot concatenate encoded arrays of decoded sizes {sizes}")
        return ArrayOfEncodedEqualSizedArrays(
            encoded_data=concat([o.encoded_data for o in objs]),
            decoded_size=first.decoded_size,
            attrs=first.getattrs(),
        )
    if isinstance(first, VectorOfEncodedVectors):
        return VectorOfEncodedVectors(
            encoded_data=concat([o.encoded_data for o in objs]),
            decoded_size=concat([o.decoded_size for o in objs]),
            attrs=first.getattrs(),
        )
    if isinstance(first, Array):
        return first._with_nda(np.concatenate([o.nda for o in objs]))
    raise TypeError(f"cannot concatenate {type(first).__name__} objects")


def _stack_cumulative(parts: Sequence[np.ndarray]) -> np.ndarray:
    out = np.empty(sum(len(p) for p in parts), np.int64)
    offset = pos = 0
    for p in parts:
        out[pos : pos + len(p)] = p.astype(np.int64) + offset
        pos += len(p)
        if len(p):
            offset += int(p[-1])
    return out
