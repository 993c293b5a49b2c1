"""Which rows an LH5Iterator yields, and where they come from.

Small LH5 files are written with fixed seeds; every column ``k`` holds the global row number
(the position of the row in the concatenation of all datasets), so the rows an iterator yields
can be compared with a plain numpy concatenation of the columns. Covers empty datasets,
datasets of any size, entry lists across dataset boundaries (global and per dataset), entry
masks, ``i_start``/``n_entries``, ``read`` (random access), ``len``, pickling and the
provenance properties (``current_files``, ``current_groups``, ``current_local_entries``,
``current_global_entries``).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tierflow import lh5
from tierflow.errors import LH5IndexError
from tierflow.lh5 import LH5Iterator
from tierflow.types import Table


@dataclass
class Data:
    """Files and groups of generated datasets and their columns, concatenated."""

    files: list[str]
    groups: list[str]
    sizes: list[int]  # rows per dataset, files outer, groups inner
    k: np.ndarray  # global row number
    e: np.ndarray
    file_of_row: np.ndarray
    group_of_row: np.ndarray
    local_of_row: np.ndarray

    def iterator(self, **kwargs) -> LH5Iterator:
        return LH5Iterator(self.files, self.groups, **kwargs)

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.sizes)])


def write_data(tmp_path: Path, sizes: list[list[int]], seed: int = 0) -> Data:
    """``sizes[f][g]``: rows of group ``chg/hit`` in file ``f``."""
    rng = np.random.default_rng(seed)
    n_groups = len(sizes[0])
    groups = [f"ch{g}/hit" for g in range(n_groups)]
    files, flat_sizes, es, fs, gs, ls = [], [], [], [], [], []
    total = 0
    for f, per_group in enumerate(sizes):
        path = str(tmp_path / f"f{f}.lh5")
        files.append(path)
        for g, n in enumerate(per_group):
            e = rng.normal(size=n)
            k = np.arange(total, total + n, dtype=np.int64)
            lh5.write(Table({"e": e, "k": k}), groups[g], path, wo_mode="a")
            total += n
            flat_sizes.append(n)
            es.append(e)
            fs += [path] * n
            gs += [groups[g]] * n
            ls.append(np.arange(n))
    return Data(
        files,
        groups,
        flat_sizes,
        np.arange(total),
        np.concatenate(es),
        np.array(fs),
        np.array(gs),
        np.concatenate(ls).astype(np.int64),
    )


def collect(it: LH5Iterator) -> dict[str, np.ndarray]:
    """Everything a pass yields: columns and provenance, concatenated; chunk lengths."""
    out: dict[str, list] = {k: [] for k in ("k", "e", "files", "groups", "local", "global")}
    lengths = []
    for tb in it:
        lengths.append(len(tb))
        out["k"].append(tb["k"].nda.copy())
        out["e"].append(tb["e"].nda.copy())
        out["files"].append(it.current_files)
        out["groups"].append(it.current_groups)
        out["local"].append(it.current_local_entries)
        out["global"].append(it.current_global_entries)
        for name in ("files", "groups", "local", "global"):
            assert len(out[name][-1]) == len(tb), name
    res = {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}
    res["lengths"] = np.array(lengths, dtype=np.int64)
    return res


def assert_yields(it: LH5Iterator, data: Data, rows: np.ndarray) -> None:
    """The pass yields exactly ``rows`` (global row numbers), in chunks of ``buffer_len``,
    with the right provenance; ``len(it)`` agrees."""
    rows = np.asarray(rows, dtype=np.int64)
    got = collect(it)
    np.testing.assert_array_equal(got["k"], rows)
    np.testing.assert_array_equal(got["e"], data.e[rows])
    np.testing.assert_array_equal(got["global"], rows)
    np.testing.assert_array_equal(got["local"], data.local_of_row[rows])
    assert got["files"].tolist() == data.file_of_row[rows].tolist()
    assert got["groups"].tolist() == data.group_of_row[rows].tolist()
    assert len(it) == len(rows)
    n, b = len(rows), it.buffer_len
    expected_lengths = [b] * (n // b) + ([n % b] if n % b else [])
    assert got["lengths"].tolist() == expected_lengths


# --- whole passes ---------------------------------------------------------------------------------
@pytest.fixture
def data(tmp_path) -> Data:
    # an empty group first, in the middle and last; 2 files
    return write_data(tmp_path, [[0, 7, 0, 5], [3, 4, 0, 0]], seed=1)


@pytest.mark.parametrize("buffer_len", [1, 2, 3, 5, 7, 19, 100])
def test_full_pass_with_empty_datasets(data, buffer_len):
    assert_yields(data.iterator(buffer_len=buffer_len), data, data.k)


@pytest.mark.parametrize("seed", range(6))
def test_datasets_of_any_size(tmp_path, seed):
    rng = np.random.default_rng(100 + seed)
    n_files, n_groups = rng.integers(1, 4), rng.integers(1, 4)
    sizes = rng.choice([0, 1, 2, 3, 8, 33, 150], size=(n_files, n_groups)).tolist()
    data = write_data(tmp_path, sizes, seed=seed)
    buffer_len = int(rng.choice([1, 4, 10, 64, 1000]))
    assert_yields(data.iterator(buffer_len=buffer_len), data, data.k)


def test_only_empty_datasets(tmp_path):
    data = write_data(tmp_path, [[0, 0], [0, 0]])
    it = data.iterator(buffer_len=4)
    assert len(it) == 0
    assert list(it) == []
    assert len(it.read(0)) == 0
    empty = it.query("e > 0")
    assert len(empty) == 0
    assert list(empty) == ["e", "k"]
    assert list(it.query("e > 0", library="pd").columns) == ["e", "k"]


def test_a_second_pass_yields_the_same(data):
    it = data.iterator(buffer_len=4)
    first, second = collect(it), collect(it)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


# --- entry lists --------------------------------------------------------------------------------------
def boundary_entries(data: Data) -> np.ndarray:
    """First and last rows of every non-empty dataset: the rows LEGEND's iterator gets wrong."""
    rows = []
    for lo, hi in zip(data.offsets[:-1], data.offsets[1:], strict=True):
        if hi > lo:
            rows += [lo, hi - 1]
    return np.unique(rows)


