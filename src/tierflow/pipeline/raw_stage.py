"""The raw tier built from DAQ files inside the pipeline: one :func:`~tierflow.daq.build_raw`
per DAQ file, written to a temporary file and renamed, skipped when up to date.

Without a routing config (``daq.out_spec``), the waveforms of every channel go to
``ch{key:07d}/raw`` (LEGEND's raw tier) and every other decoder's records to one table named
after the decoder (``ORFlashCamListenerConfig``, ``FCConfig``, ...). FlashCam waveforms are
encoded with :data:`WAVEFORM_CODEC`, a lossless waveform codec of LEGEND's, the other columns
compressed with gzip. A routing config's tables
all go to the cycle's raw file (a ``:/group`` in their ``out_stream`` is kept).

>>> spec = raw_tier_spec(["ORFlashCamADCWaveformDecoder", "ORRunDecoderForRun"], "/o/r.lh5")
>>> spec["ORFlashCamADCWaveformDecoder"]["ch{key:07d}/raw"]["proc_spec"]
{'compression': {'waveform/values': 'uleb128_zigzag_diff'}}
>>> spec["*"]
{'{name}': {'key_list': ['*'], 'out_stream': '/o/r.lh5'}}
"""

from __future__ import annotations

import copy
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import TierflowError
from .config import DaqSettings, PipelineConfigError

#: decoders whose records are channel waveforms: the raw tier's ``ch{key:07d}/raw`` tables
WAVEFORM_DECODERS = (
    "ORFlashCamADCWaveformDecoder",
    "ORFCIOEventDecoder",
    "FCEventDecoder",
    "ORSIS3302DecoderForEnergy",
    "ORSIS3316WaveformDecoder",
    "CompassEventDecoder",
    "LLAMAEventDecoder",
)


#: decoders whose tables always hold ``waveform/values`` (FlashCam's)
FLASHCAM_DECODERS = ("ORFlashCamADCWaveformDecoder", "ORFCIOEventDecoder", "FCEventDecoder")
#: the codec of FlashCam waveforms in the pipeline's raw tier. Measured on the demo's run
#: (3 x 20000 waveforms of 8000 samples, 1 GB of ORCA): raw stage 13.6 s and dsp 5.3 s with
#: gzip (501 MB), 3.8 s and 3.1 s with this codec (495 MB); radware_sigcompress 5.7 s (449 MB)
WAVEFORM_CODEC = "uleb128_zigzag_diff"


def raw_tier_spec(decoders: Iterable[str], out_file: str) -> dict[str, Any]:
    """The default routing of the pipeline's raw tier for a stream with ``decoders``."""
    spec: dict[str, Any] = {}
    for name in decoders:
        if name not in WAVEFORM_DECODERS:
            continue
        table: dict[str, Any] = {"key_list": ["*"], "out_stream": out_file}
        if name in FLASHCAM_DECODERS:
            table["proc_spec"] = {"compression": {"waveform/values": WAVEFORM_CODEC}}
        spec[name] = {"ch{key:07d}/raw": table}
    spec["*"] = {"{name}": {"key_list": ["*"], "out_stream": out_file}}
    return spec


def routed_to(out_spec: Mapping[str, Any], out_file: str) -> dict[str, Any]:
    """A routing config whose every table goes to ``out_file`` (keeping ``:/group`` parts)."""
    spec = copy.deepcopy(dict(out_spec))
    for tables in spec.values():
        if not isinstance(tables, Mapping):
            continue  # build_raw names the malformed entry
        for settings in tables.values():
            if isinstance(settings, dict):
                stream = str(settings.get("out_stream", ""))
                group = stream.split(":", 1)[1] if ":" in stream else ""
                settings["out_stream"] = f"{out_file}:{group}" if group else out_file
    return spec


@dataclass
class RawTask:
    """One DAQ file and the raw file it becomes."""

    daq: str
    raw: str

    @property
    def label(self) -> str:
        return self.daq


class RunRaw:
    """Build one raw file; a failure is returned, not raised, so the other files go on."""

    def __init__(self, settings: DaqSettings):
        self.settings = settings

    def __call__(self, task: RawTask) -> tuple[int, str | None]:
        from ..configfile import load_plain
        from ..daq import build_raw, guess_stream_type, stream_types

        directory = os.path.dirname(task.raw)
        os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(
            directory, f".{os.path.basename(task.raw)}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        )
        try:
            stream_type = self.settings.stream_type or guess_stream_type(task.daq)
            readers = stream_types()
            if stream_type not in readers:
                raise PipelineConfigError(
                    f"unknown stream type {stream_type!r}; known: {', '.join(sorted(readers))}",
                    key="daq.stream_type",
                )
            out_spec = self.settings.out_spec
            if out_spec is None:
                with readers[stream_type](task.daq) as stream:
                    decoders = list(stream.decoder_keys())
                spec = raw_tier_spec(decoders, temporary)
            else:
                out_spec, _ = load_plain(out_spec, "routing config", PipelineConfigError)
                spec = routed_to(out_spec, temporary)
            summary = build_raw(
                task.daq,
                in_stream_type=stream_type,
                out_spec=spec,
                buffer_size=self.settings.buffer_size,
                overwrite=True,
            )
            os.replace(temporary, task.raw)
        except (TierflowError, OSError) as err:
            if os.path.exists(temporary):
                os.remove(temporary)
            return 0, f"{type(err).__name__}: {err}"
        return summary.rows, None
