"""The header of a LlamaDAQ file: version, run start and the configuration of each open channel.

A LlamaDAQ (SIS3316) ``.bin`` file starts with 16 bytes: the magic ``0x4972414C`` (``"LArI"``),
the version (patch, minor, major as u16), the length of a channel configuration (u16, 88) and
the number of open channels (u32); then one 88-byte configuration per open channel. The run
start is not in the file: legend-daq2lh5 parses it from the file name (``YYYYMMDD-hhmmss``,
naive local time unless a ``Z`` follows; 0 when the name has none), to 1 s.

>>> config = ChannelConfig.from_words(np.array([0, 4, 3, 0, 0, 0x406F4000, 0, 0, 3, 0, 1000,
...     0, 2, 2000, 500, 0, 1263, 13, 2, 9, 11, 11], np.uint32), file="x.bin", offset=16)
>>> config.key, config.dt_raw, config.dt_avg, config.header_words, config.has_avg
(4, 4.0, 32.0, 11, True)
>>> run_start_from_filename("20241218-150158Z-pulser.bin")
1734534118.0
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass

import numpy as np

from ...errors import DAQError, DAQTruncatedError
from ...types import Scalar, Struct

MAGIC = 0x4972414C
FILE_HEADER_BYTES = 16
CONFIG_BYTES = 88

#: the channel configuration fields in the order daq2lh5 writes them (u32 unless noted)
CONFIG_FIELDS = (
    "14_bit_flag",
    "adc_offset",
    "sample_freq",  # f64, MHz
    "gain",  # f64
    "format_bits",
    "sample_start_index",
    "sample_pretrigger",
    "avg_sample_pretrigger",
    "avg_mode",
    "sample_length",
    "avg_sample_length",
    "maw_buffer_length",
    "event_length",
    "event_header_length",
    "accum6_offset",
    "accum2_offset",
    "maw3_offset",
    "energy_offset",
)


@dataclass
class ChannelConfig:
    """The configuration of one open channel (an 88-byte block of the header)."""

    fadc: int
    channel: int
    values: dict[str, np.generic]
    """The fields of :data:`CONFIG_FIELDS` as daq2lh5 stores them."""

    @classmethod
    def from_words(cls, words: np.ndarray, file: str, offset: int) -> ChannelConfig:
        """The configuration in 22 little-endian u32 ``words`` at byte ``offset`` of ``file``."""
        floats = words[4:8].view("<f8")
        values: dict[str, np.generic] = {
            "14_bit_flag": words[2] & np.uint32(1),
            "adc_offset": words[3],
            "sample_freq": floats[0],
            "gain": floats[1],
        }
        for i, name in enumerate(CONFIG_FIELDS[4:]):
            values[name] = words[8 + i]
        config = cls(int(words[0]), int(words[1]), values)
        if not 1e-3 <= float(config.values["sample_freq"]) <= 1e5:
            raise DAQError(
                f"channel {config.key}: sampling frequency {config.values['sample_freq']} MHz "
                "is not a positive frequency of a digitizer (1 kHz to 100 GHz)",
                file=file,
                offset=offset,
            )
        if int(config.values["avg_mode"]) > 31:
            raise DAQError(
                f"channel {config.key}: averaging mode {int(config.values['avg_mode'])} "
                "is not a presum of at most 2**32 samples",
                file=file,
                offset=offset,
            )
        minimum = config.header_words + 1 + config.has_avg
        expected = minimum + (int(config.values["sample_length"]) + config.avg_length) // 2
        if int(config.values["event_length"]) != expected:
            raise DAQError(
                f"channel {config.key}: event length {int(config.values['event_length'])} words "
                f"does not match its format bits and sample lengths ({expected} words)",
                file=file,
                offset=offset,
            )
        return config

    @property
    def key(self) -> int:
        """daq2lh5's key: ``(fadc << 4) + channel``."""
        return (self.fadc << 4) + self.channel

    @property
    def format_bits(self) -> int:
        return int(self.values["format_bits"])

    @property
    def header_words(self) -> int:
        """Words before the length word: 2, +7 (accumulators 1-6), +2 (7-8), +3 (MAW),
        +2 (energy)."""
        bits = self.format_bits
        return (
            2 + 7 * (bits & 1) + 2 * ((bits >> 1) & 1) + 3 * ((bits >> 2) & 1) + 2 * (bits >> 3 & 1)
        )

    @property
    def has_avg(self) -> bool:
        """Whether events carry a presummed (averaged) waveform."""
        return int(self.values["avg_mode"]) > 0 and int(self.values["avg_sample_length"]) > 0

    @property
    def avg_length(self) -> int:
        return int(self.values["avg_sample_length"]) if self.has_avg else 0

    @property
    def dt_raw(self) -> float:
        """Sampling period of the raw (windowed) waveform in ns."""
        return 1 / float(self.values["sample_freq"]) * 1000

    @property
    def dt_avg(self) -> float:
        """Sampling period of the presummed waveform in ns."""
        return self.dt_raw * (1 << (int(self.values["avg_mode"]) + 1))

    @property
    def t0_raw(self) -> float:
        """t0 of the windowed waveform (the trigger at t = 0), ns."""
        v = self.values
        return (float(v["sample_start_index"]) - float(v["sample_pretrigger"])) * self.dt_raw

    @property
    def t0_avg(self) -> float:
        """t0 of the presummed waveform before the per-event shift, ns."""
        v = self.values
        return (
            -float(v["sample_pretrigger"]) * self.dt_raw
            - float(v["avg_sample_pretrigger"]) * self.dt_avg
        )

    @property
    def layout(self) -> tuple[int, int, int, bool]:
        """What makes two channels' rows fit one table."""
        return (self.format_bits, int(self.values["sample_length"]), self.avg_length, self.has_avg)

    def to_struct(self) -> Struct:
        return Struct({name: Scalar(self.values[name]) for name in CONFIG_FIELDS})


