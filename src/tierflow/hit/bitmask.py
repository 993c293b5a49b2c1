"""Boolean flags packed into one unsigned integer column, with their names in ``bit_names``.

Bit ``i`` of the column holds flag ``bit_names[i]``. In memory and on disk the
``bit_names`` attribute is one string, the names joined by commas in bit order
(``"is_valid_cal,is_saturated"``): HDF5 attributes of LH5 objects are strings or
numbers, and this is the form LEGEND's tools write and read. Names are identifiers, so
they never hold a comma. The column is the smallest of ``uint8``, ``uint16``,
``uint32``, ``uint64`` with a bit for every flag (at most 64 flags).

>>> import numpy as np
>>> col = pack_bitmask({"is_valid": [True, False, True], "is_saturated": [False, False, True]})
>>> col.nda.tolist(), col.attrs["bit_names"], col.nda.dtype.name
([1, 0, 3], 'is_valid,is_saturated', 'uint8')
>>> unpack_bitmask(col)["is_saturated"].nda.tolist()
[False, False, True]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import HitConfigError
from ..types import Array, Table

__all__ = ["MAX_BITS", "bit_names_of", "bitmask_dtype", "pack_bitmask", "unpack_bitmask"]

#: the most flags one bitmask column can hold
MAX_BITS = 64


def bitmask_dtype(n_bits: int) -> np.dtype:
    """The smallest unsigned integer type with ``n_bits`` bits.

    >>> bitmask_dtype(8).name, bitmask_dtype(9).name, bitmask_dtype(33).name
    ('uint8', 'uint16', 'uint64')
    """
    for bits in (8, 16, 32, 64):
        if n_bits <= bits:
            return np.dtype(f"uint{bits}")
    raise HitConfigError(f"a bitmask holds at most {MAX_BITS} flags, not {n_bits}")


def bit_names_of(column: Any) -> list[str]:
    """The flag names of a bitmask column, in bit order, from its ``bit_names`` attribute.

    The attribute may be the comma-joined string (as stored), bytes, or a list.

    >>> bit_names_of(Array(np.zeros(2, "uint8"), attrs={"bit_names": "a,b"}))
    ['a', 'b']
    """
    attrs = getattr(column, "attrs", None) or {}
    value = attrs.get("bit_names")
    if value is None:
        raise HitConfigError(
            "the column has no 'bit_names' attribute; pass bit_names=[...] explicitly"
        )
    return _as_names(value)


def _as_names(value: Any) -> list[str]:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        return [n.strip() for n in value.split(",")] if value.strip() else []
    return [str(n.decode() if isinstance(n, bytes) else n) for n in value]


def pack_bitmask(
    flags: Mapping[str, Any], attrs: Mapping[str, Any] | None = None, dtype: Any = None
) -> Array:
    """One unsigned integer column from named flag columns (bit ``i`` = ``i``-th flag).

    Flags are boolean (or integer: non-zero is set) arrays of equal length, numpy arrays
    or tierflow ``Array`` s. ``attrs`` (``units``, ``description``) are added to the
    column next to ``bit_names``; ``dtype`` overrides the smallest fitting type.

    >>> pack_bitmask({"a": [True, True], "b": [False, True]}).nda.tolist()
    [1, 3]
    """
    names = list(flags)
    for name in names:
        if not name or "," in name:
            raise HitConfigError(f"bit name {name!r} must be non-empty and hold no comma")
    out_dtype = bitmask_dtype(len(names)) if dtype is None else np.dtype(dtype)
    if out_dtype.kind != "u" or out_dtype.itemsize * 8 < len(names):
        raise HitConfigError(
            f"a bitmask of {len(names)} flags does not fit in {out_dtype.name}; "
            "use an unsigned integer type with enough bits"
        )
    columns = [_flag_values(name, flags[name]) for name in names]
    lengths = {len(c) for c in columns}
    if len(lengths) > 1:
        raise HitConfigError(
            "flags have different lengths: "
            + ", ".join(f"{n}={len(c)}" for n, c in zip(names, columns, strict=True))
        )
    packed = np.zeros(lengths.pop() if lengths else 0, dtype=out_dtype)
    for bit, values in enumerate(columns):
        packed |= values.astype(out_dtype) << out_dtype.type(bit)
    return Array(packed, attrs={**dict(attrs or {}), "bit_names": ",".join(names)})


def _flag_values(name: str, values: Any) -> np.ndarray:
    nda = values.nda if isinstance(values, Array) else np.asarray(values)
    if nda.ndim != 1:
        raise HitConfigError(f"flag {name!r} must be a flat column, not {nda.ndim}-dimensional")
    if nda.dtype.kind == "b":
        return nda
    if nda.dtype.kind in "iu":
        return nda != 0
    raise HitConfigError(
        f"flag {name!r} is {nda.dtype.name}; a bitmask packs boolean (or integer 0/1) columns"
    )


def unpack_bitmask(column: Any, bit_names: Sequence[str] | str | None = None) -> Table:
    """A table with one boolean column per flag of a bitmask column.

    ``bit_names`` defaults to the column's ``bit_names`` attribute; ``column`` may be an
    ``Array`` or a plain integer array (then ``bit_names`` is needed).

    >>> unpack_bitmask(np.array([2, 1]), ["a", "b"]).view_as("np")["b"].tolist()
    [True, False]
    """
    names = bit_names_of(column) if bit_names is None else _as_names(bit_names)
    nda = column.nda if isinstance(column, Array) else np.asarray(column)
    if nda.dtype.kind not in "iu":
        raise HitConfigError(f"a bitmask column is an integer column, not {nda.dtype.name}")
    if len(names) > nda.dtype.itemsize * 8:
        raise HitConfigError(
            f"{len(names)} bit names for a {nda.dtype.name} column of {nda.dtype.itemsize * 8} bits"
        )
    one = nda.dtype.type(1)
    return Table(
        {name: (nda >> nda.dtype.type(bit)) & one != 0 for bit, name in enumerate(names)},
        size=len(nda),
    )
