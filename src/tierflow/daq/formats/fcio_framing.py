"""The record framing of FCIO (tmio) streams, checked before the ``fcio`` package parses them.

An FCIO file starts with tmio's protocol tag (the int32 -1000000001) and a 64-byte protocol
name (``FlashCamV1``); then come records. A record is a negative int32 word (minus its tag:
Config 1, Event 3, Status 4, RecEvent 5, SparseEvent 6, EventHeader 7, FSP 8-10) followed by
items, each an int32 byte count (>= 0) and exactly that many bytes (no padding: records
need not start on a 4-byte boundary). A record ends where the next negative word (the next
tag) begins or the file ends.

``fcio`` itself returns a record cut short by the end of the file as if it were complete,
so tierflow locates every record of a block here first (one pass over the length words) and
hands ``fcio`` only complete, well-formed records. The pass is plain Python: it costs a few
loop steps per record, less than ``fcio``'s own parsing of the record, and a compiled
kernel would cost more to load (numba's first cache load, ~0.4 s) than it saves on a file.

>>> import struct
>>> data = struct.pack("<4i", -1, 4, 7, -3) + struct.pack("<iHi", 2, 5, 0) + struct.pack("<2i", -3, 8)
>>> records, stop, status = scan_records(data, 0, len(data), True, 4)
>>> records, stop, status == INCOMPLETE
([(0, 12, 1, 1), (12, 26, 3, 2)], 26, True)
"""

from __future__ import annotations

import struct

PROTOCOL_TAG = -1000000001
"""tmio's protocol tag, the first int32 of an FCIO file."""
HEADER_BYTES = 68
"""The protocol tag and the 64-byte protocol name before the first record."""
MAX_TAG = 64
"""Tags above this are taken as corrupt words (FCIO's tags are 1-10)."""
MAX_ITEMS = 64
"""Items above this in one record are taken as corruption (FCIO records hold at most ~20)."""
MAX_ITEM_BYTES = 2400 * (32768 + 2) * 2
"""fcio's largest item: MaxChannels traces of MaxSamples samples and their 2-word headers."""

OK = 0
"""Every word of the block was consumed by complete records."""
INCOMPLETE = 1
"""The record at the returned word runs past the block (or past the file at its end)."""
NOT_A_TAG = 2
"""The word where a record should start is not a tag."""
BAD_TAG = 3
"""A tag out of range."""
TOO_MANY_ITEMS = 4
"""A record with more than ``MAX_ITEMS`` items."""
ITEM_TOO_LARGE = 5
"""An item byte count above ``MAX_ITEM_BYTES``."""
FULL = 6
"""The output arrays are full; scan again from the returned word."""

MESSAGES = {
    NOT_A_TAG: "expected a record tag (a negative int32 word), got {word}",
    BAD_TAG: "record tag {tag} is not an FCIO tag (1-{max_tag})",
    TOO_MANY_ITEMS: "record has more than {max_items} items: corrupt length words",
    ITEM_TOO_LARGE: "item length {word} bytes exceeds fcio's largest item ({max_bytes} bytes)",
}


_INT32 = struct.Struct("<i")


def scan_records(
    data: bytes | bytearray, pos: int, end: int, at_eof: bool, limit: int
) -> tuple[list[tuple[int, int, int, int]], int, int]:
    """Locate up to ``limit`` complete records in ``data[pos:end]`` (starting at a record
    boundary). Returns the records as ``(start, end, tag, items)`` byte offsets into
    ``data``, the offset where scanning stopped, and a status. A record is complete when
    the next tag follows it before ``end``, or at the end of the file (``at_eof``)."""
    read = _INT32.unpack_from
    records: list[tuple[int, int, int, int]] = []
    i = pos
    while i < end:
        if len(records) == limit:
            return records, i, FULL
        if i + 4 > end:
            return records, i, INCOMPLETE
        (word,) = read(data, i)
        if word >= 0:
            return records, i, NOT_A_TAG
        if word < -MAX_TAG:
            return records, i, BAD_TAG
        j = i + 4
        n_items = 0
        while j + 4 <= end:
            (size,) = read(data, j)
            if size < 0:
                break
            if size > MAX_ITEM_BYTES:
                return records, j, ITEM_TOO_LARGE
            j += 4 + size
            n_items += 1
            if n_items > MAX_ITEMS:
                return records, i, TOO_MANY_ITEMS
        if j > end or (j + 4 > end and not at_eof):
            return records, i, INCOMPLETE
        # at the end of the file, 1-3 bytes after the last item are a cut-off next record
        records.append((i, j, -word, n_items))
        i = j
    return records, i, OK
