"""Damaged LH5 files and paths that are not files give tierflow errors at once, naming the file
and the object: never an h5py, numpy or codec exception, a MemoryError or a hang.

Each test is one defect the fuzz suite (tests/fuzz) found; the inputs are small copies of the
real LEGEND files or files made with h5py to hold one kind of damage.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys

import h5py
import numpy as np
import pytest

from testdata import DSP_CAL, LH5_DATA, LH5_FILES, RAW_P14
from tierflow import lh5
from tierflow.errors import LH5DecodeError, LH5FileError, TierflowError
from tierflow.lh5 import LH5Iterator
from tierflow.lh5.codecs import RadwareSigcompress, ULEB128ZigZagDiff
from tierflow.lh5.datatype import parse
from tierflow.lh5.globalheap import check_attribute_heaps

DSP = DSP_CAL[0]
TCM = LH5_DATA / "tcm/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_tcm.lh5"


def _copy(src, tmp_path, name="copy.lh5"):
    path = tmp_path / name
    shutil.copyfile(src, path)
    return path


def _rewrite(group: h5py.Group, name: str, data) -> None:
    """Replace a dataset by ``data``, keeping its attributes."""
    attrs = dict(group[name].attrs)
    del group[name]
    group[name] = data
    group[name].attrs.update(attrs)


# --- paths that are not LH5 files ----------------------------------------------------------------
def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path):
    path = tmp_path / "pipe.lh5"
    os.mkfifo(path)
    with pytest.raises(LH5FileError, match="named pipe") as err:
        lh5.read("x", path)
    assert str(path) in str(err.value)
    with pytest.raises(LH5FileError, match="named pipe"):
        lh5.ls(path)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: socket.socket(socket.AF_UNIX).bind(str(p)), "is a socket"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(bytes(1 << 20)), "no HDF5 signature"),
        (lambda p: os.symlink(p, p), "loop of symbolic links"),
        (lambda p: os.symlink(p.with_name("gone.lh5"), p), "dangling"),
    ],
    ids=["directory", "socket", "empty", "zeros", "symlink-loop", "dangling-symlink"],
)
def test_paths_that_are_not_lh5_files_say_what_they_are(tmp_path, make, reason):
    path = tmp_path / "input.lh5"
    make(path)
    with pytest.raises(LH5FileError, match=reason) as err:
        lh5.read("ch1/raw", path)
    assert str(path) in str(err.value)


def test_a_character_device_is_refused_not_read_forever():
    with pytest.raises(LH5FileError, match="character device"):
        LH5Iterator("/dev/zero", "ch1/raw")


# --- datatype strings --------------------------------------------------------------------------
def test_deeply_nested_datatype_is_a_decode_error_not_a_recursion_error(tmp_path):
    path = _copy(TCM, tmp_path)
    deep = "array<1>{" * 5000 + "real" + "}" * 5000
    with h5py.File(path, "r+") as f:
        f["hardware_tcm_1/table_key"].attrs["datatype"] = deep
    with pytest.raises(LH5DecodeError, match="more than 32 levels") as err:
        lh5.read("hardware_tcm_1", path)
    assert "/hardware_tcm_1/table_key" in str(err.value)
    with pytest.raises(LH5DecodeError, match="more than 32 levels"):
        parse(deep)


@pytest.mark.parametrize("text", ["array<1,,1>{real}", "array<" + "9" * 5000 + ">{real}"])
def test_bad_dimensions_in_a_datatype_are_a_decode_error(text):
    with pytest.raises(LH5DecodeError, match="datatype"):
        parse(text)


# --- lengths of vectors ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lengths", "reason"),
    [
        ([30, 2, 30] + [30] * 19, "decreases at row 1"),
        ([2**62] * 22, "past the 30 rows"),
        ([-5] + [30] * 21, "negative"),
    ],
    ids=["decreasing", "huge", "negative"],
)
def test_lying_cumulative_length_is_a_decode_error_not_a_memory_error(tmp_path, lengths, reason):
    path = _copy(TCM, tmp_path)
    with h5py.File(path, "r+") as f:
        _rewrite(f["hardware_tcm_1/row_in_table"], "cumulative_length", np.array(lengths))
    where = "hardware_tcm_1/row_in_table"
    for read in (
        lambda: lh5.read("hardware_tcm_1", path),
        lambda: lh5.read("hardware_tcm_1", path, idx=[0, 3]),
        lambda: lh5.read("hardware_tcm_1", path, start_row=1, n_rows=5),
    ):
        with pytest.raises(LH5DecodeError, match=reason) as err:
            read()
        assert where in str(err.value) and str(path) in str(err.value)
    with pytest.raises(LH5DecodeError, match=reason):
        list(LH5Iterator(path, "hardware_tcm_1", buffer_len=3))


# --- encoded waveforms -----------------------------------------------------------------------------
@pytest.mark.parametrize("column", ["waveform_windowed", "waveform_presummed"])
@pytest.mark.parametrize("size", [10**12, 2**62, 5000])
def test_lying_decoded_size_is_a_decode_error_before_allocating(tmp_path, column, size):
    path = _copy(RAW_P14, tmp_path)
    name = f"ch1105600/raw/{column}/values"
    with h5py.File(path, "r+") as f:
        _rewrite(f[name], "decoded_size", np.int64(size))
    with pytest.raises(LH5DecodeError, match="cannot decode waveforms") as err:
        lh5.read("ch1105600/raw", path)
    assert name in str(err.value)


def test_negative_decoded_size_is_a_decode_error(tmp_path):
    path = _copy(RAW_P14, tmp_path)
    with h5py.File(path, "r+") as f:
        _rewrite(f["ch1105600/raw/waveform_windowed/values"], "decoded_size", np.int64(-1))
    with pytest.raises(LH5DecodeError, match="decoded_size must be a count"):
        lh5.read("ch1105600/raw", path)


def test_codecs_refuse_sample_counts_the_stream_cannot_hold():
    data, nbytes = ULEB128ZigZagDiff().encode(np.arange(5), np.array([5]))
    with pytest.raises(ValueError, match="cannot hold 1000000000000 samples"):
        ULEB128ZigZagDiff().decode(data, nbytes, np.array([10**12]))
    data, nbytes = RadwareSigcompress().encode(np.arange(5), np.array([5]))
    with pytest.raises(ValueError, match="holds 5 samples, not the 1000000000000"):
        RadwareSigcompress().decode(data, nbytes, np.array([10**12]))


# --- sizes ---------------------------------------------------------------------------------------
def test_a_dataset_claiming_more_rows_than_memory_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.lh5"
    with h5py.File(path, "w") as f:  # chunks never written: nothing on disk
        f.create_dataset("x", shape=(2**45,), dtype="f8", chunks=(1024,))
        f["x"].attrs["datatype"] = "array<1>{real}"
    with pytest.raises(LH5DecodeError, match=r"more than the .* GB of memory free") as err:
        lh5.read("x", path)
    assert "/x" in str(err.value)
    assert len(lh5.read("x", path, n_rows=10)) == 10  # a part of it is fine


# --- links -------------------------------------------------------------------------------------------
def test_a_table_containing_itself_is_a_decode_error_not_a_recursion(tmp_path):
    path = _copy(TCM, tmp_path)
    with h5py.File(path, "r+") as f:
        table = f["hardware_tcm_1"]
        table["loop"] = table
        table.attrs["datatype"] = "table{loop,table_key,row_in_table}"
    with pytest.raises(LH5DecodeError, match="cycle of links") as err:
        lh5.read("hardware_tcm_1", path)
    assert "/hardware_tcm_1/loop" in str(err.value)


def test_show_draws_cycles_and_soft_links_once(tmp_path):
    path = _copy(TCM, tmp_path)
    with h5py.File(path, "r+") as f:
        table = f["hardware_tcm_1"]
        table["up"] = f["/"]
        table["up2"] = f["/"]
        table["a"] = h5py.SoftLink("/hardware_tcm_1/b")
        table["b"] = h5py.SoftLink("/hardware_tcm_1/a")
    out = io.StringIO()
    lh5.show(path, out=out)
    text = out.getvalue()
    assert "up  (hard link to /, shown there)" in text
    assert "a  -> /hardware_tcm_1/b (soft link)" in text
    assert text.count("table_key") == 2  # its line and the table's datatype
    assert lh5.ls(path, recursive=True)[0] == "hardware_tcm_1"


def test_soft_link_loop_is_a_decode_error(tmp_path):
    path = _copy(TCM, tmp_path)
    with h5py.File(path, "r+") as f:
        f["a"] = h5py.SoftLink("/b")
        f["b"] = h5py.SoftLink("/a")
    with pytest.raises(LH5DecodeError, match="cannot open 'a'") as err:
        lh5.read("a", path)
    assert str(path) in str(err.value)
    with pytest.raises(TierflowError):
        lh5.read("/", path)


# --- damaged bytes -------------------------------------------------------------------------------
def test_damaged_object_header_is_a_tierflow_error_naming_the_file(tmp_path):
    path = _copy(DSP, tmp_path)
    with h5py.File(path, "r") as f:
        header = h5py.h5o.get_info(f["ch1084803/dsp/trapEmax"].id).addr
    data = bytearray(path.read_bytes())
    data[header : header + 64] = bytes(64)
    path.write_bytes(bytes(data))
    for call in (
        lambda: lh5.read("ch1084803/dsp", path),
        lambda: lh5.read("ch1084803/dsp/trapEmax", path),
        lambda: list(LH5Iterator(path, "ch1084803/dsp", buffer_len=4)),
    ):
        with pytest.raises(TierflowError) as err:
            call()
        assert str(path) in str(err.value)
    out = io.StringIO()
    lh5.show(path, out=out)  # the tree is shown, the damaged object says so
    assert "trapEmax  (damaged:" in out.getvalue()


# --- variable-length attributes (HDF5's global heap) ---------------------------------------------
def _collection_at(path) -> int:
    return path.read_bytes().index(b"GCOL")


def test_zeroed_heap_collection_is_a_decode_error_not_an_hdf5_hang(tmp_path):
    """HDF5 loops forever on a collection whose object list meets a zero-size free object."""
    path = _copy(TCM, tmp_path)
    data = bytearray(path.read_bytes())
    at = _collection_at(path)
    first = int.from_bytes(data[at + 24 : at + 32], "little")  # size of the first object
    start = at + 32 + (first + 7) // 8 * 8
    data[start : start + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(LH5DecodeError, match="broken object list") as err:
        lh5.read("hardware_tcm_1", path)
    assert str(path) in str(err.value)
    out = io.StringIO()
    lh5.show(path, out=out)
    assert "(damaged: LH5DecodeError" in out.getvalue()


def test_damaged_variable_length_type_is_a_decode_error_not_a_segfault(tmp_path):
    """A flipped bit in a string attribute's type makes HDF5 read it as something it crashes on."""
    path = _copy(TCM, tmp_path)
    with h5py.File(path, "r") as f:
        header = h5py.h5o.get_info(f["hardware_tcm_1/table_key"].id).addr
    data = bytearray(path.read_bytes())
    at = data.index(b"datatype\x00", header) + 16  # v1 attribute: name padded to 16 bytes
    assert data[at] & 0x0F == 9  # a variable-length type
    data[at + 1] ^= 0x6E  # its class bits: neither a sequence nor a known string
    path.write_bytes(bytes(data))
    out = io.StringIO()
    lh5.show(path, out=out)  # h5py's attribute read crashed here
    assert "table_key  (damaged: LH5DecodeError" in out.getvalue()
    with pytest.raises(LH5DecodeError, match="variable-length attribute is damaged") as err:
        lh5.read("hardware_tcm_1", path)
    assert "/hardware_tcm_1/table_key" in str(err.value)


