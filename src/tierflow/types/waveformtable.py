"""WaveformTable: a table of ``t0``, ``dt`` and ``values``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .array import Array, ArrayOfEqualSizedArrays
from .base import LGDO
from .encoded import ArrayOfEncodedEqualSizedArrays
from .table import Table
from .vectorofvectors import VectorOfVectors


def _per_row(value: Any, size: int, units: str | None) -> Array:
    if isinstance(value, Array):
        arr = value
    else:
        nda = np.asarray(value)
        arr = (
            # one value for all rows: float32, as LEGEND's DAQ decoders store t0 and dt
            Array(np.full(size, nda, dtype=np.float32)) if nda.ndim == 0 else Array(nda)
        )
    if units is not None:
        arr.attrs["units"] = units
    return arr


class WaveformTable(Table):
    """Waveforms with their start time ``t0`` and sampling period ``dt`` per row.

    ``values`` is an :class:`ArrayOfEqualSizedArrays` (one length), a
    :class:`VectorOfVectors` (lengths vary) or an encoded form of either.

    >>> wf = WaveformTable(values=np.zeros((3, 8), "uint16"), dt=16, dt_units="ns")
    >>> wf.wf_len, wf.dt.nda.tolist(), wf.dt.attrs["units"]
    (8, [16.0, 16.0, 16.0], 'ns')
    """

    def __init__(
        self,
        size: int | None = None,
        t0: Any = 0,
        t0_units: str | None = None,
        dt: Any = 1,
        dt_units: str | None = None,
        values: Any = None,
        values_units: str | None = None,
        wf_len: int | None = None,
        dtype: Any = None,
        attrs: Mapping[str, Any] | None = None,
    ):
        if values is None:
            n = 1024 if size is None else size
            values = ArrayOfEqualSizedArrays(nda=np.zeros((n, wf_len or 100), dtype or np.float64))
        elif not isinstance(values, LGDO):
            nda = np.asarray(values, dtype=dtype) if not isinstance(values, list) else None
            values = (
                ArrayOfEqualSizedArrays(nda=nda)
                if nda is not None and nda.ndim == 2
                else VectorOfVectors(values)
            )
        n = len(values) if size is None else size
        if len(values) != n:
            msg = f"values have {len(values)} rows, not size={n}"
            raise ValueError(msg)
        if values_units is not None:
            values.attrs["units"] = values_units
        columns = {
            "t0": _per_row(t0, n, t0_units),
            "dt": _per_row(dt, n, dt_units),
            "values": values,
        }
        super().__init__(columns, attrs=attrs)

    @property
    def values(self) -> LGDO:  # type: ignore[override]
        """The waveform samples."""
        return self["values"]

    @property
    def t0(self) -> Array:
        return self["t0"]

    @property
    def dt(self) -> Array:
        return self["dt"]

    @property
    def wf_len(self) -> int | None:
        """Samples per waveform, or None when lengths vary."""
        v = self.values
        if isinstance(v, ArrayOfEqualSizedArrays):
            return v.nda.shape[1]
        if isinstance(v, ArrayOfEncodedEqualSizedArrays):
            return int(v.decoded_size.value)
        return None
