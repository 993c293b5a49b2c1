"""Vectors of vectors at any depth: ``cumulative_length`` and ``flattened_data``."""

from __future__ import annotations

from typing import Any

import numpy as np
from h5py import h5d, h5g

from ...errors import LH5DecodeError
from ...types import LGDO, Array, VectorOfVectors
from ..datatype import Datatype
from ..fieldmask import FieldMask
from ..guards import FAILURES, check_memory
from .base import LayoutChanged, Plan, Rows, Serializer, kind_error, n_selected, read_failed
from .datasets import check_rows, read_into
from .describe import child, plan_of

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


class VectorSerializer(Serializer):
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
