"""The fast paths for whole tables: ``lh5.write`` of a new table (:mod:`tierflow.lh5.serial.create`)
and the planned table reads of ``build_dsp`` (:mod:`tierflow.lh5.tablereader`).

Each must give what the general path gives: the same file objects, HDF5 types, attributes,
chunking and filters (only the compressed bytes of a chunk may differ, never what they
inflate to), and the same objects read back, by tierflow and by LEGEND's reader.
"""

from __future__ import annotations

import importlib
import os
import re
import zlib
from typing import Any

import h5py
import numpy as np
import pytest

from tierflow import lh5
from tierflow.errors import LH5ObjectNotFoundError, LH5WriteError
from tierflow.lh5.serial import create as fastcreate
from tierflow.lh5.serial import general_path_only
from tierflow.lh5.serial.deflate import deflated_chunk
from tierflow.lh5.tablereader import TableReader
from tierflow.types import (
    Array,
    ArrayOfDetectorIDs,
    ArrayOfEqualSizedArrays,
    FixedSizeArray,
    Scalar,
    Struct,
    Table,
    VectorOfVectors,
    WaveformTable,
)

write_module = importlib.import_module("tierflow.lh5.write")


# --- helpers ------------------------------------------------------------------------------------
def describe(path: str | os.PathLike) -> dict[str, Any]:
    """Everything about a file's objects that the writer decides: groups and their members,
    datasets' HDF5 type, shape, chunks, filters and creation properties, every attribute with
    its HDF5 type and value, and the data."""
    out: dict[str, Any] = {}
    with h5py.File(path, "r") as f:

        def attrs(obj: Any) -> dict:
            res = {}
            for i in range(h5py.h5a.get_num_attrs(obj.id)):
                attr = h5py.h5a.open(obj.id, index=i)
                t = attr.get_type()
                string = isinstance(t, h5py.h5t.TypeStringID)
                kind = (
                    t.get_class(),
                    t.get_size(),
                    t.is_variable_str() if string else None,
                    t.get_cset() if string else None,
                    t.get_strpad() if string else None,
                    attr.get_space().get_simple_extent_type(),
                    attr.shape,
                    str(attr.dtype),
                )
                value = obj.attrs[attr.name.decode()]
                res[attr.name.decode()] = (
                    kind,
                    value.tolist() if hasattr(value, "tolist") else value,
                )
            return res

        def visit(name: str, obj: Any) -> None:
            pl = obj.id.get_create_plist()
            header = h5py.h5o.get_info(obj.id).hdr.version  # the format of the object
            if isinstance(obj, h5py.Dataset):
                t = obj.id.get_type()
                out[name] = (
                    "dataset",
                    str(obj.dtype),
                    t.get_class(),
                    t.get_size(),
                    t.get_order() if hasattr(t, "get_order") else None,
                    obj.shape,
                    obj.maxshape,
                    obj.chunks,
                    [pl.get_filter(i) for i in range(pl.get_nfilters())],
                    pl.get_layout(),
                    pl.get_alloc_time(),
                    pl.get_fill_time(),
                    pl.fill_value_defined(),
                    pl.get_obj_track_times(),
                    pl.get_attr_creation_order(),
                    header,
                    attrs(obj),
                    obj[()].tobytes(),
                )
            else:
                out[name] = (
                    "group",
                    list(obj.keys()),
                    pl.get_link_creation_order(),
                    pl.get_attr_creation_order(),
                    pl.get_obj_track_times(),
                    header,
                    attrs(obj),
                )

        out["/"] = ("root", list(f.keys()), attrs(f))
        f.visititems(visit)
    return out


def assert_same_file(a: Any, b: Any) -> None:
    da, db = describe(a), describe(b)
    assert list(da) == list(db)
    for name in da:
        assert da[name] == db[name], name


@pytest.fixture
def fresh_templates(monkeypatch) -> None:
    """No table templates from earlier tests."""
    monkeypatch.setattr(fastcreate, "_template_files", [])
    monkeypatch.setattr(fastcreate, "_template_file_of", {})


