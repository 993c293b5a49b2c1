"""Kill -9 fuzz of tierflow's writes: no kill may lose a row that was written before it.

Each trial makes a file, starts a process that writes into it in a loop (appends, overwrites
from a row, or whole new files; tables of arrays, vectors of vectors and nested tables,
waveform tables plain and encoded, files small and of a million rows, one channel or several)
and kills it with SIGKILL at a random moment (seeded). The writer logs every write that
returned. Then the file must:

- open with tierflow (which rolls back the killed write) and with h5py, every dataset reading;
- hold exactly what the logged writes made, or that plus the write in flight (no data loss);
- have tables whose columns are all of one length;
- after one more write, have no temporary file, journal or lock file left beside it.

Concurrent trials start 2-4 processes appending to one file that does not exist yet (they race
to create it), sometimes killing one: every row of every finished write must be there, each
write's rows together and in order.

A bounded run (about 40 kills) runs by default; ``TIERFLOW_FUZZ_FULL=1`` runs 300 kill trials
and 20 concurrent trials, printing the figures (``pytest -s``).
"""

from __future__ import annotations

import glob
import multiprocessing
import os
import random
import time
from dataclasses import dataclass

import h5py
import numpy as np
import pytest

from tierflow import lh5
from tierflow.errors import TierflowError
from tierflow.lh5.codecs import RadwareSigcompress, ULEB128ZigZagDiff
from tierflow.lh5.read import n_rows_of
from tierflow.types import (
    Array,
    ArrayOfEqualSizedArrays,
    Struct,
    Table,
    VectorOfVectors,
    WaveformTable,
)

FULL = os.environ.get("TIERFLOW_FUZZ_FULL") == "1"
KILL_TRIALS = 300 if FULL else 40
CONCURRENT_TRIALS = 20 if FULL else 3
SEED = 20261207


@dataclass(frozen=True)
class Workload:
    """A loop of writes: what is written, how, where."""

    name: str
    kind: str  # columns, waveforms, big
    mode: str  # append, overwrite, overwrite_file
    channels: int = 1
    rows: tuple[int, int] = (1, 40)
    codec: str | None = None
    initial: int = 2  # writes made before the killed writer starts
    kill_window: float = 0.6  # seconds after its start in which the writer is killed
    chunk_bytes: int = lh5.DEFAULT_CHUNK_BYTES  # small: many chunks, deep chunk indexes


WORKLOADS = (
    Workload("columns-append", "columns", "append"),
    Workload("columns-channels", "columns", "append", channels=3),
    Workload("columns-overwrite", "columns", "overwrite"),
    Workload("columns-overwrite-file", "columns", "overwrite_file"),
    Workload("waveforms-append", "waveforms", "append"),
    Workload("waveforms-radware", "waveforms", "append", codec="radware"),
    Workload("waveforms-uleb128", "waveforms", "append", codec="uleb128", channels=2),
    Workload("big-append", "big", "append", rows=(20_000, 80_000), initial=15, kill_window=1.5),
    Workload("small-chunks", "columns", "append", channels=4, rows=(50, 400), chunk_bytes=256),
)
CODECS = {
    "radware": RadwareSigcompress(codec_shift=-32768),
    "uleb128": ULEB128ZigZagDiff(),
}


# --- the writes, the same in the writer and in the check ----------------------------------------
def piece(workload: Workload, seed: int, i: int) -> tuple[str, Table]:
    """Write ``i`` of a loop: the channel it goes to and its table (same seed, same bytes)."""
    rng = np.random.default_rng([seed, i])
    n = int(rng.integers(*workload.rows, endpoint=True))
    channel = f"ch{i % workload.channels:03d}/raw"
    if workload.kind == "big":
        cols = {f"f{c}": rng.normal(size=n).astype("float32") for c in range(6)}
        cols |= {f"i{c}": rng.integers(0, 10**6, n).astype("int64") for c in range(4)}
        return channel, Table(cols)
    lengths = rng.integers(0, 5, n)
    hits = VectorOfVectors(
        flattened_data=Array(rng.integers(-1000, 1000, int(lengths.sum())).astype("int16")),
        cumulative_length=Array(np.cumsum(lengths)),
    )
    if workload.kind == "waveforms":
        values = (15000 + np.cumsum(rng.integers(-20, 21, (n, 300)), axis=1)).astype("uint16")
        return channel, Table(
            {
                "packet_id": Array(np.arange(n, dtype="uint32") + 1000 * i),
                "waveform": WaveformTable(
                    t0=Array(rng.normal(size=n).astype("float32")),
                    dt=Array(np.full(n, 16.0, "float32")),
                    values=ArrayOfEqualSizedArrays(nda=values),
                ),
                "tracelist": hits,
            }
        )
    return channel, Table(
        {
            "energy": Array(rng.normal(1000, 300, n)),
            "flag": Array(rng.random(n) < 0.5),
            "count": Array(rng.integers(0, 100, n).astype("int32")),
            "trace": ArrayOfEqualSizedArrays(nda=rng.normal(size=(n, 4)).astype("float32")),
            "hits": hits,
            "sub": Table({"a": Array(rng.integers(0, 60000, n).astype("uint16"))}),
        }
    )


