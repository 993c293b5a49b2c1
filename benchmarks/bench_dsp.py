"""tierflow's DSP (``tierflow.dsp``) vs LEGEND's dspeed, side by side in one process.

Run: ``.venv/bin/python benchmarks/bench_dsp.py [--markdown] [--repeat N] [--data-dir DIR]`` (6-7
minutes on a quiet 2-core machine once the compile cache is warm, up to 12 under load, 2-4 of them
in the runs with an empty cache; the first run also simulates the raw file and fills the cache, a
few minutes more); ``--quick`` is a smoke test of under a minute on a small file (it skips the runs
with an empty compile cache; ``--cold`` puts them back).

Data: one raw file simulated by ``tierflow.sim.simulate_run`` (uncompressed, one FlashCam channel
table ``ch1084803/raw`` of 20000 waveforms x 8192 uint16 samples at 16 ns), written once into
``--data-dir``. Both tools get the same file, the same chain and the same database entry (the
channel's decay time, ``{"pz": {"tau": "447.6*us"}}``).

Chains: the shipped ``hpge-simple`` (baseline fit, subtract, pole-zero, trapezoid, max: 7 outputs)
and ``hpge-full`` (36 outputs modelled on dspeed's test config: t0, asymmetric trapezoid, energy
trapezoids, CUSP and ZAC by FFT convolution, time points, A/E current). dspeed runs the same dicts
with one change: ``"module": "dspeed.processors"`` is added to every processor entry that names a
bare function without a module (tierflow finds processors by name; dspeed needs the module).

Cases:

- processing only: the whole preloaded table (reading excluded) through tierflow's
  ``compile_chain(...).run(table)`` and dspeed's ``build_processing_chain(...)`` chain called on
  the same rows (building both chains excluded);
- file to file: ``tierflow.dsp.build_dsp`` vs ``dspeed.build_dsp``, both with ``buffer_len=3200``
  and ``write_mode="r"``;
- set-up per channel table once the first channel is compiled: tierflow's ``compile_chain`` plus
  its executor's buffers for a new channel whose database value differs (a compile-cache miss), and
  for one whose values are already compiled (a hit), against dspeed's ``build_processing_chain`` on
  a 3200-row table (what its ``build_dsp`` does per table); the median of 20 channels, the tools
  interleaved channel by channel (tierflow's figure then includes cache misses after dspeed's
  ~100 MB buffers, as it would after processing a table), and tierflow's 20 back to back beside;
- first waveform in a fresh process: per tool, one ``python`` started with ``NUMBA_CACHE_DIR``
  pointing at a new empty directory (numba then reads and writes its cache only there: the
  benchmark counts the index files that appear in it), which imports the tool, then reads one
  waveform and runs the simple chain on it, then the same with the full chain; the time from the
  spawn to each chain's first waveform (the full chain's includes the simple chain's bind and one
  waveform, well under a second, for both tools). dspeed is killed at ``--cold-timeout`` (300 s).
  The same again with the benchmark's warm cache ("fresh process, warm compile cache"; run a second
  time if the first compiled anything, which a source file edited since the warm-up causes);
- peak memory of ``build_dsp`` on ``max + min`` rows for two ``buffer_len`` values (the full chain:
  the larger only), in a child process started from a small launcher: its max RSS minus its RSS
  after import and a 16-row warm-up run.

Every time is the best of ``--repeat`` rounds of CPU time (``time.process_time``; ``--clock wall``
for ``perf_counter``), the tools interleaved within a round: both run on one thread (numba gufuncs,
HDF5, scipy.fft with one worker), so CPU time is their time without the noise of other jobs on a
shared machine. The full chain runs one round fewer (default 2): it takes ~10x longer per waveform.
The fresh processes report the child's CPU time (``resource.getrusage`` in the child, from its
start) with the wall time beside; with ``--clock wall`` the other way round. The first-waveform
target is judged on the reported figure: on a single-threaded child, CPU time is what the wall
time is on an idle machine. Ratios: tierflow's rate / dspeed's (above 1: tierflow is faster); for
s, ms and MB, dspeed's figure / tierflow's.

Compile cache: by default the benchmark points ``NUMBA_CACHE_DIR`` at ``DATA_DIR/numba-cache`` for
itself and its children, so both tools' numba caches live outside the source tree being edited (a
cache left by an older version of a helper can crash a gufunc; see ``benchmarks/README.md``);
``--numba-cache-dir ""`` keeps numba's default (``__pycache__`` beside the sources).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import clock, compare, machine, use_clock

warnings.filterwarnings("ignore")

CHAINS = ("hpge-simple", "hpge-full")
#: the issue's targets: tierflow's waveforms/s over dspeed's
RATE_TARGET = {"hpge-simple": 3.0, "hpge-full": 2.0}
SETUP_TARGET_MS = 10.0
FIRST_WF_TARGET_S = 30.0
BUFFER_LEN = 3200
#: the channel of the simulated file, and its database entry (its decay time)
CHANNEL = "ch1084803"
TABLE = f"{CHANNEL}/raw"
TAU_US = 447.6
#: the simulated sampling period
SAMPLE_NS = 16.0


def database(tau_us: float = TAU_US) -> dict:
    return {CHANNEL: {"pz": {"tau": f"{tau_us:.4f}*us"}}}


# --- data and configs ---------------------------------------------------------------------------
def simulated_file(data_dir: str, n_events: int, n_channels: int, seed: int = 1) -> str:
    """The raw file of a simulated cycle of ``n_channels`` x ``n_events`` (written once)."""
    outdir = os.path.join(data_dir, f"sim-{n_channels}x{n_events}-seed{seed}")
    marker = os.path.join(outdir, "raw-file.txt")
    if os.path.exists(marker):
        with open(marker) as f:
            path = f.read().strip()
        if os.path.exists(path):
            return path
    from tierflow import sim

    t0 = time.perf_counter()
    result = sim.simulate_run(
        outdir, n_events=n_events, channels=n_channels, seed=seed, compression=False
    )
    path = result.raw_files[0]
    with open(marker, "w") as f:
        f.write(path)
    print(
        f"  simulated {n_channels} x {n_events} waveforms into {path} in "
        f"{time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    return path


def tierflow_config(name: str) -> dict:
    from tierflow.dsp import config_path

    with open(config_path(name)) as f:
        return json.load(f)


def dspeed_config(name: str) -> dict:
    """The same chain for dspeed: ``module`` added where an entry names a bare function."""
    cfg = copy.deepcopy(tierflow_config(name))
    for entry in cfg["processors"].values():
        if (
            isinstance(entry, dict)
            and "module" not in entry
            and re.fullmatch(r"\w+", entry.get("function", ""))
        ):
            entry["module"] = "dspeed.processors"
    return cfg


def short(name: str) -> str:
    return {"hpge-simple": "simple chain", "hpge-full": "full chain"}.get(name, name)


def n_outputs(name: str) -> int:
    return len(tierflow_config(name)["outputs"])


def _column(table, name: str) -> np.ndarray:
    obj = table[name]
    return np.asarray(obj.nda if hasattr(obj, "nda") else obj)


def agreement(tf_table, ds_table, skip: tuple[str, ...] = ()) -> tuple[int, int, list[str]]:
    """(columns compared, columns that agree, notes on those that do not) of two output tables:
    a column agrees when 99.9 % of its rows are within rtol 1e-3 (or 0.01) of each other."""
    compared, agree, notes = 0, 0, []
    for name in tf_table:
        if name in skip or name not in ds_table:
            continue
        a = _column(tf_table, name).astype(np.float64)
        b = _column(ds_table, name).astype(np.float64)
        if a.shape != b.shape:
            notes.append(f"{name}: shapes {a.shape} vs {b.shape}")
            compared += 1
            continue
        close = np.isclose(a, b, rtol=1e-3, atol=1e-2, equal_nan=True)
        compared += 1
        if close.mean() >= 0.999:
            agree += 1
        elif np.isclose(a, b * SAMPLE_NS, rtol=1e-3, atol=1e-2, equal_nan=True).mean() >= 0.999:
            notes.append(
                f"{name}: dspeed's value is in samples (x {SAMPLE_NS:g} ns = tierflow's) though "
                f"labelled {getattr(ds_table[name], 'attrs', {}).get('units')}"
            )
        else:
            notes.append(f"{name}: {100 * close.mean():.1f} % of rows agree")
    return compared, agree, notes


# --- report -------------------------------------------------------------------------------------
@dataclass
class Row:
    section: str
    case: str
    unit: str
    ours: float | None
    theirs: float | None = None
    note: str = ""
    target: str = ""
    met: bool | None = None
    theirs_text: str | None = None  # e.g. ">300 s" when dspeed ran out of time
    ours_text: str | None = None


ROWS: list[Row] = []
LOWER_IS_BETTER = ("ms", "s", "MB")


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return ""
    if unit == "ms":
        return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms"
    if unit == "s":
        return f"{v:.2f} s" if v < 10 else f"{v:.1f} s"
    if unit == "MB":
        return f"{v:.0f} MB"
    return f"{v:,.0f} {unit}"


def ratio(ours: float | None, other: float | None, unit: str) -> str:
    if ours is None or other is None or ours <= 0 or other <= 0:
        return ""
    r = other / ours if unit in LOWER_IS_BETTER else ours / other
    return f"{r:.2f}x"


def add(row: Row) -> Row:
    ROWS.append(row)
    theirs = row.theirs_text or fmt(row.theirs, row.unit)
    line = f"{row.case:<60} tierflow {row.ours_text or fmt(row.ours, row.unit):>12}"
    if theirs:
        r = ratio(row.ours, row.theirs, row.unit) if not (row.theirs_text or row.ours_text) else ""
        line += f" | dspeed {theirs:>12} ({r:>6})"
    if row.target:
        line += f" | target {row.target}: {'met' if row.met else 'MISSED'}"
    if row.note:
        line += f"  [{row.note}]"
    print(line, flush=True)
    return row


def markdown() -> str:
    lines = [
        "| case | tierflow | dspeed | tierflow / dspeed | target |",
        "|---|---|---|---|---|",
    ]
    for r in ROWS:
        tgt = f"{r.target}: {'met' if r.met else '**missed**'}" if r.target else ""
        case = r.case + (f" ({r.note})" if r.note else "")
        theirs = r.theirs_text or fmt(r.theirs, r.unit)
        rat = ratio(r.ours, r.theirs, r.unit) if not (r.theirs_text or r.ours_text) else ""
        ours = r.ours_text or fmt(r.ours, r.unit)
        lines.append(f"| {case} | {ours} | {theirs} | {rat} | {tgt} |")
    return "\n".join(lines)


# --- processing only and file to file -----------------------------------------------------------
def bench_processing(raw: str, name: str, repeat: int) -> None:
    """The chain on the whole preloaded table: tierflow's compiled chain vs dspeed's chain."""
    import lh5 as legend_lh5
    from dspeed.processing_chain import build_processing_chain

    from tierflow import lh5
    from tierflow.dsp import compile_chain

    cfg_tf, cfg_ds = tierflow_config(name), dspeed_config(name)
    entry = database()[CHANNEL]
    head = lh5.read(TABLE, raw, n_rows=16)
    columns = list(compile_chain(cfg_tf, head, entry, CHANNEL).columns)
    _, mask, _ = build_processing_chain(
        cfg_ds, legend_lh5.read(TABLE, raw, n_rows=16), db_dict=entry, outputs=cfg_ds["outputs"]
    )
    tb_tf = lh5.read(TABLE, raw, field_mask=columns)
    tb_ds = legend_lh5.read(TABLE, raw, field_mask=list(mask))
    n = len(tb_tf)
    assert len(tb_ds) == n
    chain = compile_chain(cfg_tf, tb_tf, entry, CHANNEL)
    pc, _, out_ds = build_processing_chain(cfg_ds, tb_ds, db_dict=entry, outputs=cfg_ds["outputs"])
    t = compare(
        {"tf": lambda: chain.run(tb_tf).table, "ds": lambda: pc(tb_ds, out_ds)},
        repeat,
    )
    compared, agree, notes = agreement(t["tf"][1], t["ds"][1])
    tf_rate, ds_rate = n / t["tf"][0], n / t["ds"][0]
    goal = RATE_TARGET[name]
    add(
        Row(
            "dsp",
            f"processing only, {short(name)} ({n_outputs(name)} outputs), {n:,} x 8192",
            "wf/s",
            tf_rate,
            ds_rate,
            note=f"outputs agree in {agree} of {compared} columns"
            + (f"; {'; '.join(notes)}" if notes else ""),
            target=f">= {goal:g}x dspeed",
            met=tf_rate >= goal * ds_rate,
        )
    )


def bench_file_to_file(raw: str, name: str, repeat: int, out_dir: str) -> None:
    """``build_dsp`` of both tools on the raw file."""
    import dspeed
    import lh5 as legend_lh5

    from tierflow import lh5
    from tierflow.dsp import build_dsp

    cfg_tf, cfg_ds = tierflow_config(name), dspeed_config(name)
    db = database()
    out_tf = os.path.join(out_dir, f"tierflow-{name}.lh5")
    out_ds = os.path.join(out_dir, f"dspeed-{name}.lh5")
    t = compare(
        {
            "tf": lambda: (
                build_dsp(
                    raw,
                    out_tf,
                    cfg_tf,
                    database=db,
                    write_mode="r",
                    buffer_len=BUFFER_LEN,
                    progress=False,
                ).rows
            ),
            "ds": lambda: dspeed.build_dsp(
                raw, out_ds, cfg_ds, database=db, write_mode="r", buffer_len=BUFFER_LEN
            ),
        },
        repeat,
    )
    n = t["tf"][1]
    a = lh5.read(f"{CHANNEL}/dsp", out_tf)
    b = legend_lh5.read(f"{CHANNEL}/dsp", out_ds)
    assert len(a) == len(b) == n, (len(a), len(b), n)
    compared, agree, notes = agreement(a, b)
    tf_rate, ds_rate = n / t["tf"][0], n / t["ds"][0]
    goal = RATE_TARGET[name]
    add(
        Row(
            "dsp",
            f"file to file (build_dsp), {short(name)}, {n:,} x 8192 uncompressed",
            "wf/s",
            tf_rate,
            ds_rate,
            note=f"outputs agree in {agree} of {compared} columns"
            + (f"; {'; '.join(notes)}" if notes else ""),
            target=f">= {goal:g}x dspeed",
            met=tf_rate >= goal * ds_rate,
        )
    )


# --- set-up per channel ---------------------------------------------------------------------------
def bench_setup(raw: str, name: str, n_channels: int = 20) -> None:
    """Building the chain for a new channel table once the first one is compiled."""
    import lh5 as legend_lh5
    from dspeed.processing_chain import build_processing_chain

    from tierflow import lh5
    from tierflow.dsp import compile_chain, load_config

    cfg_tf, cfg_ds = tierflow_config(name), dspeed_config(name)
    loaded = load_config(cfg_tf)  # build_dsp loads the config once per file
    first = database()[CHANNEL]
    head = lh5.read(TABLE, raw, n_rows=16)
    columns = list(compile_chain(loaded, head, first, CHANNEL).columns)
    _, mask, _ = build_processing_chain(
        cfg_ds, legend_lh5.read(TABLE, raw, n_rows=16), db_dict=first, outputs=cfg_ds["outputs"]
    )
    rows = BUFFER_LEN
    tb_tf = lh5.read(TABLE, raw, n_rows=rows, field_mask=columns)
    tb_ds = legend_lh5.read(TABLE, raw, n_rows=rows, field_mask=list(mask))
    compile_chain(loaded, tb_tf, first, CHANNEL).executor(16)  # the first channel
    build_processing_chain(cfg_ds, tb_ds, db_dict=first, outputs=cfg_ds["outputs"])

    # a fresh tau offset per call, so that no new channel is in tierflow's cache
    base = 1000 * (time.time_ns() % 997)
    miss, hit, ds = [], [], []
    for i in range(1, n_channels + 1):
        entry = {"pz": {"tau": f"{TAU_US + (base + i) * 1e-6:.7f}*us"}}
        t0 = clock()
        chain = compile_chain(loaded, tb_tf, entry, CHANNEL)
        chain.executor(16)
        miss.append(clock() - t0)
        t0 = clock()
        compile_chain(loaded, tb_tf, first, f"ch{i}").executor(16)
        hit.append(clock() - t0)
        t0 = clock()
        build_processing_chain(cfg_ds, tb_ds, db_dict=entry, outputs=cfg_ds["outputs"])
        ds.append(clock() - t0)
    # the same misses back to back, without dspeed's chain (which allocates ~100 MB buffers) in
    # between: interleaved, tierflow's figure includes its cache misses after dspeed's run
    alone = []
    for i in range(n_channels + 1, 2 * n_channels + 1):
        entry = {"pz": {"tau": f"{TAU_US + (base + i) * 1e-6:.7f}*us"}}
        t0 = clock()
        compile_chain(loaded, tb_tf, entry, CHANNEL).executor(16)
        alone.append(clock() - t0)
    tf_ms, hit_ms, ds_ms, alone_ms = (1e3 * statistics.median(x) for x in (miss, hit, ds, alone))
    add(
        Row(
            "setup",
            f"set-up per channel table, {short(name)}, new database values",
            "ms",
            tf_ms,
            ds_ms,
            note=(
                f"median of {n_channels}, interleaved with dspeed's; tierflow back to back: "
                f"{alone_ms:.2f} ms; with values already compiled: {hit_ms:.2f} ms"
            ),
            target=f"<= {SETUP_TARGET_MS:g} ms",
            met=tf_ms <= SETUP_TARGET_MS,
        )
    )


# --- fresh processes ------------------------------------------------------------------------------
def first_waveform_worker(impl: str, names: str, raw: str) -> None:
    """Child: import the tool, then for each chain of ``names`` (comma separated, in order) read
    one waveform and run the chain on it; print the monotonic clock and this process's CPU time
    when each chain's first waveform is done."""
    import resource

    def laps(name: str, value: float) -> None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        print(
            json.dumps(
                {
                    "chain": name,
                    "t": time.perf_counter(),  # CLOCK_MONOTONIC: comparable with the parent's
                    "cpu": ru.ru_utime + ru.ru_stime,
                    "trapTmax": value,
                }
            ),
            flush=True,
        )

    if impl == "tierflow":
        from tierflow import lh5
        from tierflow.dsp import process

        for name in names.split(","):
            table = lh5.read(TABLE, raw, n_rows=1)
            out = process(table, tierflow_config(name), database()[CHANNEL], CHANNEL)
            laps(name, float(np.asarray(out["trapTmax"].nda)[0]))
    else:
        import lh5 as legend_lh5
        from dspeed.processing_chain import build_processing_chain

        for name in names.split(","):
            cfg = dspeed_config(name)
            table = legend_lh5.read(TABLE, raw, n_rows=1)
            pc, _, out = build_processing_chain(
                cfg, table, db_dict=database()[CHANNEL], outputs=cfg["outputs"]
            )
            pc(table, out)
            laps(name, float(np.asarray(out["trapTmax"].nda)[0]))


