"""The LlamaDAQ stream reader: the real file against legend-daq2lh5's output, every format-bit
combination and 48-bit timestamps on simulated files, block sizes, and bad input."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from testdata import TESTDATA, daq2lh5_output
from tierflow import sim
from tierflow.daq.formats.llama import LlamaStream
from tierflow.daq.formats.llama_header import run_start_from_filename
from tierflow.errors import DAQError, DAQTruncatedError
from tierflow.types import Scalar, Struct, concat

LLAMA_BIN = TESTDATA / "daq" / "llamaDAQ" / "20241218-150158-pulser.bin"

pytestmark = pytest.mark.skipif(not LLAMA_BIN.exists(), reason="real LlamaDAQ test file missing")


def decode_all(path, **kw):
    with LlamaStream(path) as stream:
        blocks = list(stream.decode(**kw))
    events = [p for block in blocks for p in block if p.decoder == "LLAMAEventDecoder"]
    return blocks[0][0], events


def table_of(events, key):
    return concat([t for p in events for k, t in p.by_key() if k == key])


def column(table, name):
    obj = table
    for part in name.split("/"):
        obj = obj[part]
    return obj


def default_table_names(key_lists, decoder):
    """daq2lh5's default routing: one table per key list (see DAQStream.decoder_key_lists)."""
    name = decoder.removesuffix("Decoder")
    if len(key_lists) == 1:
        return [name]
    return [f"{name}_{kl[0]}" if len(kl) == 1 else f"{name}_{i}" for i, kl in enumerate(key_lists)]


# --- the real file against daq2lh5 -------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    return decode_all(LLAMA_BIN)


def test_real_file_default_tables_are_daq2lh5s_llama_event_0_and_4():
    """Channels 0 and 4 differ in avg_mode and avg_sample_length, so they cannot share a
    table: two key lists of one key each, named LLAMAEvent_0 and LLAMAEvent_4."""
    with LlamaStream(LLAMA_BIN) as stream:
        key_lists = stream.decoder_key_lists()
    assert key_lists == {"LLAMAHeaderDecoder": [[None]], "LLAMAEventDecoder": [[0], [4]]}
    names = default_table_names(key_lists["LLAMAEventDecoder"], "LLAMAEventDecoder")
    names += default_table_names(key_lists["LLAMAHeaderDecoder"], "LLAMAHeaderDecoder")
    with h5py.File(daq2lh5_output("llamaDAQ/20241218-150158-pulser.bin", "LlamaDaq")) as f:
        assert sorted(names) == sorted(f)


@pytest.mark.parametrize("key", [0, 4])
def test_real_file_event_tables_equal_daq2lh5(real, key):
    table = table_of(real[1], key)
    with h5py.File(daq2lh5_output("llamaDAQ/20241218-150158-pulser.bin", "LlamaDaq")) as f:
        ref = f[f"LLAMAEvent_{key}"]
        assert sorted(table) == sorted(ref)
        names = []
        ref.visit(lambda name: names.append(name) if isinstance(ref[name], h5py.Dataset) else None)
        assert len(names) == 23
        for name in names:
            ours, theirs = column(table, name), ref[name]
            assert ours.nda.dtype == theirs.dtype, name
            assert ours.attrs.get("units") == theirs.attrs.get("units"), name
            assert np.array_equal(ours.nda, theirs[()]), name


def assert_struct_equals_group(ours: Struct, group: h5py.Group, path=""):
    assert sorted(ours) == sorted(group), path
    for name, value in ours.items():
        ref = group[name]
        if isinstance(ref, h5py.Group):
            assert_struct_equals_group(value, ref, f"{path}{name}/")
            continue
        assert isinstance(value, Scalar), path + name
        assert np.asarray(value.value).dtype == ref.dtype, path + name
        assert value.value == ref[()], path + name


def test_real_file_header_struct_equals_daq2lh5(real):
    header, _ = real
    assert header.decoder == "LLAMAHeaderDecoder"
    with h5py.File(daq2lh5_output("llamaDAQ/20241218-150158-pulser.bin", "LlamaDaq")) as f:
        assert_struct_equals_group(header.obj, f["LLAMAHeader"])


