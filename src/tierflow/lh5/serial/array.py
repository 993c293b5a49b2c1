"""Arrays: ``array``, ``fixedsize_array``, ``array_of_equalsized_arrays`` (and arrays of detector ids), one dataset each."""

from __future__ import annotations

from ...types import Array
from .base import Serializer

# --- reading ----------------------------------------------------------------------------------


# --- writing ----------------------------------------------------------------------------------


class ArraySerializer(Serializer):
    kinds = ("array", "fixedsize_array", "array_of_equalsized_arrays")
    classes = (Array,)
