"""Options that several ``tierflow`` commands share, spelled the same way everywhere.

``dsp``, ``hit`` and ``run`` take the same flags for the same things: ``-t/--tables`` (several
after one flag, or the flag repeated), ``-f/--overwrite`` and ``-a/--append``, ``-p/--processes``
or ``--scheduler ADDRESS``, ``--progress``/``--no-progress``.

>>> import argparse
>>> p = argparse.ArgumentParser(prog="tierflow x")
>>> add_tables(p, "tables")
>>> _ = add_write_mode(p)
>>> p.parse_args(["-t", "a", "b", "-t", "c", "-f"])
Namespace(tables=['a', 'b', 'c'], write='overwrite')
>>> count_type(1)("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: 0 is not a whole number >= 1
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import LH5WriteError, TierflowError, UsageError

#: how long ``--scheduler`` waits for the scheduler to answer
SCHEDULER_TIMEOUT = "20s"


def count_type(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for whole numbers ``>= minimum`` (bad values are usage errors)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is not a whole number >= {minimum}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


def processes_type(text: str) -> int:
    """``-p/--processes``: 0 or 1 (serial), ``N`` worker processes, or -1 (one per CPU).

    >>> processes_type("-1")
    -1
    >>> processes_type("pars.json")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 'pars.json' is not a number of processes; per-channel parameters are given with -d/--database
    """
    try:
        value = int(text)
    except ValueError:
        hint = (
            "; per-channel parameters are given with -d/--database"
            if text.endswith((".json", ".yaml", ".yml"))
            else ""
        )
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes{hint}") from None
    if value < -1:
        raise argparse.ArgumentTypeError(f"{value} processes: give 0 or more, or -1 for every CPU")
    return value


def table_type(text: str) -> str:
    """A ``-t`` value: a table name or glob, not one of the input files that ``-t`` swallowed
    because they came after it (``-t 'ch*' raw.lh5``)."""
    if text.endswith(".lh5") and os.path.isfile(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is a file, not a table: put the input files before -t/--tables"
        )
    return text


def add_tables(p: argparse.ArgumentParser, what: str) -> None:
    """``-t/--tables TABLE [TABLE ...]``, also repeatable (``-t a -t b``)."""
    p.add_argument(
        "-t",
        "--tables",
        action="extend",
        nargs="+",
        type=table_type,
        metavar="TABLE",
        help=f"{what}: names or globs, several after one -t or -t repeated",
    )


def add_write_mode(p: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    """``-f/--overwrite`` or ``-a/--append`` (``args.write``); neither refuses existing outputs.

    Returns the group, to which a command may add an older spelling of the same choice."""
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "-f",
        "--overwrite",
        dest="write",
        action="store_const",
        const="overwrite",
        help="replace output files that exist",
    )
    mode.add_argument(
        "-a",
        "--append",
        dest="write",
        action="store_const",
        const="append",
        help="add tables and rows to output files that exist",
    )
    return mode


def add_executor(p: argparse.ArgumentParser, processes_help: str) -> None:
    """``-p/--processes N`` or ``--scheduler ADDRESS`` (a dask distributed scheduler)."""
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "-p",
        "--processes",
        type=processes_type,
        default=None,
        metavar="N",
        help=processes_help,
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="run on a dask cluster: its scheduler's address, e.g. tcp://10.0.0.5:8786 "
        "(needs the dask extra; workers must see the same files; see docs/cluster.md)",
    )


def add_progress(p: argparse.ArgumentParser) -> None:
    """``--progress``/``--no-progress`` (``args.progress``: ``None`` means "on a terminal")."""
    bar = p.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show progress bars (default: when on a terminal)",
    )
    bar.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never show progress bars"
    )


@contextmanager
def executor_for(args: argparse.Namespace) -> Iterator[Any]:
    """What ``-p``/``--scheduler`` ask for: a number of processes, or a connected dask Client.

    The client is closed at the end of the block (the cluster keeps running).

    >>> with executor_for(argparse.Namespace(processes=2, scheduler=None)) as executor:
    ...     executor
    2
    """
    if args.scheduler is None:
        yield args.processes
        return
    client = connect_scheduler(args.scheduler)
    try:
        yield client
    finally:
        client.close()


def connect_scheduler(address: str) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "--scheduler needs dask's 'distributed' package, which is not installed: "
            "pip install 'tierflow[dask]'"
        ) from None
    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT)
    except (ValueError, TypeError) as err:
        raise UsageError(f"--scheduler {address}: not a scheduler address ({err})") from None
    except (OSError, TimeoutError) as err:
        raise TierflowError(
            f"--scheduler {address}: cannot connect to a dask scheduler there "
            f"({type(err).__name__}: {err})"
        ) from None


def is_folder(out: str | None, n_inputs: int) -> bool:
    """Whether ``-o/--out`` names a folder: for several inputs, or an existing folder, or a
    name ending in ``/``.

    >>> is_folder("out/", 1), is_folder("out.lh5", 1), is_folder("out", 2)
    (True, False, True)
    """
    if out is None:
        return False
    return n_inputs > 1 or os.path.isdir(out) or out.endswith(("/", os.sep))


def output_files(inputs: Sequence[str], out: str | None, rename: Callable[[str], str]) -> list[str]:
    """Where each input's output goes: ``out`` (one input), ``out/renamed`` (a folder), or beside
    each input (``out`` is ``None``). Raises :class:`UsageError` when two inputs would write one
    output, or several inputs are given a file.

    >>> output_files(["a/x_raw.lh5", "b/y_raw.lh5"], "o", lambda f: f.replace("raw", "dsp"))
    ['o/x_dsp.lh5', 'o/y_dsp.lh5']
    >>> output_files(["a/x.lh5"], "o.lh5", str.upper)
    ['o.lh5']
    >>> output_files(["a/x_raw.lh5"], "o/", lambda f: f.replace("raw", "dsp"))  # a folder
    ['o/x_dsp.lh5']
    """
    if out is None:
        paths = [rename(f) for f in inputs]
    elif len(inputs) == 1 and not is_folder(out, 1):
        paths = [out]
    elif os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"-o/--out {out} is a file; {len(inputs)} inputs need a folder")
    else:
        paths = [os.path.join(out, os.path.basename(rename(f))) for f in inputs]
    seen: dict[str, str] = {}
    for source, path in zip(inputs, paths, strict=True):
        key = os.path.abspath(path)
        if key == os.path.abspath(source):
            raise UsageError(f"the output {path} would be the input itself")
        if key in seen:
            raise UsageError(
                f"{source} is given twice"
                if seen[key] == source
                else f"{seen[key]} and {source} would both write {path}"
            )
        seen[key] = source
    return paths


def check_outputs_free(paths: Sequence[str], write: str | None) -> None:
    """Refuse outputs that exist unless ``-f`` or ``-a`` was given (checked before any work)."""
    if write is not None:
        return
    for path in paths:
        if os.path.exists(path):
            raise LH5WriteError(
                "exists; pass -f/--overwrite to replace it or -a/--append to add to it",
                file=path,
            )
