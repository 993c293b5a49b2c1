"""Convolution of waveforms with a kernel (CUSP, ZAC, t0 filters ...), by FFT or directly.

These processors work on a whole block of rows at once: one batched real FFT per block,
the kernel's spectrum computed once and reused for every block. For kernels of a few dozen
taps a compiled direct sum is faster and is used instead; the result is the same
convolution either way (to rounding). Modes are numpy's: ``'f'`` full, ``'v'`` valid,
``'s'`` same (``numpy.convolve``), so results agree with LEGEND's ``convolve_wf`` and
``fft_convolve_wf``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import scipy.fft as sfft

from tierflow.dsp.processors._common import Processor, has_nan, mode_char, write_back
from tierflow.dsp.processors._gufunc import gufunc

#: kernels up to this many taps are convolved directly, longer ones by FFT
DIRECT_MAX_TAPS = 48
#: rows per batched FFT are chosen so that one batch's spectra take about this many bytes
BATCH_BYTES = 1 << 22

#: kernel spectra kept (least recently used dropped first), at most this many bytes: every
#: channel of a cycle has its own CUSP and ZAC kernels, a few hundred spectra in all
SPECTRA_BYTES = 64 << 20

_spectra: OrderedDict[tuple, np.ndarray] = OrderedDict()
_spectra_bytes = 0
_spectra_lock = threading.Lock()
#: the last rows transformed in this thread, with their spectra
_recent = threading.local()
#: unsigned integers as wide as each float type, to compare rows bit for bit
_BITS = {np.dtype(t).itemsize: np.dtype(t) for t in ("u2", "u4", "u8")}


def _placement(mode: int, n: int, m: int) -> tuple[int, int]:
    """(index in the full convolution of the first output, output length) for a mode."""
    if m > n:
        raise ValueError(f"the kernel ({m} samples) is longer than the waveform ({n} samples)")
    if mode == ord("f"):
        return 0, n + m - 1
    if mode == ord("v"):
        return m - 1, n - m + 1
    if mode == ord("s"):
        return (m - 1) // 2, n
    raise ValueError(f"unknown convolution mode {chr(mode)!r}; use 'f', 'v' or 's'")


def _spectrum(kernel: np.ndarray, size: int) -> np.ndarray:
    """The real FFT of ``kernel`` at ``size`` points, cached by the kernel's content."""
    global _spectra_bytes
    key = (kernel.dtype.str, kernel.shape[-1], size, kernel.tobytes())
    with _spectra_lock:
        spec = _spectra.get(key)
        if spec is not None:
            _spectra.move_to_end(key)
            return spec
        spec = _spectra[key] = sfft.rfft(kernel, size)
        _spectra_bytes += spec.nbytes
        while _spectra_bytes > SPECTRA_BYTES and len(_spectra) > 1:
            _spectra_bytes -= _spectra.popitem(last=False)[1].nbytes
        return spec


@gufunc(
    [
        "void(float32[:], float32[:], int64, float32[:])",
        "void(float64[:], float64[:], int64, float64[:])",
    ],
    "(n),(m),(),(p)",
)
def _direct(
    w_in: np.ndarray, kernel: np.ndarray, start: int, w_out: np.ndarray
) -> None:  # pragma: no cover
    """w_out[j] = sum_i kernel[i] * w_in[start + j - i] (the full convolution from ``start``)."""
    n = w_in.shape[0]
    m = kernel.shape[0]
    x = np.ascontiguousarray(w_in)
    k = np.ascontiguousarray(kernel)
    o = np.ascontiguousarray(w_out)
    if has_nan(x) or has_nan(k):
        o[:] = np.nan
        write_back(o, w_out)
        return
    for j in range(o.shape[0]):
        t = start + j
        lo = max(0, t - n + 1)
        hi = min(m - 1, t)
        acc = 0.0
        for i in range(lo, hi + 1):
            acc += k[i] * x[t - i]
        o[j] = acc
    write_back(o, w_out)


