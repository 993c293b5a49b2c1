"""FlashCam records read out by ORCA: the listener config and the ADC waveforms.

**Keys.** A channel's key is ``fcid * 1_000_000 + board_id * 100 + fc_input`` (daq2lh5's
``get_key``): ``fcid`` is the listener's ``uniqueID`` (``ReadoutDescription``), the board ID
the card's ``CardAddress`` (``ObjectInfo/Crates/Cards``), ``fc_input`` each ``Enabled``
input of the card. The waveform decoder's keys come from the header alone.

**Listener config** (``ORFlashCamListenerConfigDecoder``), per record:
word 1 = readout ID (bits 31-16) and fcid (bits 15-0); words 2-12 = streamid, nadcs,
ntriggers, nsamples, adcbits, sumlength, blprecision, mastercards, triggercards, adccards,
gps (int32); words 13.. = one word per ADC channel, board ID (bits 31-16) and input
(bits 15-0); if the record is longer: ``ceil(adccards / 4)`` words of board revisions (one
byte each, low byte first), then two words (high, low) of each board's 64-bit unique ID.
The config's ``gps`` and channel map are kept for the waveform records that follow.

**ADC waveform** (``ORFlashCamADCWaveformDecoder``; ``ORFlashCamWaveformDecoder`` is the
older layout with other input/channel bits), per record:

- word 1: ORCA header length ``h`` (bits 31-28), FCIO header length ``f`` (27-22),
  samples (21-6), event type (4-0);
- word 2: crate (31-27), slot (26-22), board ID (21-14, read as ``(w & 0x3FC000) >> 10``; an
  ID equal to the header's ``(CardAddress << 4) & 0xFFF`` is that card's), input (13-10; old
  layout 13-9), channel (9-0; old layout 8-0);
- words h..h+6: mu_offset_sec, mu_offset_usec, to_master_sec, delta_mu_usec,
  abs_delta_mu_usec, to_start_sec, to_start_usec; h+7..h+11: dead region start pps/ticks,
  stop pps/ticks, maxticks; h+12..h+15: eventnumber, ts_pps, ts_ticks, ts_maxticks;
- word h+f-1: daqenergy (31-16), baseline (15-0); from word h+f the samples, two uint16
  per word.

``runtime = ts_pps + ts_ticks / (ts_maxticks + 1)``; ``timestamp = runtime + to_master_sec``
if the listener config's ``gps`` is non-zero, else ``runtime + mu_offset_sec +
mu_offset_usec * 1e-6``; ``deadtime = (stop_pps - start_pps) + (stop_ticks -
start_ticks) / maxticks``. If the config's channel map gives another board for a channel,
the ``board_id`` column takes the config's (the key stays ORCA's), as daq2lh5.

>>> key(1, 288, 5)
1028805
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ....errors import DAQError
from ....types import (
    LGDO,
    Array,
    ArrayOfEqualSizedArrays,
    Table,
    VectorOfVectors,
    WaveformTable,
)
from ...stream import Decoded, Key
from .decoder import OrcaDecoder, first_packet
from .records import record_matrix


def key(fcid: Any, board_id: Any, fc_input: Any) -> Any:
    """A FlashCam channel's key (int or int64 array)."""
    return fcid * 1_000_000 + board_id * 100 + fc_input


def _column(values: np.ndarray, dtype: str, description: str | None = None, units=None) -> Array:
    attrs = {}
    if description is not None:
        attrs["description"] = description
    if units is not None:
        attrs["units"] = units
    return Array(np.asarray(values).astype(dtype, copy=False), attrs=attrs)


class ListenerConfig:
    """What the listener config records of one fcid set for its waveforms."""

    def __init__(self, gps: int, channel_keys: np.ndarray):
        self.gps = gps
        self.channel_keys = channel_keys


