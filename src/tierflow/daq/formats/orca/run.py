"""ORCA's run control records (``ORRunDecoderForRun``): run start/stop, heartbeats, subruns.

Layout (4 words, ORCA's Run Control record, as legend-daq2lh5 reads it):

- word 0: data ID and length;
- word 1: subrun number in bits 31-16; flags in bits 0-5: run start (1) or stop (0),
  quick start, remote control, heartbeat, end of subrun, start of subrun;
- word 2: run number; word 3: unix time in seconds.

>>> import numpy as np
>>> words = np.array([0x1C0004, (3 << 16) | 0b001001, 42, 1652986635], "uint32")
>>> table = ORRunDecoderForRun({}, "run.orca").decode(words, np.array([0]), np.array([4]),
...     np.array([1]), 0)[0].obj
>>> table["subrun_number"].nda.tolist(), table["runstartorstop"].nda.tolist()
([3], [True])
>>> table["heartbeatrecord"].nda.tolist(), table["run_number"].nda.tolist()
([True], [42])
"""

from __future__ import annotations

import numpy as np

from ....types import Array, Table
from ...stream import Decoded, Key
from .decoder import OrcaDecoder

RUN_FLAGS = (
    "runstartorstop",
    "quickstartrun",
    "remotecontrolrun",
    "heartbeatrecord",
    "endsubrunrecord",
    "startsubrunrecord",
)
"""The flag columns, bit 0 upwards of word 1."""

RUN_KEY = 0
"""The run decoder writes one table, under this key (it has no channels)."""


class ORRunDecoderForRun(OrcaDecoder):
    """Decodes run control records into daq2lh5's table (no ``packet_id`` column, as daq2lh5)."""

    decoder_name = "ORRunDecoderForRun"
    orca_classes = ("ORRunDecoderForRun",)

    def keys(self) -> list[Key]:
        return [RUN_KEY]

    def decode(self, words, starts, lengths, packet_ids, file_offset) -> list[Decoded]:
        self.require_words(starts, lengths, 4, file_offset)
        flags = words[starts + 1]
        columns = {"subrun_number": Array((flags >> 16).astype(np.uint16))}
        for bit, name in enumerate(RUN_FLAGS):
            columns[name] = Array(((flags >> bit) & 1).astype(bool))
        columns["run_number"] = Array(words[starts + 2].view(np.int32))
        columns["time"] = Array(words[starts + 3].view(np.int32))
        return [Decoded(self.decoder_name, RUN_KEY, Table(columns))]
