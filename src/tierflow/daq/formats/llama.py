"""LlamaDAQ (Struck SIS3316) ``.bin`` files: stream type ``"LlamaDaq"``.

After the header (:mod:`.llama_header`) come events, one per channel trigger, each as long
as its channel's configuration says (``event_length`` words). An event's first word holds
the format bits (0-3), the channel key ``(fadc << 4) + channel`` (4-15) and the upper 16 bits
of the 48-bit timestamp (16-31); the second word the lower 32 bits. Then, by format bit: the
peak and accumulators 1-6 (7 words), accumulators 7-8 (2), MAW values (3), energies (2); a
word with the raw sample count (in words), a status bit and a marker (``0xE`` or ``0xA``: a
presummed waveform follows, with a word giving its count and its trigger shift); the raw
(windowed) samples and the presummed ones.

The stream walks a block's events in one compiled pass (each event's length looked up from
its channel), then decodes all events of one layout at once: their fixed words and
waveforms gathered into arrays by a compiled row copy, every field computed vectorised.

Decoders as legend-daq2lh5 names them: ``LLAMAHeaderDecoder`` (the ``LLAMAHeader`` struct)
and ``LLAMAEventDecoder`` (``LLAMAEvent`` tables), keyed by channel key. Channels that differ
in ``sample_length``, ``avg_sample_length`` or ``avg_mode`` cannot share a table:
:meth:`LlamaStream.decoder_key_lists` groups the keys as daq2lh5 does, and daq2lh5's default
routing names the tables ``LLAMAEvent_{key}`` for a group of one key (``LLAMAEvent_{i}`` for
the i-th group of several, ``LLAMAEvent`` when all channels share one layout). Differences
from daq2lh5 (``docs/daq-differences.md``): timestamps keep all 48 bits (daq2lh5 under
numpy 2 keeps only the lower 32); ``cumsum_1``-``cumsum_6`` are accumulators 1-6 (daq2lh5
reads them one word late: its ``cumsum_6`` is accumulator 7, or the raw-length word).

>>> LlamaStream.sniff(b"LArI" + bytes(12)), LlamaStream.sniff(bytes([0xED, 0xCA]))
(True, False)
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numba
import numpy as np

from ...errors import DAQError, DAQTruncatedError
from ...types import Array, ArrayOfEqualSizedArrays, Table, WaveformTable
from ..stream import DAQStream, Decoded, Key
from .blockfile import BlockFile, gather_rows
from .llama_header import CONFIG_BYTES, FILE_HEADER_BYTES, MAGIC, ChannelConfig, LlamaHeader

HEADER_DECODER = "LLAMAHeaderDecoder"
EVENT_DECODER = "LLAMAEventDecoder"
ADC = {"units": "adc"}


@numba.njit(cache=True)
def locate_events(words, event_words, limit, starts, keys):  # pragma: no cover (compiled)
    """Walk the events of ``words`` (uint32) from word 0, each ``event_words[key]`` long:
    fills ``starts`` (word offsets) and ``keys`` for up to ``limit`` complete events; returns
    ``(count, end, need)``: ``end`` the word after the last one, ``need`` the words the next
    event needs when it is not complete (-1: its channel has no configuration), else 0."""
    size = words.shape[0]
    pos = 0
    count = 0
    while count < limit:
        if pos >= size:
            return count, pos, 0
        key = (words[pos] >> 4) & 0xFFF
        length = event_words[key]
        if length == 0:
            return count, pos, -1
        if pos + length > size:
            return count, pos, length
        starts[count] = pos
        keys[count] = key
        pos += length
        count += 1
    return count, pos, 0


class LlamaStream(DAQStream):
    """A LlamaDAQ ``.bin`` file.

    >>> with LlamaStream(path) as s:  # doctest: +SKIP
    ...     s.decoder_key_lists()
    {'LLAMAHeaderDecoder': [[None]], 'LLAMAEventDecoder': [[0], [4]]}
    """

    stream_type = "LlamaDaq"
    extensions = (".bin",)

    def __init__(self, path: str | os.PathLike, **options):
        super().__init__(path, **options)
        self.skipped = {}
        self._blocks = BlockFile(
            self.path, start=0, block_bytes=options.get("block_bytes", 16 << 20)
        )
        blocks = self._blocks
        blocks.fill(FILE_HEADER_BYTES)
        head = bytes(blocks.window()[:FILE_HEADER_BYTES])
        if len(head) == FILE_HEADER_BYTES:
            n_open = int.from_bytes(head[12:16], "little")
            blocks.fill(min(FILE_HEADER_BYTES + CONFIG_BYTES * n_open, blocks.size))
            head = bytes(blocks.window()[: FILE_HEADER_BYTES + CONFIG_BYTES * n_open])
        try:
            self.header = LlamaHeader.read(self.path, head)
        except DAQError:
            blocks.close()
            raise
        blocks.consume(self.header.size)
        self.bytes_read = self.header.size
        self._event_words = np.zeros(0x1000, np.int64)
        for key, config in self.header.channels.items():
            self._event_words[key] = int(config.values["event_length"])

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return len(head) >= 4 and int.from_bytes(head[:4], "little") == MAGIC

    def decoder_keys(self) -> dict[str, list[Key]]:
        return {HEADER_DECODER: [None], EVENT_DECODER: list(self.header.channels)}

    def decoder_key_lists(self) -> dict[str, list[list[Key]]]:
        """Keys grouped as daq2lh5 groups them into buffers: channels with equal
        ``sample_length``, ``avg_sample_length`` and ``avg_mode``, in header order; and,
        unlike daq2lh5 (which then fails on the other channels' fields), equal format bits."""
        groups: dict[tuple, list[Key]] = {}
        for key, config in self.header.channels.items():
            v = config.values
            signature = (
                int(v["sample_length"]),
                int(v["avg_sample_length"]),
                int(v["avg_mode"]),
                config.format_bits,
            )
            groups.setdefault(signature, []).append(key)
        return {HEADER_DECODER: [[None]], EVENT_DECODER: list(groups.values())}

    def decode(self, buffer_size: int = 8192, n_max: float = np.inf) -> Iterator[list[Decoded]]:
        blocks = self._blocks
        buffer_size = max(int(buffer_size), 1)
        starts = np.empty(buffer_size, np.int64)
        keys = np.empty(buffer_size, np.int64)
        packets = 0
        yield [Decoded(HEADER_DECODER, None, self.header.to_struct())]
        while packets < n_max:
            blocks.fill()
            buf = blocks.window()
            words = buf[: len(buf) // 4 * 4].view("<u4")
            limit = int(min(buffer_size, n_max - packets))
            count, end, need = locate_events(words, self._event_words, limit, starts, keys)
            if count:
                pieces = self._decode_events(words, starts[:count], keys[:count], packets)
                packets += count
                blocks.consume(4 * end)
                self.bytes_read = blocks.offset
                yield pieces
                continue
            if need < 0:
                key = (int(words[0]) >> 4) & 0xFFF
                raise DAQError(
                    f"event {packets + 1} is of channel key {key}, which has no configuration "
                    f"in the header (open: {sorted(self.header.channels)})",
                    file=self.path,
                    offset=blocks.offset,
                )
            if need == 0:  # not one whole word left
                if len(buf) == 0:
                    return  # end of file
                need = 1
            if 4 * need > blocks.remaining:
                raise DAQTruncatedError(
                    f"the file ends inside event {packets + 1} (needs {4 * need} bytes, "
                    f"{blocks.remaining} left)",
                    file=self.path,
                    offset=blocks.offset,
                )
            blocks.fill(4 * need)

    def _decode_events(
        self, words: np.ndarray, starts: np.ndarray, keys: np.ndarray, first_packet: int
    ) -> list[Decoded]:
        """One piece per channel layout, rows in file order."""
        packet_ids = np.arange(first_packet + 1, first_packet + len(starts) + 1, dtype=np.uint32)
        present = np.unique(keys).tolist()
        by_layout: dict[tuple, list[int]] = {}
        for key in present:
            by_layout.setdefault(self.header.channels[key].layout, []).append(key)
        if len(by_layout) == 1:
            return [self._decode_layout(words, starts, keys, packet_ids)]
        groups = [np.flatnonzero(np.isin(keys, group)) for group in by_layout.values()]
        groups.sort(key=lambda rows: int(rows[0]))  # pieces in the order of their first row
        return [
            self._decode_layout(words, starts[rows], keys[rows], packet_ids[rows])
            for rows in groups
        ]

    def _decode_layout(
        self, words: np.ndarray, starts: np.ndarray, keys: np.ndarray, packet_ids: np.ndarray
    ) -> Decoded:
        config: ChannelConfig = self.header.channels[int(keys[0])]
        n = len(starts)
        fixed = config.header_words + 1 + config.has_avg
        head = np.empty((n, fixed), np.uint32)
        gather_rows(words, starts, fixed, head)
        self._check_events(head, starts, keys, config)
        lookup = self._per_channel
        dt_raw = lookup("dt_raw", keys)
        ticks = ((head[:, 0].astype(np.uint64) >> np.uint64(16)) << np.uint64(32)) | head[:, 1]
        time = ticks.astype(np.float64) * dt_raw * 1e-9
        n_len = config.header_words
        columns: dict[str, Array | WaveformTable] = {
            "packet_id": Array(packet_ids),
            "fadc_channel_id": Array(keys.astype(np.uint32)),
            "time_since_run_start": Array(time, attrs={"units": "s"}),
            "unixtime": Array(time + self.header.run_start, attrs={"units": "s"}),
            "unixtime_accuracy": Array(np.full(n, 1.0), attrs={"units": "s"}),
            "fadc_status_bits": Array((head[:, n_len] >> 26) & np.uint32(1)),
        }
        samples16 = words.view("<u2")
        raw_len = int(config.values["sample_length"])
        at16 = 2 * (starts + fixed)
        if raw_len > 0:
            values = np.empty((n, raw_len), np.uint16)
            gather_rows(samples16, at16, raw_len, values)
            columns["waveform_windowed"] = WaveformTable(
                t0=Array(lookup("t0_raw", keys).astype(np.float32)),
                t0_units="ns",
                dt=Array(dt_raw),
                dt_units="ns",
                values=ArrayOfEqualSizedArrays(nda=values),
            )
        if config.has_avg:
            avg_len = config.avg_length
            values = np.empty((n, avg_len), np.uint16)
            gather_rows(samples16, at16 + raw_len, avg_len, values)
            shift = ((head[:, n_len + 1] >> 16) & np.uint32(0xFF)).astype(np.float64)
            columns["waveform_presummed"] = WaveformTable(
                t0=Array((lookup("t0_avg", keys) + shift * dt_raw).astype(np.float32)),
                t0_units="ns",
                dt=Array(lookup("dt_avg", keys)),
                dt_units="ns",
                values=ArrayOfEqualSizedArrays(nda=values),
            )
        bits, at = config.format_bits, 2
        if bits & 1:
            columns["wf_max_sample_value"] = Array(head[:, 2] & np.uint32(0xFFFF), attrs=ADC)
            columns["wf_max_sample_idx"] = Array(head[:, 2] >> 16, attrs=ADC)
            # word 3: information byte (31-24) and accumulator 1 (23-0); words 4-8:
            # accumulators 2-6 (daq2lh5 reads accumulators 1-6 from words 4-9, one late)
            columns["info_bits"] = Array((head[:, 3] >> 24) & np.uint32(0xFF))
            columns["cumsum_1"] = Array(head[:, 3] & np.uint32(0xFFFFFF), attrs=ADC)
            for i in range(2, 7):
                columns[f"cumsum_{i}"] = Array(head[:, 2 + i].copy(), attrs=ADC)
            at = 9
        if bits & 2:
            columns["cumsum_7"] = Array(head[:, at].copy(), attrs=ADC)
            columns["cumsum_8"] = Array(head[:, at + 1].copy(), attrs=ADC)
            at += 2
        if bits & 4:
            for i, name in enumerate(("maw_max", "maw_before", "maw_after")):
                columns[name] = Array(head[:, at + i].copy(), attrs=ADC)
            at += 3
        if bits & 8:
            columns["start_energy"] = Array(head[:, at].copy(), attrs=ADC)
            columns["max_energy"] = Array(head[:, at + 1].copy(), attrs=ADC)
        return Decoded(EVENT_DECODER, keys.copy(), Table(columns))

    def _per_channel(self, name: str, keys: np.ndarray) -> np.ndarray:
        """A per-channel constant of the configurations (``dt_raw``, ``t0_raw``, ...) for
        each row."""
        table = np.zeros(0x1000)
        for key, config in self.header.channels.items():
            table[key] = getattr(config, name)
        return table[keys]

    def _check_events(
        self, head: np.ndarray, starts: np.ndarray, keys: np.ndarray, config: ChannelConfig
    ) -> None:
        """Every event's format bits, marker, sample counts as its channel's configuration
        says; else a DAQError at the first event that is not."""
        n_len = config.header_words
        length = head[:, n_len]
        ok = (head[:, 0] & np.uint32(0xF)) == config.format_bits
        ok &= (length >> 28) == (0xA if config.has_avg else 0xE)
        ok &= (length & np.uint32(0x03FFFFFF)) * 2 == int(config.values["sample_length"])
        ok &= (length & np.uint32(0x08000000)) == 0
        if config.has_avg:
            avg = head[:, n_len + 1]
            ok &= (avg >> 28) == 0xE
            ok &= (avg & np.uint32(0xFFFF)) * 2 == config.avg_length
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise DAQError(
                f"event of channel key {int(keys[bad])} does not match its channel's "
                f"configuration (format bits, marker word, sample counts or MAW test data): "
                f"words {[hex(w) for w in head[bad].tolist()]}",
                file=self.path,
                offset=self._blocks.offset + 4 * int(starts[bad]),
            )

    def close(self) -> None:
        self._blocks.close()