class ORFlashCamListenerConfigDecoder(OrcaDecoder):
    """Decodes FlashCam listener config records into daq2lh5's table and keeps each fcid's
    GPS mode and channel map for the waveform decoder."""

    decoder_name = "ORFlashCamListenerConfigDecoder"
    orca_classes = ("ORFlashCamListenerConfigDecoder",)
    sets_state = True

    INT_FIELDS: ClassVar[tuple[str, ...]] = (
        "streamid", "nadcs", "ntriggers", "nsamples", "adcbits", "sumlength",
        "blprecision", "mastercards", "triggercards", "adccards", "gps",
    )  # fmt: skip

    def __init__(self, header: dict[str, Any], path: str):
        super().__init__(header, path)
        self.configs: dict[int, ListenerConfig] = {}

    def keys(self) -> list[Key]:
        return [0]

    def decode(self, words, starts, lengths, packet_ids, file_offset) -> list[Decoded]:
        self.require_words(starts, lengths, 13, file_offset)
        head = record_matrix(words, starts, 13)
        n_adc = head[:, 3].astype(np.int64)
        self.require_words(starts, lengths, 13 + n_adc, file_offset)
        fcid = head[:, 1] & 0xFFFF
        columns: dict[str, LGDO] = {
            "packet_id": _column(packet_ids, "uint32"),
            "packet_len": _column(lengths, "uint32"),
            "readout_id": _column(head[:, 1] >> 16, "uint16"),
            "fcid": _column(fcid, "uint16"),
        }
        for i, name in enumerate(self.INT_FIELDS):
            columns[name] = _column(head[:, 2 + i].view(np.int32), "int32")
        channel_words = _ragged(words, starts + 13, n_adc)
        columns["ch_board_id"] = _vov(channel_words >> 16, n_adc, "uint16")
        columns["ch_inputnum"] = _vov(channel_words & 0xFFFF, n_adc, "uint16")
        n_boards = np.where(lengths > 13 + n_adc, head[:, 11].astype(np.int64), 0)
        rev_words = (n_boards + 3) // 4
        self.require_words(starts, lengths, 13 + n_adc + rev_words + 2 * n_boards, file_offset)
        rev_bytes = _ragged(words, starts + 13 + n_adc, rev_words).astype("<u4").view(np.uint8)
        first_bytes = _positions(4 * rev_words) < np.repeat(n_boards, 4 * rev_words)
        columns["board_rev"] = _vov(rev_bytes[first_bytes], n_boards, "uint8")
        uid_words = _ragged(words, starts + 13 + n_adc + rev_words, 2 * n_boards).astype(np.uint64)
        uids = (uid_words[0::2] << np.uint64(32)) | uid_words[1::2]
        columns["board_uid"] = _vov(uids, n_boards, "uint64")
        channel_keys = key(
            np.repeat(fcid, n_adc).astype(np.int64),
            (channel_words >> 16).astype(np.int64),
            (channel_words & 0xFFFF).astype(np.int64),
        )
        bounds = np.concatenate([[0], np.cumsum(n_adc)])
        gps_mode = head[:, 2 + self.INT_FIELDS.index("gps")].view(np.int32)
        for i, f in enumerate(fcid.tolist()):
            gps = int(gps_mode[i])
            self.configs[f] = ListenerConfig(gps, channel_keys[bounds[i] : bounds[i + 1]])
        return [Decoded(self.decoder_name, 0, Table(columns))]


