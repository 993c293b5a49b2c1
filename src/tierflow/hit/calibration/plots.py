"""Figures of an energy calibration: each fitted peak, the calibration and resolution curves.

The figures are built with matplotlib's object interface (``matplotlib.figure.Figure``),
so nothing is shown on a screen and no pyplot state is kept: save them with
``fig.savefig(path)`` or :func:`save_plots`, or show one in a notebook with ``display(fig)``.

>>> import numpy as np
>>> from tierflow.sim.spectrum import sample_energies
>>> raw = 6.5 * sample_energies(20_000, np.random.default_rng(2)).smeared
>>> from tierflow.hit.calibration import calibrate
>>> cal = calibrate(raw)
>>> paths = save_plots(cal, "calib-plots", raw)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpecFromSubplotSpec

from .energy import EnergyCalibration
from .fitting import PeakFit
from .line_labels import headroom_limit, place_line_labels
from .lines import QBB_KEV, TH228_LINES, TL208_KEV, Line

#: rc settings of every figure: small, clean, readable when shrunk onto a slide
STYLE = {
    "font.size": 9,
    "axes.labelsize": 9,
    "axes.titlesize": 10,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "xtick.minor.visible": True,
    "ytick.minor.visible": True,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.4,
    "errorbar.capsize": 0,
    "figure.dpi": 100,
    "savefig.dpi": 150,
}
DATA_COLOR = "black"
FIT_COLOR = "#d62728"
GAUSS_COLOR = "#1f77b4"
TAIL_COLOR = "#2ca02c"
BACKGROUND_COLOR = "#7f7f7f"
NEIGHBOUR_COLOR = "#9467bd"
BAND_COLOR = "#ff7f0e"
#: zorder of the FWHM markers at Q_bb and 2614.5 keV: above the data points and error bars
MARKER_ZORDER = 10


def deviance_residuals(counts: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Signed Poisson deviance residuals: ``sign(n - mu) sqrt(2 (mu - n + n ln(n/mu)))``.

    Their squares add up to the fit's deviance; unlike ``(n - mu)/sqrt(mu)`` they stay
    sensible for bins with few or no counts.

    >>> deviance_residuals(np.array([0, 4, 9]), np.array([1.0, 4.0, 4.0])).round(2).tolist()
    [-1.41, 0.0, 2.14]
    """
    n = np.asarray(counts, np.float64)
    mu = np.maximum(np.asarray(expected, np.float64), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n > 0, n * np.log(n / mu), 0.0)
    return np.sign(n - mu) * np.sqrt(np.maximum(2.0 * (mu - n + term), 0.0))


def _pretty(expression: str) -> str:
    """``a + b*x + c*x**2`` as ``a + b·x + c·x²``."""
    return expression.replace("**2", "²").replace("*", "·")


def _style():
    return mpl.rc_context(STYLE)


def _bin_label(width_kev: float) -> str:
    digits = max(0, 2 - math.floor(math.log10(abs(width_kev)))) if width_kev > 0 else 2
    return f"Counts / {width_kev:.{min(digits, 3)}f} keV"


