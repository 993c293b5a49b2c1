"""The header record of an ORCA file: an XML Apple property list, read with :mod:`plistlib`.

The header is the file's first record (data ID 0): word 0 frames it (:mod:`.records`),
word 1 is the byte length of the XML text that starts at word 2 (padded to whole words).
Its ``dataDescription`` maps every data ID of the file to an ORCA decoder class name, its
``ObjectInfo`` and ``ReadoutDescription`` describe the crates, cards and readout
(the FlashCam decoders take their channel keys from them).

The header is written as legend-daq2lh5 writes it: a :class:`~tierflow.types.Scalar`
holding the plist as JSON text, from the decoder ``"OrcaHeaderDecoder"``.

>>> header = {"dataDescription": {"ORRunModel": {"Run": {"dataId": 0x1C0000,
...     "decoder": "ORRunDecoderForRun"}}}}
>>> {hex(k): v for k, v in decoder_names_by_id(header).items()}
{'0x1c0000': 'ORRunDecoderForRun'}
"""

from __future__ import annotations

import json
import plistlib
from typing import Any
from xml.parsers.expat import ExpatError

import numpy as np

from ....errors import DAQError
from ....types import Scalar

HEADER_DECODER = "OrcaHeaderDecoder"
"""legend-daq2lh5's name for the decoder of the header record (routing configs name it)."""

HEADER_KEY = 0
"""The key the header object is written under: its data ID."""


def looks_like_header(head: bytes) -> bool:
    """True if ``head`` (a file's first bytes, at least 12) starts with an ORCA header
    record: data ID 0, an XML byte length that fits the record, then ``<?xm``.

    >>> words = np.array([5, 10], "<u4").tobytes()
    >>> looks_like_header(words + b"<?xml ve"), looks_like_header(b"\\x1f\\x8b" + bytes(10))
    (True, False)
    """
    if len(head) < 12:
        return False
    word0, n_bytes = np.frombuffer(head[:8], "<u4").tolist()
    if word0 & 0xFFFC0000 or word0 & 0x3FFFF == 0:
        return False
    pad = (word0 & 0x3FFFF) * 4 - 8 - n_bytes
    return 0 <= pad <= 3 and head[8:12] == b"<?xm"


def parse_header(record: np.ndarray, path: str) -> dict[str, Any]:
    """The header plist of the header ``record`` (uint32 words, the first record).

    Raises :class:`~tierflow.errors.DAQError` naming ``path`` if the record is not a
    header or its XML is not a property list.
    """
    if len(record) < 2 or record[0] & 0xFFFC0000:
        raise DAQError("the first record is not an ORCA header (data ID 0)", file=path, offset=0)
    n_bytes = int(record[1])
    text = record[2:].tobytes()
    if n_bytes > len(text):
        msg = f"the header's XML length {n_bytes} B exceeds its record ({len(text)} B)"
        raise DAQError(msg, file=path, offset=4)
    try:
        header = plistlib.loads(text[:n_bytes], fmt=plistlib.FMT_XML)
    except (ExpatError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise DAQError(f"corrupt XML header: {err}", file=path, offset=8) from None
    if not isinstance(header, dict) or not isinstance(header.get("dataDescription"), dict):
        raise DAQError("the XML header has no dataDescription dictionary", file=path, offset=8)
    return header


def decoder_names_by_id(header: dict[str, Any], path: str = "") -> dict[int, str]:
    """The ORCA decoder class name of every data ID of the header's ``dataDescription``,
    data IDs unshifted (as :mod:`.records` gives them; short records' negative IDs as
    their unsigned 32-bit words)."""
    names = {}
    try:
        for models in header["dataDescription"].values():
            for entry in models.values():
                names[int(entry["dataId"]) & 0xFFFFFFFF] = str(entry["decoder"])
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        msg = f"the header's dataDescription lacks a data ID or decoder ({err!r})"
        raise DAQError(msg, file=path or None, offset=8) from None
    return names


def header_object(header: dict[str, Any]) -> Scalar:
    """The header as daq2lh5 writes it: the plist as JSON text in a string Scalar (values
    JSON has no type for, plist dates and data, as their ``str``)."""
    return Scalar(json.dumps(header, default=str))
