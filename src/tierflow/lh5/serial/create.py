"""The fast creation path: a whole new object written in one go, the objects
:meth:`~.base.Serializer.create` would make.

Writing a new table of numeric columns is the common case (every dsp and hit table), and
there the general path's per-column costs dominate small tables: h5py's high-level
objects, existence checks, attribute look-ups, and gzip run over a mostly empty 64 KiB
chunk. The serializers describe the object as a tree of :class:`Node` (see
:meth:`~.base.Serializer.node`), which this module writes with h5py's low-level API:

- the same groups, datasets and attributes, with the same HDF5 types (``bytes`` and ``str``
  attributes as variable-length ASCII strings, numbers as numpy gives them), in the same order;
- the same dataset creation properties (chunk shape, filters, fill value, no time stamps):
  those of a dataset made by h5py's own ``create_dataset`` in a scratch file in memory, once per
  (row shape, dtype, filters), given each chunk shape and reused (:func:`_new_dcpl`);
- a dataset that fits its first chunk under the default shuffle + gzip filters gets that chunk
  written ready-compressed (:func:`.deflate.deflated_chunk`);
- a table of such datasets is not built object by object: the objects of its form (names,
  types, row shapes, filters, attributes) are kept as a template in an in-memory HDF5 file of
  the destination's format, its data written into them, and the whole table copied into the
  destination with one ``H5Ocopy`` (:class:`_TemplateFile`).

Each is a cached result of the same creation, never another algorithm: :func:`write_new`
writes what :func:`.dispatch.write_fast` gives it.
"""

from __future__ import annotations

import io
import math
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np
from h5py import h5d, h5f, h5g, h5i, h5o, h5p, h5s, h5t

from ..settings import chunk_shape
from .attrs import create_attrs, dataspace, hdf5_types, prepare_attr
from .deflate import deflated_chunk

#: bound of each cache below (cleared when full)
_CACHE_SIZE = 1024
_layouts: dict[tuple, Any] = {}
_base_dcpls: dict[tuple, h5p.PropDCID] = {}
_caches: dict[tuple, Any] = {}


# --- the form of a new object -------------------------------------------------------------------
class Node:
    """One object to write: a group (``children``) or a dataset (``data``, created with the
    ``create_dataset`` keywords ``filters``), with its attributes ready for the low-level
    calls. Made by the serializers' :meth:`~.base.Serializer.node`.

    >>> column = Node.dataset("a", {"datatype": "array<1>{real}"}, np.arange(3.0), {})
    >>> table = Node("tb", {"datatype": "table{a}"}, children=[column])
    >>> table.name, [child.name for child in table.children]
    (b'tb', [b'a'])
    """

    __slots__ = ("attrs", "children", "coding", "data", "filters", "filters_key", "form", "name")

    def __init__(self, name: str, attrs: dict, children=None, data=None, filters=None):
        try:  # as h5py encodes names
            self.name, self.coding = name.encode("ascii"), h5t.CSET_ASCII
        except UnicodeEncodeError:
            self.name, self.coding = name.encode("utf8"), h5t.CSET_UTF8
        self.attrs = [prepare_attr(key, value) for key, value in attrs.items()]
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
        self.form = self._form()

    @classmethod
    def dataset(cls, name: str, attrs: dict, data: np.ndarray, filters: dict) -> Node:
        """``Node(name, attrs, data=data, filters=filters)``; for string attributes and
        hashable filters made from the node of the same name, attributes, dtype, row shape
        and filters made before (tables of one kind repeat them column for column)."""
        key = _dataset_key(name, attrs, data, filters)
        like = _datasets.get(key) if key is not None else None
        if like is None:
            node = cls(name, attrs, data=data, filters=filters)
            if key is not None:
                if len(_datasets) >= _CACHE_SIZE:
                    _datasets.clear()
                _datasets[key] = node
            return node
        node = cls.__new__(cls)
        for slot in cls.__slots__:
            setattr(node, slot, getattr(like, slot))
        node.data = data
        return node

    def _form(self) -> tuple | None:
        """What the objects of this node are, all but the data and its number of rows: equal
        forms make equal empty objects. ``None`` when the filters cannot be compared."""
        attrs = tuple(attr[4] for attr in self.attrs)
        if self.children is not None:
            forms = tuple(child.form for child in self.children)
            if any(form is None for form in forms):
                return None
            return (self.name, self.coding, attrs, forms)
        if self.filters_key is None:
            return None
        return (
            self.name,
            self.coding,
            attrs,
            self.data.dtype.str,
            self.data.shape[1:],
            self.filters_key,
        )