def _draw_peak(fig: Figure, spec, cal: EnergyCalibration, peak: PeakFit, log: bool):
    inner = GridSpecFromSubplotSpec(2, 1, subplot_spec=spec, height_ratios=(3, 1), hspace=0.0)
    ax = fig.add_subplot(inner[0])
    res = fig.add_subplot(inner[1], sharex=ax)
    edges = np.asarray(peak.edges, np.float64)
    counts = np.asarray(peak.counts, np.float64)
    kev_edges = cal.apply(edges)
    centres = 0.5 * (kev_edges[1:] + kev_edges[:-1])
    width_raw = float(edges[1] - edges[0])
    width_kev = float(np.mean(np.diff(kev_edges)))
    ax.errorbar(
        centres,
        counts,
        yerr=np.sqrt(counts),
        fmt="o",
        ms=2.2,
        lw=0.7,
        color=DATA_COLOR,
        label="data",
        zorder=3,
    )
    ax.set_title(peak.line.label)
    ax.set_ylabel(_bin_label(width_kev))
    res.set_xlabel("Energy (keV)")
    res.set_ylabel("Resid. (σ)")
    res.axhline(0.0, color=BACKGROUND_COLOR, lw=0.8)
    res.axhspan(-2, 2, color="0.93", zorder=0)
    res.axhspan(-1, 1, color="0.85", zorder=0)
    top = max(float(np.max(counts + np.sqrt(counts))) if len(counts) else 1.0, 1.0)

    if peak.values:
        model = peak.model
        params = peak.parameters
        fine = np.linspace(edges[0], edges[-1], 600)
        kev_fine = cal.apply(fine)
        parts = {k: v * width_raw for k, v in model.components(fine, params).items()}
        fwhm, fwhm_err = cal.peak_fwhm(peak)
        label = f"fit, FWHM {fwhm:.2f} ± {fwhm_err:.2f} keV"
        if not peak.ok:
            label = "fit (not used)"
        ax.plot(kev_fine, parts["total"], color=FIT_COLOR, label=label, zorder=4)
        ax.plot(kev_fine, parts["gauss"], "--", color=GAUSS_COLOR, lw=1.0, label="Gaussian")
        if np.any(parts["tail"] > 0):
            ax.plot(kev_fine, parts["tail"], ":", color=TAIL_COLOR, lw=1.2, label="low-side tail")
        ax.plot(
            kev_fine,
            parts["step"] + parts["background"],
            "-.",
            color=BACKGROUND_COLOR,
            lw=1.0,
            label="step + background",
        )
        if peak.neighbours:
            names = ", ".join(line.label for line in peak.neighbours)
            ax.plot(
                kev_fine,
                parts["neighbours"],
                "--",
                color=NEIGHBOUR_COLOR,
                lw=0.9,
                label=names,
            )
        pulls = deviance_residuals(counts, model.expected(edges, params))
        res.plot(centres, pulls, "o", ms=2.2, color=DATA_COLOR)
        limit = max(3.5, min(float(np.max(np.abs(pulls))) + 0.8, 8.0))
        res.set_ylim(-limit, limit)
        text = f"χ²/ndf = {peak.deviance:.1f}/{peak.ndf}"
        if not peak.ok:
            text = textwrap.fill(f"not used: {peak.status}", 34)
        ax.text(
            0.03,
            0.95,
            text,
            transform=ax.transAxes,
            va="top",
            ha="left",
            fontsize=7,
            color="black" if peak.ok else FIT_COLOR,
        )
    else:
        ax.text(
            0.5,
            0.5,
            "not fitted:\n" + textwrap.fill(peak.status, 38),
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=7.5,
            color=FIT_COLOR,
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none"},
        )
        res.set_ylim(-4, 4)
    if log:
        ax.set_yscale("log")
        ax.set_ylim(0.5, top * 8)
    else:
        ax.set_ylim(0.0, top * 1.45)
    ax.set_xlim(kev_edges[0], kev_edges[-1])
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i] != "data")  # data first
    ax.legend(
        [handles[i] for i in order], [labels[i] for i in order], loc="upper right", handlelength=1.8
    )
    ax.tick_params(labelbottom=False)
    return ax, res


