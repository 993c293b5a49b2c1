"""Attributes of LH5 objects, read and written through h5py's low-level API (the one place
that does either: a file holds thousands of small objects, and ``dict(obj.attrs)`` costs
about twice as much)."""

from __future__ import annotations

from typing import Any

import numpy as np
from h5py import h5a, h5s, h5t

from ..globalheap import check_attribute_heaps

_VLEN_ASCII = h5t.string_dtype("ascii")
_VLEN_ASCII_MEMORY = h5t.py_create(_VLEN_ASCII)

# --- reading ----------------------------------------------------------------------------------


def read_attrs(oid: Any) -> dict[str, Any]:
    """All attributes of the object ``oid`` (an h5py low-level id) as Python values, strings
    decoded; variable-length data is checked before HDF5 reads it
    (:func:`~tierflow.lh5.globalheap.check_attribute_heaps`).

    >>> import h5py, io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> f.attrs["datatype"] = "table{a}"
    >>> f.attrs["n"] = 3
    >>> read_attrs(f.id)
    {'datatype': 'table{a}', 'n': np.int64(3)}
    """
    out: dict[str, Any] = {}
    check_attribute_heaps(oid)
    for i in range(h5a.get_num_attrs(oid)):
        attr = h5a.open(oid, index=i)
        value = _value(attr)
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        out[attr.name.decode()] = value
    return out


def read_datatype(oid: Any) -> str | None:
    """The ``datatype`` attribute of ``oid`` alone (``None`` when it has none or it is not a
    string)."""
    if not h5a.exists(oid, b"datatype"):
        return None
    check_attribute_heaps(oid)
    value = _value(h5a.open(oid, b"datatype"))
    value = value.decode(errors="replace") if isinstance(value, bytes) else value
    return value if isinstance(value, str) else None


def _value(attr: h5a.AttrID) -> Any:
    """An attribute's value, as reading it into ``attr.dtype`` gives it. A scalar one is first
    read as a variable-length string (what h5py writes for ``str`` and ``bytes``, so no need
    to look at its type): HDF5 converts nothing else to that, and the read fails instead."""
    if attr.get_space().get_simple_extent_type() == h5s.SCALAR:
        value = np.empty((), dtype=_VLEN_ASCII)
        try:
            attr.read(value, mtype=_VLEN_ASCII_MEMORY)
        except (OSError, TypeError, ValueError):
            pass  # not a variable-length string
        else:
            return value[()]
    value = np.empty(attr.shape, dtype=attr.dtype)
    attr.read(value)
    return value[()]


# --- writing ----------------------------------------------------------------------------------
