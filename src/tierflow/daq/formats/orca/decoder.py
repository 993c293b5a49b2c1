"""The contract of one ORCA record decoder: records of one data ID in, tables out.

An ORCA file is a stream of 32-bit words. Every record starts with a word holding its
data ID (bits 31-18) and its length in words (bits 17-0); the file's header record maps
data IDs to ORCA decoder class names (``dataDescription``). The ORCA stream
(:mod:`.stream`) locates a block's records with one pass over their length words, groups
them by data ID and hands each group to the :class:`OrcaDecoder` registered for that ORCA
class name, which decodes all of them at once.

Decoders register by subclassing: ``decoder_name`` is legend-daq2lh5's class name (what
routing configs name), ``orca_classes`` the names ORCA's header gives in
``dataDescription`` for the records it decodes (the ``"decoder"`` entry of a data ID,
e.g. ``"ORFlashCamADCWaveformDecoder"``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ....errors import DAQError
from ....types import Table
from ...stream import Decoded, Key


def first_packet(piece: Decoded) -> int:
    """The ``packet_id`` of a decoded table's first row (to sort pieces into file order)."""
    table = piece.obj
    assert isinstance(table, Table)  # record decoders make tables
    return int(table["packet_id"].nda[0])


def rows_of(piece: Decoded) -> int:
    """Rows of a decoded table."""
    assert isinstance(piece.obj, Table)  # record decoders make tables
    return len(piece.obj)


class OrcaDecoder(ABC):
    """Decodes every record of one data ID in a block, in file order.

    ``header`` is the file's header plist as a dict; ``path`` the file (for errors).
    Decoders that keep state across records (a FlashCam listener config read before its
    waveforms, an FCIO config before its events) keep it on the instance; the stream calls
    :meth:`decode` block after block in file order, and splits a block so that a record
    whose decoder has ``sets_state = True`` is decoded before the records that follow it.
    """

    decoder_name: ClassVar[str]
    orca_classes: ClassVar[tuple[str, ...]] = ()
    sets_state: ClassVar[bool] = False
    registry: ClassVar[dict[str, type[OrcaDecoder]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.__dict__.get("orca_classes", ()):
            OrcaDecoder.registry[name] = cls

    def __init__(self, header: dict[str, Any], path: str):
        self.header = header
        self.path = path
        self.peers: dict[str, OrcaDecoder] = {}

    peers: dict[str, OrcaDecoder]
    """The stream's decoders by ``decoder_name`` (this one included), set by the stream
    after it made them all: a decoder that reads state another one sets (FlashCam
    waveforms read the listener config's GPS mode and channel map) finds it here."""

    @abstractmethod
    def keys(self) -> list[Key]:
        """The keys this decoder will write, from the header (before any record is decoded)."""

    @abstractmethod
    def decode(
        self,
        words: np.ndarray,
        starts: np.ndarray,
        lengths: np.ndarray,
        packet_ids: np.ndarray,
        file_offset: int,
    ) -> list[Decoded]:
        """Decode the records at word offsets ``starts`` (with ``lengths`` in words, header
        word included) of ``words`` (uint32, the block). ``packet_ids`` are their indices in
        the file; ``file_offset`` is the byte offset of ``words[0]`` in the file, for errors."""

    def require_words(
        self, starts: np.ndarray, lengths: np.ndarray, n_words: np.ndarray | int, file_offset: int
    ) -> None:
        """Raise :class:`~tierflow.errors.DAQError` at the first record shorter than
        ``n_words`` (per record or for all), naming the file and the record's byte offset."""
        short = np.flatnonzero(lengths < n_words)
        if len(short):
            i = short[0]
            need = n_words[i] if isinstance(n_words, np.ndarray) else n_words
            msg = f"{self.decoder_name} record of {lengths[i]} words, needs at least {need}"
            raise DAQError(msg, file=self.path, offset=file_offset + 4 * int(starts[i]))
