"""Property: for any small tables, hist filled straight from the files (``iterate/direct.py``,
``lh5/direct.py``) is the histogram of the chunked route (forced by ``general_path_only()``)
and of boost-histogram filled from the values in memory, bit for bit.

Tables of one to three groups, columns of random numeric dtypes (with NaN, infinities, bin
edges and negative zero), stored uncompressed, shuffle + gzip or gzip alone per group, with
random chunk sizes, written in one to three appends (so a column's chunks are not neighbours
in the file), read from a random first entry for a random number of entries, with random
buffer lengths and read windows. ``TIERFLOW_FUZZ_FULL=1`` runs 1000 examples instead of 40.
"""

from __future__ import annotations

import itertools
import math
import os
from unittest import mock

import hist
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierflow import lh5
from tierflow.iterate import direct
from tierflow.lh5 import LH5Iterator
from tierflow.lh5.serial import general_path_only
from tierflow.sim.noise import normal_samples
from tierflow.types import Table

EXAMPLES = 1000 if os.environ.get("TIERFLOW_FUZZ_FULL") else 40
DTYPES = ["float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16"]
COMPRESSIONS = {
    "none": False,
    "shuffle+gzip": "gzip",
    "gzip": {"compression": "gzip", "compression_opts": 1},
}
SPECIALS = [math.nan, math.inf, -math.inf, -4.0, 4.0, -0.0, 3.0]
COLUMNS = ("x", "y", "w")


@st.composite
def stored_tables(draw: st.DrawFn) -> dict:
    """How the tables look and are stored (the values come from the seeds)."""
    groups = []
    for _ in range(draw(st.integers(1, 3))):
        groups.append(
            {
                "rows": draw(st.integers(0, 2500)),
                "seed": draw(st.integers(0, 2**32 - 1)),
                "compression": draw(st.sampled_from(sorted(COMPRESSIONS))),
                "chunk_bytes": draw(st.sampled_from([16, 120, 1000, 8192, 65536])),
                "appends": draw(st.integers(1, 3)),
                "specials": draw(st.lists(st.sampled_from(SPECIALS), max_size=4)),
            }
        )
    return {"dtypes": [draw(st.sampled_from(DTYPES)) for _ in COLUMNS], "groups": groups}


def _values(group: dict, column: int, dtype: str) -> np.ndarray:
    """The column's values: normal samples of tierflow's simulator, scaled, and special values
    (float columns) at a few places."""
    x = normal_samples(group["seed"] + column, group["rows"]) * 3.0
    if dtype.startswith("float"):
        x = x.astype(dtype)
        for k, value in enumerate(group["specials"]):
            if len(x):
                x[(7 * k + column) % len(x)] = value
        return x
    info = np.iinfo(dtype)
    return np.clip(np.rint(x) + (5 if info.min == 0 else 0), info.min, info.max).astype(dtype)


def _write(path: str, spec: dict) -> tuple[list[str], dict[str, np.ndarray]]:
    """Write the tables; the groups and every column's values, groups concatenated."""
    names, columns = [], {c: [] for c in COLUMNS}
    for g, group in enumerate(spec["groups"]):
        name = f"ch{g}/hit"
        dtypes = zip(COLUMNS, spec["dtypes"], strict=True)
        cols = {c: _values(group, k, dt) for k, (c, dt) in enumerate(dtypes)}
        n = group["rows"]
        cuts = sorted({0, n, *(n * k // group["appends"] for k in range(1, group["appends"]))})
        for a, b in itertools.pairwise(cuts) if n else [(0, 0)]:
            lh5.write(
                Table({c: v[a:b] for c, v in cols.items()}),
                name,
                path,
                wo_mode="a",
                compression=COMPRESSIONS[group["compression"]],
                chunk_bytes=group["chunk_bytes"],
            )
        names.append(name)
        for c in COLUMNS:
            columns[c].append(cols[c])
    return names, {c: np.concatenate(v) for c, v in columns.items()}


def _same(a: hist.Hist, b: hist.Hist) -> bool:
    return np.array_equal(a.view(flow=True), b.view(flow=True), equal_nan=True)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=stored_tables(),
    start=st.floats(0.0, 1.0),
    length=st.one_of(st.none(), st.integers(0, 3000)),
    buffer_len=st.integers(50, 4000),
    window=st.sampled_from([1, 37, 1000, direct.WINDOW]),
    weighted=st.booleans(),
    bins=st.integers(1, 40),
)
def test_direct_fill_equals_the_general_path_and_boost(
    tmp_path_factory, spec, start, length, buffer_len, window, weighted, bins
):
    path = str(tmp_path_factory.mktemp("prop") / "t.lh5")
    groups, cols = _write(path, spec)
    total = len(cols["x"])
    i_start = min(int(start * total), max(total - 1, 0))
    it = LH5Iterator(path, groups, i_start=i_start, n_entries=length, buffer_len=buffer_len)
    axes = [hist.axis.Regular(bins, -4.0, 4.0, name="x"), hist.axis.Regular(7, -3, 12, name="y")]
    kwargs = {"weights": "w" if weighted else None, "progress": False}
    served: list[bool] = []
    pieces = direct.DirectColumns.pieces

    def spy(self, first, n):
        out = pieces(self, first, n)
        served.append(out is not None)
        return out

    with mock.patch.object(direct, "WINDOW", window):
        with mock.patch.object(direct.DirectColumns, "pieces", spy):
            h = it.hist(axes, **kwargs)
        with general_path_only():
            general = it.hist(axes, **kwargs)
    rows = slice(i_start, total if length is None else min(i_start + length, total))
    assert all(served) and (bool(served) or rows.stop <= rows.start)
    assert _same(h, general)
    expected = hist.Hist(*axes)
    w = cols["w"][rows] if weighted else None
    expected.fill(cols["x"][rows], cols["y"][rows], weight=w)
    assert _same(h, expected)
