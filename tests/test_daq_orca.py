"""The ORCA stream reader (tierflow.daq.formats.orca) against legend-daq2lh5 on a real file,
block sizes, gzip, n_max, and bad input."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import plistlib
import re
import shutil

import h5py
import numpy as np
import pytest

from testdata import TESTDATA
from tierflow.daq.formats.orca.records import BAD_LENGTH, PARTIAL, frame_records
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


# --- Struck digitizers: synthetic records (layouts in tierflow.daq.formats.orca.struck) ---
STRUCK_HEADER = {
    "dataDescription": {
        "ORSIS3302Model": {
            "Energy": {"dataId": 0x40000, "decoder": "ORSIS3302DecoderForEnergy", "length": -1}
        },
        "ORSIS3316Model": {
            "Waveform": {"dataId": 0x80000, "decoder": "ORSIS3316WaveformDecoder", "length": -1}
        },
    },
    "ObjectInfo": {
        "Crates": [
            {
                "CrateNumber": 0,
                "Cards": [
                    {
                        "Class Name": "ORSIS3302Model",
                        "Card": 3,
                        "internalTriggerEnabledMask": 0b101,
                        "externalTriggerEnabledMask": 0,
                        "sampleLengths": [8, 8, 8, 8],
                    },
                    {"Class Name": "ORSIS3316Model", "Card": 5, "enabledMask": 0b11,
                     "rawDataBufferLen": 8},
                ],
            }
        ]
    },
}  # fmt: skip


def header_record(header):
    xml = plistlib.dumps(header, fmt=plistlib.FMT_XML)
    padded = xml + b"\0" * (-len(xml) % 4)
    words = np.frombuffer(padded, "<u4")
    return np.array([2 + len(words), len(xml), *words], np.uint32)


def sis3302_record(card, channel, timestamp, samples, energy, wrap_at=None):
    word1 = (card << 16) | (channel << 8) | (wrap_at is not None)
    waveform = np.asarray(samples, np.uint16).view(np.uint32)
    head = [word1, len(waveform), 2, (timestamp >> 32) << 16, timestamp & 0xFFFFFFFF]
    if wrap_at is not None:
        head += [0, wrap_at]
    body = [*head, *waveform, 7, 8, energy, energy - 1, 0, 0xDEADBEEF]
    return np.array([0x40000 | (len(body) + 1), *body], np.uint32)


def sis3316_record(card, channel, events):
    """``events``: (timestamp, 8 samples, base); optional word k of an event holds base + k."""
    event_words = []
    for timestamp, samples, base in events:
        optional = [((base + 1) << 16) | (base + 2), (0xAB << 24) | (base + 3)]
        optional += [base + k for k in range(4, 16)]
        raw = np.asarray(samples, np.uint16).view(np.uint32)
        first = ((timestamp >> 32) << 16) | (channel << 4) | 0xF
        event_words.append([first, timestamp & 0xFFFFFFFF, *optional, len(samples) // 2, *raw])
    body = [(card << 16) | (channel << 8), len(events), len(event_words[0]), len(events), 17]
    body += [0, 0, 0, 0] + [w for event in event_words for w in event]
    return np.array([0x80000 | (len(body) + 1), *body], np.uint32)


@pytest.fixture(scope="module")
def struck_file(tmp_path_factory):
    records = [
        header_record(STRUCK_HEADER),
        sis3302_record(3, 0, 0xABCD_12345678, range(100, 108), 500),
        sis3302_record(3, 2, 0x1_00000005, range(8), 600, wrap_at=2),
        sis3316_record(5, 1, [(0x0123_89ABCDEF, range(10, 18), 100), (0x0124_00000001, range(20, 28), 200)]),
    ]  # fmt: skip
    path = tmp_path_factory.mktemp("struck") / "struck.orca"
    np.concatenate(records).astype("<u4").tofile(path)
    return path


@pytest.fixture(scope="module")
def struck_daq2lh5(struck_file):
    build_raw = pytest.importorskip("daq2lh5").build_raw
    out = struck_file.with_suffix(".lh5")
    build_raw(str(struck_file), in_stream_type="ORCA", out_spec=str(out), buffer_size=16)
    return out


def rows_of_key(table, keys, key):
    return table.take(np.flatnonzero(keys == key))


def test_sis3302_equals_daq2lh5_except_its_truncated_timestamps(struck_file, struck_daq2lh5):
    tables, stream = decode_all(struck_file)
    assert stream.decoder_keys()["ORSIS3302DecoderForEnergy"] == [48, 50]
    table, keys = tables["ORSIS3302DecoderForEnergy"]
    assert keys.tolist() == [48, 50]
    with h5py.File(struck_daq2lh5) as ref:
        for key in (48, 50):
            ours = flatten(rows_of_key(table, keys, key))
            theirs = flatten_h5(ref[f"ORSIS3302DecoderForEnergy_{key}"])
            stamp, ref_stamp = ours.pop("/timestamp")[0], theirs.pop("/timestamp")[0]
            assert_same_items(ours, theirs, key)
            # daq2lh5 shifts bits 47-32 in 32-bit arithmetic: only the low 32 bits stay
            np.testing.assert_array_equal(ref_stamp, stamp & 0xFFFFFFFF)
            assert (stamp > 0xFFFFFFFF).all()
    assert table["timestamp"].nda.tolist() == [0xABCD_12345678, 0x1_00000005]
    assert table["timestamp"].nda.dtype == np.uint64
    assert table["waveform"]["values"].nda.tolist() == [
        list(range(100, 108)),
        [3, 4, 5, 6, 7, 0, 1, 2],  # wrapped at sample 2: starts at 3
    ]


def test_sis3316_events_equal_daq2lh5_except_its_defects(struck_file, struck_daq2lh5):
    tables, stream = decode_all(struck_file)
    assert stream.decoder_keys()["ORSIS3316WaveformDecoder"] == [80, 81]
    table, keys = tables["ORSIS3316WaveformDecoder"]
    assert keys.tolist() == [81, 81]  # one row per event
    ours = flatten(table)
    with h5py.File(struck_daq2lh5) as ref:
        theirs = flatten_h5(ref["ORSIS3316Waveform_81"])
    # daq2lh5's defects: packet_id, energy, energy_first never set (uninitialised memory),
    # timestamps cut to 32 bits, and every value after accSum6 read one word early
    shifted = ["accSum7", "accSum8", "mawMax", "mawBefore", "mawAfter", "startEnergy", "maxEnergy"]
    for name in ["packet_id", "energy", "energy_first", "timestamp", *shifted]:
        value, _ = ours.pop(f"/{name}")
        ref_value, _ = theirs.pop(f"/{name}")
        if name in shifted:
            np.testing.assert_array_equal(ref_value, value - 1)
        if name == "timestamp":
            np.testing.assert_array_equal(ref_value, value & 0xFFFFFFFF)
    assert_same_items(ours, theirs, "ORSIS3316")
    assert table["packet_id"].nda.tolist() == [3, 3]
    assert table["timestamp"].nda.tolist() == [0x0123_89ABCDEF, 0x0124_00000001]
    assert table["accSum7"].nda.tolist() == [109, 209]
    assert table["maxEnergy"].nda.tolist() == table["energy"].nda.tolist() == [115, 215]
    assert table["energy_first"].nda.tolist() == [114, 214]


def test_sis3302_record_without_trailer_is_an_error(tmp_path):
    record = sis3302_record(3, 0, 1, range(8), 5)
    record[-1] = 0
    path = tmp_path / "bad.orca"
    np.concatenate([header_record(STRUCK_HEADER), record]).astype("<u4").tofile(path)
    with OrcaStream(path) as stream, pytest.raises(DAQError, match="DEADBEEF") as err:
        list(stream.decode())
    assert err.value.offset == 4 * len(header_record(STRUCK_HEADER))


# --- FlashCam listener status (daq2lh5 skips these records: no oracle) -------------------
def status_record(n_cards=2, n_link_states=3):
    """A status record (layout in tierflow.daq.formats.orca.flashcam_status): card c's word
    k holds 1000 * (c + 1) + k, except its link-state count."""
    card_size = 39 + n_link_states
    head = [(1 << 16) | 1, 1, 1652986640, 250000, 1652986641, 500000, 0, 12, 750000, 0, 0, 0]
    head += [n_cards, card_size]
    cards = []
    for c in range(n_cards):
        words = [1000 * (c + 1) + k for k in range(card_size)]
        words[8] = n_link_states
        words[19] = -5 & 0xFFFFFFFF  # a temperature below 0
        cards += words
    body = head + cards
    return np.array([0x140000 | (len(body) + 1), *body], np.uint32)


def test_listener_status_records_are_decoded(tmp_path):
    starts, _ = record_offsets()
    words = words_of(ORCA_FILE)
    i = starts[4] // 4
    path = tmp_path / "status.orca"
    np.concatenate([words[:i], status_record(), words[i:]]).astype("<u4").tofile(path)
    tables, stream = decode_all(path)
    table, keys = tables["ORFlashCamListenerStatusDecoder"]
    assert keys.tolist() == [0] and stream.skipped == {}
    assert table["packet_id"].nda.tolist() == [4]
    assert table["fcid"].nda.tolist() == [1] and table["status"].nda.tolist() == [1]
    assert table["statustime"].nda.dtype == np.float32
    assert table["statustime"].nda[0] == np.float32(1652986640 + 0.25)
    assert table["cputime"].nda.tolist() == [1652986641.5]
    assert table["startoffset"].nda.tolist() == [np.float32(12.75)]
    assert table["n_cards"].nda.tolist() == [2]
    cards = {
        name: table[name].view_as("ak").tolist()[0] for name in table if name.startswith("card_")
    }
    assert cards["card_id"] == [1000, 2000]
    assert cards["card_n_cti_links"] == [1007, 2007]
    assert cards["card_n_link_states"] == [3, 3]
    assert cards["card_n_errors_tot"] == [1010, 2010]
    assert cards["card_temps"] == [-5, 1020, 1021, 1022, 1023, -5, 2020, 2021, 2022, 2023]
    assert cards["card_voltages"] == [1024 + k for k in range(6)] + [2024 + k for k in range(6)]
    assert cards["card_cti_links"] == [1035, 1036, 1037, 1038, 2035, 2036, 2037, 2038]
    assert (
        cards["card_link_states"] == [1039, 1040, 1041] + [0] * 253 + [2039, 2040, 2041] + [0] * 253
    )
    assert table["card_temps"].attrs["units"] == "mC"
    waveforms = tables["ORFlashCamADCWaveformDecoder"][0]
    assert waveforms["packet_id"].nda.tolist() == list(range(5, 72))


def test_listener_config_board_revisions_are_bytes_and_uids_64_bit(tmp_path):
    starts, _ = record_offsets()
    words = words_of(ORCA_FILE).copy()
    config = starts[3] // 4  # 6 channels: board revision word 19, then unique ID words
    assert words[config + 3] == 6 and words[config + 11] == 1
    words[config + 11] = 2  # two boards: revisions 7 and 11, IDs in words 20-21 and 22-23
    words[config + 19] = 0x0000_0B07
    words[config + 20 : config + 24] = [0x12345678, 0x9ABCDEF0, 0x1, 0x2]
    path = tmp_path / "boards.orca"
    words.tofile(path)
    table = decode_all(path)[0]["ORFlashCamListenerConfigDecoder"][0]
    assert table["board_rev"].view_as("ak").tolist() == [[7, 11]]
    assert table["board_uid"].view_as("ak").tolist() == [[0x12345678_9ABCDEF0, 0x1_00000002]]
    build_raw = pytest.importorskip("daq2lh5").build_raw
    out = tmp_path / "ref.lh5"
    spec = {"ORFlashCamListenerConfigDecoder": {"cfg": {"key_list": ["*"], "out_stream": str(out)}}}
    build_raw(str(path), in_stream_type="ORCA", out_spec=spec, buffer_size=64)
    with h5py.File(out) as ref:
        # daq2lh5 shifts the high word in 32-bit arithmetic (lost) and reads byte j of a
        # revision word at bit 4 * j (overlapping nibbles)
        assert ref["cfg/board_uid/flattened_data"][()].tolist() == [0x9ABCDEF0, 0x2]
        assert ref["cfg/board_rev/flattened_data"][()].tolist() == [7, 0xB0]


def test_cut_gzip_stream_yields_what_it_holds_then_is_truncated(tmp_path):
    data = ORCA_FILE.read_bytes()
    compressed = gzip.compress(data)
    cut = tmp_path / "cut.orca.gz"
    cut.write_bytes(compressed[: len(compressed) // 2])
    with gzip.open(cut, "rb") as f:  # what a reader can decompress from the cut file
        readable = b""
        with contextlib.suppress(EOFError):
            while chunk := f.read1(1 << 16):
                readable += chunk
    starts, lengths = record_offsets()
    whole = starts + 4 * lengths <= len(readable)
    rows = 0
    with OrcaStream(cut) as stream, pytest.raises(DAQTruncatedError, match="ended") as err:
        for block in stream.decode(buffer_size=4):
            rows += sum(len(p.obj) for p in block if isinstance(p.obj, Table))
    assert rows == whole.sum() - 1  # all whole records but the header
    assert err.value.offset == starts[~whole][0]


def test_framing_of_short_extended_and_partial_records():
    words = np.array(
        [0x80000000 | 0x04000000 | 5, 0x000C0000, 4, 7, 8, 0x001C0003, 1], np.uint32
    )  # a short record, an extended one of 4 words, a 3-word one cut after 2
    frame = frame_records(words, 0, 10)
    assert frame.starts.tolist() == [0, 1]
    assert frame.lengths.tolist() == [1, 4]
    assert frame.data_ids.tolist() == [0x84000000, 0xC0000]
    assert (frame.end, frame.status) == (5, PARTIAL)
    assert frame_records(words, 0, 1).end == 1  # at most max_records
    bad = np.array([0x000C0000, 1, 0], np.uint32)  # extended length below 2
    assert frame_records(bad, 0, 10)[3:] == (0, BAD_LENGTH)


def test_decoding_again_starts_over(decoded):
    tables, _ = decoded
    with OrcaStream(ORCA_FILE) as stream:
        first = [p.decoder for block in stream.decode(n_max=5) for p in block]
        again = [p for block in stream.decode(buffer_size=9) for p in block]
    assert first[0] == again[0].decoder == "OrcaHeaderDecoder"
    waveforms = [p.obj for p in again if p.decoder == "ORFlashCamADCWaveformDecoder"]
    ref = tables["ORFlashCamADCWaveformDecoder"][0]
    assert concat(waveforms)["packet_id"].nda.tolist() == ref["packet_id"].nda.tolist()


# --- fuzz: corrupt copies of the real file give DAQError or tables, nothing else ----------
FUZZ_RUNS = 2000 if os.environ.get("TIERFLOW_FUZZ_FULL") == "1" else 40


def corrupt_copy(words, starts, rng):
    """The file's words with random data words, record header words or header bytes
    replaced, or cut at a random byte."""
    words = words.copy()
    kind = rng.integers(4)
    if kind == 0:
        for _ in range(rng.integers(1, 10)):
            words[rng.integers(starts[1], len(words))] = rng.integers(0, 2**32)
    elif kind == 1:
        record = rng.integers(1, len(starts))
        words[starts[record] + rng.integers(0, 4)] = rng.integers(0, 2**32)
    data = bytearray(words.tobytes())
    if kind == 2:
        for _ in range(rng.integers(1, 5)):
            data[rng.integers(0, 4 * starts[1])] = rng.integers(0, 256)
    if kind == 3:
        del data[rng.integers(0, len(data)) :]
    return bytes(data)


def test_corrupt_files_raise_daq_errors_only(tmp_path):
    words = words_of(ORCA_FILE)
    starts = frame_records(words, 0, 1000).starts
    rng = np.random.default_rng(15)
    path = tmp_path / "fuzz.orca"
    outcomes = {"decoded": 0, "DAQError": 0}
    for _ in range(FUZZ_RUNS):
        path.write_bytes(corrupt_copy(words, starts, rng))
        try:
            with OrcaStream(path) as stream:
                for _block in stream.decode(buffer_size=int(rng.integers(1, 100))):
                    pass
            outcomes["decoded"] += 1
        except DAQError as err:
            assert err.file == str(path)
            outcomes["DAQError"] += 1
    assert sum(outcomes.values()) == FUZZ_RUNS


def test_progress_of_a_gzipped_file_counts_its_compressed_bytes(tmp_path):
    """``bytes_read`` of a gzipped file ran past ``size`` (decompressed against compressed)."""
    import gzip
    import shutil

    from tierflow.daq.formats.orca.stream import OrcaStream

    zipped = tmp_path / "run.orca.gz"
    with open(ORCA_FILE, "rb") as src, gzip.open(zipped, "wb") as dst:
        shutil.copyfileobj(src, dst)
    with OrcaStream(zipped) as stream:
        for _ in stream.decode(8192):
            assert stream.bytes_read <= stream.size
        assert stream.bytes_read == stream.size