def plot_peaks(cal: EnergyCalibration, *, ncols: int | None = None, log: bool = False) -> Figure:
    """One panel per line: data with Poisson error bars, the fit and its components, and the
    normalised residuals below; lines that failed show the data and the reason.

    The figure has two axes per line (peak, residuals).

    >>> fig = plot_peaks(cal)  # doctest: +SKIP
    >>> fig.savefig("peaks.png")  # doctest: +SKIP
    """
    peaks = [p for p in cal.peaks if len(p.edges) > 1]
    n = max(len(peaks), 1)
    ncols = ncols or min(n, 4)
    nrows = math.ceil(n / ncols)
    # a fixed layout (inches): a layout engine would cost seconds with this many axes
    width, height = 4.1 * ncols, 3.4 * nrows + 0.5
    column_gap, row_gap = 0.75, 0.78
    with _style(), mpl.rc_context({"xtick.minor.visible": False, "ytick.minor.visible": False}):
        fig = Figure(figsize=(width, height))
        grid = fig.add_gridspec(
            nrows,
            ncols,
            left=0.62 / width,
            right=1 - 0.12 / width,
            bottom=0.45 / height,
            top=1 - 0.62 / height,
            wspace=column_gap / (4.1 - column_gap),
            hspace=row_gap / (3.4 - row_gap),
        )
        for i, peak in enumerate(peaks):
            _draw_peak(fig, grid[i // ncols, i % ncols], cal, peak, log)
        fig.suptitle(
            f"Th-228 calibration peaks: {len(cal.used_peaks)} of {len(cal.peaks)} lines fitted, "
            f"{cal.n_events} events (binned likelihood: Gaussian + low-side tail + step + linear background)",
            y=1 - 0.12 / height,
            va="top",
            fontsize=10.5,
        )
    return fig


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_with_error(value: float, error: float, unit: str = "") -> str:
    """``value ± error unit`` with two significant digits of the error, in powers of ten
    for very small or large values.

    >>> format_with_error(-0.13761, 0.02744, "keV")
    '-0.138 ± 0.027 keV'
    >>> format_with_error(0.00274, 5.12e-05, "keV")
    '(2.740 ± 0.051)×10⁻³ keV'
    >>> format_with_error(5.954891, 0.0, "ADC/keV")
    '5.9549 ± 0 ADC/keV'
    """
    unit = f" {unit}" if unit else ""
    if not (math.isfinite(error) and error > 0):
        shown = "0" if error == 0 else "?"
        return f"{value:.5g} ± {shown}{unit}"
    exponent = math.floor(math.log10(abs(value))) if value != 0 else 0
    power = exponent if (exponent < -2 or exponent > 3) else 0
    value, error = value / 10**power, error / 10**power
    digits = max(0, 1 - math.floor(math.log10(error)))
    text = f"{value:.{digits}f} ± {error:.{digits}f}"
    if power:
        return f"({text})×10{str(power).translate(_SUPERSCRIPTS)}{unit}"
    return f"{text}{unit}"


def gain_with_error(cal: EnergyCalibration) -> tuple[float, float]:
    """The gain (raw units per keV at 2614.5 keV) and its uncertainty from the covariance of
    the calibration's coefficients.

    The gain is ``1 / P'(x)`` at the ``x`` where ``P(x) = 2614.5 keV``; moving coefficient
    ``c_k`` moves ``x`` by ``-x^k / P'(x)`` and ``P'(x)`` by ``k x^(k-1) + P''(x) dx``.

    >>> from .energy import ResolutionCurve
    >>> flat = ResolutionCurve((1.0, 0.0), np.zeros((2, 2)))
    >>> cal = EnergyCalibration((0.0, 0.2), np.diag([0.0, 1e-8]), (), flat)
    >>> [round(v, 6) for v in gain_with_error(cal)]  # 1/b and error(b)/b²
    [5.0, 0.0025]
    """
    c = np.polynomial.polynomial
    x = float(cal.to_raw(TL208_KEV))
    slope = float(cal.derivative(x))
    curvature = float(c.polyval(x, c.polyder(cal.coefficients, 2))) if cal.deg > 1 else 0.0
    moves_x = -np.array([x**k for k in range(cal.deg + 1)]) / slope
    moves_slope = np.array([k * x ** (k - 1) if k else 0.0 for k in range(cal.deg + 1)])
    grad = -(moves_slope + curvature * moves_x) / slope**2
    variance = float(grad @ np.asarray(cal.covariance, np.float64) @ grad)
    return 1.0 / slope, math.sqrt(max(variance, 0.0))


def _coefficient_units(raw_unit: str, deg: int) -> list[str]:
    """keV, keV/ADC, keV/ADC² for a polynomial in ``raw_unit``."""
    return ["keV", f"keV/{raw_unit}", f"keV/{raw_unit}²"][: deg + 1]


def _parameter_lines(values, covariance, units) -> str:
    errors = np.sqrt(np.maximum(np.diag(np.asarray(covariance, np.float64)), 0.0))
    return "\n".join(
        f"{name} = {format_with_error(float(v), float(e), unit)}"
        for name, v, e, unit in zip("abc", values, errors, units, strict=False)
    )


def _panel_with_residuals(fig: Figure, spec):
    """A main panel and a residual panel below it, sharing x."""
    grid = GridSpecFromSubplotSpec(2, 1, subplot_spec=spec, height_ratios=(3, 1.1), hspace=0.0)
    main = fig.add_subplot(grid[0])
    return main, fig.add_subplot(grid[1], sharex=main)


def _draw_calibration(
    fig: Figure, scale_spec, resolution_spec, cal: EnergyCalibration, detector: str, raw_unit: str
):
    """The calibration panels of one detector into ``scale_spec`` and its resolution panels
    into ``resolution_spec``; four axes."""
    used = list(cal.used_peaks)
    who = f"{detector}: " if detector else ""
    ax, res = _panel_with_residuals(fig, scale_spec)
    ax_w, res_w = _panel_with_residuals(fig, resolution_spec)

    # energy scale ------------------------------------------------------------------
    positions = np.array([p.position for p in used])
    position_err = np.array([p.position_err for p in used])
    energies = np.array([p.line.energy for p in used])
    slope = np.abs(cal.derivative(positions))
    x_max = float(cal.to_raw(2800.0)) if len(used) else 1.0
    xs = np.linspace(0.0, x_max, 300)
    params = _parameter_lines(
        cal.coefficients, cal.covariance, _coefficient_units(raw_unit, cal.deg)
    )
    gain, gain_err = gain_with_error(cal)
    ax.plot(
        xs,
        cal.apply(xs),
        color=FIT_COLOR,
        lw=1.2,
        label=(
            f"E = {_pretty(cal.expression)}, x = peak position ({raw_unit})\n{params}\n"
            f"gain {format_with_error(gain, gain_err, f'{raw_unit}/keV')} at {TL208_KEV:.1f} keV"
        ),
    )
    ax.errorbar(
        positions,
        energies,
        xerr=position_err,
        fmt="o",
        ms=4,
        color=DATA_COLOR,
        label="fitted peaks",
    )
    previous = -math.inf
    for p in sorted(used, key=lambda p: p.line.energy):
        # above and left of the point when close to the one before or to the right edge
        crowded = p.line.energy - previous < 150.0 or p.position > 0.85 * x_max
        previous = p.line.energy
        ax.annotate(
            f"{p.line.energy:.1f}",
            (p.position, p.line.energy),
            xytext=(-6, 4) if crowded else (6, -10),
            textcoords="offset points",
            ha="right" if crowded else "left",
            fontsize=6.5,
            color="0.3",
        )
    ax.set_ylabel("Energy (keV)")
    ax.set_xlim(0.0, x_max)
    ax.set_ylim(0.0, 2900.0)
    ax.set_title(f"{who}energy calibration (degree {cal.deg}, χ²/ndf = {cal.chi2:.1f}/{cal.ndf})")
    ax.legend(loc="upper left")
    ax.tick_params(labelbottom=False)
    residual = cal.apply(positions) - energies
    band = cal.energy_error(xs)
    res.fill_between(xs, -band, band, color=BAND_COLOR, alpha=0.3, lw=0, label="calibration ±1σ")
    res.axhline(0.0, color=BACKGROUND_COLOR, lw=0.8)
    res.errorbar(positions, residual, yerr=slope * position_err, fmt="o", ms=3.5, color=DATA_COLOR)
    limit = (
        max(0.3, 1.3 * float(np.max(np.abs(residual) + slope * position_err))) if len(used) else 1.0
    )
    res.set_ylim(-limit, limit)
    res.set_xlabel(f"Peak position ({raw_unit})")
    res.set_ylabel("Resid. (keV)")
    res.legend(loc="lower right", fontsize=6.5)

    # resolution --------------------------------------------------------------------
    energy_grid = np.linspace(100.0, 2800.0, 400)
    curve, curve_err = cal.fwhm_at(energy_grid)
    ax_w.fill_between(
        energy_grid, curve - curve_err, curve + curve_err, color=BAND_COLOR, alpha=0.3, lw=0
    )
    res_params = _parameter_lines(
        cal.resolution.parameters, cal.resolution.covariance, ["keV²", "keV", ""]
    )
    ax_w.plot(
        energy_grid,
        curve,
        color=FIT_COLOR,
        lw=1.2,
        label=f"FWHM = {_pretty(cal.resolution.expression)}, E in keV, ±1σ band\n{res_params}",
    )
    highest_point = 0.0  # the highest width measured, to keep every point in view
    in_fit = [p for p in used if p.line.resolution]
    left_out = [p for p in used if not p.line.resolution]
    for group, marker, face, label in (
        (in_fit, "o", DATA_COLOR, "fitted peaks"),
        (left_out, "s", "white", "not in fit (Doppler broadened)"),
    ):
        if not group:
            continue
        e = np.array([p.line.energy for p in group])
        w = np.array([cal.peak_fwhm(p) for p in group])
        highest_point = max(highest_point, float(np.nanmax(w[:, 0])))
        ax_w.errorbar(
            e,
            w[:, 0],
            yerr=w[:, 1],
            fmt=marker,
            ms=4,
            color=DATA_COLOR,
            mfc=face,
            label=label,
            zorder=4,
        )
        res_w.errorbar(
            e,
            w[:, 0] - cal.resolution(e),
            yerr=w[:, 1],
            fmt=marker,
            ms=3.5,
            color=DATA_COLOR,
            mfc=face,
        )
    marks = (
        (QBB_KEV, f"at $Q_{{\\beta\\beta}}$ = {QBB_KEV:.1f} keV", "#1f77b4"),
        (TL208_KEV, f"at {TL208_KEV:.1f} keV", "#2ca02c"),
    )
    for k, (energy, name, colour) in enumerate(marks):
        value, error = cal.fwhm_at(energy)
        ax_w.axvline(energy, color=colour, ls=":", lw=1.0)
        # an open star drawn above the data points (zorder 4): the point shows through it
        ax_w.plot(
            [energy],
            [value],
            marker="*",
            ms=15,
            mfc="none",
            mec=colour,
            mew=1.6,
            zorder=MARKER_ZORDER,
            gid=f"fwhm-marker-{energy:.1f}",
        )
        ax_w.text(
            0.97,
            0.2 - 0.1 * k,
            f"FWHM {name}: {value:.2f} ± {error:.2f} keV",
            transform=ax_w.transAxes,
            ha="right",
            va="bottom",
            fontsize=8.5,
            color=colour,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.0},
            zorder=3,  # over the dotted lines, under the data points
        )
    ax_w.set_ylabel("FWHM (keV)")
    ax_w.set_xlim(0.0, 2900.0)
    top = max(float(np.max(curve + curve_err)), highest_point, 1.0)
    ax_w.set_ylim(0.0, top * 1.45)
    ax_w.set_title(
        f"{who}energy resolution (χ²/ndf = {cal.resolution.chi2:.1f}/{cal.resolution.ndf})"
    )
    ax_w.legend(loc="upper left")
    ax_w.tick_params(labelbottom=False)
    res_w.axhline(0.0, color=BACKGROUND_COLOR, lw=0.8)
    res_w.set_xlabel("Energy (keV)")
    res_w.set_ylabel("Resid. (keV)")


def plot_calibration(
    cal: EnergyCalibration | Mapping[str, EnergyCalibration],
    *,
    detector: str = "",
    raw_unit: str = "ADC",
) -> Figure:
    """The calibration curve (energy vs. peak position, residuals in keV) and the resolution
    curve (FWHM vs. energy with its 1-sigma band; the values at Q_bb and 2614.5 keV marked),
    with the fitted parameters, their uncertainties and units.

    ``cal`` is one calibration, of the detector named ``detector`` (calibration and
    resolution side by side), or a mapping of detector names to calibrations (a column
    per detector, at most three side by side, resolution below calibration); every
    panel's title names its detector.
    ``raw_unit`` is the unit of the uncalibrated energies.

    Each detector has four axes: calibration, its residuals, resolution, its residuals.

    >>> fig = plot_calibration(cal, detector="V02160A")  # doctest: +SKIP
    >>> fig = plot_calibration({"ch1084803": cal, "ch1084804": other})  # doctest: +SKIP
    """
    detectors = dict(cal) if isinstance(cal, Mapping) else {detector: cal}
    with _style():
        if len(detectors) == 1:  # calibration and resolution side by side
            ncols, nrows, panel_width, panel_height, wspace = 2, 1, 4.4, 3.95, 0.85
        else:  # a column per detector (three at most per row), resolution below calibration
            ncols = min(len(detectors), 3)
            nrows = 2 * math.ceil(len(detectors) / ncols)
            panel_width, panel_height, wspace = 3.9, 3.3, 0.8
        left, right, top, bottom, hspace = 0.7, 0.2, 0.35, 0.5, 0.85
        width = left + right + ncols * panel_width + (ncols - 1) * wspace
        height = top + bottom + nrows * panel_height + (nrows - 1) * hspace
        fig = Figure(figsize=(width, height))
        grid = fig.add_gridspec(
            nrows,
            ncols,
            wspace=wspace / panel_width,
            hspace=hspace / panel_height,
            left=left / width,
            right=1 - right / width,
            bottom=bottom / height,
            top=1 - top / height,
        )
        for i, (name, calibration) in enumerate(detectors.items()):
            if len(detectors) == 1:
                specs = grid[0, 0], grid[0, 1]
            else:
                row, col = 2 * (i // ncols), i % ncols
                specs = grid[row, col], grid[row + 1, col]
            _draw_calibration(fig, *specs, calibration, name, raw_unit)
    return fig


def plot_spectrum(
    cal: EnergyCalibration,
    energies: Sequence[float] | np.ndarray,
    *,
    bin_width: float = 1.0,
    lines: Sequence[Line] = TH228_LINES,
) -> Figure:
    """The calibrated spectrum of ``energies`` (uncalibrated) with the lines marked.

    >>> fig = plot_spectrum(cal, raw)  # doctest: +SKIP
    """
    kev = cal.apply(np.asarray(energies, np.float64))
    with _style():
        width, height = 10.5, 3.6
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(
            left=0.75 / width, right=1 - 0.2 / width, bottom=0.5 / height, top=1 - 0.35 / height
        )
        ax = fig.add_subplot()
        edges = np.arange(0.0, 3000.0 + bin_width, bin_width)
        counts, _ = np.histogram(kev, edges)
        ax.stairs(counts, edges, color="#1f3a93", lw=0.8, fill=False)
        ax.set_yscale("log")
        ax.set_xlim(0.0, 3000.0)
        ax.set_xlabel("Energy (keV)")
        ax.set_ylabel(_bin_label(bin_width))
        ax.set_title(f"Calibrated spectrum, {len(kev)} events")
        fitted = {p.line.energy: p.ok for p in cal.peaks}
        colours = {}  # label -> colour: green for the lines fitted, red for those that failed
        labelled = []
        for line in lines:
            if line.energy in fitted:
                label = line.label + ("" if fitted[line.energy] else " (not fitted)")
                colours[label] = "#2ca02c" if fitted[line.energy] else FIT_COLOR
                ax.axvline(line.energy, color=colours[label], lw=0.7, ls="--", alpha=0.7)
                labelled.append((line.energy, label))
        texts = place_line_labels(ax, labelled, fontsize=7)
        for text in texts:
            text.set_color(colours[text.get_text()])
        top = max(float(counts.max()), 1.0)
        ax.set_ylim(0.5, headroom_limit(ax, texts, top, 0.5))
    return fig


def save_plots(
    cal: EnergyCalibration,
    directory: str | os.PathLike,
    energies: Sequence[float] | np.ndarray | None = None,
    *,
    prefix: str = "",
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """Write the figures into ``directory``: ``peaks``, ``calibration`` and, given the
    uncalibrated ``energies``, ``spectrum``, in each of ``formats``. Returns the paths.

    >>> save_plots(cal, "calib-plots")  # doctest: +SKIP
    [PosixPath('calib-plots/peaks.png'), PosixPath('calib-plots/calibration.png')]
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    figures = {"peaks": plot_peaks(cal), "calibration": plot_calibration(cal)}
    if energies is not None:
        figures["spectrum"] = plot_spectrum(cal, energies)
    paths = []
    for name, fig in figures.items():
        for fmt in formats:
            path = directory / f"{prefix}{name}.{fmt}"
            fig.savefig(path, dpi=STYLE["savefig.dpi"])
            paths.append(path)
    return paths
