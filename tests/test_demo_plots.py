"""The demo's pictures, checked on the figures: labels that do not overlap, a summed
spectrum above per-channel panels, detectors named, units, uncertainties, markers on top."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tierflow.hit.calibration import TH228_LINES, EnergyCalibration, calibrate, plot_spectrum
from tierflow.hit.calibration.line_labels import overlapping_pairs, place_line_labels
from tierflow.hit.calibration.plots import (
    MARKER_ZORDER,
    format_with_error,
    gain_with_error,
    plot_calibration,
)
from tierflow.pipeline.plots import LABELLED_LINES, plot_spectra, plot_waveforms
from tierflow.sim.spectrum import sample_energies

CHANNELS = ("ch1084803", "ch1084804", "ch1121600")


@functools.cache
def kev(n: int, seed: int) -> np.ndarray:
    """Smeared energies (keV) of a simulated Th-228 calibration run."""
    out = sample_energies(n, np.random.default_rng(seed)).smeared
    out.setflags(write=False)
    return out


@functools.cache
def calibration(gain: float, seed: int) -> EnergyCalibration:
    return calibrate(gain * kev(20_000, seed))


def rendered(fig: Figure) -> Figure:
    """``fig`` drawn with Agg, so every extent is that of the saved picture."""
    FigureCanvasAgg(fig).draw()
    return fig


@functools.cache
def spectra_figure() -> Figure:
    """The demo's spectrum figure for three channels (drawn once; the tests only read it)."""
    energies = {name: kev(20_000, seed) for seed, name in enumerate(CHANNELS)}
    fwhm = {name: (2.8, 0.07) for name in CHANNELS}
    return rendered(plot_spectra(energies, fwhm))


def line_labels(fig: Figure) -> list:
    """The texts of the summed spectrum that label lines (written along them)."""
    return [t for t in fig.axes[0].texts if t.get_rotation() == 90]


def boxes_overlap(a, b) -> bool:
    return min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0)


# the summed spectrum ------------------------------------------------------------------------
def test_every_th228_line_has_a_label_including_511_785_and_1078_kev():
    texts = [t.get_text() for t in line_labels(spectra_figure())]
    assert len(texts) == len(LABELLED_LINES)
    for energy, label in LABELLED_LINES:
        assert label in texts, f"the {energy} keV line has no label"
    joined = " ".join(texts)
    for energy in ("511", "785.4", "1078.6", "1592.5", "1620.5", "2103.5", "2614.5"):
        assert energy in joined


def test_no_two_line_labels_overlap_when_rendered():
    labels = line_labels(spectra_figure())
    boxes = [t.get_window_extent() for t in labels]
    clashes = [
        (labels[i].get_text(), labels[j].get_text())
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if boxes_overlap(boxes[i], boxes[j])
    ]
    assert clashes == []
    assert overlapping_pairs(labels) == []


def test_line_labels_lie_inside_the_axes_and_above_the_data():
    fig = spectra_figure()
    ax = fig.axes[0]
    frame = ax.get_window_extent()
    labels = line_labels(fig)
    for text in labels:
        box = text.get_window_extent()
        assert (
            frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 <= box.y1 <= frame.y1
        )
    (histogram,) = ax.patches  # the summed spectrum's stairs
    counts = histogram.get_data().values
    highest = ax.transData.transform((0.0, counts.max()))[1]
    assert highest < min(t.get_window_extent().y0 for t in labels)
    assert ax.get_legend() is None  # nothing left to cover the SEP and 2614.5 keV labels


def test_dep_and_bi212_labels_sit_on_either_side_of_their_lines():
    labels = {t.get_text(): t for t in line_labels(spectra_figure())}
    dep = next(t for k, t in labels.items() if k.startswith("DEP"))
    bi = next(t for k, t in labels.items() if k.endswith("1620.5"))
    assert not boxes_overlap(dep.get_window_extent(), bi.get_window_extent())


@pytest.mark.parametrize("width", [5.0, 7.0, 11.0, 16.0])
def test_placement_keeps_all_th228_labels_apart_at_any_width(width):
    fig = Figure(figsize=(width, 4.0))
    ax = fig.add_subplot()
    ax.set_xlim(0, 2800)
    lines = [(line.energy, line.label) for line in TH228_LINES]  # Ra-224 2.4 keV from Pb-212
    texts = place_line_labels(ax, lines, fontsize=8)
    rendered(fig)
    assert len(texts) == len(TH228_LINES)
    assert overlapping_pairs(texts) == []


