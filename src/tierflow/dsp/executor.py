"""Running a plan on rows: buffers allocated once, blocks of rows, failed rows made NaN.

An :class:`Executor` owns one buffer per variable, ``block_width`` rows deep, and the argument
tuples of every step pointing into them, built once. :meth:`Executor.run` copies a block of
input rows into the buffers, calls the steps in order and copies the outputs out, so memory is
proportional to the block, not to the table. A step that raises on a block is retried row by
row; rows that still fail get NaN outputs and are counted, the run goes on (a ``TypeError``,
which wrong arguments give whatever the data, is raised as a config error instead).

>>> import numpy as np
>>> from tierflow.dsp.config import load_config
>>> from tierflow.dsp.compiler import bind
>>> from tierflow.dsp.plan import Schema
>>> plan = bind(load_config({"outputs": ["y"], "processors": {"y": "x * 2"}}),
...             Schema.of_columns({"x": np.zeros(1)}))
>>> ex = Executor(plan, block_width=4)
>>> out = ex.allocate(6)
>>> ex.run({"x": np.arange(6.0)}, 6, out).failed
0
>>> out["y"].tolist()
[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DSPConfigError
from .plan import Output, Plan, Step, Var

__all__ = ["Executor", "RunReport"]

log = logging.getLogger(__name__)

#: byte alignment of buffers (cache lines, SIMD)
_ALIGN = 64


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised array whose data starts on a 64-byte boundary.

    >>> aligned_empty((3, 5), np.dtype("float32")).ctypes.data % 64
    0
    """
    return aligned_arrays([(shape, np.dtype(dtype))])[0]


def _rows_layout(var: Var, n_rows: int) -> tuple[tuple[int, ...], np.dtype]:
    """The (shape, dtype) of ``n_rows`` rows of a variable the compiler bound."""
    assert var.shape is not None and var.dtype is not None  # binding sets both
    return (n_rows, *var.shape), var.dtype


def _column_of(var: Var) -> str:
    """The column an input variable is filled from."""
    assert var.column is not None  # the compiler names the column of every input
    return var.column