def write_start_of(workload: Workload, seed: int, i: int, rows: int) -> int:
    """For overwrites: the row write ``i`` starts at, from the rows its channel has."""
    rng = np.random.default_rng([seed, i, 1])
    return int(rng.integers(max(0, rows - 30), rows, endpoint=True))


def do_write(workload: Workload, seed: int, i: int, path: str, state: dict) -> None:
    """Make write ``i`` into ``path`` and apply it to the model ``state`` (channel → table)."""
    channel, table = piece(workload, seed, i)
    codecs = {"waveform/values": CODECS[workload.codec]} if workload.codec else None
    chunking = {"chunk_bytes": workload.chunk_bytes}
    if workload.mode == "overwrite_file":
        lh5.write(table, channel, path, wo_mode="overwrite_file", codecs=codecs, **chunking)
        state.clear()
        state[channel] = table
        return
    if workload.mode == "overwrite" and channel in state:
        start = write_start_of(workload, seed, i, len(state[channel]))
        lh5.write(
            table, channel, path, wo_mode="overwrite", write_start=start, codecs=codecs, **chunking
        )
        old = state[channel]
        state[channel] = table if start == 0 else Table.concat([old.take(slice(0, start)), table])
        return
    lh5.write(table, channel, path, wo_mode="append", codecs=codecs, **chunking)
    state[channel] = Table.concat([state[channel], table]) if channel in state else table


def model(workload: Workload, seed: int, n: int) -> dict:
    """The state after writes ``0 .. n-1`` (computed without a file)."""
    state: dict = {}
    for i in range(n):
        channel, table = piece(workload, seed, i)
        if workload.mode == "overwrite_file":
            state = {channel: table}
        elif workload.mode == "overwrite" and channel in state:
            start = write_start_of(workload, seed, i, len(state[channel]))
            old = state[channel]
            state[channel] = (
                table if start == 0 else Table.concat([old.take(slice(0, start)), table])
            )
        else:
            state[channel] = Table.concat([state[channel], table]) if channel in state else table
    return state


def writer_loop(workload: Workload, seed: int, path: str, log: str, first: int) -> None:
    """The killed process: writes ``first``, ``first + 1``, ... and logs each that returned."""
    state = model(workload, seed, first)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    for i in range(first, first + 10_000):
        do_write(workload, seed, i, path, state)
        os.write(fd, f"{i}\n".encode())


# --- checks -------------------------------------------------------------------------------------
def same(a, b) -> bool:
    """Whether two data objects hold the same rows (types of equal value may differ)."""
    if isinstance(a, Struct):
        return set(a.keys()) == set(b.keys()) and all(same(a[k], b[k]) for k in a.keys())
    if isinstance(a, VectorOfVectors):
        cl_a, cl_b = a.cumulative_length.nda, b.cumulative_length.nda
        if not np.array_equal(cl_a, cl_b):
            return False
        end = int(cl_a[-1]) if len(cl_a) else 0
        return np.array_equal(a.flattened_data.nda[:end], b.flattened_data.nda[:end])
    return np.array_equal(a.nda, b.nda)


def unequal_tables(h5f: h5py.File) -> list[str]:
    """Tables in the file whose columns differ in length."""
    bad = []

    def visit(name, obj):
        kind = obj.attrs.get("datatype", b"")
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if isinstance(obj, h5py.Group) and kind.startswith("table"):
            lengths = {key: n_rows_of(obj[key]) for key in obj}
            if len(set(lengths.values())) > 1:
                bad.append(f"{name}: {lengths}")

    h5f.visititems(visit)
    return bad


