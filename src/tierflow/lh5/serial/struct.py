"""Structs and histograms: a group of named objects (a histogram is a struct of ``binning``, ``isdensity``, ``weights``)."""

from __future__ import annotations

from ...types import Histogram, Struct
from .base import Serializer

# --- reading ----------------------------------------------------------------------------------


# --- writing ----------------------------------------------------------------------------------


class StructSerializer(Serializer):
    kinds = ("struct",)
    classes = (Histogram, Struct)
