"""The raw tier's table: rendered waveforms with the scalar fields of LEGEND's FlashCam decoder.

Column names, dtypes and units follow the 2023 (p03) LEGEND-200 raw files, table
``chNNNNNNN/raw``. Fields that describe the DAQ's clocks are filled consistently with
the event times (``runtime = ts_pps + ts_ticks / (ts_maxticks + 1)``,
``timestamp = mu_offset_sec + runtime``); dead-time bookkeeping is zero; ``channel``
is the FlashCam trace index (as in real files), the rawid is in the table name and
in ``fcid``, ``board_id`` and ``fc_input``.

>>> import numpy as np
>>> from tierflow.sim.channels import Channel
>>> t = raw_table(np.zeros((2, 16), "uint16"), channel=Channel(1084803),
...               runtime=np.array([0.5, 1.25]), eventnumber=np.array([0, 3]),
...               packet_id=np.array([1, 4]), numtraces=np.array([1, 1]),
...               baseline=np.array([15000.2, 14999.7]), daqenergy=np.array([12.4, -3.0]),
...               start_time=1679102504)
>>> t["timestamp"].nda.tolist(), t["daqenergy"].nda.tolist(), t["ts_ticks"].nda.tolist()
([1679102504.5, 1679102505.25], [12, 0], [125000000, 62500000])
>>> sorted(t) == sorted(FLASHCAM_COLUMNS)
True
"""

from __future__ import annotations

import numpy as np

from ..types import Array, ArrayOfEqualSizedArrays, Table, VectorOfVectors, WaveformTable
from .channels import Channel
from .pulses import SAMPLING_PERIOD

#: FlashCam clock ticks per second (250 MHz); ``ts_maxticks`` is one less
TICKS_PER_SECOND = 250_000_000
#: FCIO event type of LEGEND-200 triggered (sparse) events
EVENT_TYPE = 11

#: the columns of a FlashCam raw table (2023 layout) and their dtypes
FLASHCAM_COLUMNS: dict[str, str] = {
    "packet_id": "uint32",
    "eventnumber": "int32",
    "timestamp": "float64",
    "runtime": "float64",
    "numtraces": "int32",
    "tracelist": "int16",
    "baseline": "uint16",
    "daqenergy": "uint16",
    "channel": "uint32",
    "ts_pps": "int32",
    "ts_ticks": "int32",
    "ts_maxticks": "int32",
    "mu_offset_sec": "int32",
    "mu_offset_usec": "int32",
    "to_master_sec": "int32",
    "delta_mu_usec": "int32",
    "abs_delta_mu_usec": "int32",
    "to_start_sec": "int32",
    "to_start_usec": "int32",
    "dr_start_pps": "int32",
    "dr_start_ticks": "int32",
    "dr_stop_pps": "int32",
    "dr_stop_ticks": "int32",
    "dr_maxticks": "int32",
    "deadtime": "float64",
    "waveform": "uint16",
    "event_type": "uint8",
    "fcid": "uint8",
    "crate": "uint8",
    "slot": "uint8",
    "board_id": "uint16",
    "fc_input": "uint8",
}


def _uint16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 65535).astype(np.uint16)


def raw_table(
    values: np.ndarray,
    *,
    channel: Channel,
    runtime: np.ndarray,
    eventnumber: np.ndarray,
    packet_id: np.ndarray,
    numtraces: np.ndarray,
    baseline: np.ndarray,
    daqenergy: np.ndarray,
    start_time: int,
    dt: float = SAMPLING_PERIOD,
) -> Table:
    """A ``chNNNNNNN/raw`` table for waveforms ``values`` (uint16, one row each).

    ``runtime``: seconds since the DAQ started (the cycle's ``start_time``, in unix
    seconds); ``baseline`` and ``daqenergy`` (ADC) are the DAQ's estimates, rounded
    and clipped to uint16 here.
    """
    n = len(values)
    runtime = np.asarray(runtime, np.float64)
    pps = np.floor(runtime)
    ticks = np.round((runtime - pps) * TICKS_PER_SECOND)
    carry = ticks >= TICKS_PER_SECOND
    pps, ticks = pps + carry, np.where(carry, 0, ticks)

    def const(value: float, dtype: str) -> Array:
        return Array(np.full(n, value, dtype=dtype))

    waveform = WaveformTable(
        t0=Array(np.zeros(n, np.float32)),
        t0_units="ns",
        dt=Array(np.full(n, dt, np.float32)),
        dt_units="ns",
        values=ArrayOfEqualSizedArrays(nda=np.asarray(values, np.uint16)),
    )
    tracelist = VectorOfVectors(
        flattened_data=Array(np.zeros(0, np.int16)),
        cumulative_length=Array(np.zeros(n, np.uint32)),
    )
    columns = {
        "packet_id": Array(np.asarray(packet_id, np.uint32)),
        "eventnumber": Array(np.asarray(eventnumber, np.int32)),
        "timestamp": Array(start_time + runtime, attrs={"units": "s"}),
        "runtime": Array(runtime, attrs={"units": "s"}),
        "numtraces": Array(np.asarray(numtraces, np.int32)),
        "tracelist": tracelist,
        "baseline": Array(_uint16(np.asarray(baseline))),
        "daqenergy": Array(_uint16(np.asarray(daqenergy))),
        "channel": const(channel.daq_channel, "uint32"),
        "ts_pps": Array(pps.astype(np.int32)),
        "ts_ticks": Array(ticks.astype(np.int32)),
        "ts_maxticks": const(TICKS_PER_SECOND - 1, "int32"),
        "mu_offset_sec": const(start_time, "int32"),
        "mu_offset_usec": const(0, "int32"),
        "to_master_sec": const(start_time, "int32"),
        "delta_mu_usec": const(0, "int32"),
        "abs_delta_mu_usec": const(0, "int32"),
        "to_start_sec": const(0, "int32"),
        "to_start_usec": const(0, "int32"),
        "dr_start_pps": const(0, "int32"),
        "dr_start_ticks": const(0, "int32"),
        "dr_stop_pps": const(0, "int32"),
        "dr_stop_ticks": const(0, "int32"),
        "dr_maxticks": const(TICKS_PER_SECOND - 1, "int32"),
        "deadtime": const(0.0, "float64"),
        "waveform": waveform,
        "event_type": const(EVENT_TYPE, "uint8"),
        "fcid": const(channel.fcid, "uint8"),
        "crate": const(channel.crate, "uint8"),
        "slot": const(channel.slot, "uint8"),
        "board_id": const(channel.board_id, "uint16"),
        "fc_input": const(channel.fc_input, "uint8"),
    }
    return Table(columns)
