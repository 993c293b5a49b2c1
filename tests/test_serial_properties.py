"""Property tests: every fast path of LH5 reading and writing equals the general path.

Issue 14: fast paths are cached plans of the one serializer per object kind; a fast path
skips work whose result is known and never runs a different algorithm. Inside
:func:`tierflow.lh5.serial.general_path_only` every read and write takes the general path, so
for every object kind (see :mod:`lh5_strategies`) these tests check that

a. what :func:`tierflow.lh5.write` writes, :func:`tierflow.lh5.read` gives back (and
   :class:`~tierflow.lh5.LH5Store`), on either path;
b. reads with row selections (``start_row``/``n_rows``, unsorted ``idx`` with repeats, bool
   masks, ``field_mask``, into an ``obj_buf``) equal the general path's and the full object's
   rows;
c. reads of many tables of one layout in a row (channel groups, lists of files) equal the
   general path's reads of each;
d. a write (new object, new file or not, appends, overwrites; compressed or not) makes the
   same file, as h5py sees it, as the general path's;
e. a pass of :class:`~tierflow.iterate.LH5Iterator` (buffers in rows or memory, entry lists,
   field masks), its ``read``, ``query`` and ``hist`` equal ``lh5.read`` and the general path;
f. LEGEND's reader reads tierflow's files as the objects written (where it is installed).

Only public APIs are used. ``TIERFLOW_PROPS_EXAMPLES`` sets the examples per test and kind
(default 6: each test stays within seconds; raise it for a longer search).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import hist
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lh5_strategies import (
    ENCODED_KINDS,
    KINDS,
    ROW_KINDS,
    as_read,
    assert_same,
    assert_same_files,
    has_rows,
    row_indices,
    sibling,
)
from tierflow import lh5
from tierflow import types as tft
from tierflow.iterate import LH5Iterator
from tierflow.lh5.serial import general_path_only

EXAMPLES = int(os.environ.get("TIERFLOW_PROPS_EXAMPLES", "6"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: compression settings of a write: the default (gzip + shuffle), none, lzf, gzip without shuffle
COMPRESSIONS = st.sampled_from([None, False, "lzf", {"compression": "gzip", "compression_opts": 1}])

ALL = list(KINDS)


@contextmanager
def directory() -> Iterator[Path]:
    """A fresh directory for one example's files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tierflow-props-") as tmp:
        yield Path(tmp)


def both_paths(fun: Callable[[], Any]) -> tuple[Any, Any]:
    """``fun()`` on the default (fast) path and under :func:`general_path_only`."""
    fast = fun()
    with general_path_only():
        general = fun()
    return fast, general


def fields_of(obj: Any) -> list[str]:
    return list(obj.keys()) if isinstance(obj, tft.Struct) else []


# --- a. round trip ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ALL)
@SETTINGS
@given(data=st.data())
def test_written_objects_read_back_equal_on_both_paths(kind: str, data: st.DataObject) -> None:
    obj = data.draw(KINDS[kind], "obj")
    compression = data.draw(COMPRESSIONS, "compression")
    with directory() as tmp:
        for path, general in ((tmp / "fast.lh5", nullcontext()), (tmp / "gen.lh5", None)):
            with general or general_path_only():
                lh5.write(obj, "obj", path, compression=compression)
                assert_same(lh5.read("obj", path), as_read(obj), "read")
                assert_same(lh5.read("obj", path, decompress=False), as_read(obj, False), "raw")
                with lh5.LH5Store(keep_open=True) as store:
                    assert_same(store.read("obj", path), as_read(obj), "store")


# --- b. row selections ----------------------------------------------------------------------
@st.composite
def selections(draw: st.DrawFn, n: int, fields: list[str]) -> dict[str, Any]:
    """Keywords of one ``lh5.read``: a row range, an index array (unsorted, repeats), a bool
    mask, an index array cut by ``start_row``/``n_rows``, and a field mask, or none."""
    form = draw(st.sampled_from(["all", "range", "idx", "mask", "idx_range"]))
    kwargs: dict[str, Any] = {}
    if form in ("range", "idx_range"):
        kwargs["start_row"] = draw(st.integers(0, n + 1))
        kwargs["n_rows"] = draw(st.integers(0, n + 1))
    if form in ("idx", "idx_range"):
        kwargs["idx"] = draw(row_indices(n))
    if form == "mask":
        kwargs["idx"] = draw(hnp.arrays(bool, n))
    if fields and draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(fields), min_size=1, unique=True))
        if draw(st.booleans()):
            kwargs["field_mask"] = chosen
        elif len(chosen) < len(fields):
            kwargs["field_mask"] = dict.fromkeys(chosen, False)
    return kwargs


def rows_selected(n: int, sel: dict[str, Any]) -> slice | np.ndarray:
    """The rows of ``n`` that ``lh5.read`` returns for ``sel``, worked out with numpy: a range
    is clipped to the rows there are; an index array (or a mask's true rows) keeps its order
    and repeats, drops rows before ``start_row`` and keeps the first ``n_rows``."""
    start, count, idx = sel.get("start_row", 0), sel.get("n_rows", sys.maxsize), sel.get("idx")
    if idx is None:
        start = min(start, n)
        return slice(start, min(n, start + count))
    rows = np.flatnonzero(idx) if idx.dtype == bool else idx
    return rows[rows >= start][:count]


