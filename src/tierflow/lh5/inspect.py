"""Looking into LH5 files: ``ls`` lists object names, ``show`` prints a tree."""

from __future__ import annotations

import fnmatch
import os
import sys
from typing import TextIO

import h5py

from .datatype import parse
from .files import get_object, open_file
from .globalheap import check_attribute_heaps
from .guards import FAILURES, describe, translated


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
        with translated(lh5_file.file.filename, lh5_group, "listing"):
            return _ls(lh5_file, lh5_group, recursive)
    with open_file(lh5_file) as h5f, translated(h5f.filename, lh5_group, "listing"):
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
    check_attribute_heaps(obj.id)
    raw = obj.attrs.get("datatype")
    if raw is None:
        text = "(no datatype)"
    else:
        raw = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        try:
            dt = parse(raw)
            text = (
                f"{dt.kind}{{{len(dt.fields)} fields}}" if dt.fields and len(raw) > 60 else str(raw)
            )
        except ValueError:
            text = f"{raw:.200} (unknown datatype)"
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
        text += f"  [{units.decode(errors='replace') if isinstance(units, bytes) else units}]"
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
    ``depth`` limits how deep it goes. Soft and external links are shown as links, not
    followed; an object reached again through another hard link is shown once. A damaged
    object is shown with what is wrong with it, and the tree goes on.
    """
    out = out or sys.stdout
    if not isinstance(lh5_file, h5py.Group):
        with open_file(lh5_file) as h5f:
            show(h5f, lh5_group, attrs, depth, detail, out)
        return
    top = get_object(lh5_file, lh5_group)
    name = top.name if top.name != "/" else os.path.basename(lh5_file.file.filename) + ":/"
    with translated(lh5_file.file.filename, lh5_group, "showing"):
        print(f"{name}  {_describe(top, detail)}", file=out)
        shown = {_address(top): top.name}
        _show_children(top, "", attrs, depth, detail, out, 1, shown)


def _address(obj: h5py.HLObject) -> tuple[int, int]:
    info = h5py.h5o.get_info(obj.id)
    return info.fileno, info.addr


def _show_children(
    group: h5py.HLObject,
    indent: str,
    attrs: bool,
    depth: int | None,
    detail: bool,
    out: TextIO,
    level: int,
    shown: dict[tuple[int, int], str],
) -> None:
    if not isinstance(group, h5py.Group) or (depth is not None and level > depth):
        return
    keys = sorted(group.keys())
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        branch, sub = ("└── ", indent + "    ") if last else ("├── ", indent + "│   ")
        child, text = _child(group, key, detail, shown)
        print(f"{indent}{branch}{key}  {text}", file=out)
        if child is None:
            continue
        if attrs:
            for k, v in _attributes(child):
                print(f"{sub}  @{k} = {v}", file=out)
        _show_children(child, sub, attrs, depth, detail, out, level + 1, shown)


def _child(
    group: h5py.Group, key: str, detail: bool, shown: dict[tuple[int, int], str]
) -> tuple[h5py.HLObject | None, str]:
    """The child to descend into (``None`` for links, repeats and damaged objects) and the
    text that describes it."""
    try:
        link = group.get(key, getlink=True)
        if isinstance(link, h5py.SoftLink):
            return None, f"-> {link.path} (soft link)"
        if isinstance(link, h5py.ExternalLink):
            return None, f"-> {link.filename}:{link.path} (external link)"
        child = group[key]
        where = _address(child)
        if where in shown:
            return None, f"(hard link to {shown[where]}, shown there)"
        shown[where] = child.name
        return child, _describe(child, detail)
    except FAILURES as err:
        return None, f"(damaged: {describe(err)})"


def _attributes(obj: h5py.HLObject) -> list[tuple[str, str]]:
    """The attributes but ``datatype``, as text; an unreadable one says so."""
    try:
        names = [k for k in obj.attrs if k != "datatype"]
    except FAILURES as err:
        return [("?", f"(damaged attributes: {describe(err)})")]
    found = []
    for k in names:
        try:
            v = obj.attrs[k]
            found.append((k, v.decode(errors="replace") if isinstance(v, bytes) else str(v)))
        except FAILURES as err:
            found.append((k, f"(damaged: {describe(err)})"))
    return found
