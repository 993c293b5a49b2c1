"""Run one function over many work items, serially or on any pool, results in input order.

>>> list(run_tasks(lambda x: x * x, range(5)))
[0, 1, 4, 9, 16]

Setting a worker up once (opening files, compiling processors, the ``begin`` hooks of a map):
make ``function`` a callable object that does it lazily on its first call and keeps the result
on itself. It is pickled once per job and unpickled once per worker process (cached there for
the job), so the set-up happens once per worker, once in total when serial, and is shared by the
threads of a thread pool (make it thread-safe there). For set-up that must happen when a worker
process starts, create the pool yourself:
``make_process_pool(4, initializer=..., initargs=...)`` and pass it as ``executor``.

>>> class Scale:
...     def __init__(self, factor):
...         self.factor, self.table = factor, None
...     def __call__(self, x):
...         if self.table is None:  # once per worker
...             self.table = {i: i * self.factor for i in range(10)}
...         return self.table[x]
>>> list(run_tasks(Scale(10), [1, 2, 3]))
[10, 20, 30]
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import pickle
import threading
import traceback
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence, Sized
from concurrent.futures import BrokenExecutor
from typing import Any, TypeVar

from ..errors import TaskError
from .executors import (
    ExecutorLike,
    count_workers,
    describe_executor,
    is_dask_client,
    is_serial,
    resolve_executor,
    sends_pickles,
    start_failure,
)
from .progress import progress_bar, progress_enabled

T = TypeVar("T")
R = TypeVar("R")

#: longest task label put in an error message
_MAX_LABEL = 300


def task_label(task: object) -> str:
    """How errors and logs name ``task``: its ``label`` attribute, its ``describe()``, or ``str``.

    >>> task_label("a.lh5 ch1/raw rows 0-100")
    'a.lh5 ch1/raw rows 0-100'
    >>> class Task:
    ...     label = "f.lh5:/ch1/raw[0:10]"
    >>> task_label(Task())
    'f.lh5:/ch1/raw[0:10]'
    """
    try:
        label = getattr(task, "label", None)
        if callable(label):
            label = label()
        describe = getattr(task, "describe", None)
        if label is None and callable(describe):
            label = describe()
        text = str(task) if label is None else str(label)
    except Exception:  # a task that cannot describe itself must not hide the real error
        text = object.__repr__(task)
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 3] + "..."


# ---------------------------------------------------------------------------------------------
# the worker side: functions arrive as cloudpickle bytes and are unpickled once per job


_FUNCTION_CACHE: collections.OrderedDict[str, Callable[[Any], Any]] = collections.OrderedDict()
_FUNCTION_CACHE_SIZE = 4
_FUNCTION_CACHE_LOCK = threading.Lock()


def _load_function(job: str, function_bytes: bytes) -> Callable[[Any], Any]:
    with _FUNCTION_CACHE_LOCK:
        function = _FUNCTION_CACHE.get(job)
        if function is None:
            function = pickle.loads(function_bytes)
            _FUNCTION_CACHE[job] = function
            while len(_FUNCTION_CACHE) > _FUNCTION_CACHE_SIZE:
                _FUNCTION_CACHE.popitem(last=False)
        else:
            _FUNCTION_CACHE.move_to_end(job)
        return function


class _UnpicklableError(Exception):
    """Stands in for an exception raised in a worker that cannot be pickled back."""

    def __init__(self, summary: str, worker_traceback: str):
        super().__init__(summary, worker_traceback)
        self.summary = summary
        self.worker_traceback = worker_traceback

    def __str__(self) -> str:
        return self.summary


def _call_pickled(job: str, function_bytes: bytes, task_bytes: bytes) -> Any:
    """Run in a worker: unpickle the job's function (cached) and the task, and call one on the other."""
    function = _load_function(job, function_bytes)
    task = pickle.loads(task_bytes)
    try:
        return function(task)
    except Exception as err:
        try:  # the pool pickles the exception back with plain pickle
            pickle.loads(pickle.dumps(err))
        except Exception:
            raise _UnpicklableError(
                f"{type(err).__qualname__}: {err} (an exception that cannot be pickled back)",
                "".join(traceback.format_exception(err)),
            ) from None
        raise


# ---------------------------------------------------------------------------------------------
# the caller side


