"""Fast, bit-exact replacement for ``hist.Hist.fill`` on regular axes.

:func:`fill` adds entries to a :class:`hist.Hist` (or :class:`boost_histogram.Histogram`)
in place and leaves it exactly as ``h.fill(*arrays, weight=weight)`` would, bit for bit.
boost-histogram's fill costs 4-8 ns per value (float32 input is first copied to
float64); the numba kernels here take about 2 ns per value for a 1-d histogram.

The fast path needs every axis to be a plain :class:`hist.axis.Regular` (no transform,
not circular, not growing; with or without underflow/overflow bins), at most
:data:`MAX_AXES` axes, a ``Double``, ``Int64`` (unweighted) or ``Weight`` storage, and
1-d numeric NumPy arrays of equal length, at least :data:`MIN_ENTRIES` of them.
Everything else is passed to ``h.fill`` unchanged, so the behaviour (including the
errors raised) is always the one of boost-histogram.

Exactness. The bin of a value is computed with boost's own formula for a regular axis
(``boost/histogram/axis/regular.hpp``, ``regular::index``) in double precision (integer
and float32 values are converted to double first, as boost does), using the axis' stored
``min`` and ``delta`` (``delta = stop - start`` as rounded by boost)::

    z = (x - min) / delta
    index = int(z * size) if 0 <= z < 1 else -1 if z < 0 else size   # NaN -> size
    # without overflow bin (Boost >= 1.81): z == 1 -> size - 1 (upper edge inclusive)

``min``, ``delta`` and that upper-edge rule are checked on every call against the
axis' own ``index`` on its outer edges and one ulp either side of them. An entry whose
index falls in a missing flow bin (``underflow=False`` / ``overflow=False``) is dropped
on all axes, as boost does. Weighted sums are accumulated in input order straight into
the histogram's memory (floating-point sums depend on the order). Unweighted counts are
accumulated as integers and added once, which is exact as long as the bins hold integers
of magnitude below ``2**53 - n`` (checked; otherwise the entries are added one by one).

The kernels release the GIL, so a fill can run in a background thread; the wrapper keeps
no global mutable state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import boost_histogram as bh
import numpy as np
from numba import njit

__all__ = ["MAX_AXES", "MIN_ENTRIES", "Filler", "fill"]

MAX_AXES = 4
"""Largest number of axes handled by the fast path."""
MIN_ENTRIES = 16384
"""Fewer entries go to ``h.fill``: the fast path's set-up (~50 µs) would not pay off."""

_BLOCK = 2048  # values whose bin indices are computed in one vectorised pass
_NEG = -(1 << 60)  # contribution of a dropped entry; a sum of up to 4 stays negative
_OVER = -(1 << 61)  # ``ip[k, 5]`` value: ``z == 1`` goes where ``z > 1`` goes
_COPIES = 4  # interleaved count arrays of the counting kernel
_MAX_COPY_BINS = 1 << 14  # largest histogram (bins + flow) given interleaved copies
_EXACT_LIMIT = float(2**53)

_STORAGES = (bh.storage.Double, bh.storage.Int64, bh.storage.Weight)  # of the fast path
_REGULAR_CORE = frozenset({"regular_uoflow", "regular_uflow", "regular_oflow", "regular_none"})
_FILL_METHODS: tuple[Any, ...] = (bh.Histogram.fill,)
try:  # hist's fill only maps axis names to positions before calling boost-histogram's
    import hist as _hist_module

    _FILL_METHODS = (*_FILL_METHODS, _hist_module.BaseHist.fill)
except ImportError:  # pragma: no cover - hist is a dependency
    pass


# --------------------------------------------------------------------------- kernels


