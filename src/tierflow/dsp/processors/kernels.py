"""Small filter kernels: the t0 (start-time) filter."""

from __future__ import annotations

import numpy as np

from tierflow.dsp.processors._common import KernelProcessor, Processor
from tierflow.dsp.processors._gufunc import gufunc
from tierflow.dsp.processors.convolutions import _convolve


@gufunc(
    ["void(float32, float32, float32[:])", "void(float64, float64, float64[:])"],
    "(),(),(n)",
)
def _t0_kernel(rise: float, fall: float, kernel: np.ndarray) -> None:  # pragma: no cover
    """Kernel of :data:`t0_filter`."""
    if np.isnan(rise) or np.isnan(fall) or rise < 0 or fall < 0:
        kernel[:] = np.nan
        return
    if kernel.shape[0] != rise + fall:
        raise ValueError("t0_filter: the kernel's length must be rise + fall")
    r = int(rise)
    for i in range(r):
        kernel[i] = 2.0 * (r - i) / (np.float64(rise) * (rise + 1.0))
    for i in range(r, kernel.shape[0]):
        kernel[i] = -1.0 / np.float64(fall)


def _legacy_t0_filter(rise: float, fall: float) -> Processor:
    """pygama's factory form: the kernel normalised by ``rise**2``, full convolution cut to the output."""
    if not (rise >= 0 and fall > 0):
        raise ValueError(f"t0_filter: rise and fall must be positive, not {rise}, {fall}")
    r = int(rise)
    kernel = np.empty(r + int(fall))
    kernel[:r] = 2.0 * (r - np.arange(r)) / rise**2
    kernel[r:] = -1.0 / fall

    def apply(w_in: np.ndarray, w_out: np.ndarray) -> None:
        n, p = np.shape(w_in)[-1], w_out.shape[-1]
        if p > n + kernel.size - 1:
            raise ValueError(
                f"t0_filter: output longer than the full convolution ({n + kernel.size - 1})"
            )
        _convolve(w_in, kernel.astype(np.result_type(w_in, np.float32)), 0, w_out, direct=False)

    return Processor(
        apply, "(n)->(m)", ["f->f", "d->d"], name="t0_filter", doc="t0 filter convolution"
    )


t0_filter = KernelProcessor(
    _t0_kernel,
    "(),()->(n)",
    name="t0_filter",
    factory=_legacy_t0_filter,
    doc="""Kernel of the t0 filter, a modified asymmetric trapezoid that finds a pulse's start.

    Signature ``(),()->(n)``; arguments ``(rise, fall, kernel)`` in samples, ``n = rise + fall``
    (otherwise ``ValueError``). The first ``rise`` taps fall linearly,
    ``2 (rise - i) / (rise (rise + 1))`` (a weighted average summing to 1), the other
    ``fall`` taps are ``-1 / fall`` (a plain average), so the kernel has zero area. Apply it
    with :func:`convolve_wf` in ``'s'`` mode. Negative or NaN lengths give a NaN kernel.

    LEGEND's older configs give ``init_args``: ``t0_filter(rise, fall)`` then returns a
    processor ``(n)->(m)`` giving the first ``m`` samples of the full convolution with the
    kernel normalised by ``rise**2`` instead.

    >>> import numpy as np
    >>> kernel = np.empty(5)
    >>> t0_filter(2.0, 3.0, kernel)
    array([ 0.66666667,  0.33333333, -0.33333333, -0.33333333, -0.33333333])
    """,
)
