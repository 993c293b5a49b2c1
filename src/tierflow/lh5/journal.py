"""Undo records for writes into an existing file, so a failed write leaves it as it was."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import h5py

_MISSING = object()


@dataclass
class Journal:
    """What a write changed in an open file; ``rollback`` undoes it, newest first."""

    steps: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    backups: list[tuple[h5py.Group, str]] = field(default_factory=list)

    def created(self, group: h5py.Group, name: str) -> None:
        self.steps.append(("created", (group, name)))

    def resized(self, ds: h5py.Dataset) -> None:
        self.steps.append(("resized", (ds, ds.shape[0])))

    def overwriting(self, ds: h5py.Dataset, start: int, stop: int) -> None:
        if stop > start:
            self.steps.append(("overwritten", (ds, start, ds[start:stop])))

    def setting_attr(self, obj: h5py.HLObject, key: str, current: Any = _MISSING) -> None:
        """Record the attribute ``key`` of ``obj`` before it is set: its ``current`` value
        when the caller has read it already (``None``: it has none), else read here."""
        if current is _MISSING:
            current = obj.attrs.get(key, _MISSING)
        elif current is None:
            current = _MISSING
        self.steps.append(("attr", (obj, key, current)))

    def replacing(self, group: h5py.Group, name: str) -> None:
        """Move ``group[name]`` aside; it is deleted on commit and restored on rollback."""
        backup = f".{name}.tierflow-replaced-{len(self.steps)}"
        group.move(name, backup)
        self.steps.append(("moved", (group, name, backup)))
        self.backups.append((group, backup))

    def commit(self) -> None:
        for group, backup in self.backups:
            del group[backup]
        self.steps.clear()
        self.backups.clear()

    def rollback(self) -> None:
        for kind, args in reversed(self.steps):
            if kind == "created":
                group, name = args
                if name in group:
                    del group[name]
            elif kind == "resized":
                ds, old = args
                ds.resize(old, axis=0)
            elif kind == "overwritten":
                ds, start, data = args
                ds[start : start + len(data)] = data
            elif kind == "attr":
                obj, key, old = args
                if old is _MISSING:
                    obj.attrs.pop(key, None)
                else:
                    obj.attrs[key] = old.encode() if isinstance(old, str) else old
            elif kind == "moved":
                group, name, backup = args
                if name in group:
                    del group[name]
                group.move(backup, name)
        self.steps.clear()
        self.backups.clear()
