"""Variable-length string attributes checked before HDF5 reads them.

HDF5 stores the values of variable-length string attributes (LH5's ``datatype`` and
``units``) in *global heap collections*, and the attribute itself holds only a reference:
(length, collection address, object index). HDF5 2.0 trusts all of it: a damaged string
type or reference can crash the process (a segfault), and a collection holding a free-space
object of size 0 (a zeroed block) makes HDF5's collection decoder loop forever. Before
tierflow reads the attributes of an object, :func:`check_attribute_heaps` reads the object's
header, finds its variable-length attributes and checks their types, their references and
the collections they point to (each object and collection once per open file), raising
:class:`~tierflow.errors.LH5DecodeError` where HDF5 would crash or hang. What it cannot parse (shared or dense attribute storage,
unknown versions) it leaves to HDF5.

>>> import os, tempfile, h5py
>>> path = os.path.join(tempfile.mkdtemp(), "a.h5")
>>> with h5py.File(path, "w") as f:
...     f.attrs["datatype"] = "struct{}"
>>> with h5py.File(path, "r") as f:
...     check_attribute_heaps(f.id)
"""

from __future__ import annotations

import os
import struct
import threading
from typing import Any

import h5py

from ..errors import LH5DecodeError

__all__ = ["check_attribute_heaps"]

_ATTRIBUTE = 0x0C
_CONTINUATION = 0x10
_VLEN = 9
_HEADER_READ = 4096


class _FileState:
    """What is known of one open file: how to read it, and what was found sound (shared by
    every opening of the same unchanged file: see :func:`_identity`)."""

    def __init__(self, fd: int | None, base: int):
        self.fd = fd
        self.base = base
        sound = _sound_in(fd)
        self.headers: set[int] = sound[0]
        self.collections: dict[int, dict[int, int]] = sound[1]


#: per open file, by HDF5's file number (a serial number, never reused in a process)
_files: dict[int, _FileState] = {}
#: what was found sound, per file identity (:func:`_identity`): a file read again and again
#: by one-off reads (``lh5.read`` opens it each time) is checked once
_sound: dict[tuple[int, ...], tuple[set[int], dict[int, dict[int, int]]]] = {}
_lock = threading.Lock()


