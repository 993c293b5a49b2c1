"""FSP records of FCIO streams (read by the ``fcio`` package) into legend-daq2lh5's FSP tables.

The FlashCam stream processor (FSP) writes its own records in front of the FCIO records it
judged: an ``FSPConfig`` before the stream's Config, an ``FSPEvent`` before each Event,
SparseEvent or EventHeader, an ``FSPStatus`` before each Status; an FSP record and the
record after it are one packet. ``fcio`` parses them into ``FCIO().fsp`` (its ``config``,
``event`` and ``status``), from which this module makes daq2lh5's objects:

- ``FSPConfigDecoder`` (key ``swtid_{id}/config``): a struct of scalars and arrays, written
  once (:func:`fsp_config_struct`);
- ``FSPEventDecoder`` (keys ``swtid_{id}/event`` for an FSPEvent before an Event or
  SparseEvent, ``swtid_{id}/evt_hdr`` before an EventHeader): one row per record;
- ``FSPStatusDecoder`` (key ``swtid_{id}/status``): one row per record.

Names, dtypes and attributes are daq2lh5's; the per-record values are copied into block
buffers and the tables made once per block (:meth:`FSPTables.flush`).

>>> fsp_keys(0x10007)["FSPEventDecoder"]
['swtid_7/event', 'swtid_7/evt_hdr']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...types import LGDO, Array, Scalar, Struct, Table, VectorOfVectors
from ..stream import Decoded, Key


def fsp_key(streamid: int, kind: str) -> str:
    """daq2lh5's key of a stream's FSP objects: ``swtid_{id}/{kind}``, ``kind`` one of
    ``config``, ``event``, ``evt_hdr``, ``status``."""
    return f"swtid_{streamid & 0xFFFF}/{kind}"


def fsp_keys(streamid: int) -> dict[str, list[Key]]:
    """The keys of the FSP decoders of a stream, by decoder (daq2lh5's names)."""
    return {
        "FSPConfigDecoder": [fsp_key(streamid, "config")],
        "FSPEventDecoder": [fsp_key(streamid, "event"), fsp_key(streamid, "evt_hdr")],
        "FSPStatusDecoder": [fsp_key(streamid, "status")],
    }


# -- FSPConfig: a struct --------------------------------------------------------------------


def _nsec(timestamp: dict[str, int]) -> np.int64:
    """A libfsp Timestamp (``{"seconds", "nanoseconds"}``) in nanoseconds."""
    return np.int64(int(timestamp["seconds"]) * 1_000_000_000 + int(timestamp["nanoseconds"]))


def _tracemap_fields(prefix: str, tracemap: dict[str, Any]) -> dict[str, LGDO]:
    n_mapped, n_enabled = int(tracemap["n_mapped"]), int(tracemap["n_enabled"])
    return {
        f"{prefix}_tracemap_format": Scalar(np.int32(tracemap["format"])),
        f"{prefix}_tracemap_indices": Array(np.array(tracemap["map"][:n_mapped], np.int32)),
        f"{prefix}_tracemap_enabled": Array(np.array(tracemap["enabled"][:n_enabled], np.int32)),
        f"{prefix}_tracemap_label": Array(np.array(tracemap["label"][:n_mapped], "S7")),
    }


def fsp_config_struct(config: Any) -> Struct:
    """daq2lh5's ``FSPConfig`` struct of an fcio FSP config (``FCIO().fsp.config``): the
    buffer, trigger and the three processors' (``wps``, ``hwm``, ``ct``) settings, arrays cut
    to the channels each processor maps.

    Its fields, in daq2lh5's order, are scalars (``buffer_max_states``, ...) and arrays
    (``trg_hwm_prescale_ratio``, ``dsp_wps_gains``, ...); windows are in nanoseconds.
    """
    buffer, trigger = config.buffer, config.triggerconfig
    wps, hwm, ct = config.wps, config.hwm, config.ct
    n_wps = int(wps["tracemap"]["n_mapped"])
    n_hwm = int(hwm["tracemap"]["n_mapped"])
    n_ct = int(ct["tracemap"]["n_mapped"])

    def array(values, n: int, dtype: str) -> Array:
        return Array(np.array(values[:n], dtype))

    fields: dict[str, LGDO] = {
        "buffer_max_states": Scalar(np.int32(buffer["max_states"])),
        "buffer_window_nsec": Scalar(_nsec(buffer["buffer_window"])),
        "trg_hwm_min_multiplicity": Scalar(np.int32(trigger["hwm_min_multiplicity"])),
        "trg_hwm_prescale_ratio": array(trigger["hwm_prescale_ratio"], n_hwm, "int32"),
        "trg_wps_prescale_ratio": Scalar(np.int32(trigger["wps_prescale_ratio"])),
        "trg_wps_coincident_sum_threshold": Scalar(
            np.float32(trigger["wps_coincident_sum_threshold"])
        ),
        "trg_wps_sum_threshold": Scalar(np.float32(trigger["wps_sum_threshold"])),
        "trg_wps_prescale_rate": Scalar(np.float32(trigger["wps_prescale_rate"])),
        "trg_hwm_prescale_rate": array(trigger["hwm_prescale_rate"], n_hwm, "float32"),
        "trg_wps_ref_flags_hwm": Scalar(np.int64(trigger["wps_ref_flags_hwm"]["is_flagged"])),
        "trg_wps_ref_flags_ct": Scalar(np.int64(trigger["wps_ref_flags_ct"]["is_flagged"])),
        "trg_wps_ref_flags_wps": Scalar(np.int64(trigger["wps_ref_flags_wps"]["is_flagged"])),
        "trg_wps_ref_map_idx": array(
            trigger["wps_ref_map_idx"], int(trigger["n_wps_ref_map_idx"]), "int32"
        ),
        "trg_enabled_write_flags_trigger": Scalar(
            np.int64(trigger["enabled_flags"]["trigger"]["is_flagged"])
        ),
        "trg_enabled_write_flags_event": Scalar(
            np.int64(trigger["enabled_flags"]["event"]["is_flagged"])
        ),
        "trg_pre_trigger_window_nsec": Scalar(_nsec(trigger["pre_trigger_window"])),
        "trg_post_trigger_window_nsec": Scalar(_nsec(trigger["post_trigger_window"])),
    }
    fields |= _tracemap_fields("dsp_wps", wps["tracemap"])
    for name, dtype in (("gains", "float32"), ("thresholds", "float32"), ("lowpass", "float32")):
        fields[f"dsp_wps_{name}"] = array(wps[name], n_wps, dtype)
    fields["dsp_wps_shaping_widths"] = array(wps["shaping_widths"], n_wps, "int32")
    for name in ("margin_front", "margin_back", "start_sample", "stop_sample"):
        fields[f"dsp_wps_{name}"] = array(wps[f"dsp_{name}"], n_wps, "int32")
    for name in (
        "dsp_max_margin_front",
        "dsp_max_margin_back",
        "apply_gain_scaling",
        "sum_window_size",
        "sum_window_start_sample",
        "sum_window_stop_sample",
    ):
        fields[f"dsp_wps_{name}"] = Scalar(np.int32(wps[name]))
    fields["dsp_wps_sub_event_sum_threshold"] = Scalar(np.float32(wps["sub_event_sum_threshold"]))
    fields |= _tracemap_fields("dsp_hwm", hwm["tracemap"])
    fields["dsp_hwm_fpga_energy_threshold_adc"] = array(
        hwm["fpga_energy_threshold_adc"], n_hwm, "uint16"
    )
    fields |= _tracemap_fields("dsp_ct", ct["tracemap"])
    fields["dsp_ct_thresholds"] = array(ct["thresholds"], n_ct, "uint16")
    return Struct(fields)


# -- FSPEvent and FSPStatus: tables ---------------------------------------------------------

# column: (dtype, attribute of fcio's FSP event)
EVENT_COLUMNS = {
    "is_written": ("bool", "is_written"),
    "is_extended": ("bool", "is_extended"),
    "is_consecutive": ("bool", "is_consecutive"),
    "is_hwm_prescaled": ("bool", "is_hwm_prescaled"),
    "is_hwm_multiplicity": ("bool", "is_hwm_multiplicity"),
    "is_wps_sum": ("bool", "is_wps_sum"),
    "is_wps_coincident_sum": ("bool", "is_wps_coincident_sum"),
    "is_wps_prescaled": ("bool", "is_wps_prescaled"),
    "is_ct_multiplicity": ("bool", "is_ct_multiplicity"),
    "obs_wps_sum_value": ("float32", "obs_wps_sum_value"),
    "obs_wps_sum_offset": ("int32", "obs_wps_sum_offset"),
    "obs_wps_sum_multiplicity": ("int32", "obs_wps_sum_multiplicity"),
    "obs_wps_max_peak_value": ("float32", "obs_wps_max_single_peak_value"),
    "obs_wps_max_peak_offset": ("int32", "obs_wps_max_single_peak_offset"),
    "obs_hwm_hw_multiplicity": ("int32", "obs_hwm_hw_multiplicity"),
    "obs_hwm_sw_multiplicity": ("int32", "obs_hwm_sw_multiplicity"),
    "obs_hwm_max_value": ("uint16", "obs_hwm_max_value"),
    "obs_hwm_min_value": ("uint16", "obs_hwm_min_value"),
    "obs_ct_multiplicity": ("int32", "obs_ct_multiplicity"),
    "obs_evt_nconsecutive": ("int32", "obs_evt_nconsecutive"),
}
# per-record vectors: (dtype, attribute of fcio's FSP event)
EVENT_VECTORS = {
    "obs_ct_trace_idx": ("int32", "obs_ct_trace_idx"),
    "obs_ct_max": ("uint16", "obs_ct_max"),
    "obs_ps_hwm_prescaled_trace_idx": ("uint16", "obs_ps_hwm_prescaled_trace_idx"),
}
STATUS_COLUMNS = {
    "start_time": "float64",
    "log_time": "float64",
    "dt_logtime": "float64",
    "runtime": "float64",
    "n_read_events": "int32",
    "n_written_events": "int32",
    "n_discarded_events": "int32",
    "dt_n_read_events": "int32",
    "dt_n_written_events": "int32",
    "dt_n_discarded_events": "int32",
    "dt": "float64",
    "dt_rate_read_events": "float64",
    "dt_rate_write_events": "float64",
    "dt_rate_discard_events": "float64",
    "avg_rate_read_events": "float64",
    "avg_rate_write_events": "float64",
    "avg_rate_discard_events": "float64",
}
"""The columns of ``FSPStatus`` besides ``packet_id``; each is fcio's attribute of that name."""


class FSPTables:
    """Block buffers for the FSPEvent and FSPStatus records of one FCIO stream (at most
    ``capacity`` of each); :meth:`flush` makes the tables.

    >>> tables = FSPTables(streamid=0, capacity=4)
    >>> tables.pending, tables.flush()
    (0, [])
    """

    def __init__(self, streamid: int, capacity: int):
        self.event_key = fsp_key(streamid, "event")
        self.header_key = fsp_key(streamid, "evt_hdr")
        self.status_key = fsp_key(streamid, "status")
        self.capacity = max(int(capacity), 1)
        self._events = _Rows(
            self.capacity, {n: spec[0] for n, spec in EVENT_COLUMNS.items()} | {"header": "bool"}
        )
        self._vectors: dict[str, list[np.ndarray]] = {name: [] for name in EVENT_VECTORS}
        self._status = _Rows(self.capacity, STATUS_COLUMNS)

    @property
    def pending(self) -> int:
        """Records buffered."""
        return self._events.n + self._status.n

    def room(self) -> bool:
        return self._events.n < self.capacity and self._status.n < self.capacity

    def add_event(self, event: Any, packet_id: int, header: bool) -> None:
        """Copy an FSPEvent record (``FCIO().fsp.event``) that came before an Event or
        SparseEvent (``header=False``) or an EventHeader (``header=True``)."""
        values = {name: getattr(event, attr) for name, (_, attr) in EVENT_COLUMNS.items()}
        self._events.add(packet_id, values | {"header": header})
        for name, (dtype, attr) in EVENT_VECTORS.items():
            self._vectors[name].append(np.array(getattr(event, attr), dtype))  # a copy

    def add_status(self, status: Any, packet_id: int) -> None:
        """Copy an FSPStatus record (``FCIO().fsp.status``)."""
        self._status.add(packet_id, {name: getattr(status, name) for name in STATUS_COLUMNS})

    def flush(self) -> list[Decoded]:
        """The buffered records as tables (FSPEvent, FSPStatus), emptied."""
        out = []
        if self._events.n:
            out.append(self._event_table())
        if self._status.n:
            columns = self._status.columns()
            keys = np.full(len(columns["packet_id"]), self.status_key)
            table = Table({name: Array(nda) for name, nda in columns.items()})
            out.append(Decoded("FSPStatusDecoder", keys, table))
        self._events.clear()
        self._status.clear()
        self._vectors = {name: [] for name in EVENT_VECTORS}
        return out

    def _event_table(self) -> Decoded:
        values = self._events.columns()
        header = values.pop("header")
        columns: dict[str, LGDO] = {
            name: Array(nda, attrs={"description": ""}) for name, nda in values.items()
        }
        for name, (dtype, _) in EVENT_VECTORS.items():
            parts = self._vectors[name]
            columns[name] = VectorOfVectors(
                flattened_data=np.concatenate(parts).astype(dtype, copy=False),
                cumulative_length=np.cumsum([len(p) for p in parts], dtype=np.int64),
                attrs={"description": ""},
            )
        keys = np.where(header, self.header_key, self.event_key)
        return Decoded("FSPEventDecoder", keys, Table(columns))


class _Rows:
    """Preallocated columns (``packet_id`` first) of up to ``cap`` rows."""

    def __init__(self, cap: int, dtypes: dict[str, str]):
        self.data = {"packet_id": np.empty(cap, np.uint32)} | {
            name: np.empty(cap, dtype) for name, dtype in dtypes.items()
        }
        self.n = 0

    def add(self, packet_id: int, values: dict[str, Any]) -> None:
        i = self.n
        self.data["packet_id"][i] = packet_id
        for name, value in values.items():
            self.data[name][i] = value
        self.n = i + 1

    def columns(self) -> dict[str, np.ndarray]:
        return {name: nda[: self.n].copy() for name, nda in self.data.items()}

    def clear(self) -> None:
        self.n = 0