@dataclass
class Fresh:
    """A fresh process's time to each chain's first waveform: wall s from the spawn and the
    child's CPU s (``None``: not reached before the timeout), and the trapTmax it computed."""

    wall: dict[str, float | None]
    cpu: dict[str, float | None]
    value: dict[str, float]
    index_files: int
    compiled: bool  # whether it wrote to the compile cache (compiled something)


def _cache_state(cache_dir: str) -> dict[str, float]:
    return {
        os.path.join(root, f): os.stat(os.path.join(root, f)).st_mtime
        for root, _, files in os.walk(cache_dir)
        for f in files
        if f.endswith(".nbi")
    }


def fresh_process(
    impl: str, names: tuple[str, ...], raw: str, cache_dir: str, timeout: float
) -> Fresh:
    """Start ``python`` with ``NUMBA_CACHE_DIR=cache_dir`` and run the first waveform of each
    chain of ``names`` in turn (see :func:`first_waveform_worker`)."""
    before = _cache_state(cache_dir)
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--first-wf-worker",
        impl,
        ",".join(names),
        raw,
    ]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        stdout, failed = proc.stdout, proc.returncode
        if failed:
            raise RuntimeError(
                f"first-waveform worker {impl} failed ({proc.returncode}):\n"
                f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
            )
    except subprocess.TimeoutExpired as err:  # the child is killed; keep the laps it printed
        out = err.stdout or ""
        stdout = out.decode() if isinstance(out, bytes) else out
    wall: dict[str, float | None] = dict.fromkeys(names)
    cpu: dict[str, float | None] = dict.fromkeys(names)
    value: dict[str, float] = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            lap = json.loads(line)
            wall[lap["chain"]] = lap["t"] - t0
            cpu[lap["chain"]] = lap["cpu"]
            value[lap["chain"]] = lap["trapTmax"]
    after = _cache_state(cache_dir)
    compiled = any(before.get(path) != mtime for path, mtime in after.items())
    return Fresh(wall, cpu, value, len(after), compiled)


