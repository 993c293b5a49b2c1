"""build_raw, format-independent: routing, buffers, proc_spec, outputs, n_max, overwrite and
truncated files, on the FakeDAQ test format (tests/daq_fake_stream.py)."""

from __future__ import annotations

import importlib
import json
import os

import h5py
import lh5 as legend_lh5
import numpy as np
import pytest

from daq_fake_stream import FakeStream, fake_daq_registered, write_fake
from tierflow import lh5
from tierflow.daq import build_raw
from tierflow.errors import DAQError, DAQTruncatedError, LH5WriteError, RoutingError, UsageError

CHANNELS = {1: 8, 2: 8, 1000: 12}


@pytest.fixture(autouse=True)
def _fake_daq():
    with fake_daq_registered():
        yield


@pytest.fixture
def run(tmp_path):
    path = tmp_path / "run.fake"
    events = write_fake(path, CHANNELS, n_events=60)
    return path, events


def contents(path):
    """Every dataset of an LH5 file: values, dtype and attributes (and group attributes)."""
    out = {}
    with h5py.File(path, "r", locking=False) as f:

        def visit(name, node):
            attrs = {k: str(v) for k, v in node.attrs.items()}
            if isinstance(node, h5py.Dataset):
                out[name] = (node.dtype.str, np.asarray(node[()]).tolist(), attrs)
            else:
                out[name] = attrs

        f.visititems(visit)
        out["/"] = {k: str(v) for k, v in f.attrs.items()}
    return out


def events_of(events, channels):
    return [e for e in events if e[0] in channels]


def test_default_routing_writes_one_table_per_key_list_beside_the_input(run):
    path, events = run
    summary = build_raw(path)
    out = path.with_suffix(".lh5")
    assert summary.out_files == [str(out)]
    assert sorted(lh5.ls(str(out))) == ["FakeEvent_0", "FakeEvent_1000", "FakeHeader", "FakeStatus"]
    eight = events_of(events, {1, 2})
    tb = lh5.read("FakeEvent_0", str(out))
    assert tb["channel"].nda.tolist() == [e[0] for e in eight]
    assert tb["timestamp"].nda.tolist() == [e[1] for e in eight]
    assert tb["energy"].nda.dtype == np.uint16
    assert tb["waveform"]["values"].nda.tolist() == [e[3].tolist() for e in eight]
    assert tb["timestamp"].attrs["units"] == "s"
    legend = legend_lh5.read("FakeEvent_1000", str(out))
    assert legend["waveform"].values.nda.tolist() == [
        e[3].tolist() for e in events_of(events, {1000})
    ]
    assert lh5.read("FakeHeader", str(out))["run"].value == 7
    assert summary.tables[f"{out}:/FakeEvent_0"] == len(eight)
    assert summary.tables[f"{out}:/FakeStatus"] == 6
    assert summary.skipped == {"kind 9": 1}
    assert summary.rows == len(events) + 6 + 1
    assert "FakeDAQ" in str(summary) and "skipped records: kind 9: 1" in str(summary)


def test_buffer_sizes_1_7_and_large_give_identical_files(run, tmp_path):
    path, _ = run
    found = {}
    for size in (1, 7, 8192):
        out = tmp_path / f"b{size}.lh5"
        build_raw(path, out_spec=str(out), buffer_size=size)
        found[size] = contents(out)
    assert found[1] == found[7] == found[8192]
    assert len(found[1]) > 10


def test_memory_limit_writes_early_without_changing_the_file(run, tmp_path, monkeypatch):
    module = importlib.import_module("tierflow.daq.build_raw")  # the package has the function
    path, _ = run
    build_raw(path, out_spec=str(tmp_path / "a.lh5"))
    monkeypatch.setattr(module, "BUFFER_BYTES_LIMIT", 100)
    build_raw(path, out_spec=str(tmp_path / "b.lh5"))
    assert contents(tmp_path / "a.lh5") == contents(tmp_path / "b.lh5")


def test_n_max_stops_after_that_many_records(run, tmp_path):
    path, _ = run
    summary = build_raw(path, out_spec=str(tmp_path / "o.lh5"), n_max=12, buffer_size=5)
    # records 0-11: events 0-9, the kind-9 record after event 5, the status after event 9
    assert summary.tables[f"{tmp_path / 'o.lh5'}:/FakeStatus"] == 1
    event_rows = sum(v for k, v in summary.tables.items() if "FakeEvent" in k)
    assert event_rows == 10


