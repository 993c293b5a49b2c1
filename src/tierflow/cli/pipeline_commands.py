"""``tierflow run CONFIG`` and ``tierflow demo``: the tiers over many files, and a demo of it."""

from __future__ import annotations

import argparse
import sys


def _executor(value: str | None) -> int | None:
    return None if value is None else int(value)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` and ``demo`` subcommands."""
    p = sub.add_parser(
        "run",
        help="run raw → dsp → calibration → hit as a config says",
        description="Run the pipeline of a JSON/YAML config (see tierflow.pipeline.config); "
        "finished outputs are skipped, so an interrupted run resumes.",
    )
    p.add_argument("config", help="pipeline config (JSON or YAML)")
    p.add_argument("-p", "--processes", type=int, default=None, help="worker processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run_pipeline_command)

    p = sub.add_parser(
        "demo",
        help="simulate a Th-228 calibration run and calibrate it",
        description="Simulate a Th-228 calibration run (no data needed), run raw → dsp → "
        "calibration → hit, and write spectrum.png, waveforms.png and calibration.png.",
    )
    p.add_argument(
        "--outdir", default="tierflow-demo", help="output folder (default: tierflow-demo)"
    )
    p.add_argument("--events", type=int, default=20_000, help="events per channel (default: 20000)")
    p.add_argument("--channels", type=int, default=3, help="detector channels (default: 3)")
    p.add_argument("--seed", type=int, default=42, help="simulation seed (default: 42)")
    p.add_argument("-p", "--processes", type=int, default=None, help="worker processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run_demo_command)


def run_pipeline_command(args: argparse.Namespace) -> int:
    from ..pipeline import run_pipeline

    report = run_pipeline(
        args.config, executor=args.processes, progress=False if args.no_progress else None
    )
    print(report)
    return 0 if report.ok else 1


def run_demo_command(args: argparse.Namespace) -> int:
    from ..pipeline.demo import run_demo

    print(
        f"tierflow demo: simulating {args.channels} channels x {args.events:,} events ...",
        file=sys.stderr,
    )
    result = run_demo(
        args.outdir,
        n_events=args.events,
        n_channels=args.channels,
        seed=args.seed,
        executor=args.processes,
        progress=False if args.no_progress else None,
    )
    print(result)
    return 0 if result.report.ok else 1
