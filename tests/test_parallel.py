"""tierflow.parallel: one run_tasks for serial, processes, threads, any Executor and dask."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from tierflow.errors import TaskError, TierflowError
from tierflow.parallel import (
    count_workers,
    describe_executor,
    is_dask_client,
    make_process_pool,
    resolve_executor,
    run_tasks,
    task_label,
)

KINDS = ["serial", "processes", "threads", "user_processes", "dask"]


# ------------------------------------------------------------------------------------ helpers


class Item:
    """A task that names itself, like the iterator's (file, group, entry range)."""

    def __init__(self, n: int):
        self.n = n
        self.label = f"file{n}.lh5:/ch{n}/raw rows {10 * n}-{10 * n + 10}"


def square(x: int) -> int:
    time.sleep(0.002 * ((7 * x) % 3))  # later tasks often finish first
    return x * x


def square_item(item: Item) -> int:
    return item.n * item.n


def fail_on_three(item: Item) -> int:
    if item.n == 3:
        raise ValueError(f"bad value {item.n}")
    return item.n


def exit_on_two(x: int) -> int:
    if x == 2:
        os._exit(3)
    time.sleep(0.05)
    return x


def pid_of(_: object) -> int:
    return os.getpid()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def thread_pool():
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def user_process_pool():
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        yield pool


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(params=KINDS)
def executor(request):
    kind = request.param
    if kind == "serial":
        return None
    if kind == "processes":
        return 2
    if kind == "threads":
        return request.getfixturevalue("thread_pool")
    if kind == "user_processes":
        return request.getfixturevalue("user_process_pool")
    return request.getfixturevalue("dask_client")


# ------------------------------------------------------------------------------------ results


def test_same_results_in_the_same_order(executor):
    assert list(run_tasks(square, range(20), executor=executor)) == [x * x for x in range(20)]


def test_empty_task_list(executor):
    assert list(run_tasks(square, [], executor=executor)) == []


def test_task_objects_and_generators(executor):
    items = (Item(n) for n in range(7))  # not sized: consumed as work is submitted
    assert list(run_tasks(square_item, items, executor=executor)) == [n * n for n in range(7)]


@pytest.mark.parametrize("kind", ["processes", "user_processes", "dask"])
def test_lambdas_closures_and_local_classes_cross_processes(kind, request):
    fixture = {"user_processes": "user_process_pool", "dask": "dask_client"}.get(kind)
    executor = 2 if fixture is None else request.getfixturevalue(fixture)
    offset = 5

    def add_offset(x):
        return x + offset

    class Local:  # neither the function nor the task can be pickled by reference
        def __init__(self, value):
            self.value = value

    assert list(run_tasks(lambda x: 3 * x, [1, 2, 3], executor=executor)) == [3, 6, 9]
    assert list(run_tasks(add_offset, [1, 2], executor=executor)) == [6, 7]
    tasks = [Local(4), Local(5)]
    assert list(run_tasks(lambda t: t.value * offset, tasks, executor=executor)) == [20, 25]


def test_processes_really_run_elsewhere():
    pids = set(run_tasks(pid_of, range(4), executor=2))
    assert os.getpid() not in pids
    assert set(run_tasks(pid_of, range(3), executor=None)) == {os.getpid()}


def test_more_workers_than_tasks(thread_pool):
    assert list(run_tasks(square, [3, 4], executor=4)) == [9, 16]
    with ThreadPoolExecutor(8) as pool:
        assert list(run_tasks(square, [5], executor=pool)) == [25]


def test_user_executors_are_not_shut_down(user_process_pool, thread_pool):
    for pool in (user_process_pool, thread_pool):
        list(run_tasks(square, range(3), executor=pool))
        assert pool.submit(abs, -2).result() == 2


def test_state_on_a_callable_is_kept_per_worker_for_one_run():
    class Counting:
        def __init__(self):
            self.calls = 0

        def __call__(self, _):
            self.calls += 1
            return os.getpid(), self.calls

    for _ in range(2):  # each run starts from the function as it was sent
        by_worker: dict[int, list[int]] = {}
        for pid, calls in run_tasks(Counting(), range(12), executor=2):
            by_worker.setdefault(pid, []).append(calls)
        assert sum(len(calls) for calls in by_worker.values()) == 12
        for calls in by_worker.values():
            assert calls == list(range(1, len(calls) + 1))
        assert max(max(calls) for calls in by_worker.values()) > 1


def test_work_in_flight_is_bounded():
    started: list[int] = []
    lock = threading.Lock()

    def record(x):
        with lock:
            started.append(x)
        return x

    with ThreadPoolExecutor(2) as pool:
        for result in run_tasks(record, range(40), executor=pool, max_in_flight=3):
            time.sleep(0.001)
            with lock:
                assert max(started) <= result + 3
    assert sorted(started) == list(range(40))


