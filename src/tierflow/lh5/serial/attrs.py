"""Attributes of LH5 objects, read and written through h5py's low-level API (the one place
that does either: a file holds thousands of small objects, and ``dict(obj.attrs)`` costs
about twice as much)."""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np
from h5py import h5a, h5s, h5t

from ...errors import LH5WriteError
from ...types import LGDO
from ..globalheap import check_attribute_heaps
from ..journal import Journal

_VLEN_ASCII = h5t.string_dtype("ascii")
_VLEN_ASCII_MEMORY = h5t.py_create(_VLEN_ASCII)

# --- reading ----------------------------------------------------------------------------------


def read_attrs(oid: Any) -> dict[str, Any]:
    """All attributes of the object ``oid`` (an h5py low-level id) as Python values, strings
    decoded; variable-length data is checked before HDF5 reads it
    (:func:`~tierflow.lh5.globalheap.check_attribute_heaps`).

    >>> import h5py, io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> f.attrs["datatype"] = "table{a}"
    >>> f.attrs["n"] = 3
    >>> read_attrs(f.id)
    {'datatype': 'table{a}', 'n': np.int64(3)}
    """
    out: dict[str, Any] = {}
    check_attribute_heaps(oid)
    for i in range(h5a.get_num_attrs(oid)):
        attr = h5a.open(oid, index=i)
        value = _value(attr)
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        out[attr.name.decode()] = value
    return out


def read_datatype(oid: Any) -> str | None:
    """The ``datatype`` attribute of ``oid`` alone (``None`` when it has none or it is not a
    string)."""
    if not h5a.exists(oid, b"datatype"):
        return None
    check_attribute_heaps(oid)
    value = _value(h5a.open(oid, b"datatype"))
    value = value.decode(errors="replace") if isinstance(value, bytes) else value
    return value if isinstance(value, str) else None


def _value(attr: h5a.AttrID) -> Any:
    """An attribute's value, as reading it into ``attr.dtype`` gives it. A scalar one is first
    read as a variable-length string (what h5py writes for ``str`` and ``bytes``, so no need
    to look at its type): HDF5 converts nothing else to that, and the read fails instead."""
    if attr.get_space().get_simple_extent_type() == h5s.SCALAR:
        value = np.empty((), dtype=_VLEN_ASCII)
        try:
            attr.read(value, mtype=_VLEN_ASCII_MEMORY)
        except (OSError, TypeError, ValueError):
            pass  # not a variable-length string
        else:
            return value[()]
    value = np.empty(attr.shape, dtype=attr.dtype)
    attr.read(value)
    return value[()]


# --- writing ----------------------------------------------------------------------------------
#: attributes of data objects that steer the writer and are not stored
WRITER_SETTINGS = frozenset({"compression", "hdf5_settings", "enum"})
_STORABLE = (str, bytes, int, float, np.integer, np.floating, np.bool_, bool)
#: a prepared attribute: (name, data, file type, memory type, form), see :func:`prepare_attr`
PreparedAttr = tuple[bytes, np.ndarray, h5t.TypeID, h5t.TypeID, tuple]

#: bound of each cache below (cleared when full)
_CACHE_SIZE = 1024
_prepared: dict[tuple[str, bytes], PreparedAttr] = {}
_types: dict[np.dtype, tuple[h5t.TypeID, h5t.TypeID]] = {}
_spaces: dict[tuple[int, ...], h5s.SpaceID] = {}


def stored_attrs(obj: LGDO, file: str, path: str) -> dict[str, Any]:
    """The attributes written for ``obj``: its own attributes and its ``datatype``, but the
    writer's settings (:data:`WRITER_SETTINGS`); :class:`~tierflow.errors.LH5WriteError` for
    one that is neither a string nor a number.

    >>> from tierflow.types import Array
    >>> stored_attrs(Array(np.arange(2), attrs={"units": "ns", "compression": "lzf"}), "f", "a")
    {'units': 'ns', 'datatype': 'array<1>{real}'}
    """
    out = {}
    for key, value in obj.getattrs(datatype=True).items():
        if key in WRITER_SETTINGS:
            continue
        if type(value) is not str and not isinstance(value, _STORABLE):
            raise LH5WriteError(
                f"attribute {key!r} is a {type(value).__name__}; LH5 attributes are strings or numbers",
                file=file,
                obj=path,
            )
        out[key] = value
    return out


def store_attrs(h5obj: h5py.HLObject, obj: LGDO) -> None:
    """Write the :func:`stored_attrs` of ``obj`` on the new object ``h5obj`` (strings as
    variable-length ASCII, as LEGEND's writer stores them).

    >>> import io
    >>> from tierflow.types import Array
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> store_attrs(f.create_dataset("a", data=[1, 2]), Array(np.arange(2), attrs={"units": "ns"}))
    >>> dict(f["a"].attrs)
    {'datatype': 'array<1>{real}', 'units': 'ns'}
    """
    for key, value in stored_attrs(obj, h5obj.file.filename, h5obj.name).items():
        h5obj.attrs[key] = value.encode() if isinstance(value, str) else value


