"""Finding the calibration lines in an uncalibrated spectrum, without a guess of the gain.

In the logarithm of the energy a gain is a shift, so the spectrum is histogrammed in
``ln(raw)`` with bins of constant relative width (0.015 %), whatever the gain is. Peaks
are found there with a matched filter: the histogram is convolved with zero-area
kernels (a narrow Gaussian minus one three times wider, which do not respond to a
flat or sloped continuum) at several widths, and each is divided by its Poisson
uncertainty, which gives a significance spectrum. Its local maxima above a threshold
are the candidate peaks.

The candidates are then matched to the line energies: every pair of candidates taken
as every pair of lines fixes a gain and an offset (``raw = gain*E + offset``); the
hypothesis that puts the most significant candidates on the predicted positions of
the other lines wins. A polynomial through the matched pairs predicts where each line
lies, for the fits that follow.

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> keV = np.concatenate([rng.normal(e, 1.0, n) for e, n in
...                       [(238.6, 3000), (583.2, 2000), (860.6, 500), (2614.5, 800)]])
>>> keV = np.concatenate([keV, rng.uniform(30, 2700, 6000)])
>>> search = search_lines(7.5 * keV, [238.632, 583.187, 860.557, 2614.511])
>>> round(search.gain, 2), len(search.matched)
(7.5, 4)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import fftconvolve, find_peaks

from tierflow.errors import CalibrationError

from .lines import Line, as_lines

#: width of the bins of ``ln(raw)`` in the search histogram
LOG_BIN_WIDTH = 1.5e-4
#: widths (in bins) of the matched filters: peaks of 0.03 % to 0.5 % relative sigma
SEARCH_SCALES = (2, 4, 8, 16, 32)


@dataclass(frozen=True)
class Candidate:
    """A peak found by the search: ``position`` (raw), ``significance`` (filter output in
    standard deviations) and ``sigma`` (raw width of the filter that saw it best)."""

    position: float
    significance: float
    sigma: float


@dataclass(frozen=True)
class PeakSearch:
    """Where the search put each line.

    ``matched`` maps each matched line's energy to its candidate, ``coefficients`` is
    the polynomial ``raw = c0 + c1*E (+ c2*E²)`` through the matched pairs (lowest
    order first), ``candidates`` lists every candidate peak, most significant first.
    """

    coefficients: tuple[float, ...]
    matched: dict[float, Candidate]
    candidates: tuple[Candidate, ...]
    lines: tuple[Line, ...] = field(default=())

    def predict(self, energy: float | np.ndarray) -> np.ndarray | np.floating:
        """Raw position of ``energy`` (keV)."""
        return np.polynomial.polynomial.polyval(energy, self.coefficients)

    def gain_at(self, energy: float) -> float:
        """Raw units per keV at ``energy``."""
        deriv = np.polynomial.polynomial.polyder(self.coefficients)
        return float(np.polynomial.polynomial.polyval(energy, deriv))

    @property
    def gain(self) -> float:
        """Raw units per keV at the highest line."""
        return self.gain_at(max(line.energy for line in self.lines)) if self.lines else math.nan


def find_candidates(
    raw: np.ndarray,
    *,
    threshold: float = 4.0,
    max_candidates: int = 60,
    scales: Sequence[int] = SEARCH_SCALES,
    bin_width: float = LOG_BIN_WIDTH,
) -> tuple[Candidate, ...]:
    """Candidate peaks in ``raw`` (any positive scale), most significant first.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> raw = np.concatenate([rng.normal(1000, 2, 2000), rng.uniform(500, 1500, 20000)])
    >>> top = find_candidates(raw)[0]
    >>> round(top.position), top.significance > 20
    (1000, True)
    """
    x = np.asarray(raw, np.float64)
    x = x[np.isfinite(x) & (x > 0)]
    if len(x) < 10:
        return ()
    if _is_integer_valued(x):
        # integers seen in fine log bins form a comb below ~1/bin_width: spread each
        # over its unit interval (a fixed seed keeps the search reproducible)
        x = x + np.random.default_rng(0).uniform(-0.5, 0.5, len(x))
        x = x[x > 0]
    lx = np.log(x)
    low, high = float(lx.min()), float(lx.max())
    n_bins = int(min(max((high - low) / bin_width, 1), 400_000)) + 1
    counts, edges = np.histogram(lx, n_bins, (low, low + n_bins * bin_width))
    counts = counts.astype(np.float64)
    centres = 0.5 * (edges[1:] + edges[:-1])

    best = np.zeros(n_bins)
    best_scale = np.zeros(n_bins)
    for scale in scales:
        if 8 * scale > n_bins:
            continue
        t = np.arange(-12 * scale, 12 * scale + 1, dtype=np.float64)
        narrow = np.exp(-0.5 * (t / scale) ** 2)
        wide = np.exp(-0.5 * (t / (3 * scale)) ** 2)
        kernel = narrow / narrow.sum() - wide / wide.sum()
        signal = fftconvolve(counts, kernel, mode="same")
        variance = fftconvolve(counts, kernel * kernel, mode="same")
        significance = signal / np.sqrt(np.maximum(variance, 0.0) + kernel.max() ** 2)
        better = significance > best
        best[better] = significance[better]
        best_scale[better] = scale
    index, _ = find_peaks(best, height=threshold, distance=2)
    index = index[np.argsort(best[index])[::-1]][:max_candidates]
    positions = np.exp(centres[index])
    return tuple(
        Candidate(float(p), float(best[i]), float(p * best_scale[i] * bin_width))
        for p, i in zip(positions, index, strict=True)
    )


def _is_integer_valued(x: np.ndarray) -> bool:
    sample = x[:: max(1, len(x) // 2000)]
    return bool(np.all(sample == np.round(sample)))


def _score(
    predicted: np.ndarray, sorted_log: np.ndarray, weight: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score of hypotheses: ``predicted`` (hypotheses x lines) raw positions.

    Returns the total score per hypothesis, and per line the index (into the sorted
    candidates) of the nearest candidate and whether it is within ``tolerance``.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        lp = np.log(np.where(predicted > 0, predicted, np.nan))
    j = np.clip(np.searchsorted(sorted_log, lp), 1, len(sorted_log) - 1)
    left, right = sorted_log[j - 1], sorted_log[j]
    nearest = np.where(np.abs(lp - left) <= np.abs(right - lp), j - 1, j)
    distance = np.abs(lp - sorted_log[nearest])
    hit = distance < tolerance
    contribution = np.where(hit, weight[nearest] * (1.0 - (distance / tolerance) ** 2), 0.0)
    return contribution.sum(axis=-1), nearest, hit


def match_lines(
    candidates: Sequence[Candidate],
    lines: Sequence[Line | float],
    *,
    deg: int = 1,
    tolerance: float = 0.006,
    max_offset: float = 100.0,
    min_matched: int = 3,
    n_anchors: int = 25,
) -> PeakSearch:
    """Match candidate peaks to line energies without a guess of the gain.

    ``tolerance`` is the largest relative distance (0.6 %) between a candidate and a
    line's predicted position; ``max_offset`` (keV) bounds the offset of the linear
    hypotheses, ``raw = gain * (E + offset)``. Raises
    :class:`~tierflow.errors.CalibrationError` when fewer than ``min_matched`` lines
    match.

    >>> cands = [Candidate(p, s, 1.0) for p, s in [(5830, 50), (2386, 80), (26145, 30),
    ...                                               (8606, 10), (9000, 8)]]
    >>> search = match_lines(cands, [238.632, 583.187, 860.557, 2614.511])
    >>> sorted(search.matched), round(search.gain, 3)
    ([238.632, 583.187, 860.557, 2614.511], 10.0)
    """
    lines = as_lines(lines)
    energies = np.array([line.energy for line in lines])
    if len(candidates) < 2:
        raise CalibrationError(
            f"peak search found {len(candidates)} candidate peak(s) in the spectrum: not "
            f"enough to recognise the line pattern",
            found=[],
            reasons={line.label: "no candidate peaks in the spectrum" for line in lines},
        )
    order = np.argsort([c.position for c in candidates])
    cands = [candidates[i] for i in order]
    log_pos = np.log([c.position for c in cands])
    weight = np.minimum([c.significance for c in cands], 25.0)

    # anchors: the most significant candidates, every pair, against every pair of lines
    strongest = np.argsort(weight)[::-1][:n_anchors]
    ci, cj = np.meshgrid(strongest, strongest, indexing="ij")
    keep = log_pos[ci] < log_pos[cj]
    ci, cj = ci[keep], cj[keep]
    li, lj = np.triu_indices(len(lines), 1)
    p_low = np.exp(log_pos[ci])[:, None]
    p_high = np.exp(log_pos[cj])[:, None]
    gain = (p_high - p_low) / (energies[lj] - energies[li])[None, :]
    offset = p_low - gain * energies[li][None, :]
    gain, offset = gain.ravel(), offset.ravel()
    ok = (gain > 0) & (np.abs(offset) <= max_offset * gain)
    gain, offset = gain[ok], offset[ok]
    if len(gain) == 0:
        score = np.zeros(0)
    else:
        predicted = gain[:, None] * energies[None, :] + offset[:, None]
        score, _, _ = _score(predicted, log_pos, weight, tolerance)
    best_matches: dict[int, int] = {}
    if len(score):
        # among near-equal scores prefer the hypothesis with more matched lines
        top = np.flatnonzero(score >= score.max() - 1e-9)
        k = int(top[0])
        predicted = gain[k] * energies + offset[k]
        _, nearest, hit = _score(predicted[None, :], log_pos, weight, tolerance)
        best_matches = {int(i): int(nearest[0, i]) for i in np.flatnonzero(hit[0])}

    coefficients = (0.0, 1.0)
    for _ in range(3):
        if len(best_matches) < 2:
            break
        e = energies[list(best_matches)]
        p = np.array([cands[c].position for c in best_matches.values()])
        fit_deg = min(deg, len(e) - 2) if len(e) >= 4 else 1
        coefficients = tuple(np.polynomial.polynomial.polyfit(e, p, max(fit_deg, 1)))
        predicted = np.polynomial.polynomial.polyval(energies, coefficients)
        _, nearest, hit = _score(predicted[None, :], log_pos, weight, tolerance / 2)
        matches = {int(i): int(nearest[0, i]) for i in np.flatnonzero(hit[0])}
        if len(set(matches.values())) < len(matches):  # one candidate for two lines
            break
        if matches == best_matches:
            break
        best_matches = matches if len(matches) >= len(best_matches) else best_matches

    if len(best_matches) < min_matched:
        listed = ", ".join(
            f"{c.position:.4g}" for c in sorted(candidates, key=lambda c: c.position)[:20]
        )
        raise CalibrationError(
            f"peak search could not recognise the line pattern: {len(candidates)} candidate "
            f"peak(s) at raw positions [{listed}]; no gain and offset put more than "
            f"{len(best_matches)} of the {len(lines)} lines on them, {min_matched} needed",
            found=[],
            reasons={
                line.label: "no candidate peak where the line pattern puts it" for line in lines
            },
        )
    matched = {float(energies[i]): cands[c] for i, c in sorted(best_matches.items())}
    return PeakSearch(tuple(float(c) for c in coefficients), matched, tuple(candidates), lines)


def search_lines(
    raw: np.ndarray,
    lines: Sequence[Line | float],
    *,
    deg: int = 1,
    threshold: float = 4.0,
    tolerance: float = 0.006,
    max_offset: float = 100.0,
) -> PeakSearch:
    """Find ``lines`` in the uncalibrated energies ``raw``: :func:`find_candidates`, then
    :func:`match_lines`. See the module's example."""
    candidates = find_candidates(raw, threshold=threshold)
    return match_lines(candidates, lines, deg=deg, tolerance=tolerance, max_offset=max_offset)
