"""CAEN CoMPASS ``.BIN`` files (with the run's settings XML): stream type ``"Compass"``.

A CoMPASS binary file starts with a 2-byte little-endian header ``0xCAEx`` whose low bits say
which fields every record holds: bit 0 the energy in ADC channels (u16), bit 1 the calibrated
energy (f64), bit 2 the short-gate energy (u16), bit 3 waveforms. A record is::

    u16 board, u16 channel, u64 timestamp [ps], [u16 energy], [f64 energy_calibrated],
    [u16 energy_short], u32 flags, u8 waveform code, u32 n_samples, u16 x n_samples

so every record of a file has the same fixed part and, when the waveform length does not
change, the same size. The stream walks a block's length fields in one compiled pass and
copies the fixed parts and the waveforms of a block's records into arrays with a compiled
row copy; the fields are read through a structured dtype.

Two decoders, named as legend-daq2lh5 names them: ``CompassHeaderDecoder`` (the
``CompassHeader`` struct: the header bits and the boards of the settings XML, see
:mod:`.compass_settings`) and ``CompassEventDecoder`` (the ``CompassEvent`` table), keyed by
``(board << 9) + (channel & 0xF)`` for each enabled channel of the settings. Differences
from daq2lh5 (see ``docs/daq-differences.md``): the waveform ``dt`` is the board's sampling
period (daq2lh5: 16 ns always); ``energy_calibrated`` is NaN when the file has no calibrated
energy (daq2lh5: uninitialised memory) and read from the right offset when both energies are
present (daq2lh5 reads the energy short, flags and waveform 8 bytes early); ``energy`` is 0
when absent.

>>> CompassStream.sniff(bytes([0xED, 0xCA])), CompassStream.sniff(b"LArI")
(True, False)
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator, Mapping

import numba
import numpy as np

from ...errors import DAQError, DAQTruncatedError
from ...types import Array, ArrayOfEqualSizedArrays, Scalar, Struct, Table, WaveformTable
from ..stream import DAQStream, Decoded, Key
from .blockfile import BlockFile, gather_rows
from .compass_settings import CompassBoard, read_settings

HEADER_DECODER = "CompassHeaderDecoder"
EVENT_DECODER = "CompassEventDecoder"
FLAG_ENERGY, FLAG_CALIBRATED, FLAG_SHORT, FLAG_WAVEFORM = 1, 2, 4, 8
#: runs of one waveform length in a block decoded as pieces of their own; more: grouped by length
MAX_RUNS_PER_BLOCK = 16

log = logging.getLogger(__name__)


def channel_key(board: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """daq2lh5's key of a CoMPASS channel: ``(board << 9) + (channel & 0xF)`` (int64).

    >>> channel_key(np.array([0, 1]), np.array([3, 19])).tolist()
    [3, 515]
    """
    return (np.asarray(board, np.int64) << 9) + (np.asarray(channel, np.int64) & 0xF)


def record_fields(header_flags: int) -> tuple[np.dtype, int]:
    """The fixed part of a record for the file header's flag bits: a structured dtype with
    the fields at their byte offsets, and its size in bytes (up to and including the
    sample count).

    >>> dtype, size = record_fields(0xCAED)
    >>> size, dtype.names
    (25, ('board', 'channel', 'timestamp', 'energy', 'energy_short', 'flags', 'waveform_code', 'num_samples'))
    """
    fields: list[tuple[str, str]] = [("board", "<u2"), ("channel", "<u2"), ("timestamp", "<u8")]
    if header_flags & FLAG_ENERGY:
        fields.append(("energy", "<u2"))
    if header_flags & FLAG_CALIBRATED:
        fields.append(("energy_calibrated", "<f8"))
    if header_flags & FLAG_SHORT:
        fields.append(("energy_short", "<u2"))
    fields += [("flags", "<u4"), ("waveform_code", "u1"), ("num_samples", "<u4")]
    names, formats, offsets, at = [], [], [], 0
    for name, fmt in fields:
        names.append(name)
        formats.append(fmt)
        offsets.append(at)
        at += np.dtype(fmt).itemsize
    return np.dtype({"names": names, "formats": formats, "offsets": offsets}), at


@numba.njit(cache=True)
def locate_records(buf, fixed, limit, starts, samples):  # pragma: no cover (compiled)
    """Walk the records of ``buf`` (uint8) from byte 0: fills ``starts`` and ``samples`` (the
    sample counts) for up to ``limit`` complete records; returns ``(count, end, need)`` with
    ``end`` the byte after the last one and ``need`` the size of the next record (or of its
    fixed part) when it is not complete in ``buf``, else 0."""
    size = buf.shape[0]
    pos = 0
    count = 0
    while count < limit:
        if pos + fixed > size:
            return count, pos, fixed if pos < size else 0
        at = pos + fixed - 4
        n = (
            np.int64(buf[at])
            | (np.int64(buf[at + 1]) << 8)
            | (np.int64(buf[at + 2]) << 16)
            | (np.int64(buf[at + 3]) << 24)
        )
        length = fixed + 2 * n
        if pos + length > size:
            return count, pos, length
        starts[count] = pos
        samples[count] = n
        pos += length
        count += 1
    return count, pos, 0


def settings_places(path: str) -> list[str]:
    """Where CoMPASS keeps the settings of the run a ``.BIN`` file belongs to, first match used
    when no ``compass_config_file`` is given: ``settings.xml`` in the file's folder and in the
    folder above (CoMPASS writes ``run/settings.xml`` and ``run/RAW/*.BIN``), and
    ``{stem}_settings.xml`` beside the file.

    >>> settings_places("/data/run_1/RAW/DataR_CH0.BIN")
    ['/data/run_1/RAW/settings.xml', '/data/run_1/settings.xml', '/data/run_1/RAW/DataR_CH0_settings.xml']
    """
    folder = os.path.dirname(os.path.abspath(path))
    stem = os.path.splitext(os.path.basename(path))[0]
    return [
        os.path.join(folder, "settings.xml"),
        os.path.join(os.path.dirname(folder), "settings.xml"),
        os.path.join(folder, f"{stem}_settings.xml"),
    ]


class CompassStream(DAQStream):
    """A CoMPASS ``.BIN`` file with its settings XML (``compass_config_file``, or found where
    CoMPASS keeps it: :func:`settings_places`).

    >>> import os, testdata  # doctest: +SKIP
    >>> with CompassStream(bin_path, compass_config_file=xml_path) as s:  # doctest: +SKIP
    ...     s.decoder_keys()
    {'CompassHeaderDecoder': [None], 'CompassEventDecoder': [0, 1]}
    """

    stream_type = "Compass"
    extensions = (".BIN", ".bin")

    def __init__(self, path: str | os.PathLike, compass_config_file=None, **options):
        super().__init__(path, compass_config_file=compass_config_file, **options)
        self.skipped = {}
        if compass_config_file is None:
            places = settings_places(self.path)
            compass_config_file = next((p for p in places if os.path.isfile(p)), None)
            if compass_config_file is None:
                raise DAQError(
                    "a CoMPASS file needs its run's settings XML: pass compass_config_file= "
                    "(none at " + ", ".join(places) + "); without it the digitizer model, "
                    "sampling period, record length and enabled channels are unknown",
                    file=self.path,
                )
            log.info("%s: using the settings file %s", self.path, compass_config_file)
        self.boards: list[CompassBoard] = read_settings(compass_config_file)
        self._blocks = BlockFile(
            self.path, start=0, block_bytes=options.get("block_bytes", 16 << 20)
        )
        self._blocks.fill(2)
        head = bytes(self._blocks.window()[:2])
        if len(head) < 2 or not self.sniff(head):
            self._blocks.close()
            raise DAQError(
                f"does not start with the CoMPASS header 0xCAEx (got {head.hex() or 'nothing'}); "
                "CoMPASS files without their header are not supported",
                file=self.path,
                offset=0,
            )
        self.header_flags = int.from_bytes(head, "little")
        self._blocks.consume(2)
        self.bytes_read = 2
        self.fields, self.fixed_size = record_fields(self.header_flags)
        self._dt_by_board = np.array([board.dt_ns for board in self.boards], np.float32)
        self.keys = np.array(
            [(b.index << 9) + (ch & 0xF) for b in self.boards for ch in b.channels], np.int64
        )

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return len(head) >= 2 and (int.from_bytes(head[:2], "little") & 0xFFF0) == 0xCAE0

    def header_struct(self) -> Struct:
        """The ``CompassHeader`` struct (as daq2lh5 writes it)."""
        flags = self.header_flags
        return Struct(
            {
                "boards": Struct({str(b.index): b.to_struct() for b in self.boards}),
                "energy_calibrated": Scalar(np.int64(bool(flags & FLAG_CALIBRATED))),
                "energy_channels": Scalar(np.int64(bool(flags & FLAG_ENERGY))),
                "energy_short": Scalar(np.int64(bool(flags & FLAG_SHORT))),
                "header_present": Scalar(np.int64(1)),
                "waveform_samples": Scalar(np.int64(bool(flags & FLAG_WAVEFORM))),
            }
        )

    def decoder_keys(self) -> dict[str, list[Key]]:
        return {HEADER_DECODER: [None], EVENT_DECODER: self.keys.tolist()}

    def decode(self, buffer_size: int = 8192, n_max: float = np.inf) -> Iterator[list[Decoded]]:
        blocks = self._blocks
        buffer_size = max(int(buffer_size), 1)
        starts = np.empty(buffer_size, np.int64)
        samples = np.empty(buffer_size, np.int64)
        packets = 0
        yield [Decoded(HEADER_DECODER, None, self.header_struct())]
        while packets < n_max:
            blocks.fill()
            buf = blocks.window()
            limit = int(min(buffer_size, n_max - packets))
            count, end, need = locate_records(buf, self.fixed_size, limit, starts, samples)
            if count:
                pieces = self._decode_records(buf, starts[:count], samples[:count], packets)
                packets += count
                blocks.consume(end)
                self.bytes_read = blocks.offset
                if pieces:
                    yield pieces
                continue
            if need == 0:
                return  # end of file
            if need > blocks.remaining:
                what = (
                    f"{need} bytes for its fixed part"
                    if need == self.fixed_size
                    else f"{need} bytes for {(need - self.fixed_size) // 2} samples"
                )
                raise DAQTruncatedError(
                    f"the file ends inside a record (record {packets + 1} needs {what}, "
                    f"{blocks.remaining} left)",
                    file=self.path,
                    offset=blocks.offset,
                )
            blocks.fill(need)

    def _decode_records(
        self, buf: np.ndarray, starts: np.ndarray, samples: np.ndarray, first_packet: int
    ) -> list[Decoded]:
        """One piece per run of consecutive records with one waveform length (one piece in
        the usual file whose length never changes); when the length changes often, one
        piece per length, rows in file order and pieces in the order of their first row."""
        packet_ids = np.arange(first_packet + 1, first_packet + len(starts) + 1, dtype=np.uint32)
        cuts = np.flatnonzero(samples[1:] != samples[:-1]) + 1
        if len(cuts) <= MAX_RUNS_PER_BLOCK:
            bounds = [0, *cuts.tolist(), len(starts)]
            groups: list[slice | np.ndarray] = [
                slice(lo, hi) for lo, hi in itertools.pairwise(bounds)
            ]
        else:
            lengths, first = np.unique(samples, return_index=True)
            groups = [np.flatnonzero(samples == n) for n in lengths[np.argsort(first)]]
        pieces = []
        for rows in groups:
            n_samples = int(samples[rows][0])
            piece = self._decode_group(buf, starts[rows], n_samples, packet_ids[rows])
            if piece is not None:
                pieces.append(piece)
        return pieces

    def _decode_group(
        self, buf: np.ndarray, starts: np.ndarray, n_samples: int, packet_id: np.ndarray
    ) -> Decoded | None:
        """The records at ``starts`` of ``buf``, all with ``n_samples`` samples: their fixed
        parts and waveforms gathered by a compiled row copy, the fields read vectorised."""
        keys = channel_key(*self._gather_fields(buf, starts, ("board", "channel")))
        keep = np.isin(keys, self.keys)
        if not keep.all():
            dropped, counts = np.unique(keys[~keep], return_counts=True)
            for key, n in zip(dropped.tolist(), counts.tolist(), strict=True):
                self.skipped[f"key {key}"] = self.skipped.get(f"key {key}", 0) + n
            starts, keys, packet_id = starts[keep], keys[keep], packet_id[keep]
            if len(starts) == 0:
                return None
        fixed = np.empty((len(starts), self.fixed_size), np.uint8)
        gather_rows(buf, starts, self.fixed_size, fixed)
        records = fixed.view(self.fields)[:, 0]
        table = Table(
            {
                "packet_id": Array(packet_id),
                "board": Array(records["board"].astype(np.uint32)),
                "channel": Array(records["channel"].astype(np.uint32)),
                "timestamp": Array(records["timestamp"].astype(np.float64), attrs={"units": "ps"}),
                "energy": Array(self._field(records, "energy", np.uint32, 0)),
                "energy_calibrated": Array(
                    self._field(records, "energy_calibrated", np.float64, np.nan)
                ),
                "energy_short": Array(self._field(records, "energy_short", np.uint32, 0)),
                "flags": Array(records["flags"].astype(np.uint32)),
                "num_samples": Array(records["num_samples"].astype(np.int64)),
            }
        )
        if self.header_flags & FLAG_WAVEFORM:
            samples = np.empty((len(starts), 2 * n_samples), np.uint8)
            gather_rows(buf, starts + self.fixed_size, 2 * n_samples, samples)
            table["waveform"] = WaveformTable(
                t0=Array(np.zeros(len(keys), np.float32)),
                t0_units="ns",
                dt=Array(self._dt_by_board[records["board"]]),
                dt_units="ns",
                values=ArrayOfEqualSizedArrays(nda=samples.view("<u2")),
            )
        return Decoded(EVENT_DECODER, keys, table)

    def _gather_fields(self, buf: np.ndarray, starts: np.ndarray, names) -> list[np.ndarray]:
        """Fields of the fixed parts at ``starts`` (vectorised byte gather)."""
        out = []
        fields: Mapping[str, tuple] = self.fields.fields or {}
        for name in names:
            dtype, offset = fields[name][:2]
            at = (starts + offset)[:, None] + np.arange(dtype.itemsize)
            out.append(buf[at].view(dtype)[:, 0])
        return out

    @staticmethod
    def _field(records: np.ndarray, name: str, dtype, absent) -> np.ndarray:
        if name in (records.dtype.names or ()):
            return records[name].astype(dtype)
        return np.full(len(records), absent, dtype)

    def close(self) -> None:
        self._blocks.close()