def bench_first_waveform(
    raw: str, names: tuple[str, ...], data_dir: str, timeout: float, cold: bool, clock: str
) -> None:
    """One fresh process per tool with an empty compile cache (``cold``), and one with the
    benchmark's warm cache. Each runs the chains of ``names`` in turn, so a chain's figure is the
    time from the spawn to its first waveform having done the chains before it (the simple
    chain's processors are a subset of the full chain's: doing it first adds its bind and one
    waveform, well under a second). The target is judged on the child's CPU time (on a shared
    machine the wall time moves by tens of percent) unless ``clock`` is ``"wall"``."""
    warm_dir = os.environ.get("NUMBA_CACHE_DIR")
    runs: dict[tuple[str, str], Fresh] = {}
    for impl in ("tierflow", "dspeed"):
        if cold:
            empty = tempfile.mkdtemp(prefix="numba-empty-", dir=data_dir)
            try:
                runs[impl, "cold"] = fresh_process(impl, names, raw, empty, timeout)
            finally:
                shutil.rmtree(empty, ignore_errors=True)
        if warm_dir:
            warm = fresh_process(impl, names, raw, warm_dir, timeout)
            if warm.compiled:  # a source edited since the warm-up: compiled again, so run again
                warm = fresh_process(impl, names, raw, warm_dir, timeout)
            runs[impl, "warm"] = warm

    def figure(run: Fresh, name: str) -> float | None:
        return (run.cpu if clock == "cpu" else run.wall)[name]

    def other(run: Fresh, name: str) -> str:
        v = (run.wall if clock == "cpu" else run.cpu)[name]
        return "-" if v is None else f"{v:.1f} s"

    what = "child CPU" if clock == "cpu" else "wall"
    others = "wall" if clock == "cpu" else "child CPU"
    for i, name in enumerate(names):
        after = f", after the {', '.join(short(n) for n in names[:i])}" if i else ""
        for kind in ("cold", "warm") if cold else ("warm",):
            if (("tierflow", kind) not in runs) or (("dspeed", kind) not in runs):
                continue
            tf, ds = runs["tierflow", kind], runs["dspeed", kind]
            ours, theirs = figure(tf, name), figure(ds, name)
            note = f"{what}; {others}: tierflow {other(tf, name)}, dspeed {other(ds, name)}"
            if kind == "cold":
                note += (
                    f"; numba index files the process (all {len(names)} chains) wrote to the empty "
                    f"NUMBA_CACHE_DIR: tierflow {tf.index_files}, dspeed {ds.index_files}"
                )
            elif (
                tf.value.get(name) is not None
                and ds.value.get(name) is not None
                and not np.isclose(tf.value[name], ds.value[name], rtol=1e-3)
            ):
                note += f"; trapTmax differs: {tf.value[name]} vs {ds.value[name]}"
            label = "empty" if kind == "cold" else "warm"
            add(
                Row(
                    "first",
                    f"first waveform, fresh process, {label} compile cache, {short(name)}{after}",
                    "s",
                    ours,
                    theirs,
                    theirs_text=f">{timeout:.0f} s (killed)" if theirs is None else None,
                    ours_text=f">{timeout:.0f} s (killed)" if ours is None else None,
                    note=note,
                    target=f"<= {FIRST_WF_TARGET_S:g} s" if kind == "cold" else "",
                    met=(ours is not None and ours <= FIRST_WF_TARGET_S)
                    if kind == "cold"
                    else None,
                )
            )


