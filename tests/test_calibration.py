"""Energy calibration on simulated Th-228 spectra: gain, resolution, failures, output, plots."""

from __future__ import annotations

import functools
import json
import math
import pickle
import warnings

import numpy as np
import pytest

from tierflow.errors import CalibrationError
from tierflow.hit.calibration import (
    QBB_KEV,
    TH228_LINES,
    TL208_KEV,
    EnergyCalibration,
    Line,
    PeakModel,
    as_lines,
    calibrate,
    find_candidates,
    fit_peak,
    match_lines,
    peak_fwhm,
    plot_calibration,
    plot_peaks,
    plot_spectrum,
    save_plots,
)
from tierflow.hit.calibration.shapes import tail_cdf
from tierflow.sim.spectrum import Resolution, sample_energies

USED = [line for line in TH228_LINES if line.use]
USED_ENERGIES = np.array([line.energy for line in USED])
RESOLUTION = Resolution()  # 2.49 keV FWHM at 2614.5 keV
TAIL_FRACTION, TAIL_SCALE = 0.15, 1.5  # the simulation's charge-collection tail


def true_fwhm(energy: float, tail_fraction: float = TAIL_FRACTION) -> float:
    """FWHM of the simulated peak shape (Gaussian resolution and charge-collection tail)."""
    sigma = float(RESOLUTION.sigma(energy))
    return peak_fwhm(sigma, tail_fraction, TAIL_SCALE * sigma)


@functools.cache
def keV(n: int, seed: int, tail_fraction: float = TAIL_FRACTION) -> np.ndarray:
    """Smeared energies (keV) of a simulated Th-228 calibration run."""
    sample = sample_energies(n, np.random.default_rng(seed), tail_fraction=tail_fraction)
    out = sample.smeared
    out.setflags(write=False)
    return out


@functools.cache
def calibration(gain: float, offset: float, n: int, seed: int, **kwargs) -> EnergyCalibration:
    return calibrate(gain * keV(n, seed) + offset, **kwargs)


GAINS = [(0.3, 0.0, 40_000, 1), (12.3456, 25.0, 40_000, 2), (250.0, -300.0, 20_000, 3)]


@pytest.mark.parametrize(("gain", "offset", "n", "seed"), GAINS)
def test_recovers_gain_and_resolution(gain, offset, n, seed):
    cal = calibration(gain, offset, n, seed)
    assert abs(cal.gain / gain - 1) < 1e-3
    assert abs(cal.offset - offset) < 0.5 * gain  # within half a keV
    # every line lands on its energy
    calibrated = cal.apply(gain * USED_ENERGIES + offset)
    assert np.max(np.abs(calibrated - USED_ENERGIES)) < 0.3
    assert len(cal.used_peaks) >= 7
    for energy in (TL208_KEV, QBB_KEV):
        fwhm, error = cal.fwhm_at(energy)
        assert abs(fwhm / true_fwhm(energy) - 1) < 0.10, (energy, fwhm, true_fwhm(energy))
        assert 0.0 < error < 0.15
    # the fitted line widths follow the truth too
    for row in cal.peak_table():
        if row["status"] == "ok" and row["energy"] < 900:
            assert abs(row["fwhm"] / true_fwhm(row["energy"]) - 1) < 0.10, row


def test_resolution_without_tail_is_the_gaussian_resolution():
    raw = 12.3 * keV(30_000, 5, tail_fraction=0.0)
    cal = calibrate(raw)
    fwhm, _ = cal.fwhm_2614
    assert abs(fwhm / float(RESOLUTION.fwhm(TL208_KEV)) - 1) < 0.10
    assert abs(cal.fwhm_qbb[0] / float(RESOLUTION.fwhm(QBB_KEV)) - 1) < 0.10
    # the fits find (almost) no tail where there is none
    tails = [p.values["htail"] for p in cal.used_peaks if p.values["n_sig"] > 2000]
    assert tails and max(tails) < 0.08


def test_gaussian_width_option():
    cal = calibration(12.3456, 25.0, 40_000, 2, width="gaussian")
    assert cal.width == "gaussian"
    fwhm, _ = cal.fwhm_2614
    assert abs(fwhm / float(RESOLUTION.fwhm(TL208_KEV)) - 1) < 0.10
    # the Gaussian part alone is narrower than the whole peak
    assert fwhm < calibration(12.3456, 25.0, 40_000, 2).fwhm_2614[0]


