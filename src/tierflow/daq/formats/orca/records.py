"""Record framing of an ORCA file: where each record of a block of words starts, how long
it is and which data ID it has, found in one compiled pass over the length words.

An ORCA file is a stream of little-endian 32-bit words, record after record
(legend-daq2lh5's ``orca_packet`` rules):

- a **long record** has bit 31 of its first word clear: the data ID is bits 31-18
  (``word0 & 0xFFFC0000``, unshifted as in the header's ``dataDescription``), the length in
  words (this word included) bits 17-0;
- an **extended record** is a long record whose length bits are 0: its length in words is
  the whole second word;
- a **short record** has bit 31 set: it is this one word, its data ID bits 31-26
  (``word0 & 0xFC000000``).

The first record, data ID 0, is the header (:mod:`.header`).

>>> import numpy as np
>>> words = np.array([0x001C0004, 1, 2, 3, 0x80000000 | 7, 0x000C0000, 3, 9], "uint32")
>>> frame = frame_records(words, 0, 10)
>>> frame.starts.tolist(), frame.lengths.tolist(), [hex(i) for i in frame.data_ids]
([0, 4, 5], [4, 1, 3], ['0x1c0000', '0x80000000', '0xc0000'])
>>> frame.end, frame.status == COMPLETE
(8, True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

COMPLETE = 0
"""Status: framing stopped at the end of the words or after the requested records."""
PARTIAL = 1
"""Status: the words end inside the record at ``end`` (read more, or the file is truncated)."""
BAD_LENGTH = 2
"""Status: the extended record at ``end`` has a length below 2 words (a zero length word)."""

SHORT_BIT = np.uint32(0x80000000)
LONG_ID_MASK = np.uint32(0xFFFC0000)
SHORT_ID_MASK = np.uint32(0xFC000000)
LENGTH_MASK = np.uint32(0x3FFFF)


class Frame(NamedTuple):
    """The complete records found: word offsets, lengths in words, unshifted data IDs;
    ``end`` the word where framing stopped and ``status`` why."""

    starts: np.ndarray
    lengths: np.ndarray
    data_ids: np.ndarray
    end: int
    status: int


@njit(nogil=True, cache=True)
def _frame(words, pos, max_records, starts, lengths, ids):  # pragma: no cover - numba
    n_words = len(words)
    n = 0
    while n < max_records and pos < n_words:
        word = words[pos]
        if word & 0x80000000:
            data_id = word & 0xFC000000
            length = np.uint32(1)
        else:
            data_id = word & 0xFFFC0000
            length = word & 0x3FFFF
            if length == 0:
                if pos + 1 >= n_words:
                    return n, pos, 1
                length = words[pos + 1]
                if length < 2:
                    return n, pos, 2
        if pos + np.int64(length) > n_words:
            return n, pos, 1
        starts[n] = pos
        lengths[n] = length
        ids[n] = data_id
        n += 1
        pos += np.int64(length)
    return n, pos, 0


def frame_records(words: np.ndarray, pos: int, max_records: int) -> Frame:
    """Frame at most ``max_records`` complete records of ``words`` (uint32) from word ``pos``.

    Stops at the first record that does not end inside ``words`` (``PARTIAL``) or whose
    length is impossible (``BAD_LENGTH``); never loops on a zero length.
    """
    cap = max(0, min(int(max_records), len(words) - pos))
    starts = np.empty(cap, np.int64)
    lengths = np.empty(cap, np.int64)
    ids = np.empty(cap, np.uint32)
    n, end, status = _frame(words, np.int64(pos), np.int64(cap), starts, lengths, ids)
    return Frame(starts[:n], lengths[:n], ids[:n], int(end), int(status))


def record_matrix(words: np.ndarray, starts: np.ndarray, n_words: int) -> np.ndarray:
    """The first ``n_words`` words of each record at ``starts``, one row per record
    (a copy, gathered by compiled code).

    >>> record_matrix(np.arange(10, dtype="uint32"), np.array([1, 6]), 3).tolist()
    [[1, 2, 3], [6, 7, 8]]
    """
    out = np.empty((len(starts), n_words), words.dtype)
    _gather(words, starts, out)
    return out


@njit(nogil=True, cache=True)
def _gather(words, starts, out):  # pragma: no cover - numba
    n_words = out.shape[1]
    for i in range(len(starts)):
        out[i, :] = words[starts[i] : starts[i] + n_words]
