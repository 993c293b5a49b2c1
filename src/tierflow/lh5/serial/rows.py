"""Row selections: what ``start_row``, ``n_rows`` and ``idx`` ask of an object of known rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import LH5IndexError
from .base import Plan, Rows


def select_rows(start_row: int, n_rows: int, idx: Any, total: int, file: str, name: str) -> Rows:
    """Turn (``start_row``, ``n_rows``, ``idx``) into a slice with both ends or an index array
    (in the order given) over ``total`` rows. ``idx`` is an index array, a boolean mask or an
    (n, 2) array of ranges; ``start_row`` drops indices below it, ``n_rows`` keeps that many.

    >>> select_rows(2, 10, None, 5, "f", "x")
    slice(2, 5, None)
    >>> select_rows(0, 2, [[0, 2], [4, 5]], 5, "f", "x").tolist()
    [0, 1]
    """
    if idx is None:
        start = min(max(int(start_row), 0), total)
        return slice(start, min(total, start + max(int(n_rows), 0)))
    sel = np.asarray(idx)
    if sel.dtype == bool:
        if sel.shape != (total,):
            raise LH5IndexError(
                f"boolean idx of length {len(sel)} for {total} rows", file=file, obj=name
            )
        sel = np.flatnonzero(sel)
    elif sel.ndim == 2 and sel.shape[1] == 2:
        sel = (
            np.concatenate([np.arange(a, b) for a, b in sel]) if len(sel) else np.zeros(0, np.int64)
        )
    if sel.ndim == 0:
        sel = sel.reshape(1)
    if sel.ndim != 1 or (len(sel) and sel.dtype.kind not in "iu"):
        raise LH5IndexError(
            f"idx must be integers of shape (n,) or (n, 2), or a bool mask; got {sel.dtype}{sel.shape}",
            file=file,
            obj=name,
        )
    sel = sel.astype(np.int64, copy=False)
    if len(sel) and (sel.min() < 0 or sel.max() >= total):
        bad = sel[(sel < 0) | (sel >= total)][:5].tolist()
        raise LH5IndexError(f"idx {bad} out of range for {total} rows", file=file, obj=name)
    if start_row:
        sel = sel[sel >= start_row]
    return sel[: max(int(n_rows), 0)] if n_rows < len(sel) else sel


@dataclass(frozen=True)
class RowRequest:
    """Rows asked of an object without rows of its own (a struct): each member resolves them
    against its own length."""

    start_row: int
    n_rows: int
    idx: Any

    def resolve(self, plan: Plan) -> Rows | RowRequest:
        """The rows of ``plan``'s object this asks for (itself for objects without rows)."""
        total = plan.n_rows()
        if total is None:
            return self
        return select_rows(self.start_row, self.n_rows, self.idx, total, plan.file, plan.path)