def test_resolve_executor_shares_one_pool_and_shuts_it_down():
    with resolve_executor(2) as pool:
        assert isinstance(pool, ProcessPoolExecutor)
        first = set(run_tasks(pid_of, range(4), executor=pool))
        second = set(run_tasks(pid_of, range(4), executor=pool))
        assert first | second <= set(pool._processes)
    with pytest.raises(RuntimeError):
        pool.submit(abs, 1)
    with resolve_executor(0) as serial:
        assert serial is None


# ------------------------------------------------------------------------------------ errors


def test_an_error_names_the_task_and_chains_the_cause(executor):
    items = [Item(n) for n in range(8)]
    with pytest.raises(TaskError) as info:
        list(run_tasks(fail_on_three, items, executor=executor))
    error = info.value
    assert isinstance(error, TierflowError)
    assert "#3" in str(error)
    assert items[3].label in str(error)
    assert error.task == items[3].label and error.index == 3
    assert isinstance(error.__cause__, ValueError)
    assert "bad value 3" in str(error.__cause__)
    if executor is None:
        assert error.remote_traceback is None
    else:
        assert "fail_on_three" in error.remote_traceback
        assert "bad value 3" in error.remote_traceback
    # the executor that was passed in still works afterwards
    assert list(run_tasks(square, range(4), executor=executor)) == [0, 1, 4, 9]


def test_results_before_the_failing_task_are_yielded():
    seen = []
    with pytest.raises(TaskError):
        for value in run_tasks(fail_on_three, [Item(n) for n in range(6)], executor=2):
            seen.append(value)
    assert seen == [0, 1, 2]


def test_serial_error_traceback_reaches_the_function():
    with pytest.raises(TaskError, match=r"task #1 \(0\) failed: ZeroDivisionError") as info:
        list(run_tasks(lambda x: 1 / x, [1, 0, 2]))
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_a_dying_worker_gives_a_task_error_not_a_hang():
    with pytest.raises(TaskError, match="worker died") as info:
        list(run_tasks(exit_on_two, range(6), executor=2))
    assert isinstance(info.value.__cause__, BrokenProcessPool)
    assert info.value.index is not None and info.value.index <= 2
    assert list(run_tasks(square, range(3), executor=2)) == [0, 1, 4]  # nothing left broken


def test_a_dying_worker_in_a_user_pool():
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as pool:
        with pytest.raises(TaskError, match="now broken") as info:
            list(run_tasks(exit_on_two, range(6), executor=pool))
        assert isinstance(info.value.__cause__, BrokenProcessPool)


#: a script that starts processes at import time, as the README's quickstart once did
UNGUARDED_SCRIPTS = {
    "processes": "from tierflow.parallel import run_tasks\n"
    "print(list(run_tasks(abs, [-1, 2], executor=2)))\n",
    "spawn": "from tierflow.parallel import make_process_pool, run_tasks\n"
    "with make_process_pool(2, start_method='spawn') as pool:\n"
    "    print(list(run_tasks(abs, [-1, 2], executor=pool)))\n",
}


@pytest.mark.parametrize("kind", sorted(UNGUARDED_SCRIPTS))
def test_a_script_starting_processes_without_a_main_guard_is_told_to_add_one(tmp_path, kind):
    script = tmp_path / "analysis.py"
    script.write_text(UNGUARDED_SCRIPTS[kind])
    env = dict(os.environ)
    src = str(Path(run_tasks.__code__.co_filename).resolve().parents[2])  # the tierflow under test
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    # the main process's error (each worker printed its own: "could not be sent")
    prefix = "tierflow.errors.TaskError: task #0 (-1) was not run"
    [error] = [x for x in done.stderr.splitlines() if x.startswith(prefix)]
    assert "worker processes died while starting" in error
    assert f"the main script {script} again" in error
    assert "under the guard" in error and 'if __name__ == "__main__":' in error
    assert "a worker died" not in error


def _wait_then_fail(path: str) -> None:
    deadline = time.monotonic() + 60
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    raise RuntimeError("task 0 failed")


