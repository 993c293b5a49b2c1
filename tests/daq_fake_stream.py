"""A small DAQ format for the tests of ``build_raw`` and its routing (format-independent).

A ``FakeDAQ`` file is ``FAKEDAQ1``, a uint32 length and a JSON header, then records: a uint32
byte length (itself included), a uint32 kind (1: event, 2: status), then for an event uint32
channel, float64 timestamp, uint16 energy and uint16 samples; for a status uint32 count.
Its reader follows the :class:`~tierflow.daq.stream.DAQStream` contract: a header object
(``FakeHeaderDecoder``, no key), events by channel (``FakeEventDecoder``; channels of
different waveform lengths in separate key lists and separate pieces), status tables with
string keys (``FakeStatusDecoder``: ``"card0/status"``, ``"card1/status"``).
"""

from __future__ import annotations

import contextlib
import json
import struct
from typing import ClassVar

import numpy as np

from tierflow.daq.stream import DAQStream, Decoded
from tierflow.errors import DAQError, DAQTruncatedError
from tierflow.types import Array, Scalar, Struct, Table, WaveformTable

MAGIC = b"FAKEDAQ1"
EVENT, STATUS = 1, 2


def write_fake(
    path,
    channels=None,
    n_events=60,
    seed=1,
    status_every=10,
    cut_bytes=0,
    bad_length_at=None,
    hidden=(),
):
    """Write a FakeDAQ file of ``n_events`` events spread over ``channels`` ({channel:
    waveform length}); ``cut_bytes`` cuts the end off (a truncated file); the event ``bad_length_at`` gets a
    length word of 3 (corrupt); channels in ``hidden`` are left out of the header. Returns the events as
    (channel, timestamp, energy, samples) tuples, in file order."""
    channels = channels or {1: 8, 2: 8, 1000: 12}
    rng = np.random.default_rng(seed)
    listed = {str(c): n for c, n in channels.items() if c not in hidden}
    header = json.dumps({"channels": listed, "run": 7}).encode()
    out = bytearray(MAGIC + struct.pack("<I", len(header)) + header)
    events = []
    chans = list(channels)
    for i in range(n_events):
        ch = chans[int(rng.integers(len(chans)))]
        ts = float(i) * 1.5 + 0.25
        energy = int(rng.integers(0, 65535))
        wf = rng.integers(0, 4000, channels[ch]).astype("<u2")
        body = struct.pack("<IIdH", EVENT, ch, ts, energy) + wf.tobytes()
        out += struct.pack("<I", 3 if i == bad_length_at else 4 + len(body)) + body
        events.append((ch, ts, energy, wf))
        if i == 5:
            out += struct.pack("<II", 8, 9)  # a record of a kind without a decoder
        if status_every and (i + 1) % status_every == 0:
            out += struct.pack("<III", 12, STATUS, i + 1)
    if cut_bytes:
        del out[-cut_bytes:]
    with open(path, "wb") as f:
        f.write(out)
    return events


