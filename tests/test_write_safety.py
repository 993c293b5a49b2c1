"""Writes that cannot lose data: kills, concurrent writers, damaged input, leftovers.

The kill tests kill a writer process at chosen points of an append (the Nth write of bytes into
the file, half-way through it, or half-way through saving a page in the undo journal); the
kill -9 fuzz in ``tests/fuzz/test_fuzz_writes.py`` kills at random moments.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from tierflow import lh5
from tierflow.errors import LH5FileError, LH5WriteError
from tierflow.lh5 import settings, undo, writelock
from tierflow.lh5.safewrite import locked_target, write_new_file
from tierflow.lh5.undo import UndoFile, journal_path, recover_interrupted_write
from tierflow.lh5.writelock import WriteLock, lock_path
from tierflow.types import Array, Table, VectorOfVectors, WaveformTable


def table(n: int, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 4, n)
    return Table(
        {
            "energy": Array(rng.normal(size=n)),
            "channel": Array(rng.integers(0, 100, n).astype("int32")),
            "hits": VectorOfVectors(
                flattened_data=Array(rng.normal(size=int(lengths.sum())).astype("float32")),
                cumulative_length=Array(np.cumsum(lengths)),
            ),
            "waveform": WaveformTable(
                t0=Array(np.zeros(n, "float32")),
                dt=Array(np.full(n, 16.0, "float32")),
                values=rng.integers(0, 2**16, (n, 50)).astype("uint16"),
            ),
        }
    )


def rows(path: str, name: str = "tb") -> dict[str, list]:
    tb = lh5.read(name, path)
    return {
        "energy": tb["energy"].nda.tolist(),
        "hits": tb["hits"].view_as("ak").tolist(),
        "values": tb["waveform"]["values"].nda.tolist(),
    }


def expected_rows(*tables: Table) -> dict[str, list]:
    tb = Table.concat(list(tables))
    return {
        "energy": tb["energy"].nda.tolist(),
        "hits": tb["hits"].view_as("ak").tolist(),
        "values": tb["waveform"]["values"].nda.tolist(),
    }


def hidden_files(path: str) -> list[str]:
    directory, base = os.path.split(path)
    return sorted(f for f in os.listdir(directory) if f.startswith(f".{base}."))


@pytest.fixture(scope="module")
def forkserver():
    """Writer processes fork from a server that has imported tierflow and this module."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tierflow.lh5", __name__])
    return ctx


# --- refused before any write ---------------------------------------------------------------
def test_table_with_columns_of_different_lengths_is_refused_naming_them(tmp_path):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(10), "tb", path)
    before = Path(path).read_bytes()
    bad = table(5, seed=1)
    bad["energy"].resize(3)
    with pytest.raises(LH5WriteError, match=r"'energy': 3.*'channel': 5") as err:
        lh5.write(bad, "tb", path)
    assert err.value.file == path and "nothing was written" in str(err.value)
    assert Path(path).read_bytes() == before
    with pytest.raises(LH5WriteError, match="differ in length"):
        lh5.write(bad, "tb", str(tmp_path / "new.lh5"))
    assert not os.path.exists(tmp_path / "new.lh5")
    assert hidden_files(path) == []


def test_nested_table_with_columns_of_different_lengths_is_refused(tmp_path):
    bad = table(5)
    bad["waveform"]["t0"].resize(7)
    with pytest.raises(LH5WriteError, match=r"tb/waveform.*'t0': 7"):
        lh5.write(bad, "tb", str(tmp_path / "f.lh5"))


def test_vector_of_vectors_whose_lengths_point_past_its_data_is_refused(tmp_path):
    vov = VectorOfVectors(flattened_data=Array(np.arange(3.0)), cumulative_length=Array([2, 5]))
    with pytest.raises(LH5WriteError, match="cumulative_length ends at 5 but flattened_data has 3"):
        lh5.write(Table({"v": vov}), "tb", str(tmp_path / "f.lh5"))


