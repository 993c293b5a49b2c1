"""Binned maximum-likelihood fits of single peaks (iminuit's MIGRAD and HESSE).

A fit window is histogrammed and the model of :class:`~.shapes.PeakModel` is fitted
by minimising the Poisson deviance ``2 Σ (μ - n + n ln(n/μ))`` (Baker and Cousins
1984): its minimum is a likelihood fit, and its value a goodness-of-fit statistic that
follows a χ² distribution with ``bins - free parameters`` degrees of freedom.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> x = np.sort(np.concatenate([rng.normal(1000.0, 4.0, 5000), rng.uniform(900, 1100, 2000)]))
>>> fit = fit_peak(x, 1000.0, 10.0, low=940.0, high=1060.0, tail=False)
>>> fit.ok, abs(fit.position - 1000) < 3 * fit.position_err, abs(fit.sigma - 4.0) < 0.2
(True, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from iminuit import Minuit
from scipy.stats import chi2 as chi2_distribution

from .lines import Line
from .shapes import FWHM_PER_SIGMA, PeakModel, peak_fwhm

#: parameters of the peak shape
SHAPE_PARAMETERS = ("sigma", "htail", "tau_rel")
#: largest tail fraction a fit may take
MAX_HTAIL = 0.5
#: range of the tail length in units of sigma
TAU_REL_LIMITS = (0.5, 10.0)


@dataclass
class PeakFit:
    """The result of one peak fit, in raw units.

    ``values``/``errors`` map parameter names (see :class:`~.shapes.PeakModel`) to the
    fitted values and their HESSE uncertainties, ``covariance`` follows ``names``;
    ``edges``/``counts`` are the fitted histogram; ``status`` is ``"ok"`` or the reason
    the fit is not used; ``fixed`` names parameters held constant; ``deviance`` and
    ``ndf`` give the goodness of fit; ``bounded`` names parameters that ran to a limit
    (no tail, no step) and were then held there.
    """

    line: Line
    status: str
    names: tuple[str, ...]
    values: dict[str, float]
    errors: dict[str, float]
    covariance: np.ndarray
    edges: np.ndarray
    counts: np.ndarray
    offsets: tuple[float, ...] = ()
    neighbours: tuple[Line, ...] = ()
    fixed: tuple[str, ...] = ()
    bounded: tuple[str, ...] = ()
    deviance: float = math.nan
    ndf: int = 0
    predicted: float = math.nan
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the fit is good and the line used."""
        return self.status == "ok"

    @property
    def model(self) -> PeakModel:
        """The model that was fitted."""
        labels = tuple(_label(line.energy) for line in self.neighbours)
        return PeakModel(float(self.edges[0]), float(self.edges[-1]), self.offsets, labels)

    @property
    def parameters(self) -> list[float]:
        return [self.values[name] for name in self.names]

    @property
    def position(self) -> float:
        return self.values.get("mu", math.nan)

    @property
    def position_err(self) -> float:
        return self.errors.get("mu", math.nan)

    @property
    def sigma(self) -> float:
        return self.values.get("sigma", math.nan)

    @property
    def fwhm(self) -> float:
        """FWHM of the peak shape (Gaussian and tail; raw units)."""
        return self.fwhm_with_error()[0]

    @property
    def fwhm_err(self) -> float:
        return self.fwhm_with_error()[1]

    def fwhm_with_error(self) -> tuple[float, float]:
        """FWHM of the peak shape and its uncertainty from the shape parameters' covariance."""
        if "fwhm" in self.extra:
            return self.extra["fwhm"]
        if not self.values:
            return math.nan, math.nan
        shape = np.array([self.values[name] for name in SHAPE_PARAMETERS])

        def width(p: np.ndarray) -> float:
            return peak_fwhm(p[0], p[1], p[2] * p[0])

        value = width(shape)
        index = [self.names.index(name) for name in SHAPE_PARAMETERS]
        cov = self.covariance[np.ix_(index, index)]
        grad = np.zeros(3)
        for k in range(3):
            step = max(1e-4 * abs(shape[k]), 1e-7)
            if cov[k, k] <= 0:
                continue
            up, down = shape.copy(), shape.copy()
            up[k] += step
            down[k] -= step
            down[k] = max(down[k], 0.0)
            grad[k] = (width(up) - width(down)) / (up[k] - down[k])
        error = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
        self.extra["fwhm"] = (value, error)
        return value, error

    @property
    def pvalue(self) -> float:
        """Probability of a deviance at least this large if the model is right."""
        if self.ndf <= 0 or not math.isfinite(self.deviance):
            return math.nan
        return float(chi2_distribution.sf(self.deviance, self.ndf))

    def to_dict(self) -> dict:
        """Plain data: :meth:`from_dict` rebuilds the fit."""
        return {
            "line": self.line.to_dict(),
            "status": self.status,
            "predicted": _finite_or_none(self.predicted),
            "names": list(self.names),
            "values": {k: _finite_or_none(v) for k, v in self.values.items()},
            "errors": {k: _finite_or_none(v) for k, v in self.errors.items()},
            "covariance": [
                [_finite_or_none(v) for v in row] for row in np.asarray(self.covariance)
            ],
            "fixed": list(self.fixed),
            "bounded": list(self.bounded),
            "neighbours": [line.to_dict() for line in self.neighbours],
            "offsets": list(self.offsets),
            "deviance": _finite_or_none(self.deviance),
            "ndf": int(self.ndf),
            "edges": [float(v) for v in self.edges],
            "counts": [int(v) for v in self.counts],
        }

    @classmethod
    def from_dict(cls, data: dict) -> PeakFit:
        names = tuple(data.get("names", ()))
        cov = np.array(
            [[math.nan if v is None else v for v in row] for row in data.get("covariance", [])],
            dtype=np.float64,
        ).reshape(len(names), len(names))
        return cls(
            line=Line.from_dict(data["line"]),
            status=str(data["status"]),
            names=names,
            values={k: _nan_if_none(v) for k, v in data.get("values", {}).items()},
            errors={k: _nan_if_none(v) for k, v in data.get("errors", {}).items()},
            covariance=cov,
            edges=np.asarray(data.get("edges", []), np.float64),
            counts=np.asarray(data.get("counts", []), np.int64),
            offsets=tuple(float(v) for v in data.get("offsets", ())),
            neighbours=tuple(Line.from_dict(d) for d in data.get("neighbours", ())),
            fixed=tuple(data.get("fixed", ())),
            bounded=tuple(data.get("bounded", ())),
            deviance=_nan_if_none(data.get("deviance")),
            ndf=int(data.get("ndf", 0)),
            predicted=_nan_if_none(data.get("predicted")),
        )


