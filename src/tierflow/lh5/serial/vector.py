"""Vectors of vectors at any depth: ``cumulative_length`` and ``flattened_data``."""

from __future__ import annotations

from ...types import VectorOfVectors
from .base import Serializer

# --- reading ----------------------------------------------------------------------------------


# --- writing ----------------------------------------------------------------------------------


class VectorSerializer(Serializer):
    kinds = ("vector_of_vectors",)
    classes = (VectorOfVectors,)