def test_quadratic_nonlinearity():
    gain, k = 12.3, 1.0e-6  # raw = gain * (E + k E²): +6.8 keV at 2614.5 keV
    raw = gain * (keV(40_000, 6) + k * keV(40_000, 6) ** 2)
    true_raw = gain * (USED_ENERGIES + k * USED_ENERGIES**2)
    cal = calibrate(raw, deg=2)
    assert cal.deg == 2
    assert np.max(np.abs(cal.apply(true_raw) - USED_ENERGIES)) < 0.15
    assert abs(cal.gain / (gain * (1 + 2 * k * TL208_KEV)) - 1) < 1e-3
    assert abs(cal.fwhm_2614[0] / true_fwhm(TL208_KEV) - 1) < 0.10
    # a straight line cannot follow it, and says so
    with pytest.warns(UserWarning, match="deg=2"):
        linear = calibrate(raw, deg=1)
    assert np.max(np.abs(linear.apply(true_raw) - USED_ENERGIES)) > 0.5


def test_integer_adc_values():
    raw = np.round(2.0 * keV(20_000, 7))
    cal = calibrate(raw)
    assert abs(cal.gain / 2.0 - 1) < 1e-3
    assert abs(cal.fwhm_2614[0] / true_fwhm(TL208_KEV) - 1) < 0.10
    for peak in cal.used_peaks:  # bins hold whole ADC units, edges between them
        assert np.allclose(peak.edges % 1.0, 0.5)


@pytest.mark.parametrize("gain", [1e-3, 0.7, 45.0, 3000.0])
def test_peak_search_needs_no_gain_guess(gain):
    candidates = find_candidates(gain * keV(20_000, 8))
    search = match_lines(candidates, USED)
    assert len(search.matched) >= 6
    assert abs(search.gain / gain - 1) < 5e-3
    assert abs(search.predict(TL208_KEV) / (gain * TL208_KEV) - 1) < 2e-3


def test_flat_spectrum_says_nothing_was_found():
    raw = np.random.default_rng(0).uniform(0.0, 30_000.0, 40_000)
    with pytest.raises(CalibrationError) as info:
        calibrate(raw)
    err = info.value
    assert err.found == []
    assert set(err.reasons) == {line.label for line in USED}
    assert "40000 events" in str(err) and "found: none" in str(err)
    assert "candidate peak" in str(err)


def test_too_few_events():
    with pytest.raises(CalibrationError, match="200 events") as info:
        calibrate(12.3 * keV(200, 9))
    assert info.value.found == []
    assert "Tl-208 2614.5 keV" in str(info.value)


def test_too_few_lines_names_found_lines_and_reasons():
    with pytest.raises(CalibrationError) as info:
        calibrate(12.3 * keV(1000, 1), min_lines=6)
    err = info.value
    assert 3 <= len(err.found) < 6
    assert "Tl-208 583.2 keV" in err.found
    assert set(err.found) | set(err.reasons) == {line.label for line in USED}
    assert not set(err.found) & set(err.reasons)
    message = str(err)
    assert f"{len(err.found)} of 8 lines fitted, at least 6 needed" in message
    for label, reason in err.reasons.items():
        assert label in message and reason in message
        assert "events" in reason or "significant" in reason or "converge" in reason
    # the exception survives pickling (process pools)
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.found == err.found


def test_bad_arguments():
    raw = 12.3 * keV(20_000, 2)
    with pytest.raises(ValueError, match="deg"):
        calibrate(raw, deg=3)
    with pytest.raises(ValueError, match="lines to calibrate on"):
        calibrate(raw, lines=[583.187, 2614.511])
    with pytest.raises(ValueError, match="tail"):
        calibrate(raw, tail="sometimes")
    with pytest.raises(ValueError, match="repeated"):
        as_lines([583.2, 583.2, 2614.5])


def test_user_line_list():
    cal = calibrate(7.0 * keV(20_000, 2), lines=[238.632, 583.187, 860.557, 2614.511])
    assert [p.line.energy for p in cal.peaks] == [238.632, 583.187, 860.557, 2614.511]
    assert abs(cal.gain / 7.0 - 1) < 1e-3


