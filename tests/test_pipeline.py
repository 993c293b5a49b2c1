"""The pipeline and the demo: outputs, resuming after kill -9, bad input, real raw files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from testdata import TESTDATA
from tierflow import sim
from tierflow.dsp.configs import config_path
from tierflow.lh5 import ls, read
from tierflow.pipeline import Pipeline, PipelineConfigError, run_pipeline
from tierflow.pipeline.demo import demo_config, run_demo

N_EVENTS = 2500
N_CHANNELS = 2


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Two cycles of a simulated calibration run, and a finished pipeline over them."""
    root = tmp_path_factory.mktemp("run")
    channels = sim.default_channels(N_CHANNELS)
    sim.simulate_run(
        root, n_events=N_EVENTS, channels=channels, seed=7, n_files=2, compression=False
    )
    config = demo_config(str(root), channels)
    report = run_pipeline(config, progress=False)
    return root, channels, config, report


def _tables(path):
    out = {}
    for group in ls(path, "ch*/*"):
        table = read(group, path)
        out[group] = {k: np.asarray(v.nda) for k, v in table.items()}
    return out


def _same_tables(a, b):
    assert a.keys() == b.keys()
    for group in a:
        assert a[group].keys() == b[group].keys(), group
        for col in a[group]:
            np.testing.assert_array_equal(a[group][col], b[group][col], err_msg=f"{group}/{col}")


def test_pipeline_makes_every_tier(simulated):
    _root, channels, config, report = simulated
    assert report.ok, str(report)
    cycles = Pipeline(config).cycles()
    assert len(cycles) == 2
    for cycle in cycles:
        hit = _tables(cycle.hit)
        assert sorted(hit) == sorted(f"ch{c.rawid}/hit" for c in channels)
        for table in hit.values():
            assert len(table["trapTmax_cal"]) == N_EVENTS
    assert report.stage("dsp").rows == 2 * N_EVENTS * N_CHANNELS
    assert len(report.calibrations) == N_CHANNELS


def test_calibrated_lines_sit_at_their_energies(simulated):
    _root, channels, config, report = simulated
    energies = np.concatenate(
        [
            read(f"ch{channels[0].rawid}/hit/trapTmax_cal", c.hit).nda
            for c in Pipeline(config).cycles()
        ]
    )
    for line in (583.187, 2614.511):
        near = energies[np.abs(energies - line) < 5]
        assert abs(np.median(near) - line) < 0.5
    for values in report.calibrations.values():
        assert 1.5 < values["fwhm_2614"] < 4.0


def test_second_run_skips_finished_work(simulated):
    _root, _channels, config, _report = simulated
    cycles = Pipeline(config).cycles()
    before = {c.hit: os.stat(c.hit).st_mtime_ns for c in cycles}
    again = run_pipeline(config, progress=False)
    assert again.ok
    assert again.stage("dsp").done == 0 and again.stage("dsp").skipped == 2
    assert again.stage("hit").done == 0 and again.stage("hit").skipped == 2
    assert {c.hit: os.stat(c.hit).st_mtime_ns for c in cycles} == before


def test_outputs_read_in_legends_reader(simulated):
    lgdo_lh5 = pytest.importorskip("lgdo.lh5")
    _root, channels, config, _report = simulated
    cycle = Pipeline(config).cycles()[0]
    group = f"ch{channels[0].rawid}/hit"
    theirs = lgdo_lh5.read(group, cycle.hit)
    ours = read(group, cycle.hit)
    np.testing.assert_array_equal(theirs["trapTmax_cal"].nda, ours["trapTmax_cal"].nda)
    assert theirs["trapTmax_cal"].attrs["units"] == "keV"


def _copy_raw(root, dest):
    raw = os.path.join(dest, "tier", "raw")
    shutil.copytree(os.path.join(root, "tier", "raw"), raw)
    return dest


def test_killed_run_resumes_to_the_same_outputs(simulated, tmp_path):
    root, channels, config, _report = simulated
    work = _copy_raw(str(root), str(tmp_path / "killed"))
    cfg = demo_config(work, channels)
    cfg_path = tmp_path / "pipeline.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tierflow.cli", "run", str(cfg_path), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first_dsp = Pipeline(cfg).cycles()[0].dsp
    try:
        while proc.poll() is None and not os.path.exists(first_dsp):
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    resumed = run_pipeline(cfg, progress=False)
    assert resumed.ok, str(resumed)
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(work) for f in files if ".tmp-" in f]
    assert leftovers == []
    for ours, reference in zip(Pipeline(cfg).cycles(), Pipeline(config).cycles(), strict=True):
        _same_tables(_tables(ours.dsp), _tables(reference.dsp))
        _same_tables(_tables(ours.hit), _tables(reference.hit))


