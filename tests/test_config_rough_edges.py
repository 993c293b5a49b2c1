"""Rough edges a new user meets first: the smallest pipeline config, channels without a
calibration, and a raw file whose waveform column has another name."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from tierflow import lh5, sim
from tierflow.dsp import build_dsp
from tierflow.dsp.configs import config_path
from tierflow.errors import DSPInputError, UncalibratedChannelWarning
from tierflow.pipeline import run_pipeline
from tierflow.types import Table, WaveformTable


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One simulated calibration cycle of two channels, enough events to calibrate."""
    root = tmp_path_factory.mktemp("minimal")
    channels = sim.default_channels(2)
    sim.simulate_run(root, n_events=3000, channels=channels, seed=5, compression=False)
    return root, sorted(f"ch{c.rawid}" for c in channels)


def _raw_glob(root) -> str:
    return os.path.join(root, "tier", "raw", "*", "*", "*", "*.lh5")


def _tier_file(outdir, tier: str) -> str:
    found = [
        os.path.join(d, f)
        for d, _, files in os.walk(outdir)
        for f in files
        if f.endswith(f"tier_{tier}.lh5")
    ]
    assert len(found) == 1, found
    return found[0]


def test_pipeline_config_with_only_raw_and_outdir_runs_every_tier(run_dir, tmp_path):
    root, channels = run_dir
    report = run_pipeline({"raw": _raw_glob(root), "outdir": str(tmp_path)}, progress=False)
    assert report.ok, str(report)
    hit = _tier_file(tmp_path, "hit")
    for channel in channels:
        energy = lh5.read(f"{channel}/hit/trapTmax_cal", hit)
        assert energy.attrs["units"] == "keV"
        # the 2614.5 keV line of the simulated Th-228 spectrum is where it belongs
        values = energy.nda[(energy.nda > 2590) & (energy.nda < 2640)]
        assert len(values) > 20 and abs(np.median(values) - 2614.5) < 3


def test_channels_without_calibration_are_named_and_written_in_adc(run_dir, tmp_path):
    root, (calibrated, uncalibrated) = run_dir
    parameters = {calibrated: {"trapTmax_cal": {"parameters": {"a": 0.0, "b": 0.15}}}}
    config = {"raw": _raw_glob(root), "outdir": str(tmp_path), "hit": {"parameters": parameters}}
    with pytest.warns(UncalibratedChannelWarning, match=uncalibrated) as caught:
        report = run_pipeline(config, progress=False)
    assert report.ok, str(report)
    named = [
        w.message.channels for w in caught if isinstance(w.message, UncalibratedChannelWarning)
    ]
    assert named == [[uncalibrated]]
    hit = _tier_file(tmp_path, "hit")
    good = lh5.read(f"{calibrated}/hit", hit)
    bad = lh5.read(f"{uncalibrated}/hit", hit)
    assert good["trapTmax_cal"].attrs["units"] == "keV"
    assert bad["trapTmax_cal"].attrs["units"] == "ADC"
    assert "not calibrated" in bad["trapTmax_cal"].attrs["description"]
    assert not bad["is_valid"].nda.any()
    assert good["is_valid"].nda.mean() > 0.5
    adc = lh5.read(f"{uncalibrated}/dsp/trapTmax", _tier_file(tmp_path, "dsp")).nda
    np.testing.assert_allclose(bad["trapTmax_cal"].nda, adc)  # the identity: ADC values


def test_own_hit_config_for_uncalibrated_channels_is_applied_as_written_with_a_warning(
    run_dir, tmp_path
):
    root, (calibrated, uncalibrated) = run_dir
    own = {
        "outputs": ["trapTmax_cal"],
        "operations": {
            "trapTmax_cal": {
                "expression": "a + b*trapTmax",
                "parameters": {"a": 0.0, "b": 0.15},
                "units": "keV",
            }
        },
    }
    parameters = {calibrated: {"trapTmax_cal": {"parameters": {"b": 0.16}}}}
    config = {
        "raw": _raw_glob(root),
        "outdir": str(tmp_path),
        "hit": {"config": own, "parameters": parameters},
    }
    with pytest.warns(UncalibratedChannelWarning, match=uncalibrated):
        report = run_pipeline(config, progress=False)
    assert report.ok, str(report)
    hit = _tier_file(tmp_path, "hit")
    assert lh5.read(f"{uncalibrated}/hit/trapTmax_cal", hit).attrs["units"] == "keV"


def test_calibrated_channels_give_no_warning(run_dir, tmp_path):
    root, _channels = run_dir
    parameters = {"*": {"trapTmax_cal": {"parameters": {"a": 0.0, "b": 0.15}}}}
    config = {"raw": _raw_glob(root), "outdir": str(tmp_path), "hit": {"parameters": parameters}}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncalibratedChannelWarning)
        assert run_pipeline(config, progress=False).ok


def _raw_with_waveform_named(path, name: str) -> None:
    wf = np.zeros((4, 64), "uint16")
    wf[:, 32:] = 100
    for channel in ("ch1", "ch2"):
        table = Table(
            {
                name: WaveformTable(values=wf, dt=16, dt_units="ns", t0_units="ns"),
                "baseline": np.zeros(4, "uint16"),
            }
        )
        lh5.write(table, f"{channel}/raw", path)


def test_dsp_without_the_waveform_column_says_why_each_table_was_skipped(tmp_path):
    raw = tmp_path / "raw.lh5"
    _raw_with_waveform_named(raw, "wf_raw")
    out = tmp_path / "dsp.lh5"
    with pytest.raises(DSPInputError) as caught:
        build_dsp(raw, out, config_path("hpge-simple"), progress=False)
    message = str(caught.value)
    assert "ch1/raw, ch2/raw: no columns 'timestamp', 'waveform' (has: baseline, wf_raw)" in message
    assert not out.exists()
