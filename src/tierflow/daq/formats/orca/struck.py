"""Struck SIS3302 and SIS3316 digitizer records read out by ORCA.

Keys are ``(crate << 9) + ((card & 0x1F) << 4) + (channel & 0xF)`` (daq2lh5's ``get_ccc``),
from word 1 of each record: crate bits 24-21, card 20-16, channel 15-8. Timestamps are
48-bit clock-tick counters, assembled in 64-bit arithmetic (daq2lh5 shifts in 32 bits
and, under numpy 2, keeps only the low 32 bits).

**SIS3302** (``ORSIS3302DecoderForEnergy``), one event per record:

- word 1: crate/card/channel as above, buffer-wrap flag in bit 0;
- word 2: waveform length in words (two uint16 samples each); word 3: energy-filter
  waveform length in words; word 4 bits 31-16: timestamp bits 47-32; word 5: timestamp
  bits 31-0; with buffer wrap, words 6-7 follow (word 7: the index of the last sample
  written, so the waveform starts at sample ``word7 + 1`` and wraps);
- then the waveform (from word 6, or 8 with wrap), the energy waveform, and a 4-word
  footer: energy, first energy value, one word, ``0xDEADBEEF``.

Keys from the header: each ``ORSIS3302Model`` card's channels enabled in
``internalTriggerEnabledMask | externalTriggerEnabledMask`` (8 channels).

**SIS3316** (``ORSIS3316WaveformDecoder``), several events per record:

- word 1: crate/card/channel; word 2: number of events; word 3: words per event;
  word 5: words of an event's data header; words 6-9 spare; events from word 10;
- each event: word 0 = timestamp bits 47-32 (31-16), channel ID (15-4), format bits
  (3-0); word 1 = timestamp bits 31-0; then, if format bit 0, peak high value (15-0) and
  index (31-16), accumulator 1 (23-0) with an information byte (31-24), accumulators 2-6;
  if bit 1, accumulators 7-8; if bit 2, MAW max, before and after trigger; if bit 3,
  start and max energy; the raw samples from the end of the event's data header to the
  event's end. Absent values are written as ``0xFFFFFFFF`` (daq2lh5's -1).

Keys from the header: each ``ORSIS3316Model`` card's channels set in ``enabledMask``.

>>> ccc(1, 3, 5)
565
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....errors import DAQError
from ....types import Array, ArrayOfEqualSizedArrays, Table, WaveformTable
from ...stream import Decoded, Key
from .decoder import OrcaDecoder, first_packet, rows_of
from .records import record_matrix

TRAILER = 0xDEADBEEF
MISSING = np.uint32(0xFFFFFFFF)


def ccc(crate: Any, card: Any, channel: Any) -> Any:
    """A Struck channel's key (int or int64 array)."""
    return (crate << 9) + ((card & 0x1F) << 4) + (channel & 0xF)


