"""The base class of all data objects and the helpers they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np


def element_type(dtype: np.dtype) -> str:
    """The LH5 element name of a numpy dtype.

    >>> element_type(np.dtype("float32")), element_type(np.dtype("S8")), element_type(np.dtype(bool))
    ('real', 'string', 'bool')
    """
    kind = np.dtype(dtype).kind
    if kind == "b":
        return "bool"
    if kind in "SU":
        return "string"
    if kind == "c":
        return "complex"
    if kind in "iuf":
        return "real"
    if kind == "V":
        return "blob"
    msg = f"numpy dtype {dtype} has no LH5 element type"
    raise TypeError(msg)


class LGDO(ABC):
    """A LEGEND data object: something with ``attrs`` and an LH5 ``datatype``.

    ``attrs`` always holds the current ``datatype``; other entries (``units``,
    ``description``, ...) are written to the file as HDF5 attributes.
    """

    attrs: dict[str, Any]

    def __init__(self, attrs: Mapping[str, Any] | None = None):
        self.attrs = dict(attrs or {})
        if "datatype" in self.attrs:
            given = self.attrs.pop("datatype")
            if given.split("<")[0].split("{")[0] != self.datatype_name():
                msg = f"datatype {given!r} does not fit a {type(self).__name__}"
                raise ValueError(msg)
        self.attrs["datatype"] = self.form_datatype()

    @abstractmethod
    def datatype_name(self) -> str:
        """The head of the datatype string, e.g. ``"array"`` or ``"table"``."""

    @abstractmethod
    def form_datatype(self) -> str:
        """The full datatype string, e.g. ``"array<1>{real}"``."""

    @abstractmethod
    def view_as(self, library: str) -> Any:
        """View the data in a third-party library (``"np"``, ``"pd"`` or ``"ak"``)."""

    def update_datatype(self) -> None:
        """Refresh ``attrs["datatype"]`` after a structural change."""
        self.attrs["datatype"] = self.form_datatype()

    def getattrs(self, datatype: bool = False) -> dict[str, Any]:
        """The attributes, without ``datatype`` unless asked for."""
        self.update_datatype()
        return (
            dict(self.attrs)
            if datatype
            else {k: v for k, v in self.attrs.items() if k != "datatype"}
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.form_datatype()}, attrs={self.getattrs()})"


def check_library(library: str, allowed: tuple[str, ...], owner: str) -> None:
    """Raise a clear error for a ``view_as`` library an object does not offer."""
    if library not in allowed:
        msg = f"{owner}.view_as: library must be one of {allowed}, not {library!r}"
        raise ValueError(msg)
