"""Sizing buffers by memory: ``"100 MB"`` becomes a number of rows."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np

from ..lh5.serial.array import ArrayPlan
from ..lh5.serial.encoded import EncodedPlan
from ..lh5.serial.table import TablePlan
from ..lh5.serial.vector import VectorPlan
from ..types import LGDO, Array, Table, VectorOfVectors

_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_MEMORY = re.compile(r"^\s*([0-9.eE+-]+)\s*\*?\s*([A-Za-z]+)\s*$")


def parse_memory(text: str) -> int:
    """Bytes in a memory size such as ``"100 MB"``, ``"100*MB"`` or ``"2 GiB"``.

    >>> parse_memory("100 MB"), parse_memory("1*KiB"), parse_memory("512 B")
    (100000000, 1024, 512)
    """
    match = _MEMORY.match(text)
    unit = match and _UNITS.get(match.group(2).lower())
    if not match or unit is None:
        msg = f"buffer size {text!r} is not a memory size like '100 MB' or '2 GiB'"
        raise ValueError(msg)
    return int(float(match.group(1)) * unit)


def bytes_per_row(obj: LGDO, mean_length: Callable[[str], float], _path: str = "") -> float:
    """Bytes one row of ``obj`` takes; vectors use their mean length ``mean_length(path)``.

    >>> import numpy as np
    >>> bytes_per_row(Table({"a": np.zeros(2, "float32"), "b": np.zeros((2, 8), "uint16")}), None)
    20.0
    """
    if isinstance(obj, Table):
        prefix = f"{_path}/" if _path else ""
        return float(sum(bytes_per_row(v, mean_length, f"{prefix}{k}") for k, v in obj.items()))
    if isinstance(obj, VectorOfVectors):
        inner = bytes_per_row(obj.flattened_data, mean_length, f"{_path}/flattened_data")
        return 8.0 + inner * mean_length(_path)
    if isinstance(obj, Array):
        nda = obj.nda
        return float(nda.dtype.itemsize * math.prod(nda.shape[1:]))
    return 8.0


def rows_for_memory(size: str, row_bytes: float) -> int:
    """Rows that fit in ``size`` at ``row_bytes`` each (at least one).

    >>> rows_for_memory("1 kB", 20)
    50
    """
    return max(1, int(parse_memory(size) // max(row_bytes, 1.0)))


def mean_vector_length(plan: TablePlan, path: str, rows: int) -> float:
    """Mean length of the vectors of the column ``path`` of a table of ``rows`` rows read by
    ``plan``, from metadata (the values stored) or, for encoded vectors, their decoded sizes;
    1 where the column is not a vector of vectors.

    >>> import h5py, io, numpy as np
    >>> from tierflow import lh5
    >>> from tierflow.lh5.serial.describe import plan_of
    >>> from tierflow.types import Table, VectorOfVectors
    >>> f = h5py.File(io.BytesIO(), "w")
    >>> lh5.write(Table({"v": VectorOfVectors([[1, 2, 3], [4]])}), "t", f)
    >>> mean_vector_length(plan_of(f["t"]), "v", 2)
    2.0
    """
    column = plan.column(path)
    if isinstance(column, VectorPlan):
        return (column.flat.n_rows() or 0) / max(rows, 1)
    if isinstance(column, EncodedPlan) and isinstance(column.sizes, ArrayPlan):
        sizes = column.sizes.read(slice(0, min(rows, column.sizes.n_rows())))
        assert isinstance(sizes, Array)
        return float(np.mean(sizes.nda)) if len(sizes) else 1.0
    return 1.0