def read_everything(h5f: h5py.File) -> None:
    h5f.visititems(lambda _, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)


def hidden_files(path: str) -> list[str]:
    """The hidden files of writes beside ``path``: temporaries, journal, lock."""
    directory, base = os.path.split(path)
    return sorted(os.path.basename(f) for f in glob.glob(os.path.join(directory, f".{base}.*")))


def check_file(workload: Workload, seed: int, path: str, committed: int) -> tuple[str | None, int]:
    """(``None``, writes found) if ``path`` holds the state of ``committed`` writes or of one
    more (the write in flight when the writer was killed); else (what is wrong, -1)."""
    try:
        found = {ch: lh5.read(ch, path) for ch in lh5.ls(path, "ch*/raw")}
    except TierflowError as err:
        return f"tierflow cannot read the file: {err}", -1
    try:
        with h5py.File(path, "r", locking=False) as h5f:
            read_everything(h5f)
            bad = unequal_tables(h5f)
    except Exception as err:
        return f"h5py cannot read the file: {type(err).__name__}: {err}", -1
    if bad:
        return f"columns of different lengths: {bad}", -1
    for n in (committed, committed + 1):
        expected = model(workload, seed, n)
        if set(expected) == set(found) and all(same(expected[c], found[c]) for c in expected):
            return None, n
    rows = {c: len(t) for c, t in found.items()}
    return f"holds {rows} rows, not the state after {committed} or {committed + 1} writes", -1


@dataclass
class Outcome:
    workload: str
    seed: int
    delay: float
    committed: int
    hidden_after_kill: list[str]
    problem: str | None
    leftovers: list[str]


def kill_trial(tmp: str, workload: Workload, seed: int, delay: float) -> Outcome:
    path = os.path.join(tmp, f"{workload.name}-{seed}.lh5")
    log = path + ".log"
    state: dict = {}
    for i in range(workload.initial):
        do_write(workload, seed, i, path, state)
    ctx = multiprocessing.get_context("forkserver")
    writer = ctx.Process(target=writer_loop, args=(workload, seed, path, log, workload.initial))
    writer.start()
    time.sleep(delay)
    writer.kill()
    writer.join()
    with open(log, "a+") as f:
        f.seek(0)
        logged = [int(line) for line in f.read().split()]
    os.remove(log)
    committed = logged[-1] + 1 if logged else workload.initial
    after_kill = hidden_files(path)
    problem, found = check_file(workload, seed, path, committed)
    leftovers: list[str] = []
    if problem is None:  # one more write, then nothing of the killed one may be left
        state = model(workload, seed, found)
        do_write(workload, seed, found, path, state)
        leftovers = hidden_files(path)
        problem, _ = check_file(workload, seed, path, found + 1)
    return Outcome(workload.name, seed, delay, committed, after_kill, problem, leftovers)


def run_kill_trials(tmp: str, trials: int) -> list[Outcome]:
    rng = random.Random(SEED)
    outcomes = []
    for t in range(trials):
        workload = WORKLOADS[t % len(WORKLOADS)]
        delay = rng.uniform(0.0, workload.kill_window)
        outcomes.append(kill_trial(tmp, workload, SEED + t, delay))
    return outcomes


def test_kill_during_writes_loses_no_committed_rows_and_leaves_no_files(tmp_path):
    outcomes = run_kill_trials(str(tmp_path), KILL_TRIALS)
    losses = [o for o in outcomes if o.problem is not None]
    leftovers = [o for o in outcomes if o.leftovers]
    interrupted = [o for o in outcomes if o.hidden_after_kill]
    print(
        f"\nkill -9 trials: {len(outcomes)}, data losses: {len(losses)}, trials with files left "
        f"after the next write: {len(leftovers)}, kills that left a journal or temporary file "
        f"(then recovered): {len(interrupted)}"
    )
    for name in sorted({o.workload for o in outcomes}):
        mine = [o for o in outcomes if o.workload == name]
        print(f"  {name}: {len(mine)} trials, {sum(o.problem is not None for o in mine)} losses")
    assert not losses, [(o.workload, o.seed, o.delay, o.problem) for o in losses]
    assert not leftovers, [(o.workload, o.seed, o.leftovers) for o in leftovers]


