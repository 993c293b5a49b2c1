"""LH5Store: keeps files open between reads."""

from __future__ import annotations

import contextlib
import os
import sys
from collections import OrderedDict
from typing import Any

import h5py

from ..types import LGDO
from .fieldmask import FieldMaskSpec
from .files import open_file
from .read import read, read_n_rows
from .write import write


class LH5Store:
    """Reads and writes with a cache of open files, so repeated reads reopen nothing.

    ``base_path`` is prefixed to relative paths; at most ``max_open`` files stay
    open (least recently used closed first). Writing a file closes its cached
    handle first, so the next read sees the new contents.

    >>> import tempfile, os, numpy as np
    >>> from tierflow.types import Array
    >>> d = tempfile.mkdtemp()
    >>> store = LH5Store(base_path=d)
    >>> store.write(Array(np.arange(5)), "a", "f.lh5")
    >>> store.read("a", "f.lh5", start_row=3).nda.tolist(), store.read_n_rows("a", "f.lh5")
    ([3, 4], 5)
    >>> store.close()
    """

    def __init__(
        self, base_path: str | os.PathLike = "", keep_open: bool = True, max_open: int = 128
    ):
        self.base_path = os.fspath(base_path)
        self.keep_open = keep_open
        self.max_open = max_open
        self.files: OrderedDict[str, h5py.File] = OrderedDict()

    def _path(self, lh5_file: str | os.PathLike) -> str:
        return os.path.abspath(os.path.join(self.base_path, os.fspath(lh5_file)))

    def gimme_file(self, lh5_file: str | os.PathLike | h5py.File, mode: str = "r") -> h5py.File:
        """The open file for a path (opened once, then reused)."""
        if isinstance(lh5_file, h5py.File):
            return lh5_file
        path = self._path(lh5_file)
        h5f = self.files.get(path)
        if h5f is not None and h5f.id.valid and (mode == "r" or h5f.mode == "r+"):
            self.files.move_to_end(path)
            return h5f
        self._forget(path)
        h5f = open_file(path, mode)
        self.files[path] = h5f
        while len(self.files) > self.max_open:
            _, oldest = self.files.popitem(last=False)
            oldest.close()
        return h5f

    def _forget(self, path: str) -> None:
        h5f = self.files.pop(path, None)
        if h5f is not None and h5f.id.valid:
            h5f.close()

    def read(
        self,
        name: str,
        lh5_file: str | os.PathLike | h5py.File | list,
        start_row: int = 0,
        n_rows: int = sys.maxsize,
        idx: Any = None,
        field_mask: FieldMaskSpec = None,
        obj_buf: LGDO | None = None,
        obj_buf_start: int = 0,
        decompress: bool = True,
    ) -> LGDO:
        """:func:`tierflow.lh5.read` through the cache of open files."""
        files = (
            [self.gimme_file(f) for f in lh5_file]
            if isinstance(lh5_file, list | tuple)
            else self.gimme_file(lh5_file)
        )
        try:
            return read(
                name,
                files,
                start_row,
                n_rows,
                idx,
                False,
                field_mask,
                obj_buf,
                obj_buf_start,
                decompress,
            )
        finally:
            if not self.keep_open:
                self.close()

    def read_n_rows(self, name: str, lh5_file: str | os.PathLike | h5py.File) -> int | None:
        """Rows of an object, through the cache of open files."""
        return read_n_rows(name, self.gimme_file(lh5_file))

    def write(self, obj: LGDO, name: str, lh5_file: str | os.PathLike, **kwargs: Any) -> None:
        """:func:`tierflow.lh5.write`; the file's cached read handle is closed first."""
        path = self._path(lh5_file)
        self._forget(path)
        write(obj, name, path, **kwargs)

    def close(self) -> None:
        """Close every cached file."""
        for h5f in self.files.values():
            if h5f.id.valid:
                h5f.close()
        self.files.clear()

    def __enter__(self) -> LH5Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown h5py may be gone
            self.close()
