"""Vectors of vectors at any depth: ``cumulative_length`` and ``flattened_data``."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np

from ...errors import LH5WriteError
from ...types import LGDO, Array, VectorOfVectors
from .array import ArraySerializer
from .attrs import stored_attrs
from .base import Serializer, WriteContext
from .create import Node
from .dispatch import (
    appends,
    check_object,
    check_write_start,
    codec_for,
    new_group,
    node_of,
    stored_datatype,
    write_object,
)

# --- reading ----------------------------------------------------------------------------------


# --- writing ----------------------------------------------------------------------------------
_ARRAYS = ArraySerializer()


def create_vov(
    parent: h5py.Group,
    name: str,
    obj: VectorOfVectors,
    ctx: WriteContext,
    inner_path: str = "",
    cl_dtype: type = np.int64,
) -> None:
    """Write ``obj`` as the new group ``parent/name``: its ``flattened_data`` and its
    ``cumulative_length`` as ``cl_dtype`` (the encoded kinds store uint32 byte counts).

    >>> import io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> create_vov(f, "v", VectorOfVectors([[1, 2], [3]]), WriteContext())
    >>> sorted(f["v"]), f["v/cumulative_length"].dtype
    (['cumulative_length', 'flattened_data'], dtype('int64'))
    """
    cl = obj.cumulative_length.nda.astype(cl_dtype, copy=False)
    group = new_group(parent, name, obj, ctx)
    fresh = replace(ctx, mode="append", write_start=0)
    write_object(group, "flattened_data", obj.flattened_data, fresh, inner_path)
    write_object(group, "cumulative_length", Array(cl), fresh, inner_path)


def append_vov(
    parent: h5py.Group, name: str, obj: VectorOfVectors, ctx: WriteContext, inner_path: str = ""
) -> None:
    """Add the vectors of ``obj`` to the stored ``parent/name`` (or overwrite its vectors from
    ``ctx.write_start`` on): its data from where the kept vectors end, its lengths moved by
    that offset and kept in the stored integer type where they fit.

    >>> import io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> create_vov(f, "v", VectorOfVectors([[1, 2], [3]]), WriteContext())
    >>> append_vov(f, "v", VectorOfVectors([[4]]), WriteContext(mode="append"))
    >>> f["v/cumulative_length"][:].tolist(), f["v/flattened_data"][:].tolist()
    ([2, 3, 4], [1, 2, 3, 4])
    """
    path = f"{parent.name}/{name}"
    cl = obj.cumulative_length.nda
    group = parent[name]
    existing = stored_datatype(parent, name)
    if not isinstance(group, h5py.Group) or existing != obj.form_datatype():
        raise LH5WriteError(
            f"a {obj.form_datatype()} cannot be appended to a {existing}", file=ctx.file, obj=path
        )
    old_cl = group["cumulative_length"]
    start = old_cl.shape[0] if ctx.mode == "append" else ctx.write_start
    check_write_start(start, old_cl.shape[0], ctx, path)
    offset = int(old_cl[start - 1]) if start > 0 else 0
    new_cl = cl.astype(np.int64) + offset
    if old_cl.dtype.kind in "iu" and (not len(new_cl) or new_cl[-1] <= np.iinfo(old_cl.dtype).max):
        new_cl = new_cl.astype(old_cl.dtype)  # the stored type (uint32 in DAQ files) if it fits
    write_object(
        group,
        "flattened_data",
        obj.flattened_data,
        replace(ctx, mode="overwrite", write_start=offset),
        inner_path,
    )
    write_object(
        group,
        "cumulative_length",
        Array(new_cl),
        replace(ctx, mode="overwrite", write_start=start),
        inner_path,
    )


class VectorSerializer(Serializer):
    """Vectors of vectors: a group of ``flattened_data`` (itself any array or vector of
    vectors) and ``cumulative_length`` (int64 written new).

    >>> import io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> VectorSerializer().create(f, "v", VectorOfVectors([[1, 2], [3]]), WriteContext())
    >>> f["v"].attrs["datatype"]
    'array<1>{array<1>{real}}'
    """

    kinds = ("vector_of_vectors",)
    classes = (VectorOfVectors,)

    def create(
        self,
        parent: h5py.Group,
        name: str,
        obj: LGDO,
        ctx: WriteContext,
        inner_path: str = "",
    ) -> None:
        assert isinstance(obj, VectorOfVectors)
        create_vov(parent, name, obj, ctx, inner_path)

    def append(
        self,
        parent: h5py.Group,
        name: str,
        obj: LGDO,
        ctx: WriteContext,
        inner_path: str = "",
    ) -> None:
        assert isinstance(obj, VectorOfVectors)
        if appends(ctx):
            append_vov(parent, name, obj, ctx, inner_path)
        else:
            create_vov(parent, name, obj, ctx, inner_path)

    def check(self, obj: LGDO, file: str, path: str) -> None:
        assert isinstance(obj, VectorOfVectors)
        cl = obj.cumulative_length.nda
        if len(cl) and int(cl[-1]) > len(obj.flattened_data):
            raise LH5WriteError(
                f"cumulative_length ends at {int(cl[-1])} but flattened_data has "
                f"{len(obj.flattened_data)} values; nothing was written",
                file=file,
                obj=path,
            )
        check_object(obj.flattened_data, file, f"{path}/flattened_data")

    def node(self, obj: LGDO, name: str, ctx: WriteContext, inner_path: str) -> Node | None:
        assert isinstance(obj, VectorOfVectors)
        attrs = stored_attrs(obj, ctx.file, name)
        if codec_for(obj, ctx, inner_path) is not None:
            return None  # written encoded
        flat = node_of(obj.flattened_data, "flattened_data", ctx, inner_path)
        if flat is None:
            return None
        cl = Array(obj.cumulative_length.nda.astype(np.int64, copy=False))
        cl_node = _ARRAYS.node(cl, "cumulative_length", ctx, inner_path)
        if cl_node is None:
            return None
        return Node(name, attrs, children=[flat, cl_node])
