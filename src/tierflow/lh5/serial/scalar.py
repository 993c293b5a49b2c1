"""Scalars: one value in a dataset of shape ``()``."""

from __future__ import annotations

import h5py
import numpy as np

from ...types import LGDO, Scalar
from .attrs import store_attrs
from .base import Serializer, WriteContext

# --- reading ----------------------------------------------------------------------------------


# --- writing ----------------------------------------------------------------------------------


class ScalarSerializer(Serializer):
    """Scalars: a dataset of shape ``()``, replaced as a whole by every write (a scalar has no
    rows to add).

    >>> import io
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> ScalarSerializer().create(f, "x", Scalar(1.5), WriteContext())
    >>> ScalarSerializer().append(f, "x", Scalar("two"), WriteContext(mode="append"))
    >>> f["x"][()], f["x"].attrs["datatype"]
    (b'two', 'string')
    """

    kinds = ("scalar",)
    classes = (Scalar,)

    def create(
        self, parent: h5py.Group, name: str, obj: LGDO, ctx: WriteContext, inner_path: str = ""
    ) -> None:
        assert isinstance(obj, Scalar)
        if name in parent:
            ctx.journal.replacing(parent, name)
        value = obj.value
        if isinstance(value, str):
            ds = parent.create_dataset(name, data=value, dtype=h5py.string_dtype())
        else:
            ds = parent.create_dataset(name, data=np.asarray(value))
        ctx.journal.created(parent, name)
        store_attrs(ds, obj)

    append = create