def test_existing_output_is_refused_before_decoding_unless_overwrite(run, tmp_path):
    path, _ = run
    out = tmp_path / "o.lh5"
    out.write_bytes(b"old")
    with pytest.raises(LH5WriteError, match="exists; pass overwrite=True"):
        build_raw(path, out_spec=str(out))
    assert out.read_bytes() == b"old"
    build_raw(path, out_spec=str(out), overwrite=True)
    assert "FakeEvent_0" in lh5.ls(str(out))
    assert sorted(os.listdir(tmp_path)) == ["o.lh5", "run.fake"]


def test_truncated_file_writes_every_complete_record_then_raises(tmp_path):
    path = tmp_path / "cut.fake"
    events = write_fake(path, CHANNELS, n_events=20, status_every=0, cut_bytes=5)
    out = tmp_path / "cut.lh5"
    with pytest.raises(DAQTruncatedError) as err:
        build_raw(path, buffer_size=4)
    assert err.value.file == str(path)
    assert err.value.offset == os.path.getsize(path) - (len(events[-1][3]) * 2 + 22 - 5)
    complete = events[:-1]
    got = [
        *lh5.read("FakeEvent_0", str(out))["energy"].nda.tolist(),
        *lh5.read("FakeEvent_1000", str(out))["energy"].nda.tolist(),
    ]
    assert sorted(got) == sorted(e[2] for e in complete)
    assert err.value.summary.truncated is err.value
    assert err.value.summary.rows == len(complete) + 1


def test_failed_build_leaves_outputs_as_they_were_and_no_temporaries(tmp_path):
    path = tmp_path / "bad.fake"
    write_fake(path, CHANNELS, n_events=30, bad_length_at=25)
    out = tmp_path / "o.lh5"
    with pytest.raises(DAQError, match="bad record length"):
        build_raw(path, out_spec=str(out), buffer_size=4)
    assert sorted(os.listdir(tmp_path)) == ["bad.fake"]
    out.write_bytes(b"old")
    with pytest.raises(DAQError):
        build_raw(path, out_spec=str(out), buffer_size=4, overwrite=True)
    assert out.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["bad.fake", "o.lh5"]


def test_routing_config_errors_come_before_any_output(run, tmp_path):
    path, _ = run
    config = {"FakeEventDecoder": {"ch{key}": {"key_list": [3], "out_stream": "o.lh5"}}}
    with pytest.raises(RoutingError, match="key 3 is not in this stream; its keys are: 1, 2, 1000"):
        build_raw(path, out_spec=config)
    assert sorted(os.listdir(tmp_path)) == ["run.fake"]


def test_routing_dict_with_groups_placeholders_and_env(run, tmp_path, monkeypatch):
    path, events = run
    monkeypatch.setenv("TF_RAW_DIR", str(tmp_path / "raw"))
    config = {
        "FakeEventDecoder": {
            "ch{key:04d}/raw": {"key_list": [[1, 2]], "out_stream": "$TF_RAW_DIR/{fk}_geds.lh5"},
            "puls": {"key_list": ["*"], "out_stream": "$TF_RAW_DIR/{fk}_aux.lh5:/aux"},
        },
        "FakeStatusDecoder": {"{key}": {"key_list": ["card1/*"], "out_stream": "{fk}_st.lh5"}},
        "*": {"{name}": {"key_list": ["*"], "out_stream": "$TF_RAW_DIR/{fk}_{name}.lh5"}},
    }
    monkeypatch.chdir(tmp_path)
    summary = build_raw(path, out_spec=config, fk="r007")
    geds = str(tmp_path / "raw" / "r007_geds.lh5")
    assert sorted(lh5.ls(geds, "*/*")) == ["ch0001/raw", "ch0002/raw"]
    assert lh5.read("ch0002/raw/channel", geds).nda.tolist() == [2] * len(events_of(events, {2}))
    aux = str(tmp_path / "raw" / "r007_aux.lh5")
    assert len(lh5.read("aux/puls", aux)) == len(events_of(events, {1000}))
    assert lh5.ls("r007_st.lh5", "card1/") == ["card1/status"]
    assert summary.unrouted == {"FakeStatusDecoder": 3}  # card0 rows: in no key_list
    assert (
        lh5.read("FakeHeader/text", str(tmp_path / "raw" / "r007_FakeHeader.lh5")).value == "fake"
    )


