"""The ORCA stream reader: reads an ORCA file (plain or gzipped) in blocks, frames the
records of each block in one compiled pass (:mod:`.records`), and hands each data ID's
records to its decoder (:mod:`.decoder`) all at once.

Packets are counted as legend-daq2lh5 counts them: the header is packet 0, every later
record whose data ID the header lists is the next packet (also those without a decoder,
which are skipped and counted in :attr:`OrcaStream.skipped` under their ORCA decoder
name). A record whose data ID the header does not list gets no packet number (daq2lh5
re-synchronises over it) and is counted under ``"data ID 0x..."``; this reader trusts its
length word.

>>> from tierflow.daq.formats.orca.stream import OrcaStream  # doctest: +SKIP
>>> with OrcaStream("run.orca") as stream:  # doctest: +SKIP
...     for block in stream.decode(buffer_size=8192):
...         for piece in block:
...             print(piece.decoder, len(piece.obj))
"""

from __future__ import annotations

import gzip
import itertools
import logging
import os
from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from ....errors import DAQError, DAQTruncatedError
from ....types import Table
from ...stream import DAQStream, Decoded, Key
from .decoder import OrcaDecoder
from .header import (
    HEADER_DECODER,
    HEADER_KEY,
    decoder_names_by_id,
    header_object,
    looks_like_header,
    parse_header,
)
from .records import BAD_LENGTH, frame_records

log = logging.getLogger(__name__)

READ_BYTES = 4 << 20
"""Bytes read from the file at a time (option ``read_bytes``)."""


