"""Arrays: ``array``, ``fixedsize_array``, ``array_of_equalsized_arrays`` (and arrays of detector ids), one dataset each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from ...errors import LH5WriteError
from ...types import LGDO, Array, ArrayOfEqualSizedArrays
from ..settings import chunk_shape, hdf5_filters
from .attrs import store_attrs, stored_attrs
from .base import Serializer, WriteContext
from .create import Node
from .dispatch import appends, check_write_start, codec_for

# --- reading ----------------------------------------------------------------------------------


# --- writing ----------------------------------------------------------------------------------
#: ``create_dataset`` keywords the fast creation path takes (anything else: the general path)
_FAST_FILTER_KEYS = frozenset(
    {"compression", "compression_opts", "shuffle", "fletcher32", "scaleoffset"}
)


def storable(nda: np.ndarray, file: str, path: str) -> np.ndarray:
    """The array as it is stored: bools as uint8, unicode as UTF-8 bytes; others refused.

    >>> storable(np.array([True, False]), "f.lh5", "/a").tolist()
    [1, 0]
    >>> storable(np.array(["µ"]), "f.lh5", "/a").tolist()
    [b'\\xc2\\xb5']
    """
    if nda.dtype.kind == "b":
        return nda.view(np.uint8)
    if nda.dtype.kind == "U":
        return np.char.encode(nda, "utf-8")
    if nda.dtype.kind not in "iufcS":
        raise LH5WriteError(
            f"cannot store numpy dtype {nda.dtype}; LH5 holds numbers, bools and strings",
            file=file,
            obj=path,
        )
    return nda


def _filters_of(obj: LGDO, ctx: WriteContext) -> dict[str, Any]:
    """``create_dataset`` keywords for an array: its own settings, else the write's."""
    return hdf5_filters(
        obj.attrs.get(
            "hdf5_settings",
            obj.attrs.get("compression")
            if isinstance(obj.attrs.get("compression"), dict | str)
            else ctx.compression,
        )
    )


def _check_appendable(
    ds: h5py.Dataset, data: np.ndarray, obj: LGDO, ctx: WriteContext, path: str
) -> None:
    """Refuse rows that the stored dataset ``ds`` cannot take: another row shape, a dataset
    that cannot grow, values of another kind or too long strings, another datatype."""
    if ds.shape[1:] != data.shape[1:]:
        raise LH5WriteError(
            f"rows of shape {data.shape[1:]} cannot be appended to rows of shape {ds.shape[1:]}",
            file=ctx.file,
            obj=path,
        )
    if ds.maxshape[0] is not None:
        raise LH5WriteError(
            "the dataset in the file is not resizable, so rows cannot be appended",
            file=ctx.file,
            obj=path,
        )
    stored, new = ds.dtype, data.dtype
    if stored.kind == "S" and new.kind == "S":
        if (
            new.itemsize > stored.itemsize
            and len(data)
            and np.char.str_len(data).max() > stored.itemsize
        ):
            raise LH5WriteError(
                f"strings of up to {new.itemsize} bytes do not fit the stored {stored}",
                file=ctx.file,
                obj=path,
            )
    elif stored != new and not np.can_cast(new, stored, casting="same_kind"):
        raise LH5WriteError(
            f"{new} rows cannot be appended to a {stored} dataset", file=ctx.file, obj=path
        )
    existing = ds.attrs.get("datatype")
    existing = existing.decode() if isinstance(existing, bytes) else existing
    if existing is not None and existing != obj.form_datatype():
        raise LH5WriteError(
            f"a {obj.form_datatype()} cannot be appended to a {existing}", file=ctx.file, obj=path
        )


class ArraySerializer(Serializer):
    """Arrays of any row shape: one chunked dataset, resizable along its rows.

    >>> import io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> ArraySerializer().create(f, "a", Array(np.arange(3)), WriteContext())
    >>> ArraySerializer().append(f, "a", Array(np.arange(2)), WriteContext(mode="append"))
    >>> f["a"][:].tolist(), f["a"].chunks, f["a"].compression
    ([0, 1, 2, 0, 1], (1024,), 'gzip')
    """

    kinds = ("array", "fixedsize_array", "array_of_equalsized_arrays")
    classes = (Array,)

    def create(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Array)
        data = storable(np.ascontiguousarray(obj.nda), ctx.file, f"{parent.name}/{name}")
        if name in parent:
            ctx.journal.replacing(parent, name)
        ds = parent.create_dataset(
            name,
            data=data,
            maxshape=(None, *data.shape[1:]),
            chunks=chunk_shape(data.shape, data.dtype.itemsize, ctx.chunk_bytes),
            **_filters_of(obj, ctx),
        )
        ctx.journal.created(parent, name)
        store_attrs(ds, obj)

    def append(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Array)
        if not appends(ctx):
            self.create(parent, name, obj, ctx, inner_path)
            return
        path = f"{parent.name}/{name}"
        data = storable(np.ascontiguousarray(obj.nda), ctx.file, path)
        ds = parent[name]
        if not isinstance(ds, h5py.Dataset):
            raise LH5WriteError(
                "exists as a group; cannot append array rows to it", file=ctx.file, obj=path
            )
        if not ds.shape:
            raise LH5WriteError(
                "exists as a scalar, which has no rows; cannot append array rows to it",
                file=ctx.file,
                obj=path,
            )
        _check_appendable(ds, data, obj, ctx, path)
        start = ds.shape[0] if ctx.mode == "append" else ctx.write_start
        check_write_start(start, ds.shape[0], ctx, path)
        ctx.journal.overwriting(ds, start, min(ds.shape[0], start + len(data)))
        ctx.journal.resized(ds)
        ds.resize(start + len(data), axis=0)
        if len(data):
            ds[start:] = data

    def node(self, obj: LGDO, name: str, ctx: WriteContext, inner_path: str) -> Node | None:
        assert isinstance(obj, Array)
        if isinstance(obj, ArrayOfEqualSizedArrays) and codec_for(obj, ctx, inner_path) is not None:
            return None  # written encoded
        attrs = stored_attrs(obj, ctx.file, name)
        nda = obj.nda
        if nda.dtype.kind not in "biuf" or nda.ndim < 1 or 0 in nda.shape[1:]:
            return None
        filters = _filters_of(obj, ctx)
        if not (type(filters) is dict or isinstance(filters, Mapping)) or not (
            filters.keys() <= _FAST_FILTER_KEYS
        ):
            return None
        compression = filters.get("compression")
        if isinstance(compression, bool) or (
            isinstance(compression, int) and 0 <= compression <= 9
        ):
            return None  # h5py's legacy gzip spellings: the general path
        data = storable(np.ascontiguousarray(nda), ctx.file, name)
        if not data.dtype.isnative and data.dtype.itemsize > 1:
            return None
        return Node.dataset(name, attrs, data, dict(filters))
