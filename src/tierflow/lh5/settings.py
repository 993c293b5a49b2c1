"""Storage defaults: HDF5 filters and chunk sizes.

>>> hdf5_filters("lzf")
{'compression': 'lzf', 'shuffle': True}
>>> hdf5_filters(False)
{}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import hdf5plugin
import numpy as np

#: LEGEND's writers' default: gzip level 4 with byte shuffling
DEFAULT_HDF5_SETTINGS: dict[str, Any] = {
    "compression": "gzip",
    "compression_opts": 4,
    "shuffle": True,
}
#: target uncompressed bytes per chunk; chunks always hold whole rows (whole waveforms).
#: Small enough that reading a few rows of a compressed dataset decompresses little,
#: large enough that full passes run at the filter's speed.
DEFAULT_CHUNK_BYTES = 64 * 1024

CompressionSpec = str | bool | Mapping[str, Any] | None


def hdf5_filters(spec: CompressionSpec) -> dict[str, Any]:
    """h5py ``create_dataset`` keywords for a compression spec.

    ``None``: the default (gzip-4 + shuffle); ``False`` or ``"none"``: no filter;
    ``"gzip"``, ``"lzf"``, ``"zstd"``, ``"lz4"`` or ``"blosc"`` (the last three from
    hdf5plugin); or a dict of h5py keywords, used as it is.
    """
    if spec is None:
        return dict(DEFAULT_HDF5_SETTINGS)
    if spec is False or spec == "none":
        return {}
    if isinstance(spec, Mapping):
        return dict(spec)
    named = {
        "gzip": lambda: dict(DEFAULT_HDF5_SETTINGS),
        "lzf": lambda: {"compression": "lzf", "shuffle": True},
        "zstd": lambda: {**hdf5plugin.Zstd(clevel=3), "shuffle": True},
        "lz4": lambda: {**hdf5plugin.LZ4(), "shuffle": True},
        "blosc": lambda: dict(
            hdf5plugin.Blosc(cname="zstd", clevel=3, shuffle=hdf5plugin.Blosc.SHUFFLE)
        ),
    }
    if spec not in named:
        raise ValueError(
            f"unknown compression {spec!r}; use one of {sorted(named)}, False, or a dict of h5py settings"
        )
    return named[spec]()


def chunk_shape(
    shape: tuple[int, ...], itemsize: int, target_bytes: int = DEFAULT_CHUNK_BYTES
) -> tuple[int, ...]:
    """Chunks of about ``target_bytes`` that hold whole rows, whatever the first write's size.

    >>> chunk_shape((20000, 1000), 2)
    (32, 1000)
    >>> chunk_shape((1,), 4)
    (16384,)
    """
    row_bytes = max(1, itemsize * int(np.prod(shape[1:], dtype=np.int64)))
    rows = max(1, target_bytes // row_bytes)
    return (int(rows), *shape[1:])
