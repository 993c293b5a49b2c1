"""What a compiled chain is made of: variables, steps, outputs and the input schema.

A :class:`Plan` is the result of binding a config to one input schema (column types, waveform
length and ``dt``) and one channel's database values. It holds no data: an
:class:`~tierflow.dsp.executor.Executor` allocates the buffers and runs the steps.

>>> schema = Schema.of_columns({"energy": np.zeros(3)})
>>> schema["energy"]
ColumnInfo(name='energy', kind='array', dtype='<f8', shape=(), unit=None, dt=None, t0_unit=None)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..types import LGDO, Array, ArrayOfEqualSizedArrays, Table, VectorOfVectors
from .units import Grid, unit_in_ns

__all__ = ["ColumnInfo", "Output", "Plan", "Schema", "Step", "Var"]


@dataclass(eq=False)
class Var:
    """A named value of the chain, per row unless ``kind == "const"``.

    ``kind``: ``input`` (filled from a column, ``column`` names it, ``index`` selects inside a
    row, ``scale`` multiplies), ``buffer`` (written by a step), ``view`` (``base[..., index]``,
    no copy) or ``const`` (``value``, the same for every row). ``time`` is ``"point"`` or
    ``"span"`` for times counted in samples of ``grid``; otherwise ``grid`` is the sampling of a
    waveform. ``weak`` (``int`` or ``float``) marks a per-row database value, or a value
    computed from such values alone: it is typed as the Python number it stands for.
    """

    name: str
    shape: tuple[int, ...] | None = None
    dtype: np.dtype | None = None
    unit: str | None = None
    grid: Grid | None = None
    time: str | None = None
    kind: str = "buffer"
    column: str | None = None
    index: tuple = ()
    scale: float = 1.0
    base: Var | None = None
    value: Any = None
    ready: bool = False
    weak: type | None = None

    def sampling(self) -> Grid:
        """``grid``, which a time and a waveform have."""
        assert self.grid is not None, f"{self.describe()} has no grid"
        return self.grid

    def bound_dtype(self) -> np.dtype:
        """``dtype``, which binding sets."""
        assert self.dtype is not None, f"{self.describe()} has no dtype yet"
        return self.dtype

    def bound_shape(self) -> tuple[int, ...]:
        """``shape`` (of one row), which binding sets."""
        assert self.shape is not None, f"{self.describe()} has no shape yet"
        return self.shape

    def describe(self) -> str:
        """``name(shape, dtype)`` for error messages."""
        shape = "?" if self.shape is None else str(self.shape)
        dtype = "?" if self.dtype is None else str(self.dtype)
        return f"{self.name}{shape} {dtype}"

    def __repr__(self) -> str:
        return f"Var({self.describe()}, {self.kind})"


class Step:
    """One call: ``func(*args, **kwargs)``; args are :class:`Var` s or constants, outputs are
    among the args (filled in place). ``text`` describes it (given as a string or made on
    demand by a function).

    >>> Step("y", "y: add(x, 1)", np.add, ()).text
    'y: add(x, 1)'
    """

    __slots__ = ("_text", "args", "func", "kwargs", "label")

    def __init__(
        self,
        label: str,
        text: str | Callable[[], str],
        func: Callable,
        args: tuple,
        kwargs: dict | None = None,
    ):
        self.label = label
        self._text = text
        self.func = func
        self.args = args
        self.kwargs = kwargs or {}

    @property
    def text(self) -> str:
        if callable(self._text):
            self._text = self._text()
        return self._text

    def __repr__(self) -> str:
        return f"Step({self.text})"


@dataclass(eq=False)
class Output:
    """A column of the output table: a variable (converted) or a column passed through.

    ``kind``: ``array`` (one value per row), ``waveform`` (a WaveformTable with ``dt`` and the
    per-row ``t0`` from ``t0_var`` plus ``t0_offset``), ``aoesa`` (an array per row) or
    ``passthrough`` (the input column as it is).
    """

    name: str
    kind: str
    var: Var | None = None
    attrs: dict = field(default_factory=dict)
    t0_var: Var | None = None
    t0_offset: float = 0.0
    dt: float | None = None


@dataclass(frozen=True)
class ColumnInfo:
    """What a chain needs to know of an input column (not its data)."""

    name: str
    kind: str
    dtype: str
    shape: tuple[int, ...] = ()
    unit: str | None = None
    dt: float | None = None
    t0_unit: str | None = None


class Schema(Mapping):
    """The input columns of a table, by name, described without data (lazily, per column).

    >>> from tierflow.types import WaveformTable, Table
    >>> tb = Table({"waveform": WaveformTable(values=np.zeros((2, 8), "uint16"), dt=16,
    ...                                        dt_units="ns", t0_units="ns")})
    >>> Schema.of(tb)["waveform"].dt
    16.0
    """

    def __init__(self, columns: Mapping[str, Any], names: tuple[str, ...], describe: Any = None):
        self._source = columns
        self._columns: dict[str, ColumnInfo] = {}
        self._describe = describe or describe_column
        self.names = names
        self._names = frozenset(names)

    @classmethod
    def of(cls, table: Table) -> Schema:
        """The schema of a tierflow table."""
        return cls(table, tuple(table))

    @classmethod
    def of_columns(cls, columns: Mapping[str, Any]) -> Schema:
        """The schema of numpy columns (1-d: one value per row; 2-d: an array per row)."""
        return cls(columns, tuple(columns), _describe_any)

    def key(self, names: tuple[str, ...]) -> tuple:
        """A hashable description of the columns ``names`` (those a chain reads)."""
        return tuple(self[n] if n in self._names else None for n in names)

    def __getitem__(self, name: str) -> ColumnInfo:
        info = self._columns.get(name)
        if info is None:
            if name not in self._names:
                raise KeyError(name)
            info = self._columns[name] = self._describe(name, self._source[name])
        return info

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def _describe_any(name: str, data: Any) -> ColumnInfo:
    if isinstance(data, LGDO):
        return describe_column(name, data)
    nda = np.asarray(data)
    return ColumnInfo(name, "array", nda.dtype.str, nda.shape[1:])


def describe_column(name: str, obj: Any) -> ColumnInfo:
    """The :class:`ColumnInfo` of one column object."""
    if isinstance(obj, Table) and {"values", "dt"} <= set(obj.keys()):
        values = obj["values"]
        dt_col = obj["dt"]
        dt_unit = dt_col.attrs.get("units")
        t0_unit = obj["t0"].attrs.get("units", dt_unit) if "t0" in obj else None
        factor = unit_in_ns(dt_unit) if dt_unit else 1.0
        dt = float(dt_col.nda[0]) * (factor or 1.0) if len(dt_col.nda) else float("nan")
        unit = values.attrs.get("units")
        if isinstance(values, VectorOfVectors) or not hasattr(values, "nda"):
            return ColumnInfo(
                name, "vov", np.dtype(getattr(values, "dtype", "O")).str, (), unit, dt
            )
        return ColumnInfo(
            name, "waveform", values.nda.dtype.str, values.nda.shape[1:], unit, dt, t0_unit
        )
    if isinstance(obj, Array | ArrayOfEqualSizedArrays):
        return ColumnInfo(
            name, "array", obj.nda.dtype.str, obj.nda.shape[1:], obj.attrs.get("units")
        )
    if isinstance(obj, VectorOfVectors):
        return ColumnInfo(name, "vov", np.dtype(obj.dtype).str, (), obj.attrs.get("units"))
    return ColumnInfo(name, "other", type(obj).__name__)


@dataclass(eq=False)
class Plan:
    """A config bound to an input schema and a channel's database values."""

    key: tuple
    inputs: list[Var]
    steps: list[Step]
    outputs: list[Output]
    columns: tuple[str, ...]
    waveforms: dict[str, float]
    label: str = ""
    #: the database values read per row (:class:`~tierflow.dsp.parameters.Parameter`), whose
    #: columns the caller supplies
    parameters: tuple = ()

    def describe(self) -> str:
        """The steps, one per line.

        >>> Plan((), [], [], [], (), {}).describe()
        ''
        """
        return "\n".join(step.text for step in self.steps)