def _ragged(words: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The ``counts[i]`` words from ``starts[i]`` of every record, concatenated."""
    return words[np.repeat(starts, counts) + _positions(counts)]


def _positions(counts: np.ndarray) -> np.ndarray:
    """0 .. counts[i] - 1 for every i, concatenated.

    >>> _positions(np.array([2, 0, 3])).tolist()
    [0, 1, 0, 1, 2]
    """
    counts = np.asarray(counts, np.int64)
    return np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)


def _vov(flat: np.ndarray, counts: np.ndarray, dtype: str) -> VectorOfVectors:
    return VectorOfVectors(
        flattened_data=Array(flat.astype(dtype)),
        cumulative_length=Array(np.cumsum(counts).astype(np.int64)),
    )


class Readout:
    """The FlashCam readout the header describes: per (crate, slot) the listener's fcid and
    the card's board ID, per fcid its enabled channels' keys."""

    def __init__(self, header: dict[str, Any], path: str):
        self.fcid = np.zeros((32, 32), np.int64)
        self.board_id = np.zeros((32, 32), np.int64)
        self.keys: dict[int, list[int]] = {}
        try:
            cards = {
                (crate["CrateNumber"], card["Card"]): card
                for crate in header.get("ObjectInfo", {}).get("Crates", [])
                for card in crate.get("Cards", [])
                if card.get("Class Name") in ("ORFlashCamADCModel", "ORFlashCamADCStdModel")
            }
            for listener in header.get("ReadoutDescription", []):
                if listener.get("name") != "ORFlashCamListenerModel":
                    continue
                fcid = int(listener["uniqueID"])
                keys = self.keys.setdefault(fcid, [])
                for child in listener["children"]:
                    crate, slot = int(child["crate"]), int(child["station"])
                    board_id = int(cards[crate, slot]["CardAddress"])
                    self.fcid[crate & 0x1F, slot & 0x1F] = fcid
                    self.board_id[crate & 0x1F, slot & 0x1F] = board_id
                    enabled = cards[crate, slot]["Enabled"]
                    keys += [key(fcid, board_id, i) for i, on in enumerate(enabled) if on]
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            msg = f"the header's FlashCam readout description is incomplete ({err!r})"
            raise DAQError(msg, file=path, offset=8) from None
        for fcid, keys in self.keys.items():
            if fcid == 0:
                raise DAQError("a FlashCam listener has uniqueID 0", file=path, offset=8)
            self.keys[fcid] = list(dict.fromkeys(keys))


WAVEFORM_COLUMNS: dict[str, tuple[str, str | None, str | None]] = {
    "packet_id": ("uint32", "The index of this decoded packet in the file.", None),
    "fcid": ("uint8", None, None),
    "board_id": ("uint16", None, None),
    "fc_input": ("uint8", None, None),
    "eventnumber": ("int32", "Counts triggered events. Fetched from the master board in non-sparse, or from the ADC board in sparse.", None),
    "event_type": ("uint8", None, None),
    "timestamp": ("float64", "Time since epoch (unix time) for this event.", "s"),
    "runtime": ("float64", "Time since trigger enable of this run. Recorded per channel.", "s"),
    "lifetime": ("float64", "The accumulated lifetime since trigger enable, for which the hardware was not dead. Recorded per channel.", "s"),
    "deadtime": ("float64", "The accumulated time for which the hardware buffers were full (dead). Recorded per channel.", "s"),
    "deadinterval_nsec": ("int64", "The interval the board was dead between previous event and this event in nanoseconds with 4ns precision (due to the internal clock speed of 250MHz).", "ns"),
    "numtraces": ("int32", None, None),
    "baseline": ("uint16", "The baseline determined by the FPGA baseline algorithm.", None),
    "daqenergy": ("uint16", "The shaped pulse peak height above the trigger threshold for 62.5MHz mode. The waveform integral over `sumlength` samples in 250MHz mode.", None),
    "ts_pps": ("int32", "The pulse-per-second (PPS) counter since DAQ reset.", None),
    "ts_ticks": ("int32", "The clock ticks counter (250MHz) since last PPS.", None),
    "ts_maxticks": ("int32", "The clock ticks counter value when the last PPS arrived.", None),
    "mu_offset_sec": ("int32", "The seconds between server (unix) and fpga time. See `man 2 gettimeofday`.", None),
    "mu_offset_usec": ("int32", "The microseconds between server (unix second) and fpga time (pps). See `man 2 gettimeofday`", None),
    "to_master_sec": ("int32", "The timeoffset between server (unix) and fpga clocks, only valid when a gps clock/time server is used and the offset to epoch needs to be adjusted.", None),
    "delta_mu_usec": ("int32", "The clock offset in microseconds between fpga and server for aligned clocks.", None),
    "abs_delta_mu_usec": ("int32", "The absolute value of `delta_mu_usec`.", None),
    "to_start_sec": ("int32", "The seconds of the start time of the run / trigger enable.", None),
    "to_start_usec": ("int32", "The microseconds of the start time of the run / trigger enable.", None),
    "dr_start_pps": ("int32", "The PPS counter value when the hardware buffers were full (dead), before this event. Only changes if a new value is acquired.", None),
    "dr_start_ticks": ("int32", "The ticks counter value when the hardware buffers were full (dead), before this event. Only changes if a new value is acquired.", None),
    "dr_stop_pps": ("int32", "The PPS counter value when the hardware buffers are free (life) again, before this event. Only changes if a new value is acquired.", None),
    "dr_stop_ticks": ("int32", "The ticks counter value when the hardware buffers are free (life) again, before this event. Only changes if a new value is acquired.", None),
    "dr_maxticks": ("int32", "The ticks counter value on PPS when the hardware buffers were freed, before this event. Only changes if a new value is acquired.", None),
    "dr_ch_idx": ("uint16", "The start channel index of channels which are affected by the recorded dead interval.", None),
    "dr_ch_len": ("uint16", "The number of channels which are affected by the dead interval, starts from `dr_ch_idx`. Can be larger than `num_traces`.", None),
    "channel": ("uint16", "The index of each read out channel in this stream.", None),
}  # fmt: skip
"""The waveform table's columns before ``waveform``, ``crate``, ``slot``: dtype,
description, units (daq2lh5's, as FlashCam's FCIO events)."""

TIME_WORDS = (
    "mu_offset_sec", "mu_offset_usec", "to_master_sec", "delta_mu_usec", "abs_delta_mu_usec",
    "to_start_sec", "to_start_usec", "dr_start_pps", "dr_start_ticks", "dr_stop_pps",
    "dr_stop_ticks", "dr_maxticks", "eventnumber", "ts_pps", "ts_ticks", "ts_maxticks",
)  # fmt: skip
"""The int32 words from the ORCA header length on, in order."""


class ORFlashCamWaveformDecoder(OrcaDecoder):
    """Decodes all FlashCam waveform records of a block at once into daq2lh5's table,
    one piece per waveform length, keys per row."""

    decoder_name = "ORFlashCamWaveformDecoder"
    orca_classes = ("ORFlashCamWaveformDecoder",)
    input_mask, input_shift, channel_mask = 0x3E00, 9, 0x1FF

    def __init__(self, header: dict[str, Any], path: str):
        super().__init__(header, path)
        self.readout = Readout(header, path)

    def keys(self) -> list[Key]:
        return [k for keys in self.readout.keys.values() for k in keys]

    def _configs(self) -> dict[int, ListenerConfig]:
        config = self.peers.get(ORFlashCamListenerConfigDecoder.decoder_name)
        if not isinstance(config, ORFlashCamListenerConfigDecoder):
            return {}
        return config.configs

    def decode(self, words, starts, lengths, packet_ids, file_offset) -> list[Decoded]:
        self.require_words(starts, lengths, 3, file_offset)
        layout = words[starts + 1] & np.uint32(0xFFFFFFC0)
        if (layout == layout[0]).all():
            return [self._decode_layout(words, starts, lengths, packet_ids, file_offset)]
        pieces = []
        for value in np.unique(layout):  # one piece per layout (waveform length)
            rows = np.flatnonzero(layout == value)
            args = starts[rows], lengths[rows], packet_ids[rows]
            pieces.append(self._decode_layout(words, *args, file_offset))
        return sorted(pieces, key=first_packet)

    def _decode_layout(self, words, starts, lengths, packet_ids, file_offset) -> Decoded:
        word1 = int(words[starts[0] + 1])
        orca_len, fcio_len = word1 >> 28, (word1 >> 22) & 0x3F
        n_samples = (word1 >> 6) & 0xFFFF
        n_header = orca_len + fcio_len
        if orca_len < 3 or fcio_len < 17:
            msg = f"FlashCam waveform header lengths {orca_len}, {fcio_len} words are too short"
            raise DAQError(msg, file=self.path, offset=file_offset + 4 * int(starts[0]))
        self.require_words(starts, lengths, n_header + (n_samples + 1) // 2, file_offset)
        head = record_matrix(words, starts, n_header)
        samples = record_matrix(words, starts + n_header, (n_samples + 1) // 2)
        values = samples.view(np.uint16)[:, :n_samples]
        if n_samples % 2:
            values = np.ascontiguousarray(values)

        word2 = head[:, 2].astype(np.int64)
        crate, slot = (word2 >> 27) & 0x1F, (word2 >> 22) & 0x1F
        fcid = self.readout.fcid[crate, slot]
        if not fcid.all():
            i = int(np.flatnonzero(fcid == 0)[0])
            msg = f"FlashCam card in crate {crate[i]} slot {slot[i]} is not in the header's readout"
            raise DAQError(msg, file=self.path, offset=file_offset + 4 * int(starts[i]))
        expected = self.readout.board_id[crate, slot]
        board_id = (word2 & 0x3FC000) >> 10
        board_id = np.where(board_id == (expected << 4) & 0xFFF, expected, board_id)
        fc_input = (word2 & self.input_mask) >> self.input_shift
        channel = word2 & self.channel_mask
        keys = key(fcid, board_id, fc_input)

        ints = head[:, orca_len : orca_len + len(TIME_WORDS)].view(np.int32)
        t = {name: ints[:, i] for i, name in enumerate(TIME_WORDS)}
        gps = np.zeros(len(starts), bool)
        written_board = board_id
        for f, config in self._configs().items():
            rows = fcid == f
            gps[rows] = config.gps != 0
            in_map = rows & (channel < len(config.channel_keys))
            fc_keys = config.channel_keys[np.minimum(channel, len(config.channel_keys) - 1)]
            written_board = np.where(
                in_map & (fc_keys != keys), (fc_keys // 100) % 10000, written_board
            )

        with np.errstate(divide="ignore", invalid="ignore"):
            unsigned = head[:, orca_len + 13 : orca_len + 15].astype(np.float64)
            runtime = unsigned[:, 0] + unsigned[:, 1] / (t["ts_maxticks"] + np.int32(1))
            deadtime = (t["dr_stop_pps"] - t["dr_start_pps"]).astype(np.float64) + (
                t["dr_stop_ticks"] - t["dr_start_ticks"]
            ).astype(np.float64) / t["dr_maxticks"].astype(np.float64)
        offset = np.where(
            gps,
            t["to_master_sec"].astype(np.float64),
            t["mu_offset_sec"].astype(np.float64) + t["mu_offset_usec"].astype(np.float64) * 1e-6,
        )
        n_adc = np.array([len(self.readout.keys.get(f, ())) for f in range(fcid.max() + 1)])
        energy_word = head[:, n_header - 1]
        n = len(starts)
        data = {
            "packet_id": packet_ids,
            "fcid": fcid,
            "board_id": written_board,
            "fc_input": fc_input,
            "event_type": head[:, 1] & 0x1F,
            "timestamp": runtime + offset,
            "runtime": runtime,
            "lifetime": np.zeros(n),
            "deadtime": deadtime,
            "deadinterval_nsec": np.zeros(n, np.int64),
            "numtraces": np.ones(n, np.int32),
            "baseline": energy_word & 0xFFFF,
            "daqenergy": energy_word >> 16,
            "dr_ch_idx": np.zeros(n, np.uint16),
            "dr_ch_len": n_adc[fcid],
            "channel": channel,
            **t,
        }
        columns: dict[str, LGDO] = {
            name: _column(data[name], dtype, description, units)
            for name, (dtype, description, units) in WAVEFORM_COLUMNS.items()
        }
        columns["waveform"] = WaveformTable(
            t0=Array(np.zeros(n, np.float32), attrs={"units": "ns"}),
            dt=Array(np.full(n, 16, np.float32), attrs={"units": "ns"}),
            values=ArrayOfEqualSizedArrays(nda=values),
        )
        columns["crate"] = _column(crate, "uint8")
        columns["slot"] = _column(slot, "uint8")
        return Decoded(self.decoder_name, keys, Table(columns))


class ORFlashCamADCWaveformDecoder(ORFlashCamWaveformDecoder):
    """The current FlashCam ADC waveform layout: input in bits 13-10, channel in 9-0."""

    decoder_name = "ORFlashCamADCWaveformDecoder"
    orca_classes = ("ORFlashCamADCWaveformDecoder",)
    input_mask, input_shift, channel_mask = 0x3C00, 10, 0x3FF
