"""The ``tierflow`` command: a thin layer over the public API.

Every error prints as one line, ``tierflow COMMAND: error: ...``, naming the command's flags
(never the Python arguments behind them), and sets the exit code: 2 for arguments that are
wrong or cannot go together, 1 for files and data that cannot be processed.

>>> main(["--version"])  # doctest: +SKIP
tierflow 0.1.0
>>> main(["ls"])  # doctest: +SKIP
tierflow ls: error: the following arguments are required: FILE (see tierflow ls --help)
2
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

from .. import __version__
from ..errors import TierflowError, UsageError
from . import dsp_command, hit_command, inspect_commands, pipeline_commands, raw_command

COMMANDS = (inspect_commands, raw_command, dsp_command, hit_command, pipeline_commands)

#: exit codes: data or files that cannot be processed, and arguments that are wrong
EXIT_ERROR, EXIT_USAGE = 1, 2

#: set to see the traceback of an error that is not tierflow's own (a bug to report)
TRACEBACK_VARIABLE = "TIERFLOW_TRACEBACK"


class ArgumentsRejected(UsageError):
    """Arguments that the parser of ``prog`` (``tierflow`` or ``tierflow COMMAND``) rejected.

    >>> str(ArgumentsRejected("the following arguments are required: COMMAND", "tierflow"))
    'the following arguments are required: COMMAND (see tierflow --help)'
    """

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(f"{message} (see {prog} --help)")
        self.prog = prog


class ArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors raise :class:`ArgumentsRejected` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentsRejected(message, self.prog)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = ArgumentParser(
        prog="tierflow",
        description="LH5 files and tiered processing for germanium and SiPM detector data.",
    )
    parser.add_argument("--version", action="version", version=f"tierflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (errors print one line to stderr)."""
    try:
        args, unknown = build_parser().parse_known_args(argv)
    except UsageError as err:
        print(f"{getattr(err, 'prog', 'tierflow')}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as done:  # --help, --version
        return done.code if isinstance(done.code, int) else 0
    prog, flags = f"tierflow {args.command}", getattr(args, "flags", {})
    if unknown:
        print(
            f"{prog}: error: unrecognized arguments: {' '.join(unknown)} (see {prog} --help)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:  # e.g. `tierflow show f.lh5 | head`
        return 0
    except UsageError as err:
        print(f"{prog}: error: {one_line(err, flags)} (see {prog} --help)", file=sys.stderr)
        return EXIT_USAGE
    except (TierflowError, OSError) as err:
        print(f"{prog}: error: {one_line(err, flags)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: still one line, with a way to see the traceback
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        print(
            f"{prog}: error: unexpected {type(err).__name__}: {one_line(err, {})} (a tierflow "
            f"bug: please report it; {TRACEBACK_VARIABLE}=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR


def one_line(err: BaseException, flags: Mapping[str, str]) -> str:
    """The message of ``err`` on one line, with the API's argument names replaced by ``flags``.

    >>> from tierflow.errors import DSPConfigError
    >>> one_line(DSPConfigError("must be >= 1, not 0", key="buffer_len"), {"buffer_len": "--buffer-len"})
    '--buffer-len: must be >= 1, not 0'
    >>> one_line(ValueError("bad\\n  found: none\\n  2614.5 keV: no peak"), {})
    'bad; found: none; 2614.5 keV: no peak'
    """
    key, reason = getattr(err, "key", None), getattr(err, "reason", None)
    if isinstance(key, str) and key in flags and isinstance(reason, str) and not _processor(err):
        text = f"{flags[key]}: {reason}"
    else:
        text = str(err)
    for name, flag in flags.items():
        if "_" in name:  # plain words (database, outputs) also appear in prose
            text = re.sub(rf"\b{name}\b(=('[^']*'|\"[^\"]*\"|[^\s,;)]+))?", flag, text)
    return "; ".join(_message_lines(text))


def _message_lines(text: str) -> list[str]:
    """The lines of a message without the quoted source and ``^`` markers of parser errors.

    >>> _message_lines('bad: while parsing\\n  in "<unicode string>", line 1, column 4:\\n    a: [1\\n       ^')
    ['bad: while parsing', 'line 1, column 4']
    """
    lines = [line.strip() for line in text.splitlines()]
    marker = [bool(line) and not line.strip("^ ") for line in lines] + [False]
    out = []
    for i, line in enumerate(lines):
        if marker[i] or marker[i + 1]:  # a marker, and the quoted source above it
            continue
        line = line.replace('in "<unicode string>", ', "").rstrip(":")
        if line:
            out.append(line)
    return out


def _processor(err: BaseException) -> bool:
    """Whether ``err`` is about a processor of a DSP chain (its key is then a config key)."""
    return getattr(err, "processor", None) is not None