def _convolve(
    w_in: np.ndarray, kernel: np.ndarray, start: int, w_out: np.ndarray, direct: bool
) -> None:
    """Fill ``w_out[..., j]`` with the full convolution of each row at index ``start + j``."""
    w = np.asarray(w_in)
    k = np.asarray(kernel)
    if not isinstance(w_out, np.ndarray):
        raise TypeError("the output must be a numpy array, filled in place")
    n, m, p = w.shape[-1], k.shape[-1], w_out.shape[-1]
    if direct:
        _direct(w, k, np.int64(start), w_out)
        return
    lead = w_out.shape[:-1]
    dtype = np.result_type(w.dtype, k.dtype, np.float32)
    size = sfft.next_fast_len(max(n + m - 1 - start, start + p), real=True)
    rows = (
        w.reshape(-1, n) if w.shape[:-1] == lead else np.broadcast_to(w, (*lead, n)).reshape(-1, n)
    )
    rows = rows.astype(dtype, copy=False)
    shared = k.ndim == 1
    if shared:
        spec = _spectrum(k.astype(dtype, copy=False), size)
    else:
        kernels = np.broadcast_to(k, (*lead, m)).reshape(-1, m).astype(dtype, copy=False)
    target = w_out if w_out.flags.c_contiguous else np.empty(w_out.shape, w_out.dtype)
    flat = target.reshape(-1, p)
    batch = max(1, BATCH_BYTES // (size * rows.itemsize * 2))
    for r0 in range(0, rows.shape[0], batch):
        r1 = min(r0 + batch, rows.shape[0])
        if shared:
            spectra = _row_spectra(rows[r0:r1], size) * spec
        else:
            spectra = _row_spectra(rows[r0:r1], size).copy()
            kernel_spectra = _kernel_spectra(kernels[r0:r1], size)
            for row, kernel_spectrum in zip(spectra, kernel_spectra, strict=True):
                row *= kernel_spectrum  # row by row, as a shared kernel's broadcast multiplies
        flat[r0:r1] = sfft.irfft(spectra, size, axis=-1, overwrite_x=True)[:, start : start + p]
    if target is not w_out:
        w_out[...] = target


def _kernel_spectra(kernels: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """The spectrum of each row's kernel as :func:`_spectrum` gives a constant kernel's, so a
    kernel that differs per row (made from each channel's decay time, say) convolves exactly
    as that kernel given as a constant; equal neighbours are transformed once."""
    last: np.ndarray | None = None
    for kernel in kernels:
        if last is None or not np.array_equal(kernel, last):
            last, spectrum = kernel, _spectrum(kernel, size)
        yield spectrum


def _row_spectra(rows: np.ndarray, size: int) -> np.ndarray:
    """``rfft(rows, size)`` along the last axis, read-only. The last rows transformed (in this
    thread) are kept with their spectra: a chain convolves the same waveforms with several
    kernels (CUSP and ZAC filters), and rows equal bit for bit transform alike."""
    bits = _BITS.get(rows.dtype.itemsize)
    last = getattr(_recent, "entry", None)
    if last is not None and bits is not None:
        last_rows, last_size, spectra = last
        if (
            last_size == size
            and last_rows.shape == rows.shape
            and last_rows.dtype == rows.dtype
            and np.array_equal(last_rows.view(bits), rows.view(bits))
        ):
            return spectra
    spectra = sfft.rfft(rows, size, axis=-1)
    spectra.flags.writeable = False
    _recent.entry = (rows.copy(), size, spectra)
    return spectra


def _check_length(name: str, mode: int, n: int, m: int, w_out: np.ndarray) -> int:
    start, length = _placement(mode, n, m)
    if w_out.shape[-1] != length:
        raise ValueError(
            f"{name}: output has {w_out.shape[-1]} samples; mode {chr(mode)!r} of a waveform of "
            f"{n} and a kernel of {m} samples gives {length}"
        )
    return start


def _convolve_wf(w_in: np.ndarray, kernel: np.ndarray, mode_in: object, w_out: np.ndarray) -> None:
    mode = mode_char(mode_in)
    n, m = np.shape(w_in)[-1], np.shape(kernel)[-1]
    start = _check_length("convolve_wf", mode, n, m, w_out)
    _convolve(w_in, kernel, start, w_out, direct=m <= DIRECT_MAX_TAPS)


def _fft_convolve_wf(
    w_in: np.ndarray, kernel: np.ndarray, mode_in: object, w_out: np.ndarray
) -> None:
    mode = mode_char(mode_in)
    n, m = np.shape(w_in)[-1], np.shape(kernel)[-1]
    start = _check_length("fft_convolve_wf", mode, n, m, w_out)
    _convolve(w_in, kernel, start, w_out, direct=False)


_TYPES = ["ffb->f", "ddb->d"]

convolve_wf = Processor(
    _convolve_wf,
    "(n),(m),()->(p)",
    _TYPES,
    name="convolve_wf",
    doc="""Convolve each waveform with ``kernel``, as ``numpy.convolve(w_in, kernel, mode)``.

    Signature ``(n),(m),()->(p)``; arguments ``(w_in, kernel, mode_in, w_out)``. ``mode_in``
    is ``'f'`` (full, ``p = n + m - 1``), ``'v'`` (valid, ``p = n - m + 1``) or ``'s'``
    (same, ``p = n``), as a character or its code. The kernel is one array for all rows or
    one per row. Kernels of up to 48 taps are summed directly, longer ones by FFT
    (:func:`fft_convolve_wf`). NaN in a waveform or the kernel gives an all-NaN row. A kernel
    longer than the waveform, an output of the wrong length or an unknown mode raise
    ``ValueError``.

    >>> import numpy as np
    >>> out = np.empty((1, 4))
    >>> convolve_wf(np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([1.0, -1.0]), "s", out)
    array([[1., 1., 1., 1.]])
    """,
)

fft_convolve_wf = Processor(
    _fft_convolve_wf,
    "(n),(m),()->(p)",
    _TYPES,
    name="fft_convolve_wf",
    doc="""Convolve each waveform with ``kernel`` by FFT; modes and lengths as :func:`convolve_wf`.

    Signature ``(n),(m),()->(p)``; arguments ``(w_in, kernel, mode_in, w_out)``. Rows are
    transformed in batches with one real FFT each (float32 rows in single precision); the
    transform length is the shortest fast length that avoids wrap-around for the requested
    outputs (for ``'v'`` that is just the waveform's length). The kernel's spectrum is
    cached, so a constant kernel is transformed once. NaN in a waveform or the kernel gives
    an all-NaN row.

    >>> import numpy as np
    >>> out = np.empty((1, 3))
    >>> np.round(fft_convolve_wf(np.array([[0.0, 1.0, 2.0, 3.0, 4.0]]), np.ones(3), "v", out), 9)
    array([[3., 6., 9.]])
    """,
)


def _reflected_convolve_wf(w_in: np.ndarray, kernel: np.ndarray, w_out: np.ndarray) -> None:
    w = np.asarray(w_in)
    k = np.asarray(kernel)
    n, m = w.shape[-1], k.shape[-1]
    pad = m // 2 + 1
    if m > n or pad >= n:
        raise ValueError(f"reflected_convolve_wf: kernel of {m} samples too long for {n} samples")
    if w_out.shape[-1] != n:
        raise ValueError(f"reflected_convolve_wf: output has {w_out.shape[-1]} samples, not {n}")
    widths = [(0, 0)] * (w.ndim - 1) + [(pad, pad)]
    padded = np.pad(w, widths, mode="reflect")
    _convolve(padded, k, (m - 1) // 2 + pad, w_out, direct=m <= DIRECT_MAX_TAPS)


reflected_convolve_wf = Processor(
    _reflected_convolve_wf,
    "(n),(m)->(n)",
    ["ff->f", "dd->d"],
    name="reflected_convolve_wf",
    doc="""Same-length convolution with the waveform mirrored at both ends (fewer edge effects).

    Signature ``(n),(m)->(n)``; arguments ``(w_in, kernel, w_out)``. The waveform is extended
    by ``m // 2 + 1`` samples at each end by reflection (``numpy.pad(..., 'reflect')``),
    convolved in ``'s'`` mode and cut back to ``n`` samples. NaN in a waveform or the kernel
    gives an all-NaN row.

    >>> import numpy as np
    >>> out = np.empty(4)
    >>> np.round(reflected_convolve_wf(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(3) / 3, out), 6)
    array([1.666667, 2.      , 3.      , 3.333333])
    """,
)
