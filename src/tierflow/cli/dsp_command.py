"""``tierflow dsp``: raw-tier files to dsp-tier files with a processing chain.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="tierflow")
>>> register(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["dsp", "r.lh5", "--config", "c.json", "-o", "d.lh5"])
>>> args.raw, args.config, args.n_max, args.write
(['r.lh5'], 'c.json', None, None)
>>> dsp_file_name("out/l200-p03-r001-cal-20230318T012144Z-tier_raw.lh5")
'out/l200-p03-r001-cal-20230318T012144Z-tier_dsp.lh5'
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from ..errors import DSPConfigError
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

#: ``build_dsp``'s argument names (as its errors name them) → this command's flags
FLAGS = {
    "write_mode": "-f/--overwrite or -a/--append",
    "lh5_tables": "-t/--tables",
    "database": "-d/--database",
    "n_max": "-n/--n-max",
    "start_row": "--start",
    "buffer_len": "--buffer-len",
    "processes": "-p/--processes",
    "executor": "-p/--processes or --scheduler",
    "dsp_config": "-c/--config",
    "f_dsp": "-o/--out",
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``dsp`` subcommand."""
    p = sub.add_parser(
        "dsp",
        help="process raw-tier files into dsp-tier files",
        description=(
            "Run a DSP chain (a JSON/YAML config in LEGEND's format, or the name of a shipped "
            "one: hpge-simple, hpge-full) over the waveform tables of raw-tier LH5 files. "
            "Each output file appears only when it is complete."
        ),
    )
    p.add_argument("raw", nargs="+", metavar="RAW", help="raw-tier LH5 file(s)")
    p.add_argument(
        "-c",
        "--config",
        required=True,
        metavar="CONFIG",
        help="DSP config file, or a shipped config's name (hpge-simple, hpge-full)",
    )
    p.add_argument(
        "-o",
        "--out",
        metavar="OUT",
        help="output file (one RAW file) or folder (any number; made if missing); default: "
        "beside each RAW file, tier_raw -> tier_dsp",
    )
    add_tables(p, "raw tables to process (default: every */raw table)")
    p.add_argument(
        "-d",
        "--database",
        metavar="DB",
        help="per-channel parameters (JSON/YAML): {channel: {processor: {name: value}}}, "
        "used as db.processor.name in the config",
    )
    p.add_argument(
        "-n", "--n-max", type=count_type(0), metavar="N", help="at most N rows per table"
    )
    p.add_argument(
        "--start", type=count_type(0), default=0, metavar="ROW", help="first row of every table"
    )
    p.add_argument(
        "--outputs",
        metavar="COLUMNS",
        help="comma-separated output columns (default: the config's)",
    )
    p.add_argument(
        "--buffer-len",
        type=count_type(1),
        default=3200,
        metavar="ROWS",
        help="rows processed at a time (default: 3200)",
    )
    add_write_mode(p)
    add_executor(
        p, "worker processes sharing the rows (-1: one per CPU; default: this process only)"
    )
    add_progress(p)
    p.set_defaults(run=run_dsp, flags=FLAGS)


def dsp_file_name(raw: str) -> str:
    """The default output of ``raw``: beside it, the last ``raw`` of its name → ``dsp``.

    >>> dsp_file_name("a/run_raw.lh5"), dsp_file_name("a/run.lh5")
    ('a/run_dsp.lh5', 'a/run_dsp.lh5')
    """
    folder, name = os.path.split(raw)
    new = re.sub(r"raw(?!.*raw)", "dsp", name, count=1)
    if new == name:
        stem, ext = os.path.splitext(name)
        new = f"{stem}_dsp{ext or '.lh5'}"
    return os.path.join(folder, new)


def _config_file(config: str) -> str:
    from ..dsp import config_path

    if os.path.exists(config):
        return config
    try:
        return str(config_path(config))
    except FileNotFoundError as err:
        raise DSPConfigError(
            f"no config file {config!r}, and it is not a shipped config ({err})",
            key="-c/--config",
        ) from None


def run_dsp(args: argparse.Namespace) -> int:
    from ..dsp import build_dsp

    config = _config_file(args.config)
    targets = output_files(args.raw, args.out, dsp_file_name)
    check_outputs_free(targets, args.write)
    if is_folder(args.out, len(args.raw)):
        os.makedirs(args.out, exist_ok=True)
    write_mode = {"overwrite": "r", "append": "a", None: None}[args.write]
    outputs = [o.strip() for o in args.outputs.split(",") if o.strip()] if args.outputs else None
    with executor_for(args) as executor:
        for raw, out in zip(args.raw, targets, strict=True):
            summary = build_dsp(
                raw,
                out,
                config,
                lh5_tables=args.tables,
                database=args.database,
                outputs=outputs,
                n_max=args.n_max,
                write_mode=write_mode,
                buffer_len=args.buffer_len,
                start_row=args.start,
                executor=executor,
                progress=args.progress,
            )
            print(summary, file=sys.stdout)
            if summary.failed:
                first = next(t.first_error for t in summary.tables if t.first_error)
                print(
                    f"  {summary.failed} rows failed (NaN outputs); first: {first}",
                    file=sys.stderr,
                )
    return 0