def test_corrupt_raw_file_is_reported_and_the_others_processed(simulated, tmp_path):
    root, channels, _config, _report = simulated
    work = _copy_raw(str(root), str(tmp_path / "corrupt"))
    raw_dir = os.path.dirname(Pipeline(demo_config(work, channels)).cycles()[0].raw)
    bad = os.path.join(raw_dir, "l200-p00-r000-cal-20230101T999999Z-tier_raw.lh5")
    with open(bad, "wb") as f:
        f.write(b"this is not an HDF5 file" * 100)
    cfg = demo_config(work, channels)
    result = run_pipeline(cfg, progress=False)
    assert not result.ok
    failed = [what for tier, what, why in result.failures if tier == "dsp"]
    assert failed == [bad]
    assert result.stage("dsp").done == 2
    assert result.stage("hit").done == 2
    cfg_path = tmp_path / "pipeline.json"
    cfg_path.write_text(json.dumps(cfg))
    cli = subprocess.run(
        [sys.executable, "-m", "tierflow.cli", "run", str(cfg_path), "--no-progress"],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1
    assert "FAILED dsp" in cli.stdout and bad in cli.stdout


def test_unknown_config_key_is_rejected_before_any_work(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(PipelineConfigError, match="unknown key 'procesess'"):
        run_pipeline({"raw": str(tmp_path / "*.lh5"), "outdir": str(out), "procesess": 2})
    with pytest.raises(PipelineConfigError, match="unknown key 'enrgy'"):
        run_pipeline({"raw": "x", "outdir": str(out), "calibration": {"enrgy": "a"}})
    assert not out.exists()


def test_unknown_column_is_rejected_before_any_work(simulated, tmp_path):
    _root, _channels, config, _report = simulated
    cfg = dict(config, outdir=str(tmp_path / "out"))
    cfg["hit"] = {"config": {"outputs": ["e"], "operations": {"e": "2 * trapTmx"}}}
    with pytest.raises(PipelineConfigError, match="trapTmx"):
        run_pipeline(cfg, progress=False)
    assert not (tmp_path / "out").exists()


def test_calibration_energy_that_is_not_a_column_of_numbers_is_a_config_error(simulated, tmp_path):
    _root, _channels, config, _report = simulated
    dsp_config = json.loads(config_path("hpge-simple").read_text())
    dsp_config["outputs"].append("wf_trap")  # a waveform per event, not a number
    cfg = dict(config, outdir=str(tmp_path / "out"), calibration={"energy": "wf_trap"})
    cfg["dsp"] = dict(config["dsp"], config=dsp_config)
    with pytest.raises(PipelineConfigError, match=r"calibration.energy: .*dsp/wf_trap is a \w+"):
        run_pipeline(cfg, progress=False)


def test_demo_writes_its_pictures(tmp_path):
    result = run_demo(tmp_path, n_events=3000, n_channels=1, progress=False)
    assert result.report.ok, str(result.report)
    assert set(result.pictures) == {"spectrum.png", "waveforms.png", "calibration.png"}
    for path in result.pictures.values():
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(path) > 20_000
    assert "FWHM @ 2614.5 keV" in str(result)


REAL_RAW = os.path.join(TESTDATA, "lh5/prod-ref-l200/generated/tier/raw/cal/p03/r001")


@pytest.mark.skipif(not os.path.isdir(REAL_RAW), reason="LEGEND test data not available")
def test_pipeline_runs_on_real_raw_files_with_parameters_from_a_file(tmp_path):
    parameters = tmp_path / "pars.json"
    parameters.write_text(
        json.dumps({"*": {"trapTmax_cal": {"parameters": {"a": 0.0, "b": 0.15}}}})
    )
    cfg = {
        "raw": os.path.join(REAL_RAW, "*-tier_raw.lh5"),
        "outdir": str(tmp_path / "out"),
        "hit": {
            "config": {
                "outputs": ["trapTmax_cal"],
                "operations": {
                    "trapTmax_cal": {"expression": "a + b*trapTmax", "parameters": {"a": 0, "b": 1}}
                },
            },
            "parameters": str(parameters),
        },
    }
    report = run_pipeline(cfg, progress=False)
    assert report.ok, str(report)
    for cycle in Pipeline(cfg).cycles():
        raw_tables = [g for g in ls(cycle.raw, "ch*/raw")]
        hit = _tables(cycle.hit)
        assert sorted(hit) == sorted(g.replace("/raw", "/hit") for g in raw_tables)
        for group in raw_tables:
            dsp = read(group.replace("/raw", "/dsp") + "/trapTmax", cycle.dsp).nda
            np.testing.assert_allclose(
                hit[group.replace("/raw", "/hit")]["trapTmax_cal"], 0.15 * dsp
            )
