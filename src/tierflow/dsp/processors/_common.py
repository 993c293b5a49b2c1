"""Helpers shared by the kernels: NaN checks, contiguous views, the in-place processor wrapper."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from tierflow.dsp.processors.options import JIT_OPTIONS

if TYPE_CHECKING:  # _gufunc imports this module's neighbours at run time
    from numba.np.ufunc.dufunc import DUFunc

    from tierflow.dsp.processors._gufunc import LazyGufunc


@njit(**JIT_OPTIONS)
def has_nan(w: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Whether any element of the 1-d array ``w`` is NaN (one vectorisable pass)."""
    found = False
    for i in range(w.shape[0]):
        found |= np.isnan(w[i])
    return found


@njit(**JIT_OPTIONS)
def write_back(view: np.ndarray, w_out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Copy ``view`` into ``w_out`` unless it already is ``w_out``'s memory.

    Kernels compute into ``np.ascontiguousarray(w_out)``, which is ``w_out`` itself when the
    row is contiguous (the usual case) and a scratch copy when it is strided.
    """
    if view.shape[0] > 0 and view.ctypes.data != w_out.ctypes.data:
        w_out[:] = view


def _parse(signature: str) -> tuple[list[str], list[str]]:
    ins, _, outs = signature.replace(" ", "").partition("->")
    return re.findall(r"\([^)]*\)", ins), re.findall(r"\([^)]*\)", outs)


class Processor:
    """A processor with numpy's gufunc calling convention: inputs first, outputs last.

    Used for processors that a plain numba gufunc cannot express: outputs whose length is
    their own (``(n),()->(m)``: the caller allocates them, numba cannot), or kernels that
    work on a whole block of rows at once (FFT convolutions). Calling it fills the outputs
    in place and returns them. ``signature``, ``types``, ``nin`` and ``nout`` read as a
    gufunc's do; ``ufunc``, where present, is the gufunc that does the work, taking the same
    positional arguments (a :class:`~tierflow.dsp.processors._gufunc.LazyGufunc`, whose
    ``loop`` method the processor shares, or a numpy ufunc).

    >>> import numpy as np
    >>> from tierflow.dsp.processors import get
    >>> windower = get("windower")
    >>> windower.signature, windower.nin, windower.nout
    ('(n),()->(m)', 2, 1)
    """

    is_factory = False

    def __init__(
        self,
        func: Callable,
        signature: str,
        types: Sequence[str],
        *,
        name: str,
        doc: str | None = None,
        ufunc: np.ufunc | LazyGufunc | None = None,
    ) -> None:
        functools.update_wrapper(self, func)
        self.__name__ = self.__qualname__ = name
        if doc is not None:
            self.__doc__ = doc
        self._func = func
        self.signature = signature
        ins, outs = _parse(signature)
        self.nin, self.nout = len(ins), len(outs)
        self.nargs = self.nin + self.nout
        self.types = list(types)
        self.ntypes = len(self.types)
        if ufunc is not None:
            self.ufunc = ufunc
            if hasattr(ufunc, "loop"):  # a LazyGufunc: the chain compiler asks for one loop
                self.loop = ufunc.loop

    def __call__(self, *args: object) -> object:
        if len(args) != self.nargs:
            raise TypeError(
                f"{self.__name__}() takes {self.nin} inputs and {self.nout} outputs "
                f"(signature {self.signature}); got {len(args)} arguments"
            )
        if self._outputs_in_place:
            self._call_in_place(args)
        else:
            self._func(*args)
        if self.nout == 0:  # outputs among the arguments (LEGEND's signatures without '->')
            return None
        outs = args[self.nin :]
        return outs[0] if self.nout == 1 else outs

    _outputs_in_place = False

    def _call_in_place(self, args: tuple) -> None:
        # The kernel sees the outputs as inputs: numpy would cast an output of another dtype
        # into a temporary copy and the results would be lost. So the loop is chosen by the
        # outputs' dtypes, and the inputs are cast to it.
        outs = args[self.nin :]
        if not all(isinstance(o, np.ndarray) for o in outs):
            raise TypeError(f"{self.__name__}: outputs must be numpy arrays, filled in place")
        chars = "".join(o.dtype.char for o in outs)
        for loop in self.types:
            ins, _, loop_outs = loop.partition("->")
            if loop_outs == chars:
                self._func(*args, signature=tuple(ins + loop_outs))
                return
        raise TypeError(
            f"{self.__name__}: outputs of dtype {', '.join(str(o.dtype) for o in outs)} fit none "
            f"of its loops {self.types}"
        )

    def __repr__(self) -> str:
        return f"<processor {self.__name__} {self.signature}>"


def in_place(kernel: LazyGufunc, signature: str, *, name: str, doc: str) -> Processor:
    """Wrap a gufunc written without ``->`` (``(n),(),(m)``) as a :class:`Processor`."""
    ins, _ = _parse(signature)
    n_in = len(ins)
    types = [t.replace("->", "") for t in kernel.types]
    types = [t[:n_in] + "->" + t[n_in:] for t in types]
    proc = Processor(kernel, signature, types, name=name, doc=doc, ufunc=kernel)
    proc._outputs_in_place = True
    return proc


def mode_char(mode: object) -> int:
    """A one-character mode (``'s'``, ``b's'``, ``ord('s')``, ``np.int8``) as its code.

    >>> mode_char("v"), mode_char(np.int8(ord("v")))
    (118, 118)
    """
    if isinstance(mode, bytes | str):
        if len(mode) != 1:
            raise ValueError(f"mode must be one character, not {mode!r}")
        return ord(mode)
    arr = np.asarray(mode)
    if arr.size != 1:
        values = np.unique(arr)
        if values.size != 1:
            raise ValueError("mode must be the same for every row")
        arr = values
    return int(arr.reshape(-1)[0])


class KernelProcessor(Processor):
    """A kernel generator that also takes LEGEND's older *factory* form.

    Called with the kernel array as the last argument (``cusp_filter(sigma, flat, decay,
    kernel)``, today's configs, where a convolution processor applies the kernel), it fills
    the kernel in place like any gufunc. Called with set-up constants only (a config's
    ``init_args``, e.g. ``cusp_filter(length, sigma, flat, decay)``), it builds the kernel and
    returns a processor that convolves waveforms with it.
    """

    def __init__(
        self, kernel: LazyGufunc, signature: str, *, name: str, doc: str, factory: Callable
    ) -> None:
        ins, _ = _parse(signature)
        n_in = len(ins)
        types = [t.replace("->", "") for t in kernel.types]
        types = [t[:n_in] + "->" + t[n_in:] for t in types]
        super().__init__(kernel, signature, types, name=name, doc=doc, ufunc=kernel)
        self._outputs_in_place = True
        self._factory = factory

    def __call__(self, *args: object) -> object:
        if len(args) == self.nargs and isinstance(args[-1], np.ndarray) and args[-1].ndim >= 1:
            return super().__call__(*args)
        return self._factory(*args)


class Elementwise(Processor):
    """An element-by-element processor (a numpy ufunc): called like the ufunc itself.

    numba's ``vectorize`` gives a ``DUFunc`` whose ``signature`` is None; this wrapper states
    ``(),()->()`` like every other processor and calls the compiled numpy ufunc, which
    allocates its output when none is given.
    """

    def __init__(self, dufunc: DUFunc, *, name: str) -> None:
        ufunc = dufunc.ufunc
        signature = ",".join(["()"] * ufunc.nin) + "->" + ",".join(["()"] * ufunc.nout)
        doc = dufunc.__doc__
        super().__init__(
            dufunc,
            signature,
            ufunc.types,
            name=name,
            doc=doc,
            ufunc=ufunc,  # type: ignore[arg-type]  # a numpy ufunc; numba's stub says otherwise
        )
        dufunc.__doc__ = f"Kernel of :data:`{name}`."  # the examples run once, on the wrapper

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self.ufunc(*args, **kwargs)
