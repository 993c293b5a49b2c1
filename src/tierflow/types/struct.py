"""Struct: a named collection of data objects."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, Generic, TypeVar

from .base import LGDO

#: the kind of data object a struct holds as its fields (any for a Struct, columns for a Table)
FieldT = TypeVar("FieldT", bound=LGDO)


class Struct(LGDO, MutableMapping[str, FieldT], Generic[FieldT]):
    """A dict of named data objects; ``struct["a/b"]`` reaches into nested structs.

    Code that handles any struct or table walks it with ``items()`` or ``keys()``, never
    ``values()``: a subclass may name a field like a mapping method (``WaveformTable.values``
    is its waveform column, as in LEGEND).

    >>> from tierflow.types import Array, Scalar
    >>> s = Struct({"b": Array([1, 2]), "a": Scalar(3)})
    >>> s.form_datatype(), list(s), s.a.value
    ('struct{a,b}', ['b', 'a'], 3)
    """

    def __init__(
        self, obj_dict: Mapping[str, FieldT] | None = None, attrs: Mapping[str, Any] | None = None
    ):
        self._fields: dict[str, FieldT] = {}
        for name, obj in (obj_dict or {}).items():
            self._check_field(str(name), obj)
            self._fields[str(name)] = obj
        super().__init__(attrs)

    @staticmethod
    def _check_field(name: str, obj: Any) -> None:
        if not isinstance(obj, LGDO):
            msg = f"field {name!r} must be a tierflow data object, not {type(obj).__name__}"
            raise TypeError(msg)
        if not name or "/" in name:
            msg = f"field name {name!r} must be non-empty and contain no '/'"
            raise ValueError(msg)

    def datatype_name(self) -> str:
        return "struct"

    def form_datatype(self) -> str:
        return f"{self.datatype_name()}{{{','.join(sorted(self._fields))}}}"

    def add_field(self, name: str, obj: FieldT) -> None:
        """Add or replace the field ``name``."""
        self._check_field(name, obj)
        self._fields[name] = obj
        self.update_datatype()

    def remove_field(self, name: str, delete: bool = False) -> None:
        """Remove the field ``name`` (``KeyError`` naming the fields if absent)."""
        if name not in self._fields:
            raise KeyError(self._missing(name))
        del self._fields[name]
        self.update_datatype()

    def __getattr__(self, name: str) -> FieldT:
        """Fields are attributes too: ``table.energy`` is ``table["energy"]``."""
        fields = self.__dict__.get("_fields")
        if fields is not None and name in fields:
            return fields[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or field {name!r}")

    def _missing(self, name: str) -> str:
        msg = f"no field {name!r}; fields are {sorted(self._fields)}"
        for path in self.nested_paths():
            if name in (path.replace("/", "__"), path.replace("/", "_")):
                msg += (
                    f"; a nested field is named {path!r} here (in expressions "
                    f"{path.replace('/', '__')!r}, in pandas {path.replace('/', '_')!r})"
                )
                break
        return msg

    def nested_paths(self) -> list[str]:
        """The paths (``a/b``, ``a/b/c``) of the fields inside nested structs and tables.

        >>> from tierflow.types import Table
        >>> Table({"e": [1], "geds": Table({"q": Table({"ok": [True]})})}).nested_paths()
        ['geds/q', 'geds/q/ok']
        """
        return [path for path in self._paths("") if "/" in path]

    def _paths(self, prefix: str) -> Iterator[str]:
        for key, obj in self._fields.items():
            yield prefix + key
            if isinstance(obj, Struct):
                yield from obj._paths(f"{prefix}{key}/")

    def __getitem__(self, name: str) -> FieldT:
        if not isinstance(name, str):
            msg = f"Struct fields are named by strings, not {type(name).__name__}"
            raise TypeError(msg)
        head, _, rest = name.partition("/")
        if head not in self._fields:
            raise KeyError(self._missing(head))
        obj = self._fields[head]
        if rest:
            if not isinstance(obj, Struct):
                raise KeyError(
                    f"field {head!r} is a {type(obj).__name__}, it has no field {rest!r}"
                )
            return obj[rest]
        return obj

    def __setitem__(self, name: str, obj: FieldT) -> None:
        self.add_field(name, obj)

    def __delitem__(self, name: str) -> None:
        self.remove_field(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self[name]
        except KeyError:
            return False
        return True

    def view_as(self, library: str = "np") -> dict[str, Any]:
        """A dict of each field viewed in ``library``."""
        return {k: v.view_as(library) for k, v in self._fields.items()}

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.getattrs() == other.getattrs()
            and self._fields.keys() == other._fields.keys()
            and all(v == other._fields[k] for k, v in self._fields.items())
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}: {type(v).__name__}" for k, v in self._fields.items())
        return f"{type(self).__name__}({{{fields}}}, attrs={self.getattrs()})"
