"""Channels: what one simulated detector and its FlashCam readout look like.

A :class:`Channel` holds the detector's response (gain, baseline, noise, decay time,
rise times, resolution) and the readout address that LEGEND's raw tier records.
The raw channel id ("rawid") of a FlashCam channel is
``fcid * 1_000_000 + board_id * 100 + fc_input``; the table is named ``ch{rawid:07d}``.

The defaults are modelled on LEGEND-200 calibration data (p03): baseline near
15000 ADC, 6.5 ADC/keV (2614.5 keV is 17000 ADC above the baseline, the ADC
saturates near 7.8 MeV), 15 ADC rms band-limited noise, decay time near 450 us,
rise times (10-90 %) of 300-700 ns.

>>> ch = Channel(1084803)
>>> ch.name, ch.fcid, ch.board_id, ch.fc_input
('ch1084803', 1, 848, 3)
>>> [c.name for c in default_channels(3)]
['ch1084803', 'ch1084804', 'ch1121600']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import SimulationError
from .spectrum import Resolution


@dataclass(frozen=True)
class Channel:
    """One detector channel.

    Parameters
    ----------
    rawid
        FlashCam raw channel id, ``fcid*1_000_000 + board_id*100 + fc_input``.
    gain
        ADC counts per keV (of the pole-zero corrected pulse height).
    baseline
        Mean baseline (ADC).
    noise
        Standard deviation (ADC) of the fast noise: white noise band-limited by the
        preamplifier and the anti-aliasing filter (correlation time ``noise_time``, ns).
    drift
        Standard deviation (ADC) of the slow baseline noise (correlation time
        ``drift_time``, ns): what makes baselines differ from event to event.
    tau
        Decay time (ns) of the charge-sensitive preamplifier.
    rise_time
        Range (ns) from which each pulse's 10-90 % rise time is drawn uniformly.
    current_exponent
        Range from which each pulse's current exponent ``k`` is drawn uniformly (the
        current grows as ``x^k`` while the charge drifts; see :mod:`.pulses`).
    resolution
        Energy resolution of the detector.
    daq_channel
        The FlashCam trace index, stored in the raw ``channel`` column.
    crate, slot
        Readout crate and slot numbers, stored as they are.
    """

    rawid: int
    gain: float = 6.5
    baseline: float = 15000.0
    noise: float = 15.0
    noise_time: float = 24.0
    drift: float = 3.0
    drift_time: float = 200_000.0
    tau: float = 450_000.0
    rise_time: tuple[float, float] = (300.0, 700.0)
    current_exponent: tuple[float, float] = (2.0, 4.5)
    resolution: Resolution = field(default_factory=Resolution)
    daq_channel: int = 0
    crate: int = 1
    slot: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.rawid < 10**9:
            raise SimulationError(f"rawid {self.rawid} is not a FlashCam channel id")
        if self.gain <= 0 or self.tau <= 0:
            raise SimulationError(f"channel {self.rawid}: gain and tau must be positive")
        lo, hi = self.rise_time
        if not 0 < lo <= hi:
            raise SimulationError(f"channel {self.rawid}: rise_time must be 0 < low <= high (ns)")
        if not 0 <= self.current_exponent[0] <= self.current_exponent[1]:
            raise SimulationError(
                f"channel {self.rawid}: current_exponent must be 0 <= low <= high"
            )
        if min(self.noise, self.drift) < 0 or min(self.noise_time, self.drift_time) <= 0:
            raise SimulationError(f"channel {self.rawid}: noise levels >= 0 and times > 0 please")

    @property
    def name(self) -> str:
        """The raw-tier group name, ``ch{rawid:07d}``."""
        return f"ch{self.rawid:07d}"

    @property
    def fcid(self) -> int:
        return self.rawid // 1_000_000

    @property
    def board_id(self) -> int:
        return (self.rawid // 100) % 10_000

    @property
    def fc_input(self) -> int:
        return self.rawid % 100

    def saturation_energy(self, adc_max: int = 65535) -> float:
        """The energy (keV) above which the pulse leaves the ADC range.

        >>> round(Channel(1084803).saturation_energy())
        7775
        """
        return (adc_max - self.baseline) / self.gain


#: the first channels of :func:`default_channels`: those of the real p03 raw files,
#: with their (crate, slot)
_FIRST_RAWIDS = (1084803, 1084804, 1121600)
_KNOWN_SLOTS = {1084803: (1, 5), 1084804: (1, 5), 1121600: (0, 12)}


_FIRST_SPARE_BOARD = 1104


def _rawids(n: int) -> list[int]:
    ids = list(_FIRST_RAWIDS[:n])
    board = _FIRST_SPARE_BOARD
    while len(ids) < n:
        for fc_input in range(6):
            rawid = 1_000_000 + board * 100 + fc_input
            if rawid not in ids and len(ids) < n:
                ids.append(rawid)
        board += 1
    return ids


def default_channels(n: int = 3) -> tuple[Channel, ...]:
    """``n`` channels with distinct, fixed, realistic parameters.

    Each channel's gain (5.8-7.2 ADC/keV), baseline (14000-15500 ADC), noise,
    decay time (380-520 us), rise-time and current-exponent ranges are drawn from a generator seeded
    with its rawid, so a channel looks the same whatever ``n`` is.

    >>> a, b = default_channels(2)
    >>> a.rawid, b.rawid, a == default_channels(5)[0], a.gain != b.gain
    (1084803, 1084804, True, True)
    """
    channels = []
    for index, rawid in enumerate(_rawids(int(n))):
        rng = np.random.default_rng(rawid)
        low = float(rng.uniform(250.0, 350.0))
        k_low = round(float(rng.uniform(1.5, 2.5)), 2)
        board = (rawid // 100) % 10_000
        # boards after the real ones fill crates 2, 3, ... slot by slot: ORCA finds a
        # FlashCam card by (crate, slot), so no two boards may share one
        spare = board - _FIRST_SPARE_BOARD
        crate, slot = _KNOWN_SLOTS.get(rawid, (2 + spare // 16, spare % 16))
        channels.append(
            Channel(
                rawid=rawid,
                gain=round(float(rng.uniform(5.8, 7.2)), 3),
                baseline=float(round(rng.uniform(14000.0, 15500.0))),
                noise=round(float(rng.uniform(12.0, 18.0)), 2),
                drift=round(float(rng.uniform(2.0, 4.0)), 2),
                tau=round(float(rng.uniform(380_000.0, 520_000.0)), -2),
                rise_time=(float(round(low)), float(round(low + rng.uniform(250.0, 450.0)))),
                current_exponent=(k_low, round(k_low + float(rng.uniform(1.5, 2.5)), 2)),
                daq_channel=index,
                crate=crate,
                slot=slot,
            )
        )
    return tuple(channels)
