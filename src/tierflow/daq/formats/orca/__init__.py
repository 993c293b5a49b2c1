"""ORCA files: record framing, the header, the stream reader and its record decoders
(importing this registers them)."""

from . import decoder, flashcam, run, stream  # noqa: F401  (registration)