def _finite_or_none(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _nan_if_none(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _label(energy: float) -> str:
    return f"{energy:.1f}".replace(".", "p")


class _Deviance:
    """Poisson deviance of a :class:`PeakModel` over a histogram (Minuit's errordef 1)."""

    errordef = Minuit.LEAST_SQUARES

    def __init__(self, model: PeakModel, edges: np.ndarray, counts: np.ndarray):
        self.expected = model.binned(edges)
        self.counts = counts.astype(np.float64)
        positive = self.counts > 0
        self._nlogn = np.zeros_like(self.counts)
        self._nlogn[positive] = self.counts[positive] * np.log(self.counts[positive])
        self._total = self.counts.sum()

    def __call__(self, p: Sequence[float]) -> float:
        mu = np.maximum(self.expected(p), 1e-300)
        return float(
            2.0 * (mu.sum() - self._total + np.sum(self._nlogn - self.counts * np.log(mu)))
        )


def histogram_window(
    sorted_raw: np.ndarray, low: float, high: float, bin_width: float, *, integer: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram the sorted values in ``[low, high)`` with about ``bin_width`` wide bins.

    For integer-valued data the bins are a whole number of units wide, with edges at
    half-integers, so that every bin holds the same number of possible values.

    >>> import numpy as np
    >>> histogram_window(np.arange(10.0), 2, 6, 1.6, integer=True)
    (array([1.5, 3.5, 5.5]), array([2, 2]))
    """
    if integer:
        width = max(1, round(bin_width))
        start = math.floor(low - 0.5) + 0.5
        n = max(1, round((high - start) / width))
        edges = start + width * np.arange(n + 1)
    else:
        n = max(1, round((high - low) / bin_width))
        edges = np.linspace(low, high, n + 1)
    index = np.searchsorted(sorted_raw, edges, side="left")
    return edges, np.diff(index)


def fit_peak(
    sorted_raw: np.ndarray,
    center: float,
    fwhm: float,
    *,
    low: float,
    high: float,
    line: Line | None = None,
    bin_width: float | None = None,
    n_bins: int | None = None,
    integer: bool = False,
    tail: bool | tuple[float, float] = True,
    neighbours: Sequence[tuple[Line, float]] = (),
    min_significance: float = 3.0,
) -> PeakFit:
    """Fit one peak near ``center`` (raw units) in the window ``[low, high]``.

    ``sorted_raw`` are the sorted uncalibrated energies, ``fwhm`` a guess of the peak's
    width (raw units), ``bin_width`` (default ``fwhm/4``) or ``n_bins`` the binning.
    ``tail``: ``True`` fits the tail, ``False`` leaves it out, a pair ``(htail, tau_rel)``
    fixes it. ``neighbours`` are other lines in the window with their offsets (raw) from
    ``center``; each gets its own area. The returned fit's ``status`` explains a failure.
    """
    line = Line(1.0, "peak") if line is None else line
    if n_bins is not None:
        bin_width = (high - low) / int(n_bins)
    elif bin_width is None:
        bin_width = fwhm / 4.0
    edges, counts = histogram_window(sorted_raw, low, high, bin_width, integer=integer)
    neighbour_lines = tuple(nb for nb, _ in neighbours)
    offsets = tuple(float(off) for _, off in neighbours)
    model = PeakModel(
        float(edges[0]),
        float(edges[-1]),
        offsets,
        tuple(_label(nb.energy) for nb in neighbour_lines),
    )
    names = model.names
    empty = PeakFit(
        line,
        "",
        names,
        {},
        {},
        np.full((len(names), len(names)), np.nan),
        edges,
        counts,
        offsets,
        neighbour_lines,
        predicted=center,
    )
    total = int(counts.sum())
    if len(counts) < 12 or total < 20:
        empty.status = (
            f"only {total} events in the fit window {low:.6g}-{high:.6g} (raw)"
            if len(counts) >= 12
            else f"fit window {low:.6g}-{high:.6g} (raw) holds only {len(counts)} bins"
        )
        return empty

    # starting values
    width = edges[1] - edges[0]
    centres = 0.5 * (edges[1:] + edges[:-1])
    n_side = max(2, len(counts) // 8)
    left_level = counts[:n_side].mean() / width
    right_level = counts[-n_side:].mean() / width
    near = np.abs(centres - center) < 1.2 * fwhm
    if near.any():
        smooth = np.convolve(counts, np.ones(3) / 3, mode="same")
        center = float(centres[near][np.argmax(smooth[near])])
    sigma0 = fwhm / FWHM_PER_SIGMA
    in_peak = np.abs(centres - center) < 2 * sigma0 + width
    background0 = 0.5 * (left_level + right_level) * width * in_peak.sum()
    n_sig0 = max(float(counts[in_peak].sum() - background0) / 0.95, 5.0)
    window = edges[-1] - edges[0]
    n_step0 = max(left_level - right_level, 0.0) * max(center - edges[0], 0.0)
    n_bkg0 = max(right_level * window, 1.0)
    start = [n_sig0, center, sigma0, 0.1, 1.5, n_bkg0, 0.0, max(n_step0, 1.0)]
    for off in offsets:
        j = np.argmin(np.abs(centres - (center + off)))
        start.append(max(float(counts[j]) * sigma0 * 2.5 / width - right_level * sigma0 * 2.5, 1.0))

    fixed: list[str] = []
    if tail is False:
        start[3], start[4] = 0.0, 1.0
        fixed += ["htail", "tau_rel"]
    elif tail is not True:
        start[3], start[4] = float(tail[0]), float(tail[1])
        fixed += ["htail", "tau_rel"]

    cost = _Deviance(model, edges, counts)
    m = Minuit(cost, start, name=names)
    m.print_level = 0
    m.errors = [
        max(math.sqrt(n_sig0), 1.0),
        0.1 * sigma0,
        0.1 * sigma0,
        0.02,
        0.2,
        max(math.sqrt(n_bkg0), 1.0),
        0.05,
        max(math.sqrt(n_step0), 1.0),
    ] + [max(math.sqrt(v), 1.0) for v in start[8:]]
    m.limits["n_sig"] = (0.0, None)
    m.limits["mu"] = (edges[0] + 0.1 * window, edges[-1] - 0.1 * window)
    m.limits["sigma"] = (0.1 * sigma0, min(5.0 * sigma0, 0.25 * window))
    m.limits["htail"] = (0.0, MAX_HTAIL)
    m.limits["tau_rel"] = TAU_REL_LIMITS
    m.limits["n_bkg"] = (0.0, None)
    m.limits["slope"] = (-1.0, 1.0)
    m.limits["n_step"] = (0.0, None)
    for name in names[8:]:
        m.limits[name] = (0.0, None)
    for name in fixed:
        m.fixed[name] = True
    m.migrad()
    if not m.valid:
        m.simplex().migrad()
    # parameters that ran to a physical limit (no tail, no step, an absent neighbour) make
    # the covariance singular: hold them there and fit the rest again
    bounded = _at_limit(m, names)
    if bounded:
        for name in bounded:
            m.fixed[name] = True
        m.migrad()
    m.hesse()
    if m.valid and not m.accurate:
        # a parameter within its uncertainty of a limit: hold it there too
        near = _at_limit(m, names, loose=True)
        if near:
            for name in near:
                m.fixed[name] = True
            bounded += near
            m.migrad()
            m.hesse()

    values = dict(zip(names, (float(v) for v in m.values), strict=True))
    errors = dict(zip(names, (float(v) for v in m.errors), strict=True))
    free = [n for n in names if not m.fixed[n]]
    cov = np.zeros((len(names), len(names)))
    if m.covariance is not None:
        cov = np.array(m.covariance, dtype=np.float64)
    for name in (*fixed, *bounded):
        errors[name] = 0.0
    fit = PeakFit(
        line,
        "ok",
        names,
        values,
        errors,
        cov,
        edges,
        counts,
        offsets,
        neighbour_lines,
        tuple(fixed),
        tuple(bounded),
        float(m.fval),
        len(counts) - len(free) - len(bounded),
        predicted=empty.predicted,
    )
    fit.status = _judge(m, fit, sigma0, min_significance)
    return fit


def _at_limit(m: Minuit, names: Sequence[str], *, loose: bool = False) -> list[str]:
    """Free parameters on a limit (``loose``: within one uncertainty of it) where they make
    the fit singular: no tail, no step, no background, an absent neighbour."""
    v = dict(zip(names, m.values, strict=True))
    err = dict(zip(names, m.errors, strict=True))
    scale = max(v["n_sig"], 1.0)

    def low(name: str, limit: float, tiny: float) -> bool:
        if m.fixed[name]:
            return False
        return v[name] - limit < (max(err[name], tiny) if loose else tiny)

    out = []
    if not m.fixed["htail"] and v["tau_rel"] <= TAU_REL_LIMITS[0] * 1.001:
        # a tail shorter than half a sigma cannot be told from the Gaussian: there is no tail
        m.values["htail"] = 0.0
        out += ["htail", "tau_rel"]
    elif low("htail", 0.0, 1e-4):
        out += ["htail", "tau_rel"]
    elif not m.fixed["tau_rel"] and v["tau_rel"] >= TAU_REL_LIMITS[1] * 0.999:
        out.append("tau_rel")
    if low("n_bkg", 0.0, 1e-4 * scale):
        out.append("n_bkg")
        if not m.fixed["slope"]:
            out.append("slope")
    elif not m.fixed["slope"] and abs(v["slope"]) > 0.999:
        out.append("slope")
    for name in ("n_step", *names[8:]):
        if low(name, 0.0, 1e-4 * scale):
            out.append(name)
    return out


def _judge(m: Minuit, fit: PeakFit, sigma0: float, min_significance: float) -> str:
    """``"ok"``, or why the fit cannot be used."""
    v, e = fit.values, fit.errors
    if not m.valid:
        fmin = m.fmin
        why = "call limit reached" if fmin.has_reached_call_limit else f"EDM {fmin.edm:.2g}"
        return f"the fit did not converge ({why})"
    if not m.accurate or not np.all(np.isfinite(fit.covariance)):
        return "the fit's uncertainties could not be computed (covariance not accurate)"
    significance = v["n_sig"] / e["n_sig"] if e["n_sig"] > 0 else 0.0
    if significance < min_significance:
        return (
            f"no significant peak: {v['n_sig']:.0f} ± {e['n_sig']:.0f} events "
            f"({significance:.1f} standard deviations, {min_significance:g} needed)"
        )
    low, high = m.limits["sigma"]
    if v["sigma"] <= low * 1.001 or v["sigma"] >= high * 0.999:
        return f"the width ran to its limit (sigma {v['sigma']:.4g}, started at {sigma0:.4g} raw)"
    low, high = m.limits["mu"]
    if v["mu"] <= low + 1e-6 * abs(low) or v["mu"] >= high - 1e-6 * abs(high):
        return f"the peak position ran to the edge of the window ({v['mu']:.6g} raw)"
    return "ok"
