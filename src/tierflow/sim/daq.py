"""DAQ files: a simulated run written as ORCA files with FlashCam records, where real data starts.

An ORCA file is a stream of little-endian 32-bit words. Every record starts with a word
holding its data ID (bits 31-18) and its length in words, header word included (bits
17-0). The file written here holds, in order:

- the header record (data ID 0): word 1 is the length in bytes of an XML Apple property
  list (padded with NUL bytes to whole words) that maps data IDs to decoder names
  (``dataDescription``) and describes the hardware: the FlashCam listeners
  (``ObjectInfo/AuxHw``, ``eventSamples``), the crates and their ADC cards
  (``ObjectInfo/Crates``: slot ``Card``, board id ``CardAddress``, ``Enabled`` inputs),
  which cards each listener reads (``ReadoutDescription``) and the run
  (``ObjectInfo/DataChain``);
- a run-start record (``ORRunDecoderForRun``, 4 words: flags, run number, unix time);
- one FlashCam listener config record per listener (``ORFlashCamListenerConfigDecoder``,
  :data:`CONFIG_WORDS` words): ``readout_id << 16 | fcid``, then ``streamid``, ``nadcs``,
  ``ntriggers``, ``nsamples``, ``adcbits``, ``sumlength``, ``blprecision``,
  ``mastercards``, ``triggercards``, ``adccards``, ``gps`` and, for each FlashCam trace
  index, ``board_id << 16 | fc_input``; board revisions and ids follow (zero);
- one ``ORFlashCamADCWaveform`` record per waveform, all channels in time order
  (:func:`waveform_records`);
- a run-stop record.

The events are those of :func:`~tierflow.sim.run.simulate_run` with the same arguments
(:func:`~tierflow.sim.run.draw_cycles`): decoding the file with the routing
``ORFlashCamADCWaveformDecoder: ch{key:07d}/raw`` gives the simulator's raw tables, same
names (the key is the rawid, ``fcid * 1_000_000 + board_id * 100 + fc_input``), same
waveforms, timestamps, baselines, energies and DAQ clock fields. What ORCA records cannot
carry differs: ``packet_id`` is the record's index in the file (the simulator's
``packet_id`` plus the run-start and config records before it), ``numtraces`` is 1 (one
trace per record) and ``tracelist`` is absent.

Records are built with numpy, a chunk of waveforms at a time, and streamed to disk, so a
file of any size is written in memory set by ``chunk_size``.

>>> import os, tempfile
>>> out = simulate_daq_run(tempfile.mkdtemp(), n_events=3, channels=2, seed=1)
>>> [p.split("/tier/")[1] for p in out.daq_files], out.n_waveforms
(['daq/cal/p00/r000/l200-p00-r000-cal-20230101T000000Z.orca'], 6)
>>> os.path.getsize(out.daq_files[0]) == out.n_bytes
True
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import os
import plistlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .. import lh5
from ..errors import SimulationError
from ..types import Table
from .channels import Channel
from .events import T0_RANGE, truth_table
from .pulses import N_SAMPLES
from .run import ChannelEvents, CycleEvents, draw_cycles, partial_path, tier_file_path
from .spectrum import PULSER_ENERGY

#: data IDs (shifted, bits 31-18 of a record's first word) of the records written, as in
#: LEGEND's 2022 ORCA files
DATA_IDS: dict[str, int] = {
    "ORFlashCamADCWaveformDecoder": 3,
    "ORFlashCamListenerConfigDecoder": 4,
    "ORRunDecoderForRun": 7,
}
#: words of a waveform record before the FCIO header: record header, lengths, address
ORCA_HEADER_WORDS = 3
#: words of the FCIO event header, the last holding ``daqenergy << 16 | baseline``
FCIO_HEADER_WORDS = 17
#: words of a listener config record: 13 + room for 2400 FlashCam traces
CONFIG_WORDS = 2413
#: the raw columns of the FCIO header words 0-15, in order (word 16 holds baseline/daqenergy)
FCIO_HEADER_COLUMNS = (
    "mu_offset_sec",
    "mu_offset_usec",
    "to_master_sec",
    "delta_mu_usec",
    "abs_delta_mu_usec",
    "to_start_sec",
    "to_start_usec",
    "dr_start_pps",
    "dr_start_ticks",
    "dr_stop_pps",
    "dr_stop_ticks",
    "dr_maxticks",
    "eventnumber",
    "ts_pps",
    "ts_ticks",
    "ts_maxticks",
)
#: FlashCam ADC inputs shown per card in the header (more if a channel needs them)
CARD_INPUTS = 6
_LENGTH_MASK = 0x3FFFF


@dataclass(frozen=True)
class SimulatedDAQRun:
    """What :func:`simulate_daq_run` or :func:`simulate_daq_file` wrote: the ORCA files (one
    per cycle, in time order), the truth files (``None`` where none was asked for), the
    channels, the number of waveform records and the bytes of ORCA data (before any gzip
    compression), all files."""

    daq_files: tuple[str, ...]
    truth_files: tuple[str | None, ...]
    channels: tuple[Channel, ...]
    n_waveforms: int
    n_bytes: int


@dataclass(frozen=True)
class _Board:
    fcid: int
    board_id: int
    crate: int
    slot: int
    inputs: tuple[int, ...]


def _boards(channels: Sequence[Channel]) -> list[_Board]:
    """The ADC cards the channels sit on, checked against what ORCA records can address."""
    cards: dict[tuple[int, int], list[Channel]] = {}
    for ch in channels:
        if ch.fcid < 1:
            raise SimulationError(
                f"channel {ch.rawid}: fcid {ch.fcid}; an ORCA FlashCam listener id starts at 1 "
                "(rawid >= 1_000_000)"
            )
        if not (ch.fc_input < 16 and ch.crate < 32 and ch.slot < 32 and ch.daq_channel < 1024):
            raise SimulationError(
                f"channel {ch.rawid}: fc_input {ch.fc_input} (< 16), crate {ch.crate} (< 32), "
                f"slot {ch.slot} (< 32) or daq_channel {ch.daq_channel} (< 1024) does not fit "
                "an ORCA FlashCam record"
            )
        cards.setdefault((ch.fcid, ch.board_id), []).append(ch)
    boards: list[_Board] = []
    places: dict[tuple[int, int], int] = {}
    for (fcid, board_id), members in sorted(cards.items()):
        where = {(ch.crate, ch.slot) for ch in members}
        if len(where) != 1:
            raise SimulationError(
                f"channels {[ch.rawid for ch in members]} share board {board_id} of listener "
                f"{fcid} but sit in different (crate, slot)s {sorted(where)}"
            )
        place = where.pop()
        if place in places:
            raise SimulationError(
                f"board {board_id} of listener {fcid} and board {places[place]} both sit in "
                f"(crate, slot) {place}; ORCA addresses a card by its crate and slot"
            )
        places[place] = board_id
        boards.append(_Board(fcid, board_id, *place, tuple(sorted(ch.fc_input for ch in members))))
    for fcid in {ch.fcid for ch in channels}:
        traces = [ch.daq_channel for ch in channels if ch.fcid == fcid]
        if len(set(traces)) != len(traces):
            raise SimulationError(
                f"listener {fcid}: channels share a FlashCam trace index (daq_channel) {traces}"
            )
    return boards


def _header_plist(
    cycle: CycleEvents, boards: Sequence[_Board], n_samples: int, run_number: int
) -> dict[str, Any]:
    listeners = sorted({b.fcid for b in boards})
    crates = []
    for crate in sorted({b.crate for b in boards}):
        cards = [
            {
                "Class Name": "ORFlashCamADCModel",
                "Card": b.slot,
                "CardAddress": b.board_id,
                "Enabled": [i in b.inputs for i in range(max(CARD_INPUTS, b.inputs[-1] + 1))],
                "FWType": 1,
            }
            for b in sorted(boards, key=lambda b: b.slot)
            if b.crate == crate
        ]
        crates.append(
            {
                "ClassName": "ORFlashCamCrateModel",
                "CrateNumber": crate,
                "FirstSlot": 0,
                "Cards": cards,
            }
        )
    description = {
        "ORFlashCamADCModel": {"FlashCamADC": ("ORFlashCamADCWaveformDecoder", -1, True)},
        "ORFlashCamListenerModel": {
            "FlashCamConfig": ("ORFlashCamListenerConfigDecoder", CONFIG_WORDS, False)
        },
        "ORRunModel": {"Run": ("ORRunDecoderForRun", 4, False)},
    }
    data_description = {
        model: {
            record: {
                "dataId": DATA_IDS[decoder] << 18,
                "decoder": decoder,
                "length": length,
                "variable": variable,
            }
            for record, (decoder, length, variable) in records.items()
        }
        for model, records in description.items()
    }
    started = datetime.fromtimestamp(cycle.start_time, timezone.utc)
    return {
        "Document Info": {
            "OrcaVersion": "tierflow.sim",
            "dataVersion": 3,
            "date": started.strftime("%m/%d/%y %H:%M:%S"),
            "documentName": "tierflow.sim.daq",
        },
        "Header Length": 0,
        "ObjectInfo": {
            "AuxHw": [
                {
                    "Class Name": "ORFlashCamListenerModel",
                    "uniqueID": fcid,
                    "eventSamples": n_samples,
                    "traceType": 1,
                    "gpsMode": 0,
                    "daqMode": 0,
                }
                for fcid in listeners
            ],
            "Crates": crates,
            "DataChain": [
                {
                    "Run Control": {
                        "Class Name": "ORRunModel",
                        "RunNumber": run_number,
                        "SubRunNumber": 0,
                        "quickStart": False,
                        "remoteControl": False,
                        "startTime": cycle.start_time,
                    }
                }
            ],
        },
        "ReadoutDescription": [
            {
                "name": "ORFlashCamListenerModel",
                "uniqueID": fcid,
                "children": [
                    {"crate": b.crate, "name": "ORFlashCamADCModel", "station": b.slot}
                    for b in boards
                    if b.fcid == fcid
                ],
            }
            for fcid in listeners
        ],
        "dataDescription": data_description,
    }


def header_record(plist: Mapping[str, Any]) -> bytes:
    """The ORCA header record of a header property list: its length in words, the XML's
    length in bytes, the XML padded with NUL bytes to whole words. ``"Header Length"`` is
    set to the record's length in bytes, as ORCA does.

    >>> record = header_record({"dataDescription": {}})
    >>> words = np.frombuffer(record[:8], "<u4")
    >>> int(words[0]) * 4 == len(record), record[8:13]
    (True, b'<?xml')
    """
    plist = dict(plist)
    n_bytes = 0
    while True:
        plist["Header Length"] = n_bytes
        xml = plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=True)
        n_words = 2 + math.ceil(len(xml) / 4)
        if n_words * 4 == n_bytes:
            break
        n_bytes = n_words * 4
    if n_words > _LENGTH_MASK:
        raise SimulationError(f"the ORCA header is {n_bytes} bytes, more than a record holds")
    return np.array([n_words, len(xml)], "<u4").tobytes() + xml.ljust(n_bytes - 8, b"\0")


def run_record(*, start: bool, run_number: int, time: int) -> np.ndarray:
    """An ORCA run-control record: the run starts (``start``) or stops at unix ``time``.

    >>> [hex(w) for w in run_record(start=True, run_number=5, time=16)]
    ['0x1c0004', '0x1', '0x5', '0x10']
    """
    return np.array([DATA_IDS["ORRunDecoderForRun"] << 18 | 4, int(start), run_number, time], "<u4")


def listener_config_record(fcid: int, channels: Sequence[Channel], n_samples: int) -> np.ndarray:
    """The FlashCam listener config record of listener ``fcid``: its trace map (trace index
    ``daq_channel`` -> ``board_id << 16 | fc_input``), 16-bit ADCs, no GPS.

    >>> from tierflow.sim import default_channels
    >>> words = listener_config_record(1, default_channels(3), 8192)
    >>> len(words), words[3], words[5], [hex(w) for w in words[13:16]]
    (2413, np.uint32(3), np.uint32(8192), ['0x3500003', '0x3500004', '0x4c00000'])
    """
    mine = [ch for ch in channels if ch.fcid == fcid]
    n_adc = max(ch.daq_channel for ch in mine) + 1
    n_boards = len({ch.board_id for ch in mine})
    if 13 + n_adc + math.ceil(n_boards / 4) + 2 * n_boards > CONFIG_WORDS:
        raise SimulationError(f"listener {fcid}: {n_adc} traces do not fit a config record")
    words = np.zeros(CONFIG_WORDS, "<u4")
    words[0] = DATA_IDS["ORFlashCamListenerConfigDecoder"] << 18 | CONFIG_WORDS
    words[1] = 1 << 16 | fcid
    # streamid, nadcs, ntriggers, nsamples, adcbits, sumlength, blprecision,
    # mastercards, triggercards, adccards, gps
    words[2:13] = [0, n_adc, 0, n_samples, 16, 1, 1, 0, 0, n_boards, 0]
    for ch in mine:
        words[13 + ch.daq_channel] = ch.board_id << 16 | ch.fc_input
    return words


def waveform_record_words(n_samples: int) -> int:
    """Words of an ``ORFlashCamADCWaveform`` record of ``n_samples`` samples.

    >>> waveform_record_words(8192), waveform_record_words(3)
    (4116, 22)
    """
    return ORCA_HEADER_WORDS + FCIO_HEADER_WORDS + (n_samples + 1) // 2


def waveform_records(table: Table) -> np.ndarray:
    """The ``ORFlashCamADCWaveform`` records of the rows of a FlashCam raw table
    (:func:`~tierflow.sim.raw.raw_table`), one row of uint32 words each.

    Word 1 holds the header lengths (3 and 17 words), the number of samples and the event
    type; word 2 the address: ``crate << 27 | slot << 22 | (board_id & 0xFF) << 14 |
    fc_input << 10 | channel`` (ORCA keeps the low 8 bits of the board id; decoders take
    the board id from the header's card at that crate and slot). Then the FCIO header
    (:data:`FCIO_HEADER_COLUMNS`, then ``daqenergy << 16 | baseline``) and the samples,
    two per word, the first in the low half.

    >>> from tierflow.sim import default_channels
    >>> from tierflow.sim.raw import raw_table
    >>> ch = default_channels(1)[0]
    >>> t = raw_table(np.full((1, 4), 7, "uint16"), channel=ch, runtime=np.array([0.5]),
    ...               eventnumber=np.array([0]), packet_id=np.array([1]),
    ...               numtraces=np.array([1]), baseline=np.array([9.0]),
    ...               daqenergy=np.array([2.0]), start_time=0)
    >>> [hex(w) for w in waveform_records(t)[0]]  # doctest: +NORMALIZE_WHITESPACE
    ['0xc0016', '0x3440010b', '0x9540c00', '0x0', '0x0', '0x0', '0x0', '0x0', '0x0', '0x0',
     '0x0', '0x0', '0x0', '0x0', '0xee6b27f', '0x0', '0x0', '0x7735940', '0xee6b27f',
     '0x20009', '0x70007', '0x70007']
    """
    values = table["waveform"]["values"].nda
    n, n_samples = values.shape
    if n_samples % 2:
        values = np.concatenate((values, np.zeros((n, 1), np.uint16)), axis=1)
    n_words = waveform_record_words(n_samples)
    if n_words > _LENGTH_MASK or n_samples >= 1 << 16:
        raise SimulationError(f"{n_samples} samples do not fit an ORCA FlashCam record")

    def column(name: str) -> np.ndarray:
        return table[name].nda.astype(np.uint32)

    records = np.empty((n, n_words), "<u4")
    records[:, 0] = DATA_IDS["ORFlashCamADCWaveformDecoder"] << 18 | n_words
    records[:, 1] = (
        ORCA_HEADER_WORDS << 28
        | FCIO_HEADER_WORDS << 22
        | n_samples << 6
        | (column("event_type") & 0x1F)
    )
    records[:, 2] = (
        column("crate") << 27
        | column("slot") << 22
        | (column("board_id") & 0xFF) << 14
        | column("fc_input") << 10
        | column("channel")
    )
    header = records[:, ORCA_HEADER_WORDS : ORCA_HEADER_WORDS + FCIO_HEADER_WORDS]
    header[:, :-1] = np.stack(
        [table[name].nda.astype(np.int32) for name in FCIO_HEADER_COLUMNS], axis=1
    ).view(np.uint32)
    header[:, -1] = column("daqenergy") << 16 | column("baseline")
    records[:, ORCA_HEADER_WORDS + FCIO_HEADER_WORDS :] = np.ascontiguousarray(values, "<u2").view(
        "<u4"
    )
    return records


def write_orca_cycle(
    path: str | os.PathLike,
    cycle: CycleEvents,
    *,
    truth_path: str | os.PathLike | None = None,
    run_number: int = 0,
    chunk_size: int = 2048,
) -> int:
    """Write one cycle as an ORCA file at ``path`` (and its truth tables, ``chNNNNNNN/truth``,
    at ``truth_path``); returns the bytes written to ``path``.

    Waveforms are rendered and written ``chunk_size`` records (all channels) at a time:
    memory holds one chunk and the truth of the cycle's events (about 120 bytes each).
    A ``path`` ending in ``.gz`` is gzip-compressed (the bytes returned are those before
    compression). Each file appears complete or not at all; existing files are replaced.
    """
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise SimulationError(f"chunk_size ({chunk_size}) must be >= 1")
    if not 0 <= run_number < 1 << 31:
        raise SimulationError(f"run_number ({run_number}) must be in [0, 2**31)")
    boards = _boards(cycle.channels)
    events = [cycle.channel_events(k) for k in range(len(cycle.channels))]
    n_samples = N_SAMPLES
    targets = [os.fspath(path)] + ([os.fspath(truth_path)] if truth_path is not None else [])
    partial = {}
    for target in targets:
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        partial[target] = partial_path(target)
        if os.path.exists(partial[target]):
            os.remove(partial[target])
    try:
        with contextlib.ExitStack() as stack:
            out: io.BufferedIOBase = stack.enter_context(open(partial[targets[0]], "wb"))
            if targets[0].endswith(".gz"):  # no name, no time: the same bytes every time
                out = stack.enter_context(
                    gzip.GzipFile(fileobj=out, mode="wb", filename="", mtime=0)
                )
            plist = _header_plist(cycle, boards, n_samples, run_number)
            out.write(header_record(plist))
            out.write(run_record(start=True, run_number=run_number, time=cycle.start_time).data)
            for fcid in sorted({b.fcid for b in boards}):
                out.write(listener_config_record(fcid, cycle.channels, n_samples).data)
            _write_waveforms(out, events, cycle.n_records, chunk_size)
            stop = cycle.start_time + max(1, math.ceil(cycle.duration))
            out.write(run_record(start=False, run_number=run_number, time=stop).data)
            n_bytes = out.tell()
        if truth_path is not None:
            for channel_events in events:
                lh5.write(
                    truth_table(channel_events.truth),
                    f"{channel_events.channel.name}/truth",
                    partial[targets[1]],
                    wo_mode="append",
                )
        for target, tmp in partial.items():
            os.replace(tmp, target)
    finally:
        for tmp in partial.values():
            if os.path.exists(tmp):
                os.remove(tmp)
    return n_bytes


def _write_waveforms(
    out: io.BufferedIOBase, events: Sequence[ChannelEvents], n_records: int, chunk_size: int
) -> None:
    """Records ``[first, first + chunk_size)`` of the cycle's time order, chunk by chunk: each
    channel renders its rows of the chunk, which land at their places in one word array."""
    for first in range(0, n_records, chunk_size):
        last = min(n_records, first + chunk_size)
        chunk = np.empty((last - first, waveform_record_words(N_SAMPLES)), "<u4")
        for channel_events in events:
            order = channel_events.packet_id - 1
            lo, hi = np.searchsorted(order, [first, last])
            if lo == hi:
                continue
            records = waveform_records(channel_events.raw_table(slice(lo, hi)))
            chunk[order[lo:hi] - first] = records
        out.write(chunk.data)


def simulate_daq_run(
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
    run_number: int = 0,
    rate: float = 3.0,
    pulser_rate: float = 0.1,
    pulser_energy: float = PULSER_ENERGY,
    pileup_fraction: float = 0.01,
    t0_range: tuple[float, float] = T0_RANGE,
    spectrum: Mapping[str, Any] | None = None,
    truth: bool = True,
    chunk_size: int = 2048,
) -> SimulatedDAQRun:
    """Simulate a run of ``n_files`` cycles as ORCA files, where LEGEND keeps DAQ files:
    ``{outdir}/tier/daq/{type}/{period}/{run}/{exp}-{period}-{run}-{type}-{timestamp}.orca``,
    with the truth files of :func:`~tierflow.sim.run.simulate_run` (``truth=False``: none).

    The arguments are those of :func:`~tierflow.sim.run.simulate_run` and give the same
    events: the ORCA files decode to its raw files (see the module's notes).

    >>> import tempfile
    >>> r = simulate_daq_run(tempfile.mkdtemp(), n_events=2, channels=1, n_files=2, truth=False)
    >>> [os.path.basename(p) for p in r.daq_files], r.truth_files
    (['l200-p00-r000-cal-20230101T000000Z.orca', 'l200-p00-r000-cal-20230101T000001Z.orca'], (None, None))
    """
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
    names = {"experiment": experiment, "period": period, "run": run, "run_type": run_type}
    daq_files: list[str] = []
    truth_files: list[str | None] = []
    chosen: tuple[Channel, ...] = ()
    n_waveforms = n_bytes = 0
    for cycle in cycles:
        folder = os.path.dirname(tier_file_path(outdir, "daq", timestamp=cycle.timestamp, **names))
        daq_path = os.path.join(
            folder, f"{experiment}-{period}-{run}-{run_type}-{cycle.timestamp}.orca"
        )
        truth_path = (
            tier_file_path(outdir, "truth", timestamp=cycle.timestamp, **names) if truth else None
        )
        n_bytes += write_orca_cycle(
            daq_path, cycle, truth_path=truth_path, run_number=run_number, chunk_size=chunk_size
        )
        daq_files.append(daq_path)
        truth_files.append(truth_path)
        chosen = cycle.channels
        n_waveforms += cycle.n_records
    return SimulatedDAQRun(tuple(daq_files), tuple(truth_files), chosen, n_waveforms, n_bytes)


def simulate_daq_file(
    path: str | os.PathLike,
    n_events: int = 1000,
    channels: int | Sequence[Channel] = 3,
    seed: int = 0,
    *,
    start: str | datetime = "20230101T000000Z",
    truth_path: str | os.PathLike | None = None,
    run_number: int = 0,
    rate: float = 3.0,
    pulser_rate: float = 0.1,
    pulser_energy: float = PULSER_ENERGY,
    pileup_fraction: float = 0.01,
    t0_range: tuple[float, float] = T0_RANGE,
    spectrum: Mapping[str, Any] | None = None,
    chunk_size: int = 2048,
) -> SimulatedDAQRun:
    """One cycle of ``n_events`` waveforms per channel as an ORCA file at ``path`` (the first
    cycle of :func:`simulate_daq_run` with the same arguments), its truth at ``truth_path``.

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "run.orca")
    >>> r = simulate_daq_file(path, n_events=2, channels=3, seed=4)
    >>> r.n_waveforms, [c.rawid for c in r.channels]
    (6, [1084803, 1084804, 1121600])
    """
    cycle = next(
        draw_cycles(
            n_events,
            channels,
            seed,
            start=start,
            rate=rate,
            pulser_rate=pulser_rate,
            pulser_energy=pulser_energy,
            pileup_fraction=pileup_fraction,
            t0_range=t0_range,
            spectrum=spectrum,
        )
    )
    n_bytes = write_orca_cycle(
        path, cycle, truth_path=truth_path, run_number=run_number, chunk_size=chunk_size
    )
    return SimulatedDAQRun(
        (os.fspath(path),),
        (None if truth_path is None else os.fspath(truth_path),),
        cycle.channels,
        cycle.n_records,
        n_bytes,
    )
