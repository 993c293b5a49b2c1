"""tierflow's ``LH5Iterator`` vs LEGEND's (legend-lh5io) and plain h5py, side by side in one process.

Run: ``.venv/bin/python benchmarks/bench_iterate.py`` (needs the ``test`` extras for the oracle);
``--quick`` runs a small version in well under a minute (a smoke test, not figures to quote).

Cases, each on the same synthetic files (written once with ``tierflow.lh5.write`` into ``--data-dir``):

- full pass reading 2 of 5 float32 columns, 10 groups x 1e6 rows, uncompressed and gzip-4 + shuffle,
  with ``buffer_len=100_000`` rows; the plain h5py baseline reads the same 2 columns of every group
  chunk by chunk with ``read_direct`` into preallocated buffers;
- the default case (issue 14): the same pass with a memory-sized buffer, ``buffer_len="100 MB"`` (what
  the reference tutorial recommends and tierflow's default), a fresh ``LH5Iterator`` with default
  arguments otherwise in every round (what a user does), target >= 0.9x plain h5py. The h5py figure is
  ``read_direct`` of the same columns into buffers of the same number of rows as tierflow's buffer,
  allocated once for the pass; that allocation is in the timed region for both (the iterator must
  allocate its buffer too), and so are the page faults of first touching it (each round starts on
  memory handed back to the operating system, ``_common.release_freed_memory``, so that no pass
  reuses pages another freed; the row notes the page faults of a pass);
- ``query("a > 1.0")`` (``library="pd"`` and ``"lgdo"``, with the field mask ``a, b`` and without),
  against h5py + a numpy mask;
- ``hist`` of column ``a`` (``hist.axis.Regular(100, -5, 5, name="a")``, field mask ``a`` for both),
  against tierflow's plain pass over the same column;
- per-(file, group) overhead: a full pass over 500 groups x 2000 rows / 500;
- a vector-of-vectors float32 column (mean length 10) plus a float32 column, 10 groups x 1e5 rows;
- peak memory of a ``"100*MB"`` pass, in a child process: its max RSS (``resource.getrusage`` of
  children, in a small launcher process) minus its RSS after import and iterator construction (file
  open), against 2 x 100 MB.

Every time is the best of ``--repeat`` rounds of CPU time (``time.process_time``; ``--clock wall`` for
``perf_counter``): the passes run on one thread and the page cache is hot, so CPU time is the pass's
time without the noise of other jobs on a shared machine (numexpr, which tierflow's ``query`` uses, may
run a second thread: its CPU time counts too, which can only make tierflow look slower). The
implementations are interleaved within a round. Times include building the iterator (listing groups,
counting rows).
Ratios: tierflow's rate / the other's (above 1 means tierflow is faster).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import compare, machine, minor_faults, release_freed_memory, use_clock

warnings.filterwarnings("ignore")

BUFFER_ROWS = 100_000
MEMORY_BUFFER = "100*MB"
#: the default case's buffer: the reference tutorial's "100 MB" (tierflow's default)
DEFAULT_BUFFER = "100 MB"
FIELDS = ["a", "b"]
COLUMNS = "abcde"


# --- data ---------------------------------------------------------------------------------------
def groups_of(n: int) -> list[str]:
    return [f"ch{g:07d}/dsp" for g in range(n)]


def _write_groups(
    path: str,
    n_groups: int,
    make: Callable[[np.random.Generator], object],
    compression,
    seed: int = 42,
) -> None:
    """Write ``n_groups`` tables made by ``make`` (from a generator seeded with ``seed``) into
    ``path`` (once; kept as a cache, and written again when tierflow would now choose other chunks
    for it)."""
    if os.path.exists(path) and _chunks_current(path):
        return
    from tierflow import lh5

    rng = np.random.default_rng(seed)
    tmp = path + ".part"
    if os.path.exists(tmp):
        os.remove(tmp)
    t0 = time.perf_counter()
    with h5py.File(tmp, "w") as f:
        for name in groups_of(n_groups):
            lh5.write(make(rng), name, f, wo_mode="a", compression=compression)
    os.replace(tmp, path)
    print(f"  wrote {path} in {time.perf_counter() - t0:.1f} s", flush=True)


def _chunks_current(path: str) -> bool:
    """Whether the datasets of the first group of ``path`` (each written in one go) have the
    chunks ``lh5.write`` gives them now."""
    from tierflow.lh5.settings import chunk_shape

    stale: list[str] = []

    def check(name: str, obj) -> None:
        if (
            isinstance(obj, h5py.Dataset)
            and obj.chunks is not None
            and obj.chunks != chunk_shape(obj.shape, obj.dtype.itemsize)
        ):
            stale.append(name)

    with h5py.File(path, "r") as f:
        f[groups_of(1)[0]].visititems(check)
    return not stale


def wide_file(data_dir: str, n_groups: int, rows: int, comp: str, seed: int | None = None) -> str:
    """``n_groups`` tables of ``rows`` x 5 float32 columns (``comp``: ``"none"`` or ``"gzip"``);
    with ``seed``, another file (its own name) of other values."""
    from tierflow.types import Table

    tag = "" if seed is None else f"-seed{seed}"
    path = os.path.join(data_dir, f"wide-{n_groups}x{rows}-{comp}{tag}.lh5")

    def make(rng):
        return Table({c: rng.normal(size=rows).astype("float32") for c in COLUMNS})

    _write_groups(
        path, n_groups, make, False if comp == "none" else None, 42 if seed is None else seed
    )
    return path


def vov_file(data_dir: str, n_groups: int, rows: int, comp: str) -> str:
    from tierflow.types import Array, Table, VectorOfVectors

    path = os.path.join(data_dir, f"vov-{n_groups}x{rows}-{comp}.lh5")

    def make(rng):
        lengths = rng.poisson(10, rows)
        flat = rng.normal(size=int(lengths.sum())).astype("float32")
        vov = VectorOfVectors(flattened_data=flat, cumulative_length=np.cumsum(lengths))
        return Table({"v": vov, "a": Array(rng.normal(size=rows).astype("float32"))})

    _write_groups(path, n_groups, make, False if comp == "none" else None)
    return path


# --- the passes -----------------------------------------------------------------------------------
def plain_pass(path: str, groups: list[str], fields: list[str], buffer_len: int) -> int:
    """The fair baseline of an iterator pass: ``read_direct`` of every group's rows, in order, into
    buffers of ``buffer_len`` rows, allocated once per pass (here, so in the timed region) and filled
    across groups like an iterator's."""
    n = pos = 0
    with h5py.File(path, "r", locking=False) as f:
        bufs = None
        for g in groups:
            dsets = [f[f"{g}/{c}"] for c in fields]
            if bufs is None:
                bufs = [np.empty(buffer_len, d.dtype) for d in dsets]
            rows, start = dsets[0].shape[0], 0
            while start < rows:
                k = min(rows - start, buffer_len - pos)
                for d, buf in zip(dsets, bufs, strict=True):
                    d.read_direct(buf, np.s_[start : start + k], np.s_[pos : pos + k])
                start, pos, n = start + k, pos + k, n + k
                if pos == buffer_len:
                    pos = 0  # a full chunk: a consumer would run here
    return n


