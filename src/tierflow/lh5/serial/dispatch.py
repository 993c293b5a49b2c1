"""Which serializer writes each object, and the rules of a write every serializer follows.

:func:`write_object` is the general path of :func:`tierflow.lh5.write` and the recursion of
every serializer into the objects it holds: it applies the rules of the write mode
(``write_safe`` refuses to replace, ``append_column`` adds columns to tables only), encodes
waveforms a codec is asked for, and hands the object to the serializer of its kind
(:func:`tierflow.lh5.serial.for_object`): :meth:`~.base.Serializer.append` into an object
that exists, :meth:`~.base.Serializer.create` otherwise.

:func:`write_fast` is the fast creation path: a new object whose serializers give its form
(:meth:`~.base.Serializer.node`) is written by :mod:`.create` in one go, the same objects
:meth:`~.base.Serializer.create` would make.
"""

from __future__ import annotations

import fnmatch

import h5py

from ...errors import LH5WriteError
from ...types import LGDO, ArrayOfEqualSizedArrays, Struct, VectorOfVectors
from .. import serial  # the registry (this module is imported while it is being built)
from ..codecs import WaveformCodec, codec_by_name, codec_from_attrs, encode
from . import create
from .attrs import store_attrs
from .base import WriteContext, fast_paths_enabled
from .create import Node

#: ``compression`` values that name HDF5 filters, not waveform codecs
_FILTER_NAMES = ("gzip", "lzf", "zstd", "lz4", "blosc", "none")


def write_object(
    parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
) -> None:
    """Write ``obj`` as ``parent/name`` as ``ctx.mode`` says, object by object.

    ``inner_path`` is the path of ``obj`` inside the object :func:`tierflow.lh5.write` was
    given (what the glob patterns of ``ctx.codecs`` match).

    >>> import numpy as np
    >>> import io
    >>> from tierflow.types import Table
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> write_object(f, "tb", Table({"a": np.arange(3)}), WriteContext())
    >>> write_object(f, "tb", Table({"a": np.arange(2)}), WriteContext(mode="append"))
    >>> f["tb/a"][:].tolist(), f["tb"].attrs["datatype"]
    ([0, 1, 2, 0, 1], 'table{a}')
    """
    exists = name in parent
    obj = _encoded_if_asked(parent, name, obj, ctx, inner_path, exists)
    if exists and ctx.mode == "write_safe":
        raise LH5WriteError(
            "object exists; use wo_mode='append', 'overwrite' or 'overwrite_file'",
            file=ctx.file,
            obj=f"{parent.name}/{name}",
        )
    if ctx.mode == "append_column" and not isinstance(obj, Struct):
        raise LH5WriteError(
            "append_column needs a Table", file=ctx.file, obj=f"{parent.name}/{name}"
        )
    serializer = serial.for_object(obj)
    if serializer is None:
        raise LH5WriteError(
            f"cannot write a {type(obj).__name__}", file=ctx.file, obj=f"{parent.name}/{name}"
        )
    if ctx.mode == "append_column" or (exists and ctx.mode in ("append", "overwrite")):
        serializer.append(parent, name, obj, ctx, inner_path)
    else:
        serializer.create(parent, name, obj, ctx, inner_path)


def check_object(obj: LGDO, file: str, path: str) -> None:
    """The serializer's :meth:`~.base.Serializer.check` of ``obj`` (the object at ``path``
    that ``file`` is to get), and of everything it holds.

    >>> import numpy as np
    >>> from tierflow.types import Table
    >>> check_object(Table({"a": np.arange(3)}), "f.lh5", "tb")
    >>> bad = VectorOfVectors(flattened_data=np.arange(2), cumulative_length=np.array([3]))
    >>> check_object(Table({"v": bad}), "f.lh5", "tb")
    Traceback (most recent call last):
    ...
    tierflow.errors.LH5WriteError: f.lh5:/tb/v: cumulative_length ends at 3 but flattened_data has 2 values; nothing was written
    """
    serializer = serial.for_object(obj)
    if serializer is not None:
        serializer.check(obj, file, path)


def write_fast(parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext) -> bool:
    """Write ``obj`` as the new object ``parent/name`` by the fast creation path if it can:
    fast paths are on (:func:`~.base.general_path_only`), nothing of that name exists, and
    the serializers of ``obj`` and of all it holds give its form. ``False`` leaves the work
    to :func:`write_object` (which also says what is wrong with an object refused here).

    >>> import numpy as np
    >>> import io
    >>> from tierflow.types import Table
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> write_fast(f, "tb", Table({"a": np.arange(3)}), WriteContext())
    True
    >>> write_fast(f, "tb", Table({"a": np.arange(3)}), WriteContext())  # exists
    False
    """
    if ctx.mode == "append_column" or not fast_paths_enabled():
        return False
    try:
        if parent.id.links.exists(name.encode("utf8")):
            return False
        node = node_of(obj, name, ctx, "")
    except Exception:
        return False  # the general path says what is wrong
    if node is None:
        return False
    ctx.journal.created(parent, name)  # first, so a half-written object is removed too
    create.write_new(parent, node, ctx.chunk_bytes)
    return True


