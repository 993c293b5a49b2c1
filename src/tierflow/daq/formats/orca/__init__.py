"""ORCA files: record framing, the header, the stream reader and its record decoders
(importing this registers them)."""

from . import decoder, flashcam, flashcam_status, run, stream, struck  # noqa: F401  (registration)