def test_placement_keeps_labels_off_a_box_to_avoid():
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    ax.set_xlim(0, 2800)
    legend = ax.text(
        2500, 0.9, "a legend\nover the SEP\nand 2614.5", transform=ax.get_xaxis_transform()
    )
    texts = place_line_labels(ax, LABELLED_LINES, avoid=[legend.get_window_extent()])
    assert not any(boxes_overlap(t.get_window_extent(), legend.get_window_extent()) for t in texts)


def test_placement_is_deterministic():
    def places():
        fig = Figure(figsize=(8, 4))
        ax = fig.add_subplot()
        ax.set_xlim(0, 2800)
        texts = place_line_labels(ax, LABELLED_LINES)
        return [
            (t.get_text(), t.get_horizontalalignment(), round(t.get_position()[1], 9))
            for t in texts
        ]

    assert places() == places()


# the per-channel panels ---------------------------------------------------------------------
def test_summed_spectrum_is_on_top_with_a_panel_per_channel_below():
    fig = spectra_figure()
    summed, *panels = fig.axes
    assert "sum of 3 channels" in summed.get_title()
    assert [ax.get_title(loc="left") for ax in panels] == list(CHANNELS)
    for ax in panels:
        assert ax.get_position().y1 < summed.get_position().y0
        assert len(ax.child_axes) == 1  # the 2614.5 keV inset
        assert "±" in ax.get_title(loc="right") and "keV" in ax.get_title(loc="right")


def test_one_channel_gives_one_panel_named_after_it():
    fig = rendered(plot_spectra({"ch1084803": kev(5000, 1)}, {"ch1084803": (2.85, 0.07)}))
    assert len(fig.axes) == 1
    assert "ch1084803" in fig.axes[0].get_title() and "2.85 ± 0.07 keV" in fig.axes[0].get_title()


def test_spectrum_axes_carry_units():
    fig = spectra_figure()
    for ax in fig.axes:
        assert ax.get_xlabel() == "energy (keV)"
        assert re.fullmatch(r"counts / \d+ keV", ax.get_ylabel())


def test_waveform_figure_names_its_channel():
    fig = plot_waveforms(np.zeros((1, 100)), np.zeros((1, 100)), [583.2], 16.0, channel="ch1084803")
    assert fig.axes[0].get_title().startswith("ch1084803")
    assert "(ADC)" in fig.axes[0].get_ylabel() and "(µs)" in fig.axes[1].get_xlabel()


# the calibration figure ---------------------------------------------------------------------
@functools.cache
def calibration_figure() -> Figure:
    """The calibration figure of two detectors (drawn once; the tests only read it)."""
    cals = {"ch1084803": calibration(6.5, 1), "ch1084804": calibration(5.9, 2)}
    return rendered(plot_calibration(cals))


def test_calibration_figure_has_four_axes_per_detector_each_titled_with_its_name():
    fig = calibration_figure()
    assert len(fig.axes) == 8
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == 4
    for name in ("ch1084803", "ch1084804"):
        titles = [ax.get_title() for ax in titled if ax.get_title().startswith(f"{name}:")]
        assert len(titles) == 2 and "calibration" in titles[0] and "resolution" in titles[1]


def test_single_calibration_names_its_detector():
    fig = plot_calibration(calibration(6.5, 1), detector="V02160A")
    assert [ax.get_title().split(":")[0] for ax in fig.axes if ax.get_title()] == ["V02160A"] * 2
    assert fig.get_size_inches()[0] > fig.get_size_inches()[1]  # side by side, for a slide


def test_calibration_axes_carry_units():
    fig = calibration_figure()
    xlabels = [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()]
    assert xlabels.count("Peak position (ADC)") == 2 and xlabels.count("Energy (keV)") == 2
    assert all(re.search(r"\((keV|ADC)\)$", ax.get_ylabel()) for ax in fig.axes)


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_fitted_parameters_are_shown_with_uncertainties_and_units():
    fig = calibration_figure()
    texts = legend_texts(fig)
    scales = [t for t in texts if t.startswith("E = ")]
    curves = [t for t in texts if t.startswith("FWHM = ")]
    assert len(scales) == 2 and len(curves) == 2
    number = r"\(?-?[\d.]+ ± [\d.]+\)?(×10[⁻⁰-⁹¹²³]+)?"
    for text in scales:
        assert re.search(rf"a = {number} keV\n", text), text
        assert re.search(rf"b = {number} keV/ADC\n", text), text
        assert re.search(rf"gain {number} ADC/keV at 2614.5 keV", text), text
    for text in curves:
        assert re.search(rf"a = {number} keV²\n", text), text
        assert re.search(rf"b = {number} keV$", text), text


