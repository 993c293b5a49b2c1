"""The CoMPASS stream reader: the real file against legend-daq2lh5's output, every header flag
combination on simulated files, block sizes, and bad input (truncation, garbage lengths,
missing or corrupt settings)."""

from __future__ import annotations

import os
import struct

import h5py
import numpy as np
import pytest

from testdata import TESTDATA, daq2lh5_output
from tierflow import sim
from tierflow.daq.formats.compass import CompassStream
from tierflow.daq.formats.llama import LlamaStream
from tierflow.daq.stream import guess_stream_type
from tierflow.errors import DAQError, DAQTruncatedError
from tierflow.types import Scalar, Struct, Table, concat

COMPASS_DIR = TESTDATA / "daq" / "compass"
BIN = COMPASS_DIR / "compass_test_data.BIN"
SETTINGS = COMPASS_DIR / "compass_test_data_settings.xml"
LLAMA_BIN = TESTDATA / "daq" / "llamaDAQ" / "20241218-150158-pulser.bin"

pytestmark = pytest.mark.skipif(not BIN.exists(), reason="real CoMPASS test file missing")

SETTINGS_XML = """<?xml version="1.0"?>
<configuration><board>
  <modelName>{model}</modelName><adcBitCount>14</adcBitCount>{sample_time}
  <parameters>
    <entry><key>SRV_PARAM_RECLEN</key><value><value t="d">{reclen}</value></value></entry>
    <entry><key>SRV_PARAM_CH_THRESHOLD</key><value><value t="d">50.0</value></value></entry>
  </parameters>
  <channel><index>0</index><values>
    <entry><key>SRV_PARAM_CH_ENABLED</key><value t="b">true</value></entry>
    <entry><key>SRV_PARAM_CH_THRESHOLD</key></entry>
  </values></channel>
  <channel><index>1</index><values>
    <entry><key>SRV_PARAM_CH_ENABLED</key><value t="b">true</value></entry>
    <entry><key>SRV_PARAM_CH_THRESHOLD</key><value t="d">70.0</value></entry>
  </values></channel>
  <channel><index>2</index><values/></channel>
</board></configuration>
"""


def write_settings(path, model="DT5725", sample_time="<sampleTime>4000</sampleTime>", reclen=64):
    path.write_text(SETTINGS_XML.format(model=model, sample_time=sample_time, reclen=reclen))
    return path


def simulated_records(n, n_samples, seed=3):
    """Record fields from tierflow's simulator: waveforms cut to n_samples, energies in ADC."""
    wf, truth = sim.simulate_waveforms(n, seed=seed)
    rng = np.random.default_rng(seed)
    return {
        "board": np.zeros(n, int),
        "channel": rng.integers(0, 2, n),
        "timestamp": np.cumsum(rng.integers(1, 10**9, n)).astype(np.uint64) * 1000,
        "energy": (truth["energy"].nda * 2).astype(np.uint16),
        "energy_calibrated": truth["energy_smeared"].nda.astype(np.float64),
        "energy_short": (truth["energy"].nda / 3).astype(np.uint16),
        "flags": rng.integers(0, 2**20, n).astype(np.uint32),
        "waveform": wf.values.nda[:, :n_samples],
    }


def record_bytes(flags, rec, i, n_samples=None):
    """One record as CoMPASS writes it, packed field by field."""
    samples = rec["waveform"][i] if n_samples is None else rec["waveform"][i][:n_samples]
    out = struct.pack("<HHQ", rec["board"][i], rec["channel"][i], rec["timestamp"][i])
    if flags & 1:
        out += struct.pack("<H", rec["energy"][i])
    if flags & 2:
        out += struct.pack("<d", rec["energy_calibrated"][i])
    if flags & 4:
        out += struct.pack("<H", rec["energy_short"][i])
    out += struct.pack("<IBI", rec["flags"][i], 1, len(samples))
    return out + np.asarray(samples, "<u2").tobytes()


def write_bin(path, flags, rec, lengths=None):
    n = len(rec["board"])
    with open(path, "wb") as f:
        f.write(struct.pack("<H", 0xCAE0 | flags))
        for i in range(n):
            f.write(record_bytes(flags, rec, i, None if lengths is None else lengths[i]))
    return path


def decode_all(path, settings, **kw):
    with CompassStream(path, compass_config_file=settings) as stream:
        blocks = list(stream.decode(**kw))
    header = blocks[0][0]
    events = [p for block in blocks for p in block if p.decoder == "CompassEventDecoder"]
    return header, events