@pytest.fixture
def copies(monkeypatch) -> list:
    """Records each table copied from a template."""
    calls: list = []
    original = fastcreate.h5o.copy

    def spy(*args, **kwargs):
        calls.append(args[3])
        return original(*args, **kwargs)

    monkeypatch.setattr(fastcreate.h5o, "copy", spy)
    return calls


@pytest.fixture
def fast_calls(monkeypatch) -> list:
    """Records each fast-path write."""
    calls: list = []
    original = fastcreate.write_new

    def spy(parent, node, *args):
        calls.append(node.name.decode())
        return original(parent, node, *args)

    monkeypatch.setattr(fastcreate, "write_new", spy)
    return calls


def write_general(obj: Any, name: str, path: Any, **kwargs: Any) -> None:
    """``lh5.write`` with the fast path switched off."""
    with general_path_only():
        lh5.write(obj, name, path, **kwargs)


def sample_table(n: int, seed: int = 0) -> Table:
    """Columns of every kind the fast path writes, with attributes of every kind."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 4, n)
    inner = rng.integers(0, 3, int(lengths.sum()))
    return Table(
        {
            "energy": Array(
                rng.random(n).astype("f4"), attrs={"units": "keV", "description": "énergie µ"}
            ),
            "timestamp": Array(rng.random(n), attrs={"units": "s"}),
            "counts": Array(np.arange(n, dtype="u2")),
            "small": Array(np.arange(n, dtype="i1")),
            "big": Array(np.arange(n, dtype="u8") * 2**40),
            "flag": Array(rng.random(n) > 0.5),
            "numbers": Array(
                np.arange(n, dtype="i4"),
                attrs={"i": 3, "f": 2.5, "b": True, "f32": np.float32(1.5), "i16": np.int16(-2)},
            ),
            "raw_bytes": Array(np.zeros(n, "f8"), attrs={"note": b"bytes value"}),
            "wf": WaveformTable(
                values=rng.integers(0, 1000, (n, 50)).astype("u2"),
                dt=16,
                dt_units="ns",
                t0_units="ns",
            ),
            "aoesa": ArrayOfEqualSizedArrays(nda=rng.random((n, 3))),
            "fixed": FixedSizeArray(np.arange(n, dtype="f4")),
            "ids": ArrayOfDetectorIDs(np.arange(n, dtype="u4") + 1084800),
            "vov": VectorOfVectors(
                flattened_data=rng.random(int(lengths.sum())),
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
            "sub": Table({"x": np.arange(n, dtype="f4"), "y": np.arange(n, dtype="i8")}),
            "µ_column": Array(np.ones(n, "f4")),
        }
    )


# --- writing: the same file as the general writer --------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 300, 40000])
@pytest.mark.parametrize(
    "compression",
    [
        None,
        False,
        "lzf",
        "zstd",
        {"compression": "gzip", "compression_opts": 9, "shuffle": True},
        {"compression": "gzip"},
        {"compression": "gzip", "compression_opts": 4, "shuffle": True, "fletcher32": True},
    ],
    ids=["default", "none", "lzf", "zstd", "gzip9", "gzip-noshuffle", "fletcher32"],
)
def test_fast_path_file_equals_general_path_file(tmp_path, fast_calls, n, compression):
    table = sample_table(n)
    fast, general = tmp_path / "fast.lh5", tmp_path / "general.lh5"
    for name in ("ch1/dsp", "ch2/dsp", "deep/a/b/table"):
        lh5.write(table, name, fast, compression=compression)
        write_general(table, name, general, compression=compression)
    assert fast_calls == ["dsp", "dsp", "table"]
    assert_same_file(fast, general)
    assert set(lh5.ls(fast)) == {"ch1", "ch2", "deep"}


def test_into_an_open_file_with_other_chunk_sizes(tmp_path, fast_calls):
    fast, general = tmp_path / "fast.lh5", tmp_path / "general.lh5"
    for path, writer in ((fast, lh5.write), (general, write_general)):
        with h5py.File(path, "w") as h5f:
            for i, n in enumerate((2, 5, 1000)):
                writer(sample_table(n, i), f"ch{i}/hit", h5f, wo_mode="append", chunk_bytes=4096)
            writer(sample_table(3), "tb", h5f, group="grp", wo_mode="w")
    assert len(fast_calls) == 4
    assert_same_file(fast, general)


# --- tables copied from templates ---------------------------------------------------------------
@pytest.mark.parametrize(
    "file_kwargs",
    [{}, {"libver": "latest"}, {"track_order": True}],
    ids=["default", "libver-latest", "track-order"],
)
def test_tables_copied_from_templates_equal_the_general_paths(
    tmp_path, fresh_templates, copies, file_kwargs
):
    # the same form again and again, with rows that grow, shrink, vanish and come back
    rows = [2, 2, 5, 1, 0, 3, 3, 1]
    fast, general = tmp_path / "fast.lh5", tmp_path / "general.lh5"
    for path, writer in ((fast, lh5.write), (general, write_general)):
        with h5py.File(path, "w", **file_kwargs) as h5f:
            for i, n in enumerate(rows):
                writer(sample_table(n, i), f"ch{i}/dsp", h5f, wo_mode="append")
    assert copies == [b"dsp"] * len(rows)
    assert_same_file(fast, general)
    for i, n in enumerate(rows):
        back = lh5.read(f"ch{i}/dsp", fast)
        assert len(back) == n
        assert (
            back["vov"].view_as("ak").tolist() == sample_table(n, i)["vov"].view_as("ak").tolist()
        )


def test_templates_follow_the_destination_files_format(tmp_path, fresh_templates, copies):
    # two files of different formats written in turn: each gets objects of its own format
    paths = {"old": tmp_path / "old.lh5", "new": tmp_path / "new.lh5"}
    general = {k: tmp_path / f"general-{k}.lh5" for k in paths}
    libver = {"old": "earliest", "new": "latest"}
    for i in range(3):
        for kind, path in paths.items():
            with h5py.File(path, "a", libver=libver[kind]) as h5f:
                lh5.write(sample_table(2, i), f"ch{i}/dsp", h5f)
            with h5py.File(general[kind], "a", libver=libver[kind]) as h5f:
                write_general(sample_table(2, i), f"ch{i}/dsp", h5f)
    assert len(copies) == 6
    for kind, path in paths.items():
        assert_same_file(path, general[kind])


def test_tables_not_all_small_are_written_object_by_object(tmp_path, fresh_templates, copies):
    fast, general = tmp_path / "fast.lh5", tmp_path / "general.lh5"
    for i in range(3):
        # a: in half its first chunk, b: beyond it
        table = Table({"a": np.arange(5000, dtype="u1"), "b": np.arange(5000.0)})
        lh5.write(table, f"ch{i}/dsp", fast)
        write_general(table, f"ch{i}/dsp", general)
    assert copies == []
    assert_same_file(fast, general)


def test_legends_reader_reads_tables_copied_from_templates(tmp_path, fresh_templates, copies):
    legend = pytest.importorskip("lh5")
    fast, general = tmp_path / "fast.lh5", tmp_path / "general.lh5"
    for i in range(3):
        lh5.write(sample_table(4, i), f"ch{i}/dsp", fast)
        write_general(sample_table(4, i), f"ch{i}/dsp", general)
    assert len(copies) == 3
    for i in range(3):
        name = f"ch{i}/dsp"
        assert_same_legend(legend.read(name, str(fast)), legend.read(name, str(general)), name)


def test_many_forms_drop_old_templates(tmp_path, fresh_templates, copies, monkeypatch):
    monkeypatch.setattr(fastcreate, "_TEMPLATES_MAX", 2)
    fast, general = tmp_path / "fast.lh5", tmp_path / "general.lh5"
    for i in range(4):
        for form in range(3):  # three forms, templates for two at a time
            table = Table({f"c{form}": np.arange(2.0) + i})
            lh5.write(table, f"ch{i}/f{form}", fast)
            write_general(table, f"ch{i}/f{form}", general)
    assert len(copies) == 12
    assert_same_file(fast, general)


@pytest.mark.parametrize("rows", [(2, 3, 2), (0, 2), (2, 0, 1)])
def test_a_files_bytes_do_not_depend_on_earlier_writes(tmp_path, monkeypatch, rows):
    # the first table of a form is copied from its template as the others are, and a template
    # copies alike whatever data it held before (tables without rows included)
    def write_file(path: Any, rows: tuple[int, ...]) -> bytes:
        with h5py.File(path, "w") as h5f:
            writer = write_module.BatchWriter(h5f)
            for i, n in enumerate(rows):
                writer.write(sample_table(n, i), f"ch{i}/dsp")
            writer.close()
        return path.read_bytes()

    files = []
    for before in ((), rows, (5, 0, 1, 7)):
        monkeypatch.setattr(fastcreate, "_template_files", [])
        monkeypatch.setattr(fastcreate, "_template_file_of", {})
        write_file(tmp_path / "before.lh5", before)
        files.append(write_file(tmp_path / "file.lh5", rows))
    assert files[1] == files[0] and files[2] == files[0]


def test_fast_path_tables_read_back_equal(tmp_path):
    table = sample_table(7)
    path = tmp_path / "f.lh5"
    lh5.write(table, "tb", path)
    back = lh5.read("tb", path)
    assert sorted(back.keys()) == sorted(table.keys())
    assert back["energy"].attrs["units"] == "keV"
    assert back["energy"].nda.tolist() == table["energy"].nda.tolist()
    assert back["vovov"].view_as("ak").tolist() == table["vovov"].view_as("ak").tolist()
    assert (
        back["flag"].nda.dtype == bool and back["flag"].nda.tolist() == table["flag"].nda.tolist()
    )
    assert back["wf"]["values"].nda.tolist() == table["wf"]["values"].nda.tolist()


def test_legends_reader_reads_the_fast_path_file(tmp_path):
    legend = pytest.importorskip("lh5")  # LEGEND's reader (lgdo.lh5 moved to legend-lh5io)
    table = sample_table(11)
    fast, general = tmp_path / "fast.lh5", tmp_path / "general.lh5"
    lh5.write(table, "ch1/dsp", fast)
    write_general(table, "ch1/dsp", general)
    a, b = legend.read("ch1/dsp", str(fast)), legend.read("ch1/dsp", str(general))
    assert_same_legend(a, b, "ch1/dsp")
    assert a["energy"].attrs["units"] == "keV"
    np.testing.assert_array_equal(a["energy"].nda, table["energy"].nda)
    np.testing.assert_array_equal(a["wf"]["values"].nda, table["wf"]["values"].nda)


def without_paths(err: Exception) -> str:
    return re.sub(r"\S*\.lh5\S*", "FILE", str(err))


def assert_same_legend(a: Any, b: Any, where: str) -> None:
    assert type(a) is type(b), where
    assert a.attrs == b.attrs, where
    if hasattr(a, "keys"):
        assert list(a.keys()) == list(b.keys()), where
        for key in a:
            assert_same_legend(a[key], b[key], f"{where}/{key}")
    elif hasattr(a, "cumulative_length"):
        assert_same_legend(a.flattened_data, b.flattened_data, f"{where}.flattened_data")
        assert_same_legend(a.cumulative_length, b.cumulative_length, f"{where}.cumulative_length")
    else:
        assert a.nda.dtype == b.nda.dtype, where
        np.testing.assert_array_equal(a.nda, b.nda)


@pytest.mark.parametrize(
    "make, kwargs",
    [
        (lambda: Table({"a": np.arange(3.0), "s": Array(np.array(["x", "yy", "z"]))}), {}),
        (lambda: Struct({"a": Array(np.arange(3.0)), "s": Scalar(1.5)}), {}),
        (
            lambda: Table({"wf": WaveformTable(values=np.zeros((3, 40), "u2"), dt=16)}),
            {"codecs": {"wf/values": "radware_sigcompress"}},
        ),
        (
            lambda: Table(
                {"v": Array(np.arange(3.0), attrs={"compression": "uleb128_zigzag_diff"})}
            ),
            {},
        ),
        (lambda: Table({"a": Array(np.arange(3.0), attrs={"bad": [1, 2]})}), {}),
        (lambda: Table({"c": Array(np.arange(3) + 1j)}), {}),
        (lambda: Table({"be": Array(np.arange(3, dtype=">f4"))}), {}),
    ],
    ids=["strings", "scalar", "codec", "codec-attr", "list-attr", "complex", "big-endian"],
)
def test_what_the_fast_path_leaves_to_the_general_writer(tmp_path, fast_calls, make, kwargs):
    fast, general = tmp_path / "fast.lh5", tmp_path / "general.lh5"
    try:
        lh5.write(make(), "obj", fast, **kwargs)
    except LH5WriteError as err:
        with pytest.raises(LH5WriteError) as again:
            write_general(make(), "obj", general, **kwargs)
        assert without_paths(again.value) == without_paths(err)
        assert not fast.exists()
    else:
        write_general(make(), "obj", general, **kwargs)
        assert_same_file(fast, general)
    assert fast_calls == []


def test_existing_objects_go_the_general_way(tmp_path, fast_calls):
    path = tmp_path / "f.lh5"
    lh5.write(Table({"a": np.arange(3.0)}), "tb", path)
    lh5.write(Table({"a": np.arange(2.0)}), "tb", path)  # append
    lh5.write(Table({"b": np.arange(5.0)}), "tb", path, wo_mode="ac")
    lh5.write(Table({"a": np.arange(1.0), "b": np.arange(1.0)}), "tb", path, wo_mode="o")
    with pytest.raises(LH5WriteError, match="exists"):
        lh5.write(Table({"a": np.arange(3.0)}), "tb", path, wo_mode="w")
    assert fast_calls == ["tb"]
    assert lh5.read("tb", path)["a"].nda.tolist() == [0.0]


@pytest.mark.parametrize("earlier", [0, 1], ids=["new-template", "from-template"])
def test_a_failed_fast_write_leaves_the_file_as_it_was(
    tmp_path, monkeypatch, fresh_templates, earlier
):
    path = tmp_path / "f.lh5"
    lh5.write(sample_table(3), "ch1/dsp", path, compression="lzf")  # another form
    before = describe(path)
    for i in range(earlier):  # the same form written before, elsewhere
        lh5.write(sample_table(3, i), "ch1/dsp", tmp_path / f"earlier{i}.lh5")
    calls = {"n": 0}
    original = fastcreate._write_data

    def failing(*args):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        return original(*args)

    monkeypatch.setattr(fastcreate, "_write_data", failing)
    with pytest.raises(LH5WriteError, match="disk full"):
        lh5.write(sample_table(3), "ch2/dsp", path)
    assert calls["n"] == 5
    assert describe(path) == before
    calls["n"] = 0
    with h5py.File(path, "a") as h5f:  # an open file: rolled back as well
        with pytest.raises(LH5WriteError, match="disk full"):
            lh5.write(sample_table(3), "ch3/dsp", h5f)
        assert sorted(h5f.keys()) == ["ch1"]
    monkeypatch.setattr(fastcreate, "_write_data", original)
    lh5.write(sample_table(3), "ch2/dsp", path)  # and written right afterwards
    general = tmp_path / "general.lh5"
    write_general(sample_table(3), "ch1/dsp", general, compression="lzf")
    write_general(sample_table(3), "ch2/dsp", general)
    assert_same_file(path, general)


def test_no_flush_after_a_fast_write_into_an_open_file(tmp_path, monkeypatch):
    flushes = []
    original = h5py.File.flush
    monkeypatch.setattr(h5py.File, "flush", lambda self: (flushes.append(1), original(self)))
    with h5py.File(tmp_path / "f.lh5", "w") as h5f:
        lh5.write(sample_table(2), "ch1/dsp", h5f)
        assert flushes == []
        lh5.write(Table({"s": Array(np.array(["a", "b"]))}), "ch2/dsp", h5f)  # general path
        assert flushes == [1]
    assert lh5.read("ch1/dsp/energy", tmp_path / "f.lh5").nda.shape == (2,)


# --- the ready-compressed chunks ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["u1", "i2", "f4", "f8", "u8"])
@pytest.mark.parametrize("n", [1, 2, 17, 256, 257, 3000])
@pytest.mark.parametrize("level", [0, 1, 4, 9])
def test_deflated_chunk_inflates_to_the_shuffled_padded_chunk(dtype, n, level):
    rng = np.random.default_rng(n)
    data = (rng.random((n, 3)) * 1000).astype(dtype)
    chunk_rows = 4096
    chunk = deflated_chunk(data, chunk_rows * 3, level)
    padded = np.zeros((chunk_rows, 3), dtype)
    padded[:n] = data
    k = padded.dtype.itemsize
    shuffled = padded.reshape(-1).view(np.uint8).reshape(-1, k).T.tobytes()
    assert zlib.decompress(chunk) == shuffled


def test_chunks_on_disk_are_whole_and_unmasked(tmp_path):
    path = tmp_path / "f.lh5"
    lh5.write(Table({"a": np.arange(2, dtype="f4"), "w": np.ones((2, 7), "u2")}), "tb", path)
    with h5py.File(path, "r") as h5f:
        for name, itemsize in (("tb/a", 4), ("tb/w", 2)):
            ds = h5f[name]
            mask, stored = ds.id.read_direct_chunk((0,) * ds.ndim)
            assert mask == 0
            assert len(zlib.decompress(stored)) == int(np.prod(ds.chunks)) * itemsize
            assert len(stored) < 300


# --- reading: TableReader gives what lh5.read gives ---------------------------------------------
def assert_same_object(a: Any, b: Any, where: str = "") -> None:
    assert type(a) is type(b), where
    assert a.attrs == b.attrs and list(a.attrs) == list(b.attrs), where
    if isinstance(a, Struct):
        assert list(a.keys()) == list(b.keys()), where
        assert len(a) == len(b), where
        for key in a:
            assert_same_object(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, VectorOfVectors):
        assert_same_object(a.flattened_data, b.flattened_data, f"{where}.flattened_data")
        assert_same_object(a.cumulative_length, b.cumulative_length, f"{where}.cumulative_length")
    else:
        assert a.nda.dtype == b.nda.dtype and a.nda.shape == b.nda.shape, where
        assert getattr(a, "dims", None) == getattr(b, "dims", None), where
        np.testing.assert_array_equal(a.nda, b.nda)


def check_reader(path: Any, tables: list[str], masks: list) -> TableReader:
    with h5py.File(path, "r") as h5f:
        for mask in masks:
            reader = TableReader(mask)
            for table in tables:
                for start, n in ((0, 10**9), (1, 3), (0, 0), (5, 2), (10**6, 5)):
                    try:
                        expected = lh5.read(table, h5f, start_row=start, n_rows=n, field_mask=mask)
                    except Exception as err:
                        with pytest.raises(type(err)) as got:
                            reader.read(h5f, table, start, n)
                        assert str(got.value) == str(err)
                        continue
                    assert_same_object(reader.read(h5f, table, start, n), expected, table)
    return reader


def test_table_reader_reads_what_lh5_read_reads(tmp_path):
    path = tmp_path / "f.lh5"
    for i in range(3):
        lh5.write(sample_table(9, i), f"ch{i}/raw", path)
    tables = [f"ch{i}/raw" for i in range(3)]
    reader = check_reader(
        path, tables, [None, ["energy", "wf", "vov"], {"sub": False}, ["wf/values", "counts"]]
    )
    assert reader.fast > 0
    check_reader(path, tables, [["nope"], ["energy", "sub/nope"]])  # errors alike


def test_table_reader_on_encoded_waveforms_and_zstd(raw_p14):
    if raw_p14 is None:
        pytest.skip("no p14 raw file")
    with h5py.File(raw_p14, "r") as h5f:
        tables = [f"{k}/raw" for k in sorted(h5f.keys()) if f"{k}/raw" in h5f][:3]
    assert tables
    reader = check_reader(raw_p14, tables, [["waveform", "timestamp", "baseline"], None])
    assert reader.fast > 0


def test_table_reader_on_a_simulated_run(tmp_path):
    from tierflow.sim import default_channels, simulate_run

    simulate_run(
        tmp_path,
        n_events=4,
        channels=default_channels(4),
        compression=False,
        codecs={"waveform/values": "radware_sigcompress"},
    )
    (raw,) = sorted(tmp_path.rglob("*tier_raw.lh5"))
    with h5py.File(raw, "r") as h5f:
        tables = [f"{k}/raw" for k in sorted(h5f.keys())]
    reader = check_reader(raw, tables, [["waveform", "timestamp", "baseline"]])
    assert reader.fast > 0 and reader.general == 0  # encoded values: read inside, generally


def test_table_reader_gives_each_table_its_own_attributes(tmp_path):
    """A plan kept from one channel's table reads the next one's data, and its attributes
    are that table's own (units may differ from channel to channel)."""
    path = tmp_path / "f.lh5"
    for ch, units in (("ch1", "ns"), ("ch2", "us")):
        table = Table({"dt": Array(np.full(3, 16.0), attrs={"units": units})})
        table.attrs["channel"] = ch
        lh5.write(table, f"{ch}/raw", path)
    reader = TableReader(["dt"])
    with h5py.File(path, "r") as h5f:
        got = [reader.read(h5f, f"{ch}/raw") for ch in ("ch1", "ch2")]
    assert reader.fast == 1
    assert [t["dt"].attrs["units"] for t in got] == ["ns", "us"]
    assert [t.attrs["channel"] for t in got] == ["ch1", "ch2"]