@pytest.mark.parametrize("buffer_len", [1, 2, 3, 4, 50])
def test_global_entry_list_at_dataset_boundaries(data, buffer_len):
    rows = boundary_entries(data)
    assert len(rows) == 8  # 4 non-empty datasets, first and last rows
    assert_yields(data.iterator(entry_list=rows, buffer_len=buffer_len), data, rows)


def test_global_entry_list_over_consecutive_datasets(data):
    # the last row of f0:ch1, every row of the next non-empty datasets, the first row after them
    rows = np.arange(6, 16)
    assert data.group_of_row[[6, 7, 15]].tolist() == ["ch1/hit", "ch3/hit", "ch1/hit"]
    assert_yields(data.iterator(entry_list=rows.tolist(), buffer_len=3), data, rows)


def test_global_entry_list_unsorted_and_as_array_or_series(data):
    rows = np.array([12, 0, 7, 6, 18, 11])
    expected = np.sort(rows)
    assert_yields(data.iterator(entry_list=rows, buffer_len=4), data, expected)
    assert_yields(data.iterator(entry_list=pd.Series(rows), buffer_len=4), data, expected)
    assert_yields(data.iterator(entry_list=list(rows), buffer_len=4), data, expected)


@pytest.mark.parametrize("seed", range(4))
def test_random_global_entry_lists(tmp_path, seed):
    rng = np.random.default_rng(seed)
    data = write_data(tmp_path, [[0, 9, 1], [4, 0, 13], [2, 2, 0]], seed=seed)
    rows = np.sort(rng.choice(len(data.k), size=rng.integers(1, len(data.k)), replace=False))
    assert_yields(data.iterator(entry_list=rows, buffer_len=int(rng.integers(1, 8))), data, rows)


def test_empty_entry_list(data):
    it = data.iterator(entry_list=np.zeros(0, dtype=int), buffer_len=3)
    assert len(it) == 0
    assert list(it) == []


def test_per_dataset_entry_lists(data):
    # one list per (file, group) dataset, empty ones for the empty datasets
    local = [[], [0, 6], [], [4], [0, 1, 2], [3], [], []]
    rows = np.concatenate(
        [np.asarray(loc, dtype=int) + off for loc, off in zip(local, data.offsets, strict=False)]
    )
    assert_yields(data.iterator(entry_list=local, buffer_len=2), data, rows)
    assert rows.tolist() == [0, 6, 11, 12, 13, 14, 18]


def test_global_entry_mask(data):
    mask = np.random.default_rng(3).random(len(data.k)) < 0.5
    mask[[0, -1]] = True
    assert_yields(data.iterator(entry_mask=mask, buffer_len=3), data, np.flatnonzero(mask))
    assert_yields(
        data.iterator(entry_mask=pd.Series(mask), buffer_len=3), data, np.flatnonzero(mask)
    )


def test_per_dataset_entry_mask(data):
    rng = np.random.default_rng(4)
    masks = [rng.random(n) < 0.6 for n in data.sizes]
    rows = np.flatnonzero(np.concatenate(masks))
    assert_yields(data.iterator(entry_mask=masks, buffer_len=2), data, rows)


def test_entry_list_and_mask_together_are_refused(data):
    with pytest.raises(ValueError, match="entry_list or entry_mask"):
        data.iterator(entry_list=[0], entry_mask=np.ones(len(data.k), bool))