def events_table(events) -> Table:
    return concat([p.obj for p in events])


def column(table, name):
    obj = table
    for part in name.split("/"):
        obj = obj[part]
    return obj


# --- the real file against daq2lh5 -------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    return decode_all(BIN, SETTINGS)


def test_real_file_event_table_equals_daq2lh5_but_for_its_two_defects(real):
    _, events = real
    table = events_table(events)
    with h5py.File(
        daq2lh5_output(
            "compass/compass_test_data.BIN", "Compass", "compass/compass_test_data_settings.xml"
        )
    ) as f:
        ref = f["CompassEvent"]
        assert sorted(table) == sorted(ref)
        assert sorted(table["waveform"]) == sorted(ref["waveform"])
        for name in ["board", "channel", "energy", "energy_calibrated", "energy_short", "flags",
                     "num_samples", "packet_id", "timestamp", "waveform/t0", "waveform/dt",
                     "waveform/values"]:  # fmt: skip
            ours, theirs = column(table, name), ref[name]
            assert ours.nda.dtype == theirs.dtype, name
            assert ours.nda.shape == theirs.shape, name
            assert ours.attrs.get("units") == theirs.attrs.get("units"), name
            if name == "energy_calibrated":
                # the file has no calibrated energy (header bit 1 clear): daq2lh5 writes
                # uninitialised memory, tierflow NaN
                assert np.isnan(ours.nda).all()
                assert not np.isnan(theirs[()]).all()
            elif name == "waveform/dt":
                # a DT5730 samples every 2 ns (<sampleTime>2000</sampleTime> ps); daq2lh5: 16 ns
                assert (ours.nda == 2.0).all()
                assert (theirs[()] == 16.0).all()
            else:
                assert np.array_equal(ours.nda, theirs[()]), name


def test_real_file_keys_and_default_table_names_are_daq2lh5s():
    with CompassStream(BIN, compass_config_file=SETTINGS) as stream:
        assert stream.decoder_keys() == {
            "CompassHeaderDecoder": [None],
            "CompassEventDecoder": [0, 1],
        }
        # one key list per decoder: daq2lh5's default tables are CompassHeader, CompassEvent
        assert stream.decoder_key_lists() == {
            "CompassHeaderDecoder": [[None]],
            "CompassEventDecoder": [[0, 1]],
        }


def assert_struct_equals_group(ours: Struct, group: h5py.Group, path=""):
    assert sorted(ours) == sorted(group), path
    for name, value in ours.items():
        ref = group[name]
        if isinstance(ref, h5py.Group):
            assert isinstance(value, Struct), path + name
            assert_struct_equals_group(value, ref, f"{path}{name}/")
            continue
        assert isinstance(value, Scalar), path + name
        assert value.form_datatype() == ref.attrs["datatype"], path + name
        if isinstance(ref[()], bytes):
            assert value.value == ref[()].decode(), path + name
        else:
            assert np.asarray(value.value).dtype == ref.dtype, path + name
            assert value.value == ref[()], path + name


def test_real_file_header_struct_equals_daq2lh5(real):
    header, _ = real
    assert header.decoder == "CompassHeaderDecoder"
    with h5py.File(
        daq2lh5_output(
            "compass/compass_test_data.BIN", "Compass", "compass/compass_test_data_settings.xml"
        )
    ) as f:
        assert_struct_equals_group(header.obj, f["CompassHeader"])


@pytest.mark.parametrize("buffer_size", [1, 7, 8192])
def test_every_buffer_size_gives_the_same_table(real, buffer_size):
    _, events = decode_all(BIN, SETTINGS, buffer_size=buffer_size)
    assert all(len(p.obj) <= buffer_size for p in events)
    expected, got = events_table(real[1]), events_table(events)
    for name in ["packet_id", "energy", "timestamp", "waveform/values", "waveform/dt"]:
        assert np.array_equal(column(got, name).nda, column(expected, name).nda)


def test_n_max_stops_after_that_many_packets(real):
    _, events = decode_all(BIN, SETTINGS, buffer_size=7, n_max=10)
    table = events_table(events)
    assert table["packet_id"].nda.tolist() == list(range(1, 11))
    assert np.array_equal(table["energy"].nda, events_table(real[1])["energy"].nda[:10])


