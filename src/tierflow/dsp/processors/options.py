"""Compilation options shared by every processor."""

from __future__ import annotations

#: options for ``numba.guvectorize``: cached on disk so a new process starts in seconds
GUFUNC_OPTIONS: dict = {"nopython": True, "cache": True}