#: dataset nodes by :func:`_dataset_key` (their data is replaced when one is reused)
_datasets: dict[tuple, Node] = {}


def _dataset_key(name: str, attrs: dict, data: np.ndarray, filters: dict) -> tuple | None:
    """What a dataset node is made of, all but its data values and number of rows; ``None``
    unless every attribute is a string (numbers equal as Python values may be stored apart:
    ``1`` and ``True``, ``0.0`` and ``-0.0``) and the filter settings are hashable."""
    if not all(type(v) is str for v in attrs.values()):
        return None
    key = (name, tuple(attrs.items()), data.dtype.str, data.shape[1:], tuple(filters.items()))
    try:
        hash(key)
    except TypeError:
        return None
    return key


# --- writing ------------------------------------------------------------------------------------
def write_new(parent: h5py.Group, node: Node, chunk_bytes: int) -> None:
    """Create ``node`` (and everything below it) in ``parent``, where it does not exist yet:
    copied from its template when it is a table of small datasets, else object by object.
    Datasets get chunks of about ``chunk_bytes`` (:func:`~tierflow.lh5.settings.chunk_shape`).

    >>> import io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> column = Node.dataset("a", {"datatype": "array<1>{real}"}, np.arange(3.0), {})
    >>> write_new(f, Node("tb", {"datatype": "table{a}"}, children=[column]), 65536)
    >>> f["tb/a"][:].tolist(), f["tb"].attrs["datatype"]
    ([0.0, 1.0, 2.0], 'table{a}')
    """
    writer = _Writer(chunk_bytes)
    if not writer.copy_template(parent.id, node):
        writer.node(parent.id, node)