def _identity(fd: int) -> tuple[int, ...] | None:
    """The file behind ``fd`` as it is now: device, inode, size and the times of its last
    change (any write changes them), so a changed file is checked again."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _sound_in(fd: int | None) -> tuple[set[int], dict[int, dict[int, int]]]:
    identity = None if fd is None else _identity(fd)
    with _lock:
        found = _sound.get(identity) if identity is not None else None
        if found is None:
            found = (set(), {})
            if identity is not None:
                if len(_sound) > 256:
                    _sound.clear()
                _sound[identity] = found
    return found


def check_attribute_heaps(oid: Any) -> None:
    """Check the variable-length attributes of the object ``oid`` (an h5py low-level id)
    before HDF5 reads them; :class:`~tierflow.errors.LH5DecodeError` if one would crash or
    hang HDF5."""
    info = h5py.h5o.get_info(oid)
    state = _state(info.fileno, oid)
    fd = state.fd
    if fd is None or info.addr in state.headers:
        return
    damaged: str | None = None
    try:
        references = _vlen_references(fd, state.base, info.addr)
    except ValueError as err:
        references, damaged = [], str(err)
    for length, heap, index in references:
        damaged = damaged or _check_reference(state, fd, heap, index, length)
    if damaged:
        name = h5py.h5i.get_name(oid) or b"?"
        raise LH5DecodeError(
            f"a variable-length attribute is damaged ({damaged})",
            file=h5py.h5i.get_file_id(oid).name.decode(errors="replace"),
            obj=name.decode(errors="replace"),
        )
    with _lock:
        state.headers.add(info.addr)


def _state(fileno: int, oid: Any) -> _FileState:
    state = _files.get(fileno)
    if state is None:
        fid = h5py.h5i.get_file_id(oid)
        state = _FileState(_fd(fid), fid.get_create_plist().get_userblock())
        with _lock:
            if len(_files) > 256:
                _files.clear()
            _files[fileno] = state
    return state


def _fd(fid: Any) -> int | None:
    """The file descriptor HDF5 reads the file through (sec2 driver only)."""
    try:
        if fid.get_access_plist().get_driver() != h5py.h5fd.SEC2:
            return None
        return int(fid.get_vfd_handle())
    except (OSError, RuntimeError, ValueError, TypeError):
        return None


def _vlen_references(fd: int, base: int, addr: int) -> list[tuple[int, int, int]]:
    """(length, collection address, index) of the object's compact variable-length
    attributes; an empty list where the header is not understood."""
    refs: list[tuple[int, int, int]] = []
    try:
        messages = _messages(fd, base, addr)
    except (struct.error, IndexError, ValueError, OverflowError):
        return []  # a header not understood: HDF5 reads it, or says it is damaged
    for kind, data in messages:
        if kind == _ATTRIBUTE:
            try:
                refs += _attribute_references(data)
            except (struct.error, IndexError, OverflowError):
                continue
    return refs


def _messages(fd: int, base: int, addr: int) -> list[tuple[int, bytes]]:
    head = os.pread(fd, _HEADER_READ, base + addr)
    if head[:4] == b"OHDR":
        return _messages_v2(fd, base, head)
    if len(head) < 16 or head[0] != 1:
        return []
    size = struct.unpack_from("<I", head, 8)[0]
    chunks = [(addr + 16, size)]
    out: list[tuple[int, bytes]] = []
    while chunks and len(out) < 4096:
        start, length = chunks.pop(0)
        data = os.pread(fd, min(length, 1 << 20), base + start)
        p = 0
        while p + 8 <= len(data):
            kind, msize = struct.unpack_from("<HH", data, p)
            body = data[p + 8 : p + 8 + msize]
            out.append((kind, body))
            if kind == _CONTINUATION and len(body) >= 16:
                chunks.append(struct.unpack_from("<QQ", body))
            p += 8 + msize
    return out


def _messages_v2(fd: int, base: int, head: bytes) -> list[tuple[int, bytes]]:
    flags = head[5]
    p = 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
    width = 1 << (flags & 0x03)
    size = int.from_bytes(head[p : p + width], "little")
    p += width
    chunks = [(head, p, p + size)]
    out: list[tuple[int, bytes]] = []
    while chunks and len(out) < 4096:
        data, p, end = chunks.pop(0)
        header = 6 if flags & 0x04 else 4
        while p + header <= min(end, len(data)):
            kind, msize = data[p], struct.unpack_from("<H", data, p + 1)[0]
            body = data[p + header : p + header + msize]
            out.append((kind, body))
            if kind == _CONTINUATION and len(body) >= 16:
                at, length = struct.unpack_from("<QQ", body)
                more = os.pread(fd, min(length, 1 << 20), base + at)
                if more[:4] == b"OCHK":
                    chunks.append((more, 4, len(more) - 4))
            p += header + msize
    return out


def _attribute_references(data: bytes) -> list[tuple[int, int, int]]:
    """The (length, collection, index) references of an attribute message whose type is a
    variable-length one; none for other types or messages not understood."""
    if len(data) < 8:
        return []
    version, flags = data[0], data[1]
    if flags & 0x03 or version not in (1, 2, 3):  # shared datatype or dataspace
        return []
    name_size, type_size, space_size = struct.unpack_from("<HHH", data, 2)
    p = 8 if version < 3 else 9

    def pad(n: int) -> int:
        return (n + 7) & ~7 if version == 1 else n

    p += pad(name_size)
    dtype = data[p : p + type_size]
    p += pad(type_size)
    space = data[p : p + space_size]
    p += pad(space_size)
    if not dtype or dtype[0] & 0x0F != _VLEN:
        return []
    if len(dtype) < 8 or not _sound_vlen_type(dtype):
        raise ValueError("damaged variable-length type")
    count = _elements(space)
    if count is None:
        return []
    refs: list[tuple[int, int, int]] = []
    for k in range(count):
        at = p + 16 * k
        if at + 16 > len(data):
            return refs
        refs.append(struct.unpack_from("<IQI", data, at))
    return refs


def _sound_vlen_type(dtype: bytes) -> bool:
    """Whether a variable-length datatype's class bits and size are ones HDF5 writes: a
    sequence, or a string with a known padding and character set, 16 bytes a reference."""
    kind, padding, charset = dtype[1] & 0x0F, dtype[1] >> 4, dtype[2] & 0x0F
    size = struct.unpack_from("<I", dtype, 4)[0]
    return size == 16 and (kind == 0 or (kind == 1 and padding <= 2 and charset <= 1))


def _elements(space: bytes) -> int | None:
    """Elements of a dataspace message (``None`` if not understood)."""
    if len(space) < 2:
        return None
    version, rank = space[0], space[1]
    if version == 1:
        dims_at = 8
    elif version == 2 and len(space) >= 4:
        if space[3] == 0:  # scalar
            return 1
        if space[3] == 2:  # null
            return 0
        dims_at = 4
    else:
        return None
    if rank == 0:
        return 1
    count = 1
    for k in range(rank):
        if dims_at + 8 * (k + 1) > len(space):
            return None
        count *= struct.unpack_from("<Q", space, dims_at + 8 * k)[0]
    return count if count <= 1 << 16 else None


def _check_reference(state: _FileState, fd: int, heap: int, index: int, length: int) -> str | None:
    """What is wrong with a reference into a collection (``None`` if nothing); ``fd`` is the
    descriptor of ``state``'s file."""
    if length == 0 and heap == 0:
        return None  # an empty string
    objects = state.collections.get(heap)
    if objects is None:
        found = _collection(fd, state.base, heap)
        if isinstance(found, str):
            return found
        with _lock:
            state.collections[heap] = found
        objects = found
    if index not in objects:
        return f"no object {index} in the global heap collection at byte {heap}"
    if length > objects[index]:
        return f"a string of {length} bytes in a heap object of {objects[index]}"
    return None


def _collection(fd: int, base: int, addr: int) -> dict[int, int] | str:
    """The objects (index -> size) of the collection at ``addr``, walked as HDF5 walks it;
    a string saying what is wrong where HDF5 would loop or read out of bounds."""
    head = os.pread(fd, 16, base + addr)
    if len(head) < 16 or head[:4] != b"GCOL":
        return f"no global heap collection at byte {addr}"
    size = struct.unpack_from("<Q", head, 8)[0]
    if size < 16 or size > 1 << 30:
        return f"a global heap collection of {size} bytes"
    data = os.pread(fd, size, base + addr)
    if len(data) < size:
        return "a global heap collection cut short"
    objects: dict[int, int] = {}
    p = 16
    while p + 16 <= size:  # HDF5 takes a shorter tail as free space
        index, _, _, obj_size = struct.unpack_from("<HHIQ", data, p)
        need = obj_size if index == 0 else 16 + ((obj_size + 7) & ~7)
        if need == 0 or p + need > size:
            return f"a global heap collection at byte {addr} with a broken object list"
        if index:
            objects[index] = obj_size
        p += need
    return objects