def test_real_files_pass_the_attribute_check_unchanged():
    for path in LH5_FILES:
        with h5py.File(path, "r") as f:
            ids = [f.id]
            f.visititems(lambda _, obj, ids=ids: ids.append(obj.id))
            for oid in ids:
                check_attribute_heaps(oid)  # raises on a false alarm


def test_build_dsp_on_a_damaged_table_attribute_is_a_decode_error_not_a_segfault(tmp_path):
    """build_dsp's table discovery once fell back to h5py's attribute read, which crashed."""
    raw = _copy(
        LH5_DATA / "raw/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_raw.lh5", tmp_path
    )
    with h5py.File(raw, "r") as f:
        header = h5py.h5o.get_info(f["ch1084803/raw"].id).addr
    data = bytearray(raw.read_bytes())
    at = data.index(b"datatype\x00", header) + 16  # v1 attribute: name padded to 16 bytes
    assert data[at] & 0x0F == 9  # a variable-length type
    data[at + 1] ^= 0x6E
    raw.write_bytes(bytes(data))
    script = (
        "from tierflow.dsp import build_dsp, config_path\n"
        "from tierflow.errors import LH5DecodeError\n"
        "try:\n"
        f"    build_dsp({str(raw)!r}, {str(tmp_path / 'dsp.lh5')!r}, "
        "str(config_path('hpge-simple')), n_max=5, progress=False)\n"
        "except LH5DecodeError as err:\n"
        "    print(err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "/ch1084803/raw: a variable-length attribute is damaged" in done.stdout
    assert not (tmp_path / "dsp.lh5").exists()
