"""The simulator: deterministic, LEGEND's raw layout, and waveforms that agree with their truth.

Physics checks use independent, simple estimators written here with numpy (pole-zero
correction as a cumulative sum, box-car energy filter, threshold crossings), not the
simulator's own code. The real p03 raw file is the reference for the layout, and
LEGEND's reader (``lgdo``) must read what the simulator writes.
"""

from __future__ import annotations

import filecmp
import math
import os
import re
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.optimize import brentq

from testdata import LH5_DATA
from tierflow import lh5
from tierflow.errors import SimulationError
from tierflow.sim import (
    FLASHCAM_COLUMNS,
    PULSER_ENERGY,
    TH228_LINES,
    TRUTH_UNITS,
    Channel,
    Resolution,
    default_channels,
    line_index,
    sample_energies,
    simulate_run,
    simulate_waveforms,
    tier_file_path,
)
from tierflow.sim.events import T0_RANGE
from tierflow.sim.noise import normal_samples

REAL_RAW = LH5_DATA / "raw/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_raw.lh5"
N_RUN_EVENTS = 120
N_RUN_CHANNELS = 3


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """Two cycles of three channels, with many pulser events."""
    outdir = tmp_path_factory.mktemp("simrun")
    result = simulate_run(
        outdir,
        n_events=N_RUN_EVENTS,
        channels=N_RUN_CHANNELS,
        seed=11,
        period="p03",
        run="r002",
        n_files=2,
        pulser_rate=0.5,
        pileup_fraction=0.05,
        start="20230318T012144Z",
    )
    return outdir, result


def pole_zero(values: np.ndarray, baseline: np.ndarray | float, tau: float) -> np.ndarray:
    """``p[i] = p[i-1] + v[i] - a*v[i-1]`` with ``a = exp(-16 ns / tau)``, as a cumulative sum."""
    v = values.astype(np.float64) - np.asarray(baseline, np.float64).reshape(-1, 1)
    a = math.exp(-16.0 / tau)
    previous = np.cumsum(v, axis=1) - v
    return v + (1.0 - a) * previous


def crossing(y: np.ndarray, level: float) -> float:
    """Sample (interpolated) where ``y`` first reaches ``level``."""
    i = int(np.argmax(y >= level))
    return i - 1 + (level - y[i - 1]) / (y[i] - y[i - 1])


# --- determinism ------------------------------------------------------------------------------
def test_same_seed_same_waveforms_other_seed_others():
    wf_a, truth_a = simulate_waveforms(6, seed=7, pulser_fraction=0.3)
    wf_b, truth_b = simulate_waveforms(6, seed=7, pulser_fraction=0.3)
    wf_c, _ = simulate_waveforms(6, seed=8, pulser_fraction=0.3)
    assert np.array_equal(wf_a.values.nda, wf_b.values.nda)
    for name in TRUTH_UNITS:
        assert np.array_equal(truth_a[name].nda, truth_b[name].nda, equal_nan=True), name
    assert not np.array_equal(wf_a.values.nda, wf_c.values.nda)


def test_same_seed_gives_byte_identical_files_and_chunking_does_not_matter(tmp_path):
    kwargs = dict(n_events=30, channels=2, seed=5, n_files=2, pulser_rate=1.0)
    one = simulate_run(tmp_path / "one", **kwargs)
    two = simulate_run(tmp_path / "two", **kwargs)
    chunked = simulate_run(tmp_path / "chunked", chunk_size=16, **kwargs)
    for a, b in zip(one.raw_files + one.truth_files, two.raw_files + two.truth_files, strict=True):
        assert filecmp.cmp(a, b, shallow=False), a
    for a, c in zip(one.raw_files, chunked.raw_files, strict=True):
        for group in ("ch1084803/raw", "ch1084804/raw"):
            ours, theirs = lh5.read(group, a), lh5.read(group, c)
            assert np.array_equal(ours["waveform"]["values"].nda, theirs["waveform"]["values"].nda)
            assert np.array_equal(ours["timestamp"].nda, theirs["timestamp"].nda)
            assert np.array_equal(ours["daqenergy"].nda, theirs["daqenergy"].nda)
    # the second cycle is not a copy of the first
    first = lh5.read("ch1084803/raw/waveform/values", one.raw_files[0]).nda
    second = lh5.read("ch1084803/raw/waveform/values", one.raw_files[1]).nda
    assert not np.array_equal(first, second)


