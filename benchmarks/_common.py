"""What every benchmark script shares: the machine's description and the timing of cases.

>>> use_clock("wall")
>>> t = compare({"sum": lambda: sum(range(1000))}, repeat=2)
>>> t["sum"][1], t["sum"][0] >= 0
(499500, True)
>>> use_clock("cpu")
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import platform
import resource
import time
from collections.abc import Callable

#: the clocks a script can time with: CPU time of this process (the default: the cases run on one
#: thread, and on a shared machine CPU time is far steadier than wall time) or wall time
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
_clock_name = "cpu"


def use_clock(name: str) -> None:
    """Time every later case with the clock ``name`` (``"cpu"`` or ``"wall"``)."""
    global _clock_name
    if name not in CLOCKS:
        raise ValueError(f"unknown clock {name!r}; clocks are {sorted(CLOCKS)}")
    _clock_name = name


def clock_name() -> str:
    """The clock in use: ``"cpu"`` or ``"wall"``."""
    return _clock_name


def clock() -> float:
    """The time now on the clock in use, in seconds."""
    return CLOCKS[_clock_name]()


def compare(
    cases: dict[str, Callable[[], object]],
    repeat: int,
    clock_fn: Callable[[], float] | None = None,
    before: Callable[[], None] | None = None,
) -> dict[str, tuple[float, object]]:
    """Best time of each case over ``repeat`` interleaved rounds, and its first round's result
    (timed with ``clock_fn``, else the clock in use); ``before()`` runs untimed before each."""
    now = clock_fn or clock
    best: dict[str, float] = {}
    results: dict[str, object] = {}
    for r in range(repeat):
        for name, fn in cases.items():
            if before is not None:
                before()
            t0 = now()
            out = fn()
            dt = now() - t0
            best[name] = min(best.get(name, float("inf")), dt)
            if r == 0:
                results[name] = out
    return {name: (best[name], results[name]) for name in cases}


def release_freed_memory() -> None:
    """Hand the memory freed so far back to the operating system (``gc.collect`` and glibc's
    ``malloc_trim``), so that a case's new arrays start on fresh pages, whatever ran before it:
    cases that allocate large arrays then all pay the page faults of touching them, instead of
    one reusing pages another freed. Does nothing where there is no glibc."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def minor_faults() -> int:
    """Minor page faults of this process so far (first touches of new memory)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def machine() -> str:
    """Cores, CPU model, memory and load average, for the report's header."""
    model = platform.processor() or "?"
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as f:
        model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    mem = ""
    with contextlib.suppress(OSError, StopIteration), open("/proc/meminfo") as f:
        kb = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
        mem = f", {kb / 2**20:.0f} GiB"
    load = ""
    with contextlib.suppress(OSError):
        load = f", load average {os.getloadavg()[0]:.1f}"
    return f"{os.cpu_count()} cores, {model}{mem}{load}"
