"""The exceptions tierflow raises.

Every error names what it can of the file, the object path inside it and what was
expected, so that a user never has to read an h5py traceback.

>>> from tierflow.errors import LH5DecodeError
>>> str(LH5DecodeError("no datatype attribute", file="a.lh5", obj="ch1/raw"))
'a.lh5:/ch1/raw: no datatype attribute'
"""

from __future__ import annotations

import os


class TierflowError(Exception):
    """Base class of every error tierflow raises on purpose."""


class LH5Error(TierflowError):
    """An error about an LH5 file or an object in it.

    The message is prefixed with ``file:/object`` where they are known.
    """

    def __init__(
        self, message: str, *, file: str | os.PathLike | None = None, obj: str | None = None
    ):
        self.file = None if file is None else os.fspath(file)
        self.obj = None if obj is None else "/" + str(obj).lstrip("/")
        self.reason = message
        where = ":".join(x for x in (self.file, self.obj) if x)
        super().__init__(f"{where}: {message}" if where else message)

    def __reduce__(self):
        return (_rebuild_lh5_error, (type(self), self.reason, self.file, self.obj))


def _rebuild_lh5_error(cls, reason, file, obj):
    return cls(reason, file=file, obj=obj)


class LH5FileError(LH5Error, OSError):
    """A file that cannot be opened as HDF5: missing, not HDF5, truncated or locked."""


class LH5DecodeError(LH5Error, ValueError):
    """An object whose layout or ``datatype`` does not follow the LH5 conventions."""


