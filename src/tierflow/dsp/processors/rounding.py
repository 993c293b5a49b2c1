"""Round values to a multiple of a step: nearest, down, up or towards zero."""

from __future__ import annotations

import numpy as np
from numba import vectorize

from tierflow.dsp.processors._common import Elementwise

_TYPES = [f"{t}({t}, {t})" for t in ["u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f4", "f8"]]
_OPTIONS = {"nopython": True, "cache": True}


@vectorize(_TYPES, **_OPTIONS)
def _round_to_nearest(val: float, to_nearest: float) -> float:  # pragma: no cover - compiled
    """The multiple of ``to_nearest`` closest to ``val`` (halves go to the even multiple).

    Signature ``(),()->()``; arguments ``(val, to_nearest, out)``. NaN stays NaN. A chain
    config can also write ``"round(t_in, 1*us)"``.

    >>> import numpy as np
    >>> round_to_nearest(np.array([1234.0, 1250.0, np.nan]), 100.0)
    array([1200., 1200.,   nan])
    """
    if np.isnan(val):
        return np.nan
    return to_nearest * np.rint(val / to_nearest)


@vectorize(_TYPES, **_OPTIONS)
def _floor_to_nearest(val: float, to_nearest: float) -> float:  # pragma: no cover - compiled
    """The largest multiple of ``to_nearest`` not above ``val``; NaN stays NaN.

    Signature ``(),()->()``; arguments ``(val, to_nearest, out)``.

    >>> import numpy as np
    >>> floor_to_nearest(np.array([1290.0, -10.0]), 100.0)
    array([1200., -100.])
    """
    if np.isnan(val):
        return np.nan
    return to_nearest * np.floor(val / to_nearest)


@vectorize(_TYPES, **_OPTIONS)
def _ceil_to_nearest(val: float, to_nearest: float) -> float:  # pragma: no cover - compiled
    """The smallest multiple of ``to_nearest`` not below ``val``; NaN stays NaN.

    Signature ``(),()->()``; arguments ``(val, to_nearest, out)``.

    >>> import numpy as np
    >>> ceil_to_nearest(np.array([1210.0, -10.0]), 100.0)
    array([1300.,   -0.])
    """
    if np.isnan(val):
        return np.nan
    return to_nearest * np.ceil(val / to_nearest)


@vectorize(_TYPES, **_OPTIONS)
def _trunc_to_nearest(val: float, to_nearest: float) -> float:  # pragma: no cover - compiled
    """The multiple of ``to_nearest`` next to ``val`` towards zero; NaN stays NaN.

    Signature ``(),()->()``; arguments ``(val, to_nearest, out)``.

    >>> import numpy as np
    >>> trunc_to_nearest(np.array([1290.0, -1290.0]), 100.0)
    array([ 1200., -1200.])
    """
    if np.isnan(val):
        return np.nan
    return to_nearest * np.trunc(val / to_nearest)


round_to_nearest = Elementwise(_round_to_nearest, name="round_to_nearest")
floor_to_nearest = Elementwise(_floor_to_nearest, name="floor_to_nearest")
ceil_to_nearest = Elementwise(_ceil_to_nearest, name="ceil_to_nearest")
trunc_to_nearest = Elementwise(_trunc_to_nearest, name="trunc_to_nearest")
