"""Running fuzz cases in a worker process, each with a time limit.

A case is a JSON-able dict handed to ``run(case) -> list[Outcome]`` (a function named
``"module:function"``, imported by the worker). The worker runs cases one by one, in order,
and reports each case's outcomes on a line of JSON. The parent waits at most ``timeout``
seconds per case: past that the worker is killed and the case counts as a hang; a worker
that dies (a segfault, an abort) makes its case a crash. Either way a fresh worker carries
on with the next case, so one bad input never hides the others.

An outcome says what one call of a read path gave: ``ok`` (a result), ``tierflow`` (a
:class:`~tierflow.errors.TierflowError`) or ``raw`` (any other exception: the fuzz suite's
failures), with the exception's type and the innermost frame it was raised in.

>>> outcome_of(lambda: 1 / 0, "divide")["kind"]
'ZeroDivisionError'
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from tierflow.errors import TierflowError

Outcome = dict[str, Any]


def outcome_of(call: Callable[[], Any], path: str) -> Outcome:
    """Run ``call``; what it gave, as an outcome of the read path ``path``."""
    try:
        call()
    except TierflowError as err:
        return {"path": path, "result": "tierflow", "kind": type(err).__name__}
    except Exception as err:  # the failures the suite counts: anything but a tierflow error
        frames = traceback.extract_tb(err.__traceback__)
        own = [f for f in frames if "/tierflow/" in f.filename]
        where = own[-1] if own else frames[-1]
        return {
            "path": path,
            "result": "raw",
            "kind": type(err).__name__,
            "where": f"{os.path.basename(where.filename)}:{where.lineno}",
            "message": str(err)[:200],
        }
    return {"path": path, "result": "ok", "kind": ""}


def serve(target: str, dump: str, dump_after: float) -> None:
    """The worker's loop: a case per line of stdin, its outcomes per line of stdout. A case
    still running after ``dump_after`` seconds has its Python stack written to ``dump``, so
    that the parent can say where it hung."""
    module, _, name = target.partition(":")
    run = getattr(importlib.import_module(module), name)
    out = sys.stdout
    sys.stdout = sys.stderr  # what the read paths print must not mix with the replies
    with open(dump, "w") as stacks:
        for line in sys.stdin:
            case = json.loads(line)
            faulthandler.dump_traceback_later(dump_after, file=stacks)
            outcomes = run(case)
            faulthandler.cancel_dump_traceback_later()
            out.write(json.dumps(outcomes) + "\n")
            out.flush()


def hang_site(dump: str) -> str:
    """The innermost frame of the last stack dumped (``file:line in function``)."""
    try:
        with open(dump) as f:
            frames = [line.strip() for line in f if line.strip().startswith("File ")]
    except OSError:
        return "unknown"
    if not frames:
        return "unknown"
    match = re.match(r'File "(.*)", line (\d+) in (.*)', frames[0])
    if not match:
        return frames[0]
    return f"{os.path.basename(match.group(1))}:{match.group(2)} in {match.group(3)}"


@dataclass
class Report:
    """What a run of cases gave: per case, its outcomes or ``hang``/``crash``."""

    cases: list[dict] = field(default_factory=list)
    outcomes: list[list[Outcome]] = field(default_factory=list)
    hangs: list[dict] = field(default_factory=list)
    crashes: list[tuple[dict, int]] = field(default_factory=list)

    def raw(self) -> list[tuple[dict, Outcome]]:
        """Every (case, outcome) that was a raw exception."""
        return [
            (case, o)
            for case, outs in zip(self.cases, self.outcomes, strict=True)
            for o in outs
            if o["result"] == "raw"
        ]

    def raw_kinds(self) -> Counter:
        """Raw exceptions by type and where they were raised."""
        return Counter(f"{o['kind']} at {o['where']}" for _, o in self.raw())

    def counts(self) -> Counter:
        """Outcomes of every read-path call: ok, tierflow, raw."""
        return Counter(o["result"] for outs in self.outcomes for o in outs)

    def summary(self) -> str:
        counts = self.counts()
        lines = [
            f"{len(self.cases)} inputs, {sum(counts.values())} read-path calls: "
            f"{counts['ok']} results, {counts['tierflow']} tierflow errors, "
            f"{counts['raw']} raw exceptions ({len({id(c) for c, _ in self.raw()})} inputs), "
            f"{len(self.hangs)} hangs, {len(self.crashes)} crashes"
        ]
        lines += [f"  {n:4d} x {kind}" for kind, n in self.raw_kinds().most_common()]
        lines += [f"  hang: {c['name']} (at {c['site']})" for c in self.hangs]
        lines += [f"  crash (exit {rc}): {c['name']}" for c, rc in self.crashes]
        return "\n".join(lines)


class _Worker:
    def __init__(self, target: str, env: dict[str, str], dump: str, dump_after: float):
        self.dump = dump
        serve_call = f"fuzz_workers.serve({target!r}, {dump!r}, {dump_after!r})"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", f"import fuzz_workers; {serve_call}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )

    def ask(self, case: dict, timeout: float) -> list[Outcome] | str:
        """The case's outcomes, ``"hang"`` or ``"crash"``."""
        try:
            self.proc.stdin.write(json.dumps(case) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return "crash"
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return "hang"
        line = self.proc.stdout.readline()
        return json.loads(line) if line else "crash"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(BrokenPipeError):
                stream.close()
        return self.proc.returncode


def run_cases(
    target: str,
    cases: Iterable[dict],
    timeout: float,
    warmup: dict | None = None,
    warmup_timeout: float = 300.0,
    log: TextIO | None = None,
) -> Report:
    """Run every case in a worker (``target``: ``"module:function"``), ``timeout`` s each.

    ``warmup`` is a case run first in every new worker, with a longer limit, so that imports
    and compilations are not counted against a case. ``log`` gets a line per hang or crash
    and per 100 cases.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([here, os.path.dirname(here), *sys.path])
    report = Report()
    worker: _Worker | None = None
    dump = os.path.join(tempfile.mkdtemp(prefix="tierflow-fuzz-stacks-"), "stacks.txt")
    for case in cases:
        if worker is None:
            worker = _Worker(target, env, dump, max(timeout - 2.0, 0.5 * timeout))
            if warmup is not None and not isinstance(worker.ask(warmup, warmup_timeout), list):
                raise RuntimeError("the fuzz worker failed on its warm-up case")
        started = time.monotonic()
        answer = worker.ask(case, timeout)
        report.cases.append(case)
        if log is not None and (not isinstance(answer, list) or len(report.cases) % 100 == 0):
            print(f"{len(report.cases)} cases; {case['name']}: {answer!s:.200}", file=log)
        if isinstance(answer, list):
            report.outcomes.append(answer)
            continue
        report.outcomes.append([])
        code = worker.stop()
        worker = None
        if answer == "hang":
            seconds = round(time.monotonic() - started, 1)
            report.hangs.append(dict(case, seconds=seconds, site=hang_site(dump)))
        else:
            report.crashes.append((case, code))
    if worker is not None:
        worker.proc.stdin.close()
        worker.stop()
    shutil.rmtree(os.path.dirname(dump), ignore_errors=True)
    return report
