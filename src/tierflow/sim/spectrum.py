"""Energies: a Th-228 calibration spectrum, a pulser line and the detector resolution.

The spectrum is what an HPGe detector sees of a Th-228 source: full-energy peaks
of the chain's gamma lines (:data:`TH228_LINES`), the single and double escape
peaks of the 2614.5 keV line, a Compton continuum under every primary line
(Klein-Nishina single scattering plus a flat multiple-scattering part that fills the
valley between the Compton edge and the peak), and a small high-energy component
(muons, alphas; log-uniform from 3 to 30 MeV) that saturates the ADC. A charge
collection tail (an exponential shift to lower energy for a fraction of events) and
the Gaussian resolution :class:`Resolution` turn the deposited energy into the
"smeared" energy that the pulse encodes.

>>> import numpy as np
>>> e = sample_energies(20_000, np.random.default_rng(1))
>>> peak = e.smeared[e.line == line_index(2614.511)]
>>> bool(abs(np.median(peak) - 2614.5) < 0.5)
True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

#: the electron rest energy (keV)
ELECTRON_MASS_KEV = 510.99895
#: energy (keV) of the test pulser line: above every Th-228 line, well below saturation
PULSER_ENERGY = 3500.0

#: codes of the ``line`` truth column that are not an index into :data:`TH228_LINES`
CONTINUUM, HIGH_ENERGY, PULSER = -1, -2, -3


class Line(NamedTuple):
    """A gamma line: energy (keV), relative full-energy-peak counts, origin, whether it
    has its own Compton continuum (escape peaks do not)."""

    energy: float
    intensity: float
    origin: str
    compton: bool = True


#: Th-228 chain lines as seen in a germanium calibration, intensities relative to the
#: 2614.5 keV peak's area (= 100): the emission probability per Th-228 decay times a
#: full-energy efficiency ``(E/2614.5)^-0.8`` with absorption below ~300 keV; escape
#: peaks from typical LEGEND calibration spectra.
TH228_LINES: tuple[Line, ...] = (
    Line(238.632, 400.0, "Pb-212"),
    Line(240.986, 37.0, "Ra-224"),
    Line(277.371, 22.0, "Tl-208"),
    Line(300.087, 30.0, "Pb-212"),
    Line(510.77, 70.0, "Tl-208"),
    Line(583.187, 260.0, "Tl-208"),
    Line(727.330, 49.0, "Bi-212"),
    Line(763.13, 4.6, "Tl-208"),
    Line(785.37, 7.7, "Bi-212"),
    Line(860.557, 29.5, "Tl-208"),
    Line(893.408, 2.4, "Bi-212"),
    Line(1078.62, 3.1, "Bi-212"),
    Line(1512.7, 1.2, "Bi-212"),
    Line(2614.511 - 2 * ELECTRON_MASS_KEV, 5.0, "Tl-208 DEP", False),
    Line(1620.50, 6.0, "Bi-212"),
    Line(2614.511 - ELECTRON_MASS_KEV, 14.0, "Tl-208 SEP", False),
    Line(2614.511, 100.0, "Tl-208"),
)


def line_index(energy: float, lines: tuple[Line, ...] = TH228_LINES) -> int:
    """The index in ``lines`` of the line closest to ``energy`` (keV).

    >>> TH228_LINES[line_index(583)].energy
    583.187
    """
    return int(np.argmin([abs(line.energy - energy) for line in lines]))


@dataclass(frozen=True)
class Resolution:
    """Detector resolution ``FWHM(E) = sqrt(a + b*E)`` (keV, with ``a`` in keV² and ``b`` in keV).

    The defaults give 2.49 keV at 2614.5 keV and 2.22 keV at 2039 keV; the electronic
    noise of the simulated waveforms adds about 0.6 keV in quadrature for a 10 us
    trapezoid, which brings the total close to LEGEND's 2.57 keV at 2614.5 keV.

    >>> round(float(Resolution().fwhm(2614.5)), 2)
    2.49
    """

    a: float = 0.6
    b: float = 0.00215

    def fwhm(self, energy: np.ndarray | float) -> np.ndarray:
        """FWHM (keV) at ``energy`` (keV)."""
        return np.sqrt(self.a + self.b * np.clip(energy, 0.0, None))

    def sigma(self, energy: np.ndarray | float) -> np.ndarray:
        """Gaussian standard deviation (keV) at ``energy`` (keV)."""
        return self.fwhm(energy) / (2.0 * math.sqrt(2.0 * math.log(2.0)))


class EnergySample(NamedTuple):
    """Energies drawn by :func:`sample_energies`.

    ``true``: deposited energy (keV); ``smeared``: what the detector measures (keV,
    with resolution and charge-collection tail); ``line``: index of the gamma line
    in the line list for a full-energy event, else :data:`CONTINUUM` or
    :data:`HIGH_ENERGY`.
    """

    true: np.ndarray
    smeared: np.ndarray
    line: np.ndarray


def peak_to_total(energy: float) -> float:
    """Fraction of a gamma line's detected events that land in the full-energy peak.

    A power law through about 0.55 at 239 keV and 0.15 at 2614.5 keV, typical of a
    2 kg germanium detector.

    >>> round(peak_to_total(2614.5), 3)
    0.147
    """
    return min(0.6, 0.55 * (energy / 238.6) ** -0.55)


def klein_nishina(deposit: np.ndarray, energy: float) -> np.ndarray:
    """Klein-Nishina energy-transfer density (unnormalised) for one Compton scatter.

    ``deposit``: energy given to the electron (keV) by a photon of ``energy`` (keV);
    zero above the Compton edge.

    >>> edge = 2614.5 * (1 - 1 / (1 + 2 * 2614.5 / 510.99895))
    >>> k = klein_nishina(np.array([100.0, edge - 1, edge + 1]), 2614.5)
    >>> bool(k[1] > k[0] > 0), float(k[2])
    (True, 0.0)
    """
    eps = energy / ELECTRON_MASS_KEV
    s = np.clip(np.asarray(deposit, np.float64) / energy, 0.0, None)
    edge = 2 * eps / (1 + 2 * eps)
    inside = s < edge
    s = np.where(inside, s, 0.0)
    value = 2 + s**2 / (eps**2 * (1 - s) ** 2) + s / (1 - s) * (s - 2 / eps)
    return np.where(inside, value, 0.0)


#: share of a line's continuum that is single Compton scattering (the rest is flat)
_SINGLE_SCATTER = 0.8


def continuum_density(
    edges: np.ndarray, lines: tuple[Line, ...] = TH228_LINES
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the Compton continuum in energy bins ``edges`` (keV), and per line.

    Returns ``(counts per bin, total continuum counts per line)``, in the units of
    the lines' intensities, each line contributing ``intensity * (1/P - 1)`` where
    ``P`` is :func:`peak_to_total`. Bins below the first edge are cut away.

    >>> edges = np.linspace(0, 3000, 3001)
    >>> counts, per_line = continuum_density(edges)
    >>> bool(counts[2500] > 0), float(counts[2700])
    (True, 0.0)
    """
    centres = 0.5 * (edges[1:] + edges[:-1])
    widths = np.diff(edges)
    counts = np.zeros(len(centres))
    per_line = np.zeros(len(lines))
    fine = np.linspace(0.0, 1.0, 4001)
    for i, line in enumerate(lines):
        if not line.compton:
            continue
        total = line.intensity * (1.0 / peak_to_total(line.energy) - 1.0)
        per_line[i] = total
        density = klein_nishina(fine * line.energy, line.energy)
        kn_norm = np.sum(0.5 * (density[1:] + density[:-1])) * (fine[1] - fine[0]) * line.energy
        kn = klein_nishina(centres, line.energy) / kn_norm
        flat = np.where(centres < line.energy, 1.0 / line.energy, 0.0)
        counts += total * (_SINGLE_SCATTER * kn + (1 - _SINGLE_SCATTER) * flat) * widths
    return counts, per_line


