"""Compilation options shared by every processor."""

from __future__ import annotations

#: options for ``numba.guvectorize``: cached on disk so a new process starts in seconds
#: (gufuncs already use numpy's error model: a division by zero gives inf or NaN)
GUFUNC_OPTIONS: dict = {"nopython": True, "cache": True}

#: options for the ``numba.njit`` helpers that the gufuncs call; the ``numpy`` error model
#: gives IEEE results (inf, NaN) instead of raising on a division by zero, as in the gufuncs.
#: Helpers are not cached on their own: a cached gufunc already holds their compiled code, and
#: helpers are compiled for their argument types in whatever order a process meets them, so
#: two processes filling one cache at once could number the entries differently and leave an
#: index that points at the wrong machine code. Each gufunc loop is cached as its own function
#: with one signature (:mod:`~tierflow.dsp.processors._gufunc`), so concurrent writers agree.
#: The cache is keyed on all of tierflow's sources (:mod:`tierflow.compile_cache`), so editing a
#: helper never leaves a gufunc that calls it with stale compiled code.
JIT_OPTIONS: dict = {"cache": False, "error_model": "numpy"}

#: fast-math flags for reductions (sums, dot products): reassociation lets LLVM vectorise them.
#: ``nnan`` and ``ninf`` are left out on purpose, so NaN still goes in and comes out.
REDUCTION_FASTMATH: frozenset = frozenset({"reassoc", "contract", "nsz"})
