"""FCIO records (read by the ``fcio`` package) into legend-daq2lh5's FlashCam tables.

Shared by the FCIO file reader (:mod:`.flashcam`) and the ORCA-wrapped FCIO records
(:mod:`.orca.fcio_records`). Each record's arrays are copied into block buffers
preallocated for a block (numpy, no growing lists); :meth:`FCIOTables.flush` builds the
tables once per block: ``FCEvent`` (one row per trace, keyed by rawid), ``FCEventHeader``
(one row per record, per-trace values as vectors, keyed ``fcid_{id}/evt_hdr``),
``FCStatus`` (one row per card, keyed ``fcid_{id}/status/card{reqid}``); the config gives
the one-row ``FCConfig`` table (``fcid_{id}/config``).

Column names, dtypes, descriptions and units are legend-daq2lh5's.

>>> int(rawid(0, 3, 5)), status_key(0, 0x2001), config_key(7)
(305, 'fcid_0/status/card8193', 'fcid_7/config')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...types import (
    LGDO,
    Array,
    ArrayOfEqualSizedArrays,
    Table,
    VectorOfVectors,
    WaveformTable,
)
from ..stream import Decoded

MAX_CHANNELS = 2400
"""fcio's limit of traces per record (``fcio.Limits.MaxChannels``)."""
MAX_SAMPLES = 32768
"""fcio's limit of samples per trace (``fcio.Limits.MaxSamples``)."""


def rawid(streamid: int | np.ndarray, card_address, card_input):
    """daq2lh5's FlashCam channel key: ``(streamid & 0xFFFF)*1e6 + address*100 + input``."""
    return (
        (np.asarray(streamid, np.int64) & 0xFFFF) * 1_000_000
        + np.asarray(card_address, np.int64) * 100
        + np.asarray(card_input, np.int64)
    )


def config_key(streamid: int) -> str:
    return f"fcid_{streamid & 0xFFFF}/config"


def event_header_key(streamid: int) -> str:
    return f"fcid_{streamid & 0xFFFF}/evt_hdr"


def status_key(streamid: int, reqid: int) -> str:
    return f"fcid_{streamid & 0xFFFF}/status/card{reqid & 0xFFFF}"


def status_keys(streamid: int, mastercards: int, triggercards: int, adccards: int) -> list[str]:
    """The status keys a stream's config announces (master 0, sub-masters 0x4000+i,
    trigger cards 0x1000+i, ADC cards 0x2000+i), as daq2lh5 lists them."""
    reqids = [0 if i == 0 else 0x4000 + i - 1 for i in range(mastercards)]
    reqids += [0x1000 + i for i in range(triggercards)]
    reqids += [0x2000 + i for i in range(adccards)]
    return [status_key(streamid, r) for r in reqids]


def _col(nda: np.ndarray, description: str | None, units: str | None = None) -> Array:
    attrs = {}
    if description is not None:
        attrs["description"] = description
    if units is not None:
        attrs["units"] = units
    return Array(nda, attrs=attrs)


# name: (dtype, description, units); descriptions and units are daq2lh5's
CONFIG_COLUMNS = {
    "packet_id": ("uint32", "The index of this decoded packet in the file.", None),
    "nsamples": ("int32", "samples per channel", None),
    "nadcs": ("int32", "number of adc channels", None),
    "ntriggers": ("int32", "number of triggertraces", None),
    "streamid": ("int32", "id of stream", None),
    "adcbits": ("int32", "bit range of the adc channels", None),
    "sumlength": ("int32", "length of the fpga integrator", None),
    "blprecision": ("int32", "precision of the fpga baseline", None),
    "mastercards": ("int32", "number of attached mastercards", None),
    "triggercards": ("int32", "number of attached triggercards", None),
    "adccards": ("int32", "number of attached fadccards", None),
    "gps": ("int32", "gps mode (0: not used, >0: external pps and 10MHz)", None),
}
_CONFIG_FIELDS = {
    "nsamples": "eventsamples",
    "nadcs": "adcs",
    "ntriggers": "triggers",
    "streamid": "streamid",
    "adcbits": "adcbits",
    "sumlength": "sumlength",
    "blprecision": "blprecision",
    "mastercards": "mastercards",
    "triggercards": "triggercards",
    "adccards": "adccards",
    "gps": "gps",
}

