"""Compiled kernels of the tcm: a k-way merge of sorted segments and the grouping into events.

Rows are ordered by the coincidence columns (first column first), then table key, then row.

>>> import numpy as np
>>> vals = np.array([[1.0, 4.0, 2.0, 3.0]])
>>> merged, keys, rows = kway_merge(vals, np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.array([0, 2, 4]))
>>> merged.tolist(), keys.tolist()
([[1.0, 2.0, 3.0, 4.0]], [0, 1, 1, 0])
>>> event_starts(merged, np.array([1.0]), np.array([True])).tolist()
[True, False, True, False]
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _before(vals, keys, rows, i, j):  # pragma: no cover - compiled
    for c in range(vals.shape[0]):
        if vals[c, i] < vals[c, j]:
            return True
        if vals[c, i] > vals[c, j]:
            return False
    if keys[i] != keys[j]:
        return keys[i] < keys[j]
    return rows[i] < rows[j]


@numba.njit(cache=True)
def kway_merge(vals, keys, rows, bounds):  # pragma: no cover - compiled
    """Merge the sorted segments ``bounds[s]:bounds[s+1]`` of the concatenated rows.

    Returns the merged ``(vals, keys, rows)``.
    """
    n = bounds[-1]
    k = len(bounds) - 1
    heads = bounds[:-1].copy()
    out_v = np.empty_like(vals)
    out_k = np.empty_like(keys)
    out_r = np.empty_like(rows)
    for o in range(n):
        best = -1
        for s in range(k):
            if heads[s] < bounds[s + 1] and (
                best < 0 or _before(vals, keys, rows, heads[s], heads[best])
            ):
                best = s
        i = heads[best]
        for c in range(vals.shape[0]):
            out_v[c, o] = vals[c, i]
        out_k[o] = keys[i]
        out_r[o] = rows[i]
        heads[best] += 1
    return out_v, out_k, out_r


@numba.njit(cache=True)
def event_starts(vals, windows, first_ref):  # pragma: no cover - compiled
    """True where a row opens a new event: a column beyond its window of the reference row.

    The reference is the previous row (``first_ref`` False, pygama's ``"last"``) or the
    event's first row (``first_ref`` True).
    """
    n = vals.shape[1]
    out = np.zeros(n, np.bool_)
    if n == 0:
        return out
    out[0] = True
    start = 0
    for i in range(1, n):
        for c in range(vals.shape[0]):
            ref = start if first_ref[c] else i - 1
            if vals[c, i] - vals[c, ref] > windows[c]:
                out[i] = True
                break
        if out[i]:
            start = i
    return out