def set_attr(h5obj: h5py.HLObject, key: str, value: Any, journal: Journal) -> None:
    """``h5obj.attrs[key] = value`` (a string as variable-length ASCII), recorded in
    ``journal`` first so that a rollback restores what was there.

    >>> import io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> set_attr(f, "datatype", "struct{}", Journal())
    >>> f.attrs["datatype"]
    'struct{}'
    """
    journal.setting_attr(h5obj, key)
    h5obj.attrs[key] = value.encode() if isinstance(value, str) else value


def prepare_attr(key: str, value: Any) -> PreparedAttr:
    """(name, data, file type, memory type, form) for ``obj.attrs[key] = value`` as h5py's
    AttributeManager stores a string or a number (what :func:`stored_attrs` lets through):
    ``str`` encoded to bytes first, and ``bytes`` a variable-length ASCII string; anything else
    as numpy makes it (``np.asarray``: h5py guesses a type of its own for bytes, str and
    references only); cached for strings, which repeat from table to table. The form is what
    is stored, exactly (the bytes of a number: ``0.0`` and ``-0.0`` differ).

    >>> prepare_attr("units", "ns")[4], prepare_attr("n", 3)[4]
    ((b'units', b'ns'), (b'n', '<i8', b'\\x03\\x00\\x00\\x00\\x00\\x00\\x00\\x00'))
    """
    if isinstance(value, str):
        value = value.encode()
    cacheable = type(value) is bytes and type(key) is str
    if cacheable:
        found = _prepared.get((key, value))
        if found is not None:
            return found
    name = key.encode("ascii") if key.isascii() else key.encode("utf8")
    if type(value) is bytes:
        data = np.array(value, dtype=_VLEN_ASCII)
        form: tuple = (name, value)
    else:
        data = np.asarray(value, order="C")
        form = (name, data.dtype.str, data.tobytes())
    found = (name, data, *hdf5_types(data.dtype), form)
    if cacheable:
        if len(_prepared) >= _CACHE_SIZE:
            _prepared.clear()
        _prepared[(key, value)] = found
    return found


def create_attrs(oid: Any, prepared: list[PreparedAttr]) -> None:
    """Create the :func:`prepare_attr` attributes ``prepared`` on the object ``oid``, which
    has none of those names yet.

    >>> import io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> create_attrs(f.id, [prepare_attr("units", "ns")])
    >>> f.attrs["units"]
    'ns'
    """
    for name, data, htype, mtype, _form in prepared:
        h5a.create(oid, name, htype, dataspace(data.shape)).write(data, mtype=mtype)


def write_attrs(oid: Any, attrs: dict[str, Any]) -> None:
    """``obj.attrs[key] = value`` for each item, on an object that has no such attributes.

    >>> import io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> write_attrs(f.id, {"datatype": "struct{}"})
    >>> read_vlen_str_attr(f.id, b"datatype")
    b'struct{}'
    """
    create_attrs(oid, [prepare_attr(key, value) for key, value in attrs.items()])


def read_vlen_str_attr(oid: Any, name: bytes) -> bytes:
    """A scalar variable-length string attribute, as bytes (``TypeError`` for anything else);
    the writer's check of a ``datatype`` it is about to rewrite (see :func:`write_attrs`)."""
    attr = h5a.open(oid, name)
    ftype = attr.get_type()
    if not (isinstance(ftype, h5t.TypeStringID) and ftype.is_variable_str()):
        raise TypeError("not a variable-length string")
    value = np.empty((), dtype=_VLEN_ASCII)
    attr.read(value, mtype=_VLEN_ASCII_MEMORY)
    value = value[()]
    if not isinstance(value, bytes):
        raise TypeError("not a scalar string")
    return value


def hdf5_types(dtype: np.dtype) -> tuple[h5t.TypeID, h5t.TypeID]:
    """(file type, memory type) of a numpy dtype, as h5py makes them (cached: attributes and
    the fast creation path's datasets share them).

    >>> hdf5_types(np.dtype("f4"))[0].get_size()
    4
    """
    found = _types.get(dtype)
    if found is None:
        found = _types[dtype] = (h5t.py_create(dtype, logical=True), h5t.py_create(dtype))
    return found


def dataspace(shape: tuple[int, ...]) -> h5s.SpaceID:
    """A dataspace of ``shape``, unlimited along axis 0 (``()``: a scalar one), as attributes
    and the fast creation path's datasets get them; HDF5 copies it into each object, so one
    serves many.

    >>> dataspace((3, 2)).get_simple_extent_dims(maxdims=True)
    (18446744073709551615, 2)
    """
    space = _spaces.get(shape)
    if space is None:
        if len(_spaces) >= _CACHE_SIZE:
            _spaces.clear()
        space = _spaces[shape] = (
            h5s.create_simple(shape, (h5s.UNLIMITED, *shape[1:]))
            if shape
            else h5s.create_simple(())
        )
    return space
