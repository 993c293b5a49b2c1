"""Units of a processing chain: times, sampling grids and conversions.

A waveform is sampled on a :class:`Grid`: a period (``dt``) and an offset (the waveform's
``t0``, per row, plus a constant shift for slices such as ``waveform[100:]``). Inside a chain,
times are counted in samples of a grid; constants such as ``"10*us"`` are converted to samples
with the grid's period, and outputs with a time unit are converted back to that unit, adding
the offset for time points (``tp_10``) but not for durations.

Unit names are understood by pint (once per name, cached); arithmetic on times uses
:class:`TimeQuantity`, a plain number of nanoseconds to a power, so that compiling a chain
costs microseconds, not pint's milliseconds.

>>> q = quantity("10*us")
>>> q, to_samples(q, Grid(16.0))
(TimeQuantity(10000 ns), 625.0)
>>> to_samples(unit("GHz") * 6.25, Grid(16.0))
100.0
>>> Grid(16.0).describe()
'16 ns'
"""

from __future__ import annotations

import ast
import functools
import operator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ExpressionError
from ..types.safe_eval import MAX_LENGTH, check_depth


@functools.lru_cache(maxsize=1)
def registry() -> Any:
    """pint's application registry (shared with the rest of the LEGEND stack), made on first
    use: importing pint and building it takes a second that a chain of known units never pays.
    """
    import pint

    return pint.get_application_registry()


def Quantity(value: Any, units: Any = None) -> Any:
    """A pint quantity (made with :func:`registry`)."""
    return registry().Quantity(value, units)


#: :func:`_is_pint` of a type and the kinds asked for (it depends on nothing else)
_PINT_TYPES: dict[tuple[type, tuple[str, ...]], bool] = {}


def _is_pint(value: Any, kinds: tuple[str, ...] = ("Quantity", "Unit")) -> bool:
    cls = type(value)
    key = (cls, kinds)
    found = _PINT_TYPES.get(key)
    if found is None:
        found = cls.__module__.startswith("pint") and any(k in cls.__name__ for k in kinds)
        if len(_PINT_TYPES) >= 1024:
            _PINT_TYPES.clear()
        _PINT_TYPES[key] = found
    return found


def __getattr__(name: str) -> Any:
    if name == "ureg":
        return registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Grid",
    "Quantity",
    "TimeQuantity",
    "UnitMismatchError",
    "is_quantity",
    "is_time_unit",
    "is_unit_name",
    "quantity",
    "registry",
    "snap",
    "time_scale",
    "to_samples",
    "unit",
    "unit_in_ns",
]


class UnitMismatchError(ValueError):
    """Arithmetic that mixes incompatible units (a time plus a number, ns plus ns^2)."""


def snap(value: float) -> float:
    """``value`` without the last-bit error of unit conversions: 1 us / 16 ns is 62.5, not
    62.49999999999999.

    >>> snap(62.49999999999999), snap(0.1)
    (62.5, 0.1)
    """
    snapped = round(value, 9)
    return snapped if abs(snapped - value) <= 1e-12 * max(1.0, abs(value)) else value


