"""The raw tier from DAQ files: stream readers and decoders for ORCA, FlashCam FCIO, CAEN
CoMPASS and LlamaDAQ, and :func:`build_raw` (legend-daq2lh5's interface)."""

from .build_raw import BuildRawSummary, build_raw
from .stream import DAQStream, Decoded, guess_stream_type, stream_types

__all__ = [
    "BuildRawSummary",
    "DAQStream",
    "Decoded",
    "build_raw",
    "guess_stream_type",
    "stream_types",
]
