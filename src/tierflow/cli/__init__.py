"""The ``tierflow`` command: a thin layer over the public API.

>>> main(["--version"])  # doctest: +SKIP
tierflow 0.1.0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import TierflowError
from . import dsp_command, hit_command, inspect_commands, pipeline_commands

COMMANDS = (inspect_commands, hit_command, dsp_command, pipeline_commands)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="tierflow",
        description="LH5 files and tiered processing for germanium and SiPM detector data.",
    )
    parser.add_argument("--version", action="version", version=f"tierflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; tierflow errors print one clear line and exit 1."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except TierflowError as err:
        print(f"tierflow {args.command}: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `tierflow show f.lh5 | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