def test_sniffing_tells_compass_and_llama_bin_files_apart():
    compass_head = BIN.read_bytes()[:64]
    llama_head = LLAMA_BIN.read_bytes()[:64]
    assert CompassStream.sniff(compass_head) and not LlamaStream.sniff(compass_head)
    assert LlamaStream.sniff(llama_head) and not CompassStream.sniff(llama_head)
    assert guess_stream_type(BIN) == "Compass"
    assert guess_stream_type(LLAMA_BIN) == "LlamaDaq"


# --- header flags, simulated files --------------------------------------------------------


@pytest.mark.parametrize("flags", range(16))
def test_every_header_flag_combination_decodes_every_field(tmp_path, flags):
    n_samples = 24 if flags & 8 else 0
    rec = simulated_records(9, n_samples)
    path = write_bin(tmp_path / "run.BIN", flags, rec)
    header, events = decode_all(path, write_settings(tmp_path / "s.xml"), buffer_size=4)
    table = events_table(events)
    assert header.obj["energy_channels"].value == bool(flags & 1)
    assert header.obj["energy_calibrated"].value == bool(flags & 2)
    assert header.obj["energy_short"].value == bool(flags & 4)
    assert header.obj["waveform_samples"].value == bool(flags & 8)
    assert table["packet_id"].nda.tolist() == list(range(1, 10))
    assert np.array_equal(table["channel"].nda, rec["channel"])
    assert np.array_equal(table["timestamp"].nda, rec["timestamp"].astype(np.float64))
    assert np.array_equal(table["flags"].nda, rec["flags"])
    energy = rec["energy"] if flags & 1 else np.zeros(9)
    assert np.array_equal(table["energy"].nda, energy)
    if flags & 2:
        assert np.array_equal(table["energy_calibrated"].nda, rec["energy_calibrated"])
    else:
        assert np.isnan(table["energy_calibrated"].nda).all()
    short = rec["energy_short"] if flags & 4 else np.zeros(9)
    assert np.array_equal(table["energy_short"].nda, short)
    assert (table["num_samples"].nda == n_samples).all()
    if flags & 8:
        assert np.array_equal(table["waveform"]["values"].nda, rec["waveform"])
        assert (table["waveform"]["dt"].nda == 4.0).all()  # <sampleTime>4000</sampleTime> ps
    else:
        assert "waveform" not in table


@pytest.mark.parametrize("flags", [0x8, 0xA, 0xB, 0xF])
def test_calibrated_or_no_energy_files_decode_where_daq2lh5_fails(tmp_path, flags):
    """daq2lh5 steps through a record's energies wrongly unless the file has the ADC energy
    and no calibrated one: with both it skips only the u16 energy (reads the rest 8 bytes
    early), with the calibrated one alone it reads it at byte 14 (not 12) and stores None in
    ``energy``, with neither it reads 8 bytes of calibrated energy that are not there. Each
    ends in an exception; tierflow reads every field where it is."""
    daq2lh5 = pytest.importorskip("daq2lh5")
    rec = simulated_records(6, 16)
    path = write_bin(tmp_path / "run.BIN", flags, rec)
    settings = write_settings(tmp_path / "s.xml", model="DT5730", reclen=32)  # 16 samples
    _, events = decode_all(path, settings)
    table = events_table(events)
    if flags & 2:
        assert np.array_equal(table["energy_calibrated"].nda, rec["energy_calibrated"])
    if flags & 4:
        assert np.array_equal(table["energy_short"].nda, rec["energy_short"])
    assert np.array_equal(table["flags"].nda, rec["flags"])
    assert np.array_equal(table["waveform"]["values"].nda, rec["waveform"][:, :16])
    with pytest.raises((RuntimeError, TypeError)):
        daq2lh5.build_raw(
            str(path),
            in_stream_type="Compass",
            out_spec=str(tmp_path / "daq2lh5.lh5"),
            compass_config_file=str(settings),
        )


def test_waveform_lengths_that_change_give_separate_pieces_in_file_order(tmp_path):
    rec = simulated_records(10, 40)
    lengths = [40, 40, 8, 8, 8, 40, 0, 0, 40, 40]
    path = write_bin(tmp_path / "run.BIN", 0xD, rec, lengths)
    _, events = decode_all(path, write_settings(tmp_path / "s.xml"))
    assert [len(p.obj) for p in events] == [2, 3, 1, 2, 2]
    packet_ids = np.concatenate([p.obj["packet_id"].nda for p in events])
    assert packet_ids.tolist() == list(range(1, 11))
    for piece in events:
        for row, pid in enumerate(piece.obj["packet_id"].nda):
            i = pid - 1
            values = piece.obj["waveform"]["values"].nda[row]
            assert np.array_equal(values, rec["waveform"][i][: lengths[i]])
            assert piece.obj["num_samples"].nda[row] == lengths[i]


