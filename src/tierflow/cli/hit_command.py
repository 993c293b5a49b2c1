"""``tierflow hit``: the hit tier of dsp files from a config and per-channel parameters.

Flags are those of ``tierflow dsp``; the older spellings ``--params`` (for ``-d/--database``) and
``--wo-mode of|w|a`` (for ``-f``/none/``-a``) still work.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="tierflow")
>>> register(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["hit", "d.lh5", "-c", "h.json", "--params", "p.json", "-t", "a", "b"])
>>> args.database, args.tables, args.write
('p.json', ['a', 'b'], None)
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..hit import build_hit, hit_file_name, plan_hit
from ..parallel import is_serial, run_tasks
from .arguments import (
    add_executor,
    add_progress,
    add_tables,
    add_write_mode,
    check_outputs_free,
    count_type,
    executor_for,
    is_folder,
    output_files,
)

#: ``build_hit``'s argument names (as its errors name them) → this command's flags
FLAGS = {
    "wo_mode": "-f/--overwrite or -a/--append",
    "lh5_tables": "-t/--tables",
    "parameters": "-d/--database",
    "hit_config": "-c/--config",
    "n_max": "-n/--n-max",
    "buffer_len": "--buffer-len",
}

#: the old ``--wo-mode`` values → what ``-f``/``-a`` store
_WO_MODES = {"of": "overwrite", "overwrite_file": "overwrite", "a": "append", "append": "append"}


def _old_wo_mode(text: str) -> str | None:
    if text in ("w", "write_safe"):
        return None
    if text not in _WO_MODES:
        raise argparse.ArgumentTypeError(f"{text!r}: use -f/--overwrite or -a/--append")
    return _WO_MODES[text]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``hit`` subcommand."""
    p = sub.add_parser(
        "hit",
        help="compute the hit tier of dsp files",
        description=(
            "Compute chNNNNNNN/hit tables from the chNNNNNNN/dsp tables of each DSP file. "
            "Every file's config, parameters and columns are checked before anything is "
            "written; each output file appears only when it is complete."
        ),
    )
    p.add_argument("dsp", nargs="+", metavar="DSP", help="dsp-tier LH5 file(s)")
    p.add_argument(
        "-c",
        "--config",
        required=True,
        metavar="CONFIG",
        help="hit config (JSON/YAML): outputs and operations, or table patterns to configs",
    )
    p.add_argument(
        "-o",
        "--out",
        metavar="OUT",
        help="output file (one DSP file) or folder (any number; made if missing); default: "
        "beside each DSP file, tier_dsp -> tier_hit",
    )
    add_tables(p, "dsp tables to process (default: ch*/dsp)")
    p.add_argument(
        "-d",
        "--database",
        "--params",
        metavar="DB",
        help="per-channel parameters (JSON/YAML): {channel: {operation: {parameters: ...}}}",
    )
    p.add_argument(
        "-n", "--n-max", type=count_type(0), metavar="N", help="at most N rows per table"
    )
    p.add_argument(
        "--buffer-len",
        type=count_type(1),
        default=3200,
        metavar="ROWS",
        help="rows computed at a time (default: 3200)",
    )
    mode = add_write_mode(p)
    mode.add_argument("--wo-mode", dest="write", type=_old_wo_mode, help=argparse.SUPPRESS)
    add_executor(
        p,
        "worker processes, one DSP file each (-1: one per CPU; default: this process only)",
    )
    add_progress(p)
    p.set_defaults(run=run_hit, flags=FLAGS)


@dataclass
class HitJob:
    """``build_hit`` of one (dsp file, hit file) pair with the command's settings; picklable,
    so that files can go to worker processes or a dask cluster."""

    config: str
    tables: Any
    parameters: str | None
    n_max: int | None
    buffer_len: int
    wo_mode: str

    def __call__(self, files: tuple[str, str]) -> str:
        f_dsp, f_hit = files
        return build_hit(
            f_dsp,
            f_hit,
            hit_config=self.config,
            lh5_tables=self.tables,
            parameters=self.parameters,
            n_max=self.n_max,
            buffer_len=self.buffer_len,
            wo_mode=self.wo_mode,
        )


def run_hit(args: argparse.Namespace) -> int:
    outputs = output_files(args.dsp, args.out, hit_file_name)
    check_outputs_free(outputs, args.write)
    tables = args.tables[0] if args.tables and len(args.tables) == 1 else args.tables
    for f_dsp in args.dsp:  # everything checked before the first file is written
        plan_hit(f_dsp, args.config, tables, args.database, args.n_max)
    if is_folder(args.out, len(args.dsp)):
        os.makedirs(args.out, exist_ok=True)
    job = HitJob(
        args.config,
        tables,
        args.database,
        args.n_max,
        args.buffer_len,
        {"overwrite": "of", "append": "a", None: "w"}[args.write],
    )
    pairs = list(zip(args.dsp, outputs, strict=True))
    with executor_for(args) as executor:
        if len(pairs) == 1 or is_serial(executor):  # errors come as they are, not as TaskError
            done: Iterator[str] = map(job, pairs)
        else:
            done = run_tasks(job, pairs, executor, progress=args.progress, description="dsp → hit")
        for (f_dsp, _), f_hit in zip(pairs, done, strict=True):
            print(f"{f_dsp} -> {f_hit}")
    return 0
