"""FCIO records wrapped in ORCA packets (current LEGEND ORCA files).

Each packet is ``[ORCA header word, word 1, stream id, FCIO bytes...]``: the ``ORFCIOConfig``
packet holds the tmio protocol header and a Config record, the others one FCIO record
(Event/SparseEvent, EventHeader or Status), possibly after an FSP record. The FCIO bytes
are checked for their framing (:mod:`..fcio_framing`) and parsed by the ``fcio`` package
(one ``fcio`` reader per stream id, opened by the config packet and shared by the
decoders of one file); each record's arrays go into block buffers and the tables are made
once per block (:mod:`..fcio_tables`), with daq2lh5's columns.

Keys come from the ORCA header as daq2lh5 takes them: one listener
(``ORFlashCamListenerModel`` in ``ReadoutDescription``, its ``uniqueID`` = fcid) per
stream, its ADC cards (``children``: crate, station) in ``ObjectInfo/Crates`` with
``CardAddress`` and ``Enabled`` inputs.

>>> sorted(n for n, c in OrcaDecoder.registry.items() if c.__module__ == __name__)
['ORFCIOConfig', 'ORFCIOEvent', 'ORFCIOEventHeader', 'ORFCIOStatus']
"""

from __future__ import annotations

import logging
from typing import Any

from ....errors import DAQError
from ...stream import Decoded, Key
from .. import fcio_framing as framing
from ..c_stderr import c_stderr_to_log
from ..fcio_tables import (
    FCIOTables,
    config_key,
    config_table,
    event_header_key,
    rawid,
    status_key,
)
from ..flashcam import FSP_TAGS, TAG_NAMES, check_config, check_raw_config
from .decoder import OrcaDecoder

CARD_CLASSES = (
    "ORFlashCamGlobalTriggerModel",
    "ORFlashCamTriggerModel",
    "ORFlashCamADCModel",
    "ORFlashCamADCStdModel",
)

_readers: dict[tuple[str, int], Any] = {}
"""The open fcio reader of each (file, stream id): the config packet opens it, the other
decoders of the file parse their records with it (FCIO records need their config)."""
_config_buffers: dict[tuple[str, int], bytearray] = {}
"""The config packet's bytes, kept alive while fcio reads from them."""

log = logging.getLogger(__name__)