def test_overwrite_from_past_the_end_is_refused_and_the_table_keeps_its_rows(tmp_path):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(100), "tb", path)
    with pytest.raises(LH5WriteError, match="write_start 1000000 is past the end of the 100 rows"):
        lh5.write(table(5, seed=1), "tb", path, wo_mode="overwrite", write_start=10**6)
    assert lh5.read_n_rows("tb", path) == 100
    with h5py.File(path, "r") as h5f:
        assert h5f["tb/energy"].shape == (100,)
    with pytest.raises(LH5WriteError, match="write_start 101 is past the end"):
        lh5.write(Array(np.arange(3)), "tb/energy", path, wo_mode="overwrite", write_start=101)


def test_overwrite_from_the_end_appends(tmp_path):
    path = str(tmp_path / "f.lh5")
    first, second = table(100), table(5, seed=1)
    lh5.write(first, "tb", path)
    lh5.write(second, "tb", path, wo_mode="overwrite", write_start=100)
    assert rows(path) == expected_rows(first, second)


def test_append_to_a_stored_table_whose_columns_differ_in_length_is_refused(tmp_path):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(10), "tb", path)
    with h5py.File(path, "a") as h5f:  # damaged by some other writer
        h5f["tb/energy"].resize((7,))
    with pytest.raises(LH5WriteError, match=r"stored table's columns differ.*'energy': 7"):
        lh5.write(table(5, seed=1), "tb", path)
    with h5py.File(path, "r") as h5f:
        assert h5f["tb/channel"].shape == (10,)


# --- failures and kills during an append ----------------------------------------------------
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # h5py's close
def test_exception_during_append_leaves_the_file_byte_for_byte_as_it_was(tmp_path, monkeypatch):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(10), "tb", path)
    before = Path(path).read_bytes()
    original = UndoFile._save
    calls = []

    def failing(self, start, stop):  # the disk fills up while the journal saves a page
        calls.append(start)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(self, start, stop)

    monkeypatch.setattr(UndoFile, "_save", failing)
    with pytest.raises(LH5WriteError, match="the file was left as it was"):
        lh5.write(table(1000, seed=1), "tb", path)
    assert Path(path).read_bytes() == before
    assert hidden_files(path) == []


