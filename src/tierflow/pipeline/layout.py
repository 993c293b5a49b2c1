"""LEGEND's file layout: names ``{exp}-{period}-{run}-{type}-{timestamp}-tier_{tier}.lh5``
under ``tier/{tier}/{type}/{period}/{run}/``, and finding raw files by glob or template."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

from ..errors import TierflowError

_NAME = re.compile(
    r"^(?P<experiment>[^-/]+)-(?P<period>p\d+)-(?P<run>r\d+)-(?P<type>[a-z]+)-"
    r"(?P<timestamp>\d{8}T\d{6}Z)-tier_(?P<tier>[a-z0-9]+)\.lh5$"
)
_DAQ_NAME = re.compile(
    r"^(?P<experiment>[^-/]+)-(?P<period>p\d+)-(?P<run>r\d+)-(?P<type>[a-z]+)-"
    r"(?P<timestamp>\d{8}T\d{6}Z)(?:-tier_daq)?\.(?P<extension>[A-Za-z0-9]+(?:\.gz)?)$"
)
_FIELDS = ("period", "run", "type", "timestamp")


class LayoutError(TierflowError, ValueError):
    """A file name or template that does not follow LEGEND's layout."""


@dataclass(frozen=True, order=True)
class CycleKey:
    """One DAQ cycle: what a tier file of it is named after.

    >>> key = CycleKey.from_path("/d/l200-p03-r001-cal-20230318T012144Z-tier_raw.lh5")
    >>> key.run_type, key.file_name("dsp")
    ('cal', 'l200-p03-r001-cal-20230318T012144Z-tier_dsp.lh5')
    >>> key.tier_path("/out", "hit")
    '/out/tier/hit/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_hit.lh5'
    """

    experiment: str
    period: str
    run: str
    run_type: str
    timestamp: str

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> CycleKey:
        name = os.path.basename(os.fspath(path))
        match = _NAME.match(name)
        if match is None:
            raise LayoutError(
                f"{name!r} is not named like {{exp}}-{{period}}-{{run}}-{{type}}-{{timestamp}}-"
                "tier_{tier}.lh5 (for example l200-p03-r001-cal-20230318T012144Z-tier_raw.lh5)"
            )
        g = match.groupdict()
        return cls(g["experiment"], g["period"], g["run"], g["type"], g["timestamp"])

    @classmethod
    def from_daq_path(cls, path: str | os.PathLike) -> CycleKey:
        """The cycle of a DAQ file named ``{exp}-{period}-{run}-{type}-{timestamp}.{ext}``
        (LEGEND's DAQ tier, with or without ``-tier_daq``).

        >>> CycleKey.from_daq_path("/d/l200-p03-r001-cal-20230318T012144Z.orca").stem
        'l200-p03-r001-cal-20230318T012144Z'
        """
        name = os.path.basename(os.fspath(path))
        match = _DAQ_NAME.match(name)
        if match is None:
            raise LayoutError(
                f"{name!r} is not named like {{exp}}-{{period}}-{{run}}-{{type}}-{{timestamp}}.{{ext}}"
                " (for example l200-p03-r001-cal-20230318T012144Z.orca)"
            )
        g = match.groupdict()
        return cls(g["experiment"], g["period"], g["run"], g["type"], g["timestamp"])

    @property
    def stem(self) -> str:
        return f"{self.experiment}-{self.period}-{self.run}-{self.run_type}-{self.timestamp}"

    def file_name(self, tier: str) -> str:
        """The file name of this cycle's ``tier`` file."""
        return f"{self.stem}-tier_{tier}.lh5"

    def tier_path(self, root: str | os.PathLike, tier: str) -> str:
        """Where this cycle's ``tier`` file lives under ``root``."""
        return os.path.join(
            os.fspath(root),
            "tier",
            tier,
            self.run_type,
            self.period,
            self.run,
            self.file_name(tier),
        )

    @property
    def run_key(self) -> tuple[str, str, str]:
        """(experiment, period, run): the cycles that share calibrations."""
        return self.experiment, self.period, self.run

    def __str__(self) -> str:
        return self.stem


def parameters_path(root: str | os.PathLike, key: CycleKey) -> str:
    """Where the hit parameters of the run of ``key`` (from its calibration cycles) are kept.

    >>> parameters_path("/out", CycleKey("l200", "p03", "r001", "cal", "20230318T012144Z"))
    '/out/par/hit/cal/p03/r001/l200-p03-r001-cal-par_hit.json'
    """
    return os.path.join(
        os.fspath(root),
        "par",
        "hit",
        "cal",
        key.period,
        key.run,
        f"{key.experiment}-{key.period}-{key.run}-cal-par_hit.json",
    )


def find_raw_files(pattern: str) -> list[str]:
    """Raw (or DAQ) files a glob or a path template (``{period}``, ``{run}``, ``{type}``,
    ``{timestamp}``) names, sorted by cycle.

    >>> find_raw_files("/nowhere/{period}/*.lh5")
    []
    """
    globbed = pattern
    for field in _FIELDS:
        globbed = globbed.replace("{" + field + "}", "*")
    if "{" in globbed or "}" in globbed:
        raise LayoutError(
            f"raw file template {pattern!r} uses a field other than {{period}}, {{run}}, "
            "{type} and {timestamp}"
        )
    paths = sorted(glob.glob(os.path.expanduser(os.path.expandvars(globbed))))
    return sorted(paths, key=lambda p: (_sort_key(p), p))


def _sort_key(path: str) -> tuple:
    for parse in (CycleKey.from_path, CycleKey.from_daq_path):
        try:
            key = parse(path)
        except LayoutError:
            continue
        return (key.period, key.run, key.timestamp, key.run_type)
    return ("",)