# --- concurrent writers -------------------------------------------------------------------------
def concurrent_piece(writer: int, k: int, seed: int) -> Table:
    rng = np.random.default_rng([seed, writer, k])
    n = int(rng.integers(1, 300))
    lengths = rng.integers(0, 4, n)
    return Table(
        {
            "writer": Array(np.full(n, writer, "int32")),
            "piece": Array(np.full(n, k, "int32")),
            "row": Array(np.arange(n, dtype="int32")),
            "hits": VectorOfVectors(
                flattened_data=Array(np.full(int(lengths.sum()), writer, "int16")),
                cumulative_length=Array(np.cumsum(lengths)),
            ),
        }
    )


def concurrent_writer(path: str, writer: int, pieces: int, seed: int, go, log: str) -> None:
    go.wait()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    for k in range(pieces):
        lh5.write(concurrent_piece(writer, k, seed), "ch000/raw", path)
        os.write(fd, f"{k}\n".encode())


def check_concurrent(path: str, done: dict[int, int], seed: int) -> str | None:
    """``done``: for each writer, the pieces it logged (a killed one may have one more)."""
    table = lh5.read("ch000/raw", path)
    with h5py.File(path, "r", locking=False) as h5f:
        bad = unequal_tables(h5f)
    if bad:
        return f"columns of different lengths: {bad}"
    writers, pieces, rows = (table[c].nda for c in ("writer", "piece", "row"))
    starts = np.flatnonzero(rows == 0)
    runs = [(int(writers[s]), int(pieces[s]), s) for s in starts]
    seen: dict[int, list[int]] = {}
    for (w, k, s), end in zip(runs, [*starts[1:], len(rows)], strict=True):
        expected = concurrent_piece(w, k, seed)
        got = table.take(slice(s, int(end)))
        if not same(expected, got):
            return f"the rows of writer {w}'s piece {k} are not together and whole"
        seen.setdefault(w, []).append(k)
    for w, n in done.items():
        ks = seen.get(w, [])
        if ks not in (list(range(n)), list(range(n + 1))):
            return f"writer {w}: pieces {ks} in the file, {n} written"
    return None


def concurrent_trial(tmp: str, trial: int) -> str | None:
    rng = random.Random(SEED + 1000 + trial)
    n_writers = 2 + trial % 3
    pieces = 6
    path = os.path.join(tmp, f"concurrent-{trial}.lh5")
    ctx = multiprocessing.get_context("forkserver")
    go = ctx.Event()
    logs = [f"{path}.{w}.log" for w in range(n_writers)]
    procs = [
        ctx.Process(target=concurrent_writer, args=(path, w, pieces, SEED + trial, go, logs[w]))
        for w in range(n_writers)
    ]
    for p in procs:
        p.start()
    go.set()
    if trial % 2:  # kill one writer part of the way through
        time.sleep(rng.uniform(0.0, 0.5))
        procs[0].kill()
    for p in procs:
        p.join(120)
    if any(p.is_alive() for p in procs):
        return "a writer hung"
    done = {}
    for w, log in enumerate(logs):
        with open(log, "a+") as f:
            f.seek(0)
            done[w] = len(f.read().split())
        if procs[w].exitcode == 0 and done[w] != pieces:
            return f"writer {w} finished without writing all its pieces"
        if procs[w].exitcode not in (0, -9):
            return f"writer {w} failed (exit code {procs[w].exitcode})"
    if not os.path.exists(path):
        return None if not any(done.values()) else "the file is missing"
    problem = check_concurrent(path, done, SEED + trial)
    if problem is None:
        lh5.write(concurrent_piece(99, 0, SEED + trial), "ch000/raw", path)
        if hidden_files(path):
            return f"left behind: {hidden_files(path)}"
    return problem


def test_concurrent_writers_keep_every_row_of_every_write(tmp_path):
    problems = [concurrent_trial(str(tmp_path), t) for t in range(CONCURRENT_TRIALS)]
    print(
        f"\nconcurrent trials (2-4 writers, every other one killing a writer): "
        f"{len(problems)}, with a problem: {sum(p is not None for p in problems)}"
    )
    assert problems == [None] * len(problems)


@pytest.fixture(autouse=True, scope="module")
def _preloaded_forkserver():
    """Writer processes fork from a server that has imported tierflow and this module, so a
    trial starts in milliseconds (and no thread pool of the test process is forked)."""
    multiprocessing.get_context("forkserver").set_forkserver_preload(["tierflow.lh5", __name__])