def run_tasks(
    function: Callable[[T], R],
    tasks: Iterable[T],
    executor: ExecutorLike = None,
    *,
    progress: bool | None = None,
    description: str = "running",
    weights: Sequence[float] | None = None,
    unit: str | None = None,
    max_in_flight: int | None = None,
) -> Iterator[R]:
    """Run ``function(task)`` for every task; yield the results in the order of ``tasks``.

    Results stream: at most ``max_in_flight`` tasks (default: twice the workers) are submitted
    ahead of the result being waited for, so memory stays bounded when results are big. ``tasks``
    may be any iterable, and is consumed as work is submitted.

    ``executor`` is ``None``/0/1 (run here, no pool), an int ``N >= 2`` (a process pool of ``N``
    created for this call and shut down after it; -1 for every CPU), any
    ``concurrent.futures.Executor`` or a ``distributed.Client`` (used as they are, never shut
    down). Except for serial runs and thread pools, ``function`` and each task are sent as
    cloudpickle bytes, so lambdas, closures and functions defined in a notebook or ``__main__``
    work (without cloudpickle, which comes with the ``dask`` extra, only importable functions
    do); results come back with the pool's own pickling.

    When a task raises, the tasks not yet started are cancelled, a pool created here is shut
    down (its running workers killed), and :class:`~tierflow.errors.TaskError` is raised naming
    the task (see :func:`task_label`) with the original exception as ``__cause__`` and the
    worker's traceback text as ``remote_traceback``. A worker process that dies gives a
    ``TaskError`` too; when the workers of a pool made here all died while starting (a script
    that starts processes outside ``if __name__ == "__main__":``), the error says so
    (:func:`~tierflow.parallel.executors.start_failure`). Stopping the iteration early
    (``break``, closing the generator) cleans up the same way.

    ``progress``: ``True``/``False`` force a tqdm bar on or off; ``None`` shows one when stderr is
    a terminal or in a notebook. With ``weights`` (one number per task, e.g. its rows) the bar
    counts those, in ``unit`` (default ``"rows"``), and shows the rate; otherwise it counts
    tasks. The bar is closed when the run ends, fails or is abandoned.

    >>> list(run_tasks(str.upper, ["a", "b"], progress=False))
    ['A', 'B']
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     list(run_tasks(len, ["ab", "c", ""], executor=pool))
    [2, 1, 0]
    >>> next(run_tasks(lambda x: 1 / x, [0]))
    Traceback (most recent call last):
    ...
    tierflow.errors.TaskError: task #0 (0) failed: ZeroDivisionError: division by zero
    """
    if not callable(function):
        raise TypeError(f"function must be callable, not {type(function).__name__}")
    is_serial(executor)  # raises on what cannot be an executor
    if max_in_flight is not None and max_in_flight < 1:
        raise ValueError(f"max_in_flight must be >= 1, not {max_in_flight}")
    weight_list = None if weights is None else [float(w) for w in weights]
    if weight_list is not None and isinstance(tasks, Sized) and len(tasks) != len(weight_list):
        raise ValueError(f"{len(weight_list)} weights for {len(tasks)} tasks")
    if weight_list is not None:
        total: float | None = sum(weight_list)
    else:
        total = len(tasks) if isinstance(tasks, Sized) else None
    if unit is None:
        unit = "rows" if weight_list is not None else "tasks"
    show = progress_enabled(progress)
    return _run(
        function,
        tasks,
        executor,
        show=show,
        description=description,
        weights=weight_list,
        total=total,
        unit=unit,
        max_in_flight=max_in_flight,
    )


def _run(
    function: Callable[[Any], Any],
    tasks: Iterable[Any],
    executor: ExecutorLike,
    *,
    show: bool,
    description: str,
    weights: list[float] | None,
    total: float | None,
    unit: str,
    max_in_flight: int | None,
) -> Iterator[Any]:
    bar = None
    try:
        if show:
            bar = progress_bar(
                total, description=description, unit=unit, postfix=describe_executor(executor)
            )
        with resolve_executor(executor) as resolved:
            if resolved is None:
                results = _run_serial(function, tasks)
            else:
                window = max_in_flight or 2 * count_workers(resolved)
                owned = resolved is not executor  # a pool made here from an int
                results = _run_pool(function, tasks, resolved, window, owned=owned)
            with contextlib.closing(results):
                for index, result in enumerate(results):
                    if bar is not None:
                        if weights is None:
                            bar.update(1)
                        elif index < len(weights):
                            bar.update(weights[index])
                        else:
                            raise ValueError(f"{len(weights)} weights for more tasks than that")
                    yield result
    finally:
        if bar is not None:
            bar.close()


def _run_serial(function: Callable[[Any], Any], tasks: Iterable[Any]) -> Generator[Any, None, None]:
    for index, task in enumerate(tasks):
        try:
            result = function(task)
        except Exception as err:
            raise _task_error(err, index, task, remote=False) from err
        yield result