@dataclass(frozen=True)
class TimeQuantity:
    """``ns`` nanoseconds to the power ``power`` (1: a time, -1: a frequency).

    ``label`` keeps the unit name it was written with (``unit=ns`` declares a unit).

    >>> t = unit("us") * 3
    >>> t, t / unit("ns"), (t * unit("MHz"))
    (TimeQuantity(3000 ns), 3000.0, 3.0)
    """

    ns: float
    power: int = 1
    label: str | None = field(default=None, compare=False)

    @staticmethod
    def make(ns: float, power: int) -> TimeQuantity | float:
        return snap(float(ns)) if power == 0 else TimeQuantity(float(ns), power)

    def _other(self, other: Any, what: str) -> TimeQuantity:
        if isinstance(other, TimeQuantity):
            return other
        if (
            isinstance(other, int | float)
            and not isinstance(other, bool)
            and (self.power == 0 or other == 0)
        ):
            return TimeQuantity(float(other), self.power)
        raise UnitMismatchError(f"cannot {what} {self} and {other!r}")

    def __add__(self, other: Any) -> TimeQuantity | float:
        o = self._other(other, "add")
        if o.power != self.power:
            raise UnitMismatchError(f"cannot add {self} and {o}")
        return TimeQuantity.make(self.ns + o.ns, self.power)

    __radd__ = __add__

    def __sub__(self, other: Any) -> TimeQuantity | float:
        o = self._other(other, "subtract")
        if o.power != self.power:
            raise UnitMismatchError(f"cannot subtract {o} from {self}")
        return TimeQuantity.make(self.ns - o.ns, self.power)

    def __rsub__(self, other: Any) -> TimeQuantity | float:
        return (-self) + other

    def __neg__(self) -> TimeQuantity:
        return TimeQuantity(-self.ns, self.power)

    def __mul__(self, other: Any) -> Any:
        if isinstance(other, TimeQuantity):
            return TimeQuantity.make(self.ns * other.ns, self.power + other.power)
        if isinstance(other, int | float):
            return TimeQuantity(self.ns * other, self.power)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Any:
        if isinstance(other, TimeQuantity):
            return TimeQuantity.make(self.ns / other.ns, self.power - other.power)
        if isinstance(other, int | float):
            return TimeQuantity(self.ns / other, self.power)
        return NotImplemented

    def __rtruediv__(self, other: Any) -> Any:
        if isinstance(other, int | float):
            return TimeQuantity.make(other / self.ns, -self.power)
        return NotImplemented

    def __pow__(self, exponent: Any) -> Any:
        if isinstance(exponent, int):
            return TimeQuantity.make(self.ns**exponent, self.power * exponent)
        raise UnitMismatchError(f"cannot raise {self} to a non-integer power")

    def _compare(self, other: Any, op: Any) -> bool:
        o = self._other(other, "compare")
        if o.power != self.power:
            raise UnitMismatchError(f"cannot compare {self} and {o}")
        return op(self.ns, o.ns)

    def __lt__(self, other: Any) -> bool:
        return self._compare(other, operator.lt)

    def __le__(self, other: Any) -> bool:
        return self._compare(other, operator.le)

    def __gt__(self, other: Any) -> bool:
        return self._compare(other, operator.gt)

    def __ge__(self, other: Any) -> bool:
        return self._compare(other, operator.ge)

    def to(self, name: str) -> float:
        """The value in unit ``name`` (a time or frequency unit)."""
        other = unit(name)
        if not isinstance(other, TimeQuantity) or other.power != self.power:
            raise UnitMismatchError(f"cannot convert {self} to {name}")
        return snap(self.ns / other.ns)

    def __str__(self) -> str:
        if self.power == 1:
            return f"{self.ns:g} ns"
        return f"{self.ns:g} ns^{self.power}"

    def __repr__(self) -> str:
        return f"TimeQuantity({self})"


def is_quantity(value: Any) -> bool:
    """Whether ``value`` carries a unit (a time or a pint quantity)."""
    return isinstance(value, TimeQuantity) or _is_pint(value)


@functools.lru_cache(maxsize=4096)
def is_unit_name(name: str) -> bool:
    """Whether ``name`` is a unit pint knows (``ns``, ``us``, ``MHz``); ``ADC`` is not.

    >>> is_unit_name("us"), is_unit_name("ADC"), is_unit_name("baseline")
    (True, False, False)
    """
    if name in _TIME_UNITS:
        return True
    try:
        return name in registry()
    except Exception:
        return False


@functools.lru_cache(maxsize=1024)
def unit(name: str) -> Any:
    """One ``name``: a :class:`TimeQuantity` for times and frequencies, else a pint quantity.

    >>> unit("us"), unit("MHz")
    (TimeQuantity(1000 ns), TimeQuantity(0.001 ns^-1))
    """
    if name in _TIME_UNITS:
        ns, power = _TIME_UNITS[name]
        return TimeQuantity(ns, power, name)
    q = Quantity(1.0, name)
    q_power = time_scale(q)
    if q_power is None or q_power == 0:
        return q
    ns = float(q.to(registry().ns ** q_power).magnitude)
    return TimeQuantity(snap(ns), q_power, name)


#: the common time and frequency units, known without pint: name -> (ns ** power, power)
_TIME_UNITS: dict[str, tuple[float, int]] = {
    "ps": (1e-3, 1),
    "ns": (1.0, 1),
    "us": (1e3, 1),
    "µs": (1e3, 1),
    "ms": (1e6, 1),
    "s": (1e9, 1),
    "Hz": (1e-9, -1),
    "kHz": (1e-6, -1),
    "MHz": (1e-3, -1),
    "GHz": (1.0, -1),
}


@functools.lru_cache(maxsize=1024)
def unit_in_ns(name: str | None) -> float | None:
    """How many nanoseconds one ``name`` is, or ``None`` when it is not a time.

    >>> unit_in_ns("us"), unit_in_ns("ns"), unit_in_ns("ADC"), unit_in_ns(None)
    (1000.0, 1.0, None, None)
    """
    if not name:
        return None
    try:
        value = unit(name)
    except Exception:
        return None
    if isinstance(value, TimeQuantity) and value.power == 1:
        return value.ns
    return None


