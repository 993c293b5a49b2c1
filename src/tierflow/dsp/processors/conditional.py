"""Choose between two values per element: ``a if condition else b``."""

from __future__ import annotations

from numba import vectorize

from tierflow.dsp.processors._common import Elementwise

_TYPES = ["u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f4", "f8"]


@vectorize([f"{t}(b1, {t}, {t})" for t in _TYPES], nopython=True, cache=True)
def _where(condition: bool, a: float, b: float) -> float:  # pragma: no cover - compiled
    """``a`` where ``condition`` holds, else ``b`` (``numpy.where`` as a processor).

    Signature ``(),(),()->()`` (element by element); arguments ``(condition, a, b, out)``. A chain config can
    also write ``"a if condition else b"``.

    >>> import numpy as np
    >>> where(np.array([True, False]), np.array([1.0, 2.0]), np.array([-1.0, -2.0]))
    array([ 1., -2.])
    """
    return a if condition else b


where = Elementwise(_where, name="where")