def test_waveform_lengths_changing_every_record_are_grouped_by_length(tmp_path):
    rec = simulated_records(40, 30)
    lengths = [30 if i % 2 else 10 for i in range(40)]  # 40 runs: more than a piece each
    path = write_bin(tmp_path / "run.BIN", 0x9, rec, lengths)
    _, events = decode_all(path, write_settings(tmp_path / "s.xml"))
    assert [p.obj["waveform"]["values"].nda.shape for p in events] == [(20, 10), (20, 30)]
    assert events[0].obj["packet_id"].nda.tolist() == list(range(1, 41, 2))
    for piece in events:
        for row, pid in enumerate(piece.obj["packet_id"].nda):
            expected = rec["waveform"][pid - 1][: lengths[pid - 1]]
            assert np.array_equal(piece.obj["waveform"]["values"].nda[row], expected)
            assert piece.obj["energy"].nda[row] == rec["energy"][pid - 1]


def test_records_of_channels_not_enabled_are_skipped_and_counted(tmp_path):
    rec = simulated_records(6, 16)
    rec["channel"] = np.array([0, 2, 1, 2, 0, 5])
    path = write_bin(tmp_path / "run.BIN", 0x9, rec)
    with CompassStream(path, compass_config_file=write_settings(tmp_path / "s.xml")) as stream:
        events = [p for b in stream.decode() for p in b if p.decoder == "CompassEventDecoder"]
        assert stream.skipped == {"key 2": 2, "key 5": 1}
    table = events_table(events)
    assert table["packet_id"].nda.tolist() == [1, 3, 5]
    assert [k for k, _ in events[0].by_key()] == [0, 1]


# --- bad input ---------------------------------------------------------------------------


def test_truncated_file_yields_complete_records_then_names_the_partial_one(tmp_path):
    data = BIN.read_bytes()
    record = (len(data) - 2) // 102  # 102 records of one size
    cut = tmp_path / "cut.BIN"
    cut.write_bytes(data[: 2 + 40 * record + 100])
    decoded = []
    stream = CompassStream(cut, compass_config_file=SETTINGS)
    with stream, pytest.raises(DAQTruncatedError) as err:
        for block in stream.decode(buffer_size=16):
            decoded += [p for p in block if p.decoder == "CompassEventDecoder"]
    assert err.value.file == str(cut)
    assert err.value.offset == 2 + 40 * record
    assert len(events_table(decoded)) == 40


def test_file_ending_inside_the_fixed_part_is_truncated(tmp_path):
    cut = tmp_path / "cut.BIN"
    cut.write_bytes(BIN.read_bytes()[:12])
    stream = CompassStream(cut, compass_config_file=SETTINGS)
    with (
        stream,
        pytest.raises(DAQTruncatedError, match=r"ends inside a record .* fixed part") as err,
    ):
        list(stream.decode())
    assert err.value.offset == 2


def test_garbage_sample_count_past_the_end_is_an_error_not_a_huge_read(tmp_path):
    rec = simulated_records(3, 16)
    data = bytearray(write_bin(tmp_path / "run.BIN", 0x9, rec).read_bytes())
    second = 2 + len(record_bytes(0x9, rec, 0))
    struct.pack_into("<I", data, second + 12 + 2 + 5, 0xFFFFFFFF)
    (tmp_path / "run.BIN").write_bytes(data)
    with (
        CompassStream(
            tmp_path / "run.BIN", compass_config_file=write_settings(tmp_path / "s.xml")
        ) as s,
        pytest.raises(DAQTruncatedError) as err,
    ):
        list(s.decode())
    assert err.value.offset == second
    assert f"needs {23 + 2 * 0xFFFFFFFF} bytes for {0xFFFFFFFF} samples" in str(err.value)


def test_zero_sample_counts_end_without_hanging(tmp_path):
    rec = simulated_records(5, 16)
    path = write_bin(tmp_path / "run.BIN", 0xB, rec, lengths=[0] * 5)
    _, events = decode_all(path, write_settings(tmp_path / "s.xml"), buffer_size=2)
    table = events_table(events)
    assert len(table) == 5
    assert table["waveform"]["values"].nda.shape == (5, 0)


