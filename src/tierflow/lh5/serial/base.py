"""The protocol every LH5 object kind implements, and what its implementations share.

One :class:`Serializer` per object kind maps that kind between tierflow data objects and
HDF5 (see :mod:`tierflow.lh5.serial`):

- reading: :meth:`Serializer.plan` describes a stored object from its metadata alone (its
  datatype, attributes, the HDF5 types and shapes of its datasets) as a :class:`Plan`. A plan
  counts rows, allocates the object that holds them once (:meth:`Plan.new`) and reads the
  rows asked for straight into it (:meth:`Plan.read_into`). A plan made for one table serves
  the next table of the same layout (:meth:`Plan.rebind`): that is how a pass over thousands
  of channel tables pays the attribute reads once.
- writing: :meth:`Serializer.create` writes a new object, :meth:`Serializer.append` adds rows
  to a stored one (or overwrites them from ``write_start`` on), and :meth:`Serializer.node`
  gives the form of a new object for the fast creation path (:mod:`.create`: templates and
  pre-compressed chunks), which writes the very objects :meth:`create` would.

Fast paths are plans kept and reused, never a second algorithm: each skips work whose result
is known. :func:`general_path_only` turns every one of them off, which is how the property
tests compare them with the general path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import h5py
import numpy as np
from h5py import h5d, h5f, h5g, h5i

from ...errors import LH5DecodeError
from ...types import LGDO
from ..datatype import Datatype
from ..guards import FAILURES, describe
from ..journal import Journal
from ..settings import DEFAULT_CHUNK_BYTES, CompressionSpec
from .attrs import read_attrs

if TYPE_CHECKING:
    from ..fieldmask import FieldMask
    from .rows import RowRequest

#: rows to read: a ``slice(start, stop)`` with both ends given, or an int64 index array
Rows = slice | np.ndarray


def n_selected(rows: Rows) -> int:
    """How many rows ``rows`` selects.

    >>> n_selected(slice(2, 5)), n_selected(np.array([4, 1]))
    (3, 2)
    """
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def location(oid: h5g.GroupID | h5d.DatasetID) -> tuple[str, str]:
    """(file, path) of an open HDF5 object, for messages."""
    try:
        return (
            h5f.get_name(oid).decode(errors="replace"),
            h5i.get_name(oid).decode(errors="replace") or "?",
        )
    except FAILURES:  # a damaged file may not say: the message says so
        return "?", "?"


def kind_error(oid: h5g.GroupID | h5d.DatasetID, kind: str, expected: str) -> LH5DecodeError:
    """The error for an object of datatype ``kind`` stored as the wrong HDF5 object."""
    found = "a group" if isinstance(oid, h5g.GroupID) else "a dataset"
    file, path = location(oid)
    return LH5DecodeError(f"a {kind} must be {expected}, found {found}", file=file, obj=path)


def read_failed(plan: Plan, err: BaseException) -> LH5DecodeError:
    """The error for a read of ``plan``'s object that h5py, numpy or a codec failed."""
    return LH5DecodeError(f"reading failed: {describe(err)}", file=plan.file, obj=plan.path)


class LayoutChanged(Exception):
    """A kept plan does not describe this object (another layout): plan it afresh.

    Raised by :meth:`Plan.rebind`; never leaves :mod:`tierflow.lh5`."""


# --- the fast-path switch ---------------------------------------------------------------------
_switch = threading.local()


def fast_paths_enabled() -> bool:
    """Whether fast paths (kept plans, templates, direct chunk reads) may be taken."""
    return getattr(_switch, "enabled", True)


@contextmanager
def general_path_only() -> Iterator[None]:
    """Within the block (in this thread), every read and write takes the general path.

    >>> with general_path_only():
    ...     fast_paths_enabled()
    False
    >>> fast_paths_enabled()
    True
    """
    before = fast_paths_enabled()
    _switch.enabled = False
    try:
        yield
    finally:
        _switch.enabled = before


