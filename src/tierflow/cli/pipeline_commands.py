"""``tierflow run CONFIG`` and ``tierflow demo``: the tiers over many files, and a demo of it."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import UsageError
from .arguments import add_executor, add_progress, count_type, executor_for

#: ``tierflow run --help``'s epilog: the config's keys, by example
RUN_EPILOG = """\
the config (YAML or JSON); only raw and outdir are required:

  raw: data/tier/raw/{type}/{period}/{run}/*.lh5  # a glob or a path template
  outdir: out             # out/tier/{dsp,hit}/... and out/par/... go here
  tables: "ch*/raw"       # the raw tables that hold waveforms
  dsp:
    config: hpge-simple   # a shipped DSP config (or hpge-full) or a file
    database: db.yaml     # per-channel values (db.pz.tau in the config)
  hit:
    config: hit.yaml      # default: the calibrated energy and is_valid
    parameters: p.json    # use these instead of fitting calibration runs
  calibration:
    energy: trapTmax      # the dsp column calibrated on Th-228 lines
    output: trapTmax_cal  # the calibrated hit column
    run_type: cal         # runs of this type are fitted; others use them
    deg: 1                # degree of the calibration polynomial
    lines: [583.2, 2614.5]  # keV (default: the built-in Th-228 lines)
    plots: false          # write plots beside the parameters
  processes: 2            # worker processes, as -p (-p wins)
  buffer_len: 3200        # rows processed at a time

Paths are relative to the config file. Outputs newer than their inputs and the
config are skipped, so an interrupted run resumes; a file that fails is reported
and the others are processed (exit code 1).

More in the tierflow repository: README.md ("The tiers and the pipeline") and
docs/cluster.md (running on a dask cluster with --scheduler).
"""

#: ``run_pipeline``'s argument names → this command's flags
FLAGS = {"executor": "-p/--processes or --scheduler"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` and ``demo`` subcommands."""
    p = sub.add_parser(
        "run",
        help="run (DAQ →) raw → dsp → calibration → hit as a config says",
        description="Run raw → dsp → calibration → hit over the raw files that a\n"
        "pipeline config names; finished outputs are skipped.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", metavar="CONFIG", help="pipeline config (YAML or JSON; see below)")
    add_executor(
        p, "worker processes, one file each (-1: one per CPU; default: the config's processes)"
    )
    add_progress(p)
    p.set_defaults(run=run_pipeline_command, flags=FLAGS)

    p = sub.add_parser(
        "demo",
        help="simulate a Th-228 calibration run and calibrate it",
        description="Simulate a Th-228 calibration run (no data needed), run raw → dsp → "
        "calibration → hit, and write spectrum.png, waveforms.png and calibration.png.",
    )
    p.add_argument(
        "--outdir",
        default="tierflow-demo",
        metavar="DIR",
        help="output folder (default: tierflow-demo)",
    )
    p.add_argument(
        "--events",
        type=count_type(1),
        default=20_000,
        metavar="N",
        help="events per channel (default: 20000)",
    )
    p.add_argument(
        "--channels",
        type=count_type(1),
        default=3,
        metavar="N",
        help="detector channels (default: 3)",
    )
    p.add_argument(
        "--seed", type=int, default=42, metavar="SEED", help="simulation seed (default: 42)"
    )
    add_executor(p, "worker processes (-1: one per CPU; default: this process only)")
    add_progress(p)
    p.set_defaults(run=run_demo_command, flags=FLAGS)


def run_pipeline_command(args: argparse.Namespace) -> int:
    from ..pipeline import run_pipeline

    with executor_for(args) as executor:
        report = run_pipeline(args.config, executor=executor, progress=args.progress)
    print(report)
    return 0 if report.ok else 1


def run_demo_command(args: argparse.Namespace) -> int:
    from ..pipeline.demo import run_demo

    if os.path.exists(args.outdir) and not os.path.isdir(args.outdir):
        raise UsageError(f"--outdir {args.outdir} is a file, not a folder")
    print(
        f"tierflow demo: simulating {args.channels} channels x {args.events:,} events ...",
        file=sys.stderr,
    )
    with executor_for(args) as executor:
        result = run_demo(
            args.outdir,
            n_events=args.events,
            n_channels=args.channels,
            seed=args.seed,
            executor=executor,
            progress=args.progress,
        )
    print(result)
    return 0 if result.report.ok else 1
