"""Whole first chunks compressed here, for the fast creation path (:mod:`.create`).

A dataset that fits in half its first chunk under LEGEND's default filters (shuffle + gzip)
is written with that chunk ready-compressed (:func:`deflated_chunk`): the zero padding is
encoded from cached deflate blocks instead of being compressed again for every column. The
stored chunk inflates to exactly the bytes HDF5's own filters would have compressed, so the
object is the one HDF5 would have made; only the compressed bytes may differ.
"""

from __future__ import annotations

import operator
import struct
import zlib

import numpy as np

#: bound of each cache below (cleared when full)
_CACHE_SIZE = 1024
#: a plane of at most this many bytes goes into a stored (uncompressed) deflate block
_STORED_PLANE = 256
_MOD_ADLER = 65521
_ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KiB window
_FINAL_BLOCK = b"\x03\x00"  # an empty final block (fixed Huffman codes)


def deflated_chunk(data: np.ndarray, chunk_elements: int, level: int) -> bytes:
    """zlib(shuffle(data, zero-padded to ``chunk_elements``)) at ``level``, built from parts.

    After HDF5's shuffle filter the chunk is ``itemsize`` byte planes, each the data's bytes at
    one position followed by zeros. Each plane is a deflate block of its own (stored when small,
    else compressed with the history reset at its end), followed by cached, self-contained
    blocks for the run of zeros; the Adler-32 checksum is extended over the zeros
    arithmetically. Inflated, it is exactly the chunk HDF5's filters would have compressed.

    >>> data = np.arange(3, dtype="u2")
    >>> chunk = deflated_chunk(data, 8, 4)
    >>> zlib.decompress(chunk) == bytes([0, 1, 2, 0, 0, 0, 0, 0]) + bytes(8)
    True
    """
    k = data.dtype.itemsize
    m = data.size
    zeros = chunk_elements - m
    raw = data.tobytes()
    if m <= _STORED_PLANE:
        return _stored_planes(raw, _stored_layout(k, m, chunk_elements, level))
    zero_run = _zero_run(level, zeros)
    parts = [_ZLIB_HEADER]
    shuffled = np.frombuffer(raw, np.uint8).reshape(m, k).T.tobytes() if k > 1 else raw
    planes = [shuffled[j : j + m] for j in range(0, k * m, m)]
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    for plane in planes:
        parts += (compressor.compress(plane), compressor.flush(zlib.Z_FULL_FLUSH), zero_run)
    adler = 1
    for plane in planes:
        adler = zlib.adler32(plane, adler)
        if zeros:
            low = adler & 0xFFFF
            adler = ((((adler >> 16) + zeros * low) % _MOD_ADLER) << 16) | low
    parts += (_FINAL_BLOCK, struct.pack(">I", adler))
    return b"".join(parts)


class _StoredLayout:
    """What the chunks of ``m`` elements of ``k`` bytes, padded to ``n`` elements, share when
    their planes are stored deflate blocks: the bytes around and between the planes, and each
    data byte's weight in the Adler-32 sum ``B`` (how many of the chunk's bytes, itself
    included, are from it on)."""

    __slots__ = ("k", "length", "prefix", "separator", "suffix", "weights")

    def __init__(self, k: int, m: int, n: int, level: int):
        header = b"\x00" + struct.pack("<HH", m, m ^ 0xFFFF)
        zero_run = _zero_run(level, n - m)
        self.k = k
        self.length = k * n
        self.prefix = _ZLIB_HEADER + header
        self.separator = zero_run + header
        self.suffix = zero_run + _FINAL_BLOCK
        # data byte e * k + j (byte j of element e) is byte e of plane j: j * n + e in the chunk
        self.weights = tuple(self.length - (j * n + e) for e in range(m) for j in range(k))


_stored_layouts: dict[tuple[int, int, int, int], _StoredLayout] = {}


def _stored_layout(k: int, m: int, n: int, level: int) -> _StoredLayout:
    """The :class:`_StoredLayout` of these sizes, cached."""
    key = (k, m, n, level)
    layout = _stored_layouts.get(key)
    if layout is None:
        if len(_stored_layouts) >= _CACHE_SIZE:
            _stored_layouts.clear()
        layout = _stored_layouts[key] = _StoredLayout(k, m, n, level)
    return layout


def _stored_planes(raw: bytes, layout: _StoredLayout) -> bytes:
    """The zlib stream of a chunk whose byte planes are stored blocks. Its Adler-32 checksum is
    summed in closed form: ``A = 1 + sum of the bytes``, ``B = length + sum of each byte times
    its weight`` (zeros add nothing), both modulo 65521."""
    k = layout.k
    planes = layout.separator.join([raw[j::k] for j in range(k)]) if k > 1 else raw
    a = (1 + sum(raw)) % _MOD_ADLER
    b = (layout.length + sum(map(operator.mul, raw, layout.weights))) % _MOD_ADLER
    return b"".join((layout.prefix, planes, layout.suffix, ((b << 16) | a).to_bytes(4, "big")))


_zero_blocks: dict[tuple[int, int], bytes] = {}


def _zero_run(level: int, n: int) -> bytes:
    """Self-contained deflate blocks (no reference to earlier data, ending on a byte boundary)
    for ``n`` zero bytes, cached: tables of the same shape pad their chunks alike."""
    if n == 0:
        return b""
    key = (level, n)
    block = _zero_blocks.get(key)
    if block is None:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        block = compressor.compress(bytes(n)) + compressor.flush(zlib.Z_FULL_FLUSH)
        if len(_zero_blocks) >= _CACHE_SIZE:
            _zero_blocks.clear()
        _zero_blocks[key] = block
    return block
