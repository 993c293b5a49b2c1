"""Simulated runs as ORCA DAQ files: legend-daq2lh5 (test-only oracle) decodes them to the
simulator's raw tier, the truth lines up, the bytes are deterministic and chunking does not
change them."""

from __future__ import annotations

import gzip
import hashlib
import logging
import plistlib

import numpy as np
import pytest

from tierflow import lh5, sim
from tierflow.errors import SimulationError
from tierflow.sim.channels import Channel

daq2lh5 = pytest.importorskip("daq2lh5")
lgdo_lh5 = pytest.importorskip("lh5")

RUN = dict(n_events=40, channels=4, seed=3, start="20230318T012144Z", run_number=7)
#: columns daq2lh5's ORCA FlashCam decoder writes that the simulator's FCIO-like raw tier
#: has not, and the other way round
ONLY_DAQ2LH5 = {"dr_ch_idx", "dr_ch_len", "deadinterval_nsec", "lifetime"}
ONLY_SIM = {"tracelist"}


def _daq2lh5_raw(orca_path, out_path):
    spec = {
        "ORFlashCamADCWaveformDecoder": {
            "ch{key:07d}/raw": {"key_list": ["*"], "out_stream": out_path}
        },
        "*": {"{name}": {"key_list": ["*"], "out_stream": out_path}},
    }
    logging.getLogger("daq2lh5").setLevel(logging.ERROR)
    daq2lh5.build_raw(str(orca_path), in_stream_type="ORCA", out_spec=spec, buffer_size=64)
    return out_path


@pytest.fixture(scope="module")
def decoded(tmp_path_factory):
    """A small run as an ORCA file (written 16 records at a time) and as raw LH5 files by
    the simulator, and the ORCA file decoded by daq2lh5."""
    d = tmp_path_factory.mktemp("simdaq")
    options = {k: v for k, v in RUN.items() if k != "run_number"}
    daq = sim.simulate_daq_run(d / "orca", **RUN, chunk_size=16)
    run = sim.simulate_run(d / "lh5", **options, compression=False)
    out = _daq2lh5_raw(daq.daq_files[0], str(d / "decoded.lh5"))
    return daq, run, out


