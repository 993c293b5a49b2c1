"""Planning the read of any stored object: its attributes read once, its datatype parsed, and
the serializer of its kind asked for the plan (children planned the same way)."""

from __future__ import annotations

import threading
from typing import Any

import h5py
from h5py import h5d, h5g, h5o

from ...errors import LH5DecodeError, TierflowError
from ..datatype import Datatype, parse
from ..fieldmask import FieldMask
from ..guards import FAILURES, MAX_NESTING, describe, translated
from .attrs import read_attrs, read_datatype
from .base import Plan, Serializer, location

#: the groups each thread is planning, outermost first, as (file number, address)
_planning = threading.local()


def plan_of(oid: Any, mask: FieldMask | None = None, decompress: bool = True) -> Plan:
    """The plan that reads the stored object ``oid`` (an h5py object or low-level id).

    Whatever h5py or numpy raises on a damaged object becomes an
    :class:`~tierflow.errors.LH5DecodeError` naming it; so does a group that contains itself
    (a cycle of links) or objects nested deeper than :data:`~tierflow.lh5.guards.MAX_NESTING`.

    >>> import h5py, io, numpy as np
    >>> from tierflow import lh5
    >>> from tierflow.types import Table
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> lh5.write(Table({"e": np.arange(4.0)}), "hit", f)
    >>> plan = plan_of(f["hit"])
    >>> plan.n_rows(), plan.read(slice(1, 3))["e"].nda.tolist()
    (4, [1.0, 2.0])
    """
    if isinstance(oid, h5py.HLObject):
        oid = oid.id
    try:
        attrs = read_attrs(oid)
        datatype = datatype_of(oid, attrs.pop("datatype", None))
        serializer = _serializer(datatype.kind)
        if serializer is None:
            file, path = location(oid)
            raise LH5DecodeError(
                f"cannot read datatype kind {datatype.kind!r}", file=file, obj=path
            )
        if not isinstance(oid, h5g.GroupID):
            return serializer.plan(oid, datatype, attrs, mask, decompress)
        stack = _planning.__dict__.setdefault("groups", [])
        _check_nesting(oid, stack)
        stack.append(_address(oid))
        try:
            return serializer.plan(oid, datatype, attrs, mask, decompress)
        finally:
            stack.pop()
    except TierflowError:
        raise
    except FAILURES as err:  # named only now: looking the names up costs two HDF5 calls
        file, path = location(oid)
        raise LH5DecodeError(f"reading failed: {describe(err)}", file=file, obj=path) from err


def _serializer(kind: str) -> Serializer | None:
    """The serializer of a datatype kind, from the registry (imported at first use: the
    registry imports the kinds, which plan their members here)."""
    if not _registry:
        from . import SERIALIZERS

        _registry.update({k: s for s in SERIALIZERS for k in s.kinds})
    return _registry.get(kind)


#: datatype kind -> serializer, filled at first use
_registry: dict[str, Serializer] = {}


def datatype_of(oid: Any, raw: Any) -> Datatype:
    """The parsed ``datatype`` attribute ``raw`` of ``oid``; a group without one is a struct of
    its members."""
    if raw is None:
        if isinstance(oid, h5g.GroupID):
            return Datatype("struct", fields=tuple(member_names(oid)))
        file, path = location(oid)
        raise LH5DecodeError(
            "object has no 'datatype' attribute, so it is not an LH5 object", file=file, obj=path
        )
    try:
        return parse(str(raw))
    except ValueError as err:
        file, path = location(oid)
        raise LH5DecodeError(
            err.reason if isinstance(err, LH5DecodeError) else f"unknown datatype {raw!r:.200}",
            file=file,
            obj=path,
        ) from None


def member_names(gid: h5g.GroupID) -> list[str]:
    """The names of a group's members, in the group's order."""
    names: list[bytes] = []
    gid.links.iterate(names.append)
    return [n.decode("utf8", errors="replace") for n in names]


def child(gid: Any, name: str) -> Any:
    """The member ``name`` of the group ``gid`` (a low-level id); an error naming what the
    group holds when it is missing."""
    if isinstance(gid, h5g.GroupID):
        try:
            return h5o.open(gid, name.encode("utf8"))
        except KeyError:
            pass
    file, path = location(gid)
    with translated(file, path, "listing the members"):
        present = sorted(member_names(gid)) if isinstance(gid, h5g.GroupID) else []
    raise LH5DecodeError(f"expected a child {name!r}; found {present}", file=file, obj=path)


def rows_of(oid: Any, depth: int = 0) -> int | None:
    """Rows of a stored object from its datatype attributes and dataset shapes alone (no data,
    no other attribute read); ``None`` for objects without rows. A table's are its first
    field's, as LEGEND's reader counts them."""
    if isinstance(oid, h5py.HLObject):
        oid = oid.id
    file, path = location(oid)
    with translated(file, path, "counting rows"):
        return _rows_of(oid, depth)


def _rows_of(oid: Any, depth: int) -> int | None:
    if depth > MAX_NESTING:
        file, path = location(oid)
        raise LH5DecodeError(
            f"tables nested more than {MAX_NESTING} levels deep in their first fields "
            "(a cycle of links?)",
            file=file,
            obj=path,
        )
    datatype = datatype_of(oid, read_datatype(oid))
    kind = datatype.kind
    if kind in ("array", "fixedsize_array", "array_of_equalsized_arrays"):
        return _first_axis(oid, allow_scalar=True)
    if kind == "vector_of_vectors":
        return _first_axis(child(oid, "cumulative_length"))
    if kind in ("encoded_vector_of_vectors", "encoded_array_of_equalsized_arrays"):
        return _first_axis(child(child(oid, "encoded_data"), "cumulative_length"))
    if kind == "table":
        fields = datatype.fields
        return _rows_of(child(oid, fields[0]), depth + 1) if fields else 0
    return None


def _first_axis(oid: Any, allow_scalar: bool = False) -> int | None:
    file, path = location(oid)
    if not isinstance(oid, h5d.DatasetID):
        raise LH5DecodeError("expected a dataset, found a group", file=file, obj=path)
    shape = oid.shape
    if allow_scalar and not shape:
        return None
    if len(shape) != 1 and not allow_scalar:
        raise LH5DecodeError(f"expected a 1-d dataset, found shape {shape}", file=file, obj=path)
    return shape[0]


def _address(gid: h5g.GroupID) -> tuple[int, int]:
    info = h5o.get_info(gid)
    return info.fileno, info.addr


def _check_nesting(gid: h5g.GroupID, stack: list[tuple[int, int]]) -> None:
    """Refuse a group that is one of the groups being planned around it, or nested too deep."""
    if _address(gid) in stack:
        file, path = location(gid)
        raise LH5DecodeError(
            "a cycle of links: this group contains itself, so it cannot be read",
            file=file,
            obj=path,
        )
    if len(stack) >= MAX_NESTING:
        file, path = location(gid)
        raise LH5DecodeError(
            f"objects nested more than {MAX_NESTING} levels deep (a cycle of links?)",
            file=file,
            obj=path,
        )
