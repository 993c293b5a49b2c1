"""Bad input gets a tierflow error naming the file and object, and writes never lose data."""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest

from testdata import DSP_CAL
from tierflow import lh5
from tierflow.errors import (
    LH5DecodeError,
    LH5FileError,
    LH5IndexError,
    LH5ObjectNotFoundError,
    LH5WriteError,
    TierflowError,
)
from tierflow.types import Array, Table, VectorOfVectors

DSP = DSP_CAL[0]


def test_not_hdf5(tmp_path):
    path = tmp_path / "notes.lh5"
    path.write_text("not an hdf5 file")
    with pytest.raises(LH5FileError, match="not an HDF5 file") as err:
        lh5.read("x", path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(LH5FileError, match="no such file"):
        lh5.read("x", tmp_path / "absent.lh5")


def test_truncated_file(tmp_path):
    path = tmp_path / "cut.lh5"
    path.write_bytes(DSP.read_bytes()[: DSP.stat().st_size // 3])
    with pytest.raises((LH5FileError, LH5DecodeError)) as err:
        lh5.read("ch1084803/dsp", path)
    assert str(path) in str(err.value)


def test_truncated_after_metadata(tmp_path):
    """Metadata intact, data cut off: the read fails naming the object, not with an h5py trace."""
    path = tmp_path / "cut.lh5"
    lh5.write(Table({"a": np.arange(200_000.0)}), "tb", path, compression=False)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size - 100_000)
    with pytest.raises(TierflowError) as err:
        lh5.read("tb", path)
    assert str(path) in str(err.value)


def test_dataset_without_datatype(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(3)
    with pytest.raises(LH5DecodeError, match="no 'datatype'") as err:
        lh5.read("data", path)
    assert "/data" in str(err.value) and str(path) in str(err.value)


def test_unknown_datatype(tmp_path):
    path = tmp_path / "odd.lh5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
        f["x"].attrs["datatype"] = "tensor<3>{quaternion}"
    with pytest.raises(LH5DecodeError, match=r"unknown datatype 'tensor<3>\{quaternion\}'") as err:
        lh5.read("x", path)
    assert "/x" in str(err.value)


def test_missing_object_lists_what_exists():
    with pytest.raises(LH5ObjectNotFoundError, match=r"no object 'hit'.*\['dsp'\]") as err:
        lh5.read("ch1084803/hit", DSP)
    assert str(DSP) in str(err.value)
    with pytest.raises(KeyError):  # also a KeyError, as dict users expect
        lh5.read("ch9999999/dsp", DSP)


def test_field_mask_names_absent_field():
    with pytest.raises(LH5ObjectNotFoundError, match=r"absent field\(s\) \['trapEnergy'\]") as err:
        lh5.read("ch1084803/dsp", DSP, field_mask=["trapEmax", "trapEnergy"])
    assert "trapEmax" in str(err.value)  # the existing fields are listed


@pytest.mark.parametrize("idx", [[0, 10], [-1], np.ones(11, bool)])
def test_idx_out_of_range(idx):
    with pytest.raises(LH5IndexError, match="ch1084803/dsp"):
        lh5.read("ch1084803/dsp", DSP, idx=idx)


def test_unicode_strings_are_stored_as_bytes(tmp_path):
    path = tmp_path / "s.lh5"
    lh5.write(Array(np.array(["ge", "sipm", "µ"])), "names", path)
    out = lh5.read("names", path)
    assert out.dtype.kind == "S"
    assert out.nda.tolist() == [b"ge", b"sipm", "µ".encode()]


def test_object_dtype_is_refused_cleanly(tmp_path):
    path = tmp_path / "o.lh5"
    with pytest.raises((LH5WriteError, TypeError)):
        lh5.write(Array(np.array([{}, []], dtype=object)), "x", path)
    assert not path.exists()
    assert not [p for p in os.listdir(tmp_path) if "tmp" in p]


def test_failed_new_file_leaves_nothing(tmp_path):
    path = tmp_path / "new.lh5"
    bad = Table({"a": np.arange(3), "b": np.arange(3)})
    bad["b"].nda = np.array([np.datetime64("2020-01-01")] * 3)
    with pytest.raises(LH5WriteError, match="datetime64") as err:
        lh5.write(bad, "tb", path)
    assert "/tb/b" in str(err.value)
    assert os.listdir(tmp_path) == []


def test_failed_overwrite_file_keeps_old_file(tmp_path):
    path = tmp_path / "f.lh5"
    lh5.write(Table({"a": np.arange(3)}), "tb", path)
    before = path.read_bytes()
    bad = Table({"a": np.arange(3), "b": np.arange(3)})
    bad["b"].nda = np.array([np.datetime64("2020-01-01")] * 3)
    with pytest.raises(LH5WriteError):
        lh5.write(bad, "tb", path, wo_mode="overwrite_file")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["f.lh5"]


def test_failed_append_leaves_earlier_rows_intact(tmp_path):
    path = tmp_path / "f.lh5"
    first = Table(
        {"a": np.arange(5.0), "v": VectorOfVectors([[1], [2, 3], [], [4], [5]]), "z": np.arange(5)}
    )
    lh5.write(first, "tb", path)
    # columns a and v append fine, then z cannot take strings: everything must be rolled back
    second = Table(
        {"a": np.arange(2.0), "v": VectorOfVectors([[9], [9]]), "z": np.array([b"x", b"y"])}
    )
    with pytest.raises(LH5WriteError, match="/tb/z"):
        lh5.write(second, "tb", path)
    back = lh5.read("tb", path)
    assert back == first
    with h5py.File(path) as f:
        assert f["tb/a"].shape == (5,)
        assert not [k for k in f["tb"] if "replaced" in k]


def test_append_with_other_columns_is_refused(tmp_path):
    path = tmp_path / "f.lh5"
    lh5.write(Table({"a": np.arange(3)}), "tb", path)
    with pytest.raises(LH5WriteError, match=r"columns \['b'\].*\['a'\]"):
        lh5.write(Table({"b": np.arange(3)}), "tb", path)
    assert lh5.read("tb/a", path).nda.tolist() == [0, 1, 2]


def test_append_column_length_mismatch(tmp_path):
    path = tmp_path / "f.lh5"
    lh5.write(Table({"a": np.arange(3)}), "tb", path)
    with pytest.raises(LH5WriteError, match="2 rows but the table has 3"):
        lh5.write(Table({"b": np.arange(2)}), "tb", path, wo_mode="append_column")
    with pytest.raises(LH5WriteError, match=r"\['a'\] exist already"):
        lh5.write(Table({"a": np.arange(3)}), "tb", path, wo_mode="append_column")
    lh5.write(Table({"b": np.arange(3) * 2}), "tb", path, wo_mode="append_column")
    assert lh5.read("tb", path).view_as("pd")["b"].tolist() == [0, 2, 4]


def test_write_safe_refuses_to_replace(tmp_path):
    path = tmp_path / "f.lh5"
    lh5.write(Array(np.arange(3)), "a", path)
    with pytest.raises(LH5WriteError, match="exists"):
        lh5.write(Array(np.arange(3)), "a", path, wo_mode="write_safe")


def test_unknown_wo_mode(tmp_path):
    with pytest.raises(LH5WriteError, match="unknown wo_mode 'sideways'"):
        lh5.write(Array(np.arange(3)), "a", tmp_path / "f.lh5", wo_mode="sideways")


def test_unknown_codec(tmp_path):
    from tierflow.types import WaveformTable

    wf = WaveformTable(values=np.zeros((2, 4), "uint16"))
    with pytest.raises(TierflowError, match="radware_sigcompress"):
        lh5.write(wf, "wf", tmp_path / "f.lh5", codecs={"values": "zip_it"})
    assert not (tmp_path / "f.lh5").exists()


def test_reading_a_read_only_copy_works(tmp_path):
    path = tmp_path / "ro.lh5"
    shutil.copy(DSP, path)
    path.chmod(0o444)
    assert len(lh5.read("ch1084803/dsp/trapEmax", path)) == 10
