"""The reader accepts every variant of the conventions that real writers produce."""

from __future__ import annotations

import h5py
import hdf5plugin
import numpy as np
import pytest

from tierflow import lh5
from tierflow.lh5.read import enum_labels
from tierflow.types import ArrayOfEqualSizedArrays, Table, VectorOfVectors, WaveformTable


def _utf8(obj: h5py.HLObject, key: str, value: str) -> None:
    obj.attrs.create(key, value, dtype=h5py.string_dtype("utf-8"))


def _ascii(obj: h5py.HLObject, key: str, value: str) -> None:
    obj.attrs[key] = value.encode()


@pytest.fixture
def handmade(tmp_path):
    """A file written with plain h5py the way older and foreign writers do it."""
    path = tmp_path / "old.lh5"
    with h5py.File(path, "w") as f:  # root group without attributes
        g = f.create_group("ch1/raw")
        _utf8(g, "datatype", "table{t0,dt,values,energy,hits}")  # unsorted, UTF-8
        for name, data in (("t0", np.zeros(3, "f4")), ("dt", np.full(3, 16, "f4"))):
            g[name] = data  # contiguous datasets
            _utf8(g[name], "datatype", "array<1>{real}")
        g.create_dataset("values", data=np.arange(12, dtype="u2").reshape(3, 4), compression="lzf")
        _ascii(g["values"], "datatype", "array_of_equalsized_arrays<1,1>{real}")
        g.create_dataset(
            "energy",
            data=np.array([1.0, 2.0, 3.0]),
            chunks=(1,),
            maxshape=(None,),
            **hdf5plugin.Zstd(),
        )
        _ascii(g["energy"], "datatype", "array<1>{real}")
        _utf8(g["energy"], "units", "keV")
        v = g.create_group("hits")
        _ascii(v, "datatype", "array<1>{array<1>{real}}")
        v["cumulative_length"] = np.array([2, 2, 5], "uint32")  # older writers: uint32
        _ascii(v["cumulative_length"], "datatype", "array<1>{real}")
        v.create_dataset("flattened_data", data=np.arange(5, dtype="i2"), **hdf5plugin.Blosc())
        _ascii(v["flattened_data"], "datatype", "array<1>{real}")
        f["alias"] = f["ch1/raw"]  # hard link
        f["state"] = np.array([0, 1, 2, 1], "u1")
        _ascii(f["state"], "datatype", "array<1>{enum{off=0,on=1,error=2}}")
    return path


def test_old_style_table(handmade):
    tb = lh5.read("ch1/raw", handmade)
    assert isinstance(tb, Table) and len(tb) == 3
    assert tb["energy"].nda.tolist() == [1.0, 2.0, 3.0]
    assert tb["energy"].attrs["units"] == "keV"
    assert tb["hits"].view_as("ak").tolist() == [[0, 1], [], [2, 3, 4]]
    assert tb["hits"].flattened_data.dtype == np.int16
    assert tb["values"].nda[2].tolist() == [8, 9, 10, 11]
    assert isinstance(tb["values"], ArrayOfEqualSizedArrays)


def test_unsorted_waveform_fields_make_a_table_not_a_waveform_table(handmade):
    # five fields: not a waveform table; the sub-selection t0, dt, values is one
    wf = lh5.read("ch1/raw", handmade, field_mask=["t0", "dt", "values"])
    assert isinstance(wf, WaveformTable) and wf.wf_len == 4


def test_root_without_attributes_and_hard_link(handmade):
    assert lh5.ls(handmade) == ["alias", "ch1", "state"]
    assert lh5.read("alias", handmade) == lh5.read("ch1/raw", handmade)
    whole = lh5.read("/", handmade)
    assert set(whole.keys()) == {"alias", "ch1", "state"}


def test_partial_reads_of_old_style_vectors(handmade):
    hits = lh5.read("ch1/raw/hits", handmade, start_row=1)
    assert hits.view_as("ak").tolist() == [[], [2, 3, 4]]
    hits = lh5.read("ch1/raw/hits", handmade, idx=[2, 0])
    assert hits.view_as("ak").tolist() == [[2, 3, 4], [0, 1]]


def test_enum(handmade):
    state = lh5.read("state", handmade)
    assert state.nda.tolist() == [0, 1, 2, 1]
    assert enum_labels(state) == {0: "off", 1: "on", 2: "error"}


@pytest.mark.parametrize("compression", [False, "gzip", "lzf", "zstd", "lz4", "blosc"])
def test_filters_round_trip(tmp_path, compression):
    path = tmp_path / "f.lh5"
    tb = Table({"a": np.arange(1000, dtype="f4"), "v": VectorOfVectors([[1, 2]] * 1000)})
    lh5.write(tb, "tb", path, compression=compression)
    assert lh5.read("tb", path) == tb
    with h5py.File(path) as f:
        assert (f["tb/a"].id.get_create_plist().get_nfilters() > 0) == bool(compression)


def test_chunks_hold_whole_waveforms_whatever_the_first_write(tmp_path):
    path = tmp_path / "f.lh5"
    lh5.write(
        WaveformTable(values=np.zeros((1, 8192), "uint16")), "wf", path
    )  # a one-row first write
    for _ in range(3):
        lh5.write(WaveformTable(values=np.ones((100, 8192), "uint16")), "wf", path)
    with h5py.File(path) as f:
        chunks = f["wf/values"].chunks
        assert chunks[1] == 8192 and chunks[0] > 1
        assert f["wf/t0"].chunks[0] > 1000
    assert len(lh5.read("wf", path)) == 301


def test_written_attributes_are_ascii_and_fields_sorted(tmp_path):
    path = tmp_path / "f.lh5"
    lh5.write(Table({"z": np.arange(2), "a": np.array([True, False])}), "tb", path)
    with h5py.File(path) as f:
        attr = h5py.h5a.open(f["tb"].id, b"datatype")
        assert attr.get_type().get_cset() == h5py.h5t.CSET_ASCII
        assert f["tb"].attrs["datatype"] == "table{a,z}"
        assert f["tb/a"].dtype == np.uint8 and f["tb/a"].attrs["datatype"] == "array<1>{bool}"
        assert f["tb/a"].maxshape == (None,)
        assert f.attrs["datatype"] == "struct{tb}"
