"""The fast path of :func:`tierflow.lh5.write`: a whole new table in one go.

Writing a new table of numeric columns is the common case (every dsp and hit table), and
there the general writer's per-column costs dominate small tables: h5py's high-level
objects, existence checks, attribute look-ups, and gzip run over a mostly empty 64 KiB
chunk. This module writes the same file objects with h5py's low-level API:

- the same groups, datasets and attributes, with the same HDF5 types (``bytes`` and ``str``
  attributes as variable-length ASCII strings, numbers as numpy gives them), in the same order;
- the same dataset creation properties (chunk shape, filters, fill value, no time stamps),
  built once per (shape, dtype, chunks, filters) by h5py's own ``fill_dcpl`` and reused;
- a dataset that fits its first chunk under the default shuffle + gzip filters gets that chunk
  written ready-compressed (:func:`_deflated_chunk`): the zero padding is encoded from cached
  deflate blocks instead of being compressed again for every column. The stored chunk inflates
  to exactly the bytes HDF5's own filter would have compressed.

:func:`plan_table` says whether an object can go this way (else the general writer takes it);
:func:`write_new` writes it.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np
from h5py import h5a, h5d, h5g, h5p, h5s, h5t
from h5py._hl import filters as h5filters
from h5py._hl.base import array_for_new_object
from h5py._hl.filters import fill_dcpl

from ..types import (
    LGDO,
    Array,
    ArrayOfEncodedEqualSizedArrays,
    ArrayOfEqualSizedArrays,
    Histogram,
    Struct,
    VectorOfEncodedVectors,
    VectorOfVectors,
)

#: create_dataset keywords the fast path understands (anything else: the general writer)
_FILTER_KEYS = frozenset(
    {"compression", "compression_opts", "shuffle", "fletcher32", "scaleoffset"}
)
#: attributes that steer the writer and are not stored (as in write.py)
_SKIPPED_ATTRS = frozenset({"compression", "hdf5_settings", "enum"})
_ATTR_TYPES = (str, bytes, int, float, np.integer, np.floating, np.bool_, bool)
_VLEN_ASCII = h5t.string_dtype("ascii")

#: bound of each cache below (cleared when full)
_CACHE_SIZE = 1024
_layouts: dict[tuple, Any] = {}
_file_types: dict[np.dtype, tuple[h5t.TypeID, h5t.TypeID]] = {}
_spaces: dict[tuple[int, ...], h5s.SpaceID] = {}
_attributes: dict[tuple[str, bytes], tuple] = {}
_caches: dict[tuple, Any] = {}


# --- planning -----------------------------------------------------------------------------------
class Node:
    """One object to write: a group (``children``) or a dataset (``data``), with its attributes
    ready for the low-level calls."""

    __slots__ = ("attrs", "children", "coding", "data", "filters", "filters_key", "name")

    def __init__(self, name: str, attrs: dict, children=None, data=None, filters=None):
        try:  # as h5py encodes names
            self.name, self.coding = name.encode("ascii"), h5t.CSET_ASCII
        except UnicodeEncodeError:
            self.name, self.coding = name.encode("utf8"), h5t.CSET_UTF8
        self.attrs = [_attribute(key, value) for key, value in attrs.items()]
        self.children = children
        self.data = data
        self.filters = filters
        self.filters_key = None
        if filters is not None:
            try:
                self.filters_key = tuple(sorted(filters.items()))
                hash(self.filters_key)
            except TypeError:  # unhashable settings: no layout cached
                self.filters_key = None


def plan_table(
    obj: LGDO,
    name: str,
    codec_for,
    storable,
    filters_of,
    file: str,
    inner_path: str = "",
) -> Node | None:
    """The objects the general writer would create for ``obj``, or ``None`` when ``obj`` holds
    something the fast path does not write (scalars, strings, encoded or to-be-encoded
    waveforms, histograms, unusual attributes or h5py settings).

    ``codec_for(obj, inner_path)``, ``storable(nda, file, path)`` and
    ``filters_of(obj)`` are the general writer's own rules, so both paths decide alike.
    """
    attrs = _attrs_of(obj)
    if attrs is None:
        return None
    if isinstance(obj, Histogram):
        return None
    if isinstance(obj, Struct):
        children = []
        for key, value in obj.items():
            child = plan_table(
                value,
                key,
                codec_for,
                storable,
                filters_of,
                file,
                f"{inner_path}/{key}".strip("/"),
            )
            if child is None:
                return None
            children.append(child)
        return Node(name, attrs, children=children)
    if isinstance(obj, ArrayOfEncodedEqualSizedArrays | VectorOfEncodedVectors):
        return None
    if isinstance(obj, VectorOfVectors):
        if codec_for(obj, inner_path) is not None:
            return None
        flat = plan_table(
            obj.flattened_data,
            "flattened_data",
            codec_for,
            storable,
            filters_of,
            file,
            inner_path,
        )
        if flat is None:
            return None
        cl = Array(obj.cumulative_length.nda.astype(np.int64, copy=False))
        cl_node = _array_node(cl, "cumulative_length", storable, filters_of, file)
        if cl_node is None:
            return None
        return Node(name, attrs, children=[flat, cl_node])
    if isinstance(obj, Array):
        if isinstance(obj, ArrayOfEqualSizedArrays) and codec_for(obj, inner_path) is not None:
            return None
        return _array_node(obj, name, storable, filters_of, file)
    return None


def _array_node(obj: Array, name: str, storable, filters_of, file: str) -> Node | None:
    nda = obj.nda
    if nda.dtype.kind not in "biuf" or nda.ndim < 1 or 0 in nda.shape[1:]:
        return None
    filters = filters_of(obj)
    if not isinstance(filters, Mapping) or not set(filters) <= _FILTER_KEYS:
        return None
    compression = filters.get("compression")
    if isinstance(compression, bool) or (isinstance(compression, int) and 0 <= compression <= 9):
        return None  # h5py's legacy gzip spellings: the general writer
    attrs = _attrs_of(obj)
    if attrs is None:
        return None
    data = storable(np.ascontiguousarray(nda), file, name)
    if not data.dtype.isnative and data.dtype.itemsize > 1:
        return None
    return Node(name, attrs, data=data, filters=dict(filters))


def _attrs_of(obj: LGDO) -> dict | None:
    """The attributes the general writer stores, or ``None`` if one is not a plain value (the
    general writer then explains what is wrong)."""
    out = {}
    for key, value in obj.getattrs(datatype=True).items():
        if key in _SKIPPED_ATTRS:
            continue
        if not isinstance(value, _ATTR_TYPES):
            return None
        out[key] = value
    return out


# --- attributes ---------------------------------------------------------------------------------
def _attribute(key: str, value: Any) -> tuple[bytes, np.ndarray, h5t.TypeID, h5t.TypeID]:
    """(name, data, file type, memory type) for ``obj.attrs[key] = value`` as h5py's
    AttributeManager does it (``str`` encoded to bytes first: a variable-length ASCII string;
    numbers as numpy makes them); cached for strings, which repeat from table to table."""
    if isinstance(value, str):
        value = value.encode()
    cacheable = type(value) is bytes and type(key) is str
    if cacheable:
        found = _attributes.get((key, value))
        if found is not None:
            return found
    name = key.encode("ascii") if key.isascii() else key.encode("utf8")
    if type(value) is bytes:
        data = np.array(value, dtype=_VLEN_ASCII)
    else:
        data = array_for_new_object(value)
        data = np.asarray(data, dtype=data.dtype)
    found = (name, data, *_types(data.dtype))
    if cacheable:
        if len(_attributes) >= _CACHE_SIZE:
            _attributes.clear()
        _attributes[(key, value)] = found
    return found


def write_attrs(oid: Any, attrs: dict) -> None:
    """``obj.attrs[key] = value`` for each item, on an object that has no such attributes."""
    _create_attrs(oid, [_attribute(key, value) for key, value in attrs.items()])


def _create_attrs(oid: Any, attrs: list) -> None:
    for name, data, htype, mtype in attrs:
        h5a.create(oid, name, htype, _space(data.shape)).write(data, mtype=mtype)


def read_vlen_str_attr(oid: Any, name: bytes) -> bytes:
    """A scalar variable-length string attribute, as bytes (``TypeError`` for anything else)."""
    attr = h5a.open(oid, name)
    ftype = attr.get_type()
    if not (isinstance(ftype, h5t.TypeStringID) and ftype.is_variable_str()):
        raise TypeError("not a variable-length string")
    value = np.empty((), dtype=_VLEN_ASCII)
    attr.read(value, mtype=_types(_VLEN_ASCII)[1])
    value = value[()]
    if not isinstance(value, bytes):
        raise TypeError("not a scalar string")
    return value


def _types(dtype: np.dtype) -> tuple[h5t.TypeID, h5t.TypeID]:
    """(file type, memory type) of a numpy dtype, as h5py makes them."""
    found = _file_types.get(dtype)
    if found is None:
        found = _file_types[dtype] = (h5t.py_create(dtype, logical=True), h5t.py_create(dtype))
    return found


def _space(shape: tuple[int, ...]) -> h5s.SpaceID:
    """A dataspace of ``shape``, unlimited along axis 0 for datasets (``()``: a scalar one);
    HDF5 copies it into each object, so one serves many."""
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


# --- writing ------------------------------------------------------------------------------------
def write_new(parent: h5py.Group, node: Node, chunk_shape, chunk_bytes: int) -> None:
    """Create ``node`` (and everything below it) in ``parent``, where it does not exist yet."""
    _Writer(chunk_shape, chunk_bytes).node(parent.id, node)


class _Writer:
    """The settings of one write: chunking, and h5py's creation-order setting."""

    def __init__(self, chunk_shape, chunk_bytes: int):
        self.chunk_shape = chunk_shape
        self.chunk_bytes = chunk_bytes
        self.track_order = bool(h5py.get_config().track_order)

    def node(self, parent_id: h5g.GroupID, node: Node) -> None:
        if node.children is None:
            self.dataset(parent_id, node)
            return
        gid = h5g.create(parent_id, node.name, lcpl=_lcpl(node.coding), gcpl=self.gcpl())
        _create_attrs(gid, node.attrs)
        for child in node.children:
            self.node(gid, child)

    def gcpl(self) -> h5p.PropGCID:
        """What ``Group.create_group`` uses: no time stamps, creation order as h5py's config."""
        key = ("gcpl", self.track_order)
        gcpl = _caches.get(key)
        if gcpl is None:
            gcpl = h5p.create(h5p.GROUP_CREATE)
            if self.track_order:
                flags = h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED
                gcpl.set_link_creation_order(flags)
                gcpl.set_attr_creation_order(flags)
            gcpl.set_obj_track_times(False)
            _caches[key] = gcpl
        return gcpl

    def layout(self, data: np.ndarray, node: Node) -> _Layout:
        if node.filters_key is None:
            return _Layout(data, node.filters, self.chunk_shape, self.chunk_bytes, self.track_order)
        key = (
            data.shape[1:],
            data.dtype,
            node.filters_key,
            self.chunk_shape,
            self.chunk_bytes,
            self.track_order,
        )
        layout = _layouts.get(key)
        if layout is None:
            if len(_layouts) >= _CACHE_SIZE:
                _layouts.clear()
            layout = _layouts[key] = _Layout(
                data, node.filters, self.chunk_shape, self.chunk_bytes, self.track_order
            )
        return layout

    def dataset(self, parent_id: h5g.GroupID, node: Node) -> None:
        data = node.data
        layout = self.layout(data, node)
        dsid = h5d.create(parent_id, node.name, layout.tid, _space(data.shape), dcpl=layout.dcpl)
        if data.size:
            if layout.level is not None and len(data) <= layout.rows // 2:
                chunk = _deflated_chunk(data, layout.chunk_elements, layout.level)
                dsid.write_direct_chunk(layout.origin, chunk)
            else:
                dsid.write(h5s.ALL, h5s.ALL, data)
        _create_attrs(dsid, node.attrs)