def _write_pid_then_sleep(path: str) -> None:
    Path(path + ".tmp").write_text(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(120)


def _dispatch(task: tuple[str, str]) -> None:
    kind, path = task
    (_wait_then_fail if kind == "fail" else _write_pid_then_sleep)(path)


def test_failure_kills_the_running_workers_of_our_pool(tmp_path):
    path = str(tmp_path / "pid")
    with pytest.raises(TaskError, match="task 0 failed"):
        list(run_tasks(_dispatch, [("fail", path), ("sleep", path)], executor=2))
    assert not _pid_alive(int(Path(path).read_text()))


def test_breaking_out_early_kills_the_running_workers(tmp_path):
    path = str(tmp_path / "pid")

    def first_waits(task):
        kind, path = task
        if kind == "first":
            while not Path(path).exists():
                time.sleep(0.01)
            return "first"
        _write_pid_then_sleep(path)

    results = run_tasks(first_waits, [("first", path), ("sleep", path)], executor=2)
    assert next(results) == "first"
    results.close()
    assert not _pid_alive(int(Path(path).read_text()))


def test_unpicklable_exception_from_a_worker():
    class LocalError(Exception):
        pass

    def raise_local(x):
        raise LocalError(f"local {x}")

    with pytest.raises(TaskError, match="LocalError: local 7") as info:
        list(run_tasks(raise_local, [7], executor=2))
    assert "local 7" in str(info.value.__cause__)
    assert "raise_local" in info.value.remote_traceback  # the worker's frames are kept


def test_unpicklable_function_for_processes():
    lock = threading.Lock()

    def locked(x):
        with lock:
            return x

    with pytest.raises(TaskError, match="cannot send"):
        list(run_tasks(locked, [1], executor=2))
    assert list(run_tasks(locked, [1], executor=None)) == [1]  # fine in this process


def test_without_cloudpickle_importable_functions_still_work(monkeypatch, thread_pool):
    monkeypatch.setitem(sys.modules, "cloudpickle", None)  # import cloudpickle -> ImportError
    assert list(run_tasks(square, range(4), executor=2)) == [0, 1, 4, 9]
    with pytest.raises(TaskError, match="install cloudpickle"):
        list(run_tasks(lambda x: x, [1], executor=2))
    assert list(run_tasks(lambda x: -x, [1], executor=thread_pool)) == [-1]


def test_bad_arguments():
    with pytest.raises(TypeError):
        run_tasks(square, [1], executor=True)
    with pytest.raises(TypeError):
        run_tasks(square, [1], executor="processes")
    with pytest.raises(ValueError):
        run_tasks(square, [1], executor=-2)
    with pytest.raises(TypeError):
        run_tasks(42, [1])
    with pytest.raises(ValueError, match="2 weights for 3 tasks"):
        run_tasks(square, [1, 2, 3], weights=[1, 2])


def test_task_error_pickles():
    error = TaskError("task #2 (x) failed", task="x", index=2, remote_traceback="tb")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.task, copy.index, copy.remote_traceback) == (
        "task #2 (x) failed",
        "x",
        2,
        "tb",
    )


# ------------------------------------------------------------------------------------ progress


def test_progress_bar_counts_tasks(capsys):
    assert list(run_tasks(square, range(5), progress=True, description="squaring")) == [
        x * x for x in range(5)
    ]
    err = capsys.readouterr().err
    assert "squaring" in err
    assert "5/5" in err
    assert "serial" in err


def test_progress_bar_counts_weights(capsys):
    weights = [100, 200, 300]
    list(run_tasks(square, range(3), executor=2, progress=True, weights=weights))
    err = capsys.readouterr().err
    assert "600/600" in err
    assert "rows/s" in err
    assert "2 processes" in err


def test_no_progress_bar_when_not_a_terminal_or_off(capsys):
    list(run_tasks(square, range(3)))
    list(run_tasks(square, range(3), progress=False))
    assert capsys.readouterr().err == ""


def test_progress_bar_is_closed_on_error(capsys):
    from tqdm.auto import tqdm

    before = len(getattr(tqdm, "_instances", ()))
    with pytest.raises(TaskError):
        list(run_tasks(fail_on_three, [Item(n) for n in range(5)], progress=True))
    assert len(getattr(tqdm, "_instances", ())) == before
    assert "3/5" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ describing


def test_describe_and_count(thread_pool, user_process_pool):
    assert describe_executor(None) == describe_executor(1) == "serial"
    assert describe_executor(3).startswith("3 processes")
    assert describe_executor(thread_pool) == "2 threads"
    assert describe_executor(user_process_pool) == "2 processes (forkserver)"
    assert [count_workers(x) for x in (None, 3, thread_pool)] == [1, 3, 2]
    assert count_workers(-1) >= 1
    pool = make_process_pool(2)
    pool.shutdown()
    assert not is_dask_client(pool)


def test_describe_dask(dask_client):
    assert is_dask_client(dask_client)
    assert "2 workers" in describe_executor(dask_client)
    assert count_workers(dask_client) == 2


def test_task_label():
    class Described:
        def describe(self):
            return "a.lh5 rows 0-5"

    assert task_label(Described()) == "a.lh5 rows 0-5"
    assert task_label(Item(2)) == Item(2).label
    assert task_label(("a.lh5", 3)) == "('a.lh5', 3)"
    assert len(task_label("x" * 1000)) == 300
