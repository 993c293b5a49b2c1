"""``tierflow ls`` and ``tierflow show``: look into LH5 files from a terminal."""

from __future__ import annotations

import argparse

from ..errors import LH5ObjectNotFoundError
from ..lh5 import ls, show
from .arguments import count_type

#: how many names an error lists before "..."
NAMES_SHOWN = 8


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ls`` and ``show`` subcommands."""
    p = sub.add_parser(
        "ls",
        help="list objects in an LH5 file",
        description="List the objects of an LH5 file whose names match a glob, one level per '/'. "
        "A pattern that matches nothing is an error that lists what is there.",
    )
    p.add_argument("file", metavar="FILE", help="LH5 file")
    p.add_argument(
        "pattern",
        nargs="?",
        default="",
        metavar="PATTERN",
        help="glob per level, e.g. 'ch*/raw'; a trailing '/' lists a group's members "
        "(default: the top level)",
    )
    p.add_argument(
        "-r", "--recursive", action="store_true", help="also list everything below the matches"
    )
    p.set_defaults(run=run_ls)

    p = sub.add_parser(
        "show",
        help="print the tree of an LH5 file",
        description="Print the objects of an LH5 file as a tree, with their LH5 datatypes.",
    )
    p.add_argument("file", metavar="FILE", help="LH5 file")
    p.add_argument(
        "group", nargs="?", default="/", metavar="OBJECT", help="object to start from (default: /)"
    )
    p.add_argument("-a", "--attrs", action="store_true", help="print every attribute")
    p.add_argument(
        "-d", "--detail", action="store_true", help="print chunks, filters and stored bytes"
    )
    p.add_argument(
        "--depth",
        type=count_type(0),
        default=None,
        metavar="N",
        help="how many levels to descend (default: all)",
    )
    p.set_defaults(run=run_show)


def run_ls(args: argparse.Namespace) -> int:
    names = ls(args.file, args.pattern, recursive=args.recursive)
    if not names and args.pattern.strip("/"):
        raise no_match_error(args.file, args.pattern)
    for name in names:
        print(name)
    return 0


def no_match_error(path: str, pattern: str) -> LH5ObjectNotFoundError:
    """The error for a ``pattern`` that matches nothing in ``path``, naming the level that failed
    and a few of the names that are there."""
    parts = [p for p in pattern.strip("/").split("/") if p]
    level = next(
        (i for i in range(len(parts)) if not ls(path, "/".join(parts[: i + 1]))), len(parts)
    )
    above = "/".join(parts[:level])
    here = ls(path, f"{above}/" if above else "")
    if not here:
        why = f"{above!r} holds no objects" if above else "the file holds no objects"
    else:
        where = f"in {above!r}" if above else "at the top level"
        shown = ", ".join(here[:NAMES_SHOWN])
        more = f", ... ({len(here)} in all)" if len(here) > NAMES_SHOWN else ""
        why = f"no name {where} matches {parts[level]!r}; there are {shown}{more}"
    return LH5ObjectNotFoundError(f"nothing matches {pattern!r}: {why}", file=path)


def run_show(args: argparse.Namespace) -> int:
    show(args.file, args.group, attrs=args.attrs, depth=args.depth, detail=args.detail)
    return 0
