"""``tierflow dsp``: raw-tier files to dsp-tier files with a processing chain.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="tierflow")
>>> register(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["dsp", "r.lh5", "--config", "c.json", "--out", "d.lh5"])
>>> args.raw, args.config, args.n_max
(['r.lh5'], 'c.json', None)
>>> output_path("l200-p03-r001-cal-20230318T012144Z-tier_raw.lh5", "out")
'out/l200-p03-r001-cal-20230318T012144Z-tier_dsp.lh5'
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from ..errors import DSPConfigError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``dsp`` subcommand."""
    p = sub.add_parser(
        "dsp",
        help="process raw-tier files into dsp-tier files",
        description=(
            "Run a DSP chain (a JSON/YAML config in LEGEND's format, or the name of a shipped "
            "one: hpge-simple, hpge-full) over the tables of raw-tier LH5 files."
        ),
    )
    p.add_argument("raw", nargs="+", help="raw-tier LH5 file(s)")
    p.add_argument("-c", "--config", required=True, help="DSP config file or shipped config name")
    p.add_argument(
        "-o",
        "--out",
        required=True,
        help="output file (one input) or directory (any number: tier_raw -> tier_dsp names)",
    )
    p.add_argument(
        "-t",
        "--tables",
        action="append",
        default=None,
        help="table name or glob, e.g. 'ch*' (repeatable)",
    )
    p.add_argument("-n", "--n-max", type=int, default=None, help="at most this many rows per table")
    p.add_argument("--start", type=int, default=0, help="first row of every table")
    p.add_argument("-p", "--processes", type=int, default=None, help="worker processes")
    p.add_argument("-d", "--database", default=None, help="per-channel parameters (JSON/YAML)")
    p.add_argument(
        "--outputs", default=None, help="comma-separated output columns (default: the config's)"
    )
    p.add_argument("--buffer-len", type=int, default=3200, help="rows read at a time")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "-f", "--overwrite", action="store_true", help="replace existing output files"
    )
    mode.add_argument(
        "-a", "--append", action="store_true", help="add tables/rows to existing output files"
    )
    bar = p.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="show a progress bar"
    )
    bar.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never show a progress bar"
    )
    p.set_defaults(run=run_dsp)


def output_path(raw: str, out: str) -> str:
    """The output file for ``raw`` in the directory ``out``."""
    name = os.path.basename(raw)
    new = re.sub(r"raw(?=[^/]*$)", "dsp", name, count=1) if "raw" in name else None
    if new is None or new == name:
        stem, ext = os.path.splitext(name)
        new = f"{stem}_dsp{ext or '.lh5'}"
    return os.path.join(out, new)


def run_dsp(args: argparse.Namespace) -> int:
    from ..dsp import build_dsp, config_path

    config = args.config
    if not os.path.exists(config):
        try:
            config = str(config_path(config))
        except FileNotFoundError as err:
            raise DSPConfigError(
                f"no config file {args.config!r} ({err})", key="--config"
            ) from None
    if len(args.raw) > 1 or os.path.isdir(args.out):
        if not os.path.isdir(args.out):
            raise DSPConfigError(
                f"--out {args.out} must be a directory for several inputs", key="--out"
            )
        targets = [(raw, output_path(raw, args.out)) for raw in args.raw]
    else:
        targets = [(args.raw[0], args.out)]
    write_mode = "r" if args.overwrite else "a" if args.append else None
    outputs = [o.strip() for o in args.outputs.split(",") if o.strip()] if args.outputs else None
    for raw, out in targets:
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
            processes=args.processes,
            progress=args.progress,
        )
        print(summary, file=sys.stdout)
        if summary.failed:
            first = next(t.first_error for t in summary.tables if t.first_error)
            print(f"  {summary.failed} rows failed (NaN outputs); first: {first}", file=sys.stderr)
    return 0