def test_routing_config_from_json_and_yaml_files(run, tmp_path):
    path, _ = run
    config = {"FakeEventDecoder": {"geds": {"key_list": [1, 2], "out_stream": "{d}/j.lh5"}}}
    (tmp_path / "r.json").write_text(json.dumps(config))
    build_raw(path, out_spec=str(tmp_path / "r.json"), d=str(tmp_path))
    assert lh5.ls(str(tmp_path / "j.lh5")) == ["geds"]
    (tmp_path / "r.yaml").write_text(
        "FakeEventDecoder:\n  geds:\n    key_list: [1, 2]\n    out_stream: '{d}/y.lh5'\n"
    )
    build_raw(path, out_spec=str(tmp_path / "r.yaml"), d=str(tmp_path))
    assert contents(tmp_path / "j.lh5") == contents(tmp_path / "y.lh5")


def test_table_without_out_stream_is_decoded_not_written(run, tmp_path):
    path, events = run
    config = {
        "FakeEventDecoder": {"geds": {"key_list": ["*"]}},
        "*": {"{name}": {"key_list": ["*"], "out_stream": str(tmp_path / "o.lh5")}},
    }
    summary = build_raw(path, out_spec=config)
    assert summary.discarded == {"geds": len(events)}
    assert sorted(lh5.ls(str(tmp_path / "o.lh5"))) == ["FakeHeader", "FakeStatus"]


def test_rows_of_different_waveform_lengths_in_one_table_are_an_error(run, tmp_path):
    path, _ = run
    config = {
        "FakeEventDecoder": {"all": {"key_list": ["*"], "out_stream": str(tmp_path / "o.lh5")}}
    }
    with pytest.raises((DAQError, LH5WriteError), match=r"waveform|shape"):
        build_raw(path, out_spec=config, buffer_size=1000)
    assert not (tmp_path / "o.lh5").exists()


PROC = {
    "window": ["waveform", 2, -1, "windowed"],
    "drop": ["waveform", "packet_id"],
    "dtype_conv": {"energy": "float32"},
    "compression": {"windowed/values": "RadwareSigcompress(codec_shift=-32768)"},
    "hdf5_settings": {"timestamp": {"compression": "lzf", "shuffle": True}},
}


@pytest.mark.parametrize("codec", ["RadwareSigcompress(codec_shift=-32768)", "uleb128_zigzag_diff"])
def test_proc_spec_window_drop_dtype_and_codecs_read_back_by_both_readers(run, tmp_path, codec):
    path, events = run
    proc = dict(PROC, compression={"windowed/values": codec})
    config = {
        "FakeEventDecoder": {
            "ch{key}/raw": {
                "key_list": [1, 2],
                "out_stream": str(tmp_path / "o.lh5"),
                "proc_spec": proc,
            }
        }
    }
    build_raw(path, out_spec=config, buffer_size=7)
    out = str(tmp_path / "o.lh5")
    mine = lh5.read("ch1/raw", out)
    legend = legend_lh5.read("ch1/raw", out)
    ones = events_of(events, {1})
    assert sorted(mine.keys()) == ["channel", "energy", "timestamp", "windowed"]
    assert mine["energy"].nda.dtype == np.float32
    assert mine["energy"].nda.tolist() == [float(e[2]) for e in ones]
    expected = [e[3][2:-1].tolist() for e in ones]
    assert mine["windowed"].values.nda.tolist() == expected
    assert legend["windowed"].values.nda.tolist() == expected
    assert mine["windowed"].t0.nda.tolist() == [32.0] * len(ones)  # t0 + 2 * dt
    assert legend["windowed"].t0.attrs["units"] == "ns"
    name = "radware_sigcompress" if codec.startswith("Radware") else "uleb128_zigzag_diff"
    with h5py.File(out, "r", locking=False) as f:
        assert f["ch1/raw/windowed/values"].attrs["codec"] == name
        assert f["ch1/raw/timestamp"].compression == "lzf"
        assert f["ch1/raw/channel"].compression == "gzip"


def test_proc_spec_of_star_skips_tables_without_the_column(run, tmp_path):
    path, _ = run
    config = {
        "*": {
            "{name}": {
                "key_list": ["*"],
                "out_stream": str(tmp_path / "o.lh5"),
                "proc_spec": {"drop": ["waveform"]},
            }
        }
    }
    build_raw(path, out_spec=config)
    out = str(tmp_path / "o.lh5")
    assert "waveform" not in lh5.read("FakeEvent_0", out)
    assert sorted(lh5.read("FakeStatus", out).keys()) == ["n_events", "packet_id"]