@njit(nogil=True, cache=True, error_model="numpy")
def _axis_pass(x, start, stop, fp, ip, k, buf, first, c_under, c_over):  # pragma: no cover
    """Write (``first``) or add axis ``k``'s contribution for ``x[start:stop]`` to ``buf``.

    The contribution is ``(bin + offset) * stride`` (``offset`` is 1 with an underflow
    bin), ``c_under``/``c_over`` for an underflow/overflow entry. ``fp[k]`` is
    ``(min, delta, size)``, ``ip[k]`` is ``(size, offset, stride, ., ., c_one)``, where
    ``c_one`` is the contribution for ``z == 1`` (the upper edge; the last bin on an axis
    without overflow bin, where boost's upper edge is inclusive).
    """
    mn = fp[k, 0]
    dl = fp[k, 1]
    fsize = fp[k, 2]
    isize = ip[k, 0]
    off = ip[k, 1]
    stride = ip[k, 2]
    c_one = ip[k, 5] if ip[k, 5] != _OVER else c_over
    xs = x[start:stop]
    m = xs.shape[0]
    if first:
        for i in range(m):
            buf[i] = _contribution(xs[i], mn, dl, fsize, isize, off, stride, c_under, c_over, c_one)
    else:
        for i in range(m):
            buf[i] += _contribution(
                xs[i], mn, dl, fsize, isize, off, stride, c_under, c_over, c_one
            )


@njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _contribution(x, mn, dl, fsize, isize, off, stride, c_under, c_over, c_one):  # pragma: no cover
    """One value's contribution to its entry's flat index on one axis (see :func:`_axis_pass`):
    boost's ``regular::index`` in double precision."""
    z = (np.float64(x) - mn) / dl
    c = c_over  # z > 1, +inf and NaN
    if z < 1.0:
        if z >= 0.0:
            j = np.int64(z * fsize)
            if j < isize:
                c = (j + off) * stride
        else:
            c = c_under
    elif z == 1.0:
        c = c_one
    return c


@njit(nogil=True, cache=True, error_model="numpy")
def _block_index(x0, x1, x2, x3, naxes, fp, ip, start, stop, buf, trash):  # pragma: no cover
    """Flat memory index of entries ``start:stop`` into ``buf``.

    ``ip[k, 3]``, ``ip[k, 4]`` are the contributions of an underflow/overflow entry on
    axis ``k``: ``_NEG`` where the axis has no such bin, so that the index of an entry
    dropped on any axis is negative. Dropped entries get ``trash`` instead if
    ``trash >= 0``.
    """
    # k and first are passed as variables, not constants: numba would compile one
    # version of _axis_pass per constant value
    k = naxes - naxes
    first = naxes > 0
    if naxes == 1 and trash >= 0:
        c_under = ip[0, 3] if ip[0, 3] >= 0 else trash
        c_over = ip[0, 4] if ip[0, 4] >= 0 else trash
        _axis_pass(x0, start, stop, fp, ip, k, buf, first, c_under, c_over)
        return
    _axis_pass(x0, start, stop, fp, ip, k, buf, first, ip[0, 3], ip[0, 4])
    first = not first
    if naxes > 1:
        k += 1
        _axis_pass(x1, start, stop, fp, ip, k, buf, first, ip[k, 3], ip[k, 4])
    if naxes > 2:
        k += 1
        _axis_pass(x2, start, stop, fp, ip, k, buf, first, ip[k, 3], ip[k, 4])
    if naxes > 3:
        k += 1
        _axis_pass(x3, start, stop, fp, ip, k, buf, first, ip[k, 3], ip[k, 4])
    if trash >= 0:
        utrash = np.uint64(trash)
        for i in range(stop - start):
            buf[i] = min(np.uint64(buf[i]), utrash)  # negative -> huge -> trash