def _assert_same(a: EnergyCalibration, b: EnergyCalibration) -> None:
    assert a.coefficients == pytest.approx(b.coefficients, rel=1e-12)
    assert np.allclose(a.covariance, b.covariance, rtol=1e-12)
    assert a.resolution.parameters == pytest.approx(b.resolution.parameters, rel=1e-12)
    assert a.fwhm_qbb == pytest.approx(b.fwhm_qbb, rel=1e-9)
    assert a.fwhm_2614 == pytest.approx(b.fwhm_2614, rel=1e-9)
    assert [p.status for p in a.peaks] == [p.status for p in b.peaks]
    for p, q in zip(a.peaks, b.peaks, strict=True):
        assert p.line == q.line
        assert p.values == pytest.approx(q.values, rel=1e-12)
        assert np.array_equal(p.counts, q.counts)
        assert a.peak_fwhm(p) == pytest.approx(b.peak_fwhm(q), rel=1e-9)
    assert np.allclose(a.apply([1000.0, 30_000.0]), b.apply([1000.0, 30_000.0]))


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_round_trip(tmp_path, suffix):
    cal = calibration(12.3456, 25.0, 40_000, 2)
    path = tmp_path / f"cal{suffix}"
    (cal.to_json if suffix == ".json" else cal.to_yaml)(path)
    back = EnergyCalibration.read(path)
    _assert_same(cal, back)
    _assert_same(cal, EnergyCalibration.from_dict(cal.to_dict()))
    if suffix == ".json":  # strict JSON: no NaN or Infinity
        json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
        data = json.loads(path.read_text())
        assert data["resolution"]["fwhm_2614"]["fwhm"] == pytest.approx(cal.fwhm_2614[0])
        assert data["energy"]["parameters"]["b"] == pytest.approx(cal.coefficients[1])


def test_hit_parameters():
    cal = calibration(12.3456, 25.0, 40_000, 2)
    pars = cal.hit_parameters("cuspEmax_ctc", "cuspEmax_ctc_cal")
    assert list(pars) == ["cuspEmax_ctc_cal"]
    entry = pars["cuspEmax_ctc_cal"]
    assert entry["expression"] == "a + b*cuspEmax_ctc"
    assert entry["parameters"] == {"a": cal.coefficients[0], "b": cal.coefficients[1]}
    cuspEmax_ctc = np.array([25.0 + 12.3456 * 2614.511])
    value = eval(entry["expression"], {"cuspEmax_ctc": cuspEmax_ctc, **entry["parameters"]})
    assert abs(value[0] - 2614.511) < 0.3
    json.dumps(pars)  # plain floats
    assert cal.hit_parameters("trapEmax") == {
        "trapEmax_cal": cal.hit_parameters("trapEmax")["trapEmax_cal"]
    }


def test_quadratic_hit_parameters_and_inverse():
    cal = EnergyCalibration.from_dict(
        {
            "energy": {
                "parameters": {"a": 0.5, "b": 0.08, "c": -6e-9},
                "covariance": np.zeros((3, 3)).tolist(),
            },
            "resolution": {
                "parameters": {"a": 0.6, "b": 0.002},
                "covariance": np.zeros((2, 2)).tolist(),
            },
        }
    )
    entry = cal.hit_parameters("trapEmax")["trapEmax_cal"]
    assert entry["expression"] == "a + b*trapEmax + c*trapEmax**2"
    assert set(entry["parameters"]) == {"a", "b", "c"}
    energies = np.array([238.6, 2614.5])
    assert np.allclose(cal.apply(cal.to_raw(energies)), energies)
    assert cal.fwhm_at(TL208_KEV)[0] == pytest.approx(math.sqrt(0.6 + 0.002 * TL208_KEV))


def test_plots(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    cal = calibration(12.3456, 25.0, 40_000, 2)
    fig = plot_peaks(cal)
    assert len(fig.axes) == 2 * len(cal.peaks)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [p.line.label for p in cal.peaks]
    legends = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes[::2]]
    assert all(texts[0] == "data" and "FWHM" in texts[1] for texts in legends)
    fig = plot_calibration(cal)
    assert len(fig.axes) == 4
    assert fig.axes[1].get_ylabel() == "Resid. (keV)" and fig.axes[2].get_ylabel() == "FWHM (keV)"
    texts = " ".join(t.get_text() for t in fig.axes[2].texts)
    assert f"{cal.fwhm_qbb[0]:.2f}" in texts and f"{cal.fwhm_2614[0]:.2f}" in texts
    fig = plot_spectrum(cal, 12.3456 * keV(40_000, 2) + 25.0)
    assert len(fig.axes) == 1 and fig.axes[0].get_xlabel() == "Energy (keV)"
    paths = save_plots(cal, tmp_path / "plots")
    assert [p.name for p in paths] == ["peaks.png", "calibration.png"]
    for path in paths:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_plot_of_a_partial_calibration():
    cal = calibrate(12.3 * keV(1000, 1))  # four lines found, four not
    assert 3 <= len(cal.used_peaks) < len(cal.peaks)
    fig = plot_peaks(cal)
    assert len(fig.axes) == 2 * len(cal.peaks)
    failed = [p for p in cal.peaks if not p.ok]
    texts = " ".join(" ".join(t.get_text().split()) for ax in fig.axes for t in ax.texts)
    assert failed and all(" ".join(p.status.split()) in texts for p in failed)