# --- peak memory ----------------------------------------------------------------------------------
def _status() -> dict[str, int]:
    with open("/proc/self/status") as f:
        return {
            k: int(v.split()[0])
            for k, v in (line.split(":", 1) for line in f)
            if k in ("VmRSS", "VmHWM")
        }


def memory_worker(
    impl: str, name: str, raw: str, buffer_len: int, n_max: int | None, out_dir: str
) -> None:
    """Child of the memory test: warm up on 16 rows, then ``build_dsp`` ``n_max`` rows."""
    out = os.path.join(out_dir, f"mem-{impl}-{name}-{buffer_len}.lh5")
    if impl == "tierflow":
        from tierflow.dsp import build_dsp

        cfg = tierflow_config(name)

        def run(n: int | None) -> None:
            build_dsp(
                raw,
                out,
                cfg,
                database=database(),
                write_mode="r",
                buffer_len=buffer_len,
                n_max=n,
                progress=False,
            )
    else:
        import dspeed

        cfg = dspeed_config(name)

        def run(n: int | None) -> None:
            dspeed.build_dsp(
                raw,
                out,
                cfg,
                database=database(),
                write_mode="r",
                buffer_len=buffer_len,
                n_entries=n,
            )

    run(16)
    baseline_kb = _status()["VmRSS"]
    try:  # reset the high-water mark: a cross-check that ignores the import's transients
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    run(n_max)
    print(json.dumps({"baseline_kb": baseline_kb, "hwm_kb": _status()["VmHWM"]}), flush=True)


