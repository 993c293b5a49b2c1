"""``tierflow hit``: the hit tier of dsp files from a config and per-channel parameters."""

from __future__ import annotations

import argparse
import os

from ..errors import LH5WriteError
from ..hit import build_hit, hit_file_name, plan_hit


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
    p.add_argument("dsp", nargs="+", metavar="DSP", help="dsp tier LH5 file(s)")
    p.add_argument(
        "-c",
        "--config",
        required=True,
        metavar="CFG",
        help="hit config (JSON/YAML): outputs and operations, or table patterns to configs",
    )
    p.add_argument(
        "-o",
        "--out",
        metavar="HIT",
        help="output file (one DSP file) or folder (several); default: beside each DSP file, "
        "tier_dsp -> tier_hit",
    )
    p.add_argument(
        "-p",
        "--params",
        metavar="PARS",
        help="per-channel parameters (JSON/YAML): {channel: {operation: {parameters: ...}}}",
    )
    p.add_argument(
        "-t",
        "--tables",
        nargs="+",
        metavar="TABLE",
        help="dsp tables or patterns to process (default: ch*/dsp)",
    )
    p.add_argument("--n-max", type=int, default=None, help="at most this many rows per table")
    p.add_argument("--buffer-len", type=int, default=3200, help="rows per chunk (default 3200)")
    p.add_argument(
        "--wo-mode",
        default="of",
        choices=["of", "overwrite_file", "w", "write_safe", "a", "append"],
        help="replace the output (of, default), refuse an existing one (w) or append (a)",
    )
    p.set_defaults(run=run_hit)


def output_paths(dsp_files: list[str], out: str | None) -> list[str]:
    """Where each dsp file's hit file goes.

    >>> output_paths(["a/x-tier_dsp.lh5"], None)
    ['a/x-tier_hit.lh5']
    >>> output_paths(["a/x-tier_dsp.lh5", "b/y-tier_dsp.lh5"], "hits")
    ['hits/x-tier_hit.lh5', 'hits/y-tier_hit.lh5']
    """
    if out is None:
        return [hit_file_name(f) for f in dsp_files]
    if len(dsp_files) == 1 and not os.path.isdir(out):
        return [out]
    return [os.path.join(out, os.path.basename(hit_file_name(f))) for f in dsp_files]


def run_hit(args: argparse.Namespace) -> int:
    outputs = output_paths(args.dsp, args.out)
    seen: set[str] = set()
    for f_hit in map(os.path.abspath, outputs):
        if f_hit in seen:
            raise LH5WriteError("two DSP files would write this same hit file", file=f_hit)
        seen.add(f_hit)
    tables = args.tables[0] if args.tables and len(args.tables) == 1 else args.tables
    for f_dsp in args.dsp:  # everything checked before the first file is written
        plan_hit(f_dsp, args.config, tables, args.params, args.n_max)
    if args.out is not None and len(args.dsp) > 1:
        os.makedirs(args.out, exist_ok=True)
    for f_dsp, f_hit in zip(args.dsp, outputs, strict=True):
        build_hit(
            f_dsp,
            f_hit,
            hit_config=args.config,
            lh5_tables=tables,
            parameters=args.params,
            n_max=args.n_max,
            buffer_len=args.buffer_len,
            wo_mode=args.wo_mode,
        )
        print(f"{f_dsp} -> {f_hit}")
    return 0