def plain_query(path: str, groups: list[str], fields: list[str], buffer_len: int) -> int:
    """h5py + a numpy mask: the rows with ``a > 1.0`` of ``fields``, concatenated."""
    parts: dict[str, list] = {c: [] for c in fields}
    with h5py.File(path, "r", locking=False) as f:
        for g in groups:
            dsets = {c: f[f"{g}/{c}"] for c in fields}
            rows = dsets["a"].shape[0]
            bufs = {c: np.empty(min(buffer_len, rows), d.dtype) for c, d in dsets.items()}
            for s in range(0, rows, buffer_len):
                e = min(s + buffer_len, rows)
                for c, d in dsets.items():
                    d.read_direct(bufs[c], np.s_[s:e], np.s_[0 : e - s])
                mask = bufs["a"][: e - s] > 1.0
                for c in fields:
                    parts[c].append(bufs[c][: e - s][mask])
    out = {c: np.concatenate(p) for c, p in parts.items()}
    return len(out["a"])


def plain_vov_pass(path: str, groups: list[str], buffer_len: int) -> int:
    """Lengths, then the span of values they cover, plus the flat column, chunk by chunk."""
    n = 0
    with h5py.File(path, "r", locking=False) as f:
        ends = np.empty(buffer_len + 1, np.uint64)
        flat_buf = np.empty(0, np.float32)
        a_buf = np.empty(buffer_len, np.float32)
        for g in groups:
            cl, flat, a = f[f"{g}/v/cumulative_length"], f[f"{g}/v/flattened_data"], f[f"{g}/a"]
            ends = ends.astype(cl.dtype, copy=False)
            rows = cl.shape[0]
            for s in range(0, rows, buffer_len):
                e = min(s + buffer_len, rows)
                first = max(s - 1, 0)
                cl.read_direct(ends, np.s_[first:e], np.s_[0 : e - first])
                lo = int(ends[0]) if s > 0 else 0
                hi = int(ends[e - first - 1])
                if len(flat_buf) < hi - lo:
                    flat_buf = np.empty(int((hi - lo) * 1.2), np.float32)
                if hi > lo:
                    flat.read_direct(flat_buf, np.s_[lo:hi], np.s_[0 : hi - lo])
                a.read_direct(a_buf, np.s_[s:e], np.s_[0 : e - s])
                n += e - s
    return n


