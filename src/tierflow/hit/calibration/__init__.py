"""Energy calibration of germanium detectors with gamma lines (Th-228 built in).

:func:`calibrate` takes uncalibrated energies (any gain, offset near zero), finds the
lines without a guess of the gain, fits each with a Gaussian, a low-side tail and a
step on a linear background (binned likelihood), then fits energy against position
(linear or quadratic) and FWHM against energy. The :class:`EnergyCalibration` it
returns converts to keV, gives the FWHM at Q_bb and 2614.5 keV with uncertainties,
writes JSON/YAML and the hit-tier parameters; :func:`plot_peaks`,
:func:`plot_calibration`, :func:`plot_spectrum` and :func:`save_plots` draw it.

>>> import numpy as np
>>> from tierflow.sim.spectrum import sample_energies
>>> raw = 6.5 * sample_energies(20_000, np.random.default_rng(4)).smeared
>>> cal = calibrate(raw)  # doctest: +SKIP
>>> cal.fwhm_qbb  # doctest: +SKIP
(2.29..., 0.05...)
>>> cal.to_yaml("cal.yaml")  # doctest: +SKIP
>>> save_plots(cal, "plots", raw)  # doctest: +SKIP

(:mod:`tierflow.hit.calibration.energy` has an example that runs.)

>>> [line.label for line in TH228_LINES if line.use][-2:]
['Tl-208 SEP 2103.5 keV', 'Tl-208 2614.5 keV']
"""

from tierflow.errors import CalibrationError

from .energy import EnergyCalibration, ResolutionCurve, calibrate
from .fitting import PeakFit, fit_peak
from .lines import QBB_KEV, TH228_LINES, TL208_KEV, Line, as_lines
from .peaks import Candidate, PeakSearch, find_candidates, match_lines, search_lines
from .plots import plot_calibration, plot_peaks, plot_spectrum, save_plots
from .shapes import PeakModel, peak_fwhm

__all__ = [
    "QBB_KEV",
    "TH228_LINES",
    "TL208_KEV",
    "CalibrationError",
    "Candidate",
    "EnergyCalibration",
    "Line",
    "PeakFit",
    "PeakModel",
    "PeakSearch",
    "ResolutionCurve",
    "as_lines",
    "calibrate",
    "find_candidates",
    "fit_peak",
    "match_lines",
    "peak_fwhm",
    "plot_calibration",
    "plot_peaks",
    "plot_spectrum",
    "save_plots",
    "search_lines",
]
