"""Scalars: one value in a dataset of shape ``()``."""

from __future__ import annotations

from ...types import Scalar
from .base import Serializer

# --- reading ----------------------------------------------------------------------------------


# --- writing ----------------------------------------------------------------------------------


class ScalarSerializer(Serializer):
    kinds = ("scalar",)
    classes = (Scalar,)