@njit(nogil=True, cache=True, error_model="numpy")
def _count_kernel(x0, x1, x2, x3, naxes, fp, ip, copies, out):  # pragma: no cover
    """Add the number of entries per bin to the int64 array ``out`` (flat memory order).

    With ``copies > 1`` the counts go to 4 scratch arrays (entry ``i`` to array ``i % 4``,
    dropped entries to a trash bin) summed at the end, which keeps successive increments
    of one bin from waiting on each other.
    """
    n = x0.shape[0]
    nb = out.shape[0]
    buf = np.empty(_BLOCK, np.int64)
    size = nb + 1 if copies > 1 else 0
    t0 = np.zeros(size, np.int64)
    t1 = np.zeros(size, np.int64)
    t2 = np.zeros(size, np.int64)
    t3 = np.zeros(size, np.int64)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        _block_index(x0, x1, x2, x3, naxes, fp, ip, start, stop, buf, nb if copies > 1 else -1)
        m = stop - start
        if copies == 1:
            for i in range(m):
                b = buf[i]
                if b >= 0:
                    out[np.uint64(b)] += 1
            continue
        m4 = m - m % 4
        for i in range(0, m4, 4):
            t0[np.uint64(buf[i])] += 1
            t1[np.uint64(buf[i + 1])] += 1
            t2[np.uint64(buf[i + 2])] += 1
            t3[np.uint64(buf[i + 3])] += 1
        for i in range(m4, m):
            t0[np.uint64(buf[i])] += 1
    if copies == 1:
        return
    for j in range(nb):
        out[j] += t0[j] + t1[j] + t2[j] + t3[j]


@njit(nogil=True, cache=True, error_model="numpy")
def _sum_kernel(x0, x1, x2, x3, naxes, fp, ip, w, weighted, width, out):  # pragma: no cover
    """Add entries one by one, in order, to the float64 histogram memory ``out``.

    ``width == 1`` (Double storage): ``out[b] += w``. ``width == 2`` (Weight storage,
    fields ``value``, ``variance``): ``out[2b] += w; out[2b + 1] += w * w``. Without
    weights ``w`` is 1.
    """
    n = x0.shape[0]
    buf = np.empty(_BLOCK, np.int64)
    no_trash = n - n - 1  # -1, as a variable (see _block_index)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        _block_index(x0, x1, x2, x3, naxes, fp, ip, start, stop, buf, no_trash)
        m = stop - start
        if width == 1:
            if weighted:
                for i in range(m):
                    b = buf[i]
                    if b >= 0:
                        out[np.uint64(b)] += w[start + i]
            else:
                for i in range(m):
                    b = buf[i]
                    if b >= 0:
                        out[np.uint64(b)] += 1.0
        elif weighted:
            for i in range(m):
                b = buf[i]
                if b >= 0:
                    wi = w[start + i]
                    out[np.uint64(2 * b)] += wi
                    out[np.uint64(2 * b + 1)] += wi * wi
        else:
            for i in range(m):
                b = buf[i]
                if b >= 0:
                    out[np.uint64(2 * b)] += 1.0
                    out[np.uint64(2 * b + 1)] += 1.0


@njit(nogil=True, cache=True, error_model="numpy")
def _integral(values, n):  # pragma: no cover - numba
    """Whether adding up to ``n`` ones to each value one by one is exact in any order:
    all values are integers of magnitude at most ``2**53 - n``."""
    limit = _EXACT_LIMIT - n
    for i in range(values.shape[0]):
        v = values[i]
        if not (abs(v) <= limit and np.trunc(v) == v):  # NaN fails too
            return False
    return True


@njit(nogil=True, cache=True, error_model="numpy")
def _add_counts(counts, width, out):  # pragma: no cover - numba
    """Add integer ``counts`` to the float64 histogram memory ``out`` (Double storage:
    ``width == 1``; Weight storage: ``width == 2``, to value and variance). Bins without
    entries are not touched, so they keep their bits (e.g. ``-0.0``)."""
    for j in range(counts.shape[0]):
        c = counts[j]
        if c != 0:
            out[width * j] += c
            if width == 2:
                out[2 * j + 1] += c


@njit(nogil=True, cache=True, error_model="numpy")
def _count_floats(x0, x1, x2, x3, naxes, fp, ip, copies, no_w, width, out):  # pragma: no cover
    """Unweighted fill of float64 histogram memory, in one call (one release of the GIL):
    counted as integers and added once where that is exact (see :func:`_integral`), else
    entry by entry."""
    n = x0.shape[0]
    nb = out.shape[0] // width
    if n >= nb and _integral(out, n):
        counts = np.zeros(nb, np.int64)
        _count_kernel(x0, x1, x2, x3, naxes, fp, ip, copies, counts)
        _add_counts(counts, width, out)
    else:
        _sum_kernel(x0, x1, x2, x3, naxes, fp, ip, no_w, False, width, out)


