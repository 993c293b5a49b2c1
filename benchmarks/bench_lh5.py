"""tierflow vs LEGEND's legend-lh5io (and plain h5py) on LH5 reads, writes and waveform codecs.

Run: ``.venv/bin/python benchmarks/bench_lh5.py [--repeat N] [--clock cpu|wall]`` (needs the
``test`` extras for the oracle). Prints absolute figures and the ratio tierflow / LEGEND for each
case: the best of ``--repeat`` rounds (3) in which tierflow and LEGEND run in turn, on wall time
(tierflow's codecs run on every core, which CPU time would count once per core) unless
``--clock cpu``.
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

from tierflow import lh5  # noqa: E402
from tierflow.lh5 import codecs  # noqa: E402
from tierflow.types import ArrayOfEqualSizedArrays, Table  # noqa: E402

RNG = np.random.default_rng(42)
REPEAT = 3


def timed(**cases) -> list[float]:
    """Best time of each case (keyword order), the cases interleaved round by round."""
    return [t for t, _ in compare(cases, REPEAT).values()]


def report(
    case: str,
    unit: str,
    amount: float,
    ours: float,
    theirs: float | None,
    plain: float | None = None,
) -> None:
    line = f"{case:<44} tierflow {amount / ours:9.1f} {unit}"
    if theirs is not None:
        line += f" | LEGEND {amount / theirs:9.1f} {unit} | ratio {theirs / ours:5.2f}x"
    if plain is not None:
        line += f" | h5py {amount / plain:9.1f} {unit}"
    print(line, flush=True)


def pulses(n: int, length: int) -> np.ndarray:
    """Pulse-like uint16 waveforms: baseline, noise, a step with exponential decay."""
    t = np.arange(length)
    amp = RNG.uniform(100, 20000, n)[:, None]
    start = RNG.integers(length // 3, length // 2, n)[:, None]
    step = np.where(t >= start, amp * np.exp(-(t - start) / 5000.0), 0)
    return (15000 + RNG.normal(0, 5, (n, length)) + step).astype(np.uint16)


def bench_tables(tmp: str) -> None:
    n = 1_000_000
    cols = {c: RNG.normal(size=n).astype("float32") for c in "abcde"}
    ours_tb = Table(cols)
    theirs_tb = lgdo.Table({k: lgdo.Array(v) for k, v in cols.items()})
    for comp, label in ((False, "uncompressed"), (None, "gzip-4+shuffle")):
        f_ours, f_theirs = os.path.join(tmp, f"o-{label}.lh5"), os.path.join(tmp, f"t-{label}.lh5")
        kw = {} if comp is None else {"compression": None}
        w_ours, w_theirs = timed(
            ours=lambda f=f_ours, c=comp: lh5.write(ours_tb, "tb", f, wo_mode="of", compression=c),
            theirs=lambda f=f_theirs, k=kw: legend_lh5.write(theirs_tb, "tb", f, wo_mode="of", **k),
        )
        mb = 5 * n * 4 / 1e6
        report(f"write 5 x 1e6 float32, {label}", "MB/s", mb, w_ours, w_theirs)
        r_ours, r_theirs = timed(
            ours=lambda f=f_ours: lh5.read("tb", f),
            theirs=lambda f=f_ours: legend_lh5.read("tb", f),
        )
        report(f"read 5 x 1e6 float32, {label}", "Mrows/s", n / 1e6, r_ours, r_theirs)

        def plain(f=f_ours):
            with h5py.File(f, "r", locking=False) as h:
                for c in "ab":
                    h[f"tb/{c}"][()]

        m_ours, m_theirs, m_plain = timed(
            ours=lambda f=f_ours: lh5.read("tb", f, field_mask=["a", "b"]),
            theirs=lambda f=f_ours: legend_lh5.read("tb", f, field_mask=["a", "b"]),
            plain=plain,
        )
        report(f"read 2 of 5 columns, {label}", "Mrows/s", n / 1e6, m_ours, m_theirs, m_plain)


def bench_many_groups(tmp: str) -> None:
    path = os.path.join(tmp, "groups.lh5")
    for g in range(500):
        lh5.write(Table({"a": RNG.normal(size=2000).astype("float32")}), f"ch{g:07d}/dsp", path)
    names = [f"ch{g:07d}/dsp" for g in range(500)]
    store = lh5.LH5Store()
    ours, theirs, cached = timed(
        ours=lambda: [lh5.read(n, path) for n in names],
        theirs=lambda: [legend_lh5.read(n, path) for n in names],
        cached=lambda: [store.read(n, path) for n in names],
    )
    print(
        f"{'read 500 groups x 2000 rows, per read':<44} tierflow {ours / 500 * 1e3:6.3f} ms | LEGEND {theirs / 500 * 1e3:6.3f} ms | ratio {theirs / ours:5.2f}x | LH5Store {cached / 500 * 1e3:6.3f} ms"
    )


def bench_codecs() -> None:
    wfs = pulses(20_000, 1000)
    mb = wfs.nbytes / 1e6
    legend_codecs = (
        (
            "radware_sigcompress",
            codecs.RadwareSigcompress(codec_shift=-32768),
            legend_lh5.compression.RadwareSigcompress(codec_shift=-32768),
        ),
        (
            "uleb128_zigzag_diff",
            codecs.ULEB128ZigZagDiff(),
            legend_lh5.compression.ULEB128ZigZagDiff(),
        ),
    )
    ours_in = ArrayOfEqualSizedArrays(nda=wfs)
    theirs_in = lgdo.ArrayOfEqualSizedArrays(nda=wfs)
    for name, ours_codec, theirs_codec in legend_codecs:
        codecs.encode(ours_in, ours_codec)  # compile
        enc_ours, enc_theirs = timed(
            ours=lambda c=ours_codec: codecs.encode(ours_in, c),
            theirs=lambda c=theirs_codec: legend_lh5.compression.encode(theirs_in, c),
        )
        report(f"encode {name} 20k x 1000 uint16", "MB/s", mb, enc_ours, enc_theirs)
        ours_enc = codecs.encode(ours_in, ours_codec)
        theirs_enc = legend_lh5.compression.encode(theirs_in, theirs_codec)
        codecs.decode(ours_enc)
        dec_ours, dec_theirs = timed(
            ours=lambda e=ours_enc: codecs.decode(e),
            theirs=lambda e=theirs_enc: legend_lh5.compression.decode(e),
        )
        report(f"decode {name} 20k x 1000 uint16", "MB/s", mb, dec_ours, dec_theirs)


def main() -> None:
    global REPEAT
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--repeat", type=int, default=REPEAT)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="wall")
    args = ap.parse_args()
    REPEAT = args.repeat
    use_clock(args.clock)
    print(
        f"tierflow vs legend-lh5io {legend_lh5.__version__}, h5py {h5py.__version__}; "
        f"{machine()}; best of {REPEAT}, {clock_name()} time"
    )
    with tempfile.TemporaryDirectory() as tmp:
        bench_codecs()
        bench_tables(tmp)
        bench_many_groups(tmp)


if __name__ == "__main__":
    main()
