"""FlashCam listener status records read out by ORCA (``ORFlashCamListenerStatusDecoder``).

legend-daq2lh5 declares this table but skips the records (its decoder returns before
decoding); tierflow decodes them with the layout daq2lh5's skipped code describes:

- word 1: readout ID (bits 31-16), fcid (15-0); word 2: status (1: no errors);
- words 3-4: FlashCam status time (s, us); 5-6: CPU time (s, us); 8-9: start offset
  (s, us); 13: number of cards; 14: words per card;
- then per card, from word ``15 + i * card_size``: 0 id, 1 status, 2 event number, 3 PPS
  count, 4 clock ticks, 5 max clock ticks, 6 number of environment values, 7 number of CTI
  links, 8 number of link states, 10-13 errors (total, environment, CTI, link), 14-18 other
  errors, 19-23 temperatures (mC), 24-29 voltages (mV), 30 main current (mA), 31 humidity
  (o/oo), 32-33 ADC temperatures (mC), 35-38 CTI links, 39.. link states.

Per-card values are vectors per record (one per card, or 5, 6, 2, 4, 256 per card for the
multi-valued ones, link states padded with 0 to 256 per card).

>>> from tierflow.daq.formats.orca.flashcam_status import CARD_FIELDS
>>> CARD_FIELDS["card_temps"]
(19, 5, 'int32', 'mC')
"""

from __future__ import annotations

import numpy as np

from ....types import LGDO, Array, Table, VectorOfVectors
from ...stream import Decoded, Key
from .decoder import OrcaDecoder
from .records import record_matrix

CARD_FIELDS: dict[str, tuple[int, int, str, str | None]] = {
    "card_id": (0, 1, "uint32", None),
    "card_status": (1, 1, "uint32", None),
    "card_eventnumber": (2, 1, "uint32", None),
    "card_pps_count": (3, 1, "uint32", None),
    "card_clock_tick_count": (4, 1, "uint32", None),
    "card_max_clock_ticks": (5, 1, "uint32", None),
    "card_n_env_vals": (6, 1, "uint32", None),
    "card_n_cti_links": (7, 1, "uint32", None),
    "card_n_link_states": (8, 1, "uint32", None),
    "card_n_errors_tot": (10, 1, "uint32", None),
    "card_n_env_errors": (11, 1, "uint32", None),
    "card_n_cti_errors": (12, 1, "uint32", None),
    "card_n_link_errors": (13, 1, "uint32", None),
    "card_n_other_errors": (14, 5, "uint32", None),
    "card_temps": (19, 5, "int32", "mC"),
    "card_voltages": (24, 6, "int32", "mV"),
    "card_main_current": (30, 1, "int32", "mA"),
    "card_humidity": (31, 1, "int32", "o/oo"),
    "card_adc_temps": (32, 2, "int32", "mC"),
    "card_cti_links": (35, 4, "uint32", None),
}
"""Per-card columns: first word in the card's data, values per card, dtype, units."""

CARD_WORDS = 39
"""Words of a card's data before its link states."""
LINK_STATES = 256
"""Link states per card in the table (padded with 0)."""


class ORFlashCamListenerStatusDecoder(OrcaDecoder):
    """Decodes all status records of a block at once into daq2lh5's declared table."""

    decoder_name = "ORFlashCamListenerStatusDecoder"
    orca_classes = ("ORFlashCamListenerStatusDecoder",)

    def keys(self) -> list[Key]:
        return [0]

    def decode(self, words, starts, lengths, packet_ids, file_offset) -> list[Decoded]:
        self.require_words(starts, lengths, 15, file_offset)
        head = record_matrix(words, starts, 15)
        ints = head.view(np.int32)
        n_cards = np.maximum(ints[:, 13], 0).astype(np.int64)
        card_size = np.maximum(ints[:, 14], CARD_WORDS).astype(np.int64)
        self.require_words(starts, lengths, 15 + n_cards * card_size, file_offset)
        columns: dict[str, LGDO] = {
            "packet_id": Array(packet_ids.astype(np.uint32)),
            "readout_id": Array((head[:, 1] >> 16).astype(np.uint16)),
            "fcid": Array((head[:, 1] & 0xFFFF).astype(np.uint16)),
            "status": Array(ints[:, 2].copy()),
            "statustime": _seconds(ints[:, 3], ints[:, 4], np.float32),
            "cputime": _seconds(ints[:, 5], ints[:, 6], np.float64),
            "startoffset": _seconds(ints[:, 8], ints[:, 9], np.float32),
            "n_cards": Array(ints[:, 13].copy()),
            "card_data_size": Array(ints[:, 14].copy()),
        }
        record = np.repeat(np.arange(len(starts)), n_cards)
        index = np.arange(len(record)) - np.repeat(np.cumsum(n_cards) - n_cards, n_cards)
        card_starts = starts[record] + 15 + index * card_size[record]
        cards = record_matrix(words, card_starts, CARD_WORDS)
        for name, (first, per_card, dtype, units) in CARD_FIELDS.items():
            values = cards[:, first : first + per_card].view(dtype).ravel()
            columns[name] = _per_card(values, n_cards * per_card, units)
        n_states = np.minimum(cards[:, 8], card_size[record] - CARD_WORDS)
        slot = np.arange(LINK_STATES)
        valid = slot < n_states[:, None]
        at = np.where(valid, card_starts[:, None] + CARD_WORDS + slot, 0)
        states = np.where(valid, words[at], 0).astype(np.uint32).ravel()
        columns["card_link_states"] = _per_card(states, n_cards * LINK_STATES, None)
        return [Decoded(self.decoder_name, 0, Table(columns))]


def _seconds(seconds: np.ndarray, micros: np.ndarray, dtype) -> Array:
    """``seconds + micros / 1e6`` as daq2lh5 computes it (seconds in ``dtype`` first)."""
    value = seconds.astype(dtype).astype(np.float64) + micros / 1e6
    return Array(value.astype(dtype), attrs={"units": "s"})


def _per_card(values: np.ndarray, counts: np.ndarray, units: str | None) -> VectorOfVectors:
    return VectorOfVectors(
        flattened_data=Array(values),
        cumulative_length=Array(np.cumsum(counts).astype(np.int64)),
        attrs={"units": units} if units else None,
    )
