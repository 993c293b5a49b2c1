"""Rows of HDF5 datasets read straight into numpy memory: the one place every kind's plan
reads data through.

Row ranges are read with one hyperslab read into the caller's memory (h5py's low-level
``DatasetID.read``, no intermediate array); index arrays read one span when it is dense,
else only the rows asked for.
"""

from __future__ import annotations

import math

import h5py
import numpy as np
from h5py import h5d, h5s

from ...errors import LH5DecodeError
from ..guards import SMALL_ALLOCATION, check_memory
from .base import Plan, Rows

#: an index array is read as the span it covers when that is at most this many times longer
SPAN_FACTOR = 4
#: ... or at most this many rows
SPAN_MIN = 4096


def plain_dtype(dsid: h5d.DatasetID) -> np.dtype | None:
    """The numpy dtype rows of ``dsid`` are read into with :func:`read_into`: numbers, bools
    and fixed-width byte strings; ``None`` for anything h5py converts on the way (variable-
    length strings, enums with metadata, compounds), which :func:`read_converted` reads."""
    dtype = dsid.dtype
    if dtype.kind == "S" and not dtype.fields and not dtype.subdtype:
        return np.dtype(dtype.str)  # h5py marks fixed-width strings with their encoding
    if dtype.kind not in "biufc" or dtype.metadata or dtype.fields or dtype.subdtype:
        return None
    return dtype


def check_rows(total: int, rows: Rows, plan: Plan) -> None:
    """Refuse rows past the ``total`` rows of ``plan``'s dataset (a table whose columns differ
    in length); the names in the message are looked up only then."""
    stop = rows.stop if isinstance(rows, slice) else (int(rows.max()) + 1 if len(rows) else 0)
    if stop > total:
        raise LH5DecodeError(
            f"rows up to {stop} asked of a dataset of {total} rows (table columns differ "
            "in length?)",
            file=plan.file,
            obj=plan.path,
        )


def read_into(
    dsid: h5d.DatasetID, rows: Rows, out: np.ndarray, shape: tuple[int, ...] | None = None
) -> None:
    """Read ``rows`` of the dataset into ``out`` (C-contiguous, ``len(out)`` rows, the
    dataset's :func:`plain_dtype` or a same-size view of it: bools are read as their bytes).

    >>> import h5py, io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> ds = f.create_dataset("x", data=np.arange(10.0))
    >>> out = np.empty(3)
    >>> read_into(ds.id, slice(2, 5), out); out.tolist()
    [2.0, 3.0, 4.0]
    >>> read_into(ds.id, np.array([9, 0, 9]), out); out.tolist()
    [9.0, 0.0, 9.0]
    """
    memory = _memory(out, dsid)
    if isinstance(rows, slice):
        n = rows.stop - rows.start
        if n <= 0 or out.size == 0:
            return
        if shape is None:
            shape = dsid.shape
        if rows.start == 0 and n == shape[0]:
            dsid.read(h5s.ALL, h5s.ALL, memory)
            return
        space = dsid.get_space()
        space.select_hyperslab((rows.start,) + (0,) * (len(shape) - 1), (n, *shape[1:]))
        dsid.read(h5s.create_simple(out.shape), space, memory)
        return
    if len(rows) == 0 or out.size == 0:
        return
    lo, hi = int(rows.min()), int(rows.max()) + 1
    if hi - lo <= max(SPAN_FACTOR * len(rows), SPAN_MIN):
        span = np.empty((hi - lo, *out.shape[1:]), out.dtype)
        read_into(dsid, slice(lo, hi), span, shape)
        np.take(span, rows - lo, axis=0, out=out)
        return
    unique, inverse = np.unique(rows, return_inverse=True)
    picked = np.empty((len(unique), *out.shape[1:]), out.dtype)
    if out.ndim == 1:
        space = dsid.get_space()
        space.select_elements(unique.reshape(-1, 1))
        dsid.read(h5s.create_simple(picked.shape), space, _memory(picked, dsid))
    else:  # whole rows of a 2-d or deeper dataset: h5py builds the selection
        picked[...] = h5py.Dataset(dsid)[unique]
    np.take(picked, inverse, axis=0, out=out)


def _memory(out: np.ndarray, dsid: h5d.DatasetID) -> np.ndarray:
    """Bools stored as bytes are read into the bool array's bytes."""
    return out.view(np.uint8) if out.dtype == bool and dsid.dtype != bool else out


def new_rows(plan: Plan, row_shape: tuple[int, ...], n: int, dtype: np.dtype) -> np.ndarray:
    """Uninitialised memory for ``n`` rows of ``plan``'s dataset, refused when it cannot fit."""
    nbytes = n * math.prod(row_shape) * dtype.itemsize
    if nbytes >= SMALL_ALLOCATION:  # the names, looked up only for a large allocation
        check_memory(nbytes, f"{n} rows of shape {row_shape}", plan.file, plan.path)
    return np.empty((n, *row_shape), dtype)


def read_converted(ds: h5d.DatasetID, rows: Rows) -> np.ndarray:
    """Rows of a dataset whose type h5py converts (variable-length strings and the like),
    through h5py's high-level indexing."""
    dataset = h5py.Dataset(ds)
    if not ds.shape:
        return np.asarray(dataset[()])
    if isinstance(rows, slice):
        return dataset[rows.start : rows.stop]
    if len(rows) == 0:
        return dataset[0:0]
    unique, inverse = np.unique(rows, return_inverse=True)
    return dataset[unique][inverse]