def test_file_without_the_caex_header_is_refused(tmp_path):
    path = tmp_path / "noheader.BIN"
    path.write_bytes(BIN.read_bytes()[2:])
    with pytest.raises(DAQError, match="0xCAEx") as err:
        CompassStream(path, compass_config_file=SETTINGS)
    assert err.value.offset == 0


def test_missing_settings_file_is_an_error_naming_what_is_missing(tmp_path):
    alone = tmp_path / "run" / "RAW" / "data.BIN"
    alone.parent.mkdir(parents=True)
    alone.write_bytes(BIN.read_bytes())
    with pytest.raises(DAQError, match="compass_config_file") as err:
        CompassStream(alone)
    assert err.value.file == str(alone)
    assert str(tmp_path / "run" / "settings.xml") in str(err.value)
    missing = tmp_path / "settings.xml"
    with pytest.raises(DAQError, match="cannot open the CoMPASS settings file") as err:
        CompassStream(BIN, compass_config_file=missing)
    assert err.value.file == str(missing)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (lambda xml: xml[: len(xml) // 2], "not valid XML"),
        (lambda xml: "<other/>", "no <configuration><board>"),
        (lambda xml: xml.replace("<modelName>DT5725</modelName>", ""), "no <modelName>"),
        (lambda xml: xml.replace("SRV_PARAM_RECLEN", "X"), "SRV_PARAM_RECLEN"),
        (lambda xml: xml.replace('<value t="d">64</value>', ""), "RECLEN"),
        (lambda xml: xml.replace("4000</sampleTime>", "abc</sampleTime>"), "sampleTime"),
        (lambda xml: xml.replace("<index>1</index>", "<index>x</index>"), "index"),
    ],
)
def test_corrupt_settings_xml_is_an_error_naming_the_file(tmp_path, text, message):
    good = write_settings(tmp_path / "good.xml").read_text()
    bad = tmp_path / "bad.xml"
    bad.write_text(text(good))
    with pytest.raises(DAQError, match=message) as err:
        CompassStream(BIN, compass_config_file=bad)
    assert err.value.file == str(bad)


def test_unknown_model_without_sample_time_is_an_error(tmp_path):
    settings = write_settings(tmp_path / "s.xml", model="V1725", sample_time="")
    with pytest.raises(DAQError, match="sample rate is unknown"):
        CompassStream(BIN, compass_config_file=settings)


FUZZ_CASES = 2000 if os.environ.get("TIERFLOW_FUZZ_FULL") else 40


def test_random_byte_corruptions_give_tables_or_daq_errors(tmp_path):
    """Bytes overwritten at random places: every decode ends (no hang) with tables or a
    DAQError, never another exception."""
    data = BIN.read_bytes()[:30000]
    rng = np.random.default_rng(15)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(FUZZ_CASES):
        mutated = bytearray(data)
        for at in rng.integers(0, len(data), 3):
            mutated[at] = rng.integers(0, 256)
        path = tmp_path / "fuzz.BIN"
        path.write_bytes(mutated)
        try:
            with CompassStream(path, compass_config_file=SETTINGS) as stream:
                for _ in stream.decode(buffer_size=3):
                    pass
            outcomes["ok"] += 1
        except DAQError:
            outcomes["error"] += 1
    assert outcomes["ok"] + outcomes["error"] == FUZZ_CASES
    assert outcomes["error"] > 0


@pytest.mark.parametrize(
    "where", ["run/settings.xml", "run/RAW/settings.xml", "run/RAW/data_settings.xml"]
)
def test_settings_file_where_compass_keeps_it_is_found(tmp_path, where):
    """Without compass_config_file, the run's settings.xml (in the file's folder or the one
    above, or {stem}_settings.xml beside it) is used: the same tables as given explicitly."""
    data = tmp_path / "run" / "RAW" / "data.BIN"
    data.parent.mkdir(parents=True)
    data.write_bytes(BIN.read_bytes())
    (tmp_path / where).write_bytes(SETTINGS.read_bytes())
    _, found = decode_all(data, None)
    _, given = decode_all(data, SETTINGS)
    ours, theirs = events_table(found), events_table(given)
    assert len(ours) == len(theirs) > 0
    for name in ("timestamp", "energy", "channel"):
        assert column(ours, name).nda.tolist() == column(theirs, name).nda.tolist()
    assert ours["waveform"]["dt"].nda.tolist() == theirs["waveform"]["dt"].nda.tolist()
