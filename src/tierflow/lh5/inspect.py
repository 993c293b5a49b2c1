"""Looking into LH5 files: ``ls`` lists object names, ``show`` prints a tree."""

from __future__ import annotations

import fnmatch
import os
import sys
from typing import TextIO

import h5py

from ..errors import LH5DecodeError
from .datatype import parse
from .files import open_file


def ls(
    lh5_file: str | os.PathLike | h5py.Group, lh5_group: str = "", recursive: bool = False
) -> list[str]:
    """Names of the objects matching a glob pattern, one level per ``/``.

    ``""`` lists the top level, ``"ch*/raw"`` matches per level, a trailing ``/``
    lists a group's children; ``recursive=True`` lists everything below.

    >>> ls("/work/shared/testdata/lh5/prod-ref-l200/generated/tier/tcm/cal/p03/r001/"
    ...    "l200-p03-r001-cal-20230318T012144Z-tier_tcm.lh5")  # doctest: +SKIP
    ['hardware_tcm_1']
    """
    if isinstance(lh5_file, h5py.Group):
        return _ls(lh5_file, lh5_group, recursive)
    with open_file(lh5_file) as h5f:
        return _ls(h5f, lh5_group, recursive)


def _ls(h5f: h5py.Group, pattern: str, recursive: bool) -> list[str]:
    parts = [p for p in pattern.strip("/").split("/") if p] if pattern else []
    if not parts or pattern.endswith("/"):
        parts.append("*")
    matches = [("", h5f)]
    for part in parts:
        nxt = []
        for prefix, node in matches:
            if isinstance(node, h5py.Group):
                nxt += [
                    (f"{prefix}{k}", node[k])
                    for k in sorted(node.keys())
                    if fnmatch.fnmatchcase(k, part)
                ]
        matches = [(f"{p}/", n) for p, n in nxt]
    names = [p.rstrip("/") for p, _ in matches]
    if recursive:
        out = []
        for name, (_, node) in zip(names, matches, strict=True):
            out.append(name)
            if isinstance(node, h5py.Group):
                node.visit(lambda sub, base=name: out.append(f"{base}/{sub}"))
        return out
    return names


_FILTERS = {
    1: "gzip",
    2: "shuffle",
    3: "fletcher32",
    307: "bzip2",
    32000: "lzf",
    32001: "blosc",
    32004: "lz4",
    32015: "zstd",
}


def _filter_name(code: int, flags: int, values: tuple[int, ...]) -> str:
    name = _FILTERS.get(code, f"filter {code}")
    return f"{name}-{values[0]}" if code == 1 and values else name


def _describe(obj: h5py.HLObject, detail: bool) -> str:
    raw = obj.attrs.get("datatype")
    raw = raw.decode() if isinstance(raw, bytes) else raw
    if raw is None:
        text = "(no datatype)"
    else:
        try:
            dt = parse(str(raw))
            text = (
                f"{dt.kind}{{{len(dt.fields)} fields}}" if dt.fields and len(raw) > 60 else str(raw)
            )
        except ValueError:
            text = f"{raw} (unknown datatype)"
    if isinstance(obj, h5py.Dataset):
        text += f"  {obj.dtype} {obj.shape}"
        if detail:
            plist = obj.id.get_create_plist()
            filters = [_filter_name(*plist.get_filter(i)[:3]) for i in range(plist.get_nfilters())]
            text += (
                f"  chunks={obj.chunks}  filters={filters or 'none'}  {obj.id.get_storage_size()} B"
            )
    units = obj.attrs.get("units")
    if units is not None:
        text += f"  [{units.decode() if isinstance(units, bytes) else units}]"
    return text


def show(
    lh5_file: str | os.PathLike | h5py.Group,
    lh5_group: str = "/",
    attrs: bool = False,
    depth: int | None = None,
    detail: bool = False,
    out: TextIO | None = None,
) -> None:
    """Print the tree of objects under ``lh5_group`` with datatypes, dtypes, shapes and units.

    ``attrs`` adds every attribute, ``detail`` chunks, filters and stored bytes,
    ``depth`` limits how deep it goes.
    """
    out = out or sys.stdout
    if not isinstance(lh5_file, h5py.Group):
        with open_file(lh5_file) as h5f:
            show(h5f, lh5_group, attrs, depth, detail, out)
        return
    from .files import get_object

    top = get_object(lh5_file, lh5_group)
    name = top.name if top.name != "/" else os.path.basename(lh5_file.file.filename) + ":/"
    print(f"{name}  {_describe(top, detail)}", file=out)
    _show_children(top, "", attrs, depth, detail, out, 1)


def _show_children(
    group: h5py.HLObject,
    indent: str,
    attrs: bool,
    depth: int | None,
    detail: bool,
    out: TextIO,
    level: int,
) -> None:
    if not isinstance(group, h5py.Group) or (depth is not None and level > depth):
        return
    keys = sorted(group.keys())
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        try:
            child = group[key]
        except KeyError as err:
            raise LH5DecodeError(
                f"cannot open child {key!r}: {err}", file=group.file.filename, obj=group.name
            ) from None
        print(f"{indent}{'└── ' if last else '├── '}{key}  {_describe(child, detail)}", file=out)
        sub = indent + ("    " if last else "│   ")
        if attrs:
            for k, v in child.attrs.items():
                if k != "datatype":
                    print(f"{sub}  @{k} = {v.decode() if isinstance(v, bytes) else v}", file=out)
        _show_children(child, sub, attrs, depth, detail, out, level + 1)