def is_time_unit(name: str | None) -> bool:
    """Whether ``name`` is a unit of time.

    >>> is_time_unit("ns"), is_time_unit("ADC/sample")
    (True, False)
    """
    return unit_in_ns(name) is not None


_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


@functools.lru_cache(maxsize=4096)
def quantity(text: str) -> Any:
    """Parse ``"10*us"``, ``"3.008 us"`` or ``"27460.5"`` into a time (or a number).

    >>> quantity("3.008*us").to("ns"), quantity("27460.5"), quantity("2*ns**2")
    (3008.0, 27460.5, TimeQuantity(2 ns^2))

    Text too long or nested too deeply, and powers above :data:`MAX_POWER`, are a ``ValueError``
    (never a hang: pint alone would compute ``9**9**9``).
    """
    if len(text) > MAX_LENGTH:
        raise ValueError(f"a quantity of {len(text)} characters; at most {MAX_LENGTH}")
    try:
        tree = ast.parse(
            text.strip().replace(" ", "*") if " " in text.strip() else text.strip(), mode="eval"
        )
        check_depth(tree, text)
        return _evaluate(tree.body)
    except (RecursionError, MemoryError, ExpressionError):
        raise ValueError(f"quantity {text[:40]!r} is nested too deeply") from None
    except (SyntaxError, KeyError, TypeError):
        if "^" in text or "**" in text:  # left to pint, a power could be unbounded
            raise ValueError(f"cannot read {text[:40]!r} as a quantity") from None
        value = registry().parse_expression(text)
        if _is_pint(value, ("Quantity",)) and value.dimensionless:
            return float(value.to("").magnitude)
        return value


#: the largest power of a unit :func:`quantity` reads (``ns**2``)
MAX_POWER = 8


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.Name):
        return unit(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exponent = _evaluate(node.right)
        if not isinstance(exponent, int) or abs(exponent) > MAX_POWER:
            raise ValueError(f"a power in a quantity is an integer up to {MAX_POWER}")
        return _evaluate(node.left) ** exponent
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    raise TypeError(ast.dump(node))


def time_scale(value: Any) -> int | None:
    """The power of time in a quantity's dimension (1 for ``us``, -1 for ``MHz``); ``None``
    when it has other dimensions; 0 when it has none.

    >>> time_scale(quantity("2*us")), time_scale(quantity("6.25*GHz")), time_scale(3.0)
    (1, -1, 0)
    """
    if isinstance(value, TimeQuantity):
        return value.power
    if not _is_pint(value):
        return 0
    dims = dict(value.dimensionality)
    if not dims:
        return 0
    if set(dims) != {"[time]"}:
        return None
    power = dims["[time]"]
    return int(power) if float(power).is_integer() else None


@dataclass(frozen=True)
class Grid:
    """The sampling of a waveform: ``period`` in ns, an offset in ns and, optionally, the
    name of a per-row offset column (the waveform's ``t0``, also in ns) added to it.

    >>> g = Grid(16.0, offset=160.0, offset_var="waveform.t0")
    >>> g.sliced(10, 2)
    Grid(period=32.0, offset=320.0, offset_var='waveform.t0')
    """

    period: float
    offset: float = 0.0
    offset_var: str | None = None

    def sliced(self, start: int, step: int = 1) -> Grid:
        """The grid of ``waveform[start::step]``."""
        return Grid(self.period * step, self.offset + start * self.period, self.offset_var)

    def same_frame(self, other: Grid) -> bool:
        """Whether both grids count from the same per-row origin."""
        return self.offset_var == other.offset_var

    def describe(self) -> str:
        text = f"{self.period:g} ns"
        if self.offset:
            text += f" from {self.offset:g} ns"
        if self.offset_var:
            text += f" + {self.offset_var}"
        return text


def to_samples(value: Any, grid: Grid | None) -> float:
    """Convert a constant to a number of samples of ``grid``: times divide by the period,
    frequencies multiply by it; numbers pass unchanged.

    >>> to_samples(quantity("6.25*GHz"), Grid(16.0))
    100.0
    >>> to_samples(7, None)
    7.0
    """
    if _is_pint(value, ("Unit",)):
        value = Quantity(1.0, value)
    power = time_scale(value)
    if power == 0:
        if _is_pint(value):
            return float(value.to("").magnitude)
        return float(value)
    if power is None:
        raise ValueError(f"cannot convert {value:~} to samples: it is not a time")
    if grid is None:
        raise ValueError(f"cannot convert {value} to samples: no waveform gives a sampling period")
    if isinstance(value, TimeQuantity):
        return snap(value.ns / grid.period**power)
    period = Quantity(grid.period, "ns")
    return snap(float((value * period ** (-power)).to("").magnitude))
