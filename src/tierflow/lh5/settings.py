"""Storage defaults: HDF5 filters and chunk sizes.

>>> hdf5_filters("lzf")
{'compression': 'lzf', 'shuffle': True}
>>> hdf5_filters(False)
{}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import hdf5plugin

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
#: the smallest chunk a first write of few rows gets: a dataset first written one row at a time
#: must not get one-row chunks (LEGEND's writer does, and reading them back crawls)
MIN_CHUNK_BYTES = 8 * 1024

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
    """Chunks of whole rows: about ``target_bytes``; for rows of a few values (not waveforms),
    the rows of the first write (``shape``) when they are fewer, but never under
    :data:`MIN_CHUNK_BYTES`.

    A small table then reads (and inflates) only its own rows rather than a mostly empty 64 KiB
    chunk, and a dataset first written a row at a time still gets chunks of useful size.

    >>> chunk_shape((20000, 1000), 2), chunk_shape((1, 8192), 2)
    ((32, 1000), (4, 8192))
    >>> chunk_shape((2000,), 4), chunk_shape((1,), 4), chunk_shape((10**6,), 4)
    ((2048,), (2048,), (16384,))
    """
    row_bytes = max(1, itemsize * math.prod(shape[1:]))
    rows = max(1, target_bytes // row_bytes)
    if shape and shape[0] < rows and 2 * row_bytes <= MIN_CHUNK_BYTES:
        rows = max(shape[0], MIN_CHUNK_BYTES // row_bytes)
    return (int(rows), *shape[1:])


#: seconds a write waits for another writer of the same file to finish before giving up
WRITE_LOCK_TIMEOUT = 120.0
