"""The DAQ file formats tierflow reads, one module (or package) each; importing this
registers their stream readers and decoders."""

from . import compass, flashcam, llama, orca  # noqa: F401  (registration)