_DR_NAMES = ("dr_start_pps", "dr_start_ticks", "dr_stop_pps", "dr_stop_ticks", "dr_maxticks")
_TS_NAMES = ("eventnumber", "ts_pps", "ts_ticks", "ts_maxticks")
_TO_NAMES = (
    "mu_offset_sec",
    "mu_offset_usec",
    "to_master_sec",
    "delta_mu_usec",
    "abs_delta_mu_usec",
    "to_start_sec",
    "to_start_usec",
)

# per-record columns of FCEvent and FCEventHeader
RECORD_COLUMNS = {
    "packet_id": ("uint32", "The index of this decoded packet in the file.", None),
    "fcid": ("uint16", "The ID of this data stream.", None),
    "eventnumber": (
        "int32",
        "Counts triggered events. Fetched from the master board in non-sparse, or from the "
        "ADC board in sparse.",
        None,
    ),
    "event_type": (
        "int32",
        "Is 1 for shared trigger/readout, or 11 in true sparse mode where ADC boards trigger "
        "independently.",
        None,
    ),
    "timestamp": ("float64", "Time since epoch (unix time) for this event.", "s"),
    "numtraces": ("int32", None, None),
    "ts_pps": ("int32", "The pulse-per-second (PPS) counter since DAQ reset.", None),
    "ts_ticks": ("int32", "The clock ticks counter (250MHz) since last PPS.", None),
    "ts_maxticks": ("int32", "The clock ticks counter value when the last PPS arrived.", None),
    "mu_offset_sec": (
        "int32",
        "The seconds between server (unix) and fpga time. See `man 2 gettimeofday`.",
        None,
    ),
    "mu_offset_usec": (
        "int32",
        "The microseconds between server (unix second) and fpga time (pps). See "
        "`man 2 gettimeofday`",
        None,
    ),
    "to_master_sec": (
        "int32",
        "The timeoffset between server (unix) and fpga clocks, only valid when a gps "
        "clock/time server is used and the offset to epoch needs to be adjusted.",
        None,
    ),
    "delta_mu_usec": (
        "int32",
        "The clock offset in microseconds between fpga and server for aligned clocks.",
        None,
    ),
    "abs_delta_mu_usec": ("int32", "The absolute value of `delta_mu_usec`.", None),
    "to_start_sec": (
        "int32",
        "The seconds of the start time of the run / trigger enable.",
        None,
    ),
    "to_start_usec": (
        "int32",
        "The microseconds of the start time of the run / trigger enable.",
        None,
    ),
    "dr_start_pps": (
        "int32",
        "The PPS counter value when the hardware buffers were full (dead), before this event. "
        "Only changes if a new value is acquired.",
        None,
    ),
    "dr_start_ticks": (
        "int32",
        "The ticks counter value when the hardware buffers were full (dead), before this "
        "event. Only changes if a new value is acquired.",
        None,
    ),
    "dr_stop_pps": (
        "int32",
        "The PPS counter value when the hardware buffers are free (life) again, before this "
        "event. Only changes if a new value is acquired.",
        None,
    ),
    "dr_stop_ticks": (
        "int32",
        "The ticks counter value when the hardware buffers are free (life) again, before this "
        "event. Only changes if a new value is acquired.",
        None,
    ),
    "dr_maxticks": (
        "int32",
        "The ticks counter value on PPS when the hardware buffers were freed, before this "
        "event. Only changes if a new value is acquired.",
        None,
    ),
    "dr_ch_idx": (
        "uint16",
        "The start channel index of channels which are affected by the recorded dead interval.",
        None,
    ),
    "dr_ch_len": (
        "uint16",
        "The number of channels which are affected by the dead interval, starts from "
        "`dr_ch_idx`. Can be larger than `num_traces`.",
        None,
    ),
}