class FakeStream(DAQStream):
    """The reader of FakeDAQ files (test only)."""

    stream_type = "FakeDAQ"
    extensions = (".fake",)
    last_options: ClassVar[dict] = {}

    def __init__(self, path, **options):
        super().__init__(path, **options)
        FakeStream.last_options = dict(options)
        self.skipped = {}
        self.bytes_read = 0
        self.file = open(self.path, "rb")  # noqa: SIM115  (closed by close())
        head = self.file.read(12)
        if head[:8] != MAGIC:
            raise DAQError("not a FakeDAQ file", file=self.path, offset=0)
        (n,) = struct.unpack("<I", head[8:12])
        self.header = json.loads(self.file.read(n))
        self.channels = {int(c): n for c, n in self.header["channels"].items()}
        self.data_start = 12 + n

    @classmethod
    def sniff(cls, head):
        return head.startswith(MAGIC)

    def decoder_keys(self):
        return {
            "FakeHeaderDecoder": [],
            "FakeEventDecoder": list(self.channels),
            "FakeStatusDecoder": ["card0/status", "card1/status"],
        }

    def decoder_key_lists(self):
        by_len = {}
        for ch, n in self.channels.items():
            by_len.setdefault(n, []).append(ch)
        return {
            "FakeHeaderDecoder": [[]],
            "FakeEventDecoder": list(by_len.values()),
            "FakeStatusDecoder": [["card0/status", "card1/status"]],
        }

    def decode(self, buffer_size=8192, n_max=np.inf):
        data = self.file.read()
        header = Struct({"run": Scalar(np.int32(self.header["run"])), "text": Scalar("fake")})
        yield [Decoded("FakeHeaderDecoder", None, header)]
        self.bytes_read = self.data_start
        pos, packet, block = 0, 0, []
        while pos < len(data) and packet < n_max:
            if pos + 4 > len(data):
                break
            (length,) = struct.unpack_from("<I", data, pos)
            if length < 8:
                raise DAQError("bad record length", file=self.path, offset=self.data_start + pos)
            if pos + length > len(data):
                break
            block.append((packet, data[pos + 4 : pos + length]))
            packet += 1
            pos += length
            if len(block) == buffer_size:
                self.bytes_read = self.data_start + pos
                yield self._decoded(block)
                block = []
        if block:
            self.bytes_read = self.data_start + pos
            yield self._decoded(block)
        if pos < len(data) and packet < n_max:
            raise DAQTruncatedError(
                "the file ends inside a record", file=self.path, offset=self.data_start + pos
            )

    def _decoded(self, block):
        events = {}  # waveform length -> rows
        status = []
        for packet, body in block:
            (kind,) = struct.unpack_from("<I", body)
            if kind not in (EVENT, STATUS):
                self.skipped[f"kind {kind}"] = self.skipped.get(f"kind {kind}", 0) + 1
                continue
            if kind == STATUS:
                status.append((packet, struct.unpack_from("<I", body, 4)[0]))
                continue
            ch, ts, energy = struct.unpack_from("<IdH", body, 4)
            wf = np.frombuffer(body[18:], "<u2")
            events.setdefault(len(wf), []).append((packet, ch, ts, energy, wf))
        pieces = []
        for rows in events.values():
            table = Table(
                {
                    "packet_id": Array(np.array([r[0] for r in rows], "u4")),
                    "channel": Array(np.array([r[1] for r in rows], "u4")),
                    "timestamp": Array(np.array([r[2] for r in rows]), attrs={"units": "s"}),
                    "energy": Array(np.array([r[3] for r in rows], "u2")),
                    "waveform": WaveformTable(
                        t0=np.zeros(len(rows), "f4"),
                        t0_units="ns",
                        dt=np.full(len(rows), 16, "f4"),
                        dt_units="ns",
                        values=np.stack([r[4] for r in rows]),
                    ),
                }
            )
            pieces.append(Decoded("FakeEventDecoder", table["channel"].nda.astype(int), table))
        if status:
            table = Table(
                {
                    "packet_id": Array(np.array([s[0] for s in status], "u4")),
                    "n_events": Array(np.array([s[1] for s in status], "u4")),
                }
            )
            keys = np.array([f"card{(s[1] // 10) % 2}/status" for s in status])
            pieces.append(Decoded("FakeStatusDecoder", keys, table))
        return pieces

    def close(self):
        self.file.close()


# registered only while a test uses it (see fake_daq_registered): other tests see the real formats
DAQStream.registry.pop(FakeStream.stream_type)


@contextlib.contextmanager
def fake_daq_registered():
    """FakeDAQ among the stream types for the duration of the block."""
    DAQStream.registry[FakeStream.stream_type] = FakeStream
    try:
        yield
    finally:
        DAQStream.registry.pop(FakeStream.stream_type, None)