# --- i_start, n_entries, len ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("i_start", "n_entries"), [(0, None), (5, None), (0, 4), (6, 9), (18, 5), (19, None), (25, 3)]
)
def test_i_start_and_n_entries(data, i_start, n_entries):
    stop = None if n_entries is None else i_start + n_entries
    rows = data.k[i_start:stop]
    it = data.iterator(i_start=i_start, n_entries=n_entries, buffer_len=4)
    assert_yields(it, data, rows)


def test_i_start_and_n_entries_count_selected_entries(data):
    rows = boundary_entries(data)  # 8 entries
    it = data.iterator(entry_list=rows, i_start=2, n_entries=3, buffer_len=2)
    assert_yields(it, data, rows[2:5])


def test_len_is_known_before_reading(data):
    assert len(data.iterator()) == 19
    assert len(data.iterator(entry_list=[0, 5])) == 2
    assert len(data.iterator(n_entries=100)) == 19
    assert data.iterator().n_datasets == 8


# --- random access --------------------------------------------------------------------------------------
def test_read_random_access(data):
    it = data.iterator(buffer_len=5)
    rng = np.random.default_rng(7)
    for _ in range(30):
        i = int(rng.integers(0, len(data.k) + 2))
        n = int(rng.integers(0, 9))
        tb = it.read(i, n)
        np.testing.assert_array_equal(tb["k"].nda, data.k[i : i + n])
        np.testing.assert_array_equal(it.current_global_entries, data.k[i : i + n])
        assert it.current_groups.tolist() == data.group_of_row[i : i + n].tolist()
    tb = it.read(3)  # default: buffer_len entries
    np.testing.assert_array_equal(tb["k"].nda, data.k[3:8])
    assert len(it.read(len(data.k))) == 0


def test_read_with_entry_list(data):
    rows = boundary_entries(data)
    it = data.iterator(entry_list=rows, buffer_len=10)
    for i in range(len(rows)):
        for n in range(len(rows) - i + 1):
            np.testing.assert_array_equal(it.read(i, n)["k"].nda, rows[i : i + n])


def test_read_between_iterations_does_not_disturb_them(data):
    it = data.iterator(buffer_len=4)
    got = []
    for tb in it:
        got.append(tb["k"].nda.copy())
    it.read(10, 3)
    got2 = [tb["k"].nda.copy() for tb in it]
    np.testing.assert_array_equal(np.concatenate(got), np.concatenate(got2))


def test_negative_entry_is_refused(data):
    with pytest.raises(LH5IndexError, match="negative"):
        data.iterator().read(-1)


# --- pickling ---------------------------------------------------------------------------------------------
def test_pickled_iterator_iterates_identically(data):
    rows = boundary_entries(data)
    it = data.iterator(entry_list=rows, buffer_len=2, i_start=1)
    copy = pickle.loads(pickle.dumps(it))
    a, b = collect(it), collect(copy)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert len(copy) == len(it) == 7


def test_pickled_mid_iteration_and_after_reading(data):
    it = data.iterator(buffer_len=3)
    next(iter(it))
    it.read(10, 2)
    copy = pickle.loads(pickle.dumps(it))
    assert_yields(copy, data, data.k)
    assert_yields(it, data, data.k)


def test_pickled_before_any_read_and_with_mask(data):
    mask = np.zeros(len(data.k), bool)
    mask[[1, 6, 7, 15]] = True
    copy = pickle.loads(pickle.dumps(data.iterator(entry_mask=mask, buffer_len=3)))
    assert_yields(copy, data, np.flatnonzero(mask))


# --- provenance ------------------------------------------------------------------------------------------
def test_provenance_of_one_chunk_across_files(data):
    it = data.iterator(buffer_len=100)
    tb = it.read(10, 5)  # rows 10, 11 of f0:ch3; 12, 13, 14 of f1:ch0
    assert tb["k"].nda.tolist() == [10, 11, 12, 13, 14]
    assert it.current_files.tolist() == [data.files[0]] * 2 + [data.files[1]] * 3
    assert it.current_groups.tolist() == ["ch3/hit"] * 2 + ["ch0/hit"] * 3
    assert it.current_local_entries.tolist() == [3, 4, 0, 1, 2]
    assert it.current_global_entries.tolist() == [10, 11, 12, 13, 14]
    assert it.current_i_entry == 10


def test_global_entries_count_rows_not_selected_entries(data):
    it = data.iterator(entry_list=[6, 7, 14], buffer_len=3)
    tb = next(iter(it))
    assert tb["k"].nda.tolist() == [6, 7, 14]
    assert it.current_global_entries.tolist() == [6, 7, 14]
    assert it.current_local_entries.tolist() == [6, 0, 2]
    assert it.current_i_entry == 0
