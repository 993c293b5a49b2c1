"""Events: tierflow's ``build_tcm`` beside pygama's, on one simulated hit file.

Run: ``.venv/bin/python benchmarks/bench_evt.py [--channels 10] [--hits 1000000] [--repeat N]
[--clock cpu|wall]`` (needs pygama, a test-only oracle). The file holds ``--hits`` hits spread
over ``--channels`` channel tables (random times, a tenth of them in coincidences of 2-4
channels). Each case builds the tcm on ``timestamp`` with a 1 us window, with one large buffer
and with ``buffer_len=1000``; the tables are checked equal before timing. Best of ``--repeat``
rounds (3); hits/s and the ratio to pygama.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

import numpy as np

warnings.filterwarnings("ignore")

import pygama.evt  # noqa: E402
from _common import clock_name, compare, machine, use_clock  # noqa: E402

from tierflow import evt, lh5  # noqa: E402
from tierflow.types import Table  # noqa: E402


def write_hits(path: str, channels: int, hits: int, seed: int = 0) -> None:
    """``hits`` hits over ``channels`` ``chNNN/hit`` tables, sorted times, some coincident."""
    rng = np.random.default_rng(seed)
    per = hits // channels
    shared = np.sort(rng.uniform(0, 3600, per // 10))
    for ch in range(channels):
        own = rng.uniform(0, 3600, per - len(shared) // 3)
        picked = shared[rng.random(len(shared)) < 1 / 3][: per - len(own)]
        t = np.sort(np.concatenate([own, picked + rng.uniform(0, 2e-7, len(picked))]))
        lh5.write(
            Table({"timestamp": t}), f"ch{ch:03d}/hit", path, wo_mode="of" if ch == 0 else "a"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--hits", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clock", default="wall")
    args = parser.parse_args()
    use_clock(args.clock)
    path = os.path.join(tempfile.mkdtemp(), "hits.lh5")
    write_hits(path, args.channels, args.hits)
    inputs = [(path, "ch*/hit")]
    n = sum(lh5.read_n_rows(t, path) for t in lh5.ls(path, "ch*/hit"))
    print(f"# build_tcm, {args.channels} channels, {n} hits; {machine()}; {clock_name()} time")
    for label, buffer_len in (("one large buffer", None), ("buffer_len=1000", 1000)):
        kw = {"coin_windows": 1e-6, "buffer_len": buffer_len}
        cases = {
            "pygama": lambda kw=kw: pygama.evt.build_tcm(inputs, "timestamp", **kw),
            "tierflow": lambda kw=kw: evt.build_tcm(inputs, "timestamp", **kw),
        }
        evt.build_tcm(inputs, "timestamp", coin_windows=1e-6, buffer_len=10)  # compile
        results = compare(cases, args.repeat)
        ours, theirs = results["tierflow"][1], results["pygama"][1]
        for field in ("table_key", "row_in_table"):
            assert np.array_equal(
                ours[field].cumulative_length.nda, theirs[field].cumulative_length.nda
            )
            assert np.array_equal(ours[field].flattened_data.nda, theirs[field].flattened_data.nda)
        tp, tt = results["pygama"][0], results["tierflow"][0]
        print(
            f"{label:18s} pygama {tp:7.2f} s {n / tp:12,.0f} hits/s | "
            f"tierflow {tt:7.2f} s {n / tt:12,.0f} hits/s | {tp / tt:5.1f}x  ({len(ours)} events)"
        )


if __name__ == "__main__":
    main()