# --- reading ----------------------------------------------------------------------------------
class Plan:
    """How one stored object is read.

    Made by :meth:`Serializer.plan` from metadata alone; holds the open HDF5 objects it reads
    from, so it lives as long as its file is open. ``path`` and ``file`` name the object in
    errors; ``attrs`` are its stored attributes but ``datatype``.
    """

    datatype: Datatype
    attrs: dict[str, Any]
    #: the HDF5 object read (a dataset, or the group of a kind stored as several)
    oid: h5g.GroupID | h5d.DatasetID

    @property
    def path(self) -> str:
        """The object's path in its file (for messages)."""
        return location(self.oid)[1]

    @property
    def file(self) -> str:
        """The object's file (for messages)."""
        return location(self.oid)[0]

    def n_rows(self) -> int | None:
        """Rows of the object (``None`` for objects without rows: scalars, structs)."""
        raise NotImplementedError

    def new(self, n: int) -> LGDO:
        """An object of this layout with room for ``n`` rows, allocated once."""
        raise NotImplementedError

    def read_into(self, out: LGDO, rows: Rows, pos: int) -> None:
        """Read ``rows`` into ``out`` from row ``pos`` on; ``out`` ends after them.

        ``out`` is an object of this layout (from :meth:`new`, or filled before): its
        columns are resized to ``pos + n_selected(rows)`` rows, which costs no copy when they
        were allocated that large."""
        raise NotImplementedError

    def read(self, rows: Rows | RowRequest) -> LGDO:
        """The selected rows as a new object (objects without rows of their own take a
        :class:`~.rows.RowRequest` that their members resolve)."""
        assert isinstance(rows, slice | np.ndarray), "members resolve a RowRequest first"
        out = self.new(n_selected(rows))
        self.read_into(out, rows, 0)
        return out

    def rebind(self, oid: h5g.GroupID | h5d.DatasetID) -> Plan:
        """This plan for another object of the same layout (another channel's table);
        :class:`LayoutChanged` if it is not. Checks what reading would otherwise get wrong
        (dataset types and row shapes), not every attribute."""
        raise NotImplementedError

    def members(self) -> list[Plan]:
        """The plans of the objects read inside this one (none for a dataset)."""
        return []

    def stored_attrs(self, stored: dict[str, Any]) -> dict[str, Any]:
        """The object's attributes, from those stored but ``datatype``."""
        return stored

    def reread_attrs(self) -> None:
        """Read the attributes of this object and of its members again: a rebound plan
        (:meth:`rebind`) keeps those of the object it was made for."""
        stored = read_attrs(self.oid)
        stored.pop("datatype", None)
        self.attrs = self.stored_attrs(stored)
        for member in self.members():
            member.reread_attrs()

    def member(self, gid: h5g.GroupID, name: bytes) -> h5g.GroupID | h5d.DatasetID:
        """Open the member ``name`` of ``gid`` as the kind of HDF5 object this plan reads
        (``KeyError`` if there is none): a group here, a dataset for arrays and scalars."""
        return h5g.open(gid, name)

    def layout(self) -> tuple:
        """A hashable description of what this plan reads: equal layouts read alike."""
        raise NotImplementedError


# --- writing ----------------------------------------------------------------------------------
@dataclass
class WriteContext:
    """What one :func:`tierflow.lh5.write` call does, passed down to every serializer.

    ``mode`` is one of ``write_safe``, ``append``, ``overwrite``, ``overwrite_file``,
    ``append_column``; every change to an existing file is recorded in ``journal`` first, so
    that a failed write can be undone.
    """

    mode: str = "append"
    write_start: int = 0
    compression: CompressionSpec = None
    codecs: Mapping[str, Any] = field(default_factory=dict)
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    journal: Journal = field(default_factory=Journal)
    file: str = ""


class Serializer:
    """One LH5 object kind, both ways. Subclasses set ``kinds`` (the datatype kinds they read,
    as :func:`~tierflow.lh5.datatype.parse` names them) and ``classes`` (the data object
    classes they write; the registry tries serializers in order, so a subclass's serializer
    comes before its base class's)."""

    kinds: ClassVar[tuple[str, ...]] = ()
    classes: ClassVar[tuple[type, ...]] = ()

    def plan(
        self,
        oid: h5g.GroupID | h5d.DatasetID,
        datatype: Datatype,
        attrs: dict[str, Any],
        mask: FieldMask | None,
        decompress: bool,
    ) -> Plan:
        """The plan that reads the stored object ``oid`` (an h5py low-level id; its parsed
        ``datatype`` and its other ``attrs`` already read); ``mask`` selects fields of tables
        and structs; encoded waveforms are decoded if ``decompress``."""
        raise NotImplementedError

    def create(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        """Write ``obj`` as the new object ``parent/name`` (an object of that name is replaced
        by way of the journal, ``ctx.journal.replacing``). ``inner_path`` is the path of
        ``obj`` inside the object written (what the patterns of ``ctx.codecs`` match)."""
        raise NotImplementedError

    def append(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        """Add the rows of ``obj`` to the stored object ``parent/name``
        (``ctx.mode == "overwrite"``: replace its rows from ``ctx.write_start`` on; from row
        0, that replaces the object)."""
        raise NotImplementedError

    def check(self, obj: LGDO, file: str, path: str) -> None:
        """Refuse, before anything is written, an object that would leave a damaged one in
        ``file`` (columns of different lengths; lengths that point past the data), here or in
        anything it holds: :class:`~tierflow.errors.LH5WriteError` naming ``path``."""

    def node(self, obj: LGDO, name: str, ctx: WriteContext, inner_path: str) -> Any:
        """The form of ``obj`` written new for the fast creation path (:mod:`.create`), or
        ``None`` when that path does not write it; the objects it creates are those
        :meth:`create` would."""
        return None