def test_fwhm_markers_at_qbb_and_2614_are_drawn_above_the_data():
    fig = calibration_figure()
    for ax in fig.axes:
        markers = [a for a in ax.get_children() if (a.get_gid() or "").startswith("fwhm-marker")]
        if not markers:
            continue
        assert sorted(m.get_gid() for m in markers) == ["fwhm-marker-2039.1", "fwhm-marker-2614.5"]
        data = [c for c in ax.containers]  # the error bars of the fitted widths
        assert data
        data_zorder = max(
            artist.get_zorder() for c in data for artist in c.get_children() if artist
        )
        assert all(m.get_zorder() > data_zorder for m in markers)
        assert all(m.get_zorder() == MARKER_ZORDER for m in markers)


def test_gain_uncertainty_is_propagated_from_the_covariance():
    cal = calibration(6.5, 1)
    gain, error = gain_with_error(cal)
    b, var_b = cal.coefficients[1], cal.covariance[1, 1]
    assert gain == pytest.approx(cal.gain)
    assert error == pytest.approx(np.sqrt(var_b) / b**2)  # linear: 1/b


def test_quadratic_gain_uncertainty_matches_a_numerical_derivative():
    raw = 2e-5 * kev(20_000, 3) ** 2 + 6.0 * kev(20_000, 3) + 3.0
    cal = calibrate(raw, deg=2)
    gain, error = gain_with_error(cal)
    steps = 1e-6 * np.maximum(np.abs(cal.coefficients), 1e-12)
    grad = []
    for k, h in enumerate(steps):
        shifted = []
        for sign in (1, -1):
            c = list(cal.coefficients)
            c[k] += sign * h
            shifted.append(EnergyCalibration(tuple(c), cal.covariance, (), cal.resolution).gain)
        grad.append((shifted[0] - shifted[1]) / (2 * h))
    grad = np.array(grad)
    assert gain == pytest.approx(cal.gain)
    assert error == pytest.approx(float(np.sqrt(grad @ cal.covariance @ grad)), rel=1e-4)


@pytest.mark.parametrize(
    ("value", "error", "unit", "text"),
    [
        (-0.13761, 0.02744, "keV", "-0.138 ± 0.027 keV"),
        (0.1679291784, 3.94e-6, "keV/ADC", "0.1679292 ± 0.0000039 keV/ADC"),
        (0.00274, 5.12e-05, "keV", "(2.740 ± 0.051)×10⁻³ keV"),
        (12345.6, 78.9, "", "(1.2346 ± 0.0079)×10⁴"),
        (5.9549, 0.0, "ADC/keV", "5.9549 ± 0 ADC/keV"),
        (1.0, float("nan"), "keV", "1 ± ? keV"),
    ],
)
def test_format_with_error(value, error, unit, text):
    assert format_with_error(value, error, unit) == text


def test_calibration_spectrum_labels_do_not_overlap():
    cal = calibration(6.5, 1)
    fig = rendered(plot_spectrum(cal, 6.5 * kev(20_000, 1)))
    labels = [t for t in fig.axes[0].texts if t.get_rotation() == 90]
    assert len(labels) == len(cal.peaks)
    assert overlapping_pairs(labels) == []


# the demo -----------------------------------------------------------------------------------
def test_demo_draws_every_detector_into_its_calibration_figure(tmp_path, monkeypatch):
    import tierflow.hit.calibration as calibration_package
    from tierflow.pipeline.demo import run_demo

    drawn = []

    def recording(cals, **options):
        fig = plot_calibration(cals, **options)
        drawn.append(fig)
        return fig

    monkeypatch.setattr(calibration_package, "plot_calibration", recording)
    result = run_demo(tmp_path, n_events=3000, n_channels=2, progress=False)
    assert result.report.ok, str(result.report)
    assert set(result.pictures) == {"spectrum.png", "waveforms.png", "calibration.png"}
    (fig,) = drawn
    names = {ax.get_title().split(":")[0] for ax in fig.axes if ax.get_title()}
    assert names == {"ch1084803", "ch1084804"}
