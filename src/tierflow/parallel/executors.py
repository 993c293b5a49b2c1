"""Turning what a user passes as ``executor`` into something that runs work, and naming it.

An ``executor`` may be:

- ``None``, ``0`` or ``1``: run serially in this process;
- an int ``N >= 2`` (or ``-1`` for every usable CPU): a :class:`~concurrent.futures.ProcessPoolExecutor`
  of ``N`` workers, created for the job and shut down after it (see :func:`make_process_pool`);
- any :class:`concurrent.futures.Executor` (threads, processes, loky, ...): used as it is and
  never shut down by tierflow;
- a ``distributed.Client``: used as it is (recognised without importing ``distributed``).

>>> describe_executor(None)
'serial'
>>> with resolve_executor(1) as executor:
...     print(executor)
None
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import weakref
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeGuard

#: What ``executor=`` accepts: ``None``/0/1 (serial), an int of processes, an ``Executor``, or
#: a ``distributed.Client`` (typed ``Any`` so that ``distributed`` stays optional).
ExecutorLike = None | int | Executor | Any

# Start method of the process pools that tierflow creates (``executor=N``).
#
# 'forkserver' (where the platform has it, 'spawn' elsewhere), not 'fork', because:
# - forking copies a process that often has threads (tqdm's monitor, a dask client's event loop,
#   numba/OpenMP pools, the user's own); a lock held by one of them at fork time stays locked
#   forever in the child, and HDF5 state with files open in h5py (the lh5 file cache) must not be
#   shared by two processes. Python 3.12 warns when forking a threaded process and 3.14 made
#   'forkserver' the default on Linux for these reasons.
# - the cost of not forking is paid once: the fork server is started on first use and imports
#   PRELOAD_MODULES (numpy, h5py, numba, tierflow.lh5), then every worker of every later pool is
#   forked from that clean, single-threaded server. Measured on a 2-core Linux box, 4 workers
#   importing tierflow.lh5 and running 8 tasks: fork 0.04 s per pool; forkserver with preload
#   1.1 s for the first pool then 0.05 s per pool; forkserver without preload 2.5 s and spawn
#   3.0 s per pool (every worker re-imports numpy/h5py/numba).
# Like 'spawn', 'forkserver' re-imports a script's ``__main__`` in each worker, so scripts need the
# usual ``if __name__ == "__main__":`` guard (notebooks and ``python -c`` do not; a script fed on
# stdin, which cannot be re-imported, gets 'fork'). Functions and tasks are sent with
# cloudpickle, so lambdas and functions defined in a notebook or in ``__main__`` work.
# To fork anyway, pass ``ProcessPoolExecutor(N, mp_context=multiprocessing.get_context("fork"))``.
DEFAULT_START_METHOD = (
    "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
)

#: Modules the fork server imports once so that workers start with them loaded. Add to it (before
#: the first pool of the session is created) to preload more, e.g. ``"tierflow.dsp"``.
PRELOAD_MODULES: list[str] = ["numpy", "h5py", "tierflow.lh5", "tierflow.iterate"]


def is_dask_client(executor: object) -> TypeGuard[Any]:
    """Whether ``executor`` is a ``distributed.Client``, without importing ``distributed``.

    >>> is_dask_client(None), is_dask_client(4)
    (False, False)
    """
    distributed = sys.modules.get("distributed")
    client = getattr(distributed, "Client", None) if distributed is not None else None
    return isinstance(client, type) and isinstance(executor, client)


def is_serial(executor: ExecutorLike) -> bool:
    """Whether ``executor`` means "run in this process": ``None``, ``0`` or ``1``.

    >>> [is_serial(x) for x in (None, 0, 1, 2)]
    [True, True, True, False]
    """
    _check_int(executor)
    return executor is None or (isinstance(executor, int) and executor in (0, 1))


def _check_int(executor: ExecutorLike) -> None:
    if isinstance(executor, bool):
        raise TypeError("executor must be None, an int, an Executor or a dask Client, not a bool")
    if isinstance(executor, int) and executor < -1:
        raise ValueError(f"executor={executor}: the number of processes must be >= 0 (or -1)")
    if not (
        executor is None
        or isinstance(executor, (int, Executor))
        or is_dask_client(executor)
        or callable(getattr(executor, "submit", None))
    ):
        raise TypeError(
            "executor must be None, an int, a concurrent.futures.Executor or a dask Client, "
            f"not {type(executor).__name__}"
        )


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _process_count(executor: int) -> int:
    return _usable_cpus() if executor == -1 else executor


def make_process_pool(
    max_workers: int, *, start_method: str | None = None, **kwargs: Any
) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` started the way tierflow starts its own pools.

    ``start_method`` defaults to :data:`DEFAULT_START_METHOD` (``"forkserver"`` on Linux and macOS,
    ``"spawn"`` on Windows); with ``"forkserver"``, :data:`PRELOAD_MODULES` are imported once by the
    fork server. ``kwargs`` go to ``ProcessPoolExecutor`` (``initializer``, ``initargs``, ...).
    The caller shuts the pool down, e.g. with a ``with`` block.

    >>> pool = make_process_pool(2)
    >>> describe_executor(pool) == f"2 processes ({DEFAULT_START_METHOD})"
    True
    >>> pool.shutdown()
    """
    method = start_method or _default_start_method()
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        _add_forkserver_preload(context)
    started = context.Event()
    initializer = kwargs.pop("initializer", None)
    initargs = (started, initializer, kwargs.pop("initargs", ()))
    pool = ProcessPoolExecutor(
        max_workers, mp_context=context, initializer=_mark_started, initargs=initargs, **kwargs
    )
    _WORKER_STARTED[pool] = (method, started)
    return pool