# per-trace columns: (dtype, description, units, fcio event attribute)
TRACE_COLUMNS = {
    "board_id": (
        "uint16",
        "The MAC address of the FlashCam board which recorded this event.",
        None,
        "card_address",
    ),
    "fc_input": (
        "uint16",
        "The per-board ADC channel. Corresponds to the input connector in 62.5MHz mode or the "
        "input wire in 250MHz mode.",
        None,
        "card_channel",
    ),
    "runtime": (
        "float64",
        "Time since trigger enable of this run. Recorded per channel.",
        "s",
        "run_time_sec",
    ),
    "lifetime": (
        "float64",
        "The accumulated lifetime since trigger enable, for which the hardware was not dead. "
        "Recorded per channel.",
        "s",
        "life_time_sec",
    ),
    "deadtime": (
        "float64",
        "The accumulated time for which the hardware buffers were full (dead). Recorded per "
        "channel.",
        "s",
        "dead_time_sec",
    ),
    "deadinterval_nsec": (
        "int64",
        "The interval the board was dead between previous event and this event in nanoseconds "
        "with 4ns precision (due to the internal clock speed of 250MHz).",
        "ns",
        "dead_interval_nsec",
    ),
    "baseline": (
        "uint16",
        "The baseline determined by the FPGA baseline algorithm.",
        None,
        "fpga_baseline",
    ),
    "daqenergy": (
        "uint16",
        "The shaped pulse peak height above the trigger threshold for 62.5MHz mode. The "
        "waveform integral over `sumlength` samples in 250MHz mode.",
        None,
        "fpga_energy",
    ),
}
_CHANNEL = ("uint16", "The index of each read out channel in this stream.", None)
_TRACELIST = ("uint16", "The number of read out adc channels in this event.", None)

STATUS_COLUMNS = {
    "packet_id": ("uint32", "Packet index in file.", None),
    "status": ("bool", "True: Ok, False: Errors occurred, check card-wise status.", None),
    "fpga_time": ("float32", "The clock in the fpga of the highest-level card.", "s"),
    "server_time": ("float64", "The server time when the status was checked.", "s"),
    "fpga_start_time": ("float64", "The start time of the run.", "s"),
    "id": (
        "uint32",
        "The card id (reqid) when checking the status. Don't confuse with the card address.",
        None,
    ),
    "eventnumber": ("uint32", "The eventcounter when the status was requested.", None),
    "fpga_time_nsec": ("uint32", "The clock in the fpga of the highest-level card.", "ns"),
    "n_total_errors": ("uint32", "The sum of all error counter of all cards.", None),
    "n_environment_errors": ("uint32", "The sum of all environment sensor errors.", None),
    "n_cti_errors": ("uint32", "The sum of all CTI connection errors.", None),
    "n_link_errors": ("uint32", "The sum of all trigger link errors.", None),
    "mb_current": ("int32", "The current draw of the motherboard.", "mA"),
    "mb_humidity": ("int32", "The humidity in permille measured on the motherboard.", "o/oo"),
}
# fixed-length per-card arrays: (dtype, length, description, units)
STATUS_ARRAYS = {
    "n_other_errors": ("uint32", 5, "The sum of other errors.", None),
    "mb_temps": ("int32", 5, "The temperatures measured by sensors on the motherboard.", "mC"),
    "mb_voltages": ("int32", 6, "The supply voltages of the motherboard.", "mV"),
}
# variable-length per-card vectors: (dtype, description, card attribute)
STATUS_VECTORS = {
    "adc_temps": (
        "int32",
        "If the card has adc daughter (piggy) boards mounted, each daughter has a temperature "
        "sensor.",
        "mC",
        "daughterboard_temperatures_mC",
    ),
    "cti_links": ("uint32", "CTI debugging values, for experts only.", None, "ctilinks"),
    "link_states": (
        "uint32",
        "Trigger link debugging values, for experts only.",
        None,
        "linkstates",
    ),
}