@pytest.mark.parametrize("buffer_size", [1, 7, 8192])
def test_every_buffer_size_gives_the_same_tables(real, buffer_size):
    _, events = decode_all(LLAMA_BIN, buffer_size=buffer_size)
    assert all(len(p.obj) <= buffer_size for p in events)
    for key in (0, 4):
        expected, got = table_of(real[1], key), table_of(events, key)
        for name in ["packet_id", "time_since_run_start", "waveform_presummed/values",
                     "waveform_presummed/t0", "waveform_windowed/values"]:  # fmt: skip
            assert np.array_equal(column(got, name).nda, column(expected, name).nda)


def test_n_max_stops_after_that_many_packets():
    _, events = decode_all(LLAMA_BIN, buffer_size=4, n_max=11)
    ids = np.sort(np.concatenate([p.obj["packet_id"].nda for p in events]))
    assert ids.tolist() == list(range(1, 12))


def test_run_start_comes_from_the_file_name():
    assert run_start_from_filename("x/20241218-150158Z-pulser.bin") == 1734534118.0
    assert run_start_from_filename("run-pulser.bin") == 0.0
    assert run_start_from_filename("20241399-150158-pulser.bin") == 0.0  # month 13


# --- simulated files ---------------------------------------------------------------------


def header_words(bits):
    return 2 + 7 * (bits & 1) + 2 * (bits >> 1 & 1) + 3 * (bits >> 2 & 1) + 2 * (bits >> 3 & 1)


class Channel:
    """A channel configuration for a simulated LlamaDAQ file."""

    def __init__(self, key, bits=3, raw=20, avg=8, mode=1, freq=250.0, pretrigger=10):
        self.key, self.bits, self.raw, self.avg, self.mode = key, bits, raw, avg, mode
        self.freq, self.pretrigger = freq, pretrigger
        self.has_avg = avg > 0 and mode > 0
        self.length = header_words(bits) + 1 + self.has_avg + (raw + avg * self.has_avg) // 2

    def config(self):
        w = np.zeros(22, "<u4")
        w[:4] = [self.key >> 4, self.key & 0xF, 3, 8191]
        w[4:8] = np.array([self.freq, 0.5]).view("<u4")
        w[8:22] = [self.bits, 4, self.pretrigger, 2, self.mode, self.raw, self.avg, 0,
                   self.length, header_words(self.bits), 2, 9, 11, 11]  # fmt: skip
        return w.tobytes()