def append_then_die(path: str, kill_at: int, where: str) -> None:
    """Append, and SIGKILL this process at the ``kill_at``-th write of bytes into the file
    (``where="file"``, half of that write done) or into the journal (``"journal"``)."""
    count = [0]

    def die_half_way(write, *args):
        count[0] += 1
        if count[0] == kill_at:
            fd_or_self, data = args[0], args[-1]
            half = memoryview(data).cast("B")[: len(data) // 2]
            write(*args[:-1], half) if where == "journal" else write(fd_or_self, half)
            os.kill(os.getpid(), signal.SIGKILL)
        return write(*args)

    if where == "file":
        original = UndoFile.write
        UndoFile.write = lambda self, data: die_half_way(original, self, data)
    else:
        original_all = undo._write_all
        undo._write_all = lambda fd, data: die_half_way(original_all, fd, data)
    lh5.write(table(3000, seed=9), "tb", path)


@pytest.mark.parametrize(
    ("where", "kill_at"),
    [("file", n) for n in (1, 2, 4, 8, 16, 24, 32, 39)] + [("journal", n) for n in (2, 3, 6, 10)],
)
def test_kill_during_append_leaves_every_earlier_row_readable(tmp_path, forkserver, where, kill_at):
    path = str(tmp_path / "f.lh5")
    first = table(500)
    lh5.write(first, "tb", path)
    lh5.write(first, "tb", path)  # the file has been appended to before
    writer = forkserver.Process(target=append_then_die, args=(path, kill_at, where))
    writer.start()
    writer.join()
    assert writer.exitcode in (-signal.SIGKILL, 0)  # 0: the append made fewer writes (HDF5)
    killed = writer.exitcode == -signal.SIGKILL
    assert os.path.exists(journal_path(path)) == killed
    done = (first, first) if killed else (first, first, table(3000, seed=9))
    assert rows(path) == expected_rows(*done)  # the read rolls a killed append back
    assert hidden_files(path) == []
    with h5py.File(path, "r") as h5f:
        h5f.visititems(lambda _, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)
    more = table(20, seed=2)
    lh5.write(more, "tb", path)
    assert rows(path) == expected_rows(*done, more)


def killed_append(forkserver, path: str) -> None:
    """An append into ``path`` whose process is killed half-way."""
    writer = forkserver.Process(target=append_then_die, args=(path, 8, "file"))
    writer.start()
    writer.join()
    assert writer.exitcode == -signal.SIGKILL
    assert os.path.exists(journal_path(path))


def test_interrupted_write_is_rolled_back_by_the_next_write(tmp_path, forkserver):
    path = str(tmp_path / "f.lh5")
    first = table(50)
    lh5.write(first, "tb", path)
    before = Path(path).read_bytes()
    killed_append(forkserver, path)
    assert Path(path).read_bytes() != before
    second = table(5, seed=1)
    lh5.write(second, "tb", path)
    assert rows(path) == expected_rows(first, second)
    assert hidden_files(path) == []


def test_journal_is_left_alone_while_its_writer_holds_the_lock(tmp_path):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(50), "tb", path)
    with WriteLock(path):
        live = UndoFile(path)
        assert recover_interrupted_write(path) is False
        assert os.path.exists(journal_path(path))
        live.commit()
    assert not os.path.exists(journal_path(path))


def test_journal_of_a_file_that_was_replaced_since_is_discarded(tmp_path, forkserver):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(50), "tb", path)
    killed_append(forkserver, path)
    replacement = str(tmp_path / "other.lh5")  # then the file is replaced by another program
    lh5.write(table(7, seed=3), "tb", replacement)
    os.replace(replacement, path)
    before = Path(path).read_bytes()
    assert recover_interrupted_write(path) is True
    assert Path(path).read_bytes() == before
    assert not os.path.exists(journal_path(path))


def test_journal_cut_short_rolls_back_its_complete_records(tmp_path):
    path = str(tmp_path / "f.lh5")
    with open(path, "wb") as f:
        f.write(bytes(range(256)) * 64)  # 16 KiB
    original = Path(path).read_bytes()
    changed = UndoFile(path)
    changed.seek(100)
    changed.write(b"x" * 5000)  # pages 0 and 1 saved
    changed.seek(4096 * 3)
    changed.write(b"y" * 10)  # page 3
    changed.seek(len(original))
    changed.write(b"z" * 100)  # past the end: cut off
    with open(journal_path(path), "r+b") as f:  # the last record torn by a kill
        f.truncate(os.path.getsize(journal_path(path)) - 1)
    changed.roll_back()  # from the journal on disk, as after a kill
    restored = Path(path).read_bytes()
    assert len(restored) == len(original)
    assert restored[: 3 * 4096] == original[: 3 * 4096]
    assert restored[3 * 4096 : 3 * 4096 + 10] == b"y" * 10  # that record was torn


def test_journal_that_cannot_be_rolled_back_here_is_a_clear_error(tmp_path, monkeypatch):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(5), "tb", path)
    with open(journal_path(path), "wb") as f:
        f.write(undo.MAGIC)

    def no_permission(*args, **kwargs):
        raise LH5WriteError("cannot create the lock file (Permission denied)", file=path)

    monkeypatch.setattr(WriteLock, "try_acquire", no_permission)
    with pytest.raises(LH5FileError, match=r"interrupted.*write permission"):
        lh5.read("tb", path)


