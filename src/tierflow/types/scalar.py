"""Scalar: a single value with attributes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import LGDO, check_library


class Scalar(LGDO):
    """A single number, bool or string.

    >>> Scalar(3.5, attrs={"units": "keV"}).form_datatype()
    'real'
    >>> Scalar("hello").form_datatype()
    'string'
    """

    def __init__(self, value: Any, attrs: Mapping[str, Any] | None = None):
        if isinstance(value, bytes | np.bytes_):
            value = bytes(value).decode()
        self.value = value
        super().__init__(attrs)

    def datatype_name(self) -> str:
        if isinstance(self.value, bool | np.bool_):
            return "bool"
        if isinstance(self.value, str):
            return "string"
        if isinstance(self.value, complex | np.complexfloating):
            return "complex"
        return "real"

    def form_datatype(self) -> str:
        return self.datatype_name()

    def view_as(self, library: str = "np") -> Any:
        """The value itself; the library is ignored for scalars."""
        check_library(library, ("np", "pd", "ak"), "Scalar")
        return self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scalar) and self.value == other.value and self.attrs == other.attrs

    def __repr__(self) -> str:
        return f"Scalar({self.value!r}, attrs={self.getattrs()})"
