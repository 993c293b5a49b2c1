"""LH5 storage: read and write tierflow data objects in LEGEND's HDF5 conventions.

>>> import tempfile, os, numpy as np
>>> from tierflow import lh5
>>> from tierflow.types import Table
>>> path = os.path.join(tempfile.mkdtemp(), "demo.lh5")
>>> lh5.write(Table({"energy": np.array([1.0, 2.0])}), "ch000/hit", path)
>>> lh5.ls(path, "ch*/*")
['ch000/hit']
>>> lh5.read("ch000/hit", path).view_as("pd")["energy"].tolist()
[1.0, 2.0]
"""

from .codecs import RadwareSigcompress, ULEB128ZigZagDiff, decode, encode
from .datatype import parse as parse_datatype
from .inspect import ls, show
from .read import read, read_n_rows
from .settings import DEFAULT_CHUNK_BYTES, DEFAULT_HDF5_SETTINGS
from .store import LH5Store
from .write import write

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_HDF5_SETTINGS",
    "LH5Store",
    "RadwareSigcompress",
    "ULEB128ZigZagDiff",
    "decode",
    "encode",
    "ls",
    "parse_datatype",
    "read",
    "read_n_rows",
    "show",
    "write",
]


def __getattr__(name: str):
    # ``from tierflow.lh5 import LH5Iterator`` as in LEGEND; it lives one layer up, in iterate
    if name == "LH5Iterator":
        from ..iterate import LH5Iterator

        return LH5Iterator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