# --- concurrent writers -----------------------------------------------------------------------
def append_pieces(path: str, writer: int, pieces: int) -> None:
    for k in range(pieces):
        n = 10 + writer + k
        lh5.write(
            Table(
                {
                    "writer": Array(np.full(n, writer)),
                    "piece": Array(np.full(n, k)),
                    "row": Array(np.arange(n)),
                }
            ),
            "tb",
            path,
        )


def test_concurrent_appends_to_a_new_file_keep_every_row(tmp_path, forkserver):
    path = str(tmp_path / "f.lh5")
    writers = [forkserver.Process(target=append_pieces, args=(path, w, 8)) for w in range(3)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(120)
    assert [p.exitcode for p in writers] == [0, 0, 0]
    tb = lh5.read("tb", path)
    found = list(zip(tb["writer"].nda, tb["piece"].nda, tb["row"].nda, strict=True))
    runs = [(w, k) for w, k, r in found if r == 0]
    assert sorted(runs) == [(w, k) for w in range(3) for k in range(8)]
    for w in range(3):  # each writer's pieces in its order, each piece whole
        assert [k for v, k in runs if v == w] == list(range(8))
    expected = [r for w, k in runs for r in range(10 + w + k)]
    assert [r for _, _, r in found] == expected
    assert hidden_files(path) == []


def test_new_file_is_not_replaced_when_another_writer_made_it_meanwhile(tmp_path):
    path = str(tmp_path / "f.lh5")
    lock = WriteLock(path)
    lock.acquire()
    second = threading.Thread(target=lh5.write, args=(Table({"a": [3, 4]}), "tb", path))
    second.start()  # the file does not exist: it waits for the lock
    time.sleep(0.2)
    with h5py.File(path, "w"):  # another writer makes the file while holding the lock
        pass
    lock.release()
    second.join(30)
    lh5.write(Table({"a": [1, 2]}), "tb", path, wo_mode="append")
    assert lh5.read("tb/a", path).nda.tolist() == [3, 4, 1, 2]


def test_writer_gives_up_with_a_clear_error_while_another_holds_the_lock(tmp_path, monkeypatch):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(5), "tb", path)
    monkeypatch.setattr(settings, "WRITE_LOCK_TIMEOUT", 0.2)
    held = rf"another writer \(process {os.getpid()}\)"
    with WriteLock(path), pytest.raises(LH5WriteError, match=held):
        lh5.write(table(5), "tb", path)
    assert lh5.read_n_rows("tb", path) == 5


def test_lock_file_of_a_killed_writer_does_not_block(tmp_path):
    path = str(tmp_path / "f.lh5")
    with open(lock_path(path), "w") as f:  # left by a killed writer: nobody holds a lock on it
        f.write("999999999\n")
    lh5.write(table(5), "tb", path)
    assert hidden_files(path) == []


def test_write_into_a_file_this_process_has_open_for_writing_goes_through_it(tmp_path):
    path = str(tmp_path / "f.lh5")
    first, second = table(10), table(4, seed=1)
    lh5.write(first, "tb", path)
    with h5py.File(path, "a") as h5f:
        h5f.attrs["note"] = "open"
        lh5.write(second, "tb", path)
    assert rows(path) == expected_rows(first, second)
    with h5py.File(path, "r") as h5f:
        assert h5f.attrs["note"] == "open"


# --- leftovers ------------------------------------------------------------------------------
def die_while_writing_a_new_file(path: str) -> None:
    """``wo_mode="overwrite_file"``, killed while its temporary file is half-written."""

    def fill_and_die(h5f: h5py.File) -> None:
        h5f.create_dataset("x", data=np.arange(10**5))
        h5f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    with locked_target(path):
        write_new_file(path, fill_and_die)