def config_table(config: Any, packet_id: int) -> Table:
    """The one-row ``FCConfig`` table of an fcio config (``fcio.FCIO().config``), with the
    values the file holds (daq2lh5 writes an uninitialised buffer here)."""
    columns: dict[str, Any] = {"packet_id": np.array([packet_id], np.uint32)}
    for name, field in _CONFIG_FIELDS.items():
        columns[name] = np.array([getattr(config, field)], np.int32)
    table = Table(
        {
            name: _col(nda, CONFIG_COLUMNS[name][1], CONFIG_COLUMNS[name][2])
            for name, nda in columns.items()
        }
    )
    ntraces = int(config.adcs) + int(config.triggers)
    tracemap = np.asarray(config.tracemap, np.uint32)[:ntraces].copy()
    table.add_field(
        "tracemap",
        VectorOfVectors(
            flattened_data=tracemap,
            cumulative_length=np.array([len(tracemap)], np.int64),
            attrs={"description": "", "length": np.int64(MAX_CHANNELS)},
        ),
    )
    return table


class FCIOTables:
    """Block buffers for the records of one FCIO stream; :meth:`flush` makes the tables.

    ``capacity`` bounds the rows (traces) buffered; :meth:`room` says whether a record of
    ``n`` traces still fits, so that the caller flushes first. ``decoders`` names the
    decoders whose tables are wanted (the others are not buffered).

    ``names`` maps the daq2lh5 decoder names this module knows (``FCEventDecoder``, ...)
    to the names to report (the ORCA decoders report ``ORFCIOEventDecoder``, ...).
    """

    def __init__(
        self,
        config: Any,
        capacity: int,
        names: dict[str, str] | None = None,
    ):
        self.streamid = int(config.streamid)
        self.fcid = self.streamid & 0xFFFF
        self.adcs = int(config.adcs)
        self.samples = int(config.eventsamples)
        self.dt = float(config.sampling_period_ns)
        self.names = {
            n: n for n in ("FCEventDecoder", "FCEventHeaderDecoder", "FCStatusDecoder")
        } | (names or {})
        self.max_traces = max(int(config.adcs) + int(config.triggers), 1)
        self.capacity = max(int(capacity), self.max_traces)
        cap, rows = self.capacity, self.capacity
        # events: per record and per trace
        self._ev = _RecordBuffers(cap, rows, self.samples)
        self._hdr = _RecordBuffers(cap, rows, 0)
        self._status: list[tuple[int, Any]] = []

    # -- filling, one record at a time ------------------------------------------------
    def room(self, n_traces: int) -> bool:
        return self._ev.room(n_traces) and self._hdr.room(n_traces)

    def add_event(self, event: Any, packet_id: int) -> None:
        """Copy an Event/SparseEvent record's arrays (``fcio.FCIO().event``)."""
        self._ev.add(event, packet_id, self.adcs, with_traces=True)

    def add_event_header(self, event: Any, packet_id: int) -> None:
        """Copy an EventHeader record's arrays (``fcio.FCIO().event``)."""
        self._hdr.add(event, packet_id, self.adcs, with_traces=False)

    def add_status(self, status: Any, packet_id: int) -> None:
        """Copy a Status record (``fcio.FCIO().status``): one row per card."""
        head = (
            bool(status.status),
            float(status.fpga_time_sec),
            float(status.unix_time_utc_sec),
            float(status.fpga_start_time_sec),
        )
        for card in status.data:
            row = {
                "packet_id": packet_id,
                "status": head[0],
                "fpga_time": head[1],
                "server_time": head[2],
                "fpga_start_time": head[3],
                "id": card.reqid,
                "eventnumber": card.eventno,
                "fpga_time_nsec": card.fpga_time_nsec,
                "n_total_errors": card.totalerrors,
                "n_environment_errors": card.enverrors,
                "n_cti_errors": card.ctierrors,
                "n_link_errors": card.linkerrors,
                "mb_current": card.mainboard_current_mA,
                "mb_humidity": card.mainboard_humiditiy_permille,
                "n_other_errors": np.array(card.othererrors),
                "mb_temps": np.array(card.mainboard_temperatures_mC),
                "mb_voltages": np.array(card.mainboard_voltages_mV),
            }
            for name, spec in STATUS_VECTORS.items():
                row[name] = np.array(getattr(card, spec[3]))
            self._status.append((int(card.reqid), row))

    @property
    def pending(self) -> int:
        """Records buffered."""
        return self._ev.n + self._hdr.n + len(self._status)

    # -- tables, once per block -------------------------------------------------------
    def flush(self) -> list[Decoded]:
        """The buffered records as tables (events, event headers, statuses), emptied."""
        out = []
        if self._ev.n:
            out.append(self._event_table())
        if self._hdr.n:
            out.append(self._header_table())
        if self._status:
            out.append(self._status_table())
        self._ev.clear()
        self._hdr.clear()
        self._status = []
        return out

    def _record_columns(self, buf: _RecordBuffers, rows: np.ndarray | slice) -> dict[str, LGDO]:
        n = buf.n
        values = {
            "packet_id": buf.packet_id[:n],
            "fcid": np.full(n, self.fcid, np.uint16),
            "event_type": buf.type[:n],
            "numtraces": buf.numtraces[:n],
            "timestamp": buf.unix_time[:n],
            "dr_ch_idx": buf.dr_ch[:n, 0],
            "dr_ch_len": buf.dr_ch[:n, 1],
        }
        for i, name in enumerate(_TS_NAMES):
            values[name] = buf.timestamp[:n, i]
        for i, name in enumerate(_TO_NAMES):
            values[name] = buf.timeoffset[:n, i]
        for i, name in enumerate(_DR_NAMES):
            values[name] = buf.deadregion[:n, i]
        return {
            name: _col(np.asarray(values[name])[rows].astype(spec[0], copy=True), spec[1], spec[2])
            for name, spec in RECORD_COLUMNS.items()
        }

    def _event_table(self) -> Decoded:
        buf = self._ev
        m = buf.rows
        record_of_row = np.repeat(np.arange(buf.n), buf.numtraces[: buf.n])
        columns = self._record_columns(buf, record_of_row)
        columns["channel"] = _col(buf.trace_list[:m].copy(), _CHANNEL[1])
        per_trace = {
            name: _col(buf.per_trace[name][:m].astype(spec[0]), spec[1], spec[2])
            for name, spec in TRACE_COLUMNS.items()
        }
        columns.update(per_trace)
        columns["waveform"] = WaveformTable(
            t0=np.zeros(m, np.float32),
            t0_units="ns",
            dt=np.full(m, self.dt, np.float32),
            dt_units="ns",
            values=ArrayOfEqualSizedArrays(nda=buf.traces[:m].copy()),
        )
        keys = rawid(self.streamid, per_trace["board_id"].nda, per_trace["fc_input"].nda)
        return Decoded(self.names["FCEventDecoder"], keys, Table(columns))

    def _header_table(self) -> Decoded:
        buf = self._hdr
        m = buf.rows
        columns = self._record_columns(buf, slice(None))
        lengths = np.cumsum(buf.numtraces[: buf.n], dtype=np.int64)
        columns["tracelist"] = VectorOfVectors(
            flattened_data=buf.trace_list[:m].copy(),
            cumulative_length=lengths,
            attrs={"description": _TRACELIST[1]},
        )
        for name, spec in TRACE_COLUMNS.items():
            attrs = {"description": spec[1]} | ({"units": spec[2]} if spec[2] else {})
            columns[name] = VectorOfVectors(
                flattened_data=buf.per_trace[name][:m].astype(spec[0]),
                cumulative_length=lengths.copy(),
                attrs=attrs,
            )
        return Decoded(
            self.names["FCEventHeaderDecoder"], event_header_key(self.streamid), Table(columns)
        )

    def _status_table(self) -> Decoded:
        rows = [row for _, row in self._status]
        columns: dict[str, Any] = {}
        for name, (dtype, description, units) in STATUS_COLUMNS.items():
            columns[name] = _col(np.array([r[name] for r in rows], dtype), description, units)
        for name, (dtype, length, description, units) in STATUS_ARRAYS.items():
            nda = np.zeros((len(rows), length), dtype)
            for i, r in enumerate(rows):
                nda[i, : len(r[name])] = r[name][:length]
            attrs = {"description": description} | ({"units": units} if units else {})
            columns[name] = ArrayOfEqualSizedArrays(nda=nda, attrs=attrs)
        for name, (dtype, description, units, _) in STATUS_VECTORS.items():
            parts = [np.asarray(r[name], dtype) for r in rows]
            attrs = {"description": description} | ({"units": units} if units else {})
            columns[name] = VectorOfVectors(
                flattened_data=np.concatenate(parts) if parts else np.zeros(0, dtype),
                cumulative_length=np.cumsum([len(p) for p in parts], dtype=np.int64),
                attrs=attrs,
            )
        keys = np.array([status_key(self.streamid, reqid) for reqid, _ in self._status])
        return Decoded(self.names["FCStatusDecoder"], keys, Table(columns))


