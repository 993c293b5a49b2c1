"""Decoding speed of the CoMPASS and LlamaDAQ stream readers alone (no writing), in MB/s.

Writes a large synthetic file of each format (``--mb`` megabytes, default 400) into a
temporary directory, decodes it with ``buffer_size`` 8192 and prints MB/s of file consumed.
Run by hand (not a test)::

    PYTHONPATH=src python benchmarks/bench_decode_compass_llama.py --mb 400
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from tierflow.daq.formats.compass import CompassStream
from tierflow.daq.formats.compass_settings import EXAMPLE_XML
from tierflow.daq.formats.llama import LlamaStream

COMPASS_SAMPLES = 1000
LLAMA_CHANNELS = {0: (2000, 10000, 1), 4: (2000, 500, 2)}  # key: (samples, avg samples, avg mode)


def write_compass(path: str, megabytes: float) -> None:
    dtype = np.dtype(
        [("board", "<u2"), ("channel", "<u2"), ("timestamp", "<u8"), ("energy", "<u2"),
         ("energy_short", "<u2"), ("flags", "<u4"), ("code", "u1"), ("n", "<u4"),
         ("wf", "<u2", COMPASS_SAMPLES)]
    )  # fmt: skip
    rows = int(megabytes * 1e6 / dtype.itemsize)
    rng = np.random.default_rng(1)
    chunk = np.zeros(min(rows, 20000), dtype)
    chunk["channel"] = np.arange(len(chunk)) % 2
    chunk["energy"] = rng.integers(0, 4096, len(chunk))
    chunk["n"] = COMPASS_SAMPLES
    chunk["wf"] = rng.integers(0, 16384, (len(chunk), COMPASS_SAMPLES))
    with open(path, "wb") as f:
        f.write((0xCAED).to_bytes(2, "little"))
        for start in range(0, rows, len(chunk)):
            part = chunk[: rows - start]
            part["timestamp"] = np.arange(start, start + len(part)) * 1000
            f.write(part.tobytes())


def write_llama(path: str, megabytes: float) -> None:
    header = [np.array([0x4972414C, 0, 0x00580002, len(LLAMA_CHANNELS)], "<u4").tobytes()]
    events = []
    for key, (raw, avg, mode) in LLAMA_CHANNELS.items():
        length = 13 + (raw + avg) // 2
        config = np.zeros(22, "<u4")
        config[:4] = [key >> 4, key & 0xF, 3, 8191]
        config[4:8] = np.array([250.0, 1.0]).view("<u4")
        config[8:22] = [3, 0, 1000, 0, mode, raw, avg, 0, length, 13, 2, 9, 11, 11]
        header.append(config.tobytes())
        event = np.zeros(length, "<u4")
        event[0] = (key << 4) | 3
        event[11] = 0xA4000000 | (raw // 2)
        event[12] = 0xE0000000 | (avg // 2)
        event[13:] = np.arange(length - 13) % 5000
        events.append(event)
    pair = np.concatenate(events)
    repeats = int(megabytes * 1e6 / pair.nbytes)
    block = np.tile(pair, min(repeats, 500))
    with open(path, "wb") as f:
        f.write(b"".join(header))
        for start in range(0, repeats, 500):
            f.write(block[: (min(repeats, start + 500) - start) * len(pair)].tobytes())


def measure(stream) -> float:
    """MB/s of the file decoded into tables (every block's pieces made, none written)."""
    t0 = time.perf_counter()
    for _pieces in stream.decode(8192):
        pass
    return stream.size / 1e6 / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        xml = os.path.join(tmp, "settings.xml")
        with open(xml, "w") as f:
            f.write(EXAMPLE_XML.replace("<index>1</index><values/>", ""))
        compass = os.path.join(tmp, "big.BIN")
        write_compass(compass, args.mb)
        with CompassStream(compass, compass_config_file=xml) as s:  # warm-up (compile)
            next(iter(s.decode(8, n_max=8)))
        with CompassStream(compass, compass_config_file=xml) as s:
            print(f"CoMPASS  {os.path.getsize(compass) / 1e6:7.0f} MB: {measure(s):7.0f} MB/s")
        os.remove(compass)
        llama = os.path.join(tmp, "20240101-000000-big.bin")
        write_llama(llama, args.mb)
        with LlamaStream(llama) as s:
            list(s.decode(8, n_max=8))
        with LlamaStream(llama) as s:
            print(f"LlamaDAQ {os.path.getsize(llama) / 1e6:7.0f} MB: {measure(s):7.0f} MB/s")


if __name__ == "__main__":
    main()