def test_noise_generator_is_a_standard_normal():
    x = normal_samples(123, 400_000)
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1.0) < 0.01
    # tails of a Gaussian, not of a sum of uniforms
    assert 0.0020 < np.mean(np.abs(x) > 3.0) < 0.0034
    assert np.abs(x).max() > 4.0
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 0.01
    assert np.array_equal(x[:1000], normal_samples(123, 1000))


# --- layout and naming ------------------------------------------------------------------------
def _datasets(group: h5py.Group, prefix: str = "") -> dict[str, h5py.HLObject]:
    found = {}
    for key, obj in group.items():
        found[prefix + key] = obj
        if isinstance(obj, h5py.Group):
            found.update(_datasets(obj, prefix + key + "/"))
    return found


def _attr(obj: h5py.HLObject, key: str):
    value = obj.attrs.get(key)
    return value.decode() if isinstance(value, bytes) else value


@pytest.mark.skipif(not REAL_RAW.exists(), reason="real p03 raw file missing")
def test_raw_table_layout_matches_the_real_p03_file(small_run):
    _, result = small_run
    with h5py.File(REAL_RAW, "r") as real, h5py.File(result.raw_files[0], "r") as sim:
        theirs = _datasets(real["ch1084803/raw"])
        ours = _datasets(sim["ch1084803/raw"])
        assert sorted(ours) == sorted(theirs)
        assert sorted(k for k in ours if "/" not in k) == sorted(FLASHCAM_COLUMNS)
        for name, obj in theirs.items():
            mine = ours[name]
            assert isinstance(mine, h5py.Dataset) == isinstance(obj, h5py.Dataset), name
            assert _attr(mine, "units") == _attr(obj, "units"), name
            kind = _attr(obj, "datatype")
            if kind.startswith("table"):  # field order differs: current writers sort
                assert sorted(kind[6:-1].split(",")) == sorted(
                    _attr(mine, "datatype")[6:-1].split(",")
                )
            else:
                assert _attr(mine, "datatype") == kind, name
            if isinstance(obj, h5py.Dataset) and name != "tracelist/cumulative_length":
                assert mine.dtype == obj.dtype, name
        values = sim["ch1084803/raw/waveform/values"]
        assert values.dtype == np.uint16 and values.shape == (N_RUN_EVENTS, 8192)
        assert np.all(sim["ch1084803/raw/waveform/dt"][:] == 16.0)
        assert np.all(sim["ch1084803/raw/waveform/t0"][:] == 0.0)
        assert _attr(sim["ch1084803/raw/waveform/dt"], "units") == "ns"
        assert np.all(sim["ch1084803/raw/board_id"][:] == 848)
        assert np.all(sim["ch1084803/raw/fc_input"][:] == 3)
        assert np.all(sim["ch1084803/raw/fcid"][:] == 1)


