"""The fast creation path (``lh5/serial/create.py``, ``lh5/serial/attrs.py``) builds its objects
with h5py's public API only, and what it builds is what h5py's high-level calls build: the
dataset creation properties of ``Group.create_dataset`` under the general path's arguments, and
the attribute types of ``obj.attrs[key] = value`` for every value the writers store.
"""

from __future__ import annotations

import enum
import io

import h5py
import numpy as np
import pytest
from h5py import h5a

from tierflow.lh5.serial.attrs import create_attrs, prepare_attr
from tierflow.lh5.serial.create import Node, write_new
from tierflow.lh5.settings import chunk_shape

CHUNK_BYTES = 16 * 1024


def general_dataset(group: h5py.Group, name: str, data: np.ndarray, filters: dict):
    """The dataset ``ArraySerializer.create`` makes (its call, attributes aside)."""
    return group.create_dataset(
        name,
        data=data,
        maxshape=(None, *data.shape[1:]),
        chunks=chunk_shape(data.shape, data.dtype.itemsize, CHUNK_BYTES),
        **filters,
    )


@pytest.mark.parametrize("track_order", [False, True])
@pytest.mark.parametrize(
    ("dtype", "filters"),
    [
        ("f8", {}),
        ("f4", {"compression": "gzip", "compression_opts": 4, "shuffle": True}),
        ("i2", {"compression": "lzf"}),
        ("u4", {"shuffle": True, "fletcher32": True}),
        ("i4", {"scaleoffset": 0}),
        ("f8", {"scaleoffset": 3, "compression": "gzip"}),
    ],
)
def test_fast_datasets_get_the_creation_properties_of_create_dataset(dtype, filters, track_order):
    rng = np.random.default_rng(14)
    config = h5py.get_config()
    before = config.track_order
    config.track_order = track_order
    try:
        with h5py.File(io.BytesIO(), "w") as f:
            # rows of one shape, dtype and filters in turn: one set of properties made once,
            # each chunk shape given to a copy of it
            for i, rows in enumerate([0, 5, 700, 3000, 40, 3000]):
                data = (rng.random((rows, 3)) * 100).astype(dtype)
                write_new(f, Node.dataset(f"fast{i}", {}, data, dict(filters)), CHUNK_BYTES)
                general_dataset(f, f"general{i}", data, filters)
                # both opened anew: HDF5 reports time stamps on for a dataset of this file
                # format it opens, whatever it was made with
                fast, general = f[f"fast{i}"], f[f"general{i}"]
                assert fast.chunks == general.chunks
                assert fast.id.get_create_plist() == general.id.get_create_plist()
                assert fast.id.get_type() == general.id.get_type()
                assert fast.maxshape == general.maxshape
                assert fast[()].tobytes() == general[()].tobytes()
    finally:
        config.track_order = before


@pytest.mark.parametrize(
    "filters",
    [
        {"compression": "gzip", "compression_opts": 12},
        {"compression": "no-such-filter"},
        {"compression": "lzf", "compression_opts": 3},
        {"scaleoffset": 2, "fletcher32": True},
        {"compression_opts": 4},
    ],
)
def test_settings_create_dataset_refuses_fail_alike(filters):
    data = np.arange(10.0)
    with h5py.File(io.BytesIO(), "w") as f:
        with pytest.raises((ValueError, TypeError)) as general:
            general_dataset(f, "general", data, filters)
        with pytest.raises(type(general.value)) as fast:
            write_new(f, Node.dataset("fast", {}, data, dict(filters)), CHUNK_BYTES)
        assert str(fast.value) == str(general.value)
        assert list(f) == []


class Kind(enum.IntEnum):
    HIT = 3


ATTRIBUTE_VALUES = [
    "ns",
    "",
    "µs",
    b"raw",
    np.str_("s"),
    np.bytes_(b"xy"),
    3,
    -(2**40),
    2**63 + 1,
    True,
    np.bool_(False),
    1.5,
    -0.0,
    float("nan"),
    np.int8(-2),
    np.uint16(7),
    np.uint64(2**64 - 1),
    np.float16(0.5),
    np.float32(2.5),
    np.longdouble(1.25),
    Kind.HIT,
]


@pytest.mark.parametrize("value", ATTRIBUTE_VALUES, ids=repr)
def test_attributes_get_the_types_h5py_gives(value):
    stored = value.encode() if isinstance(value, str) else value  # as the writers pass it
    with h5py.File(io.BytesIO(), "w") as f:
        fast, general = f.create_group("fast"), f.create_group("general")
        create_attrs(fast.id, [prepare_attr("a", value)])
        general.attrs["a"] = stored
        fast_attr, general_attr = h5a.open(fast.id, b"a"), h5a.open(general.id, b"a")
        assert fast_attr.get_type() == general_attr.get_type()
        assert fast_attr.shape == general_attr.shape
        assert repr(fast.attrs["a"]) == repr(general.attrs["a"])