class LH5ObjectNotFoundError(LH5Error, KeyError):
    """A path, field or row that does not exist in a file."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return Exception.__str__(self)


class LH5IndexError(LH5Error, IndexError):
    """Rows asked for (``idx``, entry lists) outside what an object holds."""


class LH5WriteError(LH5Error, ValueError):
    """A write that cannot be done; the file is left as it was."""


class ExpressionError(TierflowError, ValueError):
    """An expression that cannot be evaluated on a table (unknown name, bad syntax)."""


class CodecError(TierflowError, ValueError):
    """An unknown waveform codec or data that a codec cannot represent."""


class TaskError(TierflowError):
    """A work item that failed when run by :func:`tierflow.parallel.run_tasks`.

    The message names the task (its ``label``, ``describe()`` or ``str``); ``__cause__`` is the
    original exception, and ``remote_traceback`` the traceback text from the worker when the task
    ran in a pool (``None`` when it ran in this process).

    >>> str(TaskError("task #3 (a.lh5 rows 0-10) failed: ValueError: bad", task="a.lh5 rows 0-10"))
    'task #3 (a.lh5 rows 0-10) failed: ValueError: bad'
    """

    def __init__(
        self,
        message: str,
        *,
        task: str | None = None,
        index: int | None = None,
        remote_traceback: str | None = None,
    ):
        self.task = task
        self.index = index
        self.remote_traceback = remote_traceback
        super().__init__(message)

    def __reduce__(self):
        return (
            _rebuild_task_error,
            (type(self), str(self), self.task, self.index, self.remote_traceback),
        )


def _rebuild_task_error(cls, message, task, index, remote_traceback):
    return cls(message, task=task, index=index, remote_traceback=remote_traceback)


class DSPConfigError(TierflowError, ValueError):
    """A processing chain that cannot be built: names the processor and the config key.

    >>> str(DSPConfigError("unknown name 'baselin'", processor="wf_blsub", key="args[1]"))
    "processor 'wf_blsub' (processors.wf_blsub.args[1]): unknown name 'baselin'"
    >>> str(DSPConfigError("expected a list", key="outputs", file="dsp.json"))
    'dsp.json: outputs: expected a list'
    """

    def __init__(
        self,
        message: str,
        *,
        processor: str | None = None,
        key: str | None = None,
        file: str | os.PathLike | None = None,
    ):
        self.processor = processor
        self.key = key
        self.file = None if file is None else os.fspath(file)
        self.reason = message
        if processor is not None:
            where = f"processors.{processor}" + (f".{key}" if key else "")
            message = f"processor {processor!r} ({where}): {message}"
        elif key is not None:
            message = f"{key}: {message}"
        super().__init__(f"{self.file}: {message}" if self.file else message)

    def __reduce__(self):
        return (_rebuild_dsp_error, (type(self), self.reason, self.processor, self.key, self.file))


def _rebuild_dsp_error(cls, reason, processor, key, file=None):
    return cls(reason, processor=processor, key=key, file=file)


class DSPUnitError(DSPConfigError):
    """A constant or column whose unit cannot be converted to what a processor needs."""


class DSPCycleError(DSPConfigError):
    """Processors that depend on each other in a circle."""


class DSPInputError(DSPConfigError):
    """An input column that is missing or has the wrong shape or type for the chain."""


class SimulationError(TierflowError, ValueError):
    """Simulator settings that cannot make data (bad counts, rates, names or channels)."""


class HitConfigError(TierflowError, ValueError):
    """A hit config, parameter set or column choice that cannot work; names the config key.

    >>> str(HitConfigError("unknown key 'expresion'", key="operations.AoE"))
    "operations.AoE: unknown key 'expresion'"
    >>> str(HitConfigError("not a number", key="operations.e.parameters.a", file="hit.yaml"))
    'hit.yaml: operations.e.parameters.a: not a number'
    """

    def __init__(self, message: str, key: str | None = None, file: str | os.PathLike | None = None):
        self.key = key
        self.file = None if file is None else os.fspath(file)
        self.reason = message
        text = f"{key}: {message}" if key else message
        super().__init__(f"{self.file}: {text}" if self.file else text)

    def __reduce__(self):
        return (type(self), (self.reason, self.key, self.file))


class CalibrationError(TierflowError, ValueError):
    """An energy calibration that cannot be made: says which lines were found and why the others
    were not (``found``: labels of the fitted lines; ``reasons``: line label → why it failed).

    >>> e = CalibrationError("too few lines", found=["583.2 keV"], reasons={"2614.5 keV": "no peak"})
    >>> print(e)
    too few lines
      found: 583.2 keV
      2614.5 keV: no peak
    """

    def __init__(
        self, message: str, *, found: list[str] | None = None, reasons: dict[str, str] | None = None
    ):
        self.reason = message
        self.found = list(found or [])
        self.reasons = dict(reasons or {})
        details = []
        if found is not None:
            details.append(f"  found: {', '.join(self.found) if self.found else 'none'}")
        by_reason: dict[str, list[str]] = {}
        for label, why in self.reasons.items():
            by_reason.setdefault(why, []).append(label)
        details += [f"  {', '.join(labels)}: {why}" for why, labels in by_reason.items()]
        super().__init__("\n".join([message, *details]))

    def __reduce__(self):
        return (_rebuild_calibration_error, (type(self), self.reason, self.found, self.reasons))


def _rebuild_calibration_error(cls, reason, found, reasons):
    return cls(reason, found=found, reasons=reasons)


class UsageError(TierflowError, ValueError):
    """Command-line arguments with a bad value or that cannot go together (``tierflow`` exits 2).

    >>> str(UsageError("-f/--overwrite and -a/--append cannot go together"))
    '-f/--overwrite and -a/--append cannot go together'
    """


class TierflowWarning(UserWarning):
    """Base class of the warnings tierflow gives: the work was done, but not all as asked."""


class UncalibratedChannelWarning(TierflowWarning):
    """Channels written to the hit tier without calibration parameters (``channels``).

    >>> str(UncalibratedChannelWarning(["ch1084804", "ch1084805"], "run.lh5"))
    'run.lh5: no calibration parameters for ch1084804, ch1084805; their energies are uncalibrated (ADC)'
    """

    def __init__(self, channels: list[str], file: str | None = None):
        self.channels = list(channels)
        self.file = file
        text = (
            f"no calibration parameters for {', '.join(self.channels)}; their energies are "
            "uncalibrated (ADC)"
        )
        super().__init__(f"{file}: {text}" if file else text)

    def __reduce__(self):
        return (type(self), (self.channels, self.file))


class DAQError(TierflowError, ValueError):
    """A DAQ file that cannot be decoded: unknown stream type, truncated or corrupt records.

    The message names the file and, where known, the byte offset of the record at fault.

    >>> str(DAQError("length word is zero", file="run.orca", offset=4096))
    'run.orca@4096: length word is zero'
    """

    def __init__(
        self, message: str, *, file: str | os.PathLike | None = None, offset: int | None = None
    ):
        self.file = None if file is None else os.fspath(file)
        self.offset = offset
        self.reason = message
        where = self.file or ""
        if offset is not None:
            where = f"{where}@{offset}"
        super().__init__(f"{where}: {message}" if where else message)

    def __reduce__(self):
        return (_rebuild_daq_error, (type(self), self.reason, self.file, self.offset))


def _rebuild_daq_error(cls, reason, file, offset):
    return cls(reason, file=file, offset=offset)


class DAQTruncatedError(DAQError):
    """A DAQ file that ends inside a record; every complete record before it was decoded."""


class RoutingError(TierflowError, ValueError):
    """An ``out_spec`` (routing config) of ``build_raw`` that names a decoder or key the
    stream does not have, or that is malformed; raised before anything is decoded."""


class EventError(TierflowError, ValueError):
    """Building events failed: a coincidence column missing or NaN, no table matching, bad windows."""
