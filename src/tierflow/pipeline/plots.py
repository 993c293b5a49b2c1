"""The demo's pictures: calibrated spectra, waveforms with their trapezoids, calibration."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..hit.calibration.line_labels import headroom_limit, place_line_labels
from ..hit.calibration.lines import TH228_LINES, TL208_KEV, Line

#: isotopes written with mathtext superscripts in line labels
_ISOTOPES = {
    "Pb-212": "$^{212}$Pb",
    "Bi-212": "$^{212}$Bi",
    "Tl-208": "$^{208}$Tl",
    "Ra-224": "$^{224}$Ra",
}


def _line_label(line: Line) -> str:
    """``"$^{208}$Tl 2614.5"``, ``"DEP 1592.5"``; the 510.8 keV Tl-208 line is under the
    annihilation line, labelled ``e+e- 511``."""
    energy = f"{line.energy:.1f}"
    if line.name.endswith(("DEP", "SEP")):
        return f"{line.name.split()[-1]} {energy}"
    if abs(line.energy - 511.0) < 1.0:
        return "e$^+$e$^-$ 511"
    return f"{_ISOTOPES.get(line.name, line.name)} {energy}"


#: lines labelled on the spectra, (keV, label): every Th-228 line of the calibration's list
#: except Ra-224 at 241.0 keV, which sits 2.4 keV above Pb-212's 238.6 keV line
LABELLED_LINES: tuple[tuple[float, str], ...] = tuple(
    (line.energy, _line_label(line)) for line in TH228_LINES if line.name != "Ra-224"
)
#: the fixed layout of :func:`plot_spectra` (inches; labels are placed once it is final): the
#: figure's width, its left and right margins, the room above the summed spectrum, its height,
#: the room below it, and the height of each row of per-channel panels
_WIDTH, _LEFT, _RIGHT = 11.0, 0.75, 0.25
_TOP, _SUMMED, _BELOW, _ROW = 0.4, 3.8, 0.55, 2.55


def _fwhm_text(value: float | tuple[float, float]) -> str:
    if isinstance(value, tuple | list):
        return f"FWHM {value[0]:.2f} ± {value[1]:.2f} keV at 2614.5 keV"
    return f"FWHM {value:.2f} keV at 2614.5 keV"


def plot_spectra(
    energies: Mapping[str, np.ndarray],
    fwhm: Mapping[str, float | tuple[float, float]] | None = None,
    path: str | os.PathLike | None = None,
    bin_width: float = 2.0,
    e_max: float = 2800.0,
    zoom: tuple[float, float] = (2600.0, 2630.0),
) -> Figure:
    """Calibrated energy spectra (keV): the sum of all channels on top, its lines labelled
    where no label overlaps another, and one small panel per channel below, named after
    it, with its FWHM at 2614.5 keV (``fwhm``: value or ``(value, error)`` per channel)
    in bins four times as wide, and an inset of its 2614.5 keV peak (``zoom``, keV).
    One channel gives one panel.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fig = plot_spectra({"ch1": rng.uniform(0, 3000, 1000), "ch2": rng.uniform(0, 3000, 1000)})
    >>> [ax.get_title(loc="left") for ax in fig.axes[1:]]
    ['ch1', 'ch2']
    """
    fwhm = fwhm or {}
    names = list(energies)
    edges = np.arange(0.0, e_max + bin_width, bin_width)
    counts = {name: np.histogram(energies[name], edges)[0] for name in names}
    total = np.sum([counts[name] for name in names], axis=0) if names else np.zeros(len(edges) - 1)
    ncols = min(len(names), 3) if len(names) > 1 else 0
    nrows = math.ceil(len(names) / ncols) if ncols else 0
    height = _TOP + _SUMMED + _BELOW + nrows * _ROW
    fig = Figure(figsize=(_WIDTH, height), dpi=130)

    def axes_at(left: float, top: float, width: float, tall: float) -> Axes:
        """Axes placed in inches from the figure's left and top edges."""
        return fig.add_axes(
            (left / _WIDTH, 1 - (top + tall) / height, width / _WIDTH, tall / height)
        )

    summed = axes_at(_LEFT, _TOP, _WIDTH - _LEFT - _RIGHT, _SUMMED)
    summed.stairs(total, edges, color="0.1", linewidth=0.8)
    summed.set_yscale("log")
    summed.set_xlim(0, e_max)
    summed.set_xlabel("energy (keV)")
    summed.set_ylabel(f"counts / {bin_width:g} keV")
    if len(names) == 1:
        what = f"{names[0]}" + (f", {_fwhm_text(fwhm[names[0]])}" if names[0] in fwhm else "")
    else:
        what = f"sum of {len(names)} channels"
    summed.set_title(
        f"Th-228 calibration spectrum (simulated, calibrated trapezoid energy): {what}"
    )
    summed.grid(alpha=0.25, which="major")
    for energy, _ in LABELLED_LINES:
        summed.axvline(energy, color="0.6", linewidth=0.6, linestyle=":", zorder=0)
    labels = place_line_labels(summed, LABELLED_LINES, fontsize=7.5)
    low = 0.5
    summed.set_ylim(low, headroom_limit(summed, labels, max(float(total.max(initial=1)), 1.0), low))

    gap = 0.6
    panel_edges = np.arange(0.0, e_max + 4 * bin_width, 4 * bin_width)
    panel_width = (_WIDTH - _LEFT - _RIGHT - gap * (ncols - 1)) / max(ncols, 1)
    for i, name in enumerate(names if ncols else []):
        row, col = divmod(i, ncols)
        ax = axes_at(
            _LEFT + col * (panel_width + gap),
            _TOP + _SUMMED + _BELOW + row * _ROW + 0.35,
            panel_width,
            _ROW - 0.9,
        )
        colour = f"C{i % 10}"
        panel_counts = np.histogram(energies[name], panel_edges)[0]
        ax.stairs(panel_counts, panel_edges, color=colour, linewidth=0.7)
        ax.set_yscale("log")
        ax.set_xlim(0, e_max)
        ax.set_ylim(low, max(float(panel_counts.max(initial=1)), 1.0) * 100)
        ax.set_title(name, fontsize=9.5, loc="left")
        if name in fwhm:
            ax.set_title(_fwhm_text(fwhm[name]), fontsize=8, loc="right", color="0.25")
        ax.set_xlabel("energy (keV)", fontsize=8.5)
        ax.set_ylabel(f"counts / {panel_edges[1]:g} keV", fontsize=8.5)
        ax.tick_params(labelsize=7.5)
        ax.grid(alpha=0.25, which="major")
        # the inset sits over the flat continuum between the 860.6 keV line and the DEP
        inset = ax.inset_axes((0.36, 0.47, 0.3, 0.48))
        fine = np.arange(zoom[0], zoom[1] + 0.5, 0.5)
        inset.stairs(np.histogram(energies[name], fine)[0], fine, color=colour, linewidth=0.8)
        inset.set_xlim(*zoom)
        inset.set_ylim(0, inset.get_ylim()[1] * 1.7)  # room for the text beside the peak
        inset.text(
            0.04,
            0.95,
            f"{TL208_KEV:.1f} keV,\n0.5 keV bins",
            transform=inset.transAxes,
            va="top",
            fontsize=6,
        )
        inset.tick_params(labelsize=6, pad=1)
    if path is not None:
        fig.savefig(path)
    return fig