# The worker is started from a small launcher, not from this process: a child's ru_maxrss starts
# from the RSS of the process it was forked from (this one holds the benchmark's tables), so the
# launcher's children's maxrss is the worker's own peak.
_LAUNCHER = """
import json, os, resource, sys
status = os.spawnv(os.P_WAIT, sys.argv[1], sys.argv[1:])
print(json.dumps({"status": status, "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def peak_memory(
    impl: str, name: str, raw: str, buffer_len: int, n_max: int, out_dir: str
) -> tuple[float, float]:
    """(max RSS - baseline, high-water mark after the reset - baseline) in MB."""
    worker = [
        sys.executable,
        os.path.abspath(__file__),
        "--memory-worker",
        impl,
        name,
        raw,
        str(buffer_len),
        str(n_max),
        out_dir,
    ]
    proc = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, *worker], capture_output=True, text=True
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or len(lines) < 2 or json.loads(lines[-1])["status"]:
        raise RuntimeError(f"memory worker failed: {proc.stdout[-2000:]} {proc.stderr[-4000:]}")
    res, launcher = json.loads(lines[-2]), json.loads(lines[-1])
    growth = (launcher["maxrss_kb"] - res["baseline_kb"]) * 1024 / 1e6
    hwm = (res["hwm_kb"] - res["baseline_kb"]) * 1024 / 1e6
    return growth, hwm


def bench_memory(raw: str, name: str, buffers: tuple[int, ...], out_dir: str) -> None:
    """Peak RSS of build_dsp on ``max + min`` of ``buffers`` rows (more than one buffer each)."""
    n_max = max(buffers) + min(buffers)
    peaks: dict[tuple[str, int], tuple[float, float]] = {}
    for buffer_len in buffers:
        for impl in ("tierflow", "dspeed"):
            peaks[impl, buffer_len] = peak_memory(impl, name, raw, buffer_len, n_max, out_dir)
    for buffer_len in buffers:
        buffer_mb = buffer_len * 8192 * 2 / 1e6  # the uint16 waveforms of one buffer
        tf, tf_hwm = peaks["tierflow", buffer_len]
        ds, ds_hwm = peaks["dspeed", buffer_len]
        add(
            Row(
                "memory",
                f"peak RSS - baseline, build_dsp {n_max:,} rows, {short(name)}, buffer_len {buffer_len}",
                "MB",
                tf,
                ds,
                note=(
                    f"{tf / buffer_mb:.1f}x the {buffer_mb:.0f} MB of raw waveforms per buffer "
                    f"(dspeed {ds / buffer_mb:.1f}x); high-water mark after the reset: tierflow "
                    f"{tf_hwm:.0f} MB, dspeed {ds_hwm:.0f} MB"
                ),
                target="<= 3x the raw buffer",
                met=tf <= 3 * buffer_mb,
            )
        )
    lo, hi = min(buffers), max(buffers)
    if lo != hi:
        slope = {
            impl: (peaks[impl, hi][0] - peaks[impl, lo][0]) / (hi - lo) * 1000
            for impl in ("tierflow", "dspeed")
        }
        grow = {impl: peaks[impl, hi][0] / max(peaks[impl, lo][0], 1e-9) for impl in slope}
        add(
            Row(
                "memory",
                f"peak RSS per 1000 rows of buffer, {short(name)} (buffer_len {lo} -> {hi})",
                "MB",
                slope["tierflow"],
                slope["dspeed"],
                note=(
                    f"peak grows {grow['tierflow']:.2f}x for {hi / lo:g}x the buffer (dspeed "
                    f"{grow['dspeed']:.2f}x); 1000 rows of raw waveforms are 16 MB"
                ),
            )
        )


# --- main -----------------------------------------------------------------------------------------
def warm_up(raw: str, out_dir: str) -> None:
    """Compile (or load from the cache) every processor of both chains in both tools."""
    import dspeed

    from tierflow.dsp import build_dsp

    for name in CHAINS:
        out = os.path.join(out_dir, "warm-up.lh5")
        build_dsp(
            raw,
            out,
            tierflow_config(name),
            database=database(),
            write_mode="r",
            n_max=64,
            progress=False,
        )
        dspeed.build_dsp(
            raw, out, dspeed_config(name), database=database(), write_mode="r", n_entries=64
        )


class Sections:
    """Prints the wall time each part of the run took (to keep the run's length in view)."""

    def __init__(self) -> None:
        self.t = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        print(f"  [{name}: {now - self.t:.0f} s wall]", flush=True)
        self.t = now


def set_cache_dir(arg: str | None, data_dir: str) -> str | None:
    """Point numba's cache (this process and its children) at ``arg`` (before numba loads)."""
    if arg is None:
        arg = os.path.join(data_dir, "numba-cache")
    if arg:
        os.makedirs(arg, exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = arg
        return arg
    os.environ.pop("NUMBA_CACHE_DIR", None)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="a small file, one round: a smoke test")
    ap.add_argument(
        "--data-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "tierflow-bench-dsp")
    )
    ap.add_argument("--repeat", type=int, default=None, help="rounds per case (default 3, quick 1)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--markdown", action="store_true", help="also print the table as markdown")
    ap.add_argument(
        "--numba-cache-dir",
        default=None,
        help='numba cache of both tools (default DATA_DIR/numba-cache; "" for numba\'s own)',
    )
    ap.add_argument(
        "--cold",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the fresh processes with an empty compile cache (default: yes, not with --quick)",
    )
    ap.add_argument("--cold-timeout", type=float, default=300.0)
    ap.add_argument("--first-wf-worker", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--memory-worker", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.first_wf_worker:
        first_waveform_worker(*args.first_wf_worker)
        return
    if args.memory_worker:
        impl, name, raw, buffer_len, n_max, out_dir = args.memory_worker
        memory_worker(impl, name, raw, int(buffer_len), int(n_max), out_dir)
        return

    if args.quick:
        n_events, repeat, buffers = 2000, 1, (500, 2000)
        data_dir = os.path.join(args.data_dir, "quick")
    else:
        n_events, repeat, buffers = 20_000, 3, (1000, 4000)
        data_dir = args.data_dir
    repeat = args.repeat or repeat
    cold = (not args.quick) if args.cold is None else args.cold
    use_clock(args.clock)
    os.makedirs(data_dir, exist_ok=True)
    out_dir = os.path.join(data_dir, "out")
    os.makedirs(out_dir, exist_ok=True)
    cache_dir = set_cache_dir(args.numba_cache_dir, args.data_dir)

    import dspeed
    import h5py
    import numba

    import tierflow

    print(
        f"tierflow {getattr(tierflow, '__version__', '?')} vs dspeed {dspeed.__version__}; numba "
        f"{numba.__version__}, numpy {np.__version__}, h5py {h5py.__version__}; {machine()}; "
        f"{datetime.date.today()}; best of {repeat}, {args.clock} time; NUMBA_CACHE_DIR="
        f"{cache_dir or '(numba default)'}",
        flush=True,
    )
    t_start = time.perf_counter()
    raw = simulated_file(data_dir, n_events, 1)
    t0 = time.perf_counter()
    warm_up(raw, out_dir)
    print(f"  [warm-up: {time.perf_counter() - t0:.0f} s wall]", flush=True)

    section = Sections()
    # the full chain runs ~10x longer per waveform: one round fewer keeps the run near 10 minutes
    rounds = {"hpge-simple": repeat, "hpge-full": max(1, repeat - 1)}
    for name in CHAINS:
        bench_processing(raw, name, rounds[name])
    section("processing only")
    for name in CHAINS:
        bench_file_to_file(raw, name, rounds[name], out_dir)
    section("file to file")
    for name in CHAINS:
        bench_setup(raw, name, 5 if args.quick else 20)
    section("set-up")
    # --quick: the fresh processes and the memory children of the simple chain only
    bench_first_waveform(
        raw, CHAINS[:1] if args.quick else CHAINS, data_dir, args.cold_timeout, cold, args.clock
    )
    section("fresh processes")
    bench_memory(raw, "hpge-simple", buffers, out_dir)
    if not args.quick:  # the full chain: the larger buffer only (its worker takes a while to start)
        bench_memory(raw, "hpge-full", buffers[-1:], out_dir)
    section("memory")

    print(
        f"\n{sum(1 for r in ROWS if r.met)} of {sum(1 for r in ROWS if r.target)} targets met; "
        f"{time.perf_counter() - t_start:.0f} s"
    )
    if args.markdown:
        print()
        print(markdown())


if __name__ == "__main__":
    main()