def node_of(obj: LGDO, name: str, ctx: WriteContext, inner_path: str) -> Node | None:
    """The form of ``obj`` written new as ``name`` by the fast creation path, from the
    serializer of its kind (``None``: that path does not write it).

    >>> import numpy as np
    >>> from tierflow.types import Scalar, Table
    >>> node_of(Table({"a": np.arange(2)}), "tb", WriteContext(), "").name
    b'tb'
    >>> node_of(Scalar(1.0), "x", WriteContext(), "") is None
    True
    """
    serializer = serial.for_object(obj)
    return None if serializer is None else serializer.node(obj, name, ctx, inner_path)


def codec_for(obj: LGDO, ctx: WriteContext, inner_path: str) -> WaveformCodec | str | None:
    """The waveform codec asked for ``obj`` (at ``inner_path``): the last pattern of
    ``ctx.codecs`` it matches, else its ``attrs["compression"]``; ``None`` when that names
    no codec (an HDF5 filter, settings, nothing). An unknown codec name fails here.

    >>> import numpy as np
    >>> from tierflow.types import ArrayOfEqualSizedArrays
    >>> wf = ArrayOfEqualSizedArrays(nda=np.zeros((2, 3), "u2"))
    >>> codec_for(wf, WriteContext(codecs={"wf/*": "radware_sigcompress"}), "wf/values")
    'radware_sigcompress'
    >>> codec_for(wf, WriteContext(), "wf/values") is None
    True
    """
    spec = obj.attrs.get("compression")
    for pattern, codec in ctx.codecs.items():
        if fnmatch.fnmatchcase(inner_path, pattern.strip("/")):
            spec = codec
    if spec is None or isinstance(spec, dict) or (isinstance(spec, str) and spec in _FILTER_NAMES):
        return None
    if isinstance(spec, WaveformCodec):
        return spec
    codec_by_name(str(spec))  # an unknown name fails here, naming the known codecs
    return str(spec)


def _encoded_if_asked(
    parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str, exists: bool
) -> LGDO:
    """``obj`` as it is written: waveforms (equal-sized or not) encoded with the codec of the
    stored object they are added to, else with the one asked for (:func:`codec_for`)."""
    if not isinstance(obj, ArrayOfEqualSizedArrays | VectorOfVectors):
        return obj
    if exists and appends(ctx) and parent[name].attrs.get("codec") is not None:
        return encode(obj, codec_from_attrs(parent[name].attrs))
    codec = codec_for(obj, ctx, inner_path)
    return obj if codec is None else encode(obj, codec)


# --- what the serializers share --------------------------------------------------------------
def appends(ctx: WriteContext) -> bool:
    """Whether a write into an existing object adds rows to it: ``append``, or ``overwrite``
    from a row past the first (overwriting from row 0 replaces the object).

    >>> appends(WriteContext(mode="overwrite", write_start=0))
    False
    """
    return ctx.mode == "append" or (ctx.mode == "overwrite" and ctx.write_start > 0)


def check_write_start(start: int, rows: int, ctx: WriteContext, path: str) -> None:
    """``wo_mode="overwrite"`` replaces rows from ``write_start`` on (the object ends after the
    new rows, as in LEGEND's writer); starting past the end would leave a gap of made-up rows.

    >>> check_write_start(3, 2, WriteContext(file="f.lh5"), "/tb")
    Traceback (most recent call last):
    ...
    tierflow.errors.LH5WriteError: ...write_start 3 is past the end of the 2 rows in the file...
    """
    if start > rows:
        raise LH5WriteError(
            f"write_start {start} is past the end of the {rows} rows in the file; "
            f"overwrite from row {rows} at most (that appends)",
            file=ctx.file,
            obj=path,
        )


def stored_datatype(parent: h5py.Group, name: str) -> str | None:
    """The ``datatype`` attribute of the stored ``parent/name`` (``None``: it has none).

    >>> import io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> f.create_group("g").attrs["datatype"] = "struct{}"
    >>> stored_datatype(f, "g")
    'struct{}'
    """
    raw = parent[name].attrs.get("datatype")
    return raw.decode() if isinstance(raw, bytes) else raw


def new_group(parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext) -> h5py.Group:
    """The new group ``parent/name`` with the attributes of ``obj``; an object of that name is
    moved aside by the journal (deleted when the write commits).

    >>> import io
    >>> from tierflow.types import Struct
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> new_group(f, "s", Struct({}), WriteContext()).attrs["datatype"]
    'struct{}'
    """
    if name in parent:
        ctx.journal.replacing(parent, name)
    group = parent.create_group(name)
    ctx.journal.created(parent, name)
    store_attrs(group, obj)
    return group


def child_path(inner_path: str, key: str) -> str:
    """The path of the member ``key`` inside an object at ``inner_path``.

    >>> child_path("", "a"), child_path("a", "b")
    ('a', 'a/b')
    """
    return f"{inner_path}/{key}".strip("/")