def _lcpl(coding: int) -> h5p.PropLCID:
    """The link creation list ``Group.create_group`` uses for a name of this encoding."""
    key = ("lcpl", coding)
    lcpl = _caches.get(key)
    if lcpl is None:
        lcpl = h5p.create(h5p.LINK_CREATE)
        lcpl.set_create_intermediate_group(True)
        lcpl.set_char_encoding(coding)
        _caches[key] = lcpl
    return lcpl


class _Layout:
    """How datasets of one row shape, dtype and filter setting are created."""

    __slots__ = ("chunk_elements", "dcpl", "level", "origin", "rows", "tid")

    def __init__(
        self, data: np.ndarray, filters: dict, chunk_shape, chunk_bytes: int, track_order: bool
    ):
        chunks = tuple(chunk_shape(data.shape, data.dtype.itemsize, chunk_bytes))
        if any(c > d for c, d in zip(chunks[1:], data.shape[1:], strict=True)):
            raise ValueError(f"chunk shape {chunks} does not fit rows of shape {data.shape[1:]}")
        self.dcpl = _new_dcpl(data, chunks, filters, track_order)
        self.tid = _types(data.dtype)[0]
        self.rows = chunks[0]
        self.chunk_elements = math.prod(chunks)
        self.origin = (0,) * len(chunks)
        self.level = _gzip_level(filters)


