"""The ORCA stream reader (tierflow.daq.formats.orca) against legend-daq2lh5 on a real file,
block sizes, gzip, n_max, and bad input."""

from __future__ import annotations

import gzip
import json
import re
import shutil

import h5py
import numpy as np
import pytest

from testdata import TESTDATA
from tierflow.daq.formats.orca.records import frame_records
from tierflow.daq.formats.orca.stream import OrcaStream
from tierflow.daq.stream import guess_stream_type
from tierflow.errors import DAQError, DAQTruncatedError
from tierflow.types import Array, Scalar, Table, VectorOfVectors, concat

ORCA_FILE = TESTDATA / "daq" / "orca-flashcam" / "L200-comm-20220519-phy-geds.orca"
pytestmark = pytest.mark.skipif(not ORCA_FILE.exists(), reason="no ORCA test file")


def decode_all(path, **kwargs):
    """Every decoder's rows over all blocks (concatenated), their keys, and the stream."""
    pieces: dict[str, list] = {}
    with OrcaStream(path) as stream:
        for block in stream.decode(**kwargs):
            for piece in block:
                keys = piece.keys
                if isinstance(piece.obj, Table) and not isinstance(keys, np.ndarray):
                    keys = np.full(len(piece.obj), keys)
                pieces.setdefault(piece.decoder, []).append((piece.obj, keys))
    out = {}
    for name, parts in pieces.items():
        objs = [obj for obj, _ in parts]
        if isinstance(objs[0], Table):
            out[name] = (concat(objs), np.concatenate([k for _, k in parts]))
        else:
            assert len(objs) == 1
            out[name] = (objs[0], parts[0][1])
    return out, stream


def flatten(obj, path=""):
    """{path: (values, attrs)} of a tierflow object, as its datasets would be written."""
    if isinstance(obj, Table):  # concat leaves a stale table datatype: take the columns'
        items = {path: (None, {**obj.attrs, "datatype": obj.form_datatype()})}
        for name in obj:
            items.update(flatten(obj[name], f"{path}/{name}"))
        return items
    if isinstance(obj, VectorOfVectors):
        return {
            path: (None, dict(obj.attrs)),
            **flatten(obj.cumulative_length, f"{path}/cumulative_length"),
            **flatten(obj.flattened_data, f"{path}/flattened_data"),
        }
    if isinstance(obj, Array):
        return {path: (obj.nda, dict(obj.attrs))}
    assert isinstance(obj, Scalar)
    return {path: (obj.value, dict(obj.attrs))}


def flatten_h5(node, path=""):
    items = {path: (node[()] if isinstance(node, h5py.Dataset) else None, dict(node.attrs))}
    if isinstance(node, h5py.Group):
        for name in node:
            items.update(flatten_h5(node[name], f"{path}/{name}"))
    return items


def assert_same_items(ours, theirs, where):
    assert sorted(ours) == sorted(theirs), where
    for path, (value, attrs) in ours.items():
        ref_value, ref_attrs = theirs[path]
        datatype = attrs.get("datatype", "")
        if datatype.startswith("table{"):  # column order is the writer's business
            assert set(datatype[6:-1].split(",")) == set(ref_attrs["datatype"][6:-1].split(","))
            attrs, ref_attrs = dict(attrs), dict(ref_attrs)
            attrs.pop("datatype"), ref_attrs.pop("datatype")
        assert attrs == ref_attrs, f"{where}{path}"
        if value is None:
            continue
        if isinstance(value, str):
            assert value == ref_value.decode(), f"{where}{path}"
            continue
        if "bool" in datatype:
            assert value.dtype == bool and ref_value.dtype == np.uint8, f"{where}{path}"
            value = value.astype(np.uint8)
        else:
            assert value.dtype == ref_value.dtype, f"{where}{path}"
        np.testing.assert_array_equal(value, ref_value, err_msg=f"{where}{path}")


@pytest.fixture(scope="module")
def daq2lh5_output(tmp_path_factory):
    """daq2lh5's output on the real file (default routing, small buffers: about a second)."""
    build_raw = pytest.importorskip("daq2lh5").build_raw
    out = tmp_path_factory.mktemp("orca") / "daq2lh5.lh5"
    build_raw(str(ORCA_FILE), in_stream_type="ORCA", out_spec=str(out), buffer_size=64)
    return out


@pytest.fixture(scope="module")
def decoded():
    return decode_all(ORCA_FILE)


def test_tables_equal_daq2lh5_on_the_real_file(decoded, daq2lh5_output):
    tables, _ = decoded
    with h5py.File(daq2lh5_output) as ref:
        names = {re.sub("Decoder$", "", name): name for name in tables}
        assert sorted(names) == sorted(ref)
        for table_name, decoder in names.items():
            ours = flatten(tables[decoder][0])
            assert_same_items(ours, flatten_h5(ref[table_name]), table_name)


