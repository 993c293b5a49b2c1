"""Iterating over many LH5 files and groups: :class:`LH5Iterator` with query, hist and map."""

from .iterator import FriendLengthError, LH5Iterator

__all__ = ["FriendLengthError", "LH5Iterator"]