def test_files_are_named_and_foldered_as_legend_does(small_run):
    outdir, result = small_run
    pattern = re.compile(r"l200-p03-r002-cal-(\d{8}T\d{6}Z)-tier_(raw|truth)\.lh5")
    stamps = []
    for raw, truth in zip(result.raw_files, result.truth_files, strict=True):
        assert Path(raw).parent == Path(outdir) / "tier" / "raw" / "cal" / "p03" / "r002"
        assert Path(truth).parent == Path(outdir) / "tier" / "truth" / "cal" / "p03" / "r002"
        m_raw, m_truth = pattern.fullmatch(Path(raw).name), pattern.fullmatch(Path(truth).name)
        assert m_raw and m_truth and m_raw[1] == m_truth[1]
        stamps.append(m_raw[1])
        assert os.path.isfile(raw) and os.path.isfile(truth)
    assert stamps[0] == "20230318T012144Z" and stamps[1] > stamps[0]
    assert lh5.ls(result.raw_files[0], "ch*/*") == [f"{c.name}/raw" for c in result.channels]
    assert lh5.ls(result.truth_files[1], "ch*/*") == [f"{c.name}/truth" for c in result.channels]
    assert result.n_waveforms == 2 * N_RUN_EVENTS * N_RUN_CHANNELS
    # nothing else is left in the folders (no partial files)
    assert sorted(os.listdir(Path(result.raw_files[0]).parent)) == sorted(
        Path(p).name for p in result.raw_files
    )
    assert (
        tier_file_path(
            "/d", "dsp", period="p03", run="r001", run_type="cal", timestamp="20230318T012144Z"
        )
        == "/d/tier/dsp/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_dsp.lh5"
    )


def test_cycles_follow_each_other_and_daq_clock_fields_agree(small_run):
    _, result = small_run
    first_end = None
    for path in result.raw_files:
        raw = lh5.read("ch1084804/raw", path)
        ts = raw["timestamp"].nda
        runtime = raw["runtime"].nda
        assert np.all(np.diff(ts) > 0) and np.all(np.diff(raw["eventnumber"].nda) > 0)
        assert np.all(np.diff(raw["packet_id"].nda.astype(np.int64)) > 0)
        assert np.allclose(ts, raw["mu_offset_sec"].nda + runtime, rtol=0, atol=1e-6)
        ticks = raw["ts_pps"].nda + raw["ts_ticks"].nda / (raw["ts_maxticks"].nda + 1.0)
        assert np.allclose(ticks, runtime, rtol=0, atol=1e-8)
        stamp = Path(path).name.split("-")[4]
        start = int(raw["mu_offset_sec"].nda[0])
        assert stamp == time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(start))
        if first_end is not None:
            assert ts[0] >= first_end
        first_end = ts[-1]
        # a few Hz per channel: 120 events at 3.5 Hz take about 34 s
        assert 20 < ts[-1] - ts[0] < 50


def test_pulser_events_fire_in_all_channels_at_once(small_run):
    _, result = small_run
    path, truth_path = result.raw_files[0], result.truth_files[0]
    tables = {c.name: lh5.read(f"{c.name}/raw", path) for c in result.channels}
    truths = {c.name: lh5.read(f"{c.name}/truth", truth_path) for c in result.channels}
    pulser_events = []
    for name, raw in tables.items():
        truth = truths[name]
        pulser = truth["is_pulser"].nda
        assert 8 < pulser.sum() < 32  # 0.5 Hz in about 34 s
        assert np.array_equal(truth["eventnumber"].nda, raw["eventnumber"].nda)
        assert np.all(raw["numtraces"].nda[pulser] == N_RUN_CHANNELS)
        assert np.all(raw["numtraces"].nda[~pulser] == 1)
        assert np.all(truth["energy"].nda[pulser] == PULSER_ENERGY)
        assert np.all(truth["line"].nda[pulser] == -3)
        numbers = raw["eventnumber"].nda[pulser].tolist()
        times = raw["timestamp"].nda[pulser].tolist()
        pulser_events.append(set(zip(numbers, times, strict=True)))
    assert pulser_events[0] == pulser_events[1] == pulser_events[2]
    # physics event numbers are not shared
    physics = [set(t["eventnumber"].nda[~t["is_pulser"].nda].tolist()) for t in truths.values()]
    assert not (physics[0] & physics[1]) and not (physics[1] & physics[2])