def listeners(header: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Per FlashCam listener (fcid): its enabled channels' rawids and its card count."""
    cards = {}
    for crate in header.get("ObjectInfo", {}).get("Crates", []):
        for card in crate.get("Cards", []):
            if card.get("Class Name") in CARD_CLASSES:
                cards[(crate["CrateNumber"], card["Card"])] = card
    out = {}
    for readout in header.get("ReadoutDescription", []):
        if not isinstance(readout, dict) or readout.get("name") != "ORFlashCamListenerModel":
            continue
        fcid = int(readout["uniqueID"])
        keys: list[int] = []
        children = readout.get("children", [])
        for child in children:
            card = cards.get((child["crate"], child["station"]))
            if card is None:
                continue
            for fc_input, enabled in enumerate(card.get("Enabled", [])):
                key = int(rawid(fcid, card["CardAddress"], fc_input))
                if enabled and key not in keys:
                    keys.append(key)
        out[fcid] = {"keys": keys, "n_card": len(children)}
    return out


class _FCIORecords(OrcaDecoder):
    """What the four ORCA-wrapped FCIO decoders share: the header's listeners, the fcio
    reader of each stream, the framing check, block buffers per stream."""

    fcio_decoder: str = ""  # the FC decoder whose table this one makes

    def __init__(self, header: dict[str, Any], path: str):
        super().__init__(header, path)
        self.listeners = listeners(header)

    def _fcio_bytes(self, words, start, length, file_offset):
        """The stream id and the FCIO bytes of one packet, and the packet's byte offset."""
        offset = file_offset + 4 * int(start)
        if length < 4:
            raise DAQError(
                f"{self.decoder_name} packet of {length} words, at least 4 expected",
                file=self.path,
                offset=offset,
            )
        streamid = int(words[start + 2])
        # fcio wants a writable buffer
        return streamid, bytearray(words[start + 3 : start + length].tobytes()), offset

    def _records(self, data: bytearray, at: int, offset: int) -> list[tuple[int, int, int, int]]:
        """The FCIO records in ``data[at:]`` (1-3 trailing bytes are the packet's padding)."""
        found, stop, status = framing.scan_records(data, at, len(data), True, framing.MAX_ITEMS)
        if not found or (status != framing.OK and len(data) - stop >= 4):
            raise DAQError(
                f"{self.decoder_name} packet holds no well-formed FCIO record at byte {stop}",
                file=self.path,
                offset=offset,
            )
        return found

    def _reader(self, streamid: int, offset: int):
        reader = _readers.get((self.path, streamid))
        if reader is None:
            raise DAQError(
                f"{self.decoder_name} packet of FCIO stream {streamid} before its ORFCIOConfig",
                file=self.path,
                offset=offset,
            )
        return reader

    def decode(self, words, starts, lengths, packet_ids, file_offset) -> list[Decoded]:
        out: list[Decoded] = []
        tables: dict[int, FCIOTables] = {}
        for start, length, packet_id in zip(starts, lengths, packet_ids, strict=True):
            streamid, data, offset = self._fcio_bytes(words, start, length, file_offset)
            records = self._records(data, 0, offset)
            fcio = self._reader(streamid, offset)
            fcio.set_mem_field(memoryview(data))
            for _, _, tag, _ in records:
                if not fcio.get_record() or fcio.tag != tag:
                    raise DAQError(
                        f"fcio read {TAG_NAMES.get(fcio.tag, fcio.tag)}, expected "
                        f"{TAG_NAMES.get(tag, tag)}",
                        file=self.path,
                        offset=offset,
                    )
                if tag in FSP_TAGS:
                    continue
                table = tables.get(streamid)
                if table is None:
                    table = tables[streamid] = FCIOTables(
                        fcio.config, len(starts), {self.fcio_decoder: self.decoder_name}
                    )
                self._add(table, fcio, tag, int(packet_id), offset, out)
        for table in tables.values():
            out += table.flush()
        return out

    def _add(self, tables: FCIOTables, fcio, tag: int, packet_id: int, offset: int, out) -> None:
        n = int(fcio.event.num_traces) if tag != 4 else 0
        if not 0 <= n <= tables.max_traces:
            raise DAQError(
                f"{TAG_NAMES[tag]} record with {n} traces, the config has {tables.max_traces}",
                file=self.path,
                offset=offset,
            )
        if not tables.room(n):
            out += tables.flush()
        try:
            self._fill(tables, fcio, tag, packet_id)
        except (TypeError, ValueError, IndexError) as err:  # fcio-py on odd values
            raise DAQError(
                f"fcio gave unusable values for this {TAG_NAMES[tag]} record ({err})",
                file=self.path,
                offset=offset,
            ) from None

    def _fill(self, tables: FCIOTables, fcio, tag: int, packet_id: int) -> None:
        raise DAQError(
            f"{self.decoder_name} packet holds a {TAG_NAMES.get(tag, tag)} record", file=self.path
        )


class ORFCIOConfigDecoder(_FCIORecords):
    """The config packet of each FCIO stream: opens its fcio reader; the FCConfig table."""

    decoder_name = "ORFCIOConfigDecoder"
    orca_classes = ("ORFCIOConfig",)
    sets_state = True

    def __init__(self, header: dict[str, Any], path: str):
        super().__init__(header, path)
        for key in [k for k in _readers if k[0] == path]:  # a new reading of the file
            _readers.pop(key).close()
            _config_buffers.pop(key, None)

    def keys(self) -> list[Key]:
        return [config_key(fcid) for fcid in self.listeners]

    def decode(self, words, starts, lengths, packet_ids, file_offset) -> list[Decoded]:
        from fcio import FCIO  # the format's own reader

        out = []
        for start, length, packet_id in zip(starts, lengths, packet_ids, strict=True):
            streamid, data, offset = self._fcio_bytes(words, start, length, file_offset)
            if len(data) < framing.HEADER_BYTES or data[4:12] != b"FlashCam":
                raise DAQError(
                    "ORFCIOConfig packet without the FCIO protocol header",
                    file=self.path,
                    offset=offset,
                )
            records = self._records(data, framing.HEADER_BYTES, offset)
            if records[0][2] != 1 or records[0][3] < 10:
                raise DAQError(
                    "ORFCIOConfig packet without a complete Config record",
                    file=self.path,
                    offset=offset,
                )
            check_raw_config(data, framing.HEADER_BYTES, self.path, offset)
            if (self.path, streamid) in _readers:
                raise DAQError(
                    f"a second ORFCIOConfig for FCIO stream {streamid}; not supported",
                    file=self.path,
                    offset=offset,
                )
            fcio = FCIO()
            with c_stderr_to_log(log, self.path):
                fcio.open(memoryview(data))
            if fcio.tag != 1:
                raise DAQError("fcio could not read the config", file=self.path, offset=offset)
            check_config(fcio.config, self.path, offset)
            _readers[(self.path, streamid)] = fcio
            _config_buffers[(self.path, streamid)] = data
            fcid = int(fcio.config.streamid)
            out.append(
                Decoded(
                    self.decoder_name, config_key(fcid), config_table(fcio.config, int(packet_id))
                )
            )
        return out


class ORFCIOEventDecoder(_FCIORecords):
    """Event and SparseEvent records: one row per trace, keyed by rawid."""

    decoder_name = "ORFCIOEventDecoder"
    orca_classes = ("ORFCIOEvent",)
    fcio_decoder = "FCEventDecoder"

    def keys(self) -> list[Key]:
        return [key for info in self.listeners.values() for key in info["keys"]]

    def _fill(self, tables, fcio, tag, packet_id) -> None:
        if tag not in (3, 6):
            super()._fill(tables, fcio, tag, packet_id)
        tables.add_event(fcio.event, packet_id)


class ORFCIOEventHeaderDecoder(_FCIORecords):
    """EventHeader records: one row per record, ``fcid_{id}/evt_hdr``."""

    decoder_name = "ORFCIOEventHeaderDecoder"
    orca_classes = ("ORFCIOEventHeader",)
    fcio_decoder = "FCEventHeaderDecoder"

    def keys(self) -> list[Key]:
        return [event_header_key(fcid) for fcid in self.listeners]

    def _fill(self, tables, fcio, tag, packet_id) -> None:
        if tag != 7:
            super()._fill(tables, fcio, tag, packet_id)
        tables.add_event_header(fcio.event, packet_id)


class ORFCIOStatusDecoder(_FCIORecords):
    """Status records: one row per card, ``fcid_{id}/status/card{reqid}``."""

    decoder_name = "ORFCIOStatusDecoder"
    orca_classes = ("ORFCIOStatus",)
    fcio_decoder = "FCStatusDecoder"

    def keys(self) -> list[Key]:
        return [
            status_key(fcid, reqid)
            for fcid, info in self.listeners.items()
            for reqid in [0] + [0x2000 + i for i in range(info["n_card"])]
        ]

    def _fill(self, tables, fcio, tag, packet_id) -> None:
        if tag != 4:
            super()._fill(tables, fcio, tag, packet_id)
        tables.add_status(fcio.status, packet_id)


__all__ = [
    "ORFCIOConfigDecoder",
    "ORFCIOEventDecoder",
    "ORFCIOEventHeaderDecoder",
    "ORFCIOStatusDecoder",
    "listeners",
]