def iter_pass(cls, path: str, groups: list[str], fields, buffer_len) -> int:
    n = 0
    for tb in cls(path, groups, field_mask=fields, buffer_len=buffer_len):
        n += len(tb)
    return n


def checksum(cls, path: str, groups: list[str], fields, buffer_len) -> tuple[int, float]:
    """Rows and the float64 sum of column ``a`` over a pass (outside the timings)."""
    n, s = 0, 0.0
    for tb in cls(path, groups, field_mask=fields, buffer_len=buffer_len):
        n += len(tb)
        s += float(np.asarray(tb["a"].nda, np.float64).sum())
    return n, s


def vov_checksum(cls, path: str, groups: list[str]) -> tuple[int, int, float]:
    """Rows, elements and the float64 sum of the vector column's elements over a pass."""
    rows, elements, total = 0, 0, 0.0
    for tb in cls(path, groups, buffer_len=BUFFER_ROWS):
        n = len(tb)
        stop = int(tb["v"].cumulative_length.nda[n - 1]) if n else 0
        rows, elements = rows + n, elements + stop
        total += float(np.asarray(tb["v"].flattened_data.nda[:stop], np.float64).sum())
    return rows, elements, round(total, 3)


# --- report ----------------------------------------------------------------------------------------
@dataclass
class Row:
    section: str
    case: str
    unit: str
    ours: float | None
    theirs: float | None = None
    plain: float | None = None
    note: str = ""
    target: str = ""
    met: bool | None = None


ROWS: list[Row] = []


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return ""
    if unit == "ms":
        return f"{v:.2f} ms"
    if unit == "MB":
        return f"{v:.0f} MB"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def ratio(ours: float | None, other: float | None, unit: str) -> str:
    if ours is None or other is None or ours == 0 or other == 0:
        return ""
    r = other / ours if unit in ("ms", "MB") else ours / other
    return f"{r:.2f}x"


def add(row: Row) -> Row:
    ROWS.append(row)
    vs_l, vs_p = ratio(row.ours, row.theirs, row.unit), ratio(row.ours, row.plain, row.unit)
    unit = row.unit if row.unit not in ("ms", "MB") else ""
    line = f"{row.case:<52} tierflow {fmt(row.ours, row.unit):>8} {unit:<7}"
    if row.theirs is not None:
        line += f"| LEGEND {fmt(row.theirs, row.unit):>8} ({vs_l:>6}) "
    if row.plain is not None:
        line += f"| h5py {fmt(row.plain, row.unit):>8} ({vs_p:>6}) "
    if row.target:
        line += f"| target {row.target}: {'met' if row.met else 'MISSED'}"
    if row.note:
        line += f"  [{row.note}]"
    print(line, flush=True)
    return row


