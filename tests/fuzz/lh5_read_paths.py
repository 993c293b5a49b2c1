"""What the fuzz worker does with one damaged input: every way tierflow reads LH5 files.

:func:`run_case` builds the input (:func:`corrupt_lh5.build`) and calls, each once, with the
outcome of each call recorded (:func:`fuzz_workers.outcome_of`):

- ``lh5.ls`` (top level, ``*/*``, recursive) and ``tierflow ls``;
- ``tierflow show -a -d --depth 4`` (``lh5.show`` with attributes and details);
- ``lh5.read`` of the whole file (:data:`WHOLE`), of two tables, of a row range and of an
  index list;
- ``LH5Store.read`` and ``read_n_rows`` of every table;
- a full pass of an ``LH5Iterator`` over the tables (one chunk, then a few rows per chunk);
- ``LH5Iterator.hist`` of ``timestamp``, the direct fill's column.

The tables are those of the undamaged source file, so that the reads ask for what was there.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import tempfile
from typing import Any

import h5py
import hist
from corrupt_lh5 import build, source_path
from fuzz_workers import Outcome, outcome_of

from tierflow import lh5
from tierflow.cli import main as cli_main
from tierflow.lh5 import LH5Iterator, LH5Store

#: what "the whole file" is read as: all of it, but the raw file's hundreds of DAQ settings
WHOLE = {"raw14": ("ch1105600", "extra/RunControl")}


@functools.cache
def tables_of(source: str) -> tuple[str, ...]:
    """The tables of a source file that are not inside another table."""
    found: list[str] = []
    with h5py.File(source_path(source), "r") as f:

        def visit(name: str, obj: Any) -> None:
            kind = str(obj.attrs.get("datatype", ""))
            if kind.startswith("table{") and not any(name.startswith(t + "/") for t in found):
                found.append(name)

        f.visititems(visit)
    return tuple(found)


@functools.cache
def channel_tables(source: str) -> tuple[str, ...]:
    """The tables of one layout (``ch*/raw``, ``ch*/dsp``...): those an iterator goes over."""
    tables = tables_of(source)
    leaf = tables[0].rsplit("/", 1)[-1]
    return tuple(t for t in tables if t.rsplit("/", 1)[-1] == leaf)


@functools.cache
def plain_columns(source: str) -> tuple[str, ...]:
    """The columns of the first table that are not tables (waveforms) themselves."""
    with h5py.File(source_path(source), "r") as f:
        table = f[tables_of(source)[0]]
        return tuple(
            k for k in table if not str(table[k].attrs.get("datatype", "")).startswith("table{")
        )


def _cli(*args: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli_main(list(args))
    if code not in (0, 1):
        raise AssertionError(f"tierflow {' '.join(args)} exited with {code}")


def _iterate(path: str, tables: tuple[str, ...], buffer_len: int, columns: Any = None) -> None:
    it = LH5Iterator(path, list(tables), buffer_len=buffer_len, field_mask=columns)
    try:
        for _ in it:
            pass
    finally:
        it.close()


def _hist(path: str, tables: tuple[str, ...]) -> None:
    it = LH5Iterator(path, list(tables), buffer_len=4)
    try:
        it.hist(hist.axis.Regular(20, 0, 2e9, name="timestamp"), progress=False)
    finally:
        it.close()


def read_paths(path: str, source: str) -> list[Outcome]:
    """Every read path on the input at ``path``; one outcome per call."""
    source = source if source in ("tcm", "hit", "dsp", "raw03", "raw14") else "hit"
    tables, channels = tables_of(source), channel_tables(source)
    outs = [
        outcome_of(lambda: lh5.ls(path), "ls"),
        outcome_of(lambda: lh5.ls(path, "*/*"), "ls */*"),
        outcome_of(lambda: lh5.ls(path, recursive=True), "ls -r"),
        outcome_of(lambda: _cli("ls", path, "-r"), "cli ls"),
        outcome_of(lambda: _cli("show", path, "-a", "-d", "--depth", "4"), "cli show"),
    ]
    outs += [outcome_of(lambda w=w: lh5.read(w, path), "read /") for w in WHOLE.get(source, "/")]
    with LH5Store() as store:
        for t in tables[:2]:
            outs += [
                outcome_of(lambda t=t: lh5.read(t, path), "read table"),
                outcome_of(lambda t=t: lh5.read(t, path, start_row=1, n_rows=3), "read rows"),
                outcome_of(lambda t=t: lh5.read(t, path, idx=[0, 2, 5]), "read idx"),
                outcome_of(lambda t=t: store.read_n_rows(t, path), "store n_rows"),
                outcome_of(lambda t=t: store.read(t, path, n_rows=4), "store read"),
            ]
    # a few rows per chunk, all columns (waveform tables too), and the plain columns alone
    outs += [
        outcome_of(lambda: _iterate(path, channels, 1000), "iterate"),
        outcome_of(lambda: _iterate(path, channels, 3), "iterate small buffer"),
        outcome_of(
            lambda: _iterate(path, channels, 3, list(plain_columns(source))),
            "iterate small buffer, plain columns",
        ),
    ]
    if source != "tcm":
        outs.append(outcome_of(lambda: _hist(path, channels), "hist"))
    return outs


def run_case(case: dict) -> list[Outcome]:
    """Build the case's input in a fresh directory, run every read path on it, clean up."""
    workdir = tempfile.mkdtemp(prefix="tierflow-fuzz-")
    try:
        try:
            path = build(case, os.path.join(workdir, "case"))
        except Exception as err:  # the corpus's own fault: reported apart
            return [{"path": "build", "result": "unbuilt", "kind": f"{type(err).__name__}: {err}"}]
        return read_paths(path, case["source"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
