"""LH5Store keeps files open and stays correct across writes."""

from __future__ import annotations

from unittest import mock

import h5py
import numpy as np

from testdata import DSP_CAL
from tierflow import lh5
from tierflow.lh5 import LH5Store
from tierflow.types import Array, Table


def test_repeated_reads_open_the_file_once():
    store = LH5Store()
    with mock.patch("tierflow.lh5.store.open_file", wraps=lh5.files.open_file) as opener:
        for start in range(5):
            assert (
                len(store.read("ch1084803/dsp/trapEmax", DSP_CAL[0], start_row=start, n_rows=2))
                == 2
            )
        store.read_n_rows("ch1084803/dsp", DSP_CAL[0])
    assert opener.call_count == 1
    store.close()
    assert not store.files


def test_list_of_files_and_base_path():
    store = LH5Store(base_path=DSP_CAL[0].parent)
    names = [p.name for p in DSP_CAL]
    both = store.read("ch1084803/dsp/trapEmax", names)
    one = store.read("ch1084803/dsp/trapEmax", names[0])
    assert len(both) == 2 * len(one)
    np.testing.assert_array_equal(both.nda[: len(one)], one.nda)


def test_write_then_read_sees_new_rows(tmp_path):
    with LH5Store(base_path=tmp_path) as store:
        store.write(Table({"a": np.arange(3)}), "tb", "f.lh5")
        assert store.read_n_rows("tb", "f.lh5") == 3
        store.write(Table({"a": np.arange(2)}), "tb", "f.lh5")
        assert store.read("tb/a", "f.lh5").nda.tolist() == [0, 1, 2, 0, 1]


def test_open_h5py_file_is_accepted(tmp_path):
    path = tmp_path / "f.lh5"
    lh5.write(Array(np.arange(4)), "a", path)
    with h5py.File(path) as f:
        assert LH5Store().read("a", f, idx=[3, 0]).nda.tolist() == [3, 0]
