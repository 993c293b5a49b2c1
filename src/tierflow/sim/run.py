"""A simulated data-taking run: raw-tier LH5 files in LEGEND's layout, with their truth beside them.

:func:`simulate_run` writes ``n_files`` cycles. Each cycle is one raw file,
``{outdir}/tier/raw/{type}/{period}/{run}/{exp}-{period}-{run}-{type}-{timestamp}-tier_raw.lh5``,
holding one table ``chNNNNNNN/raw`` per channel (see :mod:`.raw`), and one truth
file at the same place in a ``truth`` tier,
``{outdir}/tier/truth/{type}/{period}/{run}/{exp}-{period}-{run}-{type}-{timestamp}-tier_truth.lh5``,
with a table ``chNNNNNNN/truth`` per channel whose rows match the raw rows one to
one (see :mod:`.events`). The file timestamp is the cycle's start (UTC); cycles
follow each other without gaps, each starting on a whole second.

Every channel table of a cycle has ``n_events`` rows: physics events at ``rate``
Hz per channel (uniform in time, a Poisson process given its count) and test-pulser
events every ``1/pulser_rate`` seconds, which fire in all channels at once and so
share an event number. Event numbers and packet ids count events and records
across the channels of a cycle, in time order.

>>> import tempfile
>>> result = simulate_run(tempfile.mkdtemp(), n_events=3, channels=2, seed=1)
>>> [p.split("/tier/")[1] for p in result.raw_files]
['raw/cal/p00/r000/l200-p00-r000-cal-20230101T000000Z-tier_raw.lh5']
>>> from tierflow import lh5
>>> lh5.ls(result.raw_files[0], "ch*/*"), lh5.ls(result.truth_files[0], "ch*/*")
(['ch1084803/raw', 'ch1084804/raw'], ['ch1084803/truth', 'ch1084804/truth'])
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .. import lh5
from ..errors import SimulationError
from ..types import Table
from .channels import Channel, default_channels
from .events import T0_RANGE, draw_events, render_events, truth_table
from .pulses import N_SAMPLES, SAMPLING_PERIOD
from .raw import TICKS_PER_SECOND, raw_table
from .spectrum import PULSER_ENERGY

#: how LEGEND writes a cycle's start time in file names
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_TOKEN = re.compile(r"^[A-Za-z0-9]+$")


@dataclass(frozen=True)
class SimulatedRun:
    """What :func:`simulate_run` wrote: paths of the raw and truth files (one per
    cycle, in time order), the channels, and the number of waveforms in all."""

    raw_files: tuple[str, ...]
    truth_files: tuple[str, ...]
    channels: tuple[Channel, ...]
    n_waveforms: int


def tier_file_path(
    outdir: str | os.PathLike,
    tier: str,
    *,
    experiment: str = "l200",
    period: str,
    run: str,
    run_type: str,
    timestamp: str,
) -> str:
    """Where LEGEND keeps a cycle's file of a tier, under ``outdir``.

    >>> tier_file_path("/data", "raw", period="p03", run="r001", run_type="cal",
    ...                timestamp="20230318T012144Z")
    '/data/tier/raw/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_raw.lh5'
    """
    for name, value in (
        ("tier", tier),
        ("experiment", experiment),
        ("period", period),
        ("run", run),
        ("run_type", run_type),
        ("timestamp", timestamp),
    ):
        if not _TOKEN.match(str(value)):
            raise SimulationError(
                f"{name} {value!r} must be letters and digits only (LEGEND file names use '-' and '_' as separators)"
            )
    name = f"{experiment}-{period}-{run}-{run_type}-{timestamp}-tier_{tier}.lh5"
    return os.path.join(os.fspath(outdir), "tier", tier, run_type, period, run, name)


def _start_seconds(start: str | datetime) -> int:
    if isinstance(start, datetime):
        moment = start if start.tzinfo else start.replace(tzinfo=timezone.utc)
    else:
        try:
            moment = datetime.strptime(start, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError as err:
            raise SimulationError(f"start {start!r} is not a time like '20230318T012144Z'") from err
    return math.floor(moment.timestamp())


def _channels(channels: int | Sequence[Channel]) -> tuple[Channel, ...]:
    if isinstance(channels, int | np.integer):
        if channels < 1:
            raise SimulationError(f"need at least one channel, not {channels}")
        return default_channels(int(channels))
    chosen = tuple(channels)
    if not chosen or not all(isinstance(c, Channel) for c in chosen):
        raise SimulationError("channels must be a count or a non-empty sequence of Channel")
    rawids = [c.rawid for c in chosen]
    if len(set(rawids)) != len(rawids):
        raise SimulationError(f"channel rawids repeat: {rawids}")
    return chosen


@dataclass
class _Cycle:
    """Event times of one cycle: per channel, seconds since its start and pulser flags."""

    duration: float
    times: list[np.ndarray]
    is_pulser: list[np.ndarray]
    eventnumber: list[np.ndarray]
    packet_id: list[np.ndarray]
    numtraces: list[np.ndarray]


def _cycle(
    n_events: int,
    rate: float,
    pulser_rate: float,
    timeline_rng: np.random.Generator,
    channel_rngs: Sequence[np.random.Generator],
) -> _Cycle:
    duration = n_events / (rate + pulser_rate)
    if pulser_rate > 0:
        period = 1.0 / pulser_rate
        phase = timeline_rng.random() * period
        pulses = phase + period * np.arange(max(0, math.ceil((duration - phase) / period)))
        pulses = pulses[pulses < duration][:n_events]
    else:
        pulses = np.zeros(0)
    pulses = np.floor(pulses * TICKS_PER_SECOND) / TICKS_PER_SECOND
    times, flags = [], []
    for rng in channel_rngs:
        physics = np.floor(rng.random(n_events - len(pulses)) * duration * TICKS_PER_SECOND)
        t = np.concatenate((physics / TICKS_PER_SECOND, pulses))
        f = np.concatenate((np.zeros(len(physics), bool), np.ones(len(pulses), bool)))
        order = np.argsort(t, kind="stable")
        times.append(t[order])
        flags.append(f[order])
    all_times = np.concatenate(times)
    channel_index = np.repeat(np.arange(len(times)), [len(t) for t in times])
    events, event_of = np.unique(all_times, return_inverse=True)
    multiplicity = np.bincount(event_of, minlength=len(events))
    record_rank = np.empty(len(all_times), np.int64)
    record_rank[np.lexsort((channel_index, all_times))] = np.arange(len(all_times))
    bounds = np.cumsum([0] + [len(t) for t in times])
    sl = [slice(bounds[i], bounds[i + 1]) for i in range(len(times))]
    return _Cycle(
        duration=duration,
        times=times,
        is_pulser=flags,
        eventnumber=[event_of[s] for s in sl],
        packet_id=[record_rank[s] + 1 for s in sl],
        numtraces=[multiplicity[event_of[s]] for s in sl],
    )


@dataclass(frozen=True)
class ChannelEvents:
    """One channel's events of a cycle, drawn and ready to render.

    ``truth`` holds the truth columns (see :mod:`.events`; ``eventnumber`` joins with the
    raw table), ``seeds`` the noise seed of each waveform; ``runtime`` (seconds since the
    cycle's ``start_time``), ``packet_id`` and ``numtraces`` are the raw tier's
    bookkeeping of each event. Rendering any rows, in any chunks, gives the same
    waveforms.

    >>> events = next(draw_cycles(4, 1, seed=0)).channel_events(0)
    >>> len(events.runtime), events.raw_table(slice(0, 2))["waveform"]["values"].nda.shape
    (4, (2, 8192))
    """

    channel: Channel
    start_time: int
    runtime: np.ndarray
    packet_id: np.ndarray
    numtraces: np.ndarray
    truth: dict[str, np.ndarray]
    seeds: np.ndarray

    def raw_table(self, rows: slice = slice(None)) -> Table:
        """Render the waveforms ``rows`` as a ``chNNNNNNN/raw`` table (:func:`.raw.raw_table`).

        Fills the truth's ``is_saturated`` of those rows.
        """
        rendered = render_events(self.truth, self.seeds, self.channel, rows)
        return raw_table(
            rendered.values,
            channel=self.channel,
            runtime=self.runtime[rows],
            eventnumber=self.truth["eventnumber"][rows],
            packet_id=self.packet_id[rows],
            numtraces=self.numtraces[rows],
            baseline=rendered.baseline,
            daqenergy=rendered.daqenergy,
            start_time=self.start_time,
        )


@dataclass(frozen=True)
class CycleEvents:
    """The event timeline of one cycle, all channels, before any truth is drawn.

    Per channel (in ``channels`` order): ``runtime`` (seconds since ``start_time``, unix
    seconds), ``is_pulser``, ``eventnumber``, ``packet_id`` (1-based rank of the record
    among all channels' records in time order, ties by channel) and ``numtraces``.
    :meth:`channel_events` draws a channel's truth; the same call gives the same draws.

    >>> cycle = next(draw_cycles(5, 2, seed=0))
    >>> cycle.timestamp, cycle.n_records, sorted(np.concatenate(cycle.packet_id).tolist())
    ('20230101T000000Z', 10, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    """

    start_time: int
    duration: float
    channels: tuple[Channel, ...]
    runtime: tuple[np.ndarray, ...]
    is_pulser: tuple[np.ndarray, ...]
    eventnumber: tuple[np.ndarray, ...]
    packet_id: tuple[np.ndarray, ...]
    numtraces: tuple[np.ndarray, ...]
    rng_states: tuple[Any, ...] = field(repr=False)
    event_options: dict[str, Any] = field(repr=False)

    @property
    def timestamp(self) -> str:
        """The cycle's start as LEGEND writes it in file names."""
        return datetime.fromtimestamp(self.start_time, timezone.utc).strftime(TIMESTAMP_FORMAT)

    @property
    def n_records(self) -> int:
        """Waveforms in the cycle, all channels."""
        return sum(len(t) for t in self.runtime)

    def channel_events(self, k: int) -> ChannelEvents:
        """Draw the truth of channel ``k``'s events (:func:`.events.draw_events`)."""
        bit_generator = np.random.PCG64()
        bit_generator.state = self.rng_states[k]
        truth, seeds = draw_events(
            len(self.runtime[k]),
            np.random.Generator(bit_generator),
            self.channels[k],
            is_pulser=self.is_pulser[k],
            n_samples=N_SAMPLES,
            dt=SAMPLING_PERIOD,
            **self.event_options,
        )
        truth["eventnumber"] = self.eventnumber[k].astype(np.int32)
        return ChannelEvents(
            channel=self.channels[k],
            start_time=self.start_time,
            runtime=self.runtime[k],
            packet_id=self.packet_id[k],
            numtraces=self.numtraces[k],
            truth=truth,
            seeds=seeds,
        )


def draw_cycles(
    n_events: int,
    channels: int | Sequence[Channel] = 3,
    seed: int = 0,
    *,
    n_files: int = 1,
    start: str | datetime = "20230101T000000Z",
    rate: float = 3.0,
    pulser_rate: float = 0.1,
    pulser_energy: float = PULSER_ENERGY,
    pileup_fraction: float = 0.01,
    t0_range: tuple[float, float] = T0_RANGE,
    spectrum: Mapping[str, Any] | None = None,
) -> Iterator[CycleEvents]:
    """The ``n_files`` cycles of a simulated run, one after the other, as :func:`simulate_run`
    and :func:`tierflow.sim.daq.simulate_daq_run` write them (same arguments, same events).

    Settings are checked at once, cycles drawn as they are asked for.

    >>> [c.timestamp for c in draw_cycles(3, 1, n_files=2)]
    ['20230101T000000Z', '20230101T000001Z']
    """
    n_events, n_files = int(n_events), int(n_files)
    if n_events < 1 or n_files < 1:
        raise SimulationError(f"n_events ({n_events}) and n_files ({n_files}) must be >= 1")
    if not rate > 0 or not pulser_rate >= 0:
        raise SimulationError(f"rate ({rate}) must be > 0 and pulser_rate ({pulser_rate}) >= 0 Hz")
    chosen = _channels(channels)
    start_time = _start_seconds(start)
    options = dict(
        pulser_energy=pulser_energy,
        pileup_fraction=pileup_fraction,
        t0_range=t0_range,
        spectrum=spectrum,
    )

    def cycles(start_time: int) -> Iterator[CycleEvents]:
        for cycle_seed in np.random.SeedSequence(seed).spawn(n_files):
            timeline_seed, *channel_seeds = cycle_seed.spawn(1 + len(chosen))
            rngs = [np.random.default_rng(s) for s in channel_seeds]
            timeline = _cycle(
                n_events, rate, pulser_rate, np.random.default_rng(timeline_seed), rngs
            )
            yield CycleEvents(
                start_time=start_time,
                duration=timeline.duration,
                channels=chosen,
                runtime=tuple(timeline.times),
                is_pulser=tuple(timeline.is_pulser),
                eventnumber=tuple(timeline.eventnumber),
                packet_id=tuple(timeline.packet_id),
                numtraces=tuple(timeline.numtraces),
                rng_states=tuple(rng.bit_generator.state for rng in rngs),
                event_options=options,
            )
            start_time += max(1, math.ceil(timeline.duration))

    return cycles(start_time)


def simulate_run(
    outdir: str | os.PathLike,
    n_events: int = 1000,
    channels: int | Sequence[Channel] = 3,
    seed: int = 0,
    *,
    period: str = "p00",
    run: str = "r000",
    run_type: str = "cal",
    n_files: int = 1,
    experiment: str = "l200",
    start: str | datetime = "20230101T000000Z",
    rate: float = 3.0,
    pulser_rate: float = 0.1,
    pulser_energy: float = PULSER_ENERGY,
    pileup_fraction: float = 0.01,
    t0_range: tuple[float, float] = T0_RANGE,
    spectrum: Mapping[str, Any] | None = None,
    compression: Any = None,
    codecs: Mapping[str, Any] | None = None,
    chunk_size: int = 2048,
) -> SimulatedRun:
    """Simulate a run of ``n_files`` cycles of ``n_events`` waveforms per channel.

    ``channels`` is a count (:func:`~tierflow.sim.channels.default_channels`) or the
    :class:`~tierflow.sim.channels.Channel` objects. ``rate`` is the physics rate per
    channel and ``pulser_rate`` the test-pulser rate (Hz); ``start`` the first cycle's
    start (``"20230318T012144Z"`` or a datetime, UTC). ``compression`` is the HDF5
    filter (default gzip-4 + shuffle, LEGEND's writer default; ``False`` for none,
    as in the 2023 raw files, and several times faster to write); ``codecs`` encodes
    waveforms, e.g. ``{"waveform/values": "radware_sigcompress"}``. Waveforms are
    rendered and written ``chunk_size`` at a time, so memory stays small whatever
    ``n_events``. Existing files of the same names are replaced; each file appears
    complete or not at all. The same ``seed`` gives the same files' contents
    (the cycles of :func:`draw_cycles`).

    >>> import tempfile
    >>> r = simulate_run(tempfile.mkdtemp(), n_events=2, channels=1, n_files=2, compression=False)
    >>> [os.path.basename(p).split("-")[4] for p in r.raw_files], r.n_waveforms
    (['20230101T000000Z', '20230101T000001Z'], 4)
    """
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise SimulationError(f"chunk_size ({chunk_size}) must be >= 1")
    cycles = draw_cycles(
        n_events,
        channels,
        seed,
        n_files=n_files,
        start=start,
        rate=rate,
        pulser_rate=pulser_rate,
        pulser_energy=pulser_energy,
        pileup_fraction=pileup_fraction,
        t0_range=t0_range,
        spectrum=spectrum,
    )
    raw_files, truth_files, n_waveforms = [], [], 0
    chosen: tuple[Channel, ...] = ()
    for cycle in cycles:
        names = {"experiment": experiment, "period": period, "run": run, "run_type": run_type}
        raw_path = tier_file_path(outdir, "raw", timestamp=cycle.timestamp, **names)
        truth_path = tier_file_path(outdir, "truth", timestamp=cycle.timestamp, **names)
        _write_cycle(raw_path, truth_path, cycle, compression, codecs, chunk_size)
        raw_files.append(raw_path)
        truth_files.append(truth_path)
        chosen = cycle.channels
        n_waveforms += cycle.n_records
    return SimulatedRun(tuple(raw_files), tuple(truth_files), chosen, n_waveforms)


def partial_path(path: str) -> str:
    """The hidden file beside ``path`` that a writer fills before renaming it to ``path``.

    >>> partial_path("/data/a.lh5") == f"/data/.a.lh5.partial-{os.getpid()}"
    True
    """
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.partial-{os.getpid()}")


def _write_cycle(
    raw_path: str,
    truth_path: str,
    cycle: CycleEvents,
    compression: Any,
    codecs: Mapping[str, Any] | None,
    chunk_size: int,
) -> None:
    partial = {}
    for path in (raw_path, truth_path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial[path] = partial_path(path)
        if os.path.exists(partial[path]):
            os.remove(partial[path])
    try:
        for k, channel in enumerate(cycle.channels):
            events = cycle.channel_events(k)
            n = len(events.runtime)
            for first in range(0, n, chunk_size):
                lh5.write(
                    events.raw_table(slice(first, min(n, first + chunk_size))),
                    f"{channel.name}/raw",
                    partial[raw_path],
                    wo_mode="append",
                    compression=compression,
                    codecs=codecs,
                )
            lh5.write(
                truth_table(events.truth),
                f"{channel.name}/truth",
                partial[truth_path],
                wo_mode="append",
                compression=compression,
            )
        for path, tmp in partial.items():
            os.replace(tmp, path)
    finally:
        for tmp in partial.values():
            if os.path.exists(tmp):
                os.remove(tmp)