def _gzip_level(filters: dict) -> int | None:
    """The gzip level when the filters are exactly shuffle + gzip (LEGEND's default)."""
    if set(filters) != {"compression", "compression_opts", "shuffle"}:
        return None
    level = filters["compression_opts"]
    if filters["compression"] != "gzip" or filters["shuffle"] is not True:
        return None
    if type(level) is not int or not 0 <= level <= 9:
        return None
    return level


def _new_dcpl(
    data: np.ndarray, chunks: tuple[int, ...], filters: dict, track_order: bool
) -> h5p.PropDCID:
    """The creation property list ``create_dataset`` (``make_new_dset``) builds."""
    compression = filters.get("compression")
    dcpl = fill_dcpl(
        h5p.create(h5p.DATASET_CREATE),
        data.shape,
        data.dtype,
        chunks,
        compression,
        filters.get("compression_opts"),
        filters.get("shuffle"),
        filters.get("fletcher32"),
        (None, *data.shape[1:]),
        filters.get("scaleoffset"),
        None,
    )
    if compression is not None:  # as make_new_dset checks
        if isinstance(compression, h5filters.FilterRefBase):
            compression = compression.filter_id
        if isinstance(compression, int):
            compression = h5filters.get_filter_name(compression)
        if compression not in h5filters.get_filters(dcpl):
            raise ValueError(f"compression {compression!r} not in the dataset's filters")
    dcpl.set_obj_track_times(False)
    if track_order:
        dcpl.set_attr_creation_order(h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED)
    else:
        dcpl.set_attr_creation_order(0)
    return dcpl