#: for each pool made by make_process_pool: its start method, and an event set once one of its
#: workers has started
_WORKER_STARTED: weakref.WeakKeyDictionary[ProcessPoolExecutor, tuple[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def _mark_started(started: Any, initializer: Any, initargs: tuple) -> None:
    # runs in each worker once it is set up (for 'spawn' and 'forkserver': after it imported the
    # main script again), before the user's initializer and any task
    started.set()
    if initializer is not None:
        initializer(*initargs)


def start_failure(executor: object) -> str | None:
    """Why the workers of a broken ``executor`` died, if none of them ever started; ``None`` if
    one did or if it was not made by :func:`make_process_pool` (so nothing is known).

    Workers started with ``'spawn'`` or ``'forkserver'`` import the main script again before
    they run anything; a script that starts processes outside ``if __name__ == "__main__":``
    makes each of them try to start processes of its own while it is being imported, which
    Python refuses, and the worker dies. This says so, naming the script.

    >>> start_failure(None) is None
    True
    """
    known = _WORKER_STARTED.get(executor) if isinstance(executor, ProcessPoolExecutor) else None
    if known is None or known[1].is_set():
        return None
    method = known[0]
    text = "its worker processes died while starting, before running any task"
    main = _reimported_main_script()
    if method == "fork" or main is None:
        return f"{text} (the workers' tracebacks are printed above)"
    return (
        f"{text}. With the {method!r} start method each worker first imports the main {main} "
        "again: if it starts processes (processes=N, executor=N) outside "
        '`if __name__ == "__main__":`, every worker tries to start processes of its own while '
        "it is being imported, and dies. Put that code under the guard, as the README's "
        "quickstart does (the workers' tracebacks are printed above)"
    )


def _reimported_main_script() -> str | None:
    """The main script (``"script PATH"``) or module (``"module NAME"``) that 'spawn' and
    'forkserver' workers import again, if there is one."""
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name:  # python -m package.module
        return f"module {name}"
    path = getattr(main, "__file__", None)
    return f"script {path}" if path is not None and os.path.isfile(path) else None


def _default_start_method() -> str:
    # 'spawn' and 'forkserver' workers re-run the main script, which cannot be done for
    # `python - < script.py` (its __file__ is '<stdin>'): every worker would die at start.
    if (
        DEFAULT_START_METHOD != "fork"
        and not _main_can_be_reimported()
        and "fork" in multiprocessing.get_all_start_methods()
    ):
        return "fork"
    return DEFAULT_START_METHOD


def _main_can_be_reimported() -> bool:
    main = sys.modules.get("__main__")
    # no __file__: notebooks, python -c
    return getattr(main, "__file__", None) is None or _reimported_main_script() is not None


def _add_forkserver_preload(context: Any) -> None:
    # Keep what the user (or the default, ['__main__']) asked the fork server to preload; only
    # takes effect if the fork server of this process has not started yet.
    from multiprocessing import forkserver

    current = list(
        getattr(getattr(forkserver, "_forkserver", None), "_preload_modules", None) or []
    )
    wanted = current + [m for m in PRELOAD_MODULES if m not in current]
    if wanted != current:
        context.set_forkserver_preload(wanted)


def close_process_pool(pool: ProcessPoolExecutor, *, terminate: bool = False) -> None:
    """Shut ``pool`` down; with ``terminate``, kill its running workers first instead of waiting.

    Used when a job fails or is abandoned, so that no task keeps running and nothing hangs; the
    pool cannot be used afterwards either way.

    >>> pool = make_process_pool(2)
    >>> close_process_pool(pool, terminate=True)
    """
    if terminate:
        processes = getattr(pool, "_processes", None) or {}
        for process in list(processes.values()):
            if process.is_alive():
                process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def resolve_executor(executor: ExecutorLike = None) -> Iterator[Executor | Any | None]:
    """The executor to use for ``executor``, for the duration of a ``with`` block.

    Gives ``None`` for serial work, a new process pool for an int ``N >= 2`` (shut down at the end
    of the block, its workers killed if the block raises), and anything else as it is. Use it to
    share one pool between several :func:`~tierflow.parallel.run_tasks` calls.

    >>> from tierflow.parallel import run_tasks
    >>> with resolve_executor(None) as executor:
    ...     list(run_tasks(abs, [-1, 2], executor=executor))
    [1, 2]
    """
    if is_serial(executor):
        yield None
    elif isinstance(executor, int):
        pool = make_process_pool(_process_count(executor))
        completed = False
        try:
            yield pool
            completed = True
        finally:
            close_process_pool(pool, terminate=not completed)
    else:
        yield executor


def count_workers(executor: ExecutorLike) -> int:
    """How many tasks ``executor`` runs at once (1 for serial).

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(3) as pool:
    ...     count_workers(pool)
    3
    >>> count_workers(None), count_workers(4)
    (1, 4)
    """
    if is_serial(executor):
        return 1
    if isinstance(executor, int):
        return _process_count(executor)
    if is_dask_client(executor):
        try:
            threads = sum(executor.nthreads().values())
        except Exception:  # closed or not yet connected
            threads = 0
        return threads or _usable_cpus()
    workers = getattr(executor, "_max_workers", None)  # stdlib pools and loky
    return workers if isinstance(workers, int) and workers > 0 else _usable_cpus()


def describe_executor(executor: ExecutorLike) -> str:
    """A short description of ``executor`` for progress bars and logs.

    >>> describe_executor(0)
    'serial'
    >>> describe_executor(4) == f"4 processes ({DEFAULT_START_METHOD})"
    True
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     describe_executor(pool)
    '2 threads'
    """
    if is_serial(executor):
        return "serial"
    if isinstance(executor, int):
        return f"{_process_count(executor)} processes ({_default_start_method()})"
    if is_dask_client(executor):
        address = getattr(getattr(executor, "scheduler", None), "address", None) or "?"
        try:
            threads = executor.nthreads()
            size = f"{len(threads)} workers, {sum(threads.values())} threads"
        except Exception:
            size = "not connected"
        return f"dask client of {address} ({size})"
    workers = count_workers(executor)
    if isinstance(executor, ThreadPoolExecutor):
        return f"{workers} threads"
    if isinstance(executor, ProcessPoolExecutor):
        context = getattr(executor, "_mp_context", None)
        method = context.get_start_method() if context is not None else "?"
        return f"{workers} processes ({method})"
    return f"{type(executor).__name__} ({workers} workers)"


def sends_pickles(executor: ExecutorLike) -> bool:
    """Whether work sent to ``executor`` crosses a process boundary (all but serial and threads).

    >>> sends_pickles(None), sends_pickles(2)
    (False, True)
    """
    return not is_serial(executor) and not isinstance(executor, ThreadPoolExecutor)