def _cards(header: dict[str, Any], class_name: str, path: str) -> list[tuple[int, dict]]:
    try:
        return [
            (int(crate["CrateNumber"]), card)
            for crate in header.get("ObjectInfo", {}).get("Crates", [])
            for card in crate.get("Cards", [])
            if card.get("Class Name") == class_name
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        msg = f"the header's {class_name} cards are incomplete ({err!r})"
        raise DAQError(msg, file=path, offset=8) from None


def _where(word1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    word1 = word1.astype(np.int64)
    crate, card, channel = (word1 >> 21) & 0xF, (word1 >> 16) & 0x1F, (word1 >> 8) & 0xFF
    return crate, card, channel, ccc(crate, card, channel)


def _timestamp(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """48-bit timestamps: bits 47-32 from ``high``'s bits 31-16, bits 31-0 from ``low``."""
    return ((high.astype(np.uint64) >> np.uint64(16)) << np.uint64(32)) | low.astype(np.uint64)


def _waveform(values: np.ndarray, dt: float) -> WaveformTable:
    n = len(values)
    return WaveformTable(
        t0=Array(np.zeros(n, np.float32), attrs={"units": "ns"}),
        dt=Array(np.full(n, dt, np.float32), attrs={"units": "ns"}),
        values=ArrayOfEqualSizedArrays(nda=values),
    )


def _groups(layout: np.ndarray) -> list[np.ndarray]:
    """Row indices of each distinct layout value, in order of first appearance."""
    if (layout == layout[0]).all():
        return [np.arange(len(layout))]
    values, first = np.unique(layout, axis=0, return_index=True)
    return [np.flatnonzero((layout == values[i]).all(axis=-1)) for i in np.argsort(first)]


class ORSIS3302DecoderForEnergy(OrcaDecoder):
    """Decodes SIS3302 energy records, all of one layout in a block at once."""

    decoder_name = "ORSIS3302DecoderForEnergy"
    orca_classes = ("ORSIS3302DecoderForEnergy",)

    def keys(self) -> list[Key]:
        keys = []
        for crate, card in _cards(self.header, "ORSIS3302Model", self.path):
            mask = int(card.get("internalTriggerEnabledMask", 0))
            mask |= int(card.get("externalTriggerEnabledMask", 0))
            keys += [ccc(crate, int(card["Card"]), ch) for ch in range(8) if mask >> ch & 1]
        return keys

    def decode(self, words, starts, lengths, packet_ids, file_offset) -> list[Decoded]:
        self.require_words(starts, lengths, 10, file_offset)
        head = record_matrix(words, starts, 4)
        layout = np.stack([head[:, 1] & 1, head[:, 2], head[:, 3], lengths], axis=1)
        pieces = []
        for rows in _groups(layout):
            pieces.append(
                self._decode_layout(
                    words, starts[rows], lengths[rows], packet_ids[rows], file_offset
                )
            )
        pieces.sort(key=first_packet)
        return pieces

    def _decode_layout(self, words, starts, lengths, packet_ids, file_offset) -> Decoded:
        wrap = bool(words[starts[0] + 1] & 1)
        wf_words, energy_words = int(words[starts[0] + 2]), int(words[starts[0] + 3])
        n_header = 8 if wrap else 6
        length = int(lengths[0])
        trailer = words[starts + length - 1]
        if n_header + wf_words + energy_words + 4 != length or (trailer != TRAILER).any():
            bad = int(np.flatnonzero(trailer != TRAILER)[0]) if (trailer != TRAILER).any() else 0
            msg = (
                f"SIS3302 record of {length} words does not hold a {wf_words}-word waveform, "
                f"a {energy_words}-word energy waveform and a 0xDEADBEEF trailer"
            )
            raise DAQError(msg, file=self.path, offset=file_offset + 4 * int(starts[bad]))
        head = record_matrix(words, starts, n_header)
        crate, card, channel, keys = _where(head[:, 1])
        values = record_matrix(words, starts + n_header, wf_words).view(np.uint16)
        if wrap and wf_words:
            first = head[:, 7].astype(np.int64) + 1
            n_samples = 2 * wf_words
            if (first > n_samples).any():
                i = int(np.flatnonzero(first > n_samples)[0])
                msg = f"SIS3302 wrap index {first[i] - 1} past the {n_samples}-sample waveform"
                raise DAQError(msg, file=self.path, offset=file_offset + 4 * int(starts[i]))
            index = (np.arange(n_samples) + first[:, None]) % n_samples
            values = np.take_along_axis(values, index, axis=1)
        footer = record_matrix(words, starts + length - 4, 2)
        columns = {
            "packet_id": Array(packet_ids.astype(np.uint32)),
            "energy": Array(footer[:, 0], attrs={"units": "adc"}),
            "energy_first": Array(footer[:, 1]),
            "timestamp": Array(_timestamp(head[:, 4], head[:, 5]), attrs={"units": "clock_ticks"}),
            "crate": Array(crate.astype(np.uint8)),
            "card": Array(card.astype(np.uint8)),
            "channel": Array(channel.astype(np.uint8)),
            "waveform": _waveform(values, 10),
        }
        return Decoded(self.decoder_name, keys, Table(columns))


SIS3316_OPTIONAL = (
    (0, ("peakHighValue", "peakHighIndex", "accSum1", "information", "accSum2", "accSum3",
         "accSum4", "accSum5", "accSum6")),
    (1, ("accSum7", "accSum8")),
    (2, ("mawMax", "mawBefore", "mawAfter")),
    (3, ("startEnergy", "maxEnergy")),
)  # fmt: skip
"""The SIS3316 event's optional values by format bit (bit 0's first two and fourth share
words with others: see the module docstring)."""

SIS3316_COLUMNS = (
    "packet_id", "energy", "peakHighValue", "peakHighIndex", "accSum1", "information",
    "accSum2", "accSum3", "accSum4", "accSum5", "accSum6", "accSum7", "accSum8", "mawMax",
    "mawBefore", "mawAfter", "startEnergy", "maxEnergy", "energy_first",
)  # fmt: skip
"""The uint32 columns before timestamp, crate, card, channel, waveform (daq2lh5's order)."""


class ORSIS3316WaveformDecoder(OrcaDecoder):
    """Decodes SIS3316 records, every event of every record of one layout at once (one
    row per event). ``energy`` and ``energy_first`` (declared but never filled by
    daq2lh5) hold the max and start energy of format bit 3."""

    decoder_name = "ORSIS3316WaveformDecoder"
    orca_classes = ("ORSIS3316WaveformDecoder",)

    def keys(self) -> list[Key]:
        keys = []
        for crate, card in _cards(self.header, "ORSIS3316Model", self.path):
            mask = int(card.get("enabledMask", 0))
            keys += [ccc(crate, int(card["Card"]), ch) for ch in range(16) if mask >> ch & 1]
        return keys

    def decode(self, words, starts, lengths, packet_ids, file_offset) -> list[Decoded]:
        self.require_words(starts, lengths, 10, file_offset)
        head = record_matrix(words, starts, 6).astype(np.int64)
        n_events, event_words, data_header = head[:, 2], head[:, 3], head[:, 5]
        self.require_words(starts, lengths, 10 + n_events * event_words, file_offset)
        if ((n_events > 0) & ((event_words < 2) | (data_header > event_words))).any():
            i = int(np.flatnonzero((event_words < 2) | (data_header > event_words))[0])
            msg = f"SIS3316 event of {event_words[i]} words with a {data_header[i]}-word header"
            raise DAQError(msg, file=self.path, offset=file_offset + 4 * int(starts[i]))
        pieces = []
        for rows in _groups(np.stack([event_words, data_header], axis=1)):
            pieces.append(self._decode_layout(words, head[rows], starts[rows], packet_ids[rows]))
        pieces = [p for p in pieces if rows_of(p)]
        pieces.sort(key=first_packet)
        return pieces

    def _decode_layout(self, words, head, starts, packet_ids) -> Decoded:
        n_events = head[:, 2]
        event_words, data_header = int(head[0, 3]), int(head[0, 5])
        record = np.repeat(np.arange(len(starts)), n_events)
        index = np.arange(len(record)) - np.repeat(np.cumsum(n_events) - n_events, n_events)
        event_starts = starts[record] + 10 + index * event_words
        event = record_matrix(words, event_starts, data_header)
        crate, card, channel, keys = _where(head[record, 1])
        fmt = event[:, 0] & 0xF
        values = {name: np.full(len(record), MISSING) for name in SIS3316_COLUMNS}
        values["packet_id"] = packet_ids[record].astype(np.uint32)
        at = np.full(len(record), 2, np.int64)  # the next optional word of each event
        for bit, names in SIS3316_OPTIONAL:
            has = (fmt >> bit) & 1 == 1
            rows = np.flatnonzero(has)
            if bit == 0:
                taken = event[rows[:, None], at[rows, None] + np.arange(7)]
                values["peakHighValue"][rows] = taken[:, 0] & 0xFFFF
                values["peakHighIndex"][rows] = taken[:, 0] >> 16
                values["accSum1"][rows] = taken[:, 1] & 0xFFFFFF
                values["information"][rows] = taken[:, 1] >> 24
                for k in range(2, 7):
                    values[f"accSum{k}"][rows] = taken[:, k]
                at[rows] += 7
            else:
                taken = event[rows[:, None], at[rows, None] + np.arange(len(names))]
                for k, name in enumerate(names):
                    values[name][rows] = taken[:, k]
                at[rows] += len(names)
        if (at > data_header).any():
            i = int(np.flatnonzero(at > data_header)[0])
            msg = f"SIS3316 event format {fmt[i]:#x} needs {at[i]} header words, has {data_header}"
            raise DAQError(msg, file=self.path, offset=4 * int(event_starts[i]))
        values["energy"] = values["maxEnergy"].copy()
        values["energy_first"] = values["startEnergy"].copy()
        columns: dict[str, Any] = {
            name: Array(
                values[name],
                attrs={}
                if name in ("packet_id", "information", "energy_first")
                else {"units": "adc"},
            )
            for name in SIS3316_COLUMNS
        }
        columns["timestamp"] = Array(
            _timestamp(event[:, 0], event[:, 1]), attrs={"units": "clock_ticks"}
        )
        columns["crate"] = Array(crate.astype(np.uint8))
        columns["card"] = Array(card.astype(np.uint8))
        columns["channel"] = Array(channel.astype(np.uint8))
        samples = record_matrix(words, event_starts + data_header, event_words - data_header)
        columns["waveform"] = _waveform(samples.view(np.uint16), 8)
        return Decoded(self.decoder_name, keys, Table(columns))
