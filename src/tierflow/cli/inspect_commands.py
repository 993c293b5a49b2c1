"""``tierflow ls`` and ``tierflow show``: look into LH5 files from a terminal."""

from __future__ import annotations

import argparse

from ..lh5 import ls, show


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ls`` and ``show`` subcommands."""
    p = sub.add_parser(
        "ls",
        help="list objects in an LH5 file",
        description="List the objects of an LH5 file matching a pattern.",
    )
    p.add_argument("file", help="LH5 file")
    p.add_argument(
        "pattern", nargs="?", default="", help="glob per level, e.g. 'ch*/raw' (default: top level)"
    )
    p.add_argument(
        "-r", "--recursive", action="store_true", help="also list everything below the matches"
    )
    p.set_defaults(run=run_ls)

    p = sub.add_parser(
        "show",
        help="print the tree of an LH5 file",
        description="Print the objects of an LH5 file as a tree.",
    )
    p.add_argument("file", help="LH5 file")
    p.add_argument("group", nargs="?", default="/", help="object to start from (default: /)")
    p.add_argument("-a", "--attrs", action="store_true", help="print every attribute")
    p.add_argument(
        "-d", "--detail", action="store_true", help="print chunks, filters and stored bytes"
    )
    p.add_argument("--depth", type=int, default=None, help="how many levels to descend")
    p.set_defaults(run=run_show)


def run_ls(args: argparse.Namespace) -> int:
    for name in ls(args.file, args.pattern, recursive=args.recursive):
        print(name)
    return 0


def run_show(args: argparse.Namespace) -> int:
    show(args.file, args.group, attrs=args.attrs, depth=args.depth, detail=args.detail)
    return 0
