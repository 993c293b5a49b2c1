"""The settings XML CoMPASS writes beside a run: boards, sampling, record length, channels.

A CoMPASS ``.BIN`` file says which fields its records hold but not which digitizer wrote it;
that is in the run's ``settings.xml``: per ``<board>`` the model, the ADC bit count, the
sampling period (``<sampleTime>``, ps), the record length (``SRV_PARAM_RECLEN``, ns) and per
``<channel>`` the settings that differ from the board's. :func:`read_settings` reads it into
:class:`CompassBoard` objects; :meth:`CompassBoard.to_struct` gives the ``boards/<i>`` part of
the ``CompassHeader`` struct as legend-daq2lh5 writes it (strings for the XML texts,
``sample_rate`` in samples/ns and ``wf_len`` in samples as floats).

>>> import os
>>> path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "doctest_settings.xml")
>>> _ = open(path, "w").write(EXAMPLE_XML)
>>> [board] = read_settings(path)
>>> board.model, board.sample_rate, board.dt_ns, board.wf_len, sorted(board.channels)
('DT5730', 0.5, 2.0, 1000.0, [0])
>>> os.remove(path)
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np

from ...errors import DAQError
from ...types import Scalar, Struct

#: samples per ns of the digitizers daq2lh5 knows, used when the XML has no ``<sampleTime>``
MODEL_SAMPLE_RATES = {"DT5730": 0.5, "DT5725": 0.25}

EXAMPLE_XML = """<?xml version="1.0"?>
<configuration><board>
  <modelName>DT5730</modelName><adcBitCount>14</adcBitCount><sampleTime>2000</sampleTime>
  <parameters>
    <entry><key>SRV_PARAM_RECLEN</key><value><value>2000.0</value></value></entry>
    <entry><key>SRV_PARAM_CH_THRESHOLD</key><value><value>50.0</value></value></entry>
  </parameters>
  <channel><index>0</index><values>
    <entry><key>SRV_PARAM_CH_ENABLED</key><value>true</value></entry>
    <entry><key>SRV_PARAM_CH_THRESHOLD</key></entry>
  </values></channel>
  <channel><index>1</index><values/></channel>
</board></configuration>
"""


@dataclass
class CompassBoard:
    """One digitizer of a CoMPASS run, as its settings XML describes it."""

    index: int
    """Position of the ``<board>`` in the XML: the board number of the records."""
    model: str
    adc_bits: str
    sample_rate: float
    """Samples per ns."""
    wf_len: float
    """Record length in samples (``SRV_PARAM_RECLEN`` in ns times the sample rate)."""
    channels: dict[int, dict[str, str]] = field(default_factory=dict)
    """Settings of the enabled channels by channel number (the board's value where the
    channel names a setting without one)."""

    @property
    def dt_ns(self) -> float:
        """The sampling period in ns."""
        return 1.0 / self.sample_rate

    def to_struct(self) -> Struct:
        """The ``CompassHeader/boards/<index>`` struct daq2lh5 writes."""
        channels = Struct(
            {
                str(ch): Struct({key: Scalar(text) for key, text in values.items()})
                for ch, values in self.channels.items()
            }
        )
        return Struct(
            {
                "modelName": Scalar(self.model),
                "adcBitCount": Scalar(self.adc_bits),
                "sample_rate": Scalar(np.float64(self.sample_rate)),
                "wf_len": Scalar(np.float64(self.wf_len)),
                "channels": channels,
            }
        )


def read_settings(path: str | os.PathLike) -> list[CompassBoard]:
    """The boards of a CoMPASS settings XML; a :class:`~tierflow.errors.DAQError` naming the
    file and what is wrong if it is missing, not XML, or lacks a board's model or record
    length."""
    path = os.fspath(path)
    try:
        root = ET.parse(path).getroot()
    except OSError as err:
        raise DAQError(
            f"cannot open the CoMPASS settings file: {err.strerror}", file=path
        ) from None
    except ET.ParseError as err:
        line, column = err.position
        raise DAQError(
            f"the CoMPASS settings file is not valid XML (line {line}, column {column})", file=path
        ) from None
    boards = root.findall("board")
    if root.tag != "configuration" or not boards:
        raise DAQError("the CoMPASS settings file has no <configuration><board> element", file=path)
    return [_read_board(path, i, board) for i, board in enumerate(boards)]


def _text(path: str, element: ET.Element, tag: str, where: str) -> str:
    found = element.find(tag)
    if found is None or found.text is None:
        raise DAQError(f"the CoMPASS settings file has no <{tag}> in {where}", file=path)
    return found.text.strip()


def _read_board(path: str, index: int, board: ET.Element) -> CompassBoard:
    where = f"board {index}"
    model = _text(path, board, "modelName", where)
    adc_bits = _text(path, board, "adcBitCount", where)
    sample_time = (board.findtext("sampleTime") or "").strip()
    if sample_time:
        try:
            period_ps = float(sample_time)
        except ValueError:
            period_ps = -1.0
        if not period_ps > 0:
            raise DAQError(
                f"{where} has a <sampleTime> {sample_time!r}, not a period in ps", file=path
            )
        sample_rate = 1000.0 / period_ps
    elif model in MODEL_SAMPLE_RATES:
        sample_rate = MODEL_SAMPLE_RATES[model]
    else:
        raise DAQError(
            f"{where} ({model}) has no <sampleTime> and its model's sample rate is unknown",
            file=path,
        )
    params = {
        entry.findtext("key", "").strip(): entry.findtext("value/value")
        for entry in board.findall("parameters/entry")
    }
    reclen = params.get("SRV_PARAM_RECLEN") or ""
    try:
        wf_len = float(reclen) * sample_rate
    except ValueError:
        raise DAQError(
            f"{where} has no numeric SRV_PARAM_RECLEN (record length) parameter", file=path
        ) from None
    channels: dict[int, dict[str, str]] = {}
    for channel in board.findall("channel"):
        entries = channel.findall("values/entry")
        # daq2lh5 counts a channel with fewer than two entries as disabled
        if len(entries) < 2:
            continue
        number_text = _text(path, channel, "index", where)
        if not number_text.isdigit():
            raise DAQError(
                f"{where} has a channel <index> {number_text!r}, not a number", file=path
            )
        number = int(number_text)
        values = {}
        for entry in entries:
            key = entry.findtext("key", "").strip()
            value = entry.find("value")
            if value is None and key in params:
                text = params[key]
            elif value is not None:
                text = value.text
            else:
                raise DAQError(
                    f"{where} channel {number}: setting {key!r} has no value and no board default",
                    file=path,
                )
            values[key] = (text or "").strip()
        channels[number] = values
    return CompassBoard(index, model, adc_bits, sample_rate, wf_len, channels)
