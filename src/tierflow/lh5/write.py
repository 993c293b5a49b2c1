"""Writing tierflow data objects to LH5 files, safely.

A write to a path holds the file's write lock, so concurrent writers take turns. A new file
(or ``wo_mode="overwrite_file"``) is written to a temporary file and renamed into place.
Changes to an existing file go through an undo journal on disk, rolled back if anything
fails or the process is killed, so earlier rows stay readable and intact (see
:mod:`.safewrite`). Objects that would leave a damaged table (columns of different lengths)
are refused before anything is written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import h5py

from ..errors import LH5Error, LH5WriteError
from ..types import LGDO
from .files import open_file
from .journal import Journal
from .safewrite import changing, locked_target, open_for_writing_here, write_new_file
from .serial.attrs import read_vlen_str_attr, set_attr, write_attrs
from .serial.base import WriteContext
from .serial.dispatch import check_object, write_fast, write_object
from .settings import DEFAULT_CHUNK_BYTES, CompressionSpec

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
    check_object(obj, _name_of(lh5_file), str(name))
    obj = _rows_of(obj, start_row, n_rows)
    group_path = group.name if isinstance(group, h5py.Group) else str(group)
    full = "/".join(p for p in (group_path.strip("/"), str(name).strip("/")) if p)
    if not full:
        raise LH5WriteError("an object needs a name", file=_name_of(lh5_file))

    def run(h5f: h5py.File, journal: Journal) -> bool:
        """Write; ``True`` when the fast path wrote a whole new object."""
        ctx = WriteContext(
            mode, write_start, compression, codecs or {}, chunk_bytes, journal, _name_of(lh5_file)
        )
        parent_path, _, leaf = full.rpartition("/")
        groups = _ensure_groups(h5f, parent_path, journal)
        parent = groups[-1]
        fast = write_fast(parent, leaf, obj, ctx)
        if not fast:
            write_object(parent, leaf, obj, ctx)
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


def _rows_of(obj: LGDO, start_row: int, n_rows: int | None) -> LGDO:
    if (start_row == 0 and n_rows is None) or not hasattr(obj, "take"):
        return obj
    rows = len(obj)  # type: ignore[arg-type]  # objects with take have rows
    stop = rows if n_rows is None else min(rows, start_row + n_rows)
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
            ctx = WriteContext(journal=journal, file=self.file)
            written = write_fast(groups[-1], leaf, obj, ctx)
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
            set_attr(node, "datatype", wanted, journal)
            continue
        # what set_attr does, without reading the attribute again
        journal.setting_attr(node, "datatype", current)
        if current is not None:
            h5py.h5a.delete(node.id, b"datatype")
        write_attrs(node.id, {"datatype": wanted})


def _datatype_and_children(gid: h5py.h5g.GroupID) -> tuple[Any, list[str]]:
    """The ``datatype`` attribute of a group (``None`` if absent) and its members' names."""
    current = None
    if h5py.h5a.exists(gid, b"datatype"):
        current = read_vlen_str_attr(gid, b"datatype")
    names: list[bytes] = []
    gid.links.iterate(names.append)
    return current, [n.decode("utf8") for n in names]
