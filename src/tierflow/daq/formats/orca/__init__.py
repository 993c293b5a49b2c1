"""ORCA files: records, header, decoders (being written)."""

from . import decoder  # noqa: F401