class _Writer:
    """The settings of one write: chunking, and h5py's creation-order setting."""

    def __init__(self, chunk_bytes: int):
        self.chunk_bytes = chunk_bytes
        self.track_order = bool(h5py.get_config().track_order)

    def node(self, parent_id: h5g.GroupID, node: Node, created: list | None = None) -> None:
        """Create ``node`` and what is below it in ``parent_id``; with a list ``created``, the
        datasets are left without data and their ids appended to it (a template's)."""
        if node.children is None:
            dsid = self.dataset(parent_id, node, fill=created is None)
            if created is not None:
                created.append(dsid)
            return
        gid = h5g.create(parent_id, node.name, lcpl=_lcpl(node.coding), gcpl=self.gcpl())
        create_attrs(gid, node.attrs)
        for child in node.children:
            self.node(gid, child, created)

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
            return _Layout(data, node, self.chunk_bytes, self.track_order)
        key = (
            data.shape[1:],
            data.dtype,
            node.filters_key,
            chunk_shape(data.shape, data.dtype.itemsize, self.chunk_bytes)[0],
            self.chunk_bytes,
            self.track_order,
        )
        layout = _layouts.get(key)
        if layout is None:
            if len(_layouts) >= _CACHE_SIZE:
                _layouts.clear()
            layout = _layouts[key] = _Layout(data, node, self.chunk_bytes, self.track_order)
        return layout

    def dataset(self, parent_id: h5g.GroupID, node: Node, fill: bool = True) -> h5d.DatasetID:
        """Create the dataset of ``node``, with its data unless ``fill`` is false."""
        data = node.data
        layout = self.layout(data, node)
        dsid = h5d.create(parent_id, node.name, layout.tid, dataspace(data.shape), dcpl=layout.dcpl)
        if fill:
            _write_data(dsid, data, layout)
        create_attrs(dsid, node.attrs)
        return dsid

    def copy_template(self, parent_id: h5g.GroupID, node: Node) -> bool:
        """Write the table ``node`` by way of its template, if it has small datasets only (each
        within half its first chunk, under shuffle + gzip) and the destination's format can be
        made in memory; ``False`` leaves it to :meth:`node`."""
        if node.children is None or node.form is None:
            return False
        leaves = list(_leaves(node))
        layouts = [self.layout(leaf.data, leaf) for leaf in leaves]
        if not all(layout.direct(leaf.data) for leaf, layout in zip(leaves, layouts, strict=True)):
            return False
        # datasets without rows have no chunk index, which the first row written makes: a
        # template for each pattern of empty datasets copies alike whatever it held before
        empty = tuple(not leaf.data.size for leaf in leaves)
        chunk_rows = tuple(layout.rows for layout in layouts)
        key = (node.form, empty, chunk_rows, self.chunk_bytes, self.track_order)
        with _templates_lock:
            templates = _template_file(parent_id)
            if templates is None:
                return False
            template = templates.template(key, node, self)
            templates.fill(key, template, leaves, layouts)
            h5o.copy(templates.fid, template.source, parent_id, node.name, lcpl=_lcpl(node.coding))
        return True


def _leaves(node: Node) -> Iterator[Node]:
    """The datasets of ``node``, in the order :meth:`_Writer.node` creates them."""
    if node.children is None:
        yield node
        return
    for child in node.children:
        yield from _leaves(child)


def _write_data(dsid: h5d.DatasetID, data: np.ndarray, layout: _Layout) -> None:
    """Write ``data`` into a dataset of its shape: ready-compressed as its first chunk when it
    fits (see :func:`.deflate.deflated_chunk`), else through HDF5's filters."""
    if not data.size:
        return
    if layout.direct(data) and layout.level is not None:
        chunk = deflated_chunk(data, layout.chunk_elements, layout.level)
        dsid.write_direct_chunk(layout.origin, chunk)
    else:
        dsid.write(h5s.ALL, h5s.ALL, data)


# --- templates ----------------------------------------------------------------------------------
#: templates per template file; past it, they are all dropped
_TEMPLATES_MAX = 64
#: template files (one per destination format) kept
_TEMPLATE_FILES_MAX = 4


class _Template:
    """The objects of one table form in a template file: the group holding them, the path to
    copy, each dataset's id and its current shape (that of the last data written into it)."""

    __slots__ = ("datasets", "holder", "shapes", "source")

    def __init__(
        self, holder: bytes, name: bytes, datasets: list[h5d.DatasetID], shapes: list[tuple]
    ):
        self.holder = holder
        self.source = holder + b"/" + name
        self.datasets = datasets
        self.shapes = shapes

    def fill(self, leaves: list[Node], layouts: list[_Layout]) -> None:
        """Give each dataset the shape and the data of its leaf."""
        for i, (dsid, leaf, layout) in enumerate(zip(self.datasets, leaves, layouts, strict=True)):
            shape = leaf.data.shape
            if shape != self.shapes[i]:
                _resize(dsid, self.shapes[i], shape)
                self.shapes[i] = shape
            _write_data(dsid, leaf.data, layout)


def _resize(dsid: h5d.DatasetID, old: tuple, new: tuple) -> None:
    """Give a template's dataset the shape ``new`` (it has rows before and after: datasets
    without are another template's). One that shrinks is emptied first: HDF5 then drops its
    chunk rather than rewriting it, and the next data replaces it anyway."""
    if new[0] < old[0]:
        dsid.set_extent((0, *new[1:]))
    dsid.set_extent(new)


