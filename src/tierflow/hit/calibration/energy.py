"""Energy calibration: from uncalibrated energies to keV and the resolution curve.

:func:`calibrate` finds the lines (:mod:`.peaks`), fits each (:mod:`.fitting`), fits
energy against peak position with a polynomial and the FWHM against energy with
``sqrt(a + b*E)``, and returns an :class:`EnergyCalibration`, which converts raw
energies to keV, gives the FWHM at any energy with its uncertainty, and writes itself
as JSON or YAML or as the parameters of a hit-tier expression.

The FWHM of a line is that of its fitted peak shape, Gaussian and low-side tail
together (without step and background); each peak's Gaussian width is in its fit
parameters too.

>>> import numpy as np
>>> from tierflow.sim.spectrum import sample_energies
>>> keV = sample_energies(20_000, np.random.default_rng(7)).smeared
>>> cal = calibrate(12.3456 * keV + 30.0)
>>> round(cal.gain, 2), abs(float(cal.apply(30.0 + 12.3456 * 2614.511)) - 2614.511) < 0.3
(12.35, True)
>>> fwhm, error = cal.fwhm_at(2039.061)
>>> bool(2.0 < fwhm < 2.5), bool(0 < error < 0.2)
(True, True)
>>> cal.hit_parameters("cuspEmax_ctc")["cuspEmax_ctc_cal"]["expression"]
'a + b*cuspEmax_ctc'
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import curve_fit

from tierflow.errors import CalibrationError

from .fitting import PeakFit, fit_peak
from .lines import QBB_KEV, TH228_LINES, TL208_KEV, Line, as_lines
from .peaks import _is_integer_valued, search_lines
from .shapes import FWHM_PER_SIGMA

#: parameter names of the polynomials, lowest order first
PARAMETER_NAMES = ("a", "b", "c")
#: format tag written into :meth:`EnergyCalibration.to_dict`
FORMAT = "tierflow.energy_calibration"


def _polynomial_expression(variable: str, deg: int) -> str:
    terms = ["a", f"b*{variable}", f"c*{variable}**2"]
    return " + ".join(terms[: deg + 1])


@dataclass
class ResolutionCurve:
    """FWHM (keV) against energy (keV): ``sqrt(a + b*E)``, or ``sqrt(a + b*E + c*E²)``.

    ``covariance`` is that of the parameters, scaled by χ²/ndf where that exceeds one.

    >>> curve = ResolutionCurve((0.6, 0.00215), np.diag([0.01, 1e-8]))
    >>> round(float(curve(2614.5)), 3), curve.expression
    (2.494, 'sqrt(a + b*E)')
    """

    parameters: tuple[float, ...]
    covariance: np.ndarray
    chi2: float = math.nan
    ndf: int = 0

    @property
    def deg(self) -> int:
        return len(self.parameters) - 1

    @property
    def expression(self) -> str:
        return f"sqrt({_polynomial_expression('E', self.deg)})"

    def __call__(self, energy: float | np.ndarray) -> np.ndarray:
        """FWHM (keV) at ``energy`` (keV)."""
        square = np.polynomial.polynomial.polyval(np.asarray(energy, np.float64), self.parameters)
        return np.sqrt(np.maximum(square, 0.0))

    def error(self, energy: float | np.ndarray) -> np.ndarray:
        """Uncertainty of the FWHM (keV) at ``energy``, from the parameters' covariance."""
        e = np.asarray(energy, np.float64)
        value = np.maximum(self(e), 1e-12)
        grad = np.stack([e**k for k in range(self.deg + 1)], axis=-1) / (2.0 * value[..., None])
        return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", grad, self.covariance, grad), 0.0))

    def to_dict(self) -> dict:
        return {
            "expression": self.expression,
            "parameters": dict(zip(PARAMETER_NAMES, map(float, self.parameters), strict=False)),
            "covariance": np.asarray(self.covariance, np.float64).tolist(),
            "chi2": _finite_or_none(self.chi2),
            "ndf": int(self.ndf),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ResolutionCurve:
        params = data["parameters"]
        values = tuple(float(params[k]) for k in PARAMETER_NAMES if k in params)
        return cls(
            values,
            np.asarray(data["covariance"], np.float64).reshape(len(values), len(values)),
            math.nan if data.get("chi2") is None else float(data["chi2"]),
            int(data.get("ndf", 0)),
        )


@dataclass
class EnergyCalibration:
    """An energy calibration: ``keV = a + b*raw (+ c*raw²)`` and the resolution curve.

    ``coefficients`` (lowest order first) and ``covariance`` are the polynomial's;
    ``chi2``/``ndf`` its goodness of fit; ``peaks`` holds one :class:`~.fitting.PeakFit`
    per line that was tried, in raw units (``status`` says whether it is used);
    ``resolution`` is the FWHM curve; ``n_events`` the number of energies calibrated;
    ``width`` says which width the curve describes: ``"peak"``, the FWHM of the fitted
    peak shape (Gaussian and tail), or ``"gaussian"``, 2.355 sigma of its Gaussian.

    :func:`calibrate` makes one; :meth:`read` and :meth:`from_dict` read one back:

    >>> cal = EnergyCalibration.from_dict({
    ...     "energy": {"parameters": {"a": 0.2, "b": 0.081}, "covariance": [[1e-4, 0], [0, 1e-12]]},
    ...     "resolution": {"parameters": {"a": 0.6, "b": 0.00215},
    ...                    "covariance": [[0.004, 0], [0, 2e-8]]}})
    >>> cal.apply([32275.0]).round(1).tolist(), round(cal.gain, 3)
    ([2614.5], 12.346)
    """

    coefficients: tuple[float, ...]
    covariance: np.ndarray
    peaks: tuple[PeakFit, ...]
    resolution: ResolutionCurve
    chi2: float = math.nan
    ndf: int = 0
    n_events: int = 0
    width: str = "peak"
    extra: dict = field(default_factory=dict)

    # conversion --------------------------------------------------------------------------
    @property
    def deg(self) -> int:
        """Degree of the calibration polynomial."""
        return len(self.coefficients) - 1

    @property
    def expression(self) -> str:
        """The calibration as an expression of the raw energy ``x``."""
        return _polynomial_expression("x", self.deg)

    def apply(self, raw: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Calibrated energies (keV) of ``raw``.

        >>> cal = EnergyCalibration((1.0, 0.5), np.zeros((2, 2)), (), ResolutionCurve((1.0, 0.0), np.zeros((2, 2))))
        >>> cal.apply([0.0, 10.0]).tolist()
        [1.0, 6.0]
        """
        return np.polynomial.polynomial.polyval(np.asarray(raw, np.float64), self.coefficients)

    __call__ = apply

    def derivative(self, raw: float | np.ndarray) -> np.ndarray:
        """keV per raw unit at ``raw``."""
        deriv = np.polynomial.polynomial.polyder(self.coefficients)
        return np.polynomial.polynomial.polyval(np.asarray(raw, np.float64), deriv)

    def to_raw(self, energy: float | np.ndarray) -> np.ndarray:
        """The raw value that calibrates to ``energy`` (keV): the inverse of :meth:`apply`."""
        e = np.asarray(energy, np.float64)
        c = self.coefficients
        if self.deg == 1:
            return (e - c[0]) / c[1]
        # quadratic: the root on the branch through the calibration points
        a, b, q = c[0] - e, c[1], c[2]
        disc = np.sqrt(np.maximum(b * b - 4 * q * a, 0.0))
        return (2 * -a) / (b + np.sign(b) * disc)

    def energy_error(self, raw: float | np.ndarray) -> np.ndarray:
        """Uncertainty (keV) of the calibrated energy at ``raw`` from the coefficients' covariance."""
        x = np.asarray(raw, np.float64)
        grad = np.stack([x**k for k in range(self.deg + 1)], axis=-1)
        return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", grad, self.covariance, grad), 0.0))

    @property
    def gain(self) -> float:
        """Raw units per keV at 2614.5 keV (the slope of the inverse calibration)."""
        return float(1.0 / self.derivative(self.to_raw(TL208_KEV)))

    @property
    def offset(self) -> float:
        """The raw value that calibrates to 0 keV."""
        return float(self.to_raw(0.0))

    # resolution --------------------------------------------------------------------------
    def fwhm_at(self, energy: float | np.ndarray) -> tuple:
        """FWHM (keV) at ``energy`` (keV) and its uncertainty, from the resolution curve.

        Floats for a float, arrays for an array.

        >>> curve = ResolutionCurve((0.6, 0.00215), np.diag([0.004, 2e-8]))
        >>> cal = EnergyCalibration((0.0, 0.1), np.zeros((2, 2)), (), curve)
        >>> [round(v, 3) for v in cal.fwhm_at(2039.061)]
        [2.232, 0.066]
        """
        value, error = self.resolution(energy), self.resolution.error(energy)
        if np.ndim(energy) == 0:
            return float(value), float(error)
        return value, error

    @property
    def fwhm_qbb(self) -> tuple[float, float]:
        """FWHM (keV) and its uncertainty at Q_bb = 2039.061 keV."""
        return self.fwhm_at(QBB_KEV)

    @property
    def fwhm_2614(self) -> tuple[float, float]:
        """FWHM (keV) and its uncertainty at 2614.5 keV."""
        return self.fwhm_at(TL208_KEV)

    # per peak ----------------------------------------------------------------------------
    @property
    def used_peaks(self) -> tuple[PeakFit, ...]:
        """The fits that went into the calibration."""
        return tuple(p for p in self.peaks if p.ok)

    def peak_fwhm(self, peak: PeakFit) -> tuple[float, float]:
        """FWHM (keV) of a fitted peak and its uncertainty (of the kind ``width`` names)."""
        if self.width == "gaussian":
            value, error = FWHM_PER_SIGMA * peak.sigma, FWHM_PER_SIGMA * peak.errors["sigma"]
        else:
            value, error = peak.fwhm_with_error()
        slope = abs(float(self.derivative(peak.position)))
        return value * slope, error * slope

    def peak_table(self) -> list[dict]:
        """One row per line: energy, status, fitted position, residual and FWHM in keV."""
        rows = []
        for peak in self.peaks:
            row: dict = {"line": peak.line.label, "energy": peak.line.energy, "status": peak.status}
            if peak.values:
                fwhm, fwhm_err = self.peak_fwhm(peak)
                slope = abs(float(self.derivative(peak.position)))
                row.update(
                    position=peak.position,
                    position_err=peak.position_err,
                    calibrated=float(self.apply(peak.position)),
                    residual=float(self.apply(peak.position)) - peak.line.energy,
                    fwhm=fwhm,
                    fwhm_err=fwhm_err,
                    gaussian_fwhm=peak.sigma * slope * FWHM_PER_SIGMA,
                    htail=peak.values["htail"],
                    tau=peak.values["tau_rel"] * peak.sigma * slope,
                    n_sig=peak.values["n_sig"],
                    n_sig_err=peak.errors["n_sig"],
                    deviance=peak.deviance,
                    ndf=peak.ndf,
                )
            rows.append(row)
        return rows

    def summary(self) -> str:
        """A few lines of text: the calibration, the FWHM at Q_bb and 2614.5 keV, each line."""
        params = ", ".join(
            f"{k} = {v:.6g} ± {math.sqrt(max(self.covariance[i, i], 0)):.2g}"
            for i, (k, v) in enumerate(zip(PARAMETER_NAMES, self.coefficients, strict=False))
        )
        qbb, top = self.fwhm_qbb, self.fwhm_2614
        lines = [
            f"E/keV = {self.expression}: {params} (χ²/ndf = {self.chi2:.1f}/{self.ndf}), "
            f"{self.n_events} events, {len(self.used_peaks)} of {len(self.peaks)} lines",
            f"FWHM = {self.resolution.expression}: {qbb[0]:.3f} ± {qbb[1]:.3f} keV at Qbb, "
            f"{top[0]:.3f} ± {top[1]:.3f} keV at 2614.5 keV",
        ]
        for row in self.peak_table():
            if "fwhm" in row and row["status"] == "ok":
                lines.append(
                    f"  {row['line']:>20}: residual {row['residual']:+.3f} keV, "
                    f"FWHM {row['fwhm']:.3f} ± {row['fwhm_err']:.3f} keV"
                )
            else:
                lines.append(f"  {row['line']:>20}: {row['status']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        qbb = self.fwhm_qbb
        return (
            f"EnergyCalibration({self.expression}, coefficients={list(self.coefficients)}, "
            f"{len(self.used_peaks)} lines, FWHM at Qbb {qbb[0]:.3f} ± {qbb[1]:.3f} keV)"
        )

    # output ------------------------------------------------------------------------------
    def hit_parameters(
        self, column_in: str = "cuspEmax_ctc", column_out: str | None = None
    ) -> dict:
        """The calibration as a hit-tier operation: ``{column_out: {expression, parameters}}``.

        ``column_out`` defaults to ``column_in + "_cal"``.

        >>> cal = EnergyCalibration((0.1, 0.25), np.zeros((2, 2)), (), ResolutionCurve((1.0, 0.0), np.zeros((2, 2))))
        >>> cal.hit_parameters("trapEmax")
        {'trapEmax_cal': {'expression': 'a + b*trapEmax', 'parameters': {'a': 0.1, 'b': 0.25}}}
        """
        column_out = f"{column_in}_cal" if column_out is None else column_out
        parameters = dict(zip(PARAMETER_NAMES, map(float, self.coefficients), strict=False))
        expression = _polynomial_expression(column_in, self.deg)
        return {column_out: {"expression": expression, "parameters": parameters}}

    def to_dict(self) -> dict:
        """Everything as plain data (JSON and YAML safe); :meth:`from_dict` reads it back."""
        table = {row["line"]: row for row in self.peak_table()}
        peaks = []
        for peak in self.peaks:
            entry = peak.to_dict()
            row = table.get(peak.line.label, {})
            if "fwhm" in row:
                entry["keV"] = {
                    k: _finite_or_none(row[k])
                    for k in ("calibrated", "residual", "fwhm", "fwhm_err", "gaussian_fwhm", "tau")
                }
            peaks.append(entry)
        qbb, top = self.fwhm_qbb, self.fwhm_2614
        return {
            "format": FORMAT,
            "version": 1,
            "n_events": int(self.n_events),
            "energy": {
                "expression": self.expression,
                "parameters": dict(
                    zip(PARAMETER_NAMES, map(float, self.coefficients), strict=False)
                ),
                "covariance": np.asarray(self.covariance, np.float64).tolist(),
                "chi2": _finite_or_none(self.chi2),
                "ndf": int(self.ndf),
                "gain": float(self.gain),
            },
            "resolution": {
                **self.resolution.to_dict(),
                "fwhm_qbb": {"energy": QBB_KEV, "fwhm": qbb[0], "error": qbb[1]},
                "fwhm_2614": {"energy": TL208_KEV, "fwhm": top[0], "error": top[1]},
                "width": self.width,
            },
            "peaks": peaks,
        }

    @classmethod
    def from_dict(cls, data: dict) -> EnergyCalibration:
        """An :class:`EnergyCalibration` from :meth:`to_dict`'s output."""
        if data.get("format", FORMAT) != FORMAT:
            raise ValueError(f"not an energy calibration: format {data.get('format')!r}")
        energy = data["energy"]
        coefficients = tuple(
            float(energy["parameters"][k]) for k in PARAMETER_NAMES if k in energy["parameters"]
        )
        n = len(coefficients)
        return cls(
            coefficients,
            np.asarray(energy["covariance"], np.float64).reshape(n, n),
            tuple(PeakFit.from_dict(p) for p in data.get("peaks", ())),
            ResolutionCurve.from_dict(data["resolution"]),
            math.nan if energy.get("chi2") is None else float(energy["chi2"]),
            int(energy.get("ndf", 0)),
            int(data.get("n_events", 0)),
            str(data["resolution"].get("width", "peak")),
        )

    def to_json(self, path: str | os.PathLike | None = None, *, indent: int | None = 1) -> str:
        """The calibration as JSON text, also written to ``path`` if given.

        >>> curve = ResolutionCurve((0.6, 0.00215), np.zeros((2, 2)))
        >>> text = EnergyCalibration((0.1, 0.25), np.zeros((2, 2)), (), curve).to_json()
        >>> json.loads(text)["energy"]["parameters"]
        {'a': 0.1, 'b': 0.25}
        >>> EnergyCalibration.from_dict(json.loads(text)).coefficients
        (0.1, 0.25)
        """
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            with open(path, "w") as f:
                f.write(text + "\n")
        return text

    def to_yaml(self, path: str | os.PathLike | None = None) -> str:
        """The calibration as YAML text, also written to ``path`` if given.

        >>> curve = ResolutionCurve((0.6, 0.00215), np.zeros((2, 2)))
        >>> text = EnergyCalibration((0.1, 0.25), np.zeros((2, 2)), (), curve).to_yaml()
        >>> print(text[text.index("energy:"):].splitlines()[2])
          parameters: {a: 0.1, b: 0.25}
        """
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=100)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    @classmethod
    def read(cls, path: str | os.PathLike) -> EnergyCalibration:
        """Read a calibration written by :meth:`to_json` or :meth:`to_yaml` (by file suffix)."""
        with open(path) as f:
            text = f.read()
        if os.fspath(path).endswith((".yaml", ".yml")):
            import yaml

            return cls.from_dict(yaml.safe_load(text))
        return cls.from_dict(json.loads(text))


def _finite_or_none(v: float | None) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


# ------------------------------------------------------------------------------------------
# the calibration


def _guess_fwhm(reference_fwhm: float, reference_energy: float, energy: float) -> float:
    """Scale a FWHM (keV) from one energy to another as ``sqrt(E + 300 keV)``."""
    return reference_fwhm * math.sqrt((energy + 300.0) / (reference_energy + 300.0))


def _window(line: Line, fwhm: float) -> tuple[float, float]:
    if line.window is not None:
        return line.window
    half = min(max(8.0 * fwhm, 8.0), 80.0)
    return half, half


def _fit_line(
    sorted_raw: np.ndarray,
    line: Line,
    all_lines: Sequence[Line],
    predict,
    fwhm_kev: float,
    *,
    n_bins: int | None,
    integer: bool,
    tail: bool | tuple[float, float],
    min_significance: float,
) -> PeakFit:
    center = float(predict(line.energy))
    below, above = _window(line, fwhm_kev)
    low = float(predict(line.energy - below))
    high = float(predict(line.energy + above))
    gain = (high - low) / (below + above)
    neighbours = [
        (other, float(predict(other.energy)) - center)
        for other in all_lines
        if other.energy != line.energy
        and line.energy - below - 2 * fwhm_kev < other.energy < line.energy + above + 2 * fwhm_kev
    ]
    fit = fit_peak(
        sorted_raw,
        center,
        fwhm_kev * gain,
        low=low,
        high=high,
        line=line,
        n_bins=n_bins,
        integer=integer,
        tail=tail,
        neighbours=neighbours,
        min_significance=min_significance,
    )
    if fit.ok:
        shift = abs(fit.position - center) / gain
        if shift > max(3.0 * fwhm_kev, 0.002 * line.energy):
            fit.status = (
                f"the peak was found {shift:.1f} keV from where the line pattern puts it "
                f"(more than 3 FWHM): probably another peak"
            )
    return fit


def _half_maximum_width(sorted_raw: np.ndarray, center: float, sigma: float) -> float:
    """Full width at half maximum (raw) of the peak near ``center``, measured on a histogram;
    ``2.355 * sigma`` where that fails."""
    fallback = FWHM_PER_SIGMA * sigma
    low, high = center - 8 * sigma, center + 8 * sigma
    edges = np.linspace(low, high, 81)
    counts = np.diff(np.searchsorted(sorted_raw, edges)).astype(np.float64)
    if counts.sum() < 50:
        return fallback
    counts = np.convolve(counts, [0.25, 0.5, 0.25], mode="same")
    base = min(counts[:10].mean(), counts[-10:].mean())
    centres = 0.5 * (edges[1:] + edges[:-1])
    middle = slice(20, 60)
    top = 20 + int(np.argmax(counts[middle]))
    half = base + 0.5 * (counts[top] - base)
    if counts[top] - base < 10:
        return fallback
    left = top
    while left > 0 and counts[left] > half:
        left -= 1
    right = top
    while right < len(counts) - 1 and counts[right] > half:
        right += 1
    if left == 0 or right == len(counts) - 1:
        return fallback

    def crossing(i: int, j: int) -> float:  # linear interpolation between bins i and j
        return centres[i] + (half - counts[i]) / (counts[j] - counts[i]) * (centres[j] - centres[i])

    width = crossing(right - 1, right) - crossing(left, left + 1) if right > left else 0.0
    return float(width) if width > 0 else fallback


def _signal_estimate(sorted_raw: np.ndarray, center: float, fwhm: float) -> float:
    """Events in a peak: counts within 1.5 FWHM of ``center`` minus the sidebands' level."""
    edges = center + fwhm * np.array([-4.5, -3.0, -1.5, 1.5, 3.0, 4.5])
    counts = np.diff(np.searchsorted(sorted_raw, edges))
    return float(counts[2] - 0.5 * (counts[0] + counts[4]) * 2.0) / 0.9


def _tail_shape(fits: Iterable[PeakFit], min_counts: float) -> tuple[float, float] | None:
    """Median tail fraction and length (in sigma) of the strong, good fits."""
    strong = [
        f for f in fits if f.ok and f.values["n_sig"] >= min_counts and "htail" not in f.fixed
    ]
    if not strong:
        return None
    return (
        float(np.median([f.values["htail"] for f in strong])),
        float(np.median([f.values["tau_rel"] for f in strong])),
    )


def _fit_energy_scale(
    positions: np.ndarray, errors: np.ndarray, energies: np.ndarray, deg: int
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Weighted fit of ``energies = P(positions)``; position errors enter through ``P'``.

    Returns coefficients, covariance, χ² and degrees of freedom.
    """
    scale = float(np.max(np.abs(positions)))
    xs = positions / scale
    design = np.vander(xs, deg + 1, increasing=True)
    coeffs = np.linalg.lstsq(design, energies, rcond=None)[0]
    cov = np.zeros((deg + 1, deg + 1))
    weights = np.ones_like(xs)
    for _ in range(4):
        slope = np.polynomial.polynomial.polyval(xs, np.polynomial.polynomial.polyder(coeffs))
        sigma = np.abs(slope) * errors / scale
        weights = 1.0 / np.maximum(sigma, 1e-12) ** 2
        normal = design.T @ (weights[:, None] * design)
        cov = np.linalg.pinv(normal)
        coeffs = cov @ (design.T @ (weights * energies))
    residual = energies - design @ coeffs
    chi2 = float(np.sum(weights * residual**2))
    factor = scale ** -np.arange(deg + 1)
    return coeffs * factor, cov * np.outer(factor, factor), chi2, len(energies) - (deg + 1)


def _fit_resolution(
    energies: np.ndarray, fwhm: np.ndarray, errors: np.ndarray, deg: int
) -> ResolutionCurve:
    """Fit ``FWHM = sqrt(a + b*E (+ c*E²))`` with the FWHM uncertainties."""
    errors = np.maximum(errors, 1e-6 * np.max(fwhm))
    design = np.vander(energies, deg + 1, increasing=True)
    w = 1.0 / (2 * fwhm * errors) ** 2
    start = np.linalg.lstsq(design * np.sqrt(w)[:, None], fwhm**2 * np.sqrt(w), rcond=None)[0]

    def model(e, *p):
        return np.sqrt(np.maximum(np.polynomial.polynomial.polyval(e, p), 1e-12))

    try:
        params, cov = curve_fit(model, energies, fwhm, p0=start, sigma=errors, absolute_sigma=True)
    except (RuntimeError, ValueError):
        params = start
        cov = np.linalg.pinv(design.T @ (w[:, None] * design))
    chi2 = float(np.sum(((fwhm - model(energies, *params)) / errors) ** 2))
    ndf = len(energies) - (deg + 1)
    if ndf > 0 and chi2 > ndf:
        cov = cov * (chi2 / ndf)
    return ResolutionCurve(tuple(float(p) for p in params), np.asarray(cov, np.float64), chi2, ndf)


def calibrate(
    energies: Sequence[float] | np.ndarray,
    lines: Iterable[Line | float] = TH228_LINES,
    *,
    deg: int = 1,
    fwhm_deg: int = 1,
    n_bins: int | None = None,
    tail: str | tuple[float, float] = "auto",
    min_lines: int | None = None,
    min_significance: float = 3.0,
    max_offset: float = 100.0,
    tail_counts: float = 1000.0,
    width: str = "peak",
) -> EnergyCalibration:
    """Calibrate uncalibrated ``energies`` (any gain, offset near zero) with ``lines``.

    Parameters
    ----------
    energies
        Uncalibrated energies (e.g. trapezoid or cusp maxima, ADC); non-finite values
        are ignored.
    lines
        The line list (:data:`~.lines.TH228_LINES` by default, or energies in keV): lines
        with ``use`` set are fitted and calibrated on, the others only modelled when they
        fall into a fit window.
    deg
        Degree of the energy polynomial, 1 (linear) or 2 (quadratic).
    fwhm_deg
        1 for ``FWHM = sqrt(a + b*E)``, 2 to add a ``c*E²`` term.
    n_bins
        Bins per fit window; by default the bins are a quarter of the expected FWHM wide.
    tail
        ``"auto"`` fits the low-side tail of peaks with at least ``tail_counts`` events
        and fixes weaker peaks' tails to the median shape of those; ``"free"`` fits every
        tail, ``"none"`` fits Gaussians with a step, a pair ``(htail, tau/sigma)`` fixes
        the tail everywhere.
    min_lines
        Fewest fitted lines to accept (default ``deg + 2``).
    min_significance
        Fewest standard deviations of a peak's area for the line to count as found.
    max_offset
        Largest offset (keV) that the line-pattern search considers.
    tail_counts
        Fewest events in a peak for its tail to be fitted freely when ``tail="auto"``.
    width
        The width the resolution curve describes: ``"peak"`` (default), the FWHM of
        the fitted peak shape, Gaussian and tail together; ``"gaussian"``, 2.355 times
        the Gaussian's sigma.

    Raises
    ------
    CalibrationError
        When fewer than ``min_lines`` lines are found; the message names the lines found
        and why each other line failed.

    Four lines at 0.9 raw units per keV, on a flat background:

    >>> rng = np.random.default_rng(0)
    >>> lines = [238.632, 583.187, 1460.8, 2614.511]
    >>> keV = np.concatenate([rng.normal(e, 0.5 + e / 2000, 3000) for e in lines])
    >>> raw = 0.9 * np.concatenate([keV, rng.uniform(100, 2700, 20_000)])
    >>> cal = calibrate(raw, lines)
    >>> abs(cal.gain / 0.9 - 1) < 1e-3, [p.status for p in cal.peaks]
    (True, ['ok', 'ok', 'ok', 'ok'])
    >>> calibrate(raw[:50], lines)
    Traceback (most recent call last):
    ...
    tierflow.errors.CalibrationError: energy calibration of 50 events failed: ...
    """
    if deg not in (1, 2):
        raise ValueError(f"deg must be 1 or 2, not {deg}")
    if fwhm_deg not in (1, 2):
        raise ValueError(f"fwhm_deg must be 1 or 2, not {fwhm_deg}")
    if tail not in ("auto", "free", "none") and not (isinstance(tail, tuple) and len(tail) == 2):
        raise ValueError(f"tail must be 'auto', 'free', 'none' or (htail, tau/sigma), not {tail!r}")
    if width not in ("peak", "gaussian"):
        raise ValueError(f"width must be 'peak' or 'gaussian', not {width!r}")
    min_lines = deg + 2 if min_lines is None else int(min_lines)
    all_lines = as_lines(lines)
    used = tuple(line for line in all_lines if line.use)
    if len(used) < max(min_lines, 3):
        raise ValueError(
            f"{len(used)} lines to calibrate on, at least {max(min_lines, 3)} needed "
            f"(a degree-{deg} polynomial and the search for the line pattern)"
        )
    x = np.asarray(energies, np.float64).ravel()
    x = x[np.isfinite(x)]
    try:
        search = search_lines(x, used, deg=deg, max_offset=max_offset)
    except CalibrationError as err:
        raise CalibrationError(
            f"energy calibration of {len(x)} events failed: {err.reason}",
            found=err.found,
            reasons=err.reasons,
        ) from None
    sorted_raw = np.sort(x)
    integer = _is_integer_valued(x) if len(x) else False

    # the most significant matched line first: its width sets the others' windows
    first = max(search.matched, key=lambda e: search.matched[e].significance)
    first_line = next(line for line in used if line.energy == first)
    gain_first = search.gain_at(first)
    fwhm_guess = (
        _half_maximum_width(sorted_raw, float(search.predict(first)), search.matched[first].sigma)
        / gain_first
    )
    base_tail: bool | tuple[float, float] = (
        tail if isinstance(tail, tuple) else {"auto": True, "free": True, "none": False}[tail]
    )

    def fit(line: Line, fwhm_kev: float, shape: bool | tuple[float, float]) -> PeakFit:
        return _fit_line(
            sorted_raw,
            line,
            all_lines,
            search.predict,
            fwhm_kev,
            tail=shape,
            n_bins=n_bins,
            integer=integer,
            min_significance=min_significance,
        )

    reference = fit(first_line, fwhm_guess, base_tail)
    ref_fwhm = fwhm_guess
    if reference.ok:
        ref_fwhm = reference.fwhm / gain_first
        if abs(ref_fwhm / fwhm_guess - 1.0) > 0.25:  # window and bins were made for another width
            refit = fit(first_line, ref_fwhm, base_tail)
            if refit.ok:
                reference = refit
                ref_fwhm = refit.fwhm / gain_first
    fits: dict[float, PeakFit] = {first: reference}
    others = [line for line in used if line.energy != first]
    guesses = {line.energy: _guess_fwhm(ref_fwhm, first, line.energy) for line in others}
    if tail != "auto":
        for line in others:
            fits[line.energy] = fit(line, guesses[line.energy], base_tail)
    else:
        # strong peaks show their tails: fit those freely, then give weak peaks their median shape
        counts = {
            line.energy: _signal_estimate(
                sorted_raw,
                float(search.predict(line.energy)),
                guesses[line.energy] * search.gain_at(line.energy),
            )
            for line in others
        }
        strong = [line for line in others if counts[line.energy] >= tail_counts]
        weak = [line for line in others if counts[line.energy] < tail_counts]
        for line in strong:
            fits[line.energy] = fit(line, guesses[line.energy], True)
        shape = _tail_shape(fits.values(), tail_counts)
        for line in weak:
            fits[line.energy] = fit(line, guesses[line.energy], shape or True)
        if shape is not None:  # a strong peak whose free tail failed gets the shape too
            for line in [first_line, *strong]:
                if not fits[line.energy].ok:
                    guess = ref_fwhm if line is first_line else guesses[line.energy]
                    refit = fit(line, guess, shape)
                    if refit.ok:
                        fits[line.energy] = refit

    peaks = tuple(fits[line.energy] for line in used)
    good = [p for p in peaks if p.ok]
    if len(good) < min_lines:
        raise CalibrationError(
            f"energy calibration of {len(x)} events failed: {len(good)} of {len(peaks)} lines fitted, at least "
            f"{min_lines} needed for a degree-{deg} polynomial",
            found=[p.line.label for p in good],
            reasons={p.line.label: p.status for p in peaks if not p.ok},
        )

    positions = np.array([p.position for p in good])
    position_errors = np.array([p.position_err for p in good])
    line_energies = np.array([p.line.energy for p in good])
    coeffs, cov, chi2, ndf = _fit_energy_scale(positions, position_errors, line_energies, deg)
    if deg == 1 and ndf > 0 and chi2 / ndf > 25.0:
        residual = np.polynomial.polynomial.polyval(positions, coeffs) - line_energies
        warnings.warn(
            f"the linear calibration misses lines by up to {np.max(np.abs(residual)):.2f} keV "
            f"(χ²/ndf = {chi2:.0f}/{ndf}): the detector may need deg=2",
            stacklevel=2,
        )
    calibration = EnergyCalibration(
        tuple(float(c) for c in coeffs),
        cov,
        peaks,
        ResolutionCurve((0.0,) * (fwhm_deg + 1), np.zeros((fwhm_deg + 1,) * 2)),
        chi2,
        ndf,
        len(x),
        width,
    )

    width_points = [p for p in good if p.line.resolution]
    widths = np.array([calibration.peak_fwhm(p) for p in width_points]).reshape(-1, 2)
    usable = np.isfinite(widths).all(axis=1) & (widths[:, 1] > 0)
    if usable.sum() < fwhm_deg + 1:
        raise CalibrationError(
            f"resolution fit failed: {int(usable.sum())} line widths measured, at least "
            f"{fwhm_deg + 1} needed for FWHM = sqrt(polynomial of degree {fwhm_deg})",
            found=[p.line.label for p in good],
            reasons={p.line.label: p.status for p in peaks if not p.ok},
        )
    e_points = np.array([p.line.energy for p in width_points])[usable]
    calibration.resolution = _fit_resolution(
        e_points, widths[usable, 0], widths[usable, 1], fwhm_deg
    )
    return calibration
