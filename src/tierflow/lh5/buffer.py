"""Writing rows into an existing object (``obj_buf``), growing it as needed."""

from __future__ import annotations

from ..errors import LH5Error
from ..types import (
    LGDO,
    Array,
    ArrayOfEncodedEqualSizedArrays,
    Table,
    VectorOfEncodedVectors,
    VectorOfVectors,
)


def store_into(buf: LGDO, obj: LGDO, start: int) -> LGDO:
    """Copy the rows of ``obj`` into ``buf`` at row ``start``; ``buf`` ends after them.

    Objects without rows (scalars, structs) are returned as they are. Byte strings longer
    than ``buf``'s (another file's ``S7`` into an ``S6`` buffer) widen it.

    >>> buf = Array([0, 0, 0, 0])
    >>> store_into(buf, Array([7, 8]), 1).nda.tolist()
    [0, 7, 8]
    """
    if not hasattr(obj, "resize"):
        return obj
    if type(buf) is not type(obj) and not (isinstance(buf, Table) and isinstance(obj, Table)):
        raise LH5Error(
            f"obj_buf is a {type(buf).__name__} but the data read is a {type(obj).__name__}"
        )
    n = len(obj)  # type: ignore[arg-type]  # objects with resize have rows
    if isinstance(obj, Table):
        assert isinstance(buf, Table)
        missing = set(obj.keys()) - set(buf.keys())
        if missing:
            raise LH5Error(f"obj_buf lacks column(s) {sorted(missing)}")
        for name, col in obj.items():
            store_into(buf[name], col, start)
        for name in set(buf.keys()) - set(obj.keys()):
            buf[name].resize(start + n)
        buf.resize(start + n)
    elif isinstance(obj, VectorOfVectors):
        assert isinstance(buf, VectorOfVectors)
        cl = buf.cumulative_length
        offset = int(cl.nda[start - 1]) if start > 0 else 0
        cl.resize(start + n)
        cl.nda[start:] = obj.cumulative_length.nda + offset
        store_into(buf.flattened_data, obj.flattened_data, offset)
    elif isinstance(obj, ArrayOfEncodedEqualSizedArrays):
        assert isinstance(buf, ArrayOfEncodedEqualSizedArrays)
        store_into(buf.encoded_data, obj.encoded_data, start)
        buf.decoded_size = obj.decoded_size
    elif isinstance(obj, VectorOfEncodedVectors):
        assert isinstance(buf, VectorOfEncodedVectors)
        store_into(buf.encoded_data, obj.encoded_data, start)
        store_into(buf.decoded_size, obj.decoded_size, start)
    elif isinstance(obj, Array):
        assert isinstance(buf, Array)
        if buf.nda.shape[1:] != obj.nda.shape[1:]:
            raise LH5Error(
                f"obj_buf rows have shape {buf.nda.shape[1:]}, the data read {obj.nda.shape[1:]}"
            )
        if obj.nda.dtype.kind == "S" and obj.nda.dtype.itemsize > buf.nda.dtype.itemsize:
            buf.nda = buf.nda.astype(obj.nda.dtype)  # longer strings: widen, never truncate
        buf.resize(start + n)
        try:
            buf.nda[start:] = obj.nda
        except (ValueError, TypeError) as err:
            raise LH5Error(
                f"obj_buf holds {buf.nda.dtype}, the data read {obj.nda.dtype}: {err}"
            ) from None
    return buf
