"""Gufuncs compiled loop by loop, on first use: a chain pays only for the loops it calls.

``numba.guvectorize`` with a list of signatures compiles every loop when the module is imported:
a processor module with six kernels in float32 and float64 costs ten seconds of compilation in a
process with an empty cache, although a chain calls one or two of its kernels in one dtype.
:func:`gufunc` takes the same arguments but compiles nothing until a loop is asked for, either by
the chain compiler (:meth:`LazyGufunc.loop`, with the loop it chose) or by a direct call, which
picks the loop as numpy would (the first whose inputs the arguments cast to safely).

Each loop is compiled as its own numba function, named after the processor and the loop's dtypes,
so each has its own entry in the on-disk cache: processes that fill one cache at the same time
with different loops of the same processor cannot overwrite each other's index.

>>> import numpy as np
>>> loops = ["void(float32[:], float32[:])", "void(float64[:], float64[:])"]
>>> @gufunc(loops, "(n)->(n)", cache=False)  # cache=False: a doctest has no file to cache beside
... def double(x, out):
...     for i in range(x.shape[0]):
...         out[i] = 2 * x[i]
>>> double.types, double.compiled_loops
(['f->f', 'd->d'], [])
>>> double(np.arange(3.0))
array([0., 2., 4.])
>>> double.compiled_loops  # only the float64 loop was compiled
['d->d']
"""

from __future__ import annotations

import contextlib
import functools
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numba import guvectorize
from numba.core import sigutils
from numba.np.numpy_support import as_dtype

from tierflow import compile_cache
from tierflow.dsp.processors.options import GUFUNC_OPTIONS


def _parse_layout(layout: str) -> tuple[int, int]:
    ins, _, outs = layout.replace(" ", "").partition("->")
    return ins.count("("), outs.count("(")


def _loop_types(signature: str, nin: int) -> str:
    """numpy's name of a numba signature's loop: ``'void(float32[:], int32, float32[:])'`` with
    two inputs is ``'fi->f'``."""
    args, _ = sigutils.normalize_signature(signature)
    chars = "".join(as_dtype(getattr(a, "dtype", a)).char for a in args)
    return chars[:nin] + "->" + chars[nin:]


def _key(types_: str | Sequence) -> str:
    """A loop's dtype characters without the arrow: ``'fi->f'``, ``('f', 'i', 'f')`` -> ``'fif'``."""
    if isinstance(types_, str):
        return types_.replace("->", "")
    return "".join(np.dtype(t).char for t in types_)


def _fits(value: object, char: str) -> bool:
    """Whether numpy would pass ``value`` to a loop taking ``char`` without an unsafe cast."""
    kind = np.dtype(char).kind
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return kind in "iufc"
    if isinstance(value, float):
        return kind in "fc"
    if isinstance(value, complex):
        return kind == "c"
    return np.can_cast(np.asarray(value).dtype, char, "safe")


class LazyGufunc:
    """A numba gufunc whose loops are compiled one by one when first used.

    ``signature``, ``types``, ``nin``, ``nout`` and ``ntypes`` read as a numpy gufunc's, without
    compiling anything; :meth:`loop` gives the numpy ufunc of one loop; calling the object runs
    the loop numpy would choose for the arguments.
    """

    __name__: str  # set by functools.update_wrapper

    def __init__(
        self, py_func: Callable, signatures: Sequence[str], layout: str, options: dict
    ) -> None:
        functools.update_wrapper(self, py_func)
        self._py_func = py_func
        self._options = options
        self.signature = layout
        self.nin, self.nout = _parse_layout(layout)
        self.nargs = self.nin + self.nout
        self._signatures = {}
        for sig in signatures:
            self._signatures[_key(_loop_types(sig, self.nin))] = sig
        self.types = [_loop_types(sig, self.nin) for sig in signatures]
        self.ntypes = len(self.types)
        self._loops: dict[str, np.ufunc] = {}
        self._lock = threading.Lock()

    @property
    def compiled_loops(self) -> list[str]:
        """The loops compiled so far, as numpy names them (``'fi->f'``)."""
        return [t for t in self.types if _key(t) in self._loops]

    def loop(self, types_: str | Sequence) -> np.ufunc:
        """The numpy ufunc of the loop ``types_`` (``'fi->f'``, ``'fif'`` or dtypes), compiled on
        first use; it takes the same arguments and has that one loop."""
        key = _key(types_)
        found = self._loops.get(key)
        if found is not None:
            return found
        if key not in self._signatures:
            raise TypeError(f"{self.__name__} has no loop {types_!r}; its loops are {self.types}")
        with self._lock:
            if key not in self._loops:
                self._loops[key] = self._compile(key)
        return self._loops[key]

    def _compile(self, key: str) -> np.ufunc:
        f = self._py_func
        clone = types.FunctionType(
            f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__
        )
        # one cache entry per (processor, loop): see the module's docstring
        clone.__qualname__ = f"{f.__qualname__}__" + "_".join(np.dtype(c).name for c in key)
        compiling = (
            compile_cache.exclusive_compilation(f"{f.__module__}.{clone.__qualname__}")
            if self._options.get("cache")
            else contextlib.nullcontext()
        )
        with compiling:  # kernel and wrapper cached by one process (see compile_cache)
            built = guvectorize([self._signatures[key]], self.signature, **self._options)(clone)
        return built.ufunc

    def resolve(self, args: Sequence, signature: str | Sequence | None = None) -> np.ufunc:
        """The loop for a call with ``args`` (or the explicit ``signature``), as numpy picks it."""
        if signature is not None:
            return self.loop(signature)
        inputs = args[: self.nin]
        for types_ in self.types:
            key = _key(types_)
            if all(_fits(a, c) for a, c in zip(inputs, key, strict=False)):
                return self.loop(key)
        have = ", ".join(
            type(a).__name__ if np.isscalar(a) else str(np.asarray(a).dtype) for a in inputs
        )
        raise TypeError(
            f"{self.__name__}: no loop takes inputs ({have}); its loops are {self.types}"
        )

    def __call__(self, *args: object, **kwargs: Any) -> object:
        return self.resolve(args, kwargs.get("signature"))(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<gufunc {self.__name__} {self.signature}>"


def gufunc(signatures: Sequence[str], layout: str, **options: object) -> Callable:
    """Decorator with ``numba.guvectorize``'s arguments that makes a :class:`LazyGufunc`.

    ``options`` default to :data:`~tierflow.dsp.processors.options.GUFUNC_OPTIONS` (nopython,
    cached on disk).
    """
    merged = {**GUFUNC_OPTIONS, **options}

    def wrap(py_func: Callable) -> LazyGufunc:
        return LazyGufunc(py_func, signatures, layout, merged)

    return wrap
