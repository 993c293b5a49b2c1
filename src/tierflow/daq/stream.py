"""What a DAQ stream reader gives :func:`~tierflow.daq.build_raw`: the contract every format meets.

A *stream* is one DAQ file of one format (ORCA, FlashCam FCIO, CAEN CoMPASS, LlamaDAQ). Its
reader, a :class:`DAQStream` subclass in its own module, registers under the stream type
name legend-daq2lh5 uses (``"ORCA"``, ``"FlashCam"``, ``"Compass"``, ``"LlamaDaq"``) and
knows

- how to recognise its files from their first bytes (:meth:`DAQStream.sniff`);
- which decoders the file holds and which keys (channels) each decoder will write, known
  from the file's header before any data is decoded (:meth:`DAQStream.decoder_keys`), so that
  a routing config naming a decoder or key that does not exist is refused before decoding;
- how to decode the file block by block (:meth:`DAQStream.decode`): it reads the file
  sequentially, locates the records of a block with one pass over their length words, and
  decodes all records of one decoder in the block at once (vectorised or compiled code, no
  Python work per record). Each block gives a list of :class:`Decoded` pieces in file order.

Decoders carry legend-daq2lh5's class names (``"ORFlashCamADCWaveformDecoder"``,
``"FCEventDecoder"``, ``"CompassEventDecoder"``, ``"LLAMAEventDecoder"``, ...), because
production routing configs name them; the tables they make have daq2lh5's column names,
dtypes, units and attributes, with the values right where daq2lh5 is wrong.

>>> sorted(stream_types())  # doctest: +SKIP
['Compass', 'FlashCam', 'LlamaDaq', 'ORCA']
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import DAQError
from ..types import LGDO, Table

Key = int | str
"""A channel key: an int (rawid) for data decoders, a string (``"fcid_0/config"``) or int for
configuration decoders."""


@dataclass
class Decoded:
    """Rows (or a one-off object) that one decoder made from one block of a DAQ file.

    ``obj`` is a :class:`~tierflow.types.Table` of packet data, one row per record, in file
    order and with a ``packet_id`` column (the record's index in the file, as daq2lh5
    counts), or a one-off object (a header :class:`~tierflow.types.Struct`, a
    :class:`~tierflow.types.Scalar` XML string) written once. ``keys`` says which key each
    row belongs to: one key for the whole object, or an int/str array with one key per row
    of a table. Rows of one decoder whose columns differ in shape (waveforms of different
    lengths) come as separate pieces.

    >>> import numpy as np
    >>> piece = Decoded("CompassEventDecoder", np.array([0, 1, 0]), Table({"energy": np.arange(3)}))
    >>> [(k, len(t)) for k, t in piece.by_key()]
    [(0, 2), (1, 1)]
    """

    decoder: str
    keys: Key | np.ndarray
    obj: LGDO

    def by_key(self) -> Iterator[tuple[Key, LGDO]]:
        """The object split by key, keys in order of first appearance (a table's rows keep
        their order within a key)."""
        if not isinstance(self.keys, np.ndarray):
            yield self.keys, self.obj
            return
        if not isinstance(self.obj, Table):
            raise TypeError("per-row keys need a table")
        keys = self.keys
        if len(keys) == 0:
            return
        if (keys == keys[0]).all():
            yield keys[0].item(), self.obj
            return
        uniques, first = np.unique(keys, return_index=True)
        for key in uniques[np.argsort(first)]:
            rows = np.flatnonzero(keys == key)
            yield key.item(), self.obj.take(rows)


class DAQStream(ABC):
    """One open DAQ file of one format; subclasses register by ``stream_type``.

    Subclasses set ``stream_type`` and ``extensions`` and implement :meth:`sniff`,
    :meth:`decoder_keys` and :meth:`decode`. The constructor opens the file and reads its
    header; every error is a :class:`~tierflow.errors.DAQError` naming the file and the byte
    offset.
    """

    stream_type: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]] = ()
    registry: ClassVar[dict[str, type[DAQStream]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "stream_type" in cls.__dict__:
            DAQStream.registry[cls.stream_type] = cls

    def __init__(self, path: str | os.PathLike, **options):
        self.path = os.fspath(path)
        self.options = options

    @classmethod
    @abstractmethod
    def sniff(cls, head: bytes) -> bool:
        """True if a file starting with ``head`` (its first 64 bytes or fewer) is of this type."""

    @abstractmethod
    def decoder_keys(self) -> dict[str, list[Key]]:
        """Every decoder this file has records for (or may have, from its header), with the keys
        each will write, known before decoding data."""

    def decoder_key_lists(self) -> dict[str, list[list[Key]]]:
        """The keys of :meth:`decoder_keys` grouped as legend-daq2lh5's decoders group them
        (``get_key_lists``): keys whose rows share one table in the default routing. A
        decoder with several groups gets one default table per group, ``{name}_{key}`` for a
        group of one key and ``{name}_{index}`` otherwise (LlamaDAQ's ``LLAMAEvent_0``).

        The default is one group per decoder; readers whose daq2lh5 decoder has several
        (LlamaDAQ channels of different settings, ORCA Struck cards) override it.
        """
        return {name: [list(keys)] for name, keys in self.decoder_keys().items()}

    @abstractmethod
    def decode(self, buffer_size: int = 8192, n_max: float = np.inf) -> Iterator[list[Decoded]]:
        """Decode the file in blocks of at most ``buffer_size`` records, stopping after
        ``n_max`` records (packets, as daq2lh5 counts them). Records without a decoder are
        skipped and counted in :attr:`skipped`. A truncated last record raises
        :class:`~tierflow.errors.DAQTruncatedError` after every complete record before it was
        yielded."""

    @property
    def size(self) -> int:
        """Bytes in the file (for progress)."""
        return os.path.getsize(self.path)

    bytes_read: int = 0
    """Bytes of the file consumed so far (for progress)."""

    skipped: dict[str, int]
    """Records without a decoder, counted by data ID or record kind."""

    @abstractmethod
    def close(self) -> None:
        """Release the file."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def stream_types() -> dict[str, type[DAQStream]]:
    """The registered stream types by name (importing the format modules)."""
    from . import formats  # noqa: F401  (registers every format)

    return dict(DAQStream.registry)


def guess_stream_type(path: str | os.PathLike) -> str:
    """The stream type of a file from its first bytes (gzipped ORCA is opened)."""
    types = stream_types()
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as err:
        raise DAQError(f"cannot open: {err.strerror}", file=path) from None
    if head[:2] == b"\x1f\x8b":
        import gzip

        with gzip.open(path, "rb") as f:
            head = f.read(64)
    for name, cls in types.items():
        if cls.sniff(head):
            return name
    raise DAQError(
        f"not a DAQ file of a known type (tried {', '.join(sorted(types))}); pass in_stream_type",
        file=path,
        offset=0,
    )