@functools.lru_cache(maxsize=16)
def _continuum_cdf(
    lines: tuple[Line, ...], threshold: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Bin edges (0.5 keV), normalised cumulative counts and total counts of the continuum."""
    top = max(line.energy for line in lines) + 10.0
    edges = np.arange(threshold, top + 0.5, 0.5)
    counts, _ = continuum_density(edges, lines)
    cdf = np.concatenate(([0.0], np.cumsum(counts)))
    total = float(cdf[-1])
    return edges, cdf / total, total


def sample_energies(
    n: int,
    rng: np.random.Generator,
    *,
    lines: tuple[Line, ...] = TH228_LINES,
    resolution: Resolution | None = None,
    threshold: float = 25.0,
    high_energy_fraction: float = 0.003,
    tail_fraction: float = 0.15,
    tail_scale: float = 1.5,
) -> EnergySample:
    """Draw ``n`` events of a Th-228 calibration spectrum above ``threshold`` (keV).

    Peaks and continuum are in the proportions the lines' intensities and
    :func:`peak_to_total` give; ``high_energy_fraction`` of the events come from a
    log-uniform 3-30 MeV component. The smeared energy is the true energy, minus an
    exponential charge-collection tail (mean ``tail_scale`` sigma) for
    ``tail_fraction`` of the events, plus Gaussian noise of ``resolution``.

    >>> e = sample_energies(5, np.random.default_rng(0))
    >>> e.true.shape, e.smeared.dtype, e.line.dtype
    ((5,), dtype('float64'), dtype('int16'))
    >>> bool(np.all(e.true >= 25.0))
    True
    """
    resolution = Resolution() if resolution is None else resolution
    n = int(n)
    edges, cdf, continuum_total = _continuum_cdf(tuple(lines), float(threshold))
    peaks = np.array([line.intensity if line.energy >= threshold else 0.0 for line in lines])
    weights = np.append(peaks, continuum_total)
    weights = weights / weights.sum() * (1.0 - high_energy_fraction)
    weights = np.append(weights, high_energy_fraction)
    component = rng.choice(len(weights), size=n, p=weights)

    true = np.empty(n)
    line = np.full(n, CONTINUUM, np.int16)
    is_peak = component < len(lines)
    energies = np.array([ln.energy for ln in lines])
    true[is_peak] = energies[component[is_peak]]
    line[is_peak] = component[is_peak]

    in_continuum = np.flatnonzero(component == len(lines))
    u = rng.random(len(in_continuum))
    b = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, len(cdf) - 2)
    frac = (u - cdf[b]) / np.maximum(cdf[b + 1] - cdf[b], 1e-300)
    true[in_continuum] = edges[b] + np.clip(frac, 0.0, 1.0) * (edges[b + 1] - edges[b])

    high = np.flatnonzero(component == len(lines) + 1)
    true[high] = 3000.0 * 10.0 ** rng.random(len(high))
    line[high] = HIGH_ENERGY

    sigma = resolution.sigma(true)
    tail = np.where(
        rng.random(n) < tail_fraction, rng.exponential(1.0, n) * tail_scale * sigma, 0.0
    )
    smeared = true - tail + rng.standard_normal(n) * sigma
    return EnergySample(true, smeared, line)


def pulser_energies(
    n: int, rng: np.random.Generator, energy: float = PULSER_ENERGY, fwhm: float = 0.3
) -> np.ndarray:
    """``n`` pulser amplitudes in keV: the pulser line with a small amplitude jitter (FWHM, keV).

    >>> p = pulser_energies(1000, np.random.default_rng(0))
    >>> bool(abs(p.mean() - PULSER_ENERGY) < 0.05)
    True
    """
    return energy + rng.standard_normal(int(n)) * fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
