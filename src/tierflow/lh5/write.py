"""Writing tierflow data objects to LH5 files, safely.

A write to a path holds the file's write lock, so concurrent writers take turns. A new file
(or ``wo_mode="overwrite_file"``) is written to a temporary file and renamed into place.
Changes to an existing file go through an undo journal on disk, rolled back if anything
fails or the process is killed, so earlier rows stay readable and intact (see
:mod:`.safewrite`). Objects that would leave a damaged table (columns of different lengths)
are refused before anything is written.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import h5py
import numpy as np

from ..errors import LH5Error, LH5WriteError
from ..types import (
    LGDO,
    Array,
    ArrayOfEncodedEqualSizedArrays,
    ArrayOfEqualSizedArrays,
    Histogram,
    Scalar,
    Struct,
    Table,
    VectorOfEncodedVectors,
    VectorOfVectors,
)
from . import fastwrite
from .codecs import WaveformCodec, codec_by_name, codec_from_attrs, encode
from .files import open_file
from .journal import _MISSING, Journal
from .read import n_rows_of
from .safewrite import changing, locked_target, open_for_writing_here, write_new_file
from .settings import DEFAULT_CHUNK_BYTES, CompressionSpec, chunk_shape, hdf5_filters

WO_MODES = {
    "w": "write_safe",
    "write_safe": "write_safe",
    "a": "append",
    "append": "append",
    "o": "overwrite",
    "overwrite": "overwrite",
    "of": "overwrite_file",
    "overwrite_file": "overwrite_file",
    "ac": "append_column",
    "append_column": "append_column",
}
#: object attributes that steer the writer and are not stored
_WRITER_ATTRS = ("datatype", "compression", "hdf5_settings")


@dataclass
class _Plan:
    """What one ``write`` call does, passed down the recursion."""

    mode: str
    write_start: int
    compression: CompressionSpec
    codecs: Mapping[str, Any]
    chunk_bytes: int
    journal: Journal
    file: str


def write(
    obj: LGDO,
    name: str,
    lh5_file: str | os.PathLike | h5py.File,
    group: str | h5py.Group = "/",
    start_row: int = 0,
    n_rows: int | None = None,
    wo_mode: str = "append",
    write_start: int = 0,
    compression: CompressionSpec = None,
    codecs: Mapping[str, Any] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> None:
    """Write ``obj`` as ``group/name`` in ``lh5_file``.

    ``wo_mode``: ``write_safe`` (refuse to replace anything), ``append`` (add rows to
    an existing object, or create it), ``overwrite`` (replace the rows from ``write_start``
    on: the object ends after the new rows, as with LEGEND's writer; ``write_start`` past
    the stored rows is refused), ``overwrite_file`` (start a new file), ``append_column``
    (add columns to an existing table). Short forms ``w``, ``a``, ``o``, ``of``, ``ac`` work
    too. ``start_row``/``n_rows`` pick the rows of ``obj`` to write. A table whose columns
    differ in length is refused before anything is written.

    Written to a path, the write cannot lose what the file held (see :mod:`.safewrite`):
    concurrent writers of one file take turns (waiting up to
    :data:`~tierflow.lh5.settings.WRITE_LOCK_TIMEOUT` seconds), and a write that fails or
    whose process is killed is undone (at once, or when the file is next opened). Written
    into an open ``h5py.File``, a failed write is undone, but a kill is not.

    ``compression`` is the HDF5 filter for every dataset (see
    :func:`~tierflow.lh5.settings.hdf5_filters`; default gzip-4 + shuffle). Waveform
    columns are encoded with a codec named in ``codecs`` (``{"waveform/values":
    RadwareSigcompress(codec_shift=-32768)}``, glob patterns of paths inside
    ``obj``) or in the column's ``attrs["compression"]``.

    >>> import tempfile, os, numpy as np
    >>> from tierflow.types import Table
    >>> from tierflow.lh5 import read
    >>> path = os.path.join(tempfile.mkdtemp(), "w.lh5")
    >>> write(Table({"a": np.arange(3)}), "tb", path, wo_mode="of")
    >>> write(Table({"a": np.arange(2)}), "tb", path)  # appends
    >>> read("tb/a", path).nda.tolist()
    [0, 1, 2, 0, 1]
    """
    mode = WO_MODES.get(wo_mode)
    if mode is None:
        raise LH5WriteError(
            f"unknown wo_mode {wo_mode!r}; use one of {sorted(set(WO_MODES.values()))}",
            file=_name_of(lh5_file),
            obj=name,
        )
    if not isinstance(obj, LGDO):
        raise LH5WriteError(
            f"can only write tierflow data objects, not {type(obj).__name__}",
            file=_name_of(lh5_file),
            obj=name,
        )
    _check_lengths(obj, _name_of(lh5_file), str(name))
    obj = _rows_of(obj, start_row, n_rows)
    group_path = group.name if isinstance(group, h5py.Group) else str(group)
    full = "/".join(p for p in (group_path.strip("/"), str(name).strip("/")) if p)
    if not full:
        raise LH5WriteError("an object needs a name", file=_name_of(lh5_file))

    def run(h5f: h5py.File, journal: Journal) -> bool:
        """Write; ``True`` when the fast path wrote a whole new object."""
        plan = _Plan(
            mode, write_start, compression, codecs or {}, chunk_bytes, journal, _name_of(lh5_file)
        )
        parent_path, _, leaf = full.rpartition("/")
        groups = _ensure_groups(h5f, parent_path, journal)
        parent = groups[-1]
        fast = _write_fast(parent, leaf, obj, plan)
        if not fast:
            _write_object(parent, leaf, obj, plan, inner_path="")
        _refresh_struct_datatypes(groups, journal)
        return fast

    if isinstance(lh5_file, h5py.File):
        _journaled(lh5_file, run, flush_fast=False)
        return
    path = os.fspath(lh5_file)
    with locked_target(path):
        if mode == "overwrite_file" or not os.path.exists(path):
            write_new_file(path, lambda h5f: run(h5f, Journal()))
        elif open_for_writing_here(path):  # HDF5 shares that open file: write through it
            h5f = open_file(path, "a")
            try:
                _journaled(h5f, run)
            finally:
                h5f.close()
        else:
            with changing(path) as h5f:
                journal = Journal()
                run(h5f, journal)
                journal.commit()


def _name_of(lh5_file: Any) -> str:
    return lh5_file.filename if isinstance(lh5_file, h5py.File) else os.fspath(lh5_file)


def _check_lengths(obj: LGDO, file: str, path: str) -> None:
    """Refuse, before anything is written, a table whose columns differ in length (from each
    other or from the table's row count) and a vector of vectors whose lengths point past its
    data, here or in anything it holds: written, they would leave a damaged table."""
    if isinstance(obj, Table):
        lengths = {key: len(column) for key, column in obj.items()}
        if any(n != len(obj) for n in lengths.values()):
            shown = ", ".join(f"{key!r}: {n}" for key, n in lengths.items())
            raise LH5WriteError(
                f"the table's columns differ in length ({shown} rows; the table has "
                f"{len(obj)}); nothing was written",
                file=file,
                obj=path,
            )
    if isinstance(obj, Struct):
        for key, value in obj.items():
            _check_lengths(value, file, f"{path}/{key}")
    elif isinstance(obj, VectorOfVectors):
        cl = obj.cumulative_length.nda
        if len(cl) and int(cl[-1]) > len(obj.flattened_data):
            raise LH5WriteError(
                f"cumulative_length ends at {int(cl[-1])} but flattened_data has "
                f"{len(obj.flattened_data)} values; nothing was written",
                file=file,
                obj=path,
            )
        _check_lengths(obj.flattened_data, file, f"{path}/flattened_data")
    elif isinstance(obj, ArrayOfEncodedEqualSizedArrays | VectorOfEncodedVectors):
        _check_lengths(obj.encoded_data, file, f"{path}/encoded_data")


def _rows_of(obj: LGDO, start_row: int, n_rows: int | None) -> LGDO:
    if (start_row == 0 and n_rows is None) or not hasattr(obj, "take"):
        return obj
    stop = len(obj) if n_rows is None else min(len(obj), start_row + n_rows)
    return obj.take(slice(start_row, stop))


def _journaled(h5f: h5py.File, run, flush_fast: bool = True) -> None:
    """Run ``run`` with a journal that undoes its changes if it fails. The file is flushed
    afterwards, except after a fast-path write when ``flush_fast`` is false (an open file given
    by the caller: flushing it is the caller's business)."""
    journal = Journal()
    try:
        fast = run(h5f, journal)
        journal.commit()
        if flush_fast or not fast:
            h5f.flush()
    except BaseException as err:
        journal.rollback()
        h5f.flush()
        if isinstance(err, LH5Error) or not isinstance(err, Exception):
            raise
        raise LH5WriteError(
            f"write failed ({type(err).__name__}: {err}); the file was left as it was",
            file=h5f.filename,
        ) from err


class BatchWriter:
    """Writes many objects into one open file that is thrown away if any write fails (such as
    the temporary file of :func:`~tierflow.dsp.build_dsp`), each as ``write(obj, name, h5f)``
    would.

    A new object that the fast path can write goes that way without a journal (nothing is
    undone in a file that is thrown away), and the ``struct{...}`` datatypes of the groups
    above such objects are brought up to date once, by :meth:`close`, rather than after every
    object (listing a group of hundreds of channels each time). Anything else is left to
    :func:`write`. Until :meth:`close`, those datatypes may be out of date.

    >>> import tempfile, os, numpy as np
    >>> from tierflow.types import Table
    >>> from tierflow.lh5 import read
    >>> path = os.path.join(tempfile.mkdtemp(), "b.lh5")
    >>> with h5py.File(path, "w") as h5f:
    ...     writer = BatchWriter(h5f)
    ...     for ch in ("ch1", "ch2"):
    ...         writer.write(Table({"a": np.arange(3)}), f"{ch}/dsp")
    ...     writer.close()
    >>> read("ch2/dsp/a", path).nda.tolist(), h5py.File(path).attrs["datatype"]
    ([0, 1, 2], 'struct{ch1,ch2}')
    """

    def __init__(self, h5f: h5py.File):
        self.h5f = h5f
        self.file = h5f.filename
        #: the groups above objects written here, by path
        self._groups: dict[str, h5py.Group] = {}

    def write(self, obj: LGDO, name: str) -> None:
        """Write ``obj`` as ``name`` (the fast way if it is new, else with :func:`write`)."""
        full = str(name).strip("/")
        if not (isinstance(obj, LGDO) and full and self._write_new(obj, full)):
            write(obj, name, self.h5f)

    def _write_new(self, obj: LGDO, full: str) -> bool:
        """Write ``obj`` as the new object ``full`` if the fast path can."""
        parent_path, _, leaf = full.rpartition("/")
        journal = Journal()  # not kept: nothing is undone in a file that is thrown away
        try:
            groups = _ensure_groups(self.h5f, parent_path, journal)
            plan = _Plan("append", 0, None, {}, DEFAULT_CHUNK_BYTES, journal, self.file)
            written = _write_fast(groups[-1], leaf, obj, plan)
        except LH5Error:
            raise
        except Exception as err:
            raise LH5WriteError(
                f"write failed ({type(err).__name__}: {err})", file=self.file, obj=full
            ) from err
        if written:
            for group in groups:
                self._groups.setdefault(group.name, group)
        return written

    def close(self) -> None:
        """Bring the datatypes of the groups above the objects written up to date."""
        _refresh_struct_datatypes(list(self._groups.values()), Journal())
        self._groups.clear()


# --- groups -----------------------------------------------------------------------------------
def _ensure_groups(h5f: h5py.File, path: str, journal: Journal) -> list[h5py.Group]:
    """The groups from the root down to ``path``, created where missing."""
    node = h5f
    groups = [node]
    for part in (p for p in path.split("/") if p):
        if part not in node:
            node = node.create_group(part)
            journal.created(groups[-1], part)
        else:
            node = node[part]
        if not isinstance(node, h5py.Group):
            raise LH5WriteError(
                "is a dataset, not a group to write into", file=h5f.filename, obj=node.name
            )
        groups.append(node)
    return groups


def _set_attr(obj: h5py.HLObject, key: str, value: Any, journal: Journal) -> None:
    journal.setting_attr(obj, key)
    obj.attrs[key] = value.encode() if isinstance(value, str) else value


def _refresh_struct_datatypes(groups: list[h5py.Group], journal: Journal) -> None:
    """Keep ``struct{...}`` on the root and on the groups above the written object true.

    Read and written with h5py's low-level calls: the root of a file with hundreds of
    channels is listed after every write."""
    for node in reversed(groups):
        try:
            current, children = _datatype_and_children(node.id)
            low_level = True
        except Exception:  # names that are not UTF-8, unusual attributes: through h5py
            current = node.attrs.get("datatype")
            children = list(node.keys())
            low_level = False
        current = current.decode() if isinstance(current, bytes) else current
        if current is not None and not str(current).startswith("struct"):
            continue
        children = sorted(k for k in children if ".tierflow-replaced-" not in k)
        wanted = f"struct{{{','.join(children)}}}"
        if current == wanted:
            continue
        if not low_level:
            _set_attr(node, "datatype", wanted, journal)
            continue
        # what _set_attr does, without reading the attribute again
        journal.steps.append(("attr", (node, "datatype", _MISSING if current is None else current)))
        if current is not None:
            h5py.h5a.delete(node.id, b"datatype")
        fastwrite.write_attrs(node.id, {"datatype": wanted})


def _datatype_and_children(gid: h5py.h5g.GroupID) -> tuple[Any, list[str]]:
    """The ``datatype`` attribute of a group (``None`` if absent) and its members' names."""
    current = None
    if h5py.h5a.exists(gid, b"datatype"):
        current = fastwrite.read_vlen_str_attr(gid, b"datatype")
    names: list[bytes] = []
    gid.links.iterate(names.append)
    return current, [n.decode("utf8") for n in names]


def _write_attrs(h5obj: h5py.HLObject, obj: LGDO, journal: Journal | None = None) -> None:
    for key, value in obj.getattrs(datatype=True).items():
        if key in _WRITER_ATTRS[1:] or key == "enum":
            continue
        if not isinstance(
            value, str | bytes | int | float | np.integer | np.floating | np.bool_ | bool
        ):
            raise LH5WriteError(
                f"attribute {key!r} is a {type(value).__name__}; LH5 attributes are strings or numbers",
                file=h5obj.file.filename,
                obj=h5obj.name,
            )
        if journal is None:
            h5obj.attrs[key] = value.encode() if isinstance(value, str) else value
        else:
            _set_attr(h5obj, key, value, journal)


# --- the fast path: a whole new object -------------------------------------------------------
def _write_fast(parent: h5py.Group, name: str, obj: LGDO, plan: _Plan) -> bool:
    """Write ``obj`` as a new ``parent/name`` with :mod:`.fastwrite` if it can: the object does
    not exist yet and holds only numeric arrays (see :func:`.fastwrite.plan_table`). The
    result is the file the general writer makes; ``False`` leaves the work to it."""
    if plan.mode == "append_column" or isinstance(obj, Histogram):
        return False
    try:
        name_b = name.encode("utf8")
        if parent.id.links.exists(name_b):
            return False
        node = fastwrite.plan_table(
            obj,
            name,
            lambda o, inner: _codec_for(o, plan, inner),
            storable,
            lambda o: _filters_of(o, plan),
            plan.file,
        )
    except Exception:
        return False  # the general writer says what is wrong
    if node is None:
        return False
    plan.journal.created(parent, name)  # first, so a half-written object is removed too
    fastwrite.write_new(parent, node, chunk_shape, plan.chunk_bytes)
    return True


# --- dispatch ---------------------------------------------------------------------------------
def _codec_for(obj: LGDO, plan: _Plan, inner_path: str) -> Any:
    spec = obj.attrs.get("compression")
    for pattern, codec in plan.codecs.items():
        if fnmatch.fnmatchcase(inner_path, pattern.strip("/")):
            spec = codec
    if (
        spec is None
        or isinstance(spec, dict)
        or (isinstance(spec, str) and spec in ("gzip", "lzf", "zstd", "lz4", "blosc", "none"))
    ):
        return None
    if isinstance(spec, WaveformCodec):
        return spec
    codec_by_name(str(spec))  # an unknown name fails here, naming the known codecs
    return str(spec)


def _write_object(parent: h5py.Group, name: str, obj: LGDO, plan: _Plan, inner_path: str) -> None:
    exists = name in parent
    if isinstance(obj, ArrayOfEqualSizedArrays | VectorOfVectors):
        stored_codec = (
            parent[name].attrs.get("codec") if exists and _appending(plan, exists) else None
        )
        codec = (
            codec_from_attrs(parent[name].attrs)
            if stored_codec is not None
            else _codec_for(obj, plan, inner_path)
        )
        if codec is not None:
            obj = encode(obj, codec)
    if exists and plan.mode == "write_safe":
        raise LH5WriteError(
            "object exists; use wo_mode='append', 'overwrite' or 'overwrite_file'",
            file=plan.file,
            obj=f"{parent.name}/{name}",
        )
    if isinstance(obj, Table):
        _write_table(parent, name, obj, plan, inner_path, exists)
    elif isinstance(obj, Histogram):  # bins are replaced as a whole, never appended
        _write_struct(parent, name, obj, replace(plan, mode="overwrite_file"), inner_path, exists)
    elif isinstance(obj, Struct):
        _write_struct(parent, name, obj, plan, inner_path, exists)
    elif plan.mode == "append_column":
        raise LH5WriteError(
            "append_column needs a Table", file=plan.file, obj=f"{parent.name}/{name}"
        )
    elif isinstance(obj, Scalar):
        _write_scalar(parent, name, obj, plan, exists)
    elif isinstance(obj, VectorOfVectors):
        _write_vov(parent, name, obj, plan, inner_path, exists)
    elif isinstance(obj, ArrayOfEncodedEqualSizedArrays | VectorOfEncodedVectors):
        _write_encoded(parent, name, obj, plan, inner_path, exists)
    elif isinstance(obj, Array):
        _write_array(parent, name, obj, plan, exists)
    else:
        raise LH5WriteError(
            f"cannot write a {type(obj).__name__}", file=plan.file, obj=f"{parent.name}/{name}"
        )


def _existing_kind(parent: h5py.Group, name: str) -> str | None:
    raw = parent[name].attrs.get("datatype")
    return raw.decode() if isinstance(raw, bytes) else raw


def _new_group(parent: h5py.Group, name: str, obj: LGDO, plan: _Plan, exists: bool) -> h5py.Group:
    if exists:
        plan.journal.replacing(parent, name)
    group = parent.create_group(name)
    plan.journal.created(parent, name)
    _write_attrs(group, obj)
    return group


def _appending(plan: _Plan, exists: bool) -> bool:
    return exists and (plan.mode == "append" or (plan.mode == "overwrite" and plan.write_start > 0))


# --- scalars and arrays -----------------------------------------------------------------------
def _write_scalar(parent: h5py.Group, name: str, obj: Scalar, plan: _Plan, exists: bool) -> None:
    if exists:
        plan.journal.replacing(parent, name)
    value = obj.value
    if isinstance(value, str):
        ds = parent.create_dataset(name, data=value, dtype=h5py.string_dtype())
    else:
        ds = parent.create_dataset(name, data=np.asarray(value))
    plan.journal.created(parent, name)
    _write_attrs(ds, obj)


def storable(nda: np.ndarray, file: str, path: str) -> np.ndarray:
    """The array as it is stored: bools as uint8, unicode as UTF-8 bytes; others refused."""
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


def _write_array(parent: h5py.Group, name: str, obj: Array, plan: _Plan, exists: bool) -> None:
    path = f"{parent.name}/{name}"
    data = storable(np.ascontiguousarray(obj.nda), plan.file, path)
    if _appending(plan, exists):
        ds = parent[name]
        if not isinstance(ds, h5py.Dataset):
            raise LH5WriteError(
                "exists as a group; cannot append array rows to it", file=plan.file, obj=path
            )
        _check_appendable(ds, data, obj, plan, path)
        start = ds.shape[0] if plan.mode == "append" else plan.write_start
        _check_write_start(start, ds.shape[0], plan, path)
        plan.journal.overwriting(ds, start, min(ds.shape[0], start + len(data)))
        plan.journal.resized(ds)
        ds.resize(start + len(data), axis=0)
        if len(data):
            ds[start:] = data
        return
    if exists:
        plan.journal.replacing(parent, name)
    filters = _filters_of(obj, plan)
    ds = parent.create_dataset(
        name,
        data=data,
        maxshape=(None, *data.shape[1:]),
        chunks=chunk_shape(data.shape, data.dtype.itemsize, plan.chunk_bytes),
        **filters,
    )
    plan.journal.created(parent, name)
    _write_attrs(ds, obj)


def _filters_of(obj: LGDO, plan: _Plan) -> dict[str, Any]:
    """``create_dataset`` keywords for an array: its own settings, else the write's."""
    return hdf5_filters(
        obj.attrs.get(
            "hdf5_settings",
            obj.attrs.get("compression")
            if isinstance(obj.attrs.get("compression"), dict | str)
            else plan.compression,
        )
    )


def _check_write_start(start: int, rows: int, plan: _Plan, path: str) -> None:
    """``wo_mode="overwrite"`` replaces rows from ``write_start`` on (the object ends after the
    new rows, as in LEGEND's writer); starting past the end would leave a gap of made-up rows."""
    if start > rows:
        raise LH5WriteError(
            f"write_start {start} is past the end of the {rows} rows in the file; "
            f"overwrite from row {rows} at most (that appends)",
            file=plan.file,
            obj=path,
        )


def _check_appendable(
    ds: h5py.Dataset, data: np.ndarray, obj: LGDO, plan: _Plan, path: str
) -> None:
    if ds.shape[1:] != data.shape[1:]:
        raise LH5WriteError(
            f"rows of shape {data.shape[1:]} cannot be appended to rows of shape {ds.shape[1:]}",
            file=plan.file,
            obj=path,
        )
    if ds.maxshape[0] is not None:
        raise LH5WriteError(
            "the dataset in the file is not resizable, so rows cannot be appended",
            file=plan.file,
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
                file=plan.file,
                obj=path,
            )
    elif stored != new and not np.can_cast(new, stored, casting="same_kind"):
        raise LH5WriteError(
            f"{new} rows cannot be appended to a {stored} dataset", file=plan.file, obj=path
        )
    existing = ds.attrs.get("datatype")
    existing = existing.decode() if isinstance(existing, bytes) else existing
    if existing is not None and existing != obj.form_datatype():
        raise LH5WriteError(
            f"a {obj.form_datatype()} cannot be appended to a {existing}", file=plan.file, obj=path
        )


# --- vectors ----------------------------------------------------------------------------------
def _write_vov(
    parent: h5py.Group,
    name: str,
    obj: VectorOfVectors,
    plan: _Plan,
    inner_path: str,
    exists: bool,
    cl_dtype: type = np.int64,
) -> None:
    path = f"{parent.name}/{name}"
    cl = obj.cumulative_length.nda.astype(cl_dtype, copy=False)
    if _appending(plan, exists):
        group = parent[name]
        existing = _existing_kind(parent, name)
        if not isinstance(group, h5py.Group) or existing != obj.form_datatype():
            raise LH5WriteError(
                f"a {obj.form_datatype()} cannot be appended to a {existing}",
                file=plan.file,
                obj=path,
            )
        old_cl = group["cumulative_length"]
        start = old_cl.shape[0] if plan.mode == "append" else plan.write_start
        _check_write_start(start, old_cl.shape[0], plan, path)
        offset = int(old_cl[start - 1]) if start > 0 else 0
        new_cl = cl.astype(np.int64) + offset
        if old_cl.dtype.kind in "iu" and (
            not len(new_cl) or new_cl[-1] <= np.iinfo(old_cl.dtype).max
        ):
            new_cl = new_cl.astype(old_cl.dtype)  # the stored type (uint32 in DAQ files) if it fits
        _write_object(
            group,
            "flattened_data",
            obj.flattened_data,
            replace(plan, mode="overwrite", write_start=offset),
            inner_path,
        )
        _write_object(
            group,
            "cumulative_length",
            Array(new_cl),
            replace(plan, mode="overwrite", write_start=start),
            inner_path,
        )
        return
    group = _new_group(parent, name, obj, plan, exists)
    fresh = replace(plan, mode="append", write_start=0)
    _write_object(group, "flattened_data", obj.flattened_data, fresh, inner_path)
    _write_object(group, "cumulative_length", Array(cl), fresh, inner_path)


def _byte_count_dtype(obj: LGDO) -> type:
    """LEGEND's DAQ writer and decoder use uint32 byte counts; wider only when needed."""
    cl = obj.encoded_data.cumulative_length.nda
    return np.uint32 if not len(cl) or cl[-1] < 2**31 else np.int64


def _write_encoded(
    parent: h5py.Group, name: str, obj: LGDO, plan: _Plan, inner_path: str, exists: bool
) -> None:
    path = f"{parent.name}/{name}"
    if _appending(plan, exists):
        group = parent[name]
        stored = {
            k: (v.decode() if isinstance(v, bytes) else v)
            for k, v in group.attrs.items()
            if k in ("codec", "codec_shift")
        }
        given = {k: v for k, v in obj.getattrs().items() if k in ("codec", "codec_shift")}
        if _existing_kind(parent, name) != obj.form_datatype() or {
            k: str(float(v)) if k == "codec_shift" else v for k, v in stored.items()
        } != {k: str(float(v)) if k == "codec_shift" else v for k, v in given.items()}:
            raise LH5WriteError(
                f"encoded rows ({given}) cannot be appended to {stored}", file=plan.file, obj=path
            )
        if isinstance(obj, ArrayOfEncodedEqualSizedArrays) and int(
            group["decoded_size"][()]
        ) != int(obj.decoded_size.value):
            raise LH5WriteError(
                f"waveforms of {obj.decoded_size.value} samples cannot be appended to ones of {int(group['decoded_size'][()])}",
                file=plan.file,
                obj=path,
            )
        _write_vov(
            group, "encoded_data", obj.encoded_data, plan, inner_path, True, _byte_count_dtype(obj)
        )
        if isinstance(obj, VectorOfEncodedVectors):
            _write_array(group, "decoded_size", obj.decoded_size, plan, True)
        return
    group = _new_group(parent, name, obj, plan, exists)
    fresh = replace(plan, mode="append", write_start=0, compression=False, codecs={})
    _write_vov(
        group, "encoded_data", obj.encoded_data, fresh, inner_path, False, _byte_count_dtype(obj)
    )
    _write_object(
        group,
        "decoded_size",
        obj.decoded_size,
        replace(plan, mode="append", write_start=0, codecs={}),
        inner_path,
    )


# --- structs and tables ---------------------------------------------------------------------
def _stored_rows(group: h5py.Group, plan: _Plan, path: str) -> int:
    """The rows of a stored table; its columns must agree (a table damaged by another writer
    is not made worse)."""
    lengths = {}
    for key in group:  # plain datasets through the low-level API: tables are checked per append
        oid = h5py.h5o.open(group.id, key.encode("utf8"))
        plain = isinstance(oid, h5py.h5d.DatasetID) and oid.shape
        lengths[key] = oid.shape[0] if plain else n_rows_of(group[key])
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{key!r}: {n}" for key, n in sorted(lengths.items()))
        raise LH5WriteError(
            f"the stored table's columns differ in length ({shown} rows); it is damaged, "
            "so nothing was written",
            file=plan.file,
            obj=path,
        )
    return next(iter(lengths.values()), 0) or 0


def _write_struct(
    parent: h5py.Group, name: str, obj: Struct, plan: _Plan, inner_path: str, exists: bool
) -> None:
    if exists and plan.mode in ("append", "overwrite") and isinstance(parent[name], h5py.Group):
        group = parent[name]
        for key, value in obj.items():
            _write_object(group, key, value, plan, f"{inner_path}/{key}".strip("/"))
        names = sorted(k for k in group.keys() if ".tierflow-replaced-" not in k)
        _set_attr(group, "datatype", f"{obj.datatype_name()}{{{','.join(names)}}}", plan.journal)
        return
    group = _new_group(parent, name, obj, plan, exists)
    fresh = replace(plan, mode="append", write_start=0)
    for key, value in obj.items():
        _write_object(group, key, value, fresh, f"{inner_path}/{key}".strip("/"))


def _write_table(
    parent: h5py.Group, name: str, obj: Table, plan: _Plan, inner_path: str, exists: bool
) -> None:
    path = f"{parent.name}/{name}"
    if plan.mode == "append_column":
        if not exists:
            raise LH5WriteError(
                "append_column needs an existing table to add columns to", file=plan.file, obj=path
            )
        group = parent[name]
        existing = _existing_kind(parent, name) or ""
        if not existing.startswith("table"):
            raise LH5WriteError(
                f"append_column needs a table, found {existing or 'no datatype'}",
                file=plan.file,
                obj=path,
            )
        n_existing = n_rows_of(group)
        clash = sorted(set(obj.keys()) & set(group.keys()))
        if clash:
            raise LH5WriteError(
                f"column(s) {clash} exist already; append_column adds new columns only",
                file=plan.file,
                obj=path,
            )
        if len(obj) != n_existing:
            raise LH5WriteError(
                f"new columns have {len(obj)} rows but the table has {n_existing}",
                file=plan.file,
                obj=path,
            )
        fresh = replace(plan, mode="append", write_start=0)
        for key, value in obj.items():
            _write_object(group, key, value, fresh, f"{inner_path}/{key}".strip("/"))
        names = sorted(group.keys())
        _set_attr(group, "datatype", f"table{{{','.join(names)}}}", plan.journal)
        return
    if _appending(plan, exists):
        group = parent[name]
        stored = set(group.keys())
        if stored != set(obj.keys()):
            raise LH5WriteError(
                f"cannot append a table with columns {sorted(obj.keys())} to one with {sorted(stored)}",
                file=plan.file,
                obj=path,
            )
        rows = _stored_rows(group, plan, path)
        if plan.mode == "overwrite":
            _check_write_start(plan.write_start, rows, plan, path)
        for key, value in obj.items():
            _write_object(group, key, value, plan, f"{inner_path}/{key}".strip("/"))
        return
    _write_struct(parent, name, obj, replace(plan, mode="overwrite_file"), inner_path, exists)
