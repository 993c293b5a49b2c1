"""The demo's pictures: calibrated spectra, waveforms with their trapezoids, calibration."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

#: lines labelled on the spectra: (keV, label)
LABELLED_LINES: tuple[tuple[float, str], ...] = (
    (238.6, "$^{212}$Pb 238.6"),
    (583.2, "$^{208}$Tl 583.2"),
    (727.3, "$^{212}$Bi 727.3"),
    (860.6, "$^{208}$Tl 860.6"),
    (1592.5, "DEP 1592.5"),
    (1620.5, "$^{212}$Bi 1620.5"),
    (2103.5, "SEP 2103.5"),
    (2614.5, "$^{208}$Tl 2614.5"),
)


def plot_spectra(
    energies: Mapping[str, np.ndarray],
    fwhm: Mapping[str, float] | None = None,
    path: str | os.PathLike | None = None,
    bin_width: float = 2.0,
    e_max: float = 2800.0,
) -> plt.Figure:
    """Calibrated energy spectra, one step histogram per channel, log scale, lines labelled.

    >>> import numpy as np
    >>> fig = plot_spectra({"ch1": np.random.default_rng(0).uniform(0, 3000, 1000)})
    >>> len(fig.axes)
    1
    """
    fig, ax = plt.subplots(figsize=(11, 5.5), layout="constrained")
    edges = np.arange(0.0, e_max + bin_width, bin_width)
    top = 1.0
    for name, values in energies.items():
        counts, _ = np.histogram(values, edges)
        label = (
            name
            if not fwhm or name not in fwhm
            else f"{name} (FWHM {fwhm[name]:.2f} keV at 2614.5)"
        )
        ax.stairs(counts, edges, label=label, linewidth=0.8)
        top = max(top, counts.max(initial=1))
    ax.set_yscale("log")
    ax.set_xlim(0, e_max)
    ax.set_ylim(0.5, top * 8)
    for energy, text in LABELLED_LINES:
        ax.axvline(energy, color="0.6", linewidth=0.6, linestyle=":", zorder=0)
        ax.text(energy, top * 3, text, rotation=90, ha="right", va="top", fontsize=8, color="0.25")
    ax.set_xlabel("energy (keV)")
    ax.set_ylabel(f"counts / {bin_width:g} keV")
    ax.set_title("Th-228 calibration spectrum (simulated), calibrated trapezoid energy")
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, 0.8), fontsize=9, framealpha=0.9)
    ax.grid(alpha=0.25, which="major")
    if path is not None:
        fig.savefig(path, dpi=130)
    return fig


def plot_waveforms(
    raw: np.ndarray,
    filtered: np.ndarray,
    energies: Sequence[float],
    dt: float,
    path: str | os.PathLike | None = None,
) -> plt.Figure:
    """Raw waveforms (ADC, baseline subtracted) above their trapezoid-filtered versions.

    >>> import numpy as np
    >>> fig = plot_waveforms(np.zeros((2, 100)), np.zeros((2, 100)), [583.2, 2614.5], 16.0)
    >>> len(fig.axes)
    2
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, layout="constrained")
    t = np.arange(raw.shape[1]) * dt / 1000.0
    for wf, trap, energy in zip(raw, filtered, energies, strict=True):
        line = top.plot(
            t, wf - np.median(wf[: raw.shape[1] // 4]), linewidth=0.7, label=f"{energy:.0f} keV"
        )
        bottom.plot(t, trap, linewidth=1.0, color=line[0].get_color())
    top.set_ylabel("raw waveform − baseline (ADC)")
    top.set_title("simulated HPGe pulses: 16 ns sampling, preamplifier decay, noise")
    top.legend(fontsize=9, frameon=False, ncol=len(energies))
    bottom.set_ylabel("trapezoid filter (ADC)")
    bottom.set_xlabel("time (µs)")
    bottom.set_title(
        "after baseline subtraction, pole-zero correction and a 10 µs / 3 µs trapezoid"
    )
    for ax in (top, bottom):
        ax.grid(alpha=0.25)
    if path is not None:
        fig.savefig(path, dpi=130)
    return fig