def test_waveform_keys_are_fcid_board_input(decoded):
    tables, stream = decoded
    table, keys = tables["ORFlashCamADCWaveformDecoder"]
    expected = (
        table["fcid"].nda.astype(int) * 1_000_000
        + table["board_id"].nda.astype(int) * 100
        + table["fc_input"].nda
    )
    np.testing.assert_array_equal(keys, expected)
    assert set(keys.tolist()) <= set(stream.decoder_keys()["ORFlashCamADCWaveformDecoder"])
    assert stream.decoder_keys()["ORFlashCamADCWaveformDecoder"] == [1028800 + i for i in range(6)]


def test_packet_ids_count_every_record_after_the_header(decoded):
    tables, stream = decoded
    config = tables["ORFlashCamListenerConfigDecoder"][0]
    waveforms = tables["ORFlashCamADCWaveformDecoder"][0]
    assert config["packet_id"].nda.tolist() == [3]
    assert waveforms["packet_id"].nda.tolist() == list(range(4, 71))
    assert stream.skipped == {}


def test_header_scalar_is_the_plist_as_json(decoded):
    tables, stream = decoded
    header, key = tables["OrcaHeaderDecoder"]
    assert json.loads(header.value) == json.loads(json.dumps(stream.header))
    assert key == 0
    assert header.value.startswith('{"Document Info"')


@pytest.mark.parametrize("buffer_size", [1, 7, 8192])
def test_every_block_size_gives_the_same_tables(decoded, buffer_size):
    tables, _ = decoded
    other, _ = decode_all(ORCA_FILE, buffer_size=buffer_size)
    for name, (obj, keys) in tables.items():
        assert_same_flat(flatten(other[name][0]), flatten(obj), name)
        np.testing.assert_array_equal(other[name][1], keys)


def test_small_reads_give_the_same_tables(decoded):
    tables, _ = decoded
    pieces = []
    with OrcaStream(ORCA_FILE, read_bytes=1000) as stream:
        for block in stream.decode():
            pieces += [p for p in block if p.decoder == "ORFlashCamADCWaveformDecoder"]
    values = np.concatenate([p.obj["waveform"]["values"].nda for p in pieces])
    ref = tables["ORFlashCamADCWaveformDecoder"][0]["waveform"]["values"].nda
    np.testing.assert_array_equal(values, ref)


def assert_same_flat(ours, theirs, where):
    assert sorted(ours) == sorted(theirs), where
    for path, (value, attrs) in ours.items():
        assert attrs == theirs[path][1], f"{where}{path}"
        if isinstance(value, np.ndarray):
            assert value.dtype == theirs[path][0].dtype
            np.testing.assert_array_equal(value, theirs[path][0], err_msg=f"{where}{path}")
        else:
            assert value == theirs[path][0]


