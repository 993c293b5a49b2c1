"""One way to run work items: serially, in processes, threads, any Executor or a dask Client.

:func:`run_tasks` runs a function over tasks and yields the results in order, streaming, with an
optional progress bar; a failing task raises :class:`~tierflow.errors.TaskError` naming it.

>>> from tierflow.parallel import run_tasks
>>> list(run_tasks(lambda n: n + 1, [1, 2, 3], executor=None))
[2, 3, 4]
"""

from ..errors import TaskError
from .executors import (
    DEFAULT_START_METHOD,
    PRELOAD_MODULES,
    ExecutorLike,
    close_process_pool,
    count_workers,
    describe_executor,
    is_dask_client,
    is_serial,
    make_process_pool,
    resolve_executor,
)
from .progress import progress_bar, progress_enabled
from .tasks import run_tasks, task_label

__all__ = [
    "DEFAULT_START_METHOD",
    "PRELOAD_MODULES",
    "ExecutorLike",
    "TaskError",
    "close_process_pool",
    "count_workers",
    "describe_executor",
    "is_dask_client",
    "is_serial",
    "make_process_pool",
    "progress_bar",
    "progress_enabled",
    "resolve_executor",
    "run_tasks",
    "task_label",
]