# --- waveforms against their truth ------------------------------------------------------------
def test_noiseless_pulse_height_rise_time_and_start_match_the_truth():
    channel = replace(Channel(1084803), noise=0.0, drift=0.0)
    energies = np.array([150.0, 583.2, 1000.0, 2614.5, 4000.0, 7000.0])
    wf, truth = simulate_waveforms(
        len(energies), seed=3, channel=channel, energies=energies, pileup_fraction=0.0
    )
    charge = pole_zero(wf.values.nda, channel.baseline, channel.tau)
    amplitude = truth["amplitude"].nda
    assert np.allclose(amplitude, channel.gain * energies)
    # the pole-zero corrected trace is flat at the truth's amplitude, to ADC rounding
    assert np.allclose(charge[:, -1], amplitude, rtol=0, atol=1.0)
    assert np.allclose(charge[:, 4000:].mean(axis=1), amplitude, rtol=0, atol=0.5)
    # the charge shape is documented: q(x) = (k+2) x^(k+1) - (k+1) x^(k+2), x = (t - t0)/D
    for row, amp in enumerate(amplitude):
        t0, rise = truth["t0"].nda[row], truth["rise_time"].nda[row]
        k = truth["current_exponent"].nda[row]
        assert 2.0 <= k <= 4.5

        def q(x, k=k):
            return (k + 2) * x ** (k + 1) - (k + 1) * x ** (k + 2)

        x10, x90 = brentq(lambda x: q(x) - 0.1, 0, 1), brentq(lambda x: q(x) - 0.9, 0, 1)
        collection = rise / (x90 - x10)
        t10, t90 = crossing(charge[row], 0.1 * amp), crossing(charge[row], 0.9 * amp)
        assert abs((t90 - t10) * 16.0 - rise) < 16.0
        assert abs(t10 * 16.0 - (t0 + x10 * collection)) < 16.0
        # nothing before t0, all of the charge once the collection is over
        assert np.all(np.abs(charge[row, : math.floor(t0 / 16.0) + 1]) <= 0.5)
        assert abs(charge[row, math.ceil((t0 + collection) / 16.0)] - amp) <= 1.0
        # half of the charge arrives at x where q = 1/2, as the formula says
        x50 = brentq(lambda x: q(x) - 0.5, 0, 1)
        assert abs(crossing(charge[row], 0.5 * amp) * 16.0 - (t0 + x50 * collection)) < 16.0
    # the raw trace decays with tau: 80 us after the rise it lost 1 - exp(-80 us/tau)
    raw = wf.values.nda.astype(float) - channel.baseline
    top = raw[:, 3100]
    later = raw[:, 3100 + 5000]
    assert np.allclose(later / top, math.exp(-80_000.0 / channel.tau), rtol=2e-3)


def test_pulses_start_where_legend_pulses_start():
    _, truth = simulate_waveforms(50, seed=1)
    t0 = truth["t0"].nda
    assert np.all((t0 >= T0_RANGE[0]) & (t0 <= T0_RANGE[1]))
    assert 2900 < np.mean(t0) / 16.0 < 3100  # like tp_0_est of real p03 data (~47.8 us)
    rise = truth["rise_time"].nda
    lo, hi = Channel(1084803).rise_time
    assert np.all((rise >= lo) & (rise <= hi)) and rise.std() > 50


def test_waveform_energies_reproduce_the_truth_and_the_th228_lines():
    channel = default_channels(1)[0]
    wf, truth = simulate_waveforms(2000, seed=21, channel=channel)
    values = wf.values.nda[:, :4000]  # enough for the energy filter below
    baseline = values[:, :2500].mean(axis=1)
    charge = pole_zero(values, baseline, channel.tau)
    estimate = charge[:, 3400:4000].mean(axis=1) - charge[:, 1800:2400].mean(axis=1)
    clean = ~truth["is_pileup"].nda & ~truth["is_saturated"].nda
    residual = estimate[clean] - truth["amplitude"].nda[clean]
    assert abs(np.median(residual)) < 0.5 and residual.std() < 5.0  # ADC; 1 keV ~ 6.4 ADC
    energy = estimate / channel.gain
    for line_energy in (238.632, 583.187, 2614.511):
        near = energy[np.abs(energy - line_energy) < 3.0]
        assert len(near) > 40, line_energy
        assert abs(np.median(near) - line_energy) < 0.6, line_energy