def test_reading_a_missing_table_says_so(tmp_path):
    path = tmp_path / "f.lh5"
    lh5.write(sample_table(2), "ch1/raw", path)
    with h5py.File(path, "r") as h5f, pytest.raises(LH5ObjectNotFoundError):
        TableReader(["energy"]).read(h5f, "ch9/raw")


# --- build_dsp: the same output file through either path -------------------------------------
def test_build_dsp_output_equals_the_general_paths(tmp_path, monkeypatch, fresh_templates, copies):
    from tierflow.dsp import build_dsp, config_path
    from tierflow.sim import default_channels, simulate_run

    simulate_run(
        tmp_path,
        n_events=3,
        channels=default_channels(5),
        codecs={"waveform/values": "radware_sigcompress"},
    )
    (raw,) = sorted(tmp_path.rglob("*tier_raw.lh5"))
    config = config_path("hpge-simple")
    copies.clear()  # the simulation's own tables
    build_dsp(raw, tmp_path / "fast.lh5", config, progress=False)
    assert copies == [b"dsp"] * 5
    monkeypatch.setattr(
        TableReader,
        "read",
        lambda self, h5f, name, start=0, n=2**62, total=None: lh5.read(
            name, h5f, start, n, field_mask=self.mask
        ),
    )
    with general_path_only():
        build_dsp(raw, tmp_path / "general.lh5", config, progress=False)
    assert_same_file(tmp_path / "fast.lh5", tmp_path / "general.lh5")


