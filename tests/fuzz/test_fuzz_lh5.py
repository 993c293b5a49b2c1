"""Fuzzing the LH5 readers with damaged copies of the real LEGEND files (``corrupt_lh5``).

Every input goes through every read path (``lh5_read_paths``) in a worker process, with a
time limit per input. The promise checked: each call gives a result or a tierflow error;
never another exception, never a hang, never a crash. The default run takes ~630 inputs;
``TIERFLOW_FUZZ_FULL=1`` takes ~2,400 (see README.md here for the last figures).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import corrupt_lh5
import pytest
from fuzz_workers import Report, run_cases

FULL = os.environ.get("TIERFLOW_FUZZ_FULL") == "1"
#: seconds an input may take through all read paths before it counts as a hang
TIMEOUT = 20.0
FAMILIES = sorted({case["family"] for case in corrupt_lh5.cases()})


@pytest.fixture(scope="module")
def report() -> Report:
    found = run_cases(
        "lh5_read_paths:run_case",
        corrupt_lh5.cases(full=FULL),
        timeout=TIMEOUT,
        log=sys.stderr,
        warmup={"name": "warm-up", "family": "clean", "source": "raw14", "seed": 0},
    )
    print("\n" + found.summary())
    return found


def _of(report: Report, family: str) -> list[tuple[dict, list]]:
    return [
        (case, outs)
        for case, outs in zip(report.cases, report.outcomes, strict=True)
        if case["family"] == family
    ]


@pytest.mark.parametrize("family", FAMILIES)
def test_damaged_lh5_inputs_give_a_result_or_a_tierflow_error(report, family):
    raw = [
        f"{case['name']}: {o['path']}: {o['kind']} at {o['where']}: {o['message']}"
        for case, outs in _of(report, family)
        for o in outs
        if o["result"] == "raw"
    ]
    assert not raw, "\n".join(raw[:20])


@pytest.mark.parametrize("family", FAMILIES)
def test_damaged_lh5_inputs_never_hang_nor_crash(report, family):
    hangs = [f"{c['name']} (at {c['site']})" for c in report.hangs if c["family"] == family]
    crashes = [f"{c['name']} (exit {code})" for c, code in report.crashes if c["family"] == family]
    assert not hangs and not crashes, f"hangs: {hangs}, crashes: {crashes}"


def test_every_input_is_built(report):
    unbuilt = [
        f"{case['name']}: {o['kind']}"
        for case, outs in zip(report.cases, report.outcomes, strict=True)
        for o in outs
        if o["result"] == "unbuilt"
    ]
    assert not unbuilt, "\n".join(unbuilt[:20])


def test_every_family_is_read_through_every_path(report):
    """The corpus reaches the readers: each family has inputs read without error too (so the
    damage is not always caught at the door), and every read path was called."""
    assert len(report.cases) >= (2000 if FULL else 600)
    paths = {o["path"] for outs in report.outcomes for o in outs}
    assert {"ls", "cli show", "read /", "read idx", "iterate", "hist"} <= paths
    for family in set(FAMILIES) - {"not_lh5", "truncate"}:
        results = [o["result"] for _, outs in _of(report, family) for o in outs]
        assert "ok" in results and "tierflow" in results, family


def test_corpus_is_the_same_each_time(tmp_path):
    """Inputs follow from their seeds: a case built twice gives the same bytes."""
    case = next(c for c in corrupt_lh5.cases() if c["family"] == "flip" and c["source"] == "tcm")
    first = Path(corrupt_lh5.build(case, tmp_path / "a")).read_bytes()
    second = Path(corrupt_lh5.build(case, tmp_path / "b")).read_bytes()
    assert first == second != corrupt_lh5.source_path("tcm").read_bytes()