# --------------------------------------------------------------------------- wrapper


def fill(h: bh.Histogram, arrays: Sequence[np.ndarray], weight: np.ndarray | None = None) -> None:
    """Fill ``h`` in place, exactly (bit for bit) as ``h.fill(*arrays, weight=weight)``.

    Parameters
    ----------
    h
        a :class:`hist.Hist` or :class:`boost_histogram.Histogram`.
    arrays
        one 1-d array of values per axis, all of the same length.
    weight
        optional 1-d array of weights of the same length.

    Regular axes with a ``Double``, ``Int64`` or ``Weight`` storage and numeric NumPy
    arrays of at least :data:`MIN_ENTRIES` values take the fast path (2-4 times faster
    than ``h.fill``); anything else is handed to ``h.fill`` (see the module
    documentation). The kernels release the GIL. To fill one histogram many times, a
    :class:`Filler` examines the histogram once.

    >>> import hist
    >>> import numpy as np
    >>> x = np.repeat(np.array([0.1, 0.3, 0.35, 1.0, np.nan], dtype=np.float32), 10_000)
    >>> h = hist.Hist(hist.axis.Regular(4, 0.0, 1.0, name="x"))
    >>> fill(h, [x])
    >>> h.values(flow=True).tolist()
    [0.0, 10000.0, 20000.0, 0.0, 0.0, 20000.0]
    >>> h2 = hist.Hist(hist.axis.Regular(4, 0.0, 1.0, name="x")).fill(x)
    >>> bool(np.array_equal(h.view(flow=True), h2.view(flow=True)))
    True
    """
    Filler(h)(arrays, weight)


class Filler:
    """Fills one histogram again and again: what the fast path needs to know about the
    histogram (axes, storage, memory) is worked out once, so a fill of a chunk costs the
    kernel and a few checks of the arrays (the Python around the kernel holds the GIL; in a
    background thread it should be short). The histogram must not be replaced or resized
    between calls (regular, non-growing axes never are).

    >>> import hist
    >>> import numpy as np
    >>> h = hist.Hist(hist.axis.Regular(10, 0.0, 1.0))
    >>> filler = Filler(h)
    >>> for seed in range(3):
    ...     filler([np.random.default_rng(seed).random(20_000)])
    >>> h.sum()
    60000.0
    """

    def __init__(self, h: bh.Histogram) -> None:
        self.h = h
        self._plan = _histogram_plan(h)

    def __call__(self, arrays: Sequence[np.ndarray], weight: np.ndarray | None = None) -> None:
        """Fill the histogram with ``arrays`` (one per axis) and optional ``weight``."""
        plan = None if self._plan is None else _arrays_plan(self._plan, arrays, weight)
        if plan is None:
            self.h.fill(*arrays, weight=weight)
        else:
            _run(self.h, *plan)


def _histogram_plan(h: Any) -> tuple | None:
    """What the kernels need to know about ``h``, or ``None`` where ``h.fill`` must work."""
    if getattr(type(h), "fill", None) not in _FILL_METHODS:
        return None
    storage = _storage(h)
    if storage is bh.storage.Double:
        weights_ok = True
    elif storage is bh.storage.Int64:
        weights_ok = False  # boost adds a double to an int64 counter; leave that to it
    elif storage is bh.storage.Weight:
        weights_ok = True
    else:
        return None
    axes = h.axes
    naxes = len(axes)
    if not 1 <= naxes <= MAX_AXES:
        return None
    layout = _memory(h, storage, axes)
    if layout is None:
        return None
    flat, arr = layout
    nb = arr.size

    fp = np.empty((naxes, 3), np.float64)
    ip = np.empty((naxes, 6), np.int64)
    last = 0
    for k, axis in enumerate(axes):
        params = _regular_params(axis)
        if params is None:
            return None
        mn, dl, size, under, over, inclusive = params
        extent = size + under + over
        if arr.shape[k] != extent or arr.strides[k] % arr.itemsize:
            return None
        stride = arr.strides[k] // arr.itemsize if extent > 1 else 0
        if stride < 0:
            return None
        last += (extent - 1) * stride
        fp[k] = (mn, dl, float(size))
        ip[k] = (
            size,
            int(under),
            stride,
            0 if under else _NEG,
            (size + int(under)) * stride if over else _NEG,
            (size - 1 + int(under)) * stride if inclusive else _OVER,
        )
    if last != nb - 1:
        return None
    return storage, weights_ok, naxes, fp, ip, flat, nb


