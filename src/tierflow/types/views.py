"""Views of columns in awkward and pandas: byte strings, and jagged or multi-dimensional rows.

LH5 stores text as fixed-length byte strings (numpy ``S``). The views follow LEGEND's
reader where it has a rule and say what they do where it has none:

- awkward: byte strings are awkward ``bytes`` (``bytestring``), as LEGEND's ``view_as("ak")``
  gives them; compare with ``b"..."``. No copy: the string ends before its trailing NUL padding.
- pandas: a column that is not one number per row (vectors, waveforms) is an awkward-pandas
  column (dtype ``awkward``), as LEGEND's ``view_as("pd")`` gives it, not a column of Python
  objects; text is decoded from UTF-8 to ``str`` (a flat text column has pandas' ``string``
  dtype, a jagged one awkward ``string`` lists). Bytes that are not UTF-8 stay bytes.
- numpy: byte strings stay numpy ``S`` arrays.

>>> import numpy as np
>>> names = np.array([b"V02160A", b"forced"], dtype="S7")
>>> byte_strings(names).tolist(), str(byte_strings(names).type)
([b'V02160A', b'forced'], '2 * bytes')
>>> pandas_column(ak.Array([[b"V02160A"], []])).tolist()
[['V02160A'], []]
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import awkward_pandas as akpd
import numpy as np
import pandas as pd


def byte_strings(nda: np.ndarray) -> ak.Array:
    """A numpy ``S`` array as awkward ``bytes`` (no copy; trailing NUL padding is not text)."""
    return ak.from_numpy(nda, regulararray=True)


def byte_string_layout(nda: np.ndarray) -> ak.contents.Content:
    """The awkward layout of a 1-d numpy ``S`` array (for building list layouts around it)."""
    return byte_strings(nda).layout


def is_text(layout: ak.contents.Content) -> bool:
    """True for an awkward layout of strings or byte strings (lists of characters or bytes)."""
    return layout.parameter("__array__") in ("string", "bytestring")


def text_to_numpy(layout: ak.contents.Content, itemsize: int = 0) -> np.ndarray:
    """Strings or byte strings as a numpy ``S`` array (UTF-8), at least ``itemsize`` wide.

    >>> text_to_numpy(ak.to_layout(ak.Array(["ab", "é"])), itemsize=4)
    array([b'ab', b'\\xc3\\xa9'], dtype='|S4')
    """
    nda = ak.to_numpy(ak.Array(layout))
    if nda.dtype.kind == "U":
        nda = np.char.encode(nda, "utf-8")
    width = max(nda.dtype.itemsize, int(itemsize), 1)
    return nda.astype(f"S{width}", copy=False)


def _decoded(layout: ak.contents.Content, **_: Any) -> ak.contents.Content | None:
    if layout.parameter("__array__") != "bytestring":
        return None
    chars = layout.content.copy(parameters={"__array__": "char"})
    return layout.copy(content=chars, parameters={"__array__": "string"})


def _valid_utf8(layout: ak.contents.Content, **_: Any) -> ak.contents.Content | None:
    if layout.parameter("__array__") == "bytestring":
        np.asarray(layout.content.data).tobytes().decode("utf-8")  # UnicodeDecodeError if not
        return layout
    return None


def as_text(array: ak.Array) -> ak.Array:
    """Byte strings anywhere in ``array`` relabelled as UTF-8 strings (no copy), if they are
    UTF-8; otherwise ``array`` as it is."""
    try:
        ak.transform(_valid_utf8, array)
    except UnicodeDecodeError:
        return array
    return ak.transform(_decoded, array)


def pandas_column(array: ak.Array) -> pd.Series:
    """An awkward array of rows (jagged or regular) as an awkward-pandas column, text decoded."""
    return akpd.from_awkward(as_text(array))


def pandas_text(nda: np.ndarray) -> pd.Series:
    r"""A 1-d numpy ``S`` array as a pandas ``string`` column (UTF-8 decoded; bytes if not UTF-8).

    >>> pandas_text(np.array([b"forced", b"\xff"])).tolist()
    [b'forced', b'\xff']
    """
    try:
        return pd.Series(np.char.decode(nda, "utf-8"), dtype="string")
    except UnicodeDecodeError:
        return pd.Series(nda, copy=False)


def awkward_of_series(series: pd.Series) -> ak.Array | None:
    """The awkward array behind an awkward-pandas column, or None for any other column."""
    if isinstance(series.dtype, akpd.AwkwardDtype):
        return series.ak.array
    return None