class OrcaStream(DAQStream):
    """One ORCA file, plain or gzipped. Option ``read_bytes``: bytes per read (16 MiB).

    ``header`` is the header plist (a dict), ``names_by_id`` the ORCA decoder name of each
    data ID, ``decoders`` the decoder of each data ID that has one.
    """

    stream_type: ClassVar[str] = "ORCA"
    extensions: ClassVar[tuple[str, ...]] = (".orca",)

    def __init__(self, path: str | os.PathLike, **options):
        super().__init__(path, **options)
        self.read_bytes = max(int(options.get("read_bytes", READ_BYTES)), 16)
        try:
            with open(self.path, "rb") as probe:
                gzipped = probe.read(2) == b"\x1f\x8b"
            self._file = gzip.open(self.path, "rb") if gzipped else open(self.path, "rb")  # noqa: SIM115
        except OSError as err:
            raise DAQError(f"cannot open: {err.strerror}", file=self.path) from None
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        self._decoding = False

    def _start(self) -> None:
        """Read the header and make the decoders (again, when decoding starts over)."""
        self._words = np.empty(0, np.uint32)  # unconsumed whole words, from byte _offset
        self._tail = b""  # unconsumed bytes after them (less than a word)
        self._offset = 0
        self._eof = False
        self._cut = ""  # why the (gzip) stream ended early
        self._next_packet = 1
        self.skipped = {}
        self.bytes_read = 0
        self.header = self._read_header()
        self.names_by_id = decoder_names_by_id(self.header, self.path)
        self.decoders: dict[int, OrcaDecoder] = {}
        by_name: dict[str, OrcaDecoder] = {}
        for data_id, orca_name in self.names_by_id.items():
            cls = OrcaDecoder.registry.get(orca_name)
            if cls is not None:
                if cls.decoder_name not in by_name:
                    by_name[cls.decoder_name] = cls(self.header, self.path)
                self.decoders[data_id] = by_name[cls.decoder_name]
        for decoder in by_name.values():
            decoder.peers = by_name
        self._listed = np.array(sorted(self.names_by_id), np.uint32)
        self._stateful = np.array(
            sorted(i for i, d in self.decoders.items() if d.sets_state), np.uint32
        )

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return looks_like_header(head)

    def decoder_keys(self) -> dict[str, list[Key]]:
        keys: dict[str, list[Key]] = {HEADER_DECODER: [HEADER_KEY]}
        for decoder in self.decoders.values():
            keys.setdefault(decoder.decoder_name, decoder.keys())
        return keys

    def close(self) -> None:
        self._file.close()

    # --- reading ----------------------------------------------------------------------
    def _read_more(self, n_bytes: int) -> None:
        """Append at least ``n_bytes`` more of the file (or its rest) to the unconsumed words."""
        chunks, got = [self._words.tobytes(), self._tail], 0
        while got < n_bytes and not self._eof:
            try:  # read1: a cut gzip stream raises only after giving all it could decompress
                chunk = self._file.read1(max(n_bytes - got, self.read_bytes))
            except (OSError, EOFError) as err:
                self._cut, chunk = str(err), b""
            self._eof = not chunk
            chunks.append(chunk)
            got += len(chunk)
        # progress counts bytes of the file: of a gzipped one, the compressed bytes read
        compressed = getattr(self._file, "fileobj", None)
        self.bytes_read = compressed.tell() if compressed is not None else self.bytes_read + got
        data = b"".join(chunks)
        n_whole = len(data) // 4
        self._tail = data[4 * n_whole :]
        self._words = np.frombuffer(data, "<u4", n_whole).astype(np.uint32, copy=False)

    def _consume(self, n_words: int) -> None:
        self._words = self._words[n_words:]
        self._offset += 4 * n_words

    def _read_header(self) -> dict:
        self._read_more(12)
        if not looks_like_header(self._words[:3].tobytes()):
            msg = "not an ORCA file: no header record (data ID 0, then XML) at the start"
            raise DAQError(msg, file=self.path, offset=0)
        length = int(self._words[0] & 0x3FFFF)
        if length > len(self._words):
            self._read_more(4 * (length - len(self._words)))
        if length > len(self._words):
            msg = f"the file ends inside the header record of {length} words"
            raise DAQTruncatedError(msg, file=self.path, offset=0)
        header = parse_header(self._words[:length], self.path)
        self._header_words = length
        return header

    # --- decoding ---------------------------------------------------------------------
    def decode(self, buffer_size: int = 8192, n_max: float = np.inf) -> Iterator[list[Decoded]]:
        """See :meth:`DAQStream.decode`; a second call decodes from the start again."""
        if self._decoding:
            self._file.seek(0)
            self._start()
        self._decoding = True
        pieces = [Decoded(HEADER_DECODER, HEADER_KEY, header_object(self.header))]
        self._consume(self._header_words)
        buffer_size = max(int(buffer_size), 1)
        while True:
            remaining = n_max - (self._next_packet - 1)
            if remaining <= 0:
                break
            frame = frame_records(self._words, 0, int(min(buffer_size, remaining)))
            if not len(frame.starts):
                if frame.status == BAD_LENGTH:
                    msg = f"record with a zero length word and extended length {self._words[1]}"
                    raise DAQError(msg, file=self.path, offset=self._offset)
                if self._eof:
                    if len(self._words) or self._tail or self._cut:
                        n_left = 4 * len(self._words) + len(self._tail)
                        msg = f"the file ends inside a record ({n_left} bytes of it)"
                        if self._cut:
                            msg = f"{msg}: {self._cut}"
                        raise DAQTruncatedError(msg, file=self.path, offset=self._offset)
                    break
                self._read_more(self._bytes_needed())
                continue
            pieces += self._decode_block(frame.starts, frame.lengths, frame.data_ids)
            if pieces:
                yield pieces
            pieces = []
            self._consume(frame.end)
        if pieces:
            yield pieces
        if self.skipped:
            log.warning("%s: records without a decoder were skipped: %s", self.path, self.skipped)

    def _bytes_needed(self) -> int:
        """Bytes to read so that the first unconsumed record is whole (at least a read)."""
        words = self._words
        need = 2
        if len(words) >= 1 and words[0] >> 31 == 0:
            need = int(words[0] & 0x3FFFF) or (int(words[1]) if len(words) >= 2 else 2)
        return max(4 * need - 4 * len(words) - len(self._tail), self.read_bytes)

    def _decode_block(self, starts, lengths, data_ids) -> list[Decoded]:
        listed = np.isin(data_ids, self._listed)
        packet_ids = self._next_packet + np.cumsum(listed) - 1
        self._next_packet += int(listed.sum())
        if not listed.all():
            unlisted, counts = np.unique(data_ids[~listed], return_counts=True)
            for data_id, n in zip(unlisted.tolist(), counts.tolist(), strict=True):
                name = f"data ID {data_id:#x}"
                self.skipped[name] = self.skipped.get(name, 0) + n
        cuts = [0, len(starts)]
        if len(self._stateful):
            state = np.flatnonzero(np.isin(data_ids, self._stateful))
            cuts = sorted({*cuts, *state.tolist(), *(state + 1).tolist()})
        pieces = []
        for lo, hi in itertools.pairwise(cuts):
            segment: list[tuple[int, Decoded]] = []
            ids = data_ids[lo:hi]
            for data_id in np.unique(ids[listed[lo:hi]]).tolist():
                rows = lo + np.flatnonzero(ids == data_id)
                decoder = self.decoders.get(data_id)
                if decoder is None:
                    name = self.names_by_id[data_id]
                    self.skipped[name] = self.skipped.get(name, 0) + len(rows)
                    continue
                decoded = decoder.decode(
                    self._words, starts[rows], lengths[rows], packet_ids[rows], self._offset
                )
                segment += [(_first_packet(piece, packet_ids[rows[0]]), piece) for piece in decoded]
            segment.sort(key=lambda pair: pair[0])
            pieces += [piece for _, piece in segment]
        return pieces


def _first_packet(piece: Decoded, default: int) -> int:
    """The packet number of a piece's first row (its ``packet_id`` column if it has one)."""
    if isinstance(piece.obj, Table) and "packet_id" in piece.obj and len(piece.obj):
        return int(piece.obj["packet_id"].nda[0])
    return int(default)