def test_proc_spec_naming_a_missing_column_is_an_error(run, tmp_path):
    path, _ = run
    config = {
        "FakeStatusDecoder": {
            "st": {
                "key_list": ["*"],
                "out_stream": str(tmp_path / "o.lh5"),
                "proc_spec": {"drop": ["waveform"]},
            }
        }
    }
    with pytest.raises(RoutingError, match=r"no column 'waveform' .*n_events"):
        build_raw(path, out_spec=config)
    assert not (tmp_path / "o.lh5").exists()


def test_hdf5_settings_set_the_filters_of_every_dataset(run, tmp_path):
    path, events = run
    out = tmp_path / "o.lh5"
    build_raw(path, out_spec=str(out), hdf5_settings={"compression": "lzf", "shuffle": True})
    with h5py.File(out, "r", locking=False) as f:
        assert f["FakeEvent_0/energy"].compression == "lzf"
        assert f["FakeEvent_0/waveform/values"].compression == "lzf"
    assert len(legend_lh5.read("FakeEvent_0", str(out))) == len(events_of(events, {1, 2}))


def test_stream_type_given_guessed_or_unknown(run, tmp_path):
    path, _ = run
    assert build_raw(path, in_stream_type="FakeDAQ").stream_type == "FakeDAQ"
    with pytest.raises(
        DAQError, match=r"unknown stream type 'MGDO'; the known types are .*FakeDAQ"
    ):
        build_raw(path, in_stream_type="MGDO", overwrite=True)
    other = tmp_path / "x.bin"
    other.write_bytes(b"\x00" * 100)
    with pytest.raises(DAQError, match="not a DAQ file of a known type"):
        build_raw(other)
    with pytest.raises(DAQError, match="no such file"):
        build_raw(tmp_path / "missing.fake")


def test_compass_config_file_goes_to_the_stream(run, tmp_path):
    path, _ = run
    build_raw(path, compass_config_file="settings.xml")
    assert FakeStream.last_options == {"compass_config_file": "settings.xml"}
    build_raw(path, overwrite=True)
    assert FakeStream.last_options == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"buffer_size": 0}, "buffer_size must be >= 1"),
        ({"buffer_size": 2.5}, "whole number"),
        ({"n_max": -1}, "n_max"),
        ({"hdf5_settings": 3}, "hdf5_settings"),
        ({"out_spec": 3}, "out_spec"),
    ],
)
def test_bad_arguments(run, kwargs, message):
    path, _ = run
    with pytest.raises((UsageError, RoutingError), match=message):
        build_raw(path, **kwargs)


def test_progress_bar_only_when_asked(run, tmp_path, capsys):
    path, _ = run
    build_raw(path, out_spec=str(tmp_path / "a.lh5"))
    assert capsys.readouterr().err == ""
    build_raw(path, out_spec=str(tmp_path / "b.lh5"), progress=True)
    assert "B/s" in capsys.readouterr().err


def test_overwrite_removes_planned_outputs_that_get_nothing(run, tmp_path):
    path, _ = run
    config = {
        "FakeEventDecoder": {"e": {"key_list": [1, 2], "out_stream": str(tmp_path / "e.lh5")}},
        "FakeStatusDecoder": {"s": {"key_list": ["*"], "out_stream": str(tmp_path / "s.lh5")}},
    }
    (tmp_path / "s.lh5").write_bytes(b"old")
    summary = build_raw(path, out_spec=config, n_max=3, overwrite=True)
    assert summary.out_files == [str(tmp_path / "e.lh5")]
    assert not (tmp_path / "s.lh5").exists()


