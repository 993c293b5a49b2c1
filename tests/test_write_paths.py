"""The fast creation path writes the very objects the general path writes, for every object
kind it takes: tables of numeric arrays, arrays of equal-sized arrays, vectors of vectors,
nested tables and waveform tables.

Each object is written once as ``lh5.write`` does by default and once under
:func:`~tierflow.lh5.serial.general_path_only` (every object created by its serializer's
``create``), and the two files are compared object by object: members, attributes in their
order with their types, dtypes, shapes, chunks, filters, fill values and data (the compressed
bytes of a chunk may differ, never what they inflate to).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from typing import Any
from unittest import mock

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierflow import lh5, sim
from tierflow.lh5.serial import create, general_path_only
from tierflow.types import (
    Array,
    ArrayOfEqualSizedArrays,
    Struct,
    Table,
    VectorOfVectors,
)


def describe(path: str | os.PathLike) -> dict[str, tuple]:
    """Every object of the file by path, with what the writer decides about it."""
    out: dict[str, tuple] = {}

    def attrs(obj: Any) -> list:
        # in stored order, with the HDF5 type of each (variable-length string or number)
        found = []
        for i in range(h5py.h5a.get_num_attrs(obj.id)):
            attr = h5py.h5a.open(obj.id, index=i)
            value = obj.attrs[attr.name.decode()]
            found.append((attr.name, str(attr.dtype), attr.get_type().get_class(), repr(value)))
        return found

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group):
            out[name] = ("group", list(obj.keys()), attrs(obj))
            return
        out[name] = (
            "dataset",
            attrs(obj),
            obj.dtype.str,
            obj.shape,
            obj.maxshape,
            obj.chunks,
            obj.compression,
            obj.compression_opts,
            obj.shuffle,
            obj.fletcher32,
            obj.scaleoffset,
            repr(obj.fillvalue),
            obj[()].tobytes(),
        )

    with h5py.File(path, "r") as f:
        out["/"] = ("root", list(f.keys()), attrs(f))
        f.visititems(visit)
    return out


def assert_same_files(a: str | os.PathLike, b: str | os.PathLike) -> None:
    da, db = describe(a), describe(b)
    assert list(da) == list(db)
    for name in da:
        assert da[name] == db[name], name


@contextmanager
def fast_writes() -> Any:
    """Counts the objects the fast creation path writes."""
    with mock.patch.object(create, "write_new", wraps=create.write_new) as spy:
        yield spy


def write_both_ways(obj: Any, name: str, directory: str, **kwargs: Any) -> tuple[str, str, int]:
    """Write ``obj`` into a new file by each path; the paths and the fast path's writes."""
    fast, general = os.path.join(directory, "fast.lh5"), os.path.join(directory, "general.lh5")
    with fast_writes() as spy:
        lh5.write(obj, name, fast, **kwargs)
        n_fast = spy.call_count
        with general_path_only():
            lh5.write(obj, name, general, **kwargs)
        assert spy.call_count == n_fast  # none under general_path_only
    return fast, general, n_fast


def numeric_table(n: int, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    return Table(
        {
            "energy": Array(rng.random(n).astype("f4"), attrs={"units": "keV"}),
            "flag": Array(rng.random(n) > 0.5),
            "count": Array(np.arange(n, dtype="u2"), attrs={"n": 3, "x": 1.5}),
            "timestamp": Array(rng.random(n)),
        }
    )


def aoesa_table(n: int, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    return Table({"aoesa": ArrayOfEqualSizedArrays(nda=rng.integers(0, 9, (n, 5)).astype("i4"))})


def vov_table(n: int, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 4, n)
    inner = rng.integers(0, 3, int(lengths.sum()))
    return Table(
        {
            "vov": VectorOfVectors(
                flattened_data=rng.random(int(lengths.sum())).astype("f4"),
                cumulative_length=np.cumsum(lengths),
                attrs={"units": "ns"},
            ),
            "vovov": VectorOfVectors(
                flattened_data=VectorOfVectors(
                    flattened_data=np.arange(int(inner.sum()), dtype="i2"),
                    cumulative_length=np.cumsum(inner),
                ),
                cumulative_length=np.cumsum(lengths),
            ),
        }
    )


def nested_table(n: int, seed: int = 0) -> Table:
    return Table(
        {
            "a": numeric_table(n, seed),
            "b": Table({"c": aoesa_table(n, seed), "x": np.arange(n, dtype="i8")}),
        }
    )


def waveform_table(n: int, seed: int = 0) -> Table:
    wf, _ = sim.simulate_waveforms(n, seed=seed, n_samples=200, t0_range=(1000.0, 1500.0))
    return Table({"waveform": wf, "baseline": Array(np.arange(n, dtype="u2"))})


KINDS = {
    "numeric": numeric_table,
    "aoesa": aoesa_table,
    "vov": vov_table,
    "nested": nested_table,
    "waveform": waveform_table,
}


# small tables go by way of templates and ready-compressed chunks, large ones object by object
@pytest.mark.parametrize("n", [0, 3, 5000])
@pytest.mark.parametrize("kind", list(KINDS))
def test_fast_path_writes_the_general_paths_objects(tmp_path, kind, n):
    fast, general, n_fast = write_both_ways(KINDS[kind](n), "ch1/dsp", str(tmp_path))
    assert n_fast == 1
    assert_same_files(fast, general)


@pytest.mark.parametrize("compression", [False, "lzf", {"compression": "gzip"}])
def test_fast_path_writes_the_general_paths_objects_under_other_filters(tmp_path, compression):
    table = Table({k: make(4, 1) for k, make in KINDS.items()})
    fast, general, n_fast = write_both_ways(table, "tb", str(tmp_path), compression=compression)
    assert n_fast == 1
    assert_same_files(fast, general)


def test_a_struct_of_tables_goes_the_fast_way_too(tmp_path):
    obj = Struct({"hit": numeric_table(3), "evt": vov_table(3)})
    fast, general, n_fast = write_both_ways(obj, "run", str(tmp_path))
    assert n_fast == 1
    assert_same_files(fast, general)


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(sorted(KINDS)),
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
    chunk_bytes=st.sampled_from([1024, 4096, 64 * 1024]),
)
def test_any_tables_of_the_fast_kinds_are_written_alike(kind, sizes, seed, chunk_bytes):
    # several tables of one form in one file: the later ones reuse the first one's template
    with tempfile.TemporaryDirectory() as directory:
        fast = os.path.join(directory, "fast.lh5")
        general = os.path.join(directory, "general.lh5")
        with fast_writes() as spy:
            for i, n in enumerate(sizes):
                table = KINDS[kind](n, seed + i)
                lh5.write(table, f"ch{i}/dsp", fast, chunk_bytes=chunk_bytes)
                with general_path_only():
                    lh5.write(table, f"ch{i}/dsp", general, chunk_bytes=chunk_bytes)
        assert spy.call_count == len(sizes)
        assert_same_files(fast, general)


# --- what the general path does by write mode ---------------------------------------------------
def test_append_column_of_a_struct_writes_it_new_or_anew(tmp_path):
    # append_column adds columns to tables; a struct given to it is written as a whole
    path = tmp_path / "f.lh5"
    lh5.write(Table({"a": np.arange(2)}), "tb", path)
    lh5.write(Struct({"x": Array(np.arange(2))}), "s", path, wo_mode="append_column")
    lh5.write(Struct({"y": Array(np.arange(3))}), "s", path, wo_mode="append_column")
    assert sorted(lh5.ls(path)) == ["s", "tb"]
    assert list(lh5.read("s", path).keys()) == ["y"]
