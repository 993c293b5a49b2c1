"""Appends to existing LH5 files: tierflow's crash-safe ``wo_mode="append"`` vs LEGEND's writer.

Run: ``.venv/bin/python benchmarks/bench_append.py [--repeat N] [--clock cpu|wall]`` (needs the
``test`` extras for the oracle). Each case appends to a file that already holds data, so it
measures what a loop of appends pays per call: opening the file, taking the writer's lock,
keeping the undo journal, resizing and writing, closing. Best of ``--repeat`` rounds (5), wall
time unless ``--clock cpu``; every round appends again, so the files grow as in a real loop.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

import h5py
import numpy as np

warnings.filterwarnings("ignore")

import lgdo  # noqa: E402
import lh5 as legend_lh5  # noqa: E402
from _common import clock_name, compare, machine, use_clock  # noqa: E402

from tierflow import lh5, sim  # noqa: E402
from tierflow.lh5.codecs import RadwareSigcompress  # noqa: E402
from tierflow.lh5.write import BatchWriter  # noqa: E402
from tierflow.types import Table  # noqa: E402

RNG = np.random.default_rng(7)
REPEAT = 5


def hit_table(n: int) -> dict[str, np.ndarray]:
    """Ten float32 / int32 columns, as a hit table has."""
    cols = {f"f{i}": RNG.normal(size=n).astype("float32") for i in range(7)}
    cols |= {f"i{i}": RNG.integers(0, 1000, n).astype("int32") for i in range(3)}
    return cols


def ours_and_theirs(cols: dict[str, np.ndarray]) -> tuple[Table, lgdo.Table]:
    return Table(cols), lgdo.Table({k: lgdo.Array(v) for k, v in cols.items()})


def report(case: str, ours: float, theirs: float | None) -> None:
    line = f"{case:<52} tierflow {ours * 1e3:8.2f} ms"
    if theirs is not None:
        line += f" | LEGEND {theirs * 1e3:8.2f} ms | ratio {theirs / ours:5.2f}x"
    print(line, flush=True)


def bench_table_appends(tmp: str) -> None:
    """A big hit-like file, appended to in small and large pieces."""
    f_ours, f_theirs = os.path.join(tmp, "o-big.lh5"), os.path.join(tmp, "t-big.lh5")
    base_ours, base_theirs = ours_and_theirs(hit_table(2_000_000))
    lh5.write(base_ours, "tb", f_ours, wo_mode="of")
    legend_lh5.write(base_theirs, "tb", f_theirs, wo_mode="of")
    for rows in (1_000, 200_000):
        ours_tb, theirs_tb = ours_and_theirs(hit_table(rows))
        times = compare(
            {
                "ours": lambda t=ours_tb: lh5.write(t, "tb", f_ours, wo_mode="append"),
                "theirs": lambda t=theirs_tb: legend_lh5.write(t, "tb", f_theirs, wo_mode="a"),
            },
            REPEAT,
        )
        report(
            f"append {rows} rows x 10 columns to 2e6 rows",
            times["ours"][0],
            times["theirs"][0],
        )


def bench_small_file(tmp: str) -> None:
    """The per-call cost on a small file."""
    f_ours, f_theirs = os.path.join(tmp, "o-small.lh5"), os.path.join(tmp, "t-small.lh5")
    base_ours, base_theirs = ours_and_theirs(hit_table(100))
    lh5.write(base_ours, "tb", f_ours, wo_mode="of")
    legend_lh5.write(base_theirs, "tb", f_theirs, wo_mode="of")
    ours_tb, theirs_tb = ours_and_theirs(hit_table(10))
    times = compare(
        {
            "ours": lambda: lh5.write(ours_tb, "tb", f_ours, wo_mode="append"),
            "theirs": lambda: legend_lh5.write(theirs_tb, "tb", f_theirs, wo_mode="a"),
        },
        REPEAT,
    )
    report("append 10 rows x 10 columns to 100 rows", times["ours"][0], times["theirs"][0])


def bench_many_channels(tmp: str) -> None:
    """One channel's table in a file of 200 channels."""
    path = os.path.join(tmp, "channels.lh5")
    with h5py.File(path, "w") as h5f:
        writer = BatchWriter(h5f)
        for ch in range(200):
            writer.write(Table(hit_table(5_000)), f"ch{ch:07d}/hit")
        writer.close()
    piece = Table(hit_table(1_000))
    times = compare({"ours": lambda: lh5.write(piece, "ch0000100/hit", path)}, REPEAT)
    report("append 1000 rows to 1 of 200 channels", times["ours"][0], None)


def bench_waveforms(tmp: str) -> None:
    """Raw tables with waveforms, plain and encoded."""
    wf, _ = sim.simulate_waveforms(600, seed=1)
    for label, codecs in (
        ("uncompressed", None),
        ("radware", {"values": RadwareSigcompress(codec_shift=-32768)}),
    ):
        path = os.path.join(tmp, f"wf-{label}.lh5")
        lh5.write(wf, "raw/waveform", path, wo_mode="of", codecs=codecs)
        piece = wf.take(slice(0, 200))
        times = compare(
            {"ours": lambda p=path, c=codecs, w=piece: lh5.write(w, "raw/waveform", p, codecs=c)},
            REPEAT,
        )
        report(f"append 200 waveforms x 8192 samples, {label}", times["ours"][0], None)


def main() -> None:
    global REPEAT
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--repeat", type=int, default=REPEAT)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="wall")
    args = ap.parse_args()
    REPEAT = args.repeat
    use_clock(args.clock)
    print(
        f"tierflow appends vs legend-lh5io {legend_lh5.__version__}, h5py {h5py.__version__}; "
        f"{machine()}; best of {REPEAT}, {clock_name()} time per append"
    )
    with tempfile.TemporaryDirectory() as tmp:
        bench_small_file(tmp)
        bench_table_appends(tmp)
        bench_many_channels(tmp)
        bench_waveforms(tmp)


if __name__ == "__main__":
    main()