def test_raw_baseline_and_daqenergy_columns(small_run):
    _, result = small_run
    raw = lh5.read("ch1121600/raw", result.raw_files[1])
    truth = lh5.read("ch1121600/truth", result.truth_files[1])
    channel = result.channels[2]
    values = raw["waveform"]["values"].nda
    assert np.allclose(raw["baseline"].nda, values[:, :2048].mean(axis=1), atol=0.51)
    assert np.all(np.abs(raw["baseline"].nda.astype(float) - channel.baseline) < 20)
    clean = ~truth["is_pileup"].nda & ~truth["is_saturated"].nda
    daq = raw["daqenergy"].nda.astype(float)
    assert np.allclose(daq[clean], truth["amplitude"].nda[clean], rtol=0.05, atol=30)
    # noise in the pre-trace as in LEGEND data: ~15 ADC rms, ~10 ADC sample to sample
    pre = values[:, :2000].astype(float)
    rms = pre.std(axis=1).mean()
    diff = np.diff(pre, axis=1).std(axis=1).mean() / math.sqrt(2)
    assert 0.8 * channel.noise < rms < 1.3 * channel.noise
    assert diff < 0.85 * rms


def test_saturation_clips_at_65535_and_is_in_the_truth():
    channel = Channel(1084803)
    energies = [1000.0, channel.saturation_energy() * 0.98, 9000.0, 25000.0]
    wf, truth = simulate_waveforms(4, seed=2, channel=channel, energies=energies, pileup_fraction=0)
    values = wf.values.nda
    saturated = truth["is_saturated"].nda
    assert saturated.tolist() == [False, False, True, True]
    assert values[~saturated].max() < 65535
    assert np.all(values[saturated].max(axis=1) == 65535)
    assert (values[3] == 65535).sum() > (values[2] == 65535).sum() > 10
    # the default spectrum has a small fraction of events above the ADC range
    e = sample_energies(50_000, np.random.default_rng(0))
    above = np.mean(e.smeared > channel.saturation_energy())
    assert 0.0003 < above < 0.01


def test_pileup_adds_a_second_pulse_later_in_the_trace():
    channel = replace(Channel(1084803), noise=0.0, drift=0.0)
    wf, truth = simulate_waveforms(
        40, seed=9, channel=channel, energies=1000.0, pileup_fraction=0.5
    )
    pile = truth["is_pileup"].nda
    assert 5 < pile.sum() < 35
    assert np.all(truth["pileup_t0"].nda[pile] > truth["t0"].nda[pile])
    assert np.all(np.isnan(truth["pileup_t0"].nda[~pile]))
    charge = pole_zero(wf.values.nda, channel.baseline, channel.tau)
    total = truth["amplitude"].nda + channel.gain * np.nan_to_num(truth["pileup_energy"].nda)
    ended = ~pile | (truth["pileup_t0"].nda + 1000 < 8192 * 16)
    assert np.allclose(charge[ended, -1], total[ended], atol=1.0)


# --- the spectrum -----------------------------------------------------------------------------
def test_spectrum_lines_resolution_and_continuum():
    rng = np.random.default_rng(4)
    e = sample_energies(200_000, rng)
    assert np.all(e.true >= 25.0)
    for energy in (583.187, 2614.511):
        peak = e.smeared[e.line == line_index(energy)]
        assert np.all(e.true[e.line == line_index(energy)] == energy)
        core = peak[np.abs(peak - energy) < 3 * Resolution().sigma(energy)]
        assert abs(np.median(core) - energy) < 0.25  # the low-side tail pulls a little
        # Gaussian core width: the resolution model (tail events shift low, so use the upper half)
        upper = peak[peak > np.median(peak)] - np.median(peak)
        sigma_est = np.median(upper) / 0.6745
        assert abs(sigma_est / Resolution().sigma(energy) - 1) < 0.1
    assert abs(float(Resolution().fwhm(2614.5)) - 2.5) < 0.1
    # a Compton continuum below each line, and a Compton edge of 2614.5 keV at 2381.7 keV
    below_edge = np.sum((e.true > 2300) & (e.true < 2370) & (e.line == -1))
    above_edge = np.sum((e.true > 2400) & (e.true < 2470) & (e.line == -1))
    assert below_edge > 3 * above_edge > 0
    counts = {ln.energy: np.sum(e.line == i) for i, ln in enumerate(TH228_LINES)}
    assert counts[238.632] > counts[583.187] > counts[2614.511] > counts[860.557]
    peak_fraction = np.mean(e.line >= 0)
    assert 0.2 < peak_fraction < 0.6


