"""Vectors of vectors at any depth: ``cumulative_length`` and ``flattened_data``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import h5py
import numpy as np
from h5py import h5d, h5g

from ...errors import LH5DecodeError, LH5WriteError
from ...types import LGDO, Array, VectorOfVectors
from ..datatype import Datatype
from ..fieldmask import FieldMask
from ..guards import FAILURES, check_memory
from .array import ArraySerializer
from .attrs import stored_attrs
from .base import (
    LayoutChanged,
    Plan,
    Rows,
    Serializer,
    WriteContext,
    kind_error,
    n_selected,
    read_failed,
)
from .create import Node
from .datasets import check_rows, read_into
from .describe import child, plan_of
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


class VectorPlan(Plan):
    """Reads a vector of vectors: the lengths of the rows asked for, then the values they
    cover (a plan of any kind: vectors of vectors nest), straight into the buffer."""

    def __init__(self, gid: h5g.GroupID, datatype: Datatype, attrs: dict[str, Any], flat: Plan):
        self.oid = gid
        self.datatype = datatype
        self.attrs = attrs
        self.cl = child(gid, "cumulative_length")
        if not isinstance(self.cl, h5d.DatasetID) or len(self.cl.shape) != 1:
            raise LH5DecodeError(
                "cumulative_length must be a 1-d dataset", file=self.file, obj=self.path
            )
        self.cl_type = self.cl.get_type()
        self.cl_rows = self.cl.shape[0]
        stored = self.cl.dtype
        if stored.kind not in "iu":
            raise LH5DecodeError(
                f"cumulative_length must be 1-d integers, found {stored}",
                file=self.file,
                obj=self.path,
            )
        self.cl_dtype = stored  # kept (uint32 in older files), as LEGEND's reader does
        self.flat = flat

    def n_rows(self) -> int:
        return self.cl_rows

    def members(self) -> list[Plan]:
        return [self.flat]

    def new(self, n: int) -> LGDO:
        return VectorOfVectors(
            flattened_data=self.flat.new(0),
            cumulative_length=Array(np.zeros(n, self.cl_dtype)),
            attrs=dict(self.attrs),
        )

    def read_into(self, out: LGDO, rows: Rows, pos: int) -> None:
        assert isinstance(out, VectorOfVectors)
        try:
            ends, flat_rows = self.parts(rows)
        except FAILURES as err:
            raise read_failed(self, err) from err
        cl = out.cumulative_length
        offset = int(cl.nda[pos - 1]) if pos > 0 else 0
        n = n_selected(rows)
        cl.resize(pos + n)
        if len(ends) and offset + int(ends[-1]) > np.iinfo(cl.nda.dtype).max:
            cl.nda = cl.nda.astype(np.int64)
        np.add(ends, offset, out=cl.nda[pos:], casting="unsafe")
        self.flat.read_into(out.flattened_data, flat_rows, offset)

    def parts(self, rows: Rows) -> tuple[np.ndarray, Rows]:
        """(cumulative lengths of the selected rows from 0, rows of flattened_data they
        cover), the stored lengths checked first (:func:`checked_cumulative_length`)."""
        n_flat = self.flat.n_rows()
        if isinstance(rows, slice):
            start, stop = rows.start, rows.stop
            if stop <= start:
                return np.zeros(0, np.int64), slice(0, 0)
            first = max(start - 1, 0)
            cl = self._lengths(slice(first, stop), first, n_flat)
            base = int(cl[0]) if start > 0 else 0
            cl = cl[1:] if start > 0 else cl
            return cl - base, slice(base, int(cl[-1]))
        if len(rows) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        lo, hi = int(rows.min()), int(rows.max()) + 1
        first = max(lo - 1, 0)
        span = self._lengths(slice(first, hi), first, n_flat)
        ends_all = span[1:] if lo > 0 else span
        starts_all = span[:-1] if lo > 0 else np.concatenate([[0], span[:-1]])
        starts, ends = starts_all[rows - lo], ends_all[rows - lo]
        lengths = ends - starts
        cl = np.cumsum(lengths)
        check_memory(8 * int(cl[-1]), "the vectors selected", self.file, self.path)
        # flattened rows: the concatenation of [starts[i], ends[i])
        flat = np.repeat(starts - np.concatenate([[0], cl[:-1]]), lengths) + np.arange(
            int(cl[-1]) if len(cl) else 0
        )
        return cl, flat

    def _lengths(self, rows: slice, first: int, n_flat: int | None) -> np.ndarray:
        check_rows(self.cl_rows, rows, self)
        values = np.empty(rows.stop - rows.start, self.cl_dtype)
        read_into(self.cl, rows, values, (self.cl_rows,))
        return checked_cumulative_length(values, first, n_flat, self.file, self.path)

    def rebind(self, oid: h5g.GroupID | h5d.DatasetID) -> VectorPlan:
        if not isinstance(oid, h5g.GroupID):
            raise LayoutChanged
        try:
            cl = h5d.open(oid, b"cumulative_length")
            flat = self.flat.rebind(self.flat.member(oid, b"flattened_data"))
        except KeyError:
            raise LayoutChanged from None
        if len(cl.shape) != 1 or cl.get_type() != self.cl_type:
            raise LayoutChanged
        plan = object.__new__(VectorPlan)
        plan.__dict__.update(self.__dict__)
        plan.oid, plan.cl, plan.cl_rows, plan.flat = oid, cl, cl.shape[0], flat
        return plan

    def layout(self) -> tuple:
        return ("vov", self.datatype, self.cl_dtype, self.flat.layout())


def checked_cumulative_length(
    values: np.ndarray, first: int, n_flat: int | None, file: str, obj: str
) -> np.ndarray:
    """Stored ``cumulative_length`` values (from row ``first`` on) as int64, once checked to
    be integers, non-negative, non-decreasing and within the ``n_flat`` values of
    ``flattened_data``; else :class:`~tierflow.errors.LH5DecodeError`.

    >>> checked_cumulative_length(np.array([2, 5, 5], "uint32"), 0, 5, "f.lh5", "v").tolist()
    [2, 5, 5]
    >>> checked_cumulative_length(np.array([2, 1]), 3, 5, "f.lh5", "v")
    Traceback (most recent call last):
    ...
    tierflow.errors.LH5DecodeError: f.lh5:/v: cumulative_length decreases at row 4 (1 after 2)
    """
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise LH5DecodeError(
            f"cumulative_length must be 1-d integers, found {values.dtype} {values.shape}",
            file=file,
            obj=obj,
        )
    if not len(values):
        return values.astype(np.int64)
    if values.dtype == np.uint64 and values.max() > np.iinfo(np.int64).max:
        raise LH5DecodeError(f"cumulative_length reaches {values.max()}", file=file, obj=obj)
    cl = values.astype(np.int64, copy=False)
    if cl[0] < 0:
        raise LH5DecodeError(f"cumulative_length is negative ({cl[0]})", file=file, obj=obj)
    steps = np.diff(cl)
    if len(steps) and steps.min() < 0:
        i = int(np.argmax(steps < 0))
        raise LH5DecodeError(
            f"cumulative_length decreases at row {first + i + 1} ({cl[i + 1]} after {cl[i]})",
            file=file,
            obj=obj,
        )
    if n_flat is not None and cl[-1] > n_flat:
        raise LH5DecodeError(
            f"cumulative_length reaches {cl[-1]}, past the {n_flat} rows of flattened_data",
            file=file,
            obj=obj,
        )
    return cl


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
    cl: np.ndarray = obj.cumulative_length.nda.astype(cl_dtype, copy=False)
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

    def plan(
        self,
        oid: h5g.GroupID | h5d.DatasetID,
        datatype: Datatype,
        attrs: dict[str, Any],
        mask: FieldMask | None,
        decompress: bool,
    ) -> VectorPlan:
        if not isinstance(oid, h5g.GroupID):
            raise kind_error(oid, "vector_of_vectors", "a group")
        flat = plan_of(child(oid, "flattened_data"), None, decompress)
        return VectorPlan(oid, datatype, attrs, flat)

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
