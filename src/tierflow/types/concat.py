"""Concatenate data objects row-wise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar, cast

import numpy as np

from .array import Array
from .base import LGDO
from .encoded import ArrayOfEncodedEqualSizedArrays, VectorOfEncodedVectors
from .table import Table
from .vectorofvectors import VectorOfVectors

T = TypeVar("T", bound=LGDO)
K = TypeVar("K", bound=LGDO)


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
    return cast(T, _concat_same_type(first, objs))  # a new object of type(first)


def _concat_same_type(first: LGDO, objs: Sequence[LGDO]) -> LGDO:
    """:func:`concat` of ``objs``, all of the type of ``first`` (their first)."""
    if isinstance(first, Table):
        tables = _all_of(objs, Table)
        keys = list(first.keys())
        for t in tables[1:]:
            if set(t.keys()) != set(keys):
                raise ValueError(
                    f"tables have different columns: {sorted(keys)} and {sorted(t.keys())}"
                )
        return first._like(
            {k: concat([t[k] for t in tables]) for k in keys}, sum(len(t) for t in tables)
        )
    if isinstance(first, VectorOfVectors):
        vovs = _all_of(objs, VectorOfVectors)
        return VectorOfVectors(
            flattened_data=concat([v.flattened_data for v in vovs]),
            cumulative_length=_stack_cumulative([v.cumulative_length.nda for v in vovs]),
            attrs=first.getattrs(),
        )
    if isinstance(first, ArrayOfEncodedEqualSizedArrays):
        encoded = _all_of(objs, ArrayOfEncodedEqualSizedArrays)
        sizes = sorted({int(e.decoded_size.value) for e in encoded})
        if len(sizes) > 1:
            raise ValueError(f"cannot concatenate encoded arrays of decoded sizes {sizes}")
        return ArrayOfEncodedEqualSizedArrays(
            encoded_data=concat([e.encoded_data for e in encoded]),
            decoded_size=first.decoded_size,
            attrs=first.getattrs(),
        )
    if isinstance(first, VectorOfEncodedVectors):
        vectors = _all_of(objs, VectorOfEncodedVectors)
        return VectorOfEncodedVectors(
            encoded_data=concat([e.encoded_data for e in vectors]),
            decoded_size=concat([e.decoded_size for e in vectors]),
            attrs=first.getattrs(),
        )
    if isinstance(first, Array):
        return first._with_nda(np.concatenate([a.nda for a in _all_of(objs, Array)]))
    raise TypeError(f"cannot concatenate {type(first).__name__} objects")


def _all_of(objs: Sequence[LGDO], kind: type[K]) -> list[K]:
    """``objs``, every one of which is a ``kind`` (:func:`concat` checked their types)."""
    return [o for o in objs if isinstance(o, kind)]


def _stack_cumulative(parts: Sequence[np.ndarray]) -> np.ndarray:
    out = np.empty(sum(len(p) for p in parts), np.int64)
    offset = pos = 0
    for p in parts:
        out[pos : pos + len(p)] = p.astype(np.int64) + offset
        pos += len(p)
        if len(p):
            offset += int(p[-1])
    return out