# --- LEGEND's reader --------------------------------------------------------------------------
def test_legend_reads_what_the_simulator_writes(tmp_path):
    legend_lh5 = pytest.importorskip("lgdo.lh5")
    result = simulate_run(tmp_path, n_events=20, channels=2, seed=3)
    path, truth_path = result.raw_files[0], result.truth_files[0]
    theirs = legend_lh5.read("ch1084804/raw", path)
    ours = lh5.read("ch1084804/raw", path)
    assert sorted(theirs.keys()) == sorted(ours.keys()) == sorted(FLASHCAM_COLUMNS)
    values = theirs["waveform"]["values"].nda
    assert values.dtype == np.uint16 and values.shape == (20, 8192)
    assert np.array_equal(values, ours["waveform"]["values"].nda)
    assert np.array_equal(theirs["timestamp"].nda, ours["timestamp"].nda)
    assert theirs["timestamp"].attrs["units"] == "s"
    assert theirs["waveform"]["dt"].attrs["units"] == "ns"
    truth = legend_lh5.read("ch1084804/truth", truth_path)
    assert sorted(truth.keys()) == sorted(TRUTH_UNITS)
    assert truth["energy"].attrs["units"] == "keV"
    assert np.array_equal(truth["eventnumber"].nda, theirs["eventnumber"].nda)


def test_waveform_codec_and_no_compression_options(tmp_path):
    plain = simulate_run(tmp_path / "plain", n_events=12, channels=1, seed=3, compression=False)
    encoded = simulate_run(
        tmp_path / "encoded",
        n_events=12,
        channels=1,
        seed=3,
        codecs={"waveform/values": "radware_sigcompress"},
    )
    with h5py.File(plain.raw_files[0], "r") as f:
        assert f["ch1084803/raw/waveform/values"].compression is None
    with h5py.File(encoded.raw_files[0], "r") as f:
        group = f["ch1084803/raw/waveform/values"]
        assert _attr(group, "codec") == "radware_sigcompress"
        assert float(group.attrs["codec_shift"]) == -32768
    assert np.array_equal(
        lh5.read("ch1084803/raw/waveform/values", plain.raw_files[0]).nda,
        lh5.read("ch1084803/raw/waveform/values", encoded.raw_files[0]).nda,
    )


# --- bad settings -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_events": 0},
        {"period": "p-03"},
        {"run_type": "cal_x"},
        {"rate": 0.0},
        {"start": "yesterday"},
        {"channels": [Channel(1084803), Channel(1084803)]},
        {"channels": 0},
    ],
)
def test_bad_settings_raise_a_simulation_error(tmp_path, kwargs):
    with pytest.raises(SimulationError):
        simulate_run(tmp_path, **{"n_events": 5, **kwargs})
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_channels_are_realistic_and_stable():
    channels = default_channels(8)
    assert [c.name for c in channels[:3]] == ["ch1084803", "ch1084804", "ch1121600"]
    assert len({c.rawid for c in channels}) == 8
    for c in channels:
        assert c.rawid == c.fcid * 1_000_000 + c.board_id * 100 + c.fc_input
        assert 10_000 <= c.baseline <= 16_000
        # 2614.5 keV and the pulser fit; saturation above 6 MeV
        assert c.baseline + c.gain * PULSER_ENERGY < 50_000
        assert 6_000 < c.saturation_energy() < 9_000
        assert 150_000 <= c.tau <= 550_000
        assert 100 <= c.rise_time[0] < c.rise_time[1] <= 1000
    assert default_channels(2) == channels[:2]
    with pytest.raises(ValueError):
        Channel(1084803, rise_time=(500.0, 100.0))
