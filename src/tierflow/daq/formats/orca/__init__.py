"""ORCA files: record framing, the header, the stream reader and its record decoders
(importing this registers them)."""

from . import (  # noqa: F401  (registration)
    decoder,
    fcio_records,
    flashcam,
    flashcam_status,
    run,
    stream,
    struck,
)
