"""The pipeline from DAQ files: the ``daq`` key, the raw tier built per cycle, the demo."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tierflow import sim
from tierflow.lh5 import ls, read
from tierflow.pipeline import Pipeline, PipelineConfigError, run_pipeline
from tierflow.pipeline.demo import demo_config

N_EVENTS = 600
SEED = 11


@pytest.fixture(scope="module")
def daq_run(tmp_path_factory):
    """Two simulated cycles written as ORCA files, and the pipeline run over them."""
    root = tmp_path_factory.mktemp("daqrun")
    channels = sim.default_channels(2)
    made = sim.simulate_daq_run(root, n_events=N_EVENTS, channels=channels, seed=SEED, n_files=2)
    config = demo_config(str(root), channels, daq=True)
    report = run_pipeline(config, progress=False)
    return root, channels, config, report, made


def test_raw_tier_built_from_daq_files_equals_the_simulators_raw_tier(daq_run, tmp_path):
    _root, channels, config, report, made = daq_run
    assert report.ok, str(report)
    assert report.stage("raw").done == 2
    assert report.stage("raw").rows >= 2 * N_EVENTS
    direct = sim.simulate_run(
        tmp_path, n_events=N_EVENTS, channels=channels, seed=SEED, n_files=2, compression=False
    )
    cycles = Pipeline(config).cycles()
    assert [c.daq for c in cycles] == list(made.daq_files)
    for cycle, raw_file in zip(cycles, direct.raw_files, strict=True):
        assert os.path.exists(cycle.raw) and os.path.exists(cycle.dsp) and os.path.exists(cycle.hit)
        assert sorted(ls(cycle.raw, "ch*/raw")) == sorted(ls(raw_file, "ch*/raw"))
        for table in ls(raw_file, "ch*/raw"):
            ours, theirs = read(table, cycle.raw), read(table, raw_file)
            np.testing.assert_array_equal(
                ours["waveform"]["values"].nda, theirs["waveform"]["values"].nda
            )
            np.testing.assert_allclose(ours["timestamp"].nda, theirs["timestamp"].nda, rtol=1e-15)


def test_second_run_skips_the_raw_tier_and_a_changed_daq_file_is_redone(daq_run):
    root, _channels, config, _report, made = daq_run
    again = run_pipeline(config, progress=False)
    assert again.stage("raw").skipped == 2 and again.stage("raw").done == 0, str(again)
    later = os.stat(made.daq_files[0]).st_mtime_ns + 10**9
    os.utime(made.daq_files[0], ns=(later, later))
    third = run_pipeline(config, progress=False)
    assert third.stage("raw").done == 1 and third.stage("raw").skipped == 1, str(third)
    assert third.ok, str(third)
    leftovers = [n for _, _, names in os.walk(root) for n in names if ".tmp-" in n]
    assert leftovers == []


def test_a_corrupt_daq_file_is_reported_and_the_others_go_on(tmp_path):
    channels = sim.default_channels(1)
    made = sim.simulate_daq_run(tmp_path, n_events=50, channels=channels, seed=3, n_files=2)
    with open(made.daq_files[1], "r+b") as f:  # a zero length word in the first data record
        f.seek(0)
        header_words = int.from_bytes(f.read(8)[4:], "little")
        f.seek(8 + ((header_words + 3) // 4) * 4)
        f.write(b"\x00\x00\x00\x00" * 2)
    report = run_pipeline(demo_config(str(tmp_path), channels, daq=True), progress=False)
    raw = report.stage("raw")
    assert raw.done == 1
    assert [os.path.basename(what) for what, _ in raw.failures] == [
        os.path.basename(made.daq_files[1])
    ]
    assert "DAQError" in raw.failures[0][1] and made.daq_files[1] in raw.failures[0][1]
    assert not os.path.exists(
        Pipeline(demo_config(str(tmp_path), channels, daq=True)).cycles()[1].raw
    )


def test_routing_config_of_the_pipeline_sends_tables_to_the_cycles_raw_file(tmp_path):
    channels = sim.default_channels(1)
    sim.simulate_daq_run(tmp_path, n_events=40, channels=channels, seed=5)
    config = demo_config(str(tmp_path), channels, daq=True)
    config["daq"] = {
        "files": config["daq"],
        "out_spec": {
            "ORFlashCamADCWaveformDecoder": {
                "ch{key:07d}/raw": {"key_list": ["*"], "out_stream": "elsewhere.lh5"}
            }
        },
    }
    report = run_pipeline(config, progress=False)  # 40 events: too few to calibrate
    assert report.stage("raw").done == 1 and not report.stage("raw").failures
    raw = Pipeline(config).cycles()[0].raw
    assert ls(raw) == [f"ch{channels[0].rawid}"]
    assert not os.path.exists(tmp_path / "elsewhere.lh5")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"raw": "x/*.lh5"}, "not both"),
        ({"daq": {"file": "x"}}, "unknown key 'file'"),
        ({"daq": {"files": "x", "buffer_size": 0}}, "daq.buffer_size"),
        ({"daq": {"files": "x", "stream_type": 3}}, "daq.stream_type"),
        ({"daq": "/nowhere/*.orca"}, "no DAQ files match"),
    ],
)
def test_bad_daq_settings_are_refused_before_any_work(tmp_path, change, message):
    config = demo_config(str(tmp_path), sim.default_channels(1), daq=True)
    config.update(change)
    with pytest.raises(PipelineConfigError, match=message):
        Pipeline(config).run(progress=False)
    assert not os.path.exists(tmp_path / "tier")