def test_proc_spec_matches_legend_daq2lh5_buffer_processor():
    """window (t0 moved by start * dt), dtype_conv and drop as daq2lh5's buffer_processor."""
    import lgdo
    from daq2lh5.buffer_processor.buffer_processor import buffer_processor
    from daq2lh5.raw_buffer import RawBuffer

    from tierflow.daq.processing import apply_proc_spec
    from tierflow.types import Table, WaveformTable

    rng = np.random.default_rng(5)
    values = rng.integers(0, 5000, (6, 40)).astype("uint16")
    t0 = rng.uniform(0, 100, 6).astype("float32")
    energy = rng.integers(0, 60000, 6).astype("uint16")
    spec = {
        "window": ["waveform", 7, -5, "windowed"],
        "dtype_conv": {"energy": "float64", "waveform/values": "int32"},
        "drop": ["packet_id"],
    }
    theirs_in = lgdo.Table(
        {
            "packet_id": lgdo.Array(np.arange(6, dtype="uint32")),
            "energy": lgdo.Array(energy.copy()),
            "waveform": lgdo.WaveformTable(
                t0=lgdo.Array(t0.copy(), attrs={"units": "ns"}),
                dt=lgdo.Array(np.full(6, 16, "float32"), attrs={"units": "ns"}),
                values=lgdo.ArrayOfEqualSizedArrays(nda=values.copy()),
            ),
        }
    )
    theirs = buffer_processor(RawBuffer(lgdo=theirs_in, proc_spec=spec, out_name="t"))
    mine = apply_proc_spec(
        Table(
            {
                "packet_id": np.arange(6, dtype="uint32"),
                "energy": energy.copy(),
                "waveform": WaveformTable(
                    t0=t0.copy(),
                    t0_units="ns",
                    dt=np.full(6, 16, "float32"),
                    dt_units="ns",
                    values=values.copy(),
                ),
            }
        ),
        spec,
        "t",
    )
    assert sorted(mine.keys()) == sorted(theirs.keys())
    for column in ("windowed/t0", "windowed/dt", "windowed/values", "energy", "waveform/values"):
        a, b = column.split("/", 1) if "/" in column else (column, None)
        ours = mine[a] if b is None else mine[a][b]
        ref = theirs[a] if b is None else theirs[a][b]
        assert ours.nda.dtype == ref.nda.dtype, column
        np.testing.assert_array_equal(ours.nda, ref.nda)
    assert mine["windowed"]["t0"].attrs["units"] == "ns"


def test_window_with_negative_start_moves_t0_by_the_index_it_stands_for(run, tmp_path):
    path, events = run
    proc = {"window": ["waveform", -6, -1, "tail"]}
    out = tmp_path / "o.lh5"
    config = {
        "FakeEventDecoder": {"t": {"key_list": [1], "out_stream": str(out), "proc_spec": proc}}
    }
    build_raw(path, out_spec=config)
    tail = lh5.read("t/tail", str(out))
    ones = events_of(events, {1})
    assert tail.values.nda.tolist() == [e[3][-6:-1].tolist() for e in ones]
    assert tail.t0.nda.tolist() == [(8 - 6) * 16.0] * len(ones)


def test_output_that_is_the_input_is_refused(run):
    path, _ = run
    with pytest.raises(LH5WriteError, match="is the DAQ file being decoded"):
        build_raw(path, out_spec=str(path), overwrite=True)
    assert path.read_bytes()[:8] == b"FAKEDAQ1"


def test_keys_missing_from_the_header_go_to_the_wildcard_table_and_are_reported(tmp_path):
    path = tmp_path / "h.fake"
    events = write_fake(path, {1: 8, 2: 8}, n_events=20, hidden=(2,))
    summary = build_raw(path)
    assert summary.undeclared == {"FakeEventDecoder": [2]}
    assert "keys not in the header: FakeEventDecoder: [2]" in str(summary)
    channels = lh5.read("FakeEvent/channel", str(tmp_path / "h.lh5")).nda.tolist()
    assert channels == [e[0] for e in events]


def test_keys_of_different_waveform_lengths_routed_to_one_table_are_refused(run, tmp_path):
    """Channels 1 (8 samples) and 1000 (12) into one table: a DAQError naming the table,
    nothing put in place (the rows of a full buffer are now written in runs, not joined)."""
    path, _ = run
    out = tmp_path / "one.lh5"
    spec = {"FakeEventDecoder": {"all": {"key_list": ["*"], "out_stream": str(out)}}}
    with pytest.raises(DAQError, match=r"rows for table all .* do not fit together"):
        build_raw(path, out_spec=spec)
    assert not out.exists()


def test_a_full_buffer_is_written_in_runs_with_the_same_result(run, tmp_path, monkeypatch):
    """Runs of a few rows (WRITE_RUN_BYTES tiny) give the file one run gives."""
    build = importlib.import_module("tierflow.daq.build_raw")
    path, _ = run
    whole, runs = tmp_path / "whole.lh5", tmp_path / "runs.lh5"
    build_raw(path, out_spec=str(whole), buffer_size=100, n_max=40)
    monkeypatch.setattr(build, "WRITE_RUN_BYTES", 1)
    build_raw(path, out_spec=str(runs), buffer_size=100, n_max=40)
    assert contents(whole) == contents(runs)