def write_llama(path, channels, events):
    """``events``: (channel, ticks, extra words, status, shift, raw samples, avg samples)."""
    parts = [np.array([0x4972414C, 0x00010000, 0x00580002, len(channels)], "<u4").tobytes()]
    parts += [ch.config() for ch in channels]
    for ch, ticks, extra, status, shift, raw, avg in events:
        words = [((ticks >> 32) << 16) | (ch.key << 4) | ch.bits, ticks & 0xFFFFFFFF, *extra]
        words.append(((0xA if ch.has_avg else 0xE) << 28) | (status << 26) | (ch.raw // 2))
        if ch.has_avg:
            words.append((0xE << 28) | (shift << 16) | (ch.avg // 2))
        parts.append(np.array(words, "<u4").tobytes())
        parts.append(np.asarray(raw, "<u2").tobytes() + np.asarray(avg, "<u2").tobytes())
    path.write_bytes(b"".join(parts))
    return path


def simulated_events(channels, n, seed=5, ticks=None):
    wf, _ = sim.simulate_waveforms(n, seed=seed)
    rng = np.random.default_rng(seed)
    if ticks is None:
        ticks = np.cumsum(rng.integers(1, 2**20, n))
    events = []
    for i in range(n):
        ch = channels[i % len(channels)]
        extra = rng.integers(0, 2**32, header_words(ch.bits) - 2, dtype=np.uint64).tolist()
        raw = wf.values.nda[i, : ch.raw]
        avg = wf.values.nda[i, 100 : 100 + ch.avg] if ch.has_avg else []
        events.append((ch, int(ticks[i]), extra, i % 2, i % 7, raw, avg))
    return events


@pytest.mark.parametrize("bits", range(16))
def test_every_format_bit_combination_decodes_every_field(tmp_path, bits):
    channels = [Channel(0, bits=bits), Channel(17, bits=bits, avg=0, mode=0, raw=12)]
    events = simulated_events(channels, 8)
    _, pieces = decode_all(write_llama(tmp_path / "20240101-000000-run.bin", channels, events))
    for key, ch in ((0, channels[0]), (17, channels[1])):
        mine = [e for e in events if e[0] is ch]
        table = table_of(pieces, key)
        assert (table["fadc_channel_id"].nda == key).all()
        dt = 1 / ch.freq * 1000
        ticks = np.array([e[1] for e in mine], np.float64)
        assert np.array_equal(table["time_since_run_start"].nda, ticks * dt * 1e-9)
        assert table["fadc_status_bits"].nda.tolist() == [e[3] for e in mine]
        extra = np.array([e[2] for e in mine], np.uint32).reshape(len(mine), -1)
        at = 0
        expected_columns = {"packet_id", "fadc_channel_id", "time_since_run_start", "unixtime",
                            "unixtime_accuracy", "fadc_status_bits", "waveform_windowed"}  # fmt: skip
        if bits & 1:
            assert np.array_equal(table["wf_max_sample_value"].nda, extra[:, 0] & 0xFFFF)
            assert np.array_equal(table["wf_max_sample_idx"].nda, extra[:, 0] >> 16)
            assert np.array_equal(table["info_bits"].nda, extra[:, 1] >> 24)
            assert np.array_equal(table["cumsum_1"].nda, extra[:, 1] & 0xFFFFFF)
            for i in range(2, 7):
                assert np.array_equal(table[f"cumsum_{i}"].nda, extra[:, i])
            expected_columns |= {"wf_max_sample_value", "wf_max_sample_idx", "info_bits"}
            expected_columns |= {f"cumsum_{i}" for i in range(1, 7)}
            at = 7
        if bits & 2:
            assert np.array_equal(table["cumsum_7"].nda, extra[:, at])
            assert np.array_equal(table["cumsum_8"].nda, extra[:, at + 1])
            expected_columns |= {"cumsum_7", "cumsum_8"}
            at += 2
        if bits & 4:
            for i, name in enumerate(["maw_max", "maw_before", "maw_after"]):
                assert np.array_equal(table[name].nda, extra[:, at + i])
            expected_columns |= {"maw_max", "maw_before", "maw_after"}
            at += 3
        if bits & 8:
            assert np.array_equal(table["start_energy"].nda, extra[:, at])
            assert np.array_equal(table["max_energy"].nda, extra[:, at + 1])
            expected_columns |= {"start_energy", "max_energy"}
        windowed = table["waveform_windowed"]
        assert np.array_equal(windowed["values"].nda, np.array([e[5] for e in mine]))
        assert (windowed["dt"].nda == dt).all()
        assert (windowed["t0"].nda == (4 - ch.pretrigger) * dt).all()
        if ch.has_avg:
            expected_columns.add("waveform_presummed")
            presummed = table["waveform_presummed"]
            assert np.array_equal(presummed["values"].nda, np.array([e[6] for e in mine]))
            assert (presummed["dt"].nda == dt * 4).all()  # avg_mode 1: 4 samples summed
            shift = np.array([e[4] for e in mine])
            t0 = -ch.pretrigger * dt - 2 * dt * 4 + shift * dt
            assert np.array_equal(presummed["t0"].nda, t0.astype(np.float32))
        assert set(table) == expected_columns


def test_channels_of_one_layout_share_a_piece_in_file_order(tmp_path):
    channels = [Channel(0), Channel(1), Channel(2, raw=12)]
    events = simulated_events(channels, 9)
    _, pieces = decode_all(write_llama(tmp_path / "run.bin", channels, events))
    assert len(pieces) == 2
    assert pieces[0].keys.tolist() == [0, 1, 0, 1, 0, 1]
    assert pieces[0].obj["packet_id"].nda.tolist() == [1, 2, 4, 5, 7, 8]
    assert pieces[1].obj["packet_id"].nda.tolist() == [3, 6, 9]
    with LlamaStream(tmp_path / "run.bin") as stream:
        assert stream.decoder_key_lists()["LLAMAEventDecoder"] == [[0, 1], [2]]


def test_timestamps_keep_48_bits_where_daq2lh5_keeps_32(tmp_path):
    """daq2lh5 computes ``(w0 & 0xFFFF0000) << 16`` in uint32 (numpy 2 keeps the type), so
    the upper 16 bits of the 48-bit timestamp are lost after 2**32 ticks (17 s at 250 MHz)."""
    daq2lh5 = pytest.importorskip("daq2lh5")
    channels = [Channel(0)]
    ticks = np.array([5, 2**32 - 1, 2**32 + 7, 3 * 2**40 + 11])
    events = simulated_events(channels, 4, ticks=ticks)
    path = write_llama(tmp_path / "20240101-000000Z-run.bin", channels, events)
    _, pieces = decode_all(path)
    time = table_of(pieces, 0)["time_since_run_start"].nda
    assert np.array_equal(time, ticks.astype(np.float64) * 4.0 * 1e-9)
    out = tmp_path / "daq2lh5.lh5"
    daq2lh5.build_raw(str(path), in_stream_type="LlamaDaq", out_spec=str(out))
    with h5py.File(out) as f:
        theirs = f["LLAMAEvent/time_since_run_start"][()]
    assert np.array_equal(theirs, (ticks % 2**32).astype(np.float64) * 4.0 * 1e-9)
    assert np.array_equal(theirs[:2], time[:2]) and not np.array_equal(theirs[2:], time[2:])


def test_accumulators_are_read_from_their_words_where_daq2lh5_reads_one_late(tmp_path):
    """Format bit 0 adds 7 words: the peak, the information byte with accumulator 1, and
    accumulators 2-6. daq2lh5 reads cumsum_1-6 from words 4-9: without format bit 1 its
    cumsum_6 is the raw-length word after the block."""
    daq2lh5 = pytest.importorskip("daq2lh5")
    channels = [Channel(0, bits=1)]
    events = simulated_events(channels, 4)
    path = write_llama(tmp_path / "20240101-000000Z-run.bin", channels, events)
    _, pieces = decode_all(path)
    table = table_of(pieces, 0)
    extra = np.array([e[2] for e in events], np.uint32)
    assert np.array_equal(table["cumsum_1"].nda, extra[:, 1] & 0xFFFFFF)
    assert np.array_equal(table["cumsum_6"].nda, extra[:, 6])
    out = tmp_path / "daq2lh5.lh5"
    daq2lh5.build_raw(str(path), in_stream_type="LlamaDaq", out_spec=str(out))
    with h5py.File(out) as f:
        assert np.array_equal(f["LLAMAEvent/cumsum_1"][()], extra[:, 2])
        raw_length_words = 0xA0000000 | (np.array([e[3] for e in events]) << 26) | 10
        assert np.array_equal(f["LLAMAEvent/cumsum_6"][()], raw_length_words)


# --- bad input ---------------------------------------------------------------------------


def event_order():
    """The channel key of each event of the real file, in file order (from daq2lh5's output)."""
    with h5py.File(daq2lh5_output("llamaDAQ/20241218-150158-pulser.bin", "LlamaDaq")) as f:
        ids = {key: f[f"LLAMAEvent_{key}/packet_id"][()] for key in (0, 4)}
    keys = np.zeros(sum(len(v) for v in ids.values()), int)
    for key, packet_ids in ids.items():
        keys[packet_ids - 1] = key
    return keys


def test_truncated_file_yields_complete_events_then_names_the_partial_one(tmp_path):
    data = LLAMA_BIN.read_bytes()
    lengths = np.where(event_order() == 0, 6013 * 4, 1263 * 4)  # bytes, from the configs
    partial = 16 + 2 * 88 + int(lengths[:12].sum())
    cut = tmp_path / "20241218-150158-cut.bin"
    cut.write_bytes(data[: partial + 1000])
    decoded = []
    stream = LlamaStream(cut)
    with stream, pytest.raises(DAQTruncatedError) as err:
        for block in stream.decode(buffer_size=5):
            decoded += [p for p in block if p.decoder == "LLAMAEventDecoder"]
    assert err.value.file == str(cut)
    assert err.value.offset == partial
    assert sum(len(p.obj) for p in decoded) == 12


def test_file_ending_inside_the_header_is_truncated(tmp_path):
    cut = tmp_path / "cut.bin"
    cut.write_bytes(LLAMA_BIN.read_bytes()[:100])
    with pytest.raises(DAQTruncatedError, match="channel configurations") as err:
        LlamaStream(cut)
    assert err.value.offset == 16


def test_event_of_a_channel_without_configuration_is_an_error(tmp_path):
    channels = [Channel(0)]
    events = simulated_events(channels, 3)
    data = bytearray(write_llama(tmp_path / "run.bin", channels, events).read_bytes())
    second = 16 + 88 + 4 * channels[0].length
    data[second : second + 4] = np.array([(9 << 4) | 3], "<u4").tobytes()
    (tmp_path / "run.bin").write_bytes(data)
    decoded = []
    stream = LlamaStream(tmp_path / "run.bin")
    with stream, pytest.raises(DAQError, match="channel key 9") as err:
        for block in stream.decode():
            decoded += [p for p in block if p.decoder == "LLAMAEventDecoder"]
    assert err.value.offset == second
    assert sum(len(p.obj) for p in decoded) == 1


def test_event_that_does_not_match_its_configuration_is_an_error(tmp_path):
    channels = [Channel(0)]
    events = simulated_events(channels, 3)
    data = bytearray(write_llama(tmp_path / "run.bin", channels, events).read_bytes())
    third = 16 + 88 + 2 * 4 * channels[0].length
    marker = third + 4 * header_words(3)
    data[marker : marker + 4] = np.array([0xE0000000 | 10], "<u4").tobytes()  # no avg marker
    (tmp_path / "run.bin").write_bytes(data)
    with LlamaStream(tmp_path / "run.bin") as stream, pytest.raises(DAQError) as err:
        list(stream.decode())
    assert err.value.offset == third


@pytest.mark.parametrize(
    ("patch", "message", "offset"),
    [
        (lambda d: d.__setitem__(slice(0, 4), b"XXXX"), "not a LlamaDAQ file", 0),
        (lambda d: d.__setitem__(slice(10, 12), b"\x50\x00"), "configuration length 80", 10),
        (
            lambda d: d.__setitem__(slice(12, 16), b"\xff\xff\x00\x00"),
            "channel configurations",
            None,
        ),
        (lambda d: d.__setitem__(slice(16 + 64, 16 + 68), b"\x00" * 4), "event length 0", 16),
        (
            lambda d: d.__setitem__(slice(16 + 16, 16 + 24), b"\x00" * 8),
            "not a positive frequency",
            16,
        ),
        (lambda d: d.__setitem__(slice(16 + 88, 16 + 96), d[16:24]), "duplicate", 104),
    ],
)
def test_corrupt_header_is_an_error_naming_file_and_offset(tmp_path, patch, message, offset):
    data = bytearray(LLAMA_BIN.read_bytes()[:50000])
    patch(data)
    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    with pytest.raises(DAQError, match=message) as err:
        LlamaStream(path)
    assert err.value.file == str(path)
    if offset is not None:
        assert err.value.offset == offset


def test_empty_event_stream_ends_cleanly(tmp_path):
    path = write_llama(tmp_path / "run.bin", [Channel(0)], [])
    header, pieces = decode_all(path)
    assert pieces == [] and header.obj["number_chOpen"].value == 1


FUZZ_CASES = 2000 if os.environ.get("TIERFLOW_FUZZ_FULL") else 40


def test_random_byte_corruptions_give_tables_or_daq_errors(tmp_path):
    """Bytes overwritten at random places of the header and the first events: every decode
    ends (no hang) with tables or a DAQError, never another exception."""
    data = LLAMA_BIN.read_bytes()[:60000]
    rng = np.random.default_rng(15)
    outcomes = {"ok": 0, "error": 0}
    for case in range(FUZZ_CASES):
        mutated = bytearray(data)
        for at in rng.integers(0, 16 + 2 * 88 + 200 if case % 2 else len(data), 3):
            mutated[at] = rng.integers(0, 256)
        path = tmp_path / "20241218-150158-fuzz.bin"
        path.write_bytes(mutated)
        try:
            with LlamaStream(path) as stream:
                for _ in stream.decode(buffer_size=3):
                    pass
            outcomes["ok"] += 1
        except DAQError:
            outcomes["error"] += 1
    assert outcomes["ok"] + outcomes["error"] == FUZZ_CASES
    assert outcomes["error"] > 0
