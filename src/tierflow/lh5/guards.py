"""Guards against damaged files: what they may make a read raise, allocate or nest.

A damaged LH5 file makes h5py, HDF5, numpy or a codec fail in many ways (``OSError``,
``RuntimeError``, ``KeyError``, ``ValueError``, ...). The readers translate these, at a few
choke points (opening a file, finding an object, reading one), into tierflow errors naming
the file and the object with :func:`translated`. Lengths read from a file (rows of a
dataset, ``cumulative_length``, ``decoded_size``) are checked before memory is allocated
for them with :func:`check_memory`, and nesting (of ``datatype`` strings, of groups) stops at
:data:`MAX_NESTING` levels.

>>> with translated("a.lh5", "ch1/raw", "reading"):
...     raise OSError("bad object header")
Traceback (most recent call last):
...
tierflow.errors.LH5DecodeError: a.lh5:/ch1/raw: reading failed: OSError: bad object header
>>> check_memory(10**18, "cumulative_length", file="a.lh5", obj="ch1/raw/tracelist")
Traceback (most recent call last):
...
tierflow.errors.LH5DecodeError: a.lh5:/ch1/raw/tracelist: cumulative_length claims 1000000000.0 GB, ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import LH5DecodeError, LH5Error, TierflowError

#: what h5py, HDF5, numpy, awkward and the codecs raise on a damaged file
FAILURES = (
    AttributeError,  # e.g. a named datatype where a dataset belongs
    OSError,
    RuntimeError,  # RecursionError included
    ValueError,  # UnicodeError included
    TypeError,
    KeyError,
    IndexError,
    ArithmeticError,
    MemoryError,
    SystemError,
)
#: deepest nesting of ``datatype`` strings and of objects inside objects that is read
MAX_NESTING = 32
#: allocations below this many bytes are not checked against the memory free
SMALL_ALLOCATION = 1 << 28


@contextmanager
def translated(
    file: str | None, obj: str | None, doing: str, error: type[LH5Error] = LH5DecodeError
) -> Iterator[None]:
    """Turn a failure of h5py, numpy or a codec inside the block into ``error`` naming
    ``file`` and ``obj``; tierflow's own errors pass as they are."""
    try:
        yield
    except TierflowError:
        raise
    except FAILURES as err:
        raise error(f"{doing} failed: {describe(err)}", file=file, obj=obj) from err


def describe(err: BaseException) -> str:
    """A one-line account of an exception, its type first.

    >>> describe(KeyError("Unable to open object (component not found)"))
    'KeyError: Unable to open object (component not found)'
    """
    if isinstance(err, MemoryError):
        return "not enough memory"
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return f"{type(err).__name__}: {' '.join(text.split())[:300]}"


def memory_available() -> int:
    """Bytes of memory a process can still take (``MemAvailable``; all memory elsewhere)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):  # pragma: no cover - not a POSIX system
        return 1 << 62


def check_memory(
    nbytes: int | float, what: str, file: str | None = None, obj: str | None = None
) -> None:
    """Refuse (:class:`~tierflow.errors.LH5DecodeError`) an allocation of ``nbytes`` that
    the memory free cannot hold: a damaged length, or a read to make in smaller parts."""
    if nbytes < SMALL_ALLOCATION:
        return
    free = memory_available()
    if nbytes > free:
        raise LH5DecodeError(
            f"{what} claims {nbytes / 1e9:.1f} GB, more than the {free / 1e9:.1f} GB of memory "
            "free: a damaged length, or a read to make in parts (fewer rows, an LH5Iterator)",
            file=file,
            obj=obj,
        )