class _RecordBuffers:
    """Preallocated buffers of one record kind: ``cap`` records, ``rows`` traces."""

    def __init__(self, cap: int, rows: int, samples: int):
        self.cap, self.row_cap = cap, rows
        self.packet_id = np.empty(cap, np.uint32)
        self.type = np.empty(cap, np.int32)
        self.numtraces = np.empty(cap, np.int64)
        self.unix_time = np.empty(cap, np.float64)
        self.timestamp = np.empty((cap, 4), np.int32)
        self.timeoffset = np.empty((cap, 7), np.int32)
        self.deadregion = np.empty((cap, 5), np.int32)
        self.dr_ch = np.empty((cap, 2), np.int32)
        self.trace_list = np.empty(rows, np.uint16)
        self.per_trace = {
            name: np.empty(rows, "float64" if spec[0] == "uint16" else spec[0])
            for name, spec in TRACE_COLUMNS.items()
        }
        self.traces = np.empty((rows, samples), np.uint16)  # (rows, 0) for headers
        self.n = 0
        self.rows = 0

    def room(self, n_traces: int) -> bool:
        return self.n < self.cap and self.rows + n_traces <= self.row_cap

    def clear(self) -> None:
        self.n = 0
        self.rows = 0

    def add(self, event: Any, packet_id: int, adcs: int, with_traces: bool) -> None:
        i, r0 = self.n, self.rows
        n = int(event.num_traces)
        r1 = r0 + n
        self.packet_id[i] = packet_id
        self.type[i] = event.type
        self.numtraces[i] = n
        self.unix_time[i] = event.unix_time_utc_sec
        self.timestamp[i] = event.timestamp[:4]
        self.timeoffset[i] = event.timeoffset[:7]
        deadregion = event.deadregion
        self.deadregion[i] = deadregion[:5]
        if event.deadregion_size >= 7:
            self.dr_ch[i] = deadregion[5:7]
        else:
            self.dr_ch[i] = (0, adcs)
        self.trace_list[r0:r1] = event.trace_list[:n]
        for name, spec in TRACE_COLUMNS.items():
            self.per_trace[name][r0:r1] = getattr(event, spec[3])[:n]
        if with_traces:
            self.traces[r0:r1] = event.trace[:n]
        self.n = i + 1
        self.rows = r1