# --- whole chunks, compressed here --------------------------------------------------------------
#: a plane of at most this many bytes goes into a stored (uncompressed) deflate block
_STORED_PLANE = 256
_MOD_ADLER = 65521
_ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KiB window
_FINAL_BLOCK = b"\x03\x00"  # an empty final block (fixed Huffman codes)


def _deflated_chunk(data: np.ndarray, chunk_elements: int, level: int) -> bytes:
    """zlib(shuffle(data, zero-padded to ``chunk_elements``)) at ``level``, built from parts.

    After HDF5's shuffle filter the chunk is ``itemsize`` byte planes, each the data's bytes at
    one position followed by zeros. Each plane is a deflate block of its own (stored when small,
    else compressed with the history reset at its end), followed by cached, self-contained
    blocks for the run of zeros; the Adler-32 checksum is extended over the zeros
    arithmetically. Inflated, it is exactly the chunk HDF5's filters would have compressed.
    """
    k = data.dtype.itemsize
    m = data.size
    zeros = chunk_elements - m
    raw = data.tobytes()
    zero_run = _zero_run(level, zeros)
    parts = [_ZLIB_HEADER]
    if m <= _STORED_PLANE:
        planes = [raw[j::k] for j in range(k)] if k > 1 else [raw]
        header = b"\x00" + struct.pack("<HH", m, m ^ 0xFFFF)
        for plane in planes:
            parts += (header, plane, zero_run)
    else:
        shuffled = np.frombuffer(raw, np.uint8).reshape(m, k).T.tobytes() if k > 1 else raw
        planes = [shuffled[j : j + m] for j in range(0, k * m, m)]
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        for plane in planes:
            parts += (compressor.compress(plane), compressor.flush(zlib.Z_FULL_FLUSH), zero_run)
    adler = 1
    for plane in planes:
        adler = zlib.adler32(plane, adler)
        if zeros:
            low = adler & 0xFFFF
            adler = ((((adler >> 16) + zeros * low) % _MOD_ADLER) << 16) | low
    parts += (_FINAL_BLOCK, struct.pack(">I", adler))
    return b"".join(parts)


_zero_blocks: dict[tuple[int, int], bytes] = {}


def _zero_run(level: int, n: int) -> bytes:
    """Self-contained deflate blocks (no reference to earlier data, ending on a byte boundary)
    for ``n`` zero bytes, cached: tables of the same shape pad their chunks alike."""
    if n == 0:
        return b""
    key = (level, n)
    block = _zero_blocks.get(key)
    if block is None:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        block = compressor.compress(bytes(n)) + compressor.flush(zlib.Z_FULL_FLUSH)
        if len(_zero_blocks) >= _CACHE_SIZE:
            _zero_blocks.clear()
        _zero_blocks[key] = block
    return block