def aligned_arrays(layouts: list[tuple[tuple[int, ...], np.dtype]]) -> list[np.ndarray]:
    """Uninitialised arrays of these (shape, dtype), carved out of one allocation, each
    starting on a 64-byte boundary.

    >>> a, b = aligned_arrays([((3,), np.dtype("int8")), ((2, 2), np.dtype("float64"))])
    >>> b.ctypes.data % 64, b.ctypes.data - a.ctypes.data, b.shape
    (0, 64, (2, 2))
    """
    starts = []
    total = 0
    for shape, dtype in layouts:
        starts.append(total)
        total += -(-math.prod(shape) * dtype.itemsize // _ALIGN) * _ALIGN
    raw = np.empty(total + _ALIGN, np.uint8)
    base = (-raw.ctypes.data) % _ALIGN
    return [
        np.ndarray(shape, dtype, buffer=raw, offset=base + start)
        for (shape, dtype), start in zip(layouts, starts, strict=True)
    ]


@dataclass
class RunReport:
    """What a run did: rows processed, rows whose processing failed (NaN outputs), the first
    error met."""

    rows: int = 0
    failed: int = 0
    failed_rows: list[int] = field(default_factory=list)
    first_error: str | None = None

    def merge(self, other: RunReport, offset: int = 0) -> None:
        """Add ``other`` (whose rows start at ``offset``) to this report."""
        self.rows += other.rows
        self.failed += other.failed
        self.failed_rows.extend(r + offset for r in other.failed_rows)
        if self.first_error is None:
            self.first_error = other.first_error


class Executor:
    """A :class:`~tierflow.dsp.plan.Plan` with its buffers, ready to run blocks of rows."""

    def __init__(self, plan: Plan, block_width: int = 16):
        if block_width < 1:
            raise ValueError(f"block_width must be >= 1, not {block_width}")
        self.plan = plan
        self.width = block_width
        buffered = self._buffered_vars()
        arrays = aligned_arrays([_rows_layout(var, block_width) for var in buffered])
        self.buffers: dict[int, np.ndarray] = {
            id(var): array for var, array in zip(buffered, arrays, strict=True)
        }
        self.fills = [
            (_column_of(var), var.index, self.buffers[id(var)], var.scale) for var in plan.inputs
        ]
        self._args: dict[tuple[int, int], list[tuple[Any, tuple, dict]]] = {}
        self.full_calls = self.calls(0, block_width)
        self.copies = [
            (out.name, self.array(out.var, 0, block_width), out.var.kind == "const")
            for out in plan.outputs
            if out.var is not None
        ]
        self.t0_copies = [
            (out.name, self.array(out.t0_var, 0, block_width), out.t0_offset)
            for out in plan.outputs
            if out.kind == "waveform" and out.t0_var is not None
        ]

    def _buffered_vars(self) -> list[Var]:
        """The variables that need a buffer (inputs and steps' outputs), each once, in the order
        the plan's inputs, steps and outputs first name them (directly or as a view's base)."""
        seen: dict[int, Var | None] = {}  # every variable met, None for those without buffer
        plan = self.plan
        values: list[Any] = list(plan.inputs)
        for step in plan.steps:
            values += step.args
            if step.kwargs:
                values += step.kwargs.values()
        for out in plan.outputs:
            values.append(out.var)
            values.append(out.t0_var)
        for value in values:
            while isinstance(value, Var) and id(value) not in seen:  # (its bases were met too)
                seen[id(value)] = value if value.kind in ("input", "buffer") else None
                value = value.base
        return [var for var in seen.values() if var is not None]

    # --- arguments ------------------------------------------------------------------------------
    def array(self, value: Any, lo: int, hi: int, seen: dict | None = None) -> Any:
        """The array a variable stands for, rows ``lo:hi`` of the block (constants as they are);
        ``seen`` remembers the arrays of variables met already (by id)."""
        if not isinstance(value, Var):
            return value
        if value.kind == "const":
            return value.value
        if seen is not None and id(value) in seen:
            return seen[id(value)]
        if value.kind == "view":
            base = self.array(value.base, lo, hi, seen)
            rows_and_index = (slice(None), *value.index)
            found = base[rows_and_index]
        else:
            found = self.buffers[id(value)][lo:hi]
        if seen is not None:
            seen[id(value)] = found
        return found

    def calls(self, lo: int, hi: int) -> list[tuple[Any, tuple, dict]]:
        """The ``(func, args, kwargs)`` of every step for rows ``lo:hi`` of the block."""
        key = (lo, hi)
        found = self._args.get(key)
        if found is None:
            # every buffer's rows first (whole buffers for a whole block): most arguments
            if lo == 0 and hi == self.width:
                seen: dict[int, Any] = dict(self.buffers)
            else:
                seen = {var_id: buffer[lo:hi] for var_id, buffer in self.buffers.items()}
            get, array = seen.get, self.array
            found = []
            for step in self.plan.steps:
                args = []
                for a in step.args:
                    value = get(id(a))
                    args.append(array(a, lo, hi, seen) if value is None else value)
                kwargs = {}
                for k, a in step.kwargs.items():
                    value = get(id(a))
                    kwargs[k] = array(a, lo, hi, seen) if value is None else value
                found.append((step.func, tuple(args), kwargs))
            if lo == 0:  # whole blocks and the last, shorter one are reused
                self._args[key] = found
        return found

    # --- output ---------------------------------------------------------------------------------
    def allocate(self, n_rows: int) -> dict[str, np.ndarray]:
        """Output arrays for ``n_rows`` rows (``name.t0`` too for waveform outputs)."""
        out: dict[str, np.ndarray] = {}
        for o in self.plan.outputs:
            if o.var is None:
                continue
            out[o.name] = np.empty(*_rows_layout(o.var, n_rows))
            if o.kind == "waveform":
                out[f"{o.name}.t0"] = np.full(n_rows, o.t0_offset, np.float64)
        return out

    # --- running --------------------------------------------------------------------------------
    def run(
        self, columns: Mapping[str, np.ndarray], n_rows: int, out: Mapping[str, np.ndarray]
    ) -> RunReport:
        """Process rows ``0:n_rows`` of ``columns`` (column path -> array) into ``out``.

        Floating-point warnings (NaN compared, division by zero) are silenced: NaN in gives NaN
        out, by design.
        """
        with np.errstate(all="ignore"):
            return self._run(columns, n_rows, out)

    def _run(
        self, columns: Mapping[str, np.ndarray], n_rows: int, out: Mapping[str, np.ndarray]
    ) -> RunReport:
        report = RunReport(rows=n_rows)
        sources = [(columns[c], index, buf, scale) for c, index, buf, scale in self.fills]
        for name, value, is_const in self.copies:
            if is_const:
                out[name][:] = value
        width = self.width
        for lo in range(0, n_rows, width):
            hi = min(lo + width, n_rows)
            n = hi - lo
            for src, index, buf, scale in sources:
                block = src[lo:hi]
                if index:
                    rows_and_index = (slice(None), *index)
                    block = block[rows_and_index]
                if scale != 1.0:
                    np.multiply(block, scale, out=buf[:n], casting="unsafe")
                else:
                    np.copyto(buf[:n], block, casting="unsafe")
            calls = self.full_calls if n == width else self.calls(0, n)
            try:
                for func, args, kwargs in calls:
                    func(*args, **kwargs)
            except Exception as err:
                self._rows_one_by_one(lo, n, report, err)
            for name, value, is_const in self.copies:
                if not is_const:
                    out[name][lo:hi] = value[:n]
            for name, value, offset in self.t0_copies:
                np.add(value[:n], offset, out=out[f"{name}.t0"][lo:hi])
            if report.failed_rows and report.failed_rows[-1] >= lo:
                self._blank(out, [r for r in report.failed_rows if r >= lo], lo)
        return report

    def _rows_one_by_one(self, lo: int, n: int, report: RunReport, err: Exception) -> None:
        steps: list[Step] = self.plan.steps
        for row in range(n):
            for i, (func, args, kwargs) in enumerate(self.calls(row, row + 1)):
                try:
                    func(*args, **kwargs)
                except TypeError as type_err:  # wrong arguments: the config, not the data
                    raise DSPConfigError(
                        f"{steps[i].text} failed: {type_err}", processor=steps[i].label, key="args"
                    ) from type_err
                except Exception as row_err:
                    report.failed += 1
                    report.failed_rows.append(lo + row)
                    if report.first_error is None:
                        report.first_error = (
                            f"row {lo + row}: processor {steps[i].label!r} "
                            f"({steps[i].text}): {type(row_err).__name__}: {row_err}"
                        )
                        log.warning("processing failed on %s", report.first_error)
                    break
        if report.first_error is None:  # the block failed but no single row does
            report.first_error = f"rows {lo}-{lo + n}: {type(err).__name__}: {err}"

    def _blank(self, out: Mapping[str, np.ndarray], rows: list[int], lo: int) -> None:
        for o in self.plan.outputs:
            if o.var is None:
                continue
            arr = out[o.name]
            arr[rows] = _missing(arr.dtype)


def _missing(dtype: np.dtype) -> Any:
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind in "iu":
        return np.iinfo(dtype).max
    return 0


def output_kinds(plan: Plan) -> dict[str, Output]:
    """The outputs of a plan by name."""
    return {o.name: o for o in plan.outputs}
