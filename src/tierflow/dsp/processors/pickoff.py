"""Pick off a waveform's value at a given (possibly fractional) sample index."""

from __future__ import annotations

import numpy as np

from tierflow.dsp.processors._common import has_nan
from tierflow.dsp.processors._gufunc import gufunc
from tierflow.dsp.processors._interpolation import check_mode, pickoff

#: interpolation modes, as the character codes the processor takes
MODES = "infclhs"


@gufunc(
    ["void(float32[:], float32, char, float32[:])", "void(float64[:], float64, char, float64[:])"],
    "(n),(),()->()",
)
def fixed_time_pickoff(
    w_in: np.ndarray, t_in: float, mode_in: int, a_out: np.ndarray
) -> None:  # pragma: no cover
    """The waveform's value at sample index ``t_in``, interpolated for fractional indices.

    Signature ``(n),(),()->()``; arguments ``(w_in, t_in, mode_in, a_out)``. ``mode_in`` is a
    character code (``ord('l')``; a chain config writes ``"'l'"``):

    * ``i``: integer ``t_in`` only (NaN for a fractional one)
    * ``n``: nearest sample; ``f``: previous sample (floor); ``c``: next sample (ceiling)
    * ``l``: linear interpolation
    * ``h``: cubic Hermite spline, tangents from central differences
    * ``s``: natural cubic spline through the whole waveform (slower: O(n) per row)

    An integer ``t_in`` returns that sample in every mode. NaN when ``t_in`` is NaN, below 0
    or past the last sample, or when the waveform has a NaN; an unknown mode raises
    ``ValueError``.

    >>> import numpy as np
    >>> wf = np.array([0.0, 1.0, 4.0, 9.0, 16.0])
    >>> [float(fixed_time_pickoff(wf, 2.5, ord(m))) for m in "nfclh"]
    [9.0, 4.0, 9.0, 6.5, 6.25]
    >>> float(fixed_time_pickoff(wf, 7.0, ord("l")))
    nan
    """
    check_mode(mode_in, MODES)
    x = np.ascontiguousarray(w_in)
    if has_nan(x):
        a_out[0] = np.nan
        return
    a_out[0] = pickoff(x, t_in, mode_in)
