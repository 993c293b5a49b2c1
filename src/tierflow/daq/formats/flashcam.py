"""FlashCam FCIO files (``.fcio``), read through the ``fcio`` package.

The file is read twice in step: tierflow scans it block by block for the record framing
(:mod:`.fcio_framing`: every record complete, every length word sane) and ``fcio`` parses
exactly the records found complete, one ``get_record()`` each; each record's arrays are
copied into block buffers and the tables are made once per block (:mod:`.fcio_tables`).
A file cut short ends with :class:`~tierflow.errors.DAQTruncatedError` at the partial
record after every complete record was yielded; ``fcio`` never sees the partial record
(it would return it as if complete).

Decoders (daq2lh5's names): ``FCConfigDecoder`` (key ``fcid_{id}/config``),
``FCEventDecoder`` (Event and SparseEvent records, keyed by rawid
``(streamid & 0xFFFF)*1_000_000 + card_address*100 + card_input``),
``FCEventHeaderDecoder`` (``fcid_{id}/evt_hdr``) and ``FCStatusDecoder``
(``fcid_{id}/status/card{reqid}``). A file written through the FlashCam stream processor
starts with an FSPConfig record: then ``FSPConfigDecoder``, ``FSPEventDecoder`` and
``FSPStatusDecoder`` are registered too (:mod:`.fcio_fsp`). An FSP record and the record
it precedes are one packet, as daq2lh5 counts. RecEvent records, and FSP records that do
not fit the record after them, are counted in :attr:`~FlashCamStream.skipped`.

>>> from tierflow.daq.formats.flashcam import FlashCamStream
>>> with FlashCamStream("th228.fcio") as s:  # doctest: +SKIP
...     s.decoder_keys()["FCEventDecoder"]
[0]
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np

from ...errors import DAQError, DAQTruncatedError
from ..stream import DAQStream, Decoded, Key
from . import fcio_framing as framing
from .c_stderr import c_stderr_to_log
from .fcio_fsp import FSPTables, fsp_config_struct, fsp_key, fsp_keys
from .fcio_tables import (
    MAX_CHANNELS,
    MAX_SAMPLES,
    FCIOTables,
    config_key,
    config_table,
    event_header_key,
    rawid,
    status_keys,
)

CONFIG, EVENT, STATUS, RECEVENT, SPARSEEVENT, EVENTHEADER = 1, 3, 4, 5, 6, 7
FSPCONFIG, FSPEVENT, FSPSTATUS = 8, 9, 10
FSP_TAGS = {FSPCONFIG: "FSPConfig", FSPEVENT: "FSPEvent", FSPSTATUS: "FSPStatus"}
FSP_BEFORE = {FSPEVENT: (EVENT, SPARSEEVENT, EVENTHEADER), FSPSTATUS: (STATUS,)}
"""The records an FSPEvent or FSPStatus record judges (the record right after it)."""
TAG_NAMES = {
    CONFIG: "Config",
    EVENT: "Event",
    STATUS: "Status",
    RECEVENT: "RecEvent",
    SPARSEEVENT: "SparseEvent",
    EVENTHEADER: "EventHeader",
} | FSP_TAGS
BLOCK_BYTES = 16 << 20

log = logging.getLogger(__name__)


CONFIG_ITEMS = (
    "adcs",
    "triggers",
    "eventsamples",
    "adcbits",
    "sumlength",
    "blprecision",
    "mastercards",
    "triggercards",
    "adccards",
    "gps",
)
"""The first items of a Config record, in file order (int32 each)."""


def check_config(config, path: str, offset: int) -> None:
    """Refuse a config whose sizes would make fcio read out of bounds or loop for long
    (fcio-py loops over the card counts)."""
    adcs, triggers, samples = int(config.adcs), int(config.triggers), int(config.eventsamples)
    cards = [int(getattr(config, n)) for n in ("mastercards", "triggercards", "adccards")]
    if adcs < 0 or triggers < 0 or adcs + triggers > MAX_CHANNELS:
        raise DAQError(
            f"corrupt FCIO config: {adcs} adcs + {triggers} triggers (fcio allows 0-{MAX_CHANNELS})",
            file=path,
            offset=offset,
        )
    if not 0 <= samples <= MAX_SAMPLES:
        raise DAQError(
            f"corrupt FCIO config: {samples} samples per trace (fcio allows 0-{MAX_SAMPLES})",
            file=path,
            offset=offset,
        )
    if int(config.blprecision) < 1:
        raise DAQError(
            f"corrupt FCIO config: baseline precision {int(config.blprecision)} (at least 1)",
            file=path,
            offset=offset,
        )
    if not all(0 <= n <= MAX_CHANNELS for n in cards):
        raise DAQError(
            f"corrupt FCIO config: {cards} master/trigger/adc cards (at most {MAX_CHANNELS} each)",
            file=path,
            offset=offset,
        )


def check_raw_config(data: bytes, at: int, path: str, offset: int) -> None:
    """Check a Config record's sizes (``data[at:]``, its tag word first; its first 10
    int32 items) before fcio parses them."""
    sizes_values = struct.unpack_from(f"<{2 * len(CONFIG_ITEMS)}i", data, at + 4)
    if any(size != 4 for size in sizes_values[0::2]):
        raise DAQError(
            f"corrupt FCIO config: its first items ({', '.join(CONFIG_ITEMS)}) are not int32",
            file=path,
            offset=offset,
        )
    values = dict(zip(CONFIG_ITEMS, sizes_values[1::2], strict=True))
    check_config(SimpleNamespace(**values), path, offset)


class FlashCamStream(DAQStream):
    """One FCIO file; the config record is read on opening."""

    stream_type = "FlashCam"
    extensions = (".fcio",)

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return (
            len(head) >= 12
            and int.from_bytes(head[:4], "little", signed=True) == framing.PROTOCOL_TAG
            and head[4:12] == b"FlashCam"
        )

    def __init__(self, path: str | os.PathLike, **options):
        super().__init__(path, **options)
        self.skipped: dict[str, int] = {}
        self.bytes_read = 0
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        except OSError as err:
            raise DAQError(f"cannot open: {err.strerror}", file=self.path) from None
        from fcio import FCIO  # the format's own reader

        self._fcio = FCIO()  # opened by _open() once the framing is checked
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        head = self._file.read(framing.HEADER_BYTES)
        if not self.sniff(head) or len(head) < framing.HEADER_BYTES:
            raise DAQError(
                "not an FCIO file: no tmio protocol header 'FlashCam...'", file=self.path, offset=0
            )
        self._buf = b""
        self._pos = 0
        self._eof = False
        self._offset = framing.HEADER_BYTES
        self._first_items: dict[int, int] = {}
        records = self._next_records(limit=1)
        self.has_fsp = bool(records) and records[0][2] == FSPCONFIG
        """The file starts with an FSPConfig record (written by the stream processor)."""
        if self.has_fsp:
            fsp_start = records[0][0]
            records = self._next_records(limit=1)
            if not records:  # an FSPConfig cut at an item boundary looks complete
                raise DAQTruncatedError(
                    "the file ends inside or right after its FSPConfig record, before the Config",
                    file=self.path,
                    offset=fsp_start,
                )
        if not records or records[0][2] != CONFIG:
            what = "nothing" if not records else TAG_NAMES.get(records[0][2], "a record")
            raise DAQError(
                f"an FCIO file starts with a Config record, found {what}",
                file=self.path,
                offset=framing.HEADER_BYTES,
            )
        start, end, _, n_items = records[0]
        if n_items < len(CONFIG_ITEMS):
            raise DAQTruncatedError(
                f"Config record has {n_items} items, at least {len(CONFIG_ITEMS)} expected",
                file=self.path,
                offset=start,
            )
        check_raw_config(self._buf, start - self._offset, self.path, start)
        try:
            with c_stderr_to_log(log, self.path):
                self._fcio.open(self.path, compression="none")
        except OSError as err:
            raise DAQError(f"fcio cannot open the file: {err}", file=self.path) from None
        self._check_fcio(CONFIG, end, start, read=False)  # open() parsed the config
        self.config = self._fcio.config
        check_config(self.config, self.path, start)
        if self.has_fsp and self._fcio.fsp is None:
            raise DAQError("fcio did not parse the FSPConfig record", file=self.path)
        self.streamid = int(self.config.streamid)
        self.bytes_read = end

    # -- framing ------------------------------------------------------------------------
    def _next_records(self, limit: int) -> list[tuple[int, int, int, int]]:
        """Up to ``limit`` complete records (file byte start, end, tag, items) following
        the previous ones; [] at the end of the file. Raises at a partial or corrupt record.

        The file is read in blocks of ``BLOCK_BYTES`` (more for a longer record);
        ``self._buf[self._pos:]`` is what is left of the block, ``self._offset`` the file
        offset of ``self._buf[0]``."""
        need_more = False
        while True:
            left = len(self._buf) - self._pos
            if not self._eof and (need_more or left == 0):
                more = self._file.read(max(BLOCK_BYTES, 2 * left) - left)
                self._eof = not more
                self._offset += self._pos
                self._buf = self._buf[self._pos :] + more
                self._pos = 0
            buf, pos = self._buf, self._pos
            found, stop, status = framing.scan_records(buf, pos, len(buf), self._eof, limit)
            if found or status in (framing.OK, framing.FULL):
                self._pos = found[-1][1] if found else stop  # after the last record
                return [(self._offset + s, self._offset + e, t, n) for s, e, t, n in found]
            where = self._offset + stop
            if status == framing.INCOMPLETE:
                if not self._eof:
                    need_more = True  # the record is longer than the block: read on
                    continue
                raise DAQTruncatedError(
                    f"the file ends inside a record ({len(buf) - stop} bytes of it present)",
                    file=self.path,
                    offset=where,
                )
            (word,) = struct.unpack_from("<i", buf, stop)
            raise DAQError(
                framing.MESSAGES[status].format(
                    word=word,
                    tag=-word,
                    max_tag=framing.MAX_TAG,
                    max_items=framing.MAX_ITEMS,
                    max_bytes=framing.MAX_ITEM_BYTES,
                ),
                file=self.path,
                offset=where,
            )

    @property
    def _pending(self) -> bool:
        """A word or more of the file read but not yet consumed by records (at the end of
        the file, 1-3 stray bytes are a record cut short, reported on the next read)."""
        return len(self._buf) - self._pos >= 4

    def _check_fcio(self, tag: int, end: int, start: int, read: bool = True) -> None:
        """Let fcio parse the next record and check it read the record tierflow located."""
        ok = self._fcio.get_record() if read else True
        got = self._fcio.tag
        read = self._fcio.read_bytes() + self._fcio.skipped_bytes()
        if not ok or got != tag or read != end:
            raise DAQError(
                f"fcio read {TAG_NAMES.get(got, got)} up to byte {read}, expected "
                f"{TAG_NAMES.get(tag, tag)} up to byte {end}",
                file=self.path,
                offset=start,
            )

    # -- the contract -----------------------------------------------------------------
    def decoder_keys(self) -> dict[str, list[Key]]:
        c = self.config
        tracemap = np.asarray(c.tracemap, np.int64)[: int(c.adcs) + int(c.triggers)]
        event_keys = rawid(self.streamid, tracemap >> 16, tracemap & 0xFFFF).tolist()
        keys: dict[str, list[Key]] = {
            "FCConfigDecoder": [config_key(self.streamid)],
            "FCEventDecoder": event_keys,
            "FCEventHeaderDecoder": [event_header_key(self.streamid)],
            "FCStatusDecoder": [
                *status_keys(
                    self.streamid, int(c.mastercards), int(c.triggercards), int(c.adccards)
                )
            ],
        }
        if self.has_fsp:
            keys |= fsp_keys(self.streamid)
        return keys

    def decode(self, buffer_size: int = 8192, n_max: float = np.inf) -> Iterator[list[Decoded]]:
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be at least 1, got {buffer_size}")
        tables = FCIOTables(self.config, buffer_size)
        fsp_tables = FSPTables(self.streamid, buffer_size)
        pieces: list[Decoded] = [
            Decoded("FCConfigDecoder", config_key(self.streamid), config_table(self.config, 0))
        ]
        fcio = self._fcio
        if self.has_fsp:
            config = fsp_config_struct(fcio.fsp.config)
            pieces.append(Decoded("FSPConfigDecoder", fsp_key(self.streamid, "config"), config))
        try:
            for tag, packet_id, start, fsp in self._packets(buffer_size, n_max):
                n = 0 if tag == STATUS else int(fcio.event.num_traces)
                if not 0 <= n <= tables.max_traces:
                    raise DAQError(
                        f"{TAG_NAMES[tag]} record with {n} traces, the config has "
                        f"{tables.max_traces}",
                        file=self.path,
                        offset=start,
                    )
                if (
                    not tables.room(n)
                    or tables.pending >= buffer_size
                    or (fsp and not fsp_tables.room())
                ):
                    yield pieces + tables.flush() + fsp_tables.flush()
                    pieces = []
                try:
                    if fsp == FSPSTATUS:
                        fsp_tables.add_status(fcio.fsp.status, packet_id)
                    elif fsp == FSPEVENT:
                        fsp_tables.add_event(fcio.fsp.event, packet_id, tag == EVENTHEADER)
                    if tag == STATUS:
                        tables.add_status(fcio.status, packet_id)
                    elif tag == EVENTHEADER:
                        tables.add_event_header(fcio.event, packet_id)
                    else:
                        tables.add_event(fcio.event, packet_id)
                except (TypeError, ValueError, IndexError) as err:  # fcio-py on odd values
                    raise DAQError(
                        f"fcio gave unusable values for this {TAG_NAMES[tag]} record ({err})",
                        file=self.path,
                        offset=start,
                    ) from None
        except DAQError:
            last = pieces + tables.flush() + fsp_tables.flush()  # the records before the error
            if last:
                yield last
            raise
        last = pieces + tables.flush() + fsp_tables.flush()
        if last:
            yield last

    def _packets(self, buffer_size: int, n_max: float) -> Iterator[tuple[int, int, int, int]]:
        """Let fcio parse the records, block after block; yields ``(tag, packet_id, byte
        offset, fsp)`` of each record with a table (events, event headers, statuses) while
        the record is fcio's current one, ``fsp`` the tag of the FSP record before it that
        judged it (0 if none), and counts the others in :attr:`skipped`."""
        packet_id = 0
        fsp_pending = 0  # the tag of the FSP record just read, until the next record
        while packet_id < n_max or fsp_pending:
            records = self._next_records(limit=buffer_size)
            if not records:
                if fsp_pending:
                    self._skip(FSP_TAGS[fsp_pending])  # the file's last record
                return
            truncated = self._short_last(records)
            if truncated is not None:
                records = records[:-1]
            for start, end, tag, _ in records:
                if not fsp_pending and packet_id >= n_max:
                    return
                if tag in (FSPEVENT, FSPSTATUS) and self._fcio.fsp is None:
                    raise DAQError(  # fcio would fail on it (no FSP state to fill)
                        f"{FSP_TAGS[tag]} record in a file that starts without FSPConfig",
                        file=self.path,
                        offset=start,
                    )
                self._check_fcio(tag, end, start)
                self.bytes_read = end
                if tag in FSP_TAGS:
                    if fsp_pending:
                        self._skip(FSP_TAGS[fsp_pending])  # followed by another FSP record
                    fsp_pending = tag
                    continue
                fsp = fsp_pending if tag in FSP_BEFORE.get(fsp_pending, ()) else 0
                if fsp_pending and not fsp:
                    self._skip(FSP_TAGS[fsp_pending])  # it does not judge this record
                fsp_pending = 0
                packet_id += 1
                if tag in (EVENT, SPARSEEVENT, EVENTHEADER, STATUS):
                    yield tag, packet_id, start, fsp
                elif tag == CONFIG:
                    self._check_same_config(start)
                else:
                    self._skip(TAG_NAMES.get(tag, f"tag {tag}"))
            if truncated is not None:
                raise truncated

    def _short_last(self, records) -> DAQTruncatedError | None:
        """Records of one tag hold as many items as the first of them: a record with more,
        or with fewer but not the file's last, is corrupt (DAQError). The file's last record
        with fewer items was cut at an item boundary, which the framing alone cannot tell:
        its error is returned (raised after the records before it), else None."""
        file_end = not self._pending and self._eof
        for i, (start, _, tag, n_items) in enumerate(records):
            expected = self._first_items.setdefault(tag, n_items)
            if n_items == expected:
                continue
            name = TAG_NAMES.get(tag, f"tag {tag}")
            if n_items < expected and file_end and i == len(records) - 1:
                return DAQTruncatedError(
                    f"the last {name} record has {n_items} items, {expected} expected: "
                    "the file ends inside it",
                    file=self.path,
                    offset=start,
                )
            raise DAQError(
                f"{name} record has {n_items} items, the first one had {expected}: "
                "corrupt length words",
                file=self.path,
                offset=start,
            )
        return None

    def _check_same_config(self, offset: int) -> None:
        c = self._fcio.config
        check_config(c, self.path, offset)
        if (int(c.adcs), int(c.triggers), int(c.eventsamples)) != (
            int(self.config.adcs),
            int(self.config.triggers),
            int(self.config.eventsamples),
        ):
            raise DAQError(
                "a second Config record changes adcs/triggers/samples mid-file; not supported",
                file=self.path,
                offset=offset,
            )
        self._skip("Config")

    def _skip(self, kind: str) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + 1

    def close(self) -> None:
        self._fcio.close()  # both may be closed again
        self._file.close()
