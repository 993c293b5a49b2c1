"""Encoded waveforms: ``encoded_vector_of_vectors`` and ``encoded_array_of_equalsized_arrays`` (``encoded_data`` and ``decoded_size``)."""

from __future__ import annotations

from ...types import ArrayOfEncodedEqualSizedArrays, VectorOfEncodedVectors
from .base import Serializer

# --- reading ----------------------------------------------------------------------------------


# --- writing ----------------------------------------------------------------------------------


class EncodedSerializer(Serializer):
    kinds = ("encoded_vector_of_vectors", "encoded_array_of_equalsized_arrays")
    classes = (ArrayOfEncodedEqualSizedArrays, VectorOfEncodedVectors)