def test_daq2lh5_reads_the_simulated_file_into_the_simulators_raw_tables(decoded):
    daq, run, out = decoded
    names = sorted(c.name for c in daq.channels)
    assert sorted(lgdo_lh5.ls(out, "ch*/")) == [f"{n}/raw" for n in names]
    assert sorted(lgdo_lh5.ls(run.raw_files[0], "ch*/")) == [f"{n}/raw" for n in names]
    n_listeners = 1
    for name in names:
        got = lgdo_lh5.read(f"{name}/raw", out)
        want = lh5.read(f"{name}/raw", run.raw_files[0])
        assert len(got) == len(want) == RUN["n_events"]
        assert set(got) - set(want) == ONLY_DAQ2LH5
        assert set(want) - set(got) == ONLY_SIM
        np.testing.assert_array_equal(got["waveform"]["values"].nda, want["waveform"]["values"].nda)
        assert got["waveform"]["values"].nda.dtype == np.uint16
        np.testing.assert_array_equal(got["waveform"]["dt"].nda, want["waveform"]["dt"].nda)
        np.testing.assert_array_equal(got["waveform"]["t0"].nda, want["waveform"]["t0"].nda)
        np.testing.assert_allclose(got["timestamp"].nda, want["timestamp"].nda, rtol=1e-15, atol=0)
        np.testing.assert_allclose(got["runtime"].nda, want["runtime"].nda, rtol=1e-15, atol=0)
        for column in sorted(set(got) & set(want) - {"waveform", "timestamp", "runtime"}):
            g, w = got[column].nda, want[column].nda
            if column == "packet_id":  # the record's index in the file: after header, run
                # start and listener config records; the simulator counts records from 1
                np.testing.assert_array_equal(g, w + 1 + n_listeners)
            elif column == "numtraces":  # one trace per ORCA record; the simulator's
                # FCIO-like events count the traces of the event
                assert (g == 1).all() and (w >= 1).all() and (w > 1).any()
            else:
                np.testing.assert_array_equal(g, w, err_msg=column)
        key = int(name[2:])
        assert (got["fcid"].nda == key // 1_000_000).all()
        assert (got["board_id"].nda == key // 100 % 10_000).all()
        assert (got["fc_input"].nda == key % 100).all()


def test_records_are_in_time_order_across_channels(decoded):
    daq, _, out = decoded
    tables = [lgdo_lh5.read(f"{c.name}/raw", out) for c in daq.channels]
    packet = np.concatenate([t["packet_id"].nda for t in tables])
    time = np.concatenate([t["timestamp"].nda for t in tables])
    order = np.argsort(packet)
    assert np.array_equal(packet[order], np.arange(3, 3 + len(packet)))
    assert (np.diff(time[order]) >= 0).all()


def test_truth_rows_match_the_decoded_rows_and_the_simulators_truth(decoded):
    daq, run, out = decoded
    for channel in daq.channels:
        truth = lh5.read(f"{channel.name}/truth", daq.truth_files[0])
        want = lh5.read(f"{channel.name}/truth", run.truth_files[0])
        got = lgdo_lh5.read(f"{channel.name}/raw", out)
        for column in truth:
            np.testing.assert_array_equal(truth[column].nda, want[column].nda, err_msg=column)
        np.testing.assert_array_equal(truth["eventnumber"].nda, got["eventnumber"].nda)
        # the DAQ's baseline estimate is near the channel's true baseline
        assert np.abs(got["baseline"].nda - truth["baseline"].nda).max() < 50


def test_run_and_listener_config_records_decode_to_the_run_and_the_trace_map(decoded):
    daq, run, out = decoded
    runs = lgdo_lh5.read("ORRunDecoderForRun", out)
    assert runs["runstartorstop"].nda.tolist() == [True, False]
    assert runs["run_number"].nda.tolist() == [7, 7]
    start = lh5.read(f"{daq.channels[0].name}/raw", run.raw_files[0])["mu_offset_sec"].nda[0]
    assert runs["time"].nda[0] == start and runs["time"].nda[1] > start
    config = lgdo_lh5.read("ORFlashCamListenerConfig", out)
    assert config["fcid"].nda.tolist() == [1] and config["readout_id"].nda.tolist() == [1]
    assert config["nadcs"].nda.tolist() == [len(daq.channels)]
    assert config["nsamples"].nda.tolist() == [sim.N_SAMPLES]
    assert config["adcbits"].nda.tolist() == [16] and config["gps"].nda.tolist() == [0]
    for column, want in (("ch_board_id", "board_id"), ("ch_inputnum", "fc_input")):
        assert config[column].cumulative_length.nda.tolist() == [len(daq.channels)]
        got = config[column].flattened_data.nda.tolist()
        assert got == [getattr(c, want) for c in daq.channels]


def test_header_is_an_orca_plist_that_describes_the_cards(decoded):
    daq, _, out = decoded
    path = daq.daq_files[0]
    assert daq2lh5.orca.orca_streamer.OrcaStreamer.is_orca_stream(path)
    words = np.fromfile(path, "<u4", count=2)
    with open(path, "rb") as f:
        record = f.read(int(words[0]) * 4)
    header = plistlib.loads(record[8 : 8 + int(words[1])])
    assert header["Header Length"] == len(record)
    assert set(record[8 + int(words[1]) :]) <= {0}
    cards = {
        (crate["CrateNumber"], card["Card"]): (card["CardAddress"], card["Enabled"])
        for crate in header["ObjectInfo"]["Crates"]
        for card in crate["Cards"]
    }
    for channel in daq.channels:
        board, enabled = cards[channel.crate, channel.slot]
        assert board == channel.board_id and enabled[channel.fc_input]
    n_enabled = sum(sum(enabled) for _, enabled in cards.values())
    assert n_enabled == len(daq.channels)
    decoders = {
        rec["dataId"] >> 18: rec["decoder"]
        for model in header["dataDescription"].values()
        for rec in model.values()
    }
    assert decoders == {
        3: "ORFlashCamADCWaveformDecoder",
        4: "ORFlashCamListenerConfigDecoder",
        7: "ORRunDecoderForRun",
    }
    assert header["ObjectInfo"]["AuxHw"][0]["eventSamples"] == sim.N_SAMPLES
    assert lgdo_lh5.ls(out, "OrcaHeader") == ["OrcaHeader"]


def _digest(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_same_seed_same_bytes_whatever_the_chunk_size_other_seed_other_bytes(tmp_path):
    paths = {}
    for label, seed, chunk_size in (("a", 5, 7), ("b", 5, 1000), ("c", 5, 1), ("d", 6, 7)):
        paths[label] = tmp_path / f"{label}.orca"
        sim.simulate_daq_file(
            paths[label], n_events=12, channels=2, seed=seed, chunk_size=chunk_size
        )
    assert _digest(paths["a"]) == _digest(paths["b"]) == _digest(paths["c"])
    assert _digest(paths["a"]) != _digest(paths["d"])


def test_a_gz_path_is_the_same_file_gzip_compressed_and_deterministic(tmp_path):
    plain, packed = tmp_path / "a.orca", tmp_path / "a.orca.gz"
    sim.simulate_daq_file(plain, n_events=5, channels=2, seed=2)
    info = sim.simulate_daq_file(packed, n_events=5, channels=2, seed=2)
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert info.n_bytes == plain.stat().st_size
    first = packed.read_bytes()
    sim.simulate_daq_file(packed, n_events=5, channels=2, seed=2)
    assert packed.read_bytes() == first


def _record_walk(path) -> list[tuple[int, int]]:
    """(data ID, length in words) of every record, walking the length words."""
    words = np.fromfile(path, "<u4")
    records, i = [], 0
    while i < len(words):
        n = int(words[i] & 0x3FFFF)
        assert n > 0
        records.append((int(words[i] >> 18), n))
        i += n
    assert i == len(words)
    return records


def test_a_file_of_several_default_chunks_holds_every_record_in_time_order(tmp_path):
    path = tmp_path / "big.orca"
    n_events = 1100  # two channels: 2200 records, more than one chunk of 2048
    info = sim.simulate_daq_file(path, n_events=n_events, channels=2, seed=8)
    records = _record_walk(path)
    assert [r[0] for r in records[:3]] == [0, 7, 4] and records[-1] == (7, 4)
    wave_words = 3 + 17 + sim.N_SAMPLES // 2
    assert records[3:-1] == [(3, wave_words)] * (2 * n_events)
    assert info.n_waveforms == 2 * n_events
    assert info.n_bytes == path.stat().st_size
    words = np.fromfile(path, "<u4")
    starts = np.cumsum([0] + [r[1] for r in records])[3:-2]
    pps, ticks = words[starts + 16], words[starts + 17]
    time = pps + ticks / 250e6
    assert (np.diff(time) >= 0).all()
    traces = words[starts + 2] & 0x3FF
    assert np.bincount(traces).tolist() == [n_events, n_events]


def test_simulate_daq_run_names_files_as_legend_and_matches_simulate_run_cycles(tmp_path):
    daq = sim.simulate_daq_run(tmp_path, n_events=3, channels=1, n_files=2, seed=1, period="p03")
    run = sim.simulate_run(tmp_path, n_events=3, channels=1, n_files=2, seed=1, period="p03")
    stamps = [p.rsplit("-", 1)[1] for p in daq.daq_files]
    assert stamps == [p.split("-")[-2] + ".orca" for p in run.raw_files]
    assert all("/tier/daq/cal/p03/r000/" in p for p in daq.daq_files)
    assert daq.truth_files == run.truth_files
    assert daq.n_waveforms == run.n_waveforms == 6


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ([Channel(84803)], "fcid 0"),
        ([Channel(1084820)], "fc_input 20"),
        ([Channel(1084803), Channel(1110003, daq_channel=1)], r"\(crate, slot\) \(1, 5\)"),
        ([Channel(1084803), Channel(1084804)], "trace index"),
        ([Channel(1084803, slot=4), Channel(1084804, daq_channel=1)], "different"),
    ],
)
def test_channels_orca_cannot_address_raise_a_simulation_error(tmp_path, channels, message):
    path = tmp_path / "bad.orca"
    with pytest.raises(SimulationError, match=message):
        sim.simulate_daq_file(path, n_events=2, channels=channels)
    assert not list(tmp_path.iterdir())


def test_tierflows_orca_stream_reads_the_simulated_file_into_the_simulators_raw_tables(decoded):
    pytest.importorskip("tierflow.daq.formats.orca.stream")  # registers the ORCA stream
    from tierflow.daq.stream import stream_types

    daq, run, _ = decoded
    pieces = {}
    with stream_types()["ORCA"](daq.daq_files[0]) as stream:
        for block in stream.decode(buffer_size=16):
            for piece in block:
                if piece.decoder == "ORFlashCamADCWaveformDecoder":
                    for key, table in piece.by_key():
                        pieces.setdefault(key, []).append(table)
    assert sorted(pieces) == sorted(c.rawid for c in daq.channels)
    for channel in daq.channels:
        want = lh5.read(f"{channel.name}/raw", run.raw_files[0])
        for column in ("timestamp", "baseline", "daqenergy", "eventnumber", "channel", "board_id"):
            got = np.concatenate([t[column].nda for t in pieces[channel.rawid]])
            np.testing.assert_array_equal(got, want[column].nda, err_msg=column)
        got = np.concatenate([t["waveform"]["values"].nda for t in pieces[channel.rawid]])
        np.testing.assert_array_equal(got, want["waveform"]["values"].nda)


@pytest.mark.parametrize("kwargs", [{"run_number": -1}, {"chunk_size": 0}, {"n_events": 0}])
def test_bad_settings_raise_a_simulation_error_and_write_nothing(tmp_path, kwargs):
    with pytest.raises(SimulationError):
        sim.simulate_daq_file(tmp_path / "bad.orca", **{"n_events": 2, **kwargs})
    assert not list(tmp_path.iterdir())


def test_default_channels_give_every_board_its_own_crate_and_slot():
    """ORCA finds a FlashCam card by (crate, slot): 123 channels (LEGEND's shape) need
    distinct slots per board (before: board 1109 shared crate 1 slot 5 with board 848)."""
    from collections import defaultdict

    from tierflow.sim import default_channels

    boards = defaultdict(set)
    for channel in default_channels(123):
        boards[(channel.crate, channel.slot)].add(channel.board_id)
    assert all(len(ids) == 1 for ids in boards.values())