def selected(obj: Any, sel: dict[str, Any]) -> Any:
    """``obj``'s rows and fields that ``sel`` selects, from the object in memory."""
    if isinstance(obj, tft.Struct) and "field_mask" in sel:
        mask = sel["field_mask"]
        keep = [k for k in obj if (k in mask) == isinstance(mask, list)]
        rest = {k: v for k, v in sel.items() if k != "field_mask"}
        if isinstance(obj, tft.WaveformTable) and len(keep) == len(fields_of(obj)):
            return selected(obj, rest)  # all its fields: still a waveform table
        cls = tft.Table if isinstance(obj, tft.Table) else tft.Struct
        return selected(cls({k: obj[k] for k in keep}, attrs=obj.getattrs()), rest)
    if has_rows(obj):
        return obj.take(rows_selected(len(obj), sel))
    if isinstance(obj, tft.Struct) and not isinstance(obj, tft.Histogram):
        return tft.Struct({k: selected(v, sel) for k, v in obj.items()}, obj.getattrs())
    return obj


def selections_for(obj: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Row selections that apply: all of them to kinds with rows; row ranges to a struct's
    members; none to scalars and histograms (a field mask to structs and tables)."""
    fields = fields_of(obj)
    if has_rows(obj):
        return selections(len(obj), fields)
    if isinstance(obj, tft.Struct) and not isinstance(obj, tft.Histogram):
        return selections(0, fields).filter(lambda s: "idx" not in s)
    return st.just({})


@pytest.mark.parametrize("kind", ALL)
@SETTINGS
@given(data=st.data())
def test_row_selections_read_as_on_the_general_path(kind: str, data: st.DataObject) -> None:
    obj = data.draw(KINDS[kind], "obj")
    compression = data.draw(COMPRESSIONS, "compression")
    with directory() as tmp:
        path = tmp / "f.lh5"
        lh5.write(obj, "obj", path, compression=compression)
        with general_path_only():
            full = lh5.read("obj", path)
        for _ in range(3):
            sel = data.draw(selections_for(obj), "selection")
            fast, general = both_paths(lambda sel=sel: lh5.read("obj", path, **sel))
            assert_same(fast, general, "fast vs general", exact=True)
            assert_same(fast, selected(full, sel), "read vs rows of the full object")
        if has_rows(obj):  # into a buffer holding rows already
            start = data.draw(st.integers(0, len(obj)), "obj_buf_start")
            sel = data.draw(selections(len(obj), []), "buffered selection")

            def into_buffer() -> Any:
                with general_path_only():
                    buffer = lh5.read("obj", path)
                return lh5.read("obj", path, obj_buf=buffer, obj_buf_start=start, **sel)

            fast, general = both_paths(into_buffer)
            assert_same(fast, general, "obj_buf: fast vs general", exact=True)
            assert_same(fast.take(slice(start, None)), selected(full, sel), "obj_buf rows")


# --- c. many tables of one layout -------------------------------------------------------------
@pytest.mark.parametrize("kind", ALL)
@SETTINGS
@given(data=st.data())
def test_many_groups_of_one_layout_read_as_on_the_general_path(
    kind: str, data: st.DataObject
) -> None:
    obj = data.draw(KINDS[kind], "obj")
    n_groups = data.draw(st.integers(2, 4), "groups")
    groups = [f"ch{i:03d}/obj" for i in range(n_groups)]
    fields = fields_of(obj)
    mask = None
    if fields:
        mask = data.draw(st.none() | st.lists(st.sampled_from(fields), min_size=1, unique=True))
    with directory() as tmp:
        files = [tmp / "a.lh5", tmp / "b.lh5"]
        written = {}
        for path in files:
            for group in groups:
                rows = data.draw(row_indices(len(obj)) if has_rows(obj) else st.just([]))
                written[path, group] = sibling(obj, rows)
                lh5.write(written[path, group], group, path)

        def each_group() -> list[Any]:
            return [lh5.read(g, p, field_mask=mask) for p in files for g in groups]

        def each_group_in_a_store() -> list[Any]:
            with lh5.LH5Store(keep_open=True) as store:
                return [store.read(g, p, field_mask=mask) for p in files for g in groups]

        for read_all in (each_group, each_group_in_a_store):
            fast, general = both_paths(read_all)
            for (p, g), a, b in zip(written, fast, general, strict=True):
                assert_same(a, b, f"{read_all.__name__} {p.name}:{g}", exact=True)
                if mask is None:
                    assert_same(a, as_read(written[p, g]), f"{p.name}:{g} as written")
        if not has_rows(obj):
            return
        for group in groups:  # one object from a list of files: rows one after another
            fast, general = both_paths(lambda g=group: lh5.read(g, files, field_mask=mask))
            assert_same(fast, general, f"{group} from two files: fast vs general", exact=True)
            with general_path_only():
                parts = [lh5.read(group, p, field_mask=mask) for p in files]
            assert_same(fast, tft.concat(parts), f"{group} from two files vs each file's")
            idx = data.draw(row_indices(len(fast)), "global idx")
            fast, general = both_paths(lambda g=group, i=idx: lh5.read(g, files, idx=i))
            assert_same(fast, general, f"{group} idx over two files: fast vs general", exact=True)
