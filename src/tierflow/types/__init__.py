"""In-memory data objects with LEGEND's names; no HDF5 here.

>>> from tierflow.types import Table, Array
>>> Table({"energy": Array([1.0, 2.0], attrs={"units": "keV"})}).view_as("pd")["energy"].tolist()
[1.0, 2.0]
"""

from .array import Array, ArrayOfDetectorIDs, ArrayOfEqualSizedArrays, FixedSizeArray
from .base import LGDO
from .concat import concat
from .encoded import ArrayOfEncodedEqualSizedArrays, VectorOfEncodedVectors
from .histogram import Axis, Histogram
from .scalar import Scalar
from .struct import Struct
from .table import Table
from .vectorofvectors import VectorOfVectors
from .waveformtable import WaveformTable

# LEGEND users write Histogram.Axis (set here: inside the class the name would shadow the type)
Histogram.Axis = Axis  # type: ignore[attr-defined]

__all__ = [
    "LGDO",
    "Array",
    "ArrayOfDetectorIDs",
    "ArrayOfEncodedEqualSizedArrays",
    "ArrayOfEqualSizedArrays",
    "Axis",
    "FixedSizeArray",
    "Histogram",
    "Scalar",
    "Struct",
    "Table",
    "VectorOfEncodedVectors",
    "VectorOfVectors",
    "WaveformTable",
    "concat",
]