def test_gzipped_file_decodes_the_same(decoded, tmp_path):
    gz = tmp_path / "run.orca.gz"
    with open(ORCA_FILE, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert guess_stream_type(gz) == "ORCA"
    tables, _ = decoded
    other, _ = decode_all(gz, buffer_size=5)
    for name, (obj, _keys) in tables.items():
        assert_same_flat(flatten(other[name][0]), flatten(obj), name)


def test_sniff_recognises_orca_and_nothing_else():
    head = ORCA_FILE.read_bytes()[:64]
    assert OrcaStream.sniff(head)
    assert guess_stream_type(ORCA_FILE) == "ORCA"
    assert not OrcaStream.sniff(b"\x00" * 64)
    assert not OrcaStream.sniff(head[:4] + b"\xff\xff\xff\x7f" + head[8:])


@pytest.mark.parametrize("n_max", [0, 1, 3, 10])
def test_n_max_stops_after_that_many_packets(n_max):
    tables, _ = decode_all(ORCA_FILE, n_max=n_max, buffer_size=4)
    ids = []
    if "ORRunDecoderForRun" in tables:
        ids += [1, 2][: len(tables["ORRunDecoderForRun"][0])]
    for name in ("ORFlashCamListenerConfigDecoder", "ORFlashCamADCWaveformDecoder"):
        if name in tables:
            ids += tables[name][0]["packet_id"].nda.tolist()
    assert sorted(ids) == list(range(1, n_max + 1))
    assert "OrcaHeaderDecoder" in tables


# --- bad input ------------------------------------------------------------------------
def words_of(path):
    return np.fromfile(path, "<u4")


def record_offsets():
    words = words_of(ORCA_FILE)
    frame = frame_records(words, 0, 1000)
    return 4 * frame.starts, frame.lengths


def test_truncated_file_yields_complete_records_then_names_the_offset(tmp_path):
    starts, _ = record_offsets()
    cut = tmp_path / "cut.orca"
    cut.write_bytes(ORCA_FILE.read_bytes()[: starts[10] + 100])
    rows = 0
    with OrcaStream(cut) as stream, pytest.raises(DAQTruncatedError) as err:
        for block in stream.decode(buffer_size=3):
            rows += sum(len(p.obj) for p in block if isinstance(p.obj, Table))
    assert rows == 9  # records 1..9 after the header
    assert err.value.offset == starts[10]
    assert err.value.file == str(cut)
    assert str(cut) in str(err.value)


def test_file_cut_inside_a_word_is_truncated(tmp_path):
    starts, _ = record_offsets()
    cut = tmp_path / "cut.orca"
    cut.write_bytes(ORCA_FILE.read_bytes()[: starts[5] + 2])
    with OrcaStream(cut) as stream, pytest.raises(DAQTruncatedError) as err:
        list(stream.decode())
    assert err.value.offset == starts[5]


def test_zero_length_word_is_an_error_not_a_hang(tmp_path):
    starts, _ = record_offsets()
    words = words_of(ORCA_FILE).copy()
    i = starts[5] // 4
    words[i] &= 0xFFFC0000  # length bits 0: extended record, length in the next word
    words[i + 1] = 0
    bad = tmp_path / "zero.orca"
    words.tofile(bad)
    with OrcaStream(bad) as stream, pytest.raises(DAQError, match="zero length") as err:
        list(stream.decode())
    assert err.value.offset == starts[5]


def test_length_past_the_end_is_truncated(tmp_path):
    starts, _ = record_offsets()
    words = words_of(ORCA_FILE).copy()
    i = starts[-1] // 4
    words[i] = (words[i] & 0xFFFC0000) | 0x3FFFF
    bad = tmp_path / "long.orca"
    words.tofile(bad)
    with OrcaStream(bad) as stream, pytest.raises(DAQTruncatedError) as err:
        list(stream.decode())
    assert err.value.offset == starts[-1]


def test_corrupt_xml_header_is_an_error(tmp_path):
    data = bytearray(ORCA_FILE.read_bytes())
    data[200:210] = b"<<<<>>>>!!"
    bad = tmp_path / "xml.orca"
    bad.write_bytes(bytes(data))
    with pytest.raises(DAQError, match="corrupt XML header") as err:
        OrcaStream(bad)
    assert err.value.file == str(bad)


def test_file_ending_inside_the_header_is_truncated(tmp_path):
    bad = tmp_path / "head.orca"
    bad.write_bytes(ORCA_FILE.read_bytes()[:5000])
    with pytest.raises(DAQTruncatedError, match="header"):
        OrcaStream(bad)


def test_not_an_orca_file_is_refused(tmp_path):
    bad = tmp_path / "x.orca"
    bad.write_bytes(b"hello world, not orca")
    with pytest.raises(DAQError, match="not an ORCA file"):
        OrcaStream(bad)


def test_unknown_data_ids_are_counted_and_skipped(tmp_path, decoded):
    starts, lengths = record_offsets()
    words = words_of(ORCA_FILE)
    i = starts[4] // 4  # the first waveform record becomes one of a data ID the header lacks
    bad_words = words.copy()
    bad_words[i] = (0x3F << 18) | lengths[4]
    unlisted = tmp_path / "unlisted.orca"
    bad_words.tofile(unlisted)
    tables, stream = decode_all(unlisted)
    assert stream.skipped == {"data ID 0xfc0000": 1}
    ref_ids = decoded[0]["ORFlashCamADCWaveformDecoder"][0]["packet_id"].nda
    ids = tables["ORFlashCamADCWaveformDecoder"][0]["packet_id"].nda
    np.testing.assert_array_equal(ids, ref_ids[:-1])  # no packet number for it, as daq2lh5
    assert_packet_ids_as_daq2lh5(unlisted, ids, tmp_path)


def assert_packet_ids_as_daq2lh5(path, ids, tmp_path):
    build_raw = pytest.importorskip("daq2lh5").build_raw
    out = tmp_path / "ref.lh5"
    spec = {"ORFlashCamADCWaveformDecoder": {"wf": {"key_list": ["*"], "out_stream": str(out)}}}
    build_raw(str(path), in_stream_type="ORCA", out_spec=spec, buffer_size=64)
    with h5py.File(out) as ref:
        np.testing.assert_array_equal(ids, ref["wf/packet_id"][()])


def test_listed_data_ids_without_decoder_are_counted(tmp_path, decoded):
    starts, lengths = record_offsets()
    words = words_of(ORCA_FILE).copy()
    i = starts[4] // 4  # the first waveform becomes an ORCAScript record (listed, no decoder)
    words[i] = 0x80000 | lengths[4]
    listed = tmp_path / "listed.orca"
    words.tofile(listed)
    tables, stream = decode_all(listed)
    assert stream.skipped == {"ORScriptDecoderForRecord": 1}
    ids = tables["ORFlashCamADCWaveformDecoder"][0]["packet_id"].nda
    np.testing.assert_array_equal(ids, np.arange(5, 71))  # it kept its packet number 4
    assert_packet_ids_as_daq2lh5(listed, ids, tmp_path)
