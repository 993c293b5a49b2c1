"""CUSP and ZAC filter kernels for energy estimation, to be applied by convolution."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit

from tierflow.dsp.processors._common import KernelProcessor, Processor
from tierflow.dsp.processors._gufunc import gufunc
from tierflow.dsp.processors.convolutions import _convolve
from tierflow.dsp.processors.options import JIT_OPTIONS

_KERNEL_TYPES = [
    "void(float32, float32, float32, float32[:])",
    "void(float64, float64, float64, float64[:])",
]


@njit(**JIT_OPTIONS)
def _valid(sigma: float, flat: float, decay: float) -> bool:  # pragma: no cover - compiled
    return sigma >= 0 and flat >= 0 and decay >= 0 and np.floor(flat) == flat


@njit(**JIT_OPTIONS)
def _cusp_value(
    i: int, length: int, lt: int, flat: int, sigma: float, norm: float
) -> float:  # pragma: no cover
    """The CUSP shape: sinh rise over ``lt`` samples, ``flat + 1`` ones, sinh fall."""
    if i < lt:
        return np.sinh(i / sigma) / norm
    if i <= lt + flat:
        return 1.0
    return np.sinh((length - i) / sigma) / norm


@njit(**JIT_OPTIONS)
def _parabola(i: int, length: int, lt: int, flat: int) -> float:  # pragma: no cover - compiled
    """The ZAC's negative parabolas under the rise and fall (zero on the flat top)."""
    h = lt / 2.0
    if i < lt:
        return (i - h) ** 2 - h * h
    if i <= lt + flat:
        return 0.0
    return (length - i - h) ** 2 - h * h


@njit(**JIT_OPTIONS)
def _fill(
    sigma: float, flat: float, decay: float, kernel: np.ndarray, zero_area: bool
) -> None:  # pragma: no cover
    length = kernel.shape[0]
    if not _valid(sigma, flat, decay):
        kernel[:] = np.nan
        return
    f = int(flat)
    lt = int((length - flat) / 2)
    sigma = np.float64(sigma)
    norm = np.sinh(lt / sigma)
    shape = np.empty(length)  # each sinh once: the ZAC needs the shape twice
    for i in range(length):
        shape[i] = _cusp_value(i, length, lt, f, sigma, norm)
    scale = 0.0
    if zero_area:
        area_cusp = 0.0
        area_par = 0.0
        for i in range(length):
            area_cusp += shape[i]
            area_par += _parabola(i, length, lt, f)
        scale = -area_cusp / area_par
    # deconvolve the preamplifier's exponential: k[i] = s[i] - exp(-1/decay) s[i-1]
    c = np.exp(-1.0 / np.float64(decay)) if decay > 0 else 0.0
    prev = 0.0
    for i in range(length):
        cur = shape[i]
        if zero_area:
            cur += scale * _parabola(i, length, lt, f)
        kernel[i] = cur - c * prev
        prev = cur


@gufunc(_KERNEL_TYPES, "(),(),(),(n)")
def _cusp_kernel(
    sigma: float, flat: float, decay: float, kernel: np.ndarray
) -> None:  # pragma: no cover
    """Kernel of :data:`cusp_filter`."""
    _fill(sigma, flat, decay, kernel, False)


@gufunc(_KERNEL_TYPES, "(),(),(),(n)")
def _zac_kernel(
    sigma: float, flat: float, decay: float, kernel: np.ndarray
) -> None:  # pragma: no cover
    """Kernel of :data:`zac_filter`."""
    _fill(sigma, flat, decay, kernel, True)


def _valid_convolver(kernel: np.ndarray, name: str) -> Processor:
    """A processor ``(n)->(m)`` convolving each row with ``kernel`` in 'valid' mode."""

    def apply(w_in: np.ndarray, w_out: np.ndarray) -> None:
        n, m = np.shape(w_in)[-1], kernel.shape[-1]
        if m > n or w_out.shape[-1] != n - m + 1:
            raise ValueError(f"{name}: output must have {n - m + 1} samples, has {w_out.shape[-1]}")
        _convolve(w_in, kernel.astype(np.result_type(w_in, np.float32)), m - 1, w_out, direct=False)

    return Processor(apply, "(n)->(m)", ["f->f", "d->d"], name=name, doc=f"{name} convolution")


def _factory(kind: str, fill: Callable) -> Callable:
    def build(length: float, sigma: float, flat: float, decay: float) -> Processor:
        if not (length > 0 and np.floor(length) == length):
            raise ValueError(f"{kind}: the kernel length must be a positive integer, not {length}")
        if not _valid(sigma, flat, decay):
            raise ValueError(f"{kind}: sigma, flat and decay must be positive and flat an integer")
        kernel = np.empty(int(length))
        fill(sigma, flat, decay, kernel)
        return _valid_convolver(kernel, kind)

    return build


_DOC = """{what} kernel ``{name}(sigma, flat, decay, kernel)``: fills ``kernel`` (its length is the kernel's).

    Signature ``(),(),()->(n)``; arguments ``(sigma, flat, decay, kernel)`` in samples. {shape}
    It is then deconvolved with the preamplifier's exponential decay ``decay``
    (``k[i] = s[i] - exp(-1/decay) s[i-1]``), so that convolving a pulse that is not
    pole-zero corrected gives the filtered pulse (``decay`` 0 leaves the shape as it is). Apply it with :func:`fft_convolve_wf` in
    ``'v'`` mode. Negative or NaN parameters, or a fractional ``flat``, give a NaN kernel.

    LEGEND's older configs give set-up constants in ``init_args``:
    ``{name}(length, sigma, flat, decay)`` then returns a processor ``(n)->(m)`` convolving
    each waveform with the kernel of ``length`` samples in 'valid' mode (``m = n - length + 1``).

    >>> import numpy as np
    >>> kernel = np.empty(9)
    {example}
    """

cusp_filter = KernelProcessor(
    _cusp_kernel,
    "(),(),()->(n)",
    name="cusp_filter",
    factory=_factory("cusp_filter", _cusp_kernel),
    doc=_DOC.format(
        what="CUSP (cusp-like) filter",
        name="cusp_filter",
        shape="The shape ``s`` rises as ``sinh(i/sigma)/sinh(lt/sigma)`` over "
        "``lt = int((n - flat) / 2)`` samples, stays at 1 for ``flat + 1`` samples and falls "
        "symmetrically.",
        example=">>> np.round(cusp_filter(2.0, 2.0, 0.0, kernel), 3)\n    "
        "array([0.   , 0.245, 0.552, 1.   , 1.   , 1.   , 1.   , 0.552, 0.245])",
    ),
)

zac_filter = KernelProcessor(
    _zac_kernel,
    "(),(),()->(n)",
    name="zac_filter",
    factory=_factory("zac_filter", _zac_kernel),
    doc=_DOC.format(
        what="ZAC (zero-area CUSP) filter",
        name="zac_filter",
        shape="The shape ``s`` is the CUSP shape (see :func:`cusp_filter`) plus negative "
        "parabolas under its rise and fall, scaled so that the total area is zero, which "
        "removes low-frequency noise.",
        example=">>> abs(float(zac_filter(2.0, 2.0, 0.0, kernel).sum())) < 1e-12  # zero area\n    True",
    ),
)