def _task_error(err: BaseException, index: int, task: object, *, remote: bool) -> TaskError:
    label = task_label(task)
    if isinstance(err, _UnpicklableError):
        return TaskError(
            f"task #{index} ({label}) failed: {err.summary}",
            task=label,
            index=index,
            remote_traceback=err.worker_traceback,
        )
    return TaskError(
        f"task #{index} ({label}) failed: {type(err).__name__}: {err}",
        task=label,
        index=index,
        remote_traceback="".join(traceback.format_exception(err)) if remote else None,
    )


def _is_dead_worker(err: BaseException) -> bool:
    # BrokenProcessPool (and loky's TerminatedWorkerError), dask's KilledWorker
    return isinstance(err, BrokenExecutor) or type(err).__name__ == "KilledWorker"


def _pickler() -> Callable[[Any], bytes]:
    # cloudpickle comes with dask; without it, plain pickle sends importable functions only
    try:
        import cloudpickle
    except ImportError:
        return pickle.dumps
    return cloudpickle.dumps


class _Backend:
    """Submitting to, waiting on and cancelling futures of one kind of executor."""

    def __init__(self, executor: Any, function: Callable[[Any], Any]):
        self.executor = executor
        self.dask = is_dask_client(executor)
        self.pickles = sends_pickles(executor)
        self.function = function
        self.job = uuid.uuid4().hex
        self.function_bytes = b""
        self.dumps = _pickler()
        if self.pickles:
            try:
                self.function_bytes = self.dumps(function)
            except Exception as err:
                hint = (
                    "use threads or executor=None for functions that hold unpicklable state "
                    "(open files, locks)"
                )
                if self.dumps is pickle.dumps:
                    hint = "install cloudpickle to send lambdas and closures, or " + hint
                raise TaskError(
                    f"cannot send {function!r} to {describe_executor(executor)}: "
                    f"{type(err).__name__}: {err}; {hint}"
                ) from err

    def submit(self, task: Any) -> Any:
        if not self.pickles:
            return self.executor.submit(self.function, task)
        task_bytes = self.dumps(task)
        if self.dask:
            return self.executor.submit(
                _call_pickled, self.job, self.function_bytes, task_bytes, pure=False
            )
        return self.executor.submit(_call_pickled, self.job, self.function_bytes, task_bytes)

    def cancel(self, futures: list[Any]) -> None:
        if not futures:
            return
        if self.dask:
            with contextlib.suppress(Exception):  # a closed client has nothing to cancel
                self.executor.cancel(futures)
        else:
            for future in futures:
                future.cancel()


def _run_pool(
    function: Callable[[Any], Any],
    tasks: Iterable[Any],
    executor: Any,
    window: int,
    *,
    owned: bool,
) -> Generator[Any, None, None]:
    backend = _Backend(executor, function)
    pending: collections.deque[tuple[int, Any, Any]] = collections.deque()
    numbered = enumerate(tasks)
    try:
        while True:
            while len(pending) < window:
                step = next(numbered, None)
                if step is None:
                    break
                index, task = step
                try:
                    future = backend.submit(task)
                except Exception as err:
                    what = describe_executor(executor)
                    raise TaskError(
                        f"task #{index} ({task_label(task)}) could not be sent to {what}: "
                        f"{type(err).__name__}: {err}",
                        task=task_label(task),
                        index=index,
                    ) from err
                pending.append((index, task, future))
            if not pending:
                return
            index, task, future = pending.popleft()
            try:
                result = future.result()
            except Exception as err:
                if _is_dead_worker(err):
                    raise _dead_worker_error(err, index, task, pending, executor, owned) from err
                raise _task_error(err, index, task, remote=True) from err
            del future
            yield result
    finally:
        backend.cancel([future for _, _, future in pending])
        pending.clear()


def _dead_worker_error(
    err: BaseException,
    index: int,
    task: object,
    pending: Iterable[Any],
    executor: Any,
    owned: bool,
) -> TaskError:
    label = task_label(task)
    hint = ""
    if not owned and isinstance(err, BrokenExecutor):
        hint = " The executor passed in is now broken: create a new one."
    reason = start_failure(executor)
    if reason is not None:
        message = f"task #{index} ({label}) was not run: {reason}.{hint}"
    else:
        others = [f"#{i} ({task_label(t)})" for i, t, _ in itertools.islice(pending, 5)]
        also = f"; also in flight: {', '.join(others)}" if others else ""
        message = (
            f"task #{index} ({label}) failed: a worker died (killed, crashed, out of memory or "
            f"exited) while it or another task was running{also}: {type(err).__name__}: {err}."
            f"{hint}"
        )
    return TaskError(
        message,
        task=label,
        index=index,
        remote_traceback="".join(traceback.format_exception(err)),
    )
