"""Decoding speed of the ORCA stream reader on FlashCam waveform records.

Builds a temporary ORCA file of about ``--megabytes`` MB: the real test file's header, run
and listener config records, then its waveform records repeated. Times decoding alone
(no writing): ``OrcaStream.decode`` over the whole file, and prints MB/s.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_daq_orca.py [--megabytes 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from testdata import TESTDATA
from tierflow.daq.formats.orca.records import frame_records
from tierflow.daq.formats.orca.stream import OrcaStream

ORCA_FILE = TESTDATA / "daq" / "orca-flashcam" / "L200-comm-20220519-phy-geds.orca"


def tiled_file(path: Path, megabytes: float) -> None:
    words = np.fromfile(ORCA_FILE, "<u4")
    frame = frame_records(words, 0, 10_000)
    waveform = frame.data_ids == 0xC0000
    first = frame.starts[waveform][0]
    records = np.concatenate(
        [
            words[s : s + n]
            for s, n in zip(frame.starts[waveform], frame.lengths[waveform], strict=True)
        ]
    )
    n_tiles = max(1, int(megabytes * 1e6 / (4 * len(records))))
    with open(path, "wb") as out:
        out.write(words[:first].tobytes())
        block = records.tobytes()
        for _ in range(n_tiles):
            out.write(block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=float, default=100)
    parser.add_argument("--buffer-size", type=int, default=8192)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiled.orca"
        tiled_file(path, args.megabytes)
        size = os.path.getsize(path)
        for _ in range(args.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            rows = 0
            with OrcaStream(path) as stream:
                for block in stream.decode(buffer_size=args.buffer_size):
                    rows += sum(len(p.obj) for p in block if p.decoder.startswith("ORFlash"))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(
                f"{size / 1e6:.0f} MB, {rows} records: {size / 1e6 / wall:.0f} MB/s wall, "
                f"{size / 1e6 / cpu:.0f} MB/s cpu"
            )


if __name__ == "__main__":
    main()
