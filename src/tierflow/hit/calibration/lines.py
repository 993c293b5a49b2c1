"""Gamma lines for energy calibration: the Th-228 list and how lines are described.

A :class:`Line` is an energy (keV) with a name and two flags: ``use`` (fit it and put
it into the energy calibration) and ``resolution`` (put its width into the
FWHM-vs-energy fit). Lines with ``use=False`` are not calibrated on, but a fit
window that contains one models it as a second Gaussian (the 241.0 keV Ra-224 line
beside the 238.6 keV Pb-212 line, for example).

The single-escape peak is used for the energy scale but not for the resolution: one
of its annihilation photons escaped, and the Doppler broadening of the 511 keV
line widens it.

>>> [line.energy for line in TH228_LINES if line.use]
[238.632, 583.187, 727.33, 860.557, 1592.513, 1620.5, 2103.512, 2614.511]
>>> as_lines([583.2, 2614.5])[1]
Line(energy=2614.5, name='2614.5 keV', use=True, resolution=True, window=None)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: the electron rest energy (keV)
ELECTRON_MASS_KEV = 510.99895
#: Q value of the neutrinoless double-beta decay of Ge-76 (keV)
QBB_KEV = 2039.061
#: energy of the Tl-208 line that ends every Th-228 spectrum (keV)
TL208_KEV = 2614.511


@dataclass(frozen=True)
class Line:
    """A gamma line.

    Parameters
    ----------
    energy
        Energy (keV).
    name
        What to call it in plots and messages, e.g. ``"Tl-208"`` or ``"Tl-208 DEP"``.
    use
        Fit this line and use it in the energy calibration; a line with ``use=False`` is
        only modelled, as an extra Gaussian, when it falls into another line's window.
    resolution
        Use the line's width in the FWHM-vs-energy fit.
    window
        Fit window ``(below, above)`` in keV around the line; ``None`` chooses one from
        the resolution (8 FWHM on either side, at least 8 keV).

    >>> Line(2614.511, "Tl-208").label
    'Tl-208 2614.5 keV'
    """

    energy: float
    name: str = ""
    use: bool = True
    resolution: bool = True
    window: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not self.energy > 0:
            raise ValueError(f"a line energy must be positive, not {self.energy}")
        if not self.name:
            object.__setattr__(self, "name", f"{self.energy:.1f} keV")
        if self.window is not None:
            below, above = self.window
            if not (below > 0 and above > 0):
                raise ValueError(
                    f"line {self.energy} keV: window {self.window} must be two positive widths"
                )
            object.__setattr__(self, "window", (float(below), float(above)))

    @property
    def label(self) -> str:
        """The name and the energy, e.g. ``"Tl-208 2614.5 keV"``."""
        energy = f"{self.energy:.1f} keV"
        return self.name if self.name.endswith(energy) else f"{self.name} {energy}"

    def to_dict(self) -> dict:
        """The line as plain data (see :meth:`from_dict`).

        >>> Line.from_dict(Line(583.187, "Tl-208").to_dict()) == Line(583.187, "Tl-208")
        True
        """
        out = {"energy": self.energy, "name": self.name, "use": self.use}
        out["resolution"] = self.resolution
        if self.window is not None:
            out["window"] = list(self.window)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Line:
        """A line from :meth:`to_dict`'s output."""
        window = data.get("window")
        return cls(
            float(data["energy"]),
            str(data.get("name", "")),
            bool(data.get("use", True)),
            bool(data.get("resolution", True)),
            None if window is None else (float(window[0]), float(window[1])),
        )


#: Th-228 chain lines seen by a germanium detector (NNDC energies); the eight with
#: ``use=True`` are those LEGEND calibrates on; the others are modelled when they fall
#: into a fit window. DEP and SEP are the double- and single-escape peaks of 2614.5 keV.
TH228_LINES: tuple[Line, ...] = (
    Line(238.632, "Pb-212"),
    Line(240.986, "Ra-224", use=False),
    Line(277.371, "Tl-208", use=False),
    Line(300.087, "Pb-212", use=False),
    Line(510.77, "Tl-208", use=False, resolution=False),
    Line(583.187, "Tl-208"),
    Line(727.330, "Bi-212"),
    Line(763.13, "Tl-208", use=False),
    Line(785.37, "Bi-212", use=False),
    Line(860.557, "Tl-208"),
    Line(893.408, "Bi-212", use=False),
    Line(1078.62, "Bi-212", use=False),
    Line(1512.7, "Bi-212", use=False),
    Line(round(TL208_KEV - 2 * ELECTRON_MASS_KEV, 3), "Tl-208 DEP"),
    Line(1620.50, "Bi-212"),
    Line(round(TL208_KEV - ELECTRON_MASS_KEV, 3), "Tl-208 SEP", resolution=False),
    Line(TL208_KEV, "Tl-208"),
)


def as_lines(lines: Iterable[Line | float]) -> tuple[Line, ...]:
    """``lines`` as :class:`Line` objects sorted by energy; plain numbers become used lines.

    >>> [line.name for line in as_lines([2614.5, Line(583.2, "Tl-208")])]
    ['Tl-208', '2614.5 keV']
    """
    out = []
    for line in lines:
        if isinstance(line, Line):
            out.append(line)
        elif isinstance(line, dict):
            out.append(Line.from_dict(line))
        else:
            out.append(Line(float(line)))
    out.sort(key=lambda line: line.energy)
    energies = [line.energy for line in out]
    if len(set(energies)) != len(energies):
        raise ValueError(f"the line list has repeated energies: {energies}")
    return tuple(out)
