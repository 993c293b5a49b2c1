"""Rows written onto a stored object of another kind are refused with a message that says so
(not a raw ``AttributeError`` or ``IndexError`` from deep inside the writer), and the file is
left as it was."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tierflow import lh5
from tierflow.errors import LH5WriteError
from tierflow.types import Array, Scalar, Table


def snapshot(path) -> dict:
    with h5py.File(path, "r") as f:
        out = {}
        f.visititems(lambda name, obj: out.__setitem__(name, dict(obj.attrs)))
        return out


@pytest.mark.parametrize("mode, write_start", [("append", 0), ("overwrite", 1)])
def test_table_rows_onto_a_stored_array_are_refused(tmp_path, mode, write_start):
    path = tmp_path / "f.lh5"
    lh5.write(Array(np.arange(3.0)), "tb", path)
    before = snapshot(path)
    with pytest.raises(LH5WriteError, match=r"exists as a dataset .* not a table") as err:
        lh5.write(Table({"a": np.arange(2)}), "tb", path, wo_mode=mode, write_start=write_start)
    assert err.value.obj == "/tb"
    assert snapshot(path) == before


@pytest.mark.parametrize("mode, write_start", [("append", 0), ("overwrite", 1)])
def test_array_rows_onto_a_stored_scalar_are_refused(tmp_path, mode, write_start):
    path = tmp_path / "f.lh5"
    lh5.write(Scalar(1.5), "x", path)
    with pytest.raises(LH5WriteError, match="exists as a scalar") as err:
        lh5.write(Array(np.arange(2.0)), "x", path, wo_mode=mode, write_start=write_start)
    assert err.value.obj == "/x"
    assert lh5.read("x", path).value == 1.5
