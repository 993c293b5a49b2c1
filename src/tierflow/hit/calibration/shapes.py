"""The shape of a germanium full-energy peak: Gaussian, low-side tail, step and background.

A peak of ``n_sig`` events at ``mu`` is a Gaussian of width ``sigma`` for a fraction
``1 - htail`` of its events and, for the rest, the same Gaussian convolved with an
exponential of decay length ``tau = tau_rel * sigma`` towards low energy (incomplete
charge collection: an "exGaussian" tail). Below it sits a step, the Gaussian's
complementary error function (events that lost energy by small-angle scattering before
entering the crystal), and a linear background.

Everything is written as cumulative distributions, so that a binned fit integrates the
model exactly over each bin; the tail uses the scaled complementary error function
``erfcx`` so that nothing overflows far from the peak.

>>> import numpy as np
>>> x = np.linspace(-50, 50, 20001)
>>> pdf = peak_pdf(x, 0.0, 1.0, 0.3, 2.0)
>>> round(float(pdf.sum() * (x[1] - x[0])), 6)
1.0
>>> round(peak_fwhm(1.0, 0.0, 1.0), 4), round(peak_fwhm(1.0, 0.3, 2.0), 3)
(2.3548, 2.553)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy import special
from scipy.optimize import brentq

#: FWHM / sigma of a Gaussian
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)

#: one value or an array of them, given and returned alike
ArrayOrFloat = TypeVar("ArrayOrFloat", float, np.ndarray)


def gauss_pdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """Normal density."""
    u = (np.asarray(x, np.float64) - mu) / sigma
    return np.exp(-0.5 * u * u) / (_SQRT2PI * sigma)


def gauss_cdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """Normal cumulative distribution."""
    return special.ndtr((np.asarray(x, np.float64) - mu) / sigma)


def _tail_term(x: np.ndarray, mu: float, sigma: float, tau: float) -> np.ndarray:
    """``exp(A) * Phi(-B)`` with ``A = y/tau + sigma²/2tau²``, ``B = y/sigma + sigma/tau``.

    Where ``B >= 0`` it equals ``exp(-u²/2) erfcx(B/sqrt2) / 2`` (``u = y/sigma``), which
    never overflows; where ``B < 0`` the exponent ``A`` is negative and the direct form is safe.
    """
    y = np.asarray(x, np.float64) - mu
    u = y / sigma
    b = u + sigma / tau
    stable = 0.5 * np.exp(-0.5 * u * u) * special.erfcx(np.maximum(b, 0.0) / _SQRT2)
    a = np.minimum(y / tau + 0.5 * (sigma / tau) ** 2, 0.0)
    direct = np.exp(a) * special.ndtr(-np.minimum(b, 0.0))
    return np.where(b >= 0.0, stable, direct)


def tail_pdf(x: np.ndarray, mu: float, sigma: float, tau: float) -> np.ndarray:
    """Density of ``mu + sigma*Z - tau*Exp(1)``: a Gaussian with an exponential low-side tail.

    >>> import numpy as np
    >>> x = np.linspace(-120, 20, 28001)
    >>> round(float(tail_pdf(x, 0.0, 1.0, 5.0).sum() * (x[1] - x[0])), 6)
    1.0
    """
    return _tail_term(x, mu, sigma, tau) / tau


def tail_cdf(x: np.ndarray, mu: float, sigma: float, tau: float) -> np.ndarray:
    """Cumulative distribution of :func:`tail_pdf`.

    >>> import numpy as np
    >>> c = tail_cdf(np.array([-1e4, 0.0, 1e4]), 0.0, 1.0, 3.0)
    >>> float(c[0]), bool(c[1] > 0.5), float(c[2])
    (0.0, True, 1.0)
    """
    return special.ndtr((np.asarray(x, np.float64) - mu) / sigma) + _tail_term(x, mu, sigma, tau)


def step_pdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """Unnormalised step: 1 far below ``mu``, 0 far above, ``erfc`` in between."""
    return special.ndtr(-(np.asarray(x, np.float64) - mu) / sigma)


def _step_integral(u: ArrayOrFloat) -> ArrayOrFloat:
    """An antiderivative of ``Phi(-u)``: ``u Phi(-u) - phi(u)``."""
    return u * special.ndtr(-u) - np.exp(-0.5 * u * u) / _SQRT2PI


def step_cdf(x: np.ndarray, mu: float, sigma: float, low: float, high: float) -> np.ndarray:
    """Cumulative distribution of the step, normalised to one over ``[low, high]``.

    >>> import numpy as np
    >>> [round(float(v), 3) for v in step_cdf(np.array([0.0, 5.0, 10.0]), 5.0, 0.5, 0.0, 10.0)]
    [0.0, 0.96, 1.0]
    """
    g = _step_integral((np.asarray(x, np.float64) - mu) / sigma)
    g_low = _step_integral((low - mu) / sigma)
    g_high = _step_integral((high - mu) / sigma)
    return (g - g_low) / max(g_high - g_low, 1e-300)


def step_density(x: np.ndarray, mu: float, sigma: float, low: float, high: float) -> np.ndarray:
    """Density of :func:`step_cdf`."""
    g_low = _step_integral((low - mu) / sigma)
    g_high = _step_integral((high - mu) / sigma)
    return step_pdf(x, mu, sigma) / (sigma * max(g_high - g_low, 1e-300))


def linear_cdf(x: np.ndarray, slope: float, low: float, high: float) -> np.ndarray:
    """Cumulative distribution of ``(1 + slope*t)`` on ``[low, high]``, ``t`` from -1 to 1.

    ``slope`` in ``[-1, 1]`` keeps the density non-negative.

    >>> import numpy as np
    >>> [float(v) for v in linear_cdf(np.array([0.0, 1.0, 2.0]), 0.5, 0.0, 2.0)]
    [0.0, 0.375, 1.0]
    """
    half = 0.5 * (high - low)
    t = (np.asarray(x, np.float64) - low) / half - 1.0
    return 0.5 * (t + 1.0) + 0.25 * slope * (t * t - 1.0)


def linear_density(x: np.ndarray, slope: float, low: float, high: float) -> np.ndarray:
    """Density of :func:`linear_cdf`."""
    half = 0.5 * (high - low)
    t = (np.asarray(x, np.float64) - low) / half - 1.0
    return (1.0 + slope * t) / (2.0 * half)


def peak_pdf(x: np.ndarray, mu: float, sigma: float, htail: float, tau: float) -> np.ndarray:
    """Normalised peak shape: ``(1-htail)`` Gaussian plus ``htail`` low-side exGaussian tail."""
    out = (1.0 - htail) * gauss_pdf(x, mu, sigma)
    if htail > 0.0:
        out = out + htail * tail_pdf(x, mu, sigma, tau)
    return out


def peak_cdf(x: np.ndarray, mu: float, sigma: float, htail: float, tau: float) -> np.ndarray:
    """Cumulative distribution of :func:`peak_pdf`."""
    out = gauss_cdf(x, mu, sigma)
    if htail > 0.0:
        out = out + htail * _tail_term(x, mu, sigma, tau)
    return out


def peak_fwhm(sigma: float, htail: float, tau: float) -> float:
    """Full width at half maximum of :func:`peak_pdf` (same units as ``sigma``).

    Without a tail it is ``2.3548 * sigma``; a tail widens the peak on its low side.

    >>> round(peak_fwhm(2.0, 0.0, 3.0) / 2.0, 4)
    2.3548
    """
    if not (sigma > 0):
        return math.nan
    if htail <= 1e-9 or tau <= 1e-9 * sigma:
        return FWHM_PER_SIGMA * sigma
    # work in units of sigma: the shape depends only on htail and tau/sigma
    r = tau / sigma
    y = np.linspace(-6.0 - 12.0 * r, 4.0, 4001)
    f = peak_pdf(y, 0.0, 1.0, htail, r)
    i = int(np.argmax(f))
    half = 0.5 * f[i]

    def excess(v: float) -> float:
        return float(peak_pdf(np.array([v]), 0.0, 1.0, htail, r)[0]) - half

    above = f > half
    left = i
    while left > 0 and above[left - 1]:
        left -= 1
    right = i
    while right < len(y) - 1 and above[right + 1]:
        right += 1
    if left == 0 or right == len(y) - 1:
        return math.nan
    x_left = brentq(excess, y[left - 1], y[left], xtol=1e-10)
    x_right = brentq(excess, y[right], y[right + 1], xtol=1e-10)
    return float((x_right - x_left) * sigma)


@dataclass(frozen=True)
class PeakModel:
    """The expected counts of one fit window: a peak, its neighbours, a step and a background.

    Parameters (in this order): ``n_sig, mu, sigma, htail, tau_rel, n_bkg, slope, n_step``,
    then one ``n_<energy>`` per neighbour line. ``n_sig`` is the peak's full area (events,
    also outside the window), ``n_bkg`` and ``n_step`` are counts inside the window,
    ``tau_rel`` is the tail length in units of ``sigma``. A neighbour is a second peak of
    the same shape at ``mu + offset`` (raw units) with its own area.

    >>> import numpy as np
    >>> model = PeakModel(90.0, 110.0, offsets=(2.5,))
    >>> model.names[-1]
    'n_1'
    >>> p = [1000, 100, 1, 0.1, 2, 200, 0, 50, 100]
    >>> round(float(model.expected(np.linspace(90, 110, 41), p).sum()), 1)
    1349.2
    """

    low: float
    high: float
    offsets: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        labels = self.labels or tuple(str(i + 1) for i in range(len(self.offsets)))
        extra = tuple(f"n_{label}" for label in labels)
        return ("n_sig", "mu", "sigma", "htail", "tau_rel", "n_bkg", "slope", "n_step", *extra)

    def cdf(self, x: np.ndarray, p: Sequence[float]) -> np.ndarray:
        """Expected counts from ``low`` up to each ``x`` (up to a constant)."""
        n_sig, mu, sigma, htail, tau_rel, n_bkg, slope, n_step = p[:8]
        tau = tau_rel * sigma
        out = n_sig * peak_cdf(x, mu, sigma, htail, tau)
        out = out + n_bkg * linear_cdf(x, slope, self.low, self.high)
        out = out + n_step * step_cdf(x, mu, sigma, self.low, self.high)
        for offset, n in zip(self.offsets, p[8:], strict=True):
            out = out + n * peak_cdf(x, mu + offset, sigma, htail, tau)
        return out

    def expected(self, edges: np.ndarray, p: Sequence[float]) -> np.ndarray:
        """Expected counts in each bin between ``edges``."""
        return np.diff(self.cdf(edges, p))

    def binned(self, edges: np.ndarray) -> Callable[[Sequence[float]], np.ndarray]:
        """A fast ``p -> expected counts`` for fixed ``edges`` from ``low`` to ``high``.

        The same numbers as :meth:`expected`, with everything that does not depend on
        the parameters computed once, for the thousands of calls of a fit.

        >>> import numpy as np
        >>> model = PeakModel(90.0, 110.0, offsets=(2.5,))
        >>> edges = np.linspace(90, 110, 41)
        >>> p = [1000, 100, 1, 0.1, 2, 200, -0.3, 50, 100]
        >>> bool(np.allclose(model.binned(edges)(p), model.expected(edges, p), rtol=1e-12))
        True
        """
        edges = np.asarray(edges, np.float64)
        t = (edges - self.low) / (0.5 * (self.high - self.low)) - 1.0
        lin0, lin1 = 0.5 * (t + 1.0), 0.25 * (t * t - 1.0)
        offsets = self.offsets
        deep = float(np.max(edges) - np.min(edges))

        def tail(u: np.ndarray, gauss: np.ndarray, r: float, sigma: float) -> np.ndarray:
            b = u + 1.0 / r
            if deep / sigma < 30.0:  # exp(-u²/2) * erfcx(b/sqrt2) stays finite
                return 0.5 * gauss * special.erfcx(b / _SQRT2)
            stable = 0.5 * gauss * special.erfcx(np.maximum(b, 0.0) / _SQRT2)
            a = np.minimum(u / r + 0.5 / (r * r), 0.0)
            return np.where(b >= 0.0, stable, np.exp(a) * special.ndtr(-np.minimum(b, 0.0)))

        def expected(p: Sequence[float]) -> np.ndarray:
            n_sig, mu, sigma, htail, tau_rel, n_bkg, slope, n_step = p[:8]
            u = (edges - mu) / sigma
            cumulative = special.ndtr(u)
            gauss = np.exp(-0.5 * u * u)
            g = u * (1.0 - cumulative) - gauss / _SQRT2PI
            out = n_sig * cumulative
            if htail > 0.0:
                out += (n_sig * htail) * tail(u, gauss, tau_rel, sigma)
            out += (n_step / max(g[-1] - g[0], 1e-300)) * (g - g[0])
            out += n_bkg * (lin0 + slope * lin1)
            for offset, n in zip(offsets, p[8:], strict=True):
                v = u - offset / sigma
                part = special.ndtr(v)
                if htail > 0.0:
                    part += htail * tail(v, np.exp(-0.5 * v * v), tau_rel, sigma)
                out += n * part
            return np.diff(out)

        return expected

    def components(self, x: np.ndarray, p: Sequence[float]) -> dict[str, np.ndarray]:
        """Densities (counts per raw unit) of each part of the model at ``x``.

        Keys: ``gauss``, ``tail``, ``step``, ``background``, ``neighbours`` and ``total``.
        """
        n_sig, mu, sigma, htail, tau_rel, n_bkg, slope, n_step = p[:8]
        tau = tau_rel * sigma
        x = np.asarray(x, np.float64)
        parts = {
            "gauss": n_sig * (1.0 - htail) * gauss_pdf(x, mu, sigma),
            "tail": n_sig * htail * tail_pdf(x, mu, sigma, tau) if htail > 0 else 0.0 * x,
            "step": n_step * step_density(x, mu, sigma, self.low, self.high),
            "background": n_bkg * linear_density(x, slope, self.low, self.high),
        }
        neighbours = 0.0 * x
        for offset, n in zip(self.offsets, p[8:], strict=True):
            neighbours = neighbours + n * peak_pdf(x, mu + offset, sigma, htail, tau)
        parts["neighbours"] = neighbours
        parts["total"] = sum(parts.values(), np.zeros_like(x))
        return parts
