"""Opening LH5 files and finding objects in them, with clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401  (registers Zstd, Blosc, LZ4, ... with HDF5)

from ..errors import LH5FileError, LH5ObjectNotFoundError
from .undo import recover_interrupted_write

FileLike = str | os.PathLike | h5py.File


def open_file(path: str | os.PathLike, mode: str = "r") -> h5py.File:
    """Open ``path`` with h5py, without HDF5 file locking when reading.

    Raises :class:`LH5FileError` for a missing, non-HDF5 or truncated file. A write into the
    file that was killed before it finished is rolled back first (see :mod:`.undo`).
    """
    path = os.fspath(path)
    recover_interrupted_write(path)
    if mode == "r" and not os.path.exists(path):
        raise LH5FileError("no such file", file=path)
    try:
        if mode == "r":
            return h5py.File(path, "r", locking=False)
        return h5py.File(path, mode)
    except OSError as err:
        raise LH5FileError(_why_unopenable(path, err), file=path) from None


def open_through(fileobj: object, path: str) -> h5py.File:
    """The existing file ``path`` open for writing through ``fileobj`` (a file object for h5py's
    ``fileobj`` driver, such as an :class:`~.undo.UndoFile`), with :func:`open_file`'s errors."""
    try:
        return h5py.File(fileobj, "r+")
    except OSError as err:
        raise LH5FileError(_why_unopenable(path, err), file=path) from None


def _why_unopenable(path: str, err: OSError) -> str:
    if os.path.isdir(path):
        return "is a directory, not an LH5 file"
    try:
        signed = h5py.is_hdf5(path)
    except OSError:
        signed = False
    if not signed:
        return "not an HDF5 file (no HDF5 signature), so not an LH5 file"
    detail = str(err).split("(")[0].strip()
    return f"HDF5 file cannot be opened: truncated, corrupt or locked ({detail})"


def file_name(h5file: h5py.File | h5py.Group) -> str:
    """The path of the file an h5py object lives in."""
    return h5file.file.filename


def get_object(h5file: h5py.File | h5py.Group, name: str) -> h5py.Group | h5py.Dataset:
    """The object at ``name``; a missing one names what exists where the path stops."""
    path = str(name).strip("/")
    if not path:
        return h5file
    node = h5file
    walked: list[str] = []
    for part in path.split("/"):
        if not part:
            continue
        if not isinstance(node, h5py.Group) or part not in node:
            where = "/" + "/".join(walked)
            existing = sorted(node.keys()) if isinstance(node, h5py.Group) else []
            shown = existing[:30] + (["..."] if len(existing) > 30 else [])
            raise LH5ObjectNotFoundError(
                f"no object {part!r} in {where}; it holds {shown}", file=file_name(h5file), obj=path
            )
        node = node[part]
        walked.append(part)
    return node


def as_path(lh5_file: FileLike) -> str:
    """A printable name for a path or open file."""
    return lh5_file.filename if isinstance(lh5_file, h5py.File) else os.fspath(Path(lh5_file))