def run_start_from_filename(path: str | os.PathLike) -> float:
    """The run start (unix time) in a LlamaDAQ file name ``...YYYYMMDD-hhmmss[Z]...``, naive
    times taken as local time as daq2lh5 does; 0 when the name has none."""
    name = os.path.basename(os.fspath(path))
    match = re.fullmatch(r".*(\d{8})[-T](\d{6})(Z?).*", name)
    if not match:
        return 0.0
    try:
        when = datetime.datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S")
    except ValueError:
        return 0.0
    if match.group(3) == "Z":
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


@dataclass
class LlamaHeader:
    """The file header and the channel configurations, by key in file order."""

    version: tuple[int, int, int]
    """(major, minor, patch)."""
    config_bytes: int
    channels: dict[int, ChannelConfig]
    run_start: float
    size: int
    """Bytes of the header (where the events start)."""

    @classmethod
    def read(cls, path: str, head: bytes) -> LlamaHeader:
        """Parse the header from the file's first bytes ``head`` (at least all of the header,
        or the whole file if shorter)."""
        if len(head) < FILE_HEADER_BYTES:
            raise DAQTruncatedError(
                f"the file ends inside the LlamaDAQ header ({len(head)} of 16 bytes)",
                file=path,
                offset=0,
            )
        words = np.frombuffer(head[:FILE_HEADER_BYTES], "<u4")
        halves = np.frombuffer(head[:FILE_HEADER_BYTES], "<u2")
        if int(words[0]) != MAGIC:
            raise DAQError(
                f"not a LlamaDAQ file: magic 0x{int(words[0]):08X}, expected 0x{MAGIC:08X}",
                file=path,
                offset=0,
            )
        config_bytes, n_open = int(halves[5]), int(words[3])
        if config_bytes != CONFIG_BYTES:
            raise DAQError(
                f"channel configuration length {config_bytes} bytes, expected {CONFIG_BYTES}",
                file=path,
                offset=10,
            )
        size = FILE_HEADER_BYTES + CONFIG_BYTES * n_open
        if len(head) < size:
            raise DAQTruncatedError(
                f"the file ends inside the channel configurations ({n_open} open channels "
                f"need {size} header bytes, the file has {len(head)})",
                file=path,
                offset=FILE_HEADER_BYTES + CONFIG_BYTES * ((len(head) - 16) // CONFIG_BYTES),
            )
        channels: dict[int, ChannelConfig] = {}
        for i in range(n_open):
            at = FILE_HEADER_BYTES + CONFIG_BYTES * i
            config = ChannelConfig.from_words(
                np.frombuffer(head[at : at + CONFIG_BYTES], "<u4"), path, at
            )
            if config.key in channels:
                raise DAQError(
                    f"duplicate channel configuration: FADC {config.fadc}, channel {config.channel}",
                    file=path,
                    offset=at,
                )
            if config.key > 0xFFF:
                raise DAQError(
                    f"channel key {config.key} (FADC {config.fadc}, channel {config.channel}) "
                    "does not fit the 12 bits of an event's channel field",
                    file=path,
                    offset=at,
                )
            channels[config.key] = config
        version = (int(halves[4]), int(halves[3]), int(halves[2]))
        return cls(version, config_bytes, channels, run_start_from_filename(path), size)

    def to_struct(self) -> Struct:
        """The ``LLAMAHeader`` struct daq2lh5 writes."""
        fields: dict[str, Scalar | Struct] = {
            "version_major": Scalar(np.uint16(self.version[0])),
            "version_minor": Scalar(np.uint16(self.version[1])),
            "version_patch": Scalar(np.uint16(self.version[2])),
            "length_econf": Scalar(np.uint16(self.config_bytes)),
            "number_chOpen": Scalar(np.uint32(len(self.channels))),
            "initial_timestamp": Scalar(np.float64(self.run_start)),
            "initial_timestamp_accuracy": Scalar(np.float64(1.0)),
        }
        for key, config in self.channels.items():
            fields[f"fch_{key:02d}"] = config.to_struct()
        return Struct(fields)
