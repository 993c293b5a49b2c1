"""Structs and histograms: a group of named objects (a histogram is a struct of ``binning``, ``isdensity``, ``weights``)."""

from __future__ import annotations

from dataclasses import replace

import h5py

from ...types import LGDO, Histogram, Struct
from .attrs import set_attr, stored_attrs
from .base import Serializer, WriteContext
from .create import Node
from .dispatch import check_object, child_path, new_group, node_of, write_object

# --- reading ----------------------------------------------------------------------------------


# --- writing ----------------------------------------------------------------------------------
def create_members(
    parent: h5py.Group, name: str, obj: Struct, ctx: WriteContext, inner_path: str = ""
) -> None:
    """Write ``obj`` (a struct or a table) as the new group ``parent/name`` and each of its
    members as a new object in it.

    >>> import numpy as np
    >>> import io
    >>> from tierflow.types import Array
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> create_members(f, "s", Struct({"a": Array(np.arange(2))}), WriteContext())
    >>> f["s"].attrs["datatype"], f["s/a"][:].tolist()
    ('struct{a}', [0, 1])
    """
    group = new_group(parent, name, obj, ctx)
    fresh = replace(ctx, mode="append", write_start=0)
    for key, value in obj.items():
        write_object(group, key, value, fresh, child_path(inner_path, key))


def members_node(obj: Struct, name: str, ctx: WriteContext, inner_path: str) -> Node | None:
    """The form of ``obj`` (a struct or a table) for the fast creation path: a group of its
    members' forms (``None`` when one of them has none).

    >>> import numpy as np
    >>> from tierflow.types import Table
    >>> [c.name for c in members_node(Table({"a": np.arange(2)}), "tb", WriteContext(), "").children]
    [b'a']
    """
    attrs = stored_attrs(obj, ctx.file, name)
    children = []
    for key, value in obj.items():
        child = node_of(value, key, ctx, child_path(inner_path, key))
        if child is None:
            return None
        children.append(child)
    return Node(name, attrs, children=children)


def check_members(obj: Struct, file: str, path: str) -> None:
    """:func:`~.dispatch.check_object` of each member of ``obj`` (a struct or a table).

    >>> import numpy as np
    >>> from tierflow.types import VectorOfVectors
    >>> bad = VectorOfVectors(flattened_data=np.arange(2), cumulative_length=np.array([3]))
    >>> check_members(Struct({"v": bad}), "f.lh5", "s")
    Traceback (most recent call last):
    ...
    tierflow.errors.LH5WriteError: f.lh5:/s/v: cumulative_length ends at 3 but flattened_data has 2 values; nothing was written
    """
    for key, value in obj.items():
        check_object(value, file, f"{path}/{key}")


class StructSerializer(Serializer):
    """Structs and histograms: a group of named objects. Written into a stored struct, each
    member is appended to (or created), and the ``struct{...}`` datatype lists them all; a
    histogram's bins are replaced as a whole, never appended.

    >>> import numpy as np
    >>> import io
    >>> from tierflow.types import Array
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> StructSerializer().create(f, "s", Struct({"a": Array(np.arange(2))}), WriteContext())
    >>> StructSerializer().append(f, "s", Struct({"b": Array(np.arange(1))}), WriteContext())
    >>> f["s"].attrs["datatype"]
    'struct{a,b}'
    """

    kinds = ("struct",)
    classes = (Histogram, Struct)

    def create(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Struct)
        create_members(parent, name, obj, ctx, inner_path)

    def append(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Struct)
        group = parent.get(name)  # none under append_column: the struct is created
        if (
            isinstance(obj, Histogram)
            or ctx.mode not in ("append", "overwrite")
            or not isinstance(group, h5py.Group)
        ):
            create_members(parent, name, obj, ctx, inner_path)
            return
        for key, value in obj.items():
            write_object(group, key, value, ctx, child_path(inner_path, key))
        names = sorted(k for k in group.keys() if ".tierflow-replaced-" not in k)
        set_attr(group, "datatype", f"{obj.datatype_name()}{{{','.join(names)}}}", ctx.journal)

    def check(self, obj: LGDO, file: str, path: str) -> None:
        assert isinstance(obj, Struct)
        check_members(obj, file, path)

    def node(self, obj: LGDO, name: str, ctx: WriteContext, inner_path: str) -> Node | None:
        assert isinstance(obj, Struct)
        if isinstance(obj, Histogram):
            return None
        return members_node(obj, name, ctx, inner_path)