class _TemplateFile:
    """An HDF5 file in memory (nothing on disk) that holds the templates for destination files
    of one format: the same file creation properties and library version bounds, so a copied
    object is what creating it there would have made.

    Each write fills the template's datasets with the table's data and copies the whole table
    into the destination. Every table of such a form is copied, the first one too, so that a
    file's bytes do not depend on what the process wrote before.
    """

    def __init__(self, fcpl: h5p.PropFCID, libver: tuple[int, int]):
        fapl = h5p.create(h5p.FILE_ACCESS)
        fapl.set_fapl_core(backing_store=False)
        fapl.set_libver_bounds(*libver)
        name = f"tierflow-templates-{uuid.uuid4().hex}".encode()
        self.fid = h5f.create(name, h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
        self.fcpl = self.fid.get_create_plist()
        self.libver = libver
        #: whether the file has the destination's creation properties (else it is not used)
        self.usable = self.fcpl == fcpl
        self.templates: dict[tuple, _Template] = {}
        self.made = 0

    def template(self, key: tuple, node: Node, writer: _Writer) -> _Template:
        """The template of ``node``'s form (made now if there is none)."""
        found = self.templates.get(key)
        if found is not None:
            return found
        if len(self.templates) >= _TEMPLATES_MAX:
            self.clear()
        self.made += 1
        holder = b"t%d" % self.made
        gid = h5g.create(self.fid, holder)
        datasets: list[h5d.DatasetID] = []
        try:
            writer.node(gid, node, datasets)
        except BaseException:
            h5g.open(self.fid, b"/").unlink(holder)
            raise
        shapes = [leaf.data.shape for leaf in _leaves(node)]
        found = self.templates[key] = _Template(holder, node.name, datasets, shapes)
        return found

    def clear(self) -> None:
        """Drop every template (their space in the file is used again)."""
        for key in list(self.templates):
            self.drop(key)

    def drop(self, key: tuple) -> None:
        """Drop the template of ``key``."""
        template = self.templates.pop(key)
        h5g.open(self.fid, b"/").unlink(template.holder)

    def fill(self, key: tuple, template: _Template, leaves: list[Node], layouts: list) -> None:
        """:meth:`_Template.fill`; a template that fails half-way is dropped."""
        try:
            template.fill(leaves, layouts)
        except BaseException:
            self.drop(key)
            raise


_templates_lock = threading.Lock()
_template_files: list[_TemplateFile] = []
#: the template file found for each open destination file, by HDF5's file number
_template_file_of: dict[tuple, _TemplateFile | None] = {}


def _template_file(parent_id: h5g.GroupID) -> _TemplateFile | None:
    """The template file for the file of ``parent_id`` (``None`` if its format cannot be made
    in memory), found once per open file: HDF5's file number is unique to an open file, and
    h5py cannot change an open file's creation properties or library version bounds."""
    fileno = parent_id.fileno
    if fileno not in _template_file_of:
        if len(_template_file_of) >= _CACHE_SIZE:
            _template_file_of.clear()
        fid = h5i.get_file_id(parent_id)
        _template_file_of[fileno] = _template_file_for(
            fid.get_create_plist(), fid.get_access_plist().get_libver_bounds()
        )
    return _template_file_of[fileno]


def _template_file_for(fcpl: h5p.PropFCID, libver: tuple[int, int]) -> _TemplateFile | None:
    """The template file for files of these creation properties and bounds, made if needed.
    The root group's own settings (time stamps, creation order) are no matter: it is not
    copied, and a file reports them differently once reopened."""
    fcpl = fcpl.copy()
    fcpl.set_obj_track_times(True)
    fcpl.set_link_creation_order(0)
    fcpl.set_attr_creation_order(0)
    for found in _template_files:
        if found.libver == libver and found.fcpl == fcpl:
            return found if found.usable else None
    if len(_template_files) >= _TEMPLATE_FILES_MAX:
        _template_files.pop(0)
        _template_file_of.clear()
    found = _TemplateFile(fcpl, libver)
    _template_files.append(found)
    return found if found.usable else None


def _forget_templates() -> None:
    """In a forked child: a new lock, and no templates (the parent may have been using one)."""
    global _templates_lock
    _templates_lock = threading.Lock()
    _template_files.clear()
    _template_file_of.clear()


os.register_at_fork(after_in_child=_forget_templates)


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

    def __init__(self, data: np.ndarray, node: Node, chunk_bytes: int, track_order: bool):
        chunks = tuple(chunk_shape(data.shape, data.dtype.itemsize, chunk_bytes))
        if any(c > d for c, d in zip(chunks[1:], data.shape[1:], strict=True)):
            raise ValueError(f"chunk shape {chunks} does not fit rows of shape {data.shape[1:]}")
        self.dcpl = _new_dcpl(data, chunks, node.filters, node.filters_key, track_order)
        self.tid = hdf5_types(data.dtype)[0]
        self.rows = chunks[0]
        self.chunk_elements = math.prod(chunks)
        self.origin = (0,) * len(chunks)
        self.level = _gzip_level(node.filters)

    def direct(self, data: np.ndarray) -> bool:
        """Whether ``data`` is written as one ready-compressed chunk (or is empty)."""
        return not data.size or (self.level is not None and len(data) <= self.rows // 2)


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
    data: np.ndarray,
    chunks: tuple[int, ...],
    filters: dict,
    filters_key: tuple | None,
    track_order: bool,
) -> h5p.PropDCID:
    """The creation property list ``create_dataset`` makes for ``data`` with chunks ``chunks``
    and the keywords ``filters``: that of :func:`_created_dcpl`, made once per row shape,
    dtype, filters (``filters_key``, ``None`` if they are not hashable: not kept) and
    creation-order setting, with ``chunks`` set on a copy (h5py's creation sets the chunk shape
    and nothing else from ``chunks``; HDF5 redoes the filters' dataset-dependent settings,
    their ``set_local``, when it creates each dataset).

    >>> dcpl = _new_dcpl(np.zeros((5, 3), "f4"), (8, 3), {"compression": "lzf"}, None, False)
    >>> dcpl.get_chunk(), [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]
    ((8, 3), [32000])
    """
    key = None if filters_key is None else (data.shape[1:], data.dtype, filters_key, track_order)
    base = None if key is None else _base_dcpls.get(key)
    if base is None:
        base = _created_dcpl(data, chunks, filters, track_order)
        if key is not None:
            if len(_base_dcpls) >= _CACHE_SIZE:
                _base_dcpls.clear()
            _base_dcpls[key] = base
    dcpl = base.copy()
    dcpl.set_chunk(chunks)
    return dcpl


def _created_dcpl(
    data: np.ndarray, chunks: tuple[int, ...], filters: dict, track_order: bool
) -> h5p.PropDCID:
    """The creation property list of a dataset for ``data`` created, without its data, in a
    scratch file in memory by ``create_dataset`` with the general path's arguments
    (:meth:`.array.ArraySerializer.create`): HDF5 hands out a copy. Settings ``create_dataset``
    refuses raise what it raises there.

    >>> dcpl = _created_dcpl(np.zeros(4, "i2"), (4,), {"shuffle": True}, False)
    >>> dcpl.get_chunk(), bool(dcpl.get_obj_track_times())
    ((4,), False)
    """
    with h5py.File(io.BytesIO(), "w") as scratch:
        dataset = scratch.create_dataset(
            None,
            shape=data.shape,
            dtype=data.dtype,
            maxshape=(None, *data.shape[1:]),
            chunks=chunks,
            track_order=track_order,
            **filters,
        )
        return dataset.id.get_create_plist()
