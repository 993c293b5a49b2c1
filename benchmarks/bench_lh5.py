"""tierflow vs LEGEND's legend-lh5io (and plain h5py) on LH5 reads, writes and waveform codecs.

Run: ``.venv/bin/python benchmarks/bench_lh5.py [--repeat N] [--clock cpu|wall] [--data-dir DIR]``
(needs the ``test`` extras for the oracle); ``--quick`` runs a small version in well under a minute
(a smoke test, not figures to quote). Prints absolute figures and the ratio tierflow / LEGEND for each
case: the best of ``--repeat`` rounds (3) in which tierflow and LEGEND run in turn, on wall time
(tierflow's codecs run on every core, which CPU time would count once per core) unless
``--clock cpu``.

The default case (issue 14), a one-off ``lh5.read`` of large columns, on the files
``bench_iterate.py`` writes into ``--data-dir`` (10 groups x 1e6 rows x 5 float32 columns ``a``-``e``,
uncompressed and gzip-4 + shuffle; written here if missing), target >= 0.9x plain h5py:

- one group at a time: ``lh5.read(group, path, field_mask=["a", "b"])`` for each of the 10 groups
  (LEGEND's ``lh5.read`` the same way);
- ten files at a time: ``lh5.read(group, [path_1, ..., path_10], field_mask=["a", "b"])``, the same
  table concatenated from 10 files of one group each (how ``read``'s docstring reads many files);
- plain h5py: the file opened once per round (once per file for ten files), ``read_direct`` of the two
  columns into arrays (one pair per group; one pair of 1e7 rows for ten files) that are either
  allocated inside the round (in the timed region, like the arrays ``lh5.read`` must return: first
  touching their pages is timed too) or allocated and touched once outside it ("preallocated").
  The target is against the first; the second is the floor of a read into a reused buffer.
  Every round of these cases starts on memory handed back to the operating system
  (``_common.release_freed_memory``), so each case's new arrays pay their page faults whatever ran
  before it; the line notes the fewest minor page faults of a round of each case.

These cases are single-threaded, so they are timed on CPU time (``time.process_time``, steady on a
shared machine) unless ``--clock`` is given, which then applies to them too.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from collections.abc import Callable

import h5py
import numpy as np

warnings.filterwarnings("ignore")

import lgdo  # noqa: E402
import lh5 as legend_lh5  # noqa: E402
from _common import (  # noqa: E402
    CLOCKS,
    clock_name,
    compare,
    machine,
    minor_faults,
    release_freed_memory,
    use_clock,
)

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


def bench_tables(tmp: str, n: int = 1_000_000) -> None:
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
        report(f"write 5 x {n:,} float32, {label}", "MB/s", mb, w_ours, w_theirs)
        r_ours, r_theirs = timed(
            ours=lambda f=f_ours: lh5.read("tb", f),
            theirs=lambda f=f_ours: legend_lh5.read("tb", f),
        )
        report(f"read 5 x {n:,} float32, {label}", "Mrows/s", n / 1e6, r_ours, r_theirs)

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


def bench_many_groups(tmp: str, n_groups: int = 500) -> None:
    path = os.path.join(tmp, "groups.lh5")
    for g in range(n_groups):
        lh5.write(Table({"a": RNG.normal(size=2000).astype("float32")}), f"ch{g:07d}/dsp", path)
    names = [f"ch{g:07d}/dsp" for g in range(n_groups)]
    store = lh5.LH5Store()
    ours, theirs, cached = timed(
        ours=lambda: [lh5.read(n, path) for n in names],
        theirs=lambda: [legend_lh5.read(n, path) for n in names],
        cached=lambda: [store.read(n, path) for n in names],
    )
    per = 1e3 / n_groups
    print(
        f"{f'read {n_groups} groups x 2000 rows, per read':<44} tierflow {ours * per:6.3f} ms "
        f"| LEGEND {theirs * per:6.3f} ms | ratio {theirs / ours:5.2f}x | LH5Store {cached * per:6.3f} ms"
    )


ONE_OFF_FIELDS = ["a", "b"]


def plain_groups(path: str, groups: list[str], bufs: list[list[np.ndarray]] | None = None) -> int:
    """``read_direct`` of the two columns of every group, into new arrays (``bufs`` None: all kept
    until the end, as the tables ``lh5.read`` returns are, so none reuses another's memory) or into
    ``bufs[group][column]``; the file opened once. Rows read."""
    n, kept = 0, []
    with h5py.File(path, "r", locking=False) as f:
        for i, g in enumerate(groups):
            for j, c in enumerate(ONE_OFF_FIELDS):
                d = f[f"{g}/{c}"]
                buf = np.empty(d.shape, d.dtype) if bufs is None else bufs[i][j]
                d.read_direct(buf)
                kept.append(buf)
            n += d.shape[0]
    return n


def plain_files(paths: list[str], group: str, bufs: list[np.ndarray] | None = None) -> int:
    """``read_direct`` of the two columns of ``group`` in every file into one array per column of
    all the files' rows: new arrays (``bufs`` None) or ``bufs``. Rows read."""
    files = [h5py.File(p, "r", locking=False) for p in paths]
    try:
        rows = [f[f"{group}/{ONE_OFF_FIELDS[0]}"].shape[0] for f in files]
        if bufs is None:
            dtypes = [files[0][f"{group}/{c}"].dtype for c in ONE_OFF_FIELDS]
            bufs = [np.empty(sum(rows), dt) for dt in dtypes]
        pos = 0
        for f, n in zip(files, rows, strict=True):
            for c, buf in zip(ONE_OFF_FIELDS, bufs, strict=True):
                f[f"{group}/{c}"].read_direct(buf, None, np.s_[pos : pos + n])
            pos += n
    finally:
        for f in files:
            f.close()
    return pos


def touched(shape: int, dtype) -> np.ndarray:
    """An array whose pages are in memory (allocated and written once)."""
    out = np.empty(shape, dtype)
    out.fill(0)
    return out


def rows_of_all(tables: list) -> int:
    """Rows of all the tables (kept alive until all are read, as a caller keeps them)."""
    return sum(len(t) for t in tables)


def compare_one_off(
    cases: dict[str, Callable[[], int]], clock_fn: Callable[[], float]
) -> tuple[dict[str, tuple[float, object]], dict[str, int]]:
    """:func:`compare` of the one-off read cases, each starting on memory handed back to the
    operating system (so every new array pays its page faults, whatever ran before), and the
    fewest minor page faults a round of each case took."""
    faults: dict[str, list[int]] = {k: [] for k in cases}

    def counted(name: str, fn: Callable[[], int]) -> Callable[[], int]:
        def run() -> int:
            f0 = minor_faults()
            out = fn()
            faults[name].append(minor_faults() - f0)
            return out

        return run

    t = compare(
        {k: counted(k, fn) for k, fn in cases.items()},
        REPEAT,
        clock_fn,
        before=release_freed_memory,
    )
    return t, {k: min(v) for k, v in faults.items()}


def report_one_off(
    case: str,
    rows: int,
    t: dict[str, tuple[float, object]],
    faults: dict[str, int],
    target: float = 0.9,
) -> None:
    """A line of the default case: rates, tierflow's ratio to each, the target against h5py
    (arrays allocated in the round), and the page faults of a round."""
    rate = {k: rows / 1e6 / v[0] for k, v in t.items()}
    ours, plain = rate["tf"], rate["h5py_alloc"]
    met = ours >= target * plain
    print(
        f"{case:<66} tierflow {ours:7.1f} Mrows/s | LEGEND {rate['lg']:7.1f} ({ours / rate['lg']:4.2f}x) "
        f"| h5py alloc in round {plain:7.1f} ({ours / plain:4.2f}x) "
        f"| h5py preallocated {rate['h5py_prealloc']:7.1f} ({ours / rate['h5py_prealloc']:4.2f}x) "
        f"| target >= {target}x h5py (alloc in round): {'met' if met else 'MISSED'}"
        f"  [page faults: tierflow {faults['tf']:,}, LEGEND {faults['lg']:,}, "
        f"h5py {faults['h5py_alloc']:,} / {faults['h5py_prealloc']:,}]",
        flush=True,
    )


def bench_one_off(data_dir: str, n_groups: int, rows: int, clock_fn) -> None:
    """The default case: one ``lh5.read`` of 2 large columns per group, and of one group's 2
    columns concatenated from ``n_groups`` files, against plain h5py ``read_direct``."""
    from bench_iterate import groups_of, wide_file

    groups = groups_of(n_groups)
    group = groups[0]  # the group of each of the ten one-group files
    for comp, label in (("none", "uncompressed"), ("gzip", "gzip")):
        path = wide_file(data_dir, n_groups, rows, comp)
        # correctness first (untimed): the same values from all three
        ours = [lh5.read(g, path, field_mask=ONE_OFF_FIELDS) for g in groups]
        theirs = [legend_lh5.read(g, path, field_mask=ONE_OFF_FIELDS) for g in groups]
        prealloc = [[touched(rows, np.float32) for _ in ONE_OFF_FIELDS] for _ in groups]
        assert plain_groups(path, groups, prealloc) == n_groups * rows
        for o, th, pl in zip(ours, theirs, prealloc, strict=True):
            assert list(o.keys()) == ONE_OFF_FIELDS and len(o) == rows
            for c, p in zip(ONE_OFF_FIELDS, pl, strict=True):
                assert np.array_equal(o[c].nda, p) and np.array_equal(th[c].nda, p)
        del ours, theirs
        t, faults = compare_one_off(
            {
                "h5py_alloc": lambda p=path: plain_groups(p, groups),
                "tf": lambda p=path: rows_of_all(
                    [lh5.read(g, p, field_mask=ONE_OFF_FIELDS) for g in groups]
                ),
                "lg": lambda p=path: rows_of_all(
                    [legend_lh5.read(g, p, field_mask=ONE_OFF_FIELDS) for g in groups]
                ),
                "h5py_prealloc": lambda p=path, b=prealloc: plain_groups(p, groups, b),
            },
            clock_fn,
        )
        assert {v[1] for v in t.values()} == {n_groups * rows}
        report_one_off(
            f"default: lh5.read a, b, {n_groups} groups x {rows:,} rows, {label}",
            n_groups * rows,
            t,
            faults,
        )
        del prealloc

        # the same table from n_groups files, concatenated by one call
        paths = [wide_file(data_dir, 1, rows, comp, seed=i) for i in range(n_groups)]
        ours = lh5.read(group, paths, field_mask=ONE_OFF_FIELDS)
        theirs = legend_lh5.read(group, paths, field_mask=ONE_OFF_FIELDS)
        prealloc_files = [touched(n_groups * rows, np.float32) for _ in ONE_OFF_FIELDS]
        assert plain_files(paths, group, prealloc_files) == n_groups * rows
        assert len(ours) == len(theirs) == n_groups * rows
        for c, p in zip(ONE_OFF_FIELDS, prealloc_files, strict=True):
            assert np.array_equal(ours[c].nda, p) and np.array_equal(theirs[c].nda, p)
        del ours, theirs
        t, faults = compare_one_off(
            {
                "h5py_alloc": lambda ps=paths: plain_files(ps, group),
                "tf": lambda ps=paths: len(lh5.read(group, ps, field_mask=ONE_OFF_FIELDS)),
                "lg": lambda ps=paths: len(legend_lh5.read(group, ps, field_mask=ONE_OFF_FIELDS)),
                "h5py_prealloc": lambda ps=paths, b=prealloc_files: plain_files(ps, group, b),
            },
            clock_fn,
        )
        assert {v[1] for v in t.values()} == {n_groups * rows}
        report_one_off(
            f"default: lh5.read a, b, 1 group x {n_groups} files x {rows:,} rows, {label}",
            n_groups * rows,
            t,
            faults,
        )
        del prealloc_files


def bench_codecs(n: int = 20_000) -> None:
    wfs = pulses(n, 1000)
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
        report(f"encode {name} {n // 1000}k x 1000 uint16", "MB/s", mb, enc_ours, enc_theirs)
        ours_enc = codecs.encode(ours_in, ours_codec)
        theirs_enc = legend_lh5.compression.encode(theirs_in, theirs_codec)
        codecs.decode(ours_enc)
        dec_ours, dec_theirs = timed(
            ours=lambda e=ours_enc: codecs.decode(e),
            theirs=lambda e=theirs_enc: legend_lh5.compression.decode(e),
        )
        report(f"decode {name} {n // 1000}k x 1000 uint16", "MB/s", mb, dec_ours, dec_theirs)


def main() -> None:
    global REPEAT
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="small data, one round: a smoke test")
    ap.add_argument("--repeat", type=int, default=None, help="rounds per case (default 3, quick 1)")
    ap.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default=None,
        help="wall (the default) or cpu; the one-off read cases use cpu unless this is given",
    )
    ap.add_argument(
        "--data-dir",
        default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "tierflow-bench"),
        help="bench_iterate.py's cache of synthetic files (written there if missing)",
    )
    args = ap.parse_args()
    REPEAT = args.repeat or (1 if args.quick else 3)
    use_clock(args.clock or "wall")
    one_off_clock = CLOCKS[args.clock or "cpu"]
    if args.quick:
        data_dir, one_off, rows, groups, waveforms = (
            os.path.join(args.data_dir, "quick"),
            (4, 200_000),
            100_000,
            50,
            2_000,
        )
    else:
        data_dir, one_off, rows, groups, waveforms = (
            args.data_dir,
            (10, 1_000_000),
            1_000_000,
            500,
            20_000,
        )
    os.makedirs(data_dir, exist_ok=True)
    print(
        f"tierflow vs legend-lh5io {legend_lh5.__version__}, h5py {h5py.__version__}; "
        f"{machine()}; best of {REPEAT}, {clock_name()} time "
        f"(one-off reads: {args.clock or 'cpu'} time)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        bench_codecs(waveforms)
        bench_tables(tmp, rows)
        bench_many_groups(tmp, groups)
    bench_one_off(data_dir, *one_off, one_off_clock)


if __name__ == "__main__":
    main()
