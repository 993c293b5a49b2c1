"""``tierflow raw``: DAQ files (ORCA, FlashCam FCIO, CoMPASS, LlamaDAQ) to raw-tier LH5 files.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="tierflow")
>>> register(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["raw", "run.orca", "--out-spec", "r.yaml", "--set", "filekey=r1"])
>>> args.daq, args.out_spec, args.buffer_size, placeholders(args.set)
(['run.orca'], 'r.yaml', 8192, {'filekey': 'r1'})
>>> raw_file_name("data/run.orca"), raw_file_name("data/run")
('data/run.lh5', 'data/run.lh5')
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import DAQTruncatedError, LH5WriteError, UsageError
from .arguments import add_progress, count_type, is_folder, output_files

#: ``build_raw``'s argument names (as its errors name them) → this command's flags
FLAGS = {
    "buffer_size": "--buffer-size",
    "n_max": "-n/--n-max",
    "out_spec": "--out-spec",
    "in_stream_type": "--stream-type",
    "compass_config_file": "--compass-config",
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``raw`` subcommand."""
    p = sub.add_parser(
        "raw",
        help="decode DAQ files into raw-tier LH5 files",
        description=(
            "Decode DAQ files (ORCA, FlashCam FCIO, CAEN CoMPASS, LlamaDAQ; the type is "
            "recognised from the content) into raw-tier LH5 files, as legend-daq2lh5's "
            "build_raw does. By default each FILE gives FILE's name with .lh5, one table per "
            "decoder; --out-spec routes decoders and channels to tables and files with a "
            "routing config in legend-daq2lh5's format. Each output file appears only when "
            "it is complete."
        ),
    )
    p.add_argument("daq", nargs="+", metavar="FILE", help="DAQ file(s)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "-o",
        "--out",
        metavar="OUT",
        help="output file (one FILE; OUT:/group writes into a group) or folder (any number; "
        "made if missing); default: beside each FILE, with .lh5",
    )
    where.add_argument(
        "--out-spec",
        metavar="CONFIG",
        help="routing config (JSON/YAML, legend-daq2lh5's out_spec): decoder -> table name "
        "-> {key_list, out_stream, proc_spec}; {orig_basename} is each FILE's name without "
        "its extension, more placeholders come from --set",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a placeholder of the routing config's out_stream ({KEY}); repeatable",
    )
    p.add_argument(
        "--stream-type",
        metavar="TYPE",
        help="the DAQ format (ORCA, FlashCam, Compass, LlamaDaq) when the content does not say",
    )
    p.add_argument(
        "--compass-config",
        metavar="XML",
        help="CoMPASS settings file of CoMPASS FILEs (default: settings.xml in FILE's folder "
        "or the one above, or FILE's stem + _settings.xml)",
    )
    p.add_argument(
        "--buffer-size",
        type=count_type(1),
        default=8192,
        metavar="ROWS",
        help="rows gathered per table before writing (default: 8192)",
    )
    p.add_argument(
        "-n", "--n-max", type=count_type(0), metavar="N", help="decode at most N records per FILE"
    )
    p.add_argument("-f", "--overwrite", action="store_true", help="replace output files that exist")
    add_progress(p)
    p.set_defaults(run=run_raw, flags=FLAGS)


def raw_file_name(daq: str) -> str:
    """The default output of the DAQ file ``daq``: beside it, its extension replaced by ``.lh5``."""
    return os.path.splitext(daq)[0] + ".lh5"


def placeholders(items: list[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` values as a dict; a value without ``=`` is a usage error.

    >>> placeholders(["a=1", "b=x=y"])
    {'a': '1', 'b': 'x=y'}
    """
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE with KEY a name")
        out[key.strip()] = value
    return out


def run_raw(args: argparse.Namespace) -> int:
    from ..daq import build_raw, stream_types

    values = placeholders(args.set)
    if args.stream_type is not None and args.stream_type not in stream_types():
        raise UsageError(
            f"--stream-type {args.stream_type!r}: the types are "
            f"{', '.join(sorted(stream_types())) or 'none (no format is installed)'}"
        )
    if args.out_spec is not None and not os.path.isfile(args.out_spec):
        raise UsageError(f"--out-spec {args.out_spec}: no such routing config file")
    if args.out_spec is None:
        out = None if args.out is None else args.out.split(":", 1)[0]
        targets = output_files(args.daq, out, raw_file_name)
        if args.out is not None and len(args.daq) == 1 and ":" in args.out:
            targets = [args.out]  # with its group
        for target in targets:
            _check_free(target.split(":", 1)[0], args.overwrite)
        if is_folder(args.out, len(args.daq)):
            os.makedirs(args.out, exist_ok=True)
    else:
        targets = [args.out_spec] * len(args.daq)
    for daq, target in zip(args.daq, targets, strict=True):
        basename = os.path.splitext(os.path.basename(daq))[0]
        kwargs = {"orig_basename": basename, **values}
        try:
            summary = build_raw(
                daq,
                in_stream_type=args.stream_type,
                out_spec=target,
                buffer_size=args.buffer_size,
                n_max=float("inf") if args.n_max is None else args.n_max,
                overwrite=args.overwrite,
                compass_config_file=args.compass_config,
                progress=args.progress,
                **kwargs,
            )
        except DAQTruncatedError as err:
            partial = getattr(err, "summary", None)
            if partial is not None:
                print(partial, file=sys.stdout)
            raise
        except LH5WriteError as err:
            if err.reason.startswith("exists;"):  # an output of the routing config
                _check_free(err.file or "", overwrite=False)
            raise
        print(summary, file=sys.stdout)
    return 0


def _check_free(path: str, overwrite: bool) -> None:
    """Refuse an output file that exists unless ``-f`` was given (before any work)."""
    if os.path.exists(path) and not overwrite:
        raise LH5WriteError("exists; pass -f/--overwrite to replace it", file=path)