def test_temporary_file_of_a_killed_write_is_removed_by_the_next_write(tmp_path, forkserver):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(5), "tb", path)
    others = [tmp_path / ".g.lh5.tmp-999999999-0123abcd", tmp_path / ".f.lh5.tmp-notours"]
    for f in others:
        f.write_bytes(b"not of this target, or not of tierflow's writes")
    writer = forkserver.Process(target=die_while_writing_a_new_file, args=(path,))
    writer.start()
    writer.join()
    assert writer.exitcode == -signal.SIGKILL
    left = [f for f in hidden_files(path) if f.startswith(".f.lh5.tmp-") and f != others[1].name]
    assert len(left) == 1 and lh5.read_n_rows("tb", path) == 5
    lh5.write(table(5), "tb", path)  # an append: no temporary file of its own
    assert hidden_files(path) == [".f.lh5.tmp-notours"]
    assert all(f.exists() for f in others)
    assert lh5.read_n_rows("tb", path) == 10


def test_writes_leave_no_lock_journal_or_temporary_file(tmp_path):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(5), "tb", path)  # new file
    lh5.write(table(5), "tb", path)  # append
    lh5.write(table(5), "tb", path, wo_mode="overwrite", write_start=3)
    lh5.write(table(5), "other", path)  # new object in an existing file
    lh5.write(table(5), "tb", path, wo_mode="overwrite_file")
    assert hidden_files(path) == []
    assert lh5.read_n_rows("tb", path) == 5


def test_append_while_a_program_holds_hdf5s_file_lock_is_refused_and_changes_nothing(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("HDF5_USE_FILE_LOCKING", raising=False)
    path = str(tmp_path / "f.lh5")
    lh5.write(table(5), "tb", path)
    before = Path(path).read_bytes()
    locked = pytest.raises(LH5FileError, match="open with HDF5's file lock")
    with h5py.File(path, "r", locking=True), locked:  # as LEGEND's tools open files
        lh5.write(table(5), "tb", path)
    assert Path(path).read_bytes() == before
    assert hidden_files(path) == []


def test_writing_into_a_path_that_is_not_a_regular_file_is_a_clear_error(tmp_path):
    fifo = str(tmp_path / "pipe.lh5")
    os.mkfifo(fifo)
    with pytest.raises(LH5FileError, match="not a regular file"):
        lh5.write(table(5), "tb", fifo)
    directory = tmp_path / "dir.lh5"
    directory.mkdir()
    with pytest.raises(LH5FileError, match="is a directory"):
        lh5.write(table(5), "tb", str(directory))


def test_writing_into_a_file_without_write_permission_is_a_clear_error(tmp_path, monkeypatch):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(5), "tb", path)

    def denied(self, path):  # as os.open fails for a read-only file (root may write any)
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(UndoFile, "__init__", denied)
    with pytest.raises(LH5FileError, match=r"cannot be opened for writing \(Permission denied\)"):
        lh5.write(table(5), "tb", path)
    assert hidden_files(path) == []


def test_without_file_locks_a_live_writers_journal_is_left_alone(tmp_path, monkeypatch):
    path = str(tmp_path / "f.lh5")
    lh5.write(table(5), "tb", path)
    live = UndoFile(path)  # a writer at work (this process), on a file system without locks

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(writelock.fcntl, "flock", no_locks)
    with pytest.warns(RuntimeWarning, match="does not support file locks"):
        assert recover_interrupted_write(path) is False
    assert os.path.exists(journal_path(path))
    with pytest.raises(LH5FileError, match="cannot be opened for writing"):
        lh5.write(table(5), "tb", path)
    live.commit()
    lh5.write(table(5), "tb", path)
    assert lh5.read_n_rows("tb", path) == 10


def test_a_process_whose_writes_failed_exits_cleanly():
    """The writes above that fail (a full disk while the journal saves a page, ...) once left
    their file half-closed in HDF5, which crashed closing it again when the process exited: run
    them in a process of their own and see it end well."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            __file__,
            "-k",
            "not exits_cleanly and not kill and not concurrent",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).parent,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
