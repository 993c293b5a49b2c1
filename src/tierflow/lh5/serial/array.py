"""Arrays: ``array``, ``fixedsize_array``, ``array_of_equalsized_arrays`` (and arrays of detector ids), one dataset each."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np
from h5py import h5d, h5g

from ...errors import LH5DecodeError, LH5WriteError
from ...types import (
    LGDO,
    Array,
    ArrayOfDetectorIDs,
    ArrayOfEqualSizedArrays,
    FixedSizeArray,
)
from ..datatype import Datatype
from ..direct import DirectRows, direct_rows
from ..fieldmask import FieldMask
from ..guards import FAILURES
from ..settings import chunk_shape, hdf5_filters
from .attrs import store_attrs, stored_attrs
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
from .datasets import check_rows, new_rows, plain_dtype, read_converted, read_into
from .dispatch import appends, check_write_start, codec_for

# --- reading ----------------------------------------------------------------------------------


class ArrayPlan(Plan):
    """Reads an array dataset: rows straight into the array's memory.

    Numbers, bools and fixed-width strings are read by :func:`~.datasets.read_into` (bools
    stored as bytes are read as their bytes and made 0/1 in place); anything h5py converts
    (variable-length strings) through :func:`~.datasets.read_converted`.
    """

    def __init__(self, dsid: h5d.DatasetID, datatype: Datatype, attrs: dict[str, Any]):
        self.oid = dsid
        self.datatype = datatype
        self.attrs = attrs
        if not dsid.shape:
            raise LH5DecodeError(
                f"an {datatype.kind} needs rows, found a dataset of shape ()",
                file=self.file,
                obj=self.path,
            )
        if datatype.kind == "array_of_equalsized_arrays" and len(dsid.shape) < 2:
            raise LH5DecodeError(
                f"an array_of_equalsized_arrays must be 2-d, found shape {dsid.shape}",
                file=self.file,
                obj=self.path,
            )
        self._shape: tuple[int, ...] | None = dsid.shape
        self.row_shape = dsid.shape[1:]
        self.tid = dsid.get_type()
        self.stored = plain_dtype(dsid)
        element = datatype.element or ""
        self.bools = element == "bool"
        self.memory: np.dtype | None
        if self.bools:
            self.memory = np.dtype(bool)
        elif self.stored is not None:
            self.memory = self.stored
        else:
            self.memory = None  # known once read (h5py converts)
        self.attrs = self.stored_attrs(attrs)

    def stored_attrs(self, stored: dict[str, Any]) -> dict[str, Any]:
        element = self.datatype.element or ""
        if element.startswith("enum"):
            stored["enum"] = element  # the labels, as LEGEND's reader gives them
        return stored

    def n_rows(self) -> int:
        return self.shape[0]

    def new(self, n: int) -> LGDO:
        if self.memory is None:
            empty = self._converted(slice(0, 0))
            return self._make(np.empty((n, *empty.shape[1:]), empty.dtype))
        return self._make(new_rows(self, self.row_shape, n, self.memory))

    def read_into(self, out: LGDO, rows: Rows, pos: int) -> None:
        assert isinstance(out, Array)
        n = n_selected(rows)
        check_rows(self.shape[0], rows, self)
        if self.memory is None or (self.bools and self.stored not in _BOOL_BYTES):
            data = self._converted(rows)
            if data.dtype.kind == "S" and data.dtype.itemsize > out.nda.dtype.itemsize:
                out.nda = out.nda.astype(data.dtype)  # longer strings: widen, never cut
            out.resize(pos + n)
            out.nda[pos:] = data
            return
        out.resize(pos + n)
        target = out.nda[pos : pos + n]
        try:
            read_into(self.oid, rows, target, self.shape)
        except FAILURES as err:
            raise read_failed(self, err) from err
        if self.bools and self.stored != np.dtype(bool):
            np.not_equal(target.view(np.uint8), 0, out=target)

    def _converted(self, rows: Rows) -> np.ndarray:
        data = read_converted(self.oid, rows)
        return data.astype(bool) if self.bools and data.dtype != bool else data

    def _make(self, data: np.ndarray) -> Array:
        kind, attrs = self.datatype.kind, dict(self.attrs)
        if kind == "array_of_equalsized_arrays":
            return ArrayOfEqualSizedArrays(dims=self.datatype.ndim, nda=data, attrs=attrs)
        if kind == "fixedsize_array":
            return FixedSizeArray(data, attrs=attrs)
        if self.datatype.element == "detectorid":
            return ArrayOfDetectorIDs(data, attrs=attrs)
        return Array(data, attrs=attrs)

    @property
    def shape(self) -> tuple[int, ...]:
        """The dataset's shape (looked up when first needed by a rebound plan)."""
        if self._shape is None:
            shape = self.oid.shape
            if not shape or shape[1:] != self.row_shape:
                raise LH5DecodeError(
                    f"rows of shape {shape[1:]} where the tables read before had {self.row_shape}",
                    file=self.file,
                    obj=self.path,
                )
            self._shape = shape
        return self._shape

    def rebind(self, oid: h5g.GroupID | h5d.DatasetID) -> ArrayPlan:
        # the type, always (H5Tequal: 5 us on a dataset just opened, against 16 us for
        # h5py's dtype); the shape now only for rows of more than one value (waveforms of
        # another length are another layout), else when first needed (8 us a dataset)
        if not isinstance(oid, h5d.DatasetID) or oid.get_type() != self.tid:
            raise LayoutChanged
        shape = None
        if self.row_shape:
            shape = oid.shape
            if shape[1:] != self.row_shape:
                raise LayoutChanged
        plan = copy.copy(self)
        vars(plan).update(oid=oid, _shape=shape)
        return plan

    def member(self, gid: h5g.GroupID, name: bytes) -> h5d.DatasetID:
        return h5d.open(gid, name)

    def direct(self) -> DirectRows | None:
        """A reader of these rows past HDF5's chunk cache (``hist``'s direct fill; see
        :mod:`tierflow.lh5.direct`), ``None`` where the dataset is not one it serves."""
        return direct_rows(self.oid)

    def layout(self) -> tuple:
        return ("array", self.datatype, self.memory, self.row_shape)


#: stored types of bools read as their bytes
_BOOL_BYTES = (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(bool))


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

    def plan(
        self,
        oid: h5g.GroupID | h5d.DatasetID,
        datatype: Datatype,
        attrs: dict[str, Any],
        mask: FieldMask | None,
        decompress: bool,
    ) -> ArrayPlan:
        if not isinstance(oid, h5d.DatasetID):
            raise kind_error(oid, datatype.kind, "a dataset")
        return ArrayPlan(oid, datatype, attrs)

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