def markdown() -> str:
    lines = [
        "| case | tierflow | LEGEND | plain h5py | tierflow / LEGEND | tierflow / h5py | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in ROWS:
        unit = "" if r.unit in ("ms", "MB") else f" {r.unit}"
        tgt = f"{r.target}: {'met' if r.met else '**missed**'}" if r.target else ""
        case = r.case + (f" ({r.note})" if r.note else "")
        lines.append(
            f"| {case} | {fmt(r.ours, r.unit)}{unit if r.ours is not None else ''} "
            f"| {fmt(r.theirs, r.unit)}{unit if r.theirs is not None else ''} "
            f"| {fmt(r.plain, r.unit)}{unit if r.plain is not None else ''} "
            f"| {ratio(r.ours, r.theirs, r.unit)} | {ratio(r.ours, r.plain, r.unit)} | {tgt} |"
        )
    return "\n".join(lines)


# --- the benchmarks -------------------------------------------------------------------------------
def bench_wide(path: str, label: str, n_groups: int, rows: int, repeat: int, TF, LG) -> None:
    groups = groups_of(n_groups)
    total = n_groups * rows
    mrows = total / 1e6

    # correctness first (untimed): both iterators give the same rows and the same sum of a
    n_tf, s_tf = checksum(TF, path, groups, FIELDS, BUFFER_ROWS)
    n_lg, s_lg = checksum(LG, path, groups, FIELDS, BUFFER_ROWS)
    assert n_tf == n_lg == total, (n_tf, n_lg, total)
    assert abs(s_tf - s_lg) < 1e-6 * max(abs(s_tf), 1), (s_tf, s_lg)

    # (1)-(3) full pass, 2 columns, buffer_len = 100_000 rows
    t = compare(
        {
            "plain": lambda: plain_pass(path, groups, FIELDS, BUFFER_ROWS),
            "tf": lambda: iter_pass(TF, path, groups, FIELDS, BUFFER_ROWS),
            "lg": lambda: iter_pass(LG, path, groups, FIELDS, BUFFER_ROWS),
        },
        repeat,
    )
    assert t["plain"][1] == t["tf"][1] == t["lg"][1] == total
    tf_rate, lg_rate, h5_rate = mrows / t["tf"][0], mrows / t["lg"][0], mrows / t["plain"][0]
    uncompressed = label == "uncompressed"
    add(
        Row(
            label,
            f"full pass a, b, {label}, 100k rows",
            "Mrows/s",
            tf_rate,
            lg_rate,
            h5_rate,
            target=">= 0.9x h5py" + (", >= 3x LEGEND" if uncompressed else ""),
            met=tf_rate >= 0.9 * h5_rate and (not uncompressed or tf_rate >= 3 * lg_rate),
        )
    )

    # the default case: buffer_len="100 MB" (each library sizes it its own way), a fresh iterator per
    # round; h5py reads into buffers of tierflow's row count, allocated in the timed region
    tf_rows = TF(path, groups, field_mask=FIELDS, buffer_len=DEFAULT_BUFFER).buffer_len
    lg_rows = LG(path, groups, field_mask=FIELDS, buffer_len=DEFAULT_BUFFER).buffer_len
    faults: dict[str, list[int]] = {"plain": [], "tf": [], "lg": []}

    def counted(name: str, fn: Callable[[], int]) -> Callable[[], int]:
        def run() -> int:
            f0 = minor_faults()
            out = fn()
            faults[name].append(minor_faults() - f0)
            return out

        return run

    t = compare(
        {
            "plain": counted("plain", lambda: plain_pass(path, groups, FIELDS, tf_rows)),
            "tf": counted("tf", lambda: iter_pass(TF, path, groups, FIELDS, DEFAULT_BUFFER)),
            "lg": counted("lg", lambda: iter_pass(LG, path, groups, FIELDS, DEFAULT_BUFFER)),
        },
        repeat,
        before=release_freed_memory,
    )
    assert t["plain"][1] == t["tf"][1] == t["lg"][1] == total
    fewest = {k: min(v) for k, v in faults.items()}
    tf_rate, h5_rate = mrows / t["tf"][0], mrows / t["plain"][0]
    add(
        Row(
            label,
            f'default: full pass a, b, {label}, "{DEFAULT_BUFFER}"',
            "Mrows/s",
            tf_rate,
            mrows / t["lg"][0],
            h5_rate,
            note=f"buffer rows: tierflow {tf_rows:,}, LEGEND {lg_rows:,}; h5py: same rows as "
            f"tierflow's, allocated in the timed pass; page faults: tierflow {fewest['tf']:,}, "
            f"LEGEND {fewest['lg']:,}, h5py {fewest['plain']:,}",
            target=">= 0.9x h5py",
            met=tf_rate >= 0.9 * h5_rate,
        )
    )

    # (4) query
    for fields in (FIELDS, None):
        for library in ("pd", "lgdo"):
            lg_lib = None if library == "lgdo" else library
            cases = {
                "tf": lambda f=fields, lib=library: TF(
                    path, groups, field_mask=f, buffer_len=BUFFER_ROWS
                ).query("a > 1.0", library=lib),
                "lg": lambda f=fields, lib=lg_lib: LG(
                    path, groups, field_mask=f, buffer_len=BUFFER_ROWS
                ).query("a > 1.0", library=lib, progress=False),
            }
            if fields is not None and library == "pd":
                cases["plain"] = lambda: plain_query(path, groups, FIELDS, BUFFER_ROWS)
            t = compare(cases, repeat)
            n_sel = len(t["tf"][1])
            assert n_sel == len(t["lg"][1]), (n_sel, len(t["lg"][1]))
            if "plain" in t:
                assert t["plain"][1] == n_sel
            tf_rate, lg_rate = mrows / t["tf"][0], mrows / t["lg"][0]
            cols = "a, b" if fields else "all 5 columns"
            add(
                Row(
                    label,
                    f'query "a > 1.0" {library}, {cols}, {label}',
                    "Mrows/s",
                    tf_rate,
                    lg_rate,
                    mrows / t["plain"][0] if "plain" in t else None,
                    target=">= 2x LEGEND",
                    met=tf_rate >= 2 * lg_rate,
                )
            )

    # (5) hist of column a vs tierflow's pass over the same column
    import hist

    def axis():
        return hist.axis.Regular(100, -5, 5, name="a")

    cases = {
        "pass": lambda: iter_pass(TF, path, groups, ["a"], BUFFER_ROWS),
        "tf": lambda: TF(path, groups, field_mask=["a"], buffer_len=BUFFER_ROWS).hist(axis()),
        "lg": lambda: LG(path, groups, field_mask=["a"], buffer_len=BUFFER_ROWS).hist(
            axis(), progress=False
        ),
    }
    t = compare(cases, repeat)
    assert np.array_equal(t["tf"][1].values(flow=True), t["lg"][1].values(flow=True))
    assert t["tf"][1].sum(flow=True) == total
    tf_rate, pass_rate = mrows / t["tf"][0], mrows / t["pass"][0]
    add(
        Row(
            label,
            f"hist a (100 bins), {label}",
            "Mrows/s",
            tf_rate,
            mrows / t["lg"][0],
            note=f"tierflow pass over a: {pass_rate:.0f} Mrows/s, hist = {tf_rate / pass_rate:.2f}x of it",
            target=">= 0.8x pass",
            met=tf_rate >= 0.8 * pass_rate,
        )
    )


def bench_many_groups(path: str, label: str, n_groups: int, repeat: int, TF, LG) -> None:
    groups = groups_of(n_groups)
    n_tf, s_tf = checksum(TF, path, groups, FIELDS, BUFFER_ROWS)
    n_lg, s_lg = checksum(LG, path, groups, FIELDS, BUFFER_ROWS)
    assert n_tf == n_lg and abs(s_tf - s_lg) < 1e-6 * max(abs(s_tf), 1)
    t = compare(
        {
            "plain": lambda: plain_pass(path, groups, FIELDS, BUFFER_ROWS),
            "tf": lambda: iter_pass(TF, path, groups, FIELDS, BUFFER_ROWS),
            "lg": lambda: iter_pass(LG, path, groups, FIELDS, BUFFER_ROWS),
        },
        repeat,
    )
    ms = {k: v[0] / n_groups * 1e3 for k, v in t.items()}
    add(
        Row(
            "groups",
            f"per (file, group), {n_groups} groups x 2000 rows, a, b, {label}",
            "ms",
            ms["tf"],
            ms["lg"],
            ms["plain"],
            target="<= 1 ms",
            met=ms["tf"] <= 1.0,
        )
    )


def bench_vov(path: str, label: str, n_groups: int, rows: int, repeat: int, TF, LG) -> None:
    groups = groups_of(n_groups)
    total = n_groups * rows
    t = compare(
        {
            "plain": lambda: plain_vov_pass(path, groups, BUFFER_ROWS),
            "tf": lambda: iter_pass(TF, path, groups, None, BUFFER_ROWS),
            "lg": lambda: iter_pass(LG, path, groups, None, BUFFER_ROWS),
        },
        repeat,
    )
    assert t["plain"][1] == t["tf"][1] == t["lg"][1] == total
    # same values from both iterators: count and sum of the vectors' elements
    assert vov_checksum(TF, path, groups) == vov_checksum(LG, path, groups)
    mrows = total / 1e6
    add(
        Row(
            "vov",
            f"pass VoV float32 (mean length 10) + float32, {label}",
            "Mrows/s",
            mrows / t["tf"][0],
            mrows / t["lg"][0],
            mrows / t["plain"][0],
        )
    )


def memory_worker(impl: str, path: str, n_groups: int, buffer_len: str, fields: str) -> None:
    """Child process of the memory test: baseline RSS after import and open, then one pass."""
    if impl == "tierflow":
        from tierflow.lh5 import LH5Iterator
    else:
        from lh5 import LH5Iterator

    def status() -> dict[str, int]:
        with open("/proc/self/status") as f:
            return {
                k: int(v.split()[0])
                for k, v in (line.split(":", 1) for line in f)
                if k in ("VmRSS", "VmHWM")
            }

    mask = None if fields == "all" else fields.split(",")
    it = LH5Iterator(path, groups_of(n_groups), field_mask=mask, buffer_len=buffer_len)
    baseline_kb = status()["VmRSS"]
    try:  # reset the high-water mark: a cross-check that ignores transient peaks during import
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    n = 0
    for tb in it:
        n += len(tb)
    res = {
        "baseline_kb": baseline_kb,
        "hwm_kb": status()["VmHWM"],
        "rows": n,
        "buffer_rows": int(it.buffer_len),
    }
    print(json.dumps(res), flush=True)


# The worker is started from a small launcher, not from this process: a child's ru_maxrss starts
# from the RSS of the process it was forked from (this one holds the benchmark's data), so the
# launcher's children's maxrss is the worker's own peak.
_LAUNCHER = """
import json, os, resource, sys
status = os.spawnv(os.P_WAIT, sys.argv[1], sys.argv[1:])
print(json.dumps({"status": status, "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def bench_memory(
    path: str, label: str, n_groups: int, rows: int, buffer_len: str, variants=("a,b", "all")
) -> None:
    for fields in variants:
        row_bytes = 4 * (2 if fields == "a,b" else len(COLUMNS))
        peaks = {}
        for impl in ("tierflow", "legend"):
            worker = [
                sys.executable,
                os.path.abspath(__file__),
                "--memory-worker",
                impl,
                path,
                str(n_groups),
                buffer_len,
                fields,
            ]
            proc = subprocess.run(
                [sys.executable, "-S", "-c", _LAUNCHER, *worker], capture_output=True, text=True
            )
            lines = proc.stdout.strip().splitlines()
            if proc.returncode or len(lines) < 2 or json.loads(lines[-1])["status"]:
                raise RuntimeError(f"memory worker failed: {proc.stdout} {proc.stderr}")
            res, launcher = json.loads(lines[-2]), json.loads(lines[-1])
            assert res["rows"] == n_groups * rows
            growth = (launcher["maxrss_kb"] - res["baseline_kb"]) * 1024 / 1e6
            hwm = (res["hwm_kb"] - res["baseline_kb"]) * 1024 / 1e6
            peaks[impl] = growth, hwm, res["buffer_rows"]
        nominal = float(buffer_len.split("*")[0])
        tf_growth, tf_hwm, tf_rows = peaks["tierflow"]
        lg_growth, lg_hwm, lg_rows = peaks["legend"]
        filled = min(tf_rows, n_groups * rows) * row_bytes / 1e6
        cols = "a, b" if fields == "a,b" else "all 5 columns"
        add(
            Row(
                "memory",
                f'peak RSS - baseline, "{buffer_len}", {cols}, {label}',
                "MB",
                tf_growth,
                lg_growth,
                note=(
                    f"buffer rows: tierflow {tf_rows:,} ({filled:.0f} MB used), LEGEND {lg_rows:,}; "
                    f"pass-only peak: tierflow {tf_hwm:.0f} MB, LEGEND {lg_hwm:.0f} MB"
                ),
                target=f"<= 2 x {nominal:.0f} MB",
                met=tf_growth <= 2 * nominal,
            )
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="small files, one round: a smoke test")
    ap.add_argument(
        "--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "tierflow-bench")
    )
    ap.add_argument("--repeat", type=int, default=None, help="rounds per case (default 3, quick 1)")
    ap.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="time.process_time (default: steady on a shared machine; all cases are single-threaded) "
        "or time.perf_counter",
    )
    ap.add_argument("--markdown", action="store_true", help="also print the table as markdown")
    ap.add_argument("--memory-worker", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_worker:
        impl, path, n_groups, buffer_len, fields = args.memory_worker
        memory_worker(impl, path, int(n_groups), buffer_len, fields)
        return

    if args.quick:
        wide, many, vov, repeat, mem_buffer = (4, 200_000), 100, (4, 20_000), 1, "8*MB"
        data_dir = os.path.join(args.data_dir, "quick")
    else:
        wide, many, vov, repeat, mem_buffer = (10, 1_000_000), 500, (10, 100_000), 3, MEMORY_BUFFER
        data_dir = args.data_dir
    repeat = args.repeat or repeat
    use_clock(args.clock)
    os.makedirs(data_dir, exist_ok=True)

    import lh5 as legend_lh5

    from tierflow.lh5 import LH5Iterator as TF

    LG = legend_lh5.LH5Iterator
    print(
        f"tierflow LH5Iterator vs legend-lh5io {legend_lh5.__version__}, h5py {h5py.__version__}, "
        f"numpy {np.__version__}; {machine()}; {datetime.date.today()}; best of {repeat}, {args.clock} time",
        flush=True,
    )
    t_start = time.perf_counter()
    files = {}
    for comp in ("none", "gzip"):
        files["wide", comp] = wide_file(data_dir, *wide, comp)
        files["many", comp] = wide_file(data_dir, many, 2000, comp)
        files["vov", comp] = vov_file(data_dir, *vov, comp)

    names = {"none": "uncompressed", "gzip": "gzip"}
    for comp in ("none", "gzip"):
        bench_wide(files["wide", comp], names[comp], *wide, repeat, TF, LG)
    for comp in ("none", "gzip"):
        bench_many_groups(files["many", comp], names[comp], many, repeat, TF, LG)
    for comp in ("none", "gzip"):
        bench_vov(files["vov", comp], names[comp], *vov, repeat, TF, LG)
    if args.quick:  # each worker pays the imports: one pair is enough for a smoke test
        bench_memory(files["wide", "none"], "uncompressed", *wide, mem_buffer, ("all",))
    else:
        bench_memory(files["wide", "none"], "uncompressed", *wide, mem_buffer)
        bench_memory(files["wide", "gzip"], "gzip", *wide, mem_buffer)

    print(
        f"\n{sum(1 for r in ROWS if r.met)} of {sum(1 for r in ROWS if r.target)} targets met; "
        f"{time.perf_counter() - t_start:.0f} s"
    )
    if args.markdown:
        print()
        print(markdown())


if __name__ == "__main__":
    main()
