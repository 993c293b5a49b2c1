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