# --- many objects into a file that is thrown away on failure ----------------------------------
def test_batch_writer_gives_the_file_of_write_calls(tmp_path, fresh_templates, copies):
    strings = Table({"s": Array(np.array(["a", "bb"])), "x": np.arange(2.0)})  # not fast
    objects = [(sample_table(2, i), f"ch{i}/dsp") for i in range(4)]
    objects += [
        (sample_table(3), "ch1/dsp"),  # appended to an existing table
        (strings, "ch9/dsp"),
        (sample_table(2), "deep/a/b/table"),
        (Array(np.arange(3.0)), "ch1/extra"),
    ]
    batch, general = tmp_path / "batch.lh5", tmp_path / "general.lh5"
    with h5py.File(batch, "w") as h5f:
        writer = write_module.BatchWriter(h5f)
        for obj, name in objects:
            writer.write(obj, name)
        writer.close()
    with h5py.File(general, "w") as h5f:
        for obj, name in objects:
            write_general(obj, name, h5f)
    assert copies == [b"dsp"] * 4 + [b"table"]
    assert_same_file(batch, general)


def test_batch_writer_failure_is_a_write_error(tmp_path, monkeypatch):
    def failing(*args):
        raise OSError("disk full")

    monkeypatch.setattr(fastcreate, "_write_data", failing)
    with h5py.File(tmp_path / "f.lh5", "w") as h5f:
        writer = write_module.BatchWriter(h5f)
        with pytest.raises(LH5WriteError, match="disk full"):
            writer.write(sample_table(2), "ch1/dsp")