def _arrays_plan(
    hist_plan: tuple, arrays: Sequence[np.ndarray], weight: np.ndarray | None
) -> tuple | None:
    """The kernels' arguments for one fill, or ``None`` where ``h.fill`` must do it."""
    storage, weights_ok, naxes, fp, ip, flat, nb = hist_plan
    if weight is not None and not weights_ok:
        return None
    if isinstance(arrays, (str, bytes, np.ndarray)) or not isinstance(arrays, Sequence):
        return None
    if len(arrays) != naxes or not all(_numeric_1d(a) for a in arrays):
        return None
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays) or n < MIN_ENTRIES:
        return None
    if weight is not None and not (_numeric_1d(weight) and weight.shape[0] == n):
        return None
    dtype = np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64
    xs = [_readonly(np.ascontiguousarray(a, dtype=dtype)) for a in arrays]
    empty = _readonly(np.empty(0, dtype))
    xs += [empty] * (MAX_AXES - naxes)
    w = None if weight is None else _readonly(np.ascontiguousarray(weight, dtype=np.float64))
    return storage, xs, naxes, fp, ip, w, flat, n, nb


def _run(
    h: Any,
    storage: type,
    xs: list[np.ndarray],
    naxes: int,
    fp: np.ndarray,
    ip: np.ndarray,
    w: np.ndarray | None,
    flat: np.ndarray,
    n: int,
    nb: int,
) -> None:
    """Run the kernel that reproduces boost's fill for this storage."""
    x0, x1, x2, x3 = xs
    copies = _COPIES if nb + 1 <= _MAX_COPY_BINS and n >= 4 * nb else 1
    if storage is bh.storage.Int64:  # unweighted (weighted Int64 falls back)
        _count_kernel(x0, x1, x2, x3, naxes, fp, ip, copies, flat)
        return
    width = 2 if storage is bh.storage.Weight else 1
    out = flat.view(np.float64)
    if w is not None:
        if storage is bh.storage.Double:  # boost's own fill of no entries, with weights, marks
            # the variances unknown as its fill with weights does (hist's fill costs 10x more)
            bh.Histogram.fill(h, *[_NO_WEIGHTS] * naxes, weight=_NO_WEIGHTS)
        _sum_kernel(x0, x1, x2, x3, naxes, fp, ip, w, True, width, out)
        return
    _count_floats(x0, x1, x2, x3, naxes, fp, ip, copies, _NO_WEIGHTS, width, out)


def _storage(h: Any) -> type | None:
    """``h.storage_type`` if the fast path handles it, else ``None`` (looked up once per
    :class:`Filler`: the property takes about 12 µs)."""
    storage = getattr(h, "storage_type", None)
    return storage if storage in _STORAGES else None


def _numeric_1d(a: object) -> bool:
    """A 1-d NumPy array that boost-histogram would convert to double like NumPy does."""
    if not isinstance(a, np.ndarray) or a.ndim != 1:
        return False
    kind = a.dtype.kind
    return kind in "biu" or (kind == "f" and a.dtype.itemsize <= 8)


