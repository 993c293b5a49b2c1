"""Field masks: which fields of a table or struct to read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import LH5ObjectNotFoundError

#: what a user passes: a list of (possibly nested ``a/b``) names, or a dict name -> bool
FieldMaskSpec = Sequence[str] | Mapping[str, bool] | None


class FieldMask:
    """A parsed field mask: per top-level field, read all of it, part of it, or none.

    A list names the fields to read. A dict maps names to True/False; fields not
    named take the opposite of the first value (so ``{"a": False}`` reads all but
    ``a``). ``"a/b"`` reaches into a nested table.

    >>> m = FieldMask.of(["energy", "geds/t0", "geds/dt"])
    >>> [(name, sub) for name, sub in m.select(["energy", "geds", "spms"], "f.lh5", "tb")]
    [('energy', None), ('geds', FieldMask(['dt', 't0']))]
    >>> [name for name, _ in FieldMask.of({"spms": False}).select(["energy", "spms"], "f", "t")]
    ['energy']
    """

    def __init__(self, entries: Mapping[str, bool], default: bool):
        self.default = default
        self.top: dict[str, bool] = {}
        nested: dict[str, dict[str, bool]] = {}
        for name, keep in entries.items():
            head, _, rest = str(name).strip("/").partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = keep
            else:
                self.top[head] = bool(keep)
        self.nested = {k: FieldMask(v, default) for k, v in nested.items()}

    @classmethod
    def of(cls, spec: FieldMaskSpec | FieldMask) -> FieldMask | None:
        """Parse a user's mask; ``None`` means read everything."""
        if spec is None or isinstance(spec, FieldMask):
            return spec
        if isinstance(spec, str):
            spec = [spec]
        if isinstance(spec, Mapping):
            if not spec:
                return None
            default = not bool(next(iter(spec.values())))
            return cls(dict(spec), default)
        return cls(dict.fromkeys(spec, True), False)

    def key(self) -> tuple:
        """A hashable form: equal keys select alike.

        >>> FieldMask.of(["a", "b/c"]).key() == FieldMask.of(["b/c", "a"]).key()
        True
        """
        return (
            self.default,
            tuple(sorted(self.top.items())),
            tuple(sorted((k, m.key()) for k, m in self.nested.items())),
        )

    def names(self) -> set[str]:
        return set(self.top) | set(self.nested)

    def select(
        self, fields: Sequence[str], file: str, path: str
    ) -> list[tuple[str, FieldMask | None]]:
        """The fields to read, in file order, each with the mask for inside it."""
        absent = sorted(self.names() - set(fields))
        if absent:
            raise LH5ObjectNotFoundError(
                f"field_mask names absent field(s) {absent}; fields are {sorted(fields)}",
                file=file,
                obj=path,
            )
        out: list[tuple[str, FieldMask | None]] = []
        for name in fields:
            if name in self.top:
                if self.top[name]:
                    out.append((name, None))
            elif name in self.nested:
                out.append((name, self.nested[name]))
            elif self.default:
                out.append((name, None))
        return out

    def __repr__(self) -> str:
        return f"FieldMask({sorted(self.names())})"
