"""DAQ file → raw tier: tierflow's ``build_raw`` against legend-daq2lh5's, file to file.

Run: ``.venv/bin/python benchmarks/bench_daq.py [--big-mb 500] [--repeat 3] [--markdown]``
(a few minutes: most of it is daq2lh5 on the simulated file); ``--quick`` skips the big file.

Each measurement runs in a fresh child process (``python bench_daq.py --child ...``), so that its
peak RSS is its own: the child imports the tool, then times ``build_raw`` alone (wall clock, best of
``--repeat`` children) and reports its peak RSS and the RSS after import. Both tools get the same
input, the same routing and the same output settings (``hdf5_settings``: gzip level 4 with
shuffle). Cases:

- every DAQ file in ``shared/testdata/daq`` (ORCA with FlashCam records, FCIO, CoMPASS, LlamaDAQ),
  with each tool's default routing (one table per decoder) and, for the FlashCam ones, LEGEND's
  (``ch{key:07d}/raw`` per channel);
- the CoMPASS and LlamaDAQ files with their records repeated to ``--tiled-mb`` MB (50): the real
  files are 0.2 and 1.1 MB, where fixed costs (creating the output file, its tables) decide;
- an ORCA file of at least ``--big-mb`` MB from ``tierflow.sim.simulate_daq_file`` (3 channels,
  seed 1); daq2lh5 decodes its first ``--reference-mb`` MB only (``n_max``), at well under 1 MB/s
  the whole file would take hours; its MB/s is taken over the bytes those records span;
- output settings: gzip level 4 with shuffle (daq2lh5's and tierflow's default) and none, where
  the file-to-file rate is no longer the rate of zlib (the same library in both);
- decoding alone: tierflow's stream reader over each file with no writing (``DAQStream.decode``),
  the second pass of a process.

"MB/s" is the first file of a fresh process (``tierflow raw FILE``); "next file" the second file in
the same process (``tierflow raw *.orca``, the pipeline over many files), where numba's compiled
functions are loaded (about 0.4 s the first time in a process, whatever the file's size).

Targets (issue 15): at least 10x daq2lh5's MB/s for every stream type; decoding alone at least
300 MB/s; peak RSS under 2x the buffers' size and under 500 MB whatever the file size.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.realpath(os.path.join(HERE, "..", "..", "shared", "testdata", "daq"))
#: bytes of one simulated FlashCam waveform record (8000 samples of 2 bytes and the header)
RECORD_BYTES = 16_100
HDF5_SETTINGS = {"compression": "gzip", "compression_opts": 4, "shuffle": True}

#: name → (file under testdata/daq, stream type, extra build_raw arguments, waveform decoder)
FILES = {
    "ORCA FlashCam": (
        "orca-flashcam/L200-comm-20220519-phy-geds.orca",
        "ORCA",
        {},
        "ORFlashCamADCWaveformDecoder",
    ),
    "FCIO": ("fcio/th228.fcio", "FlashCam", {}, "FCEventDecoder"),
    "CoMPASS": (
        "compass/compass_test_data.BIN",
        "Compass",
        {"compass_config_file": "compass/compass_test_data_settings.xml"},
        None,
    ),
    "LlamaDAQ": ("llamaDAQ/20241218-150158-pulser.bin", "LlamaDaq", {}, None),
}


def data_start(path: str, stream_type: str) -> int:
    """Bytes of the file header before the first record (CoMPASS and LlamaDAQ)."""
    if stream_type == "Compass":
        return 2  # the 0xCAEx header word
    with open(path, "rb") as f:
        head = f.read(16)
    return 16 + 88 * int.from_bytes(head[12:16], "little")  # LlamaDAQ: channel configs


def tiled(path: str, stream_type: str, target_mb: float, out: str) -> str:
    """A copy of ``path`` whose records are repeated to reach ``target_mb`` MB (same header)."""
    if not os.path.exists(out):
        with open(path, "rb") as f:
            data = f.read()
        start = data_start(path, stream_type)
        copies = max(1, int(target_mb * 1e6 / (len(data) - start)))
        with open(out, "wb") as f:
            f.write(data[:start])
            for _ in range(copies):
                f.write(data[start:])
    return out


def routing(kind: str, decoder: str | None, out: str) -> dict | str:
    """The out_spec of a case: ``default`` (the file name) or ``legend`` (channels by key)."""
    if kind == "default":
        return out
    spec = {"*": {"{name}": {"key_list": ["*"], "out_stream": out}}}
    spec[decoder] = {"ch{key:07d}/raw": {"key_list": ["*"], "out_stream": out}}
    return spec


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ``ru_maxrss`` would carry the parent's over exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> None:
    """One measurement in this process; prints a JSON line."""
    extra = json.loads(args.extra)
    if args.tool.startswith("tierflow"):
        from tierflow.daq import build_raw, stream_types
    else:
        from daq2lh5 import build_raw
    rss_import = peak_rss_mb()
    n_max = int(args.n_max) if args.n_max else float("inf")
    args.routing, args.output = args.routing.split(":")
    times = []
    for round_ in range(2):  # the first file of a process, then the next (numba's caches loaded)
        t0 = time.perf_counter()
        if args.tool == "tierflow-decode":
            reader = stream_types()[args.stream_type](args.file, **extra)
            for _ in reader.decode(8192, n_max):
                pass
            consumed = reader.bytes_read
            reader.close()
        else:
            out = os.path.join(args.outdir, f"{args.tool}-{round_}.lh5")
            spec = routing(args.routing, args.decoder, out)
            build_raw(
                args.file,
                in_stream_type=args.stream_type,
                out_spec=spec,
                overwrite=True,
                n_max=n_max,
                hdf5_settings=HDF5_SETTINGS if args.output == "gzip" else {"compression": None},
                **extra,
            )
            consumed = os.path.getsize(args.file)
        times.append(time.perf_counter() - t0)
        if args.n_max:  # daq2lh5's share of the big file: one round is enough
            break
    seconds, warm = times[0], times[-1]
    rss = peak_rss_mb()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "warm": warm,
                "rss_mb": rss,
                "rss_import_mb": rss_import,
                "bytes": consumed,
            }
        )
    )


def measure(
    tool: str,
    path: str,
    stream_type: str,
    extra: dict,
    routing_kind: str,
    decoder: str | None,
    repeat: int,
    n_max: int | None = None,
) -> dict:
    """Best of ``repeat`` child processes."""
    best: dict | None = None
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as outdir:
            command = [
                sys.executable,
                os.path.abspath(__file__),
                "--child",
                tool,
                path,
                stream_type,
                json.dumps(extra),
                routing_kind,
                str(decoder),
                outdir,
                str(n_max or ""),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                return {"error": done.stderr.strip().splitlines()[-1][:200]}
            result = json.loads(done.stdout.strip().splitlines()[-1])
        if best is None:
            best = result
        else:
            best = {**result, **{k: min(best[k], result[k]) for k in ("seconds", "warm")}}
    assert best is not None
    return best


def rate(result: dict, size: int, key: str = "seconds") -> float:
    """MB/s of a measurement: ``seconds`` (the first file of a process) or ``warm`` (the next)."""
    return result.get("bytes", size) / 1e6 / result[key] if key in result else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big-mb", type=float, default=500.0)
    parser.add_argument("--reference-mb", type=float, default=10.0)
    parser.add_argument("--tiled-mb", type=float, default=50.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--data-dir", default=os.path.join(tempfile.gettempdir(), "tierflow-bench-daq")
    )
    args = parser.parse_args()
    rows = []
    cases = []
    for name, (relative, stream_type, extra, decoder) in FILES.items():
        extra = {k: os.path.join(TESTDATA, v) for k, v in extra.items()}
        cases.append((name, os.path.join(TESTDATA, relative), stream_type, extra, decoder, None))
    if not args.quick:
        from tierflow.sim import simulate_daq_file

        os.makedirs(args.data_dir, exist_ok=True)
        for name in ("CoMPASS", "LlamaDAQ"):  # the small real files, records repeated
            relative, stream_type, extra, decoder = FILES[name]
            extra = {k: os.path.join(TESTDATA, v) for k, v in extra.items()}
            source = os.path.join(TESTDATA, relative)
            stem, ext = os.path.splitext(os.path.basename(source))
            out = os.path.join(args.data_dir, f"{stem[:15]}-tiled{ext}")
            path = tiled(source, stream_type, args.tiled_mb, out)
            cases.append(
                (
                    f"{name} x{os.path.getsize(path) // os.path.getsize(source)}",
                    path,
                    stream_type,
                    extra,
                    decoder,
                    None,
                )
            )

        os.makedirs(args.data_dir, exist_ok=True)
        big = os.path.join(args.data_dir, f"sim-{int(args.big_mb)}MB.orca")
        if not os.path.exists(big):
            n_events = int(args.big_mb * 1e6 / (3 * RECORD_BYTES)) + 1
            simulate_daq_file(big, n_events=n_events, channels=3, seed=1)
        size = os.path.getsize(big)
        packets = int(args.reference_mb * 1e6 / RECORD_BYTES)
        cases.append(
            (
                f"ORCA simulated {size / 1e6:.0f} MB",
                big,
                "ORCA",
                {},
                "ORFlashCamADCWaveformDecoder",
                packets,
            )
        )
    for name, path, stream_type, extra, decoder, reference_n_max in cases:
        size = os.path.getsize(path)
        decode = measure(
            "tierflow-decode", path, stream_type, extra, "default:gzip", decoder, args.repeat
        )
        kinds = ["default:gzip", "default:none"] + (["legend:gzip"] if decoder else [])
        for routing_kind in kinds:
            ours = measure("tierflow", path, stream_type, extra, routing_kind, decoder, args.repeat)
            theirs = measure(
                "daq2lh5",
                path,
                stream_type,
                extra,
                routing_kind,
                decoder,
                1 if reference_n_max else args.repeat,
                reference_n_max,
            )
            if reference_n_max and "seconds" in theirs:
                theirs["bytes"] = min(size, reference_n_max * RECORD_BYTES)
            rows.append((name, routing_kind, size, ours, theirs, decode))
    print_table(rows, args.markdown)


def print_table(rows: list, markdown: bool) -> None:
    header = [
        "case",
        "routing:output",
        "MB",
        "tierflow MB/s",
        "daq2lh5 MB/s",
        "ratio",
        "next file: tierflow / daq2lh5 MB/s",
        "ratio",
        "decode MB/s",
        "peak RSS tierflow (after import)",
        "peak RSS daq2lh5",
    ]
    lines = [header]
    for name, routing_kind, size, ours, theirs, decode in rows:
        a, b = rate(ours, size), rate(theirs, size)
        wa, wb = rate(ours, size, "warm"), rate(theirs, size, "warm")
        both = "seconds" in ours and "seconds" in theirs
        lines.append(
            [
                name,
                routing_kind,
                f"{size / 1e6:.1f}",
                f"{a:.1f}" if "seconds" in ours else ours.get("error", "?")[:60],
                f"{b:.2f}" if "seconds" in theirs else theirs.get("error", "?")[:60],
                f"{a / b:.1f}x" if both else "-",
                f"{wa:.1f} / {wb:.2f}" if both else "-",
                f"{wa / wb:.1f}x" if both else "-",
                f"{rate(decode, size, 'warm'):.0f}"
                if "seconds" in decode
                else decode.get("error", "?")[:60],
                f"{ours.get('rss_mb', 0):.0f} MB ({ours.get('rss_mb', 0) - ours.get('rss_import_mb', 0):.0f})",
                f"{theirs.get('rss_mb', 0):.0f} MB",
            ]
        )
    if markdown:
        print("| " + " | ".join(lines[0]) + " |")
        print("|" + "---|" * len(lines[0]))
        for line in lines[1:]:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
        for line in lines:
            print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)))
    print(f"\n{machine()}; {datetime.date.today()}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        names = ["tool", "file", "stream_type", "extra", "routing", "decoder", "outdir", "n_max"]
        ns = argparse.Namespace(**dict(zip(names, sys.argv[2:], strict=True)))
        ns.decoder = None if ns.decoder == "None" else ns.decoder
        child(ns)
    else:
        main()