def _readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view, so the kernels are compiled for one array type only."""
    v = a.view(np.ndarray)
    v.flags.writeable = False
    return v


_NO_WEIGHTS = _readonly(np.empty(0))  # the weights of an unweighted fill


def _memory(h: Any, storage: type, axes: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(flat, arr)``: the histogram's memory (flow bins included) as a 1-d array in
    memory order, and as the N-d array of ``h.view(flow=True)``."""
    arr = np.asarray(h.view(flow=True))
    if arr.ndim != len(axes) or not arr.flags.writeable:
        return None
    if storage is bh.storage.Weight:
        dt = arr.dtype
        fields: Any = dt.fields
        if (
            dt.names != ("value", "variance")
            or dt.itemsize != 16
            or fields["value"][0] != np.float64
            or fields["variance"][0] != np.float64
            or fields["value"][1] != 0
            or fields["variance"][1] != 8
        ):
            return None
    elif arr.dtype != (np.int64 if storage is bh.storage.Int64 else np.float64):
        return None
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous) or arr.size == 0:
        return None
    flat = arr.ravel(order="K")
    if flat.ctypes.data != arr.ctypes.data or not flat.flags.writeable:
        return None  # a copy
    return flat, arr


def _regular_params(axis: Any) -> tuple[float, float, int, bool, bool, bool] | None:
    """``(min, delta, size, underflow, overflow, inclusive)`` of a plain regular axis, or
    ``None``.

    ``min`` and ``delta`` are boost's stored doubles (``delta = stop - start`` rounded);
    ``inclusive``: ``z == 1`` goes to the last bin (Boost >= 1.81 without overflow bin).
    They are checked against the axis' own ``index`` on edges, one ulp either side of
    them, and non-finite values.
    """
    if not isinstance(axis, bh.axis.Regular):
        return None
    core: Any = getattr(axis, "_ax", None)  # the C++ axis; its type says: no transform,
    if type(core).__name__ not in _REGULAR_CORE:  # not circular, not growing
        return None
    try:
        size = int(core.size)
        under = bool(core.traits_underflow)
        over = bool(core.traits_overflow)
        state = core.__getstate__()
    except Exception:
        return None
    if not 0 < size < 2**31 - 2:
        return None
    if (
        isinstance(state, tuple)
        and len(state) == 6
        and state[2] == size
        and isinstance(state[4], float)
        and isinstance(state[5], float)
    ):
        mn, dl = state[4], state[5]
    else:
        edges = axis.edges
        mn = float(edges[0])
        dl = float(edges[-1]) - mn
    if not (np.isfinite(mn) and np.isfinite(dl) and dl != 0.0):
        return None
    for inclusive in (not over, False):
        if _agrees(core, mn, dl, size, inclusive):
            return mn, dl, size, under, over, inclusive
    return None


def _agrees(core: Any, mn: float, dl: float, size: int, inclusive: bool) -> bool:
    """Whether boost's formula with ``(mn, dl)`` reproduces the axis' own bin indices
    on a few edges, one ulp either side of them, and non-finite values."""
    top = mn + dl
    probes = [math.nan, math.inf, -math.inf]
    for i in sorted({0, 1, size - 1, size}):
        if 0 <= i <= size:
            z = i / size
            edge = (1.0 - z) * mn + z * top  # boost's regular::value
            probes += [edge, math.nextafter(edge, -math.inf), math.nextafter(edge, math.inf)]
    try:
        expected = np.asarray(core.index(np.array(probes))).tolist()
    except Exception:
        return False
    return expected == [_index_of(x, mn, dl, size, inclusive) for x in probes]


def _index_of(x: float, mn: float, dl: float, size: int, inclusive: bool = False) -> int:
    """boost's ``regular::index`` in Python (-1: underflow, ``size``: overflow).

    ``inclusive``: ``z == 1`` (the upper edge) gives the last bin.

    >>> [_index_of(x, 0.0, 1.0, 4) for x in (-1.0, 0.0, 0.5, 1.0, math.nan, -math.inf)]
    [-1, 0, 2, 4, 4, -1]
    >>> _index_of(1.0, 0.0, 1.0, 4, inclusive=True)
    3
    """
    z = (x - mn) / dl
    if z < 1.0:
        if z >= 0.0:
            return min(int(z * size), size)
        return -1
    if z == 1.0 and inclusive:
        return size - 1
    return size  # also NaN