def test_tail_cdf_matches_sampling():
    rng = np.random.default_rng(3)
    sample = rng.normal(0.0, 1.0, 400_000) - rng.exponential(2.5, 400_000)
    x = np.array([-12.0, -5.0, -2.0, 0.0, 1.0, 2.5])
    assert np.allclose(tail_cdf(x, 0.0, 1.0, 2.5), [(sample < v).mean() for v in x], atol=3e-3)
    # far from the peak nothing overflows
    far = tail_cdf(np.array([-1e6, -3e3, 3e3]), 0.0, 1e-3, 1.0)
    assert np.all(np.isfinite(far)) and far[0] == 0.0 and far[2] == 1.0


def test_binned_model_matches_cdf_and_components():
    model = PeakModel(0.0, 100.0, offsets=(6.0,), labels=("x",))
    p = [5000.0, 48.0, 1.3, 0.2, 1.7, 800.0, -0.4, 300.0, 700.0]
    edges = np.linspace(0.0, 100.0, 401)
    binned = model.binned(edges)(p)
    assert np.allclose(binned, model.expected(edges, p), rtol=1e-10, atol=1e-9)
    # the densities integrate to the bin contents
    centres = 0.5 * (edges[1:] + edges[:-1])
    total = model.components(centres, p)["total"] * (edges[1] - edges[0])
    assert np.allclose(total, binned, rtol=0.02, atol=0.5)
    assert binned.sum() == pytest.approx(5000 + 800 + 300 + 700, rel=1e-3)


def test_peak_fwhm_against_brute_force():
    x = np.linspace(-30.0, 10.0, 400_001)
    for htail, tau in [(0.1, 1.0), (0.3, 2.0), (0.5, 6.0)]:
        from tierflow.hit.calibration.shapes import peak_pdf

        f = peak_pdf(x, 0.0, 1.0, htail, tau)
        above = x[f >= f.max() / 2]
        assert peak_fwhm(1.0, htail, tau) == pytest.approx(above[-1] - above[0], abs=3e-4)


def test_fit_peak_recovers_a_tailed_peak():
    rng = np.random.default_rng(11)
    n = 20_000
    tail = rng.random(n) < 0.25
    peak = 5000.0 + rng.normal(0, 10.0, n) - np.where(tail, rng.exponential(20.0, n), 0.0)
    raw = np.sort(np.concatenate([peak, rng.uniform(4700, 5300, 6000)]))
    fit = fit_peak(raw, 5003.0, 25.0, low=4750.0, high=5250.0, line=Line(2614.511, "Tl-208"))
    assert fit.ok, fit.status
    v, e = fit.values, fit.errors
    assert abs(v["mu"] - 5000) < 3 * e["mu"]
    assert abs(v["sigma"] - 10) < 3 * e["sigma"]
    assert abs(v["htail"] - 0.25) < 3 * e["htail"]
    assert abs(v["tau_rel"] - 2.0) < 3 * e["tau_rel"]
    assert abs(v["n_sig"] - n) < 3 * e["n_sig"] + 0.01 * n
    assert 0.01 < fit.pvalue <= 1.0
    assert fit.fwhm == pytest.approx(peak_fwhm(10.0, 0.25, 20.0), rel=0.05)


def test_no_warnings_on_a_good_calibration():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        calibration(12.3456, 25.0, 40_000, 2)
    assert [str(w.message) for w in caught] == []


def test_hit_config_consumes_the_parameters():
    from tierflow.hit import HitConfig
    from tierflow.types import Table

    cal = calibration(12.3456, 25.0, 40_000, 2)
    raw = np.array([25.0 + 12.3456 * 583.187, 25.0 + 12.3456 * 2614.511])
    operations = cal.hit_parameters("cuspEmax_ctc")
    config = HitConfig.from_dict({"outputs": ["cuspEmax_ctc_cal"], "operations": operations})
    out = config.apply(Table({"cuspEmax_ctc": raw}))["cuspEmax_ctc_cal"].nda
    assert np.allclose(out, cal.apply(raw))
    assert np.all(np.abs(out - [583.187, 2614.511]) < 0.3)