def plot_waveforms(
    raw: np.ndarray,
    filtered: np.ndarray,
    energies: Sequence[float],
    dt: float,
    path: str | os.PathLike | None = None,
    channel: str | None = None,
) -> Figure:
    """Raw waveforms (ADC, baseline subtracted) above their trapezoid-filtered versions;
    ``channel`` names the detector channel they come from in the title.

    >>> import numpy as np
    >>> fig = plot_waveforms(np.zeros((2, 100)), np.zeros((2, 100)), [583.2, 2614.5], 16.0)
    >>> len(fig.axes)
    2
    """
    fig = Figure(figsize=(11, 7), dpi=130, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    t = np.arange(raw.shape[1]) * dt / 1000.0
    for wf, trap, energy in zip(raw, filtered, energies, strict=True):
        line = top.plot(
            t, wf - np.median(wf[: raw.shape[1] // 4]), linewidth=0.7, label=f"{energy:.0f} keV"
        )
        bottom.plot(t, trap, linewidth=1.0, color=line[0].get_color())
    top.set_ylabel("raw waveform − baseline (ADC)")
    source = f"{channel}: " if channel else ""
    top.set_title(f"{source}simulated HPGe pulses, {dt:g} ns sampling, preamplifier decay, noise")
    top.legend(fontsize=9, frameon=False, ncol=len(energies))
    bottom.set_ylabel("trapezoid filter (ADC)")
    bottom.set_xlabel("time (µs)")
    bottom.set_title(
        "after baseline subtraction, pole-zero correction and a 10 µs / 3 µs trapezoid"
    )
    for ax in (top, bottom):
        ax.grid(alpha=0.25)
    if path is not None:
        fig.savefig(path)
    return fig
