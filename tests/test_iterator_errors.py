"""Bad input to an LH5Iterator gives a clear tierflow error (a subclass of
:class:`tierflow.errors.TierflowError`) that names what is wrong and what exists, never a
hang: unknown fields and expression names, missing files and groups (and ``allow_missing``),
friends of different lengths, entry lists out of range, failing user functions.

Errors of user functions on pools are in test_iterator_parallel.py.
"""

from __future__ import annotations

import signal
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import hist
import numpy as np
import pytest

from tierflow import lh5
from tierflow.errors import (
    ExpressionError,
    LH5DecodeError,
    LH5FileError,
    LH5IndexError,
    LH5ObjectNotFoundError,
    TierflowError,
)
from tierflow.lh5 import LH5Iterator
from tierflow.types import Array, Table

GROUPS = ["ch0/hit", "ch1/hit", "ch2/hit"]
SIZES = [6, 0, 5]


@pytest.fixture(autouse=True)
def no_hang():
    """Turn a hang into a failure (a guard, not a timing assertion)."""

    def hung(signum, frame):
        raise TimeoutError("the test hung for 120 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def files(tmp_path: Path) -> dict:
    """``a.lh5`` with GROUPS (``e``, ``k``; ch1 empty) and ``b.lh5`` with one more row per group
    and another column ``x``; ``arr`` is an array, not a table."""
    a, b = str(tmp_path / "a.lh5"), str(tmp_path / "b.lh5")
    total = 0
    for group, n in zip(GROUPS, SIZES, strict=True):
        lh5.write(Table({"e": np.arange(n) * 100.0, "k": np.arange(total, total + n)}), group, a)
        lh5.write(Table({"x": np.zeros(n + 1)}), group, b)
        total += n
    lh5.write(Array(np.arange(3.0)), "arr", a)
    return {"a": a, "b": b, "dir": tmp_path}


@pytest.fixture
def it(files) -> LH5Iterator:
    return LH5Iterator(files["a"], GROUPS, buffer_len=4)


# --- unknown names -------------------------------------------------------------------------------
def test_unknown_field_in_field_mask_lists_fields(files):
    with pytest.raises(LH5ObjectNotFoundError) as info:
        list(LH5Iterator(files["a"], GROUPS, field_mask=["e", "energy"]))
    message = str(info.value)
    assert "energy" in message and "['e', 'k']" in message
    assert files["a"] in message and "ch0/hit" in message
    assert isinstance(info.value, TierflowError)


def test_unknown_name_in_query_expression_lists_fields(it):
    with pytest.raises(ExpressionError) as info:
        it.query("(energy > 1) & (e > 0)")
    message = str(info.value)
    assert "['energy']" in message and "['e', 'k']" in message


def test_unknown_name_with_friend_and_group_data_lists_them_all(files):
    friend = LH5Iterator(files["a"], GROUPS)
    it = LH5Iterator(
        files["a"], GROUPS, friend=friend, friend_prefix="f_", group_data={"chan": [1, 2, 3]}
    )
    with pytest.raises(ExpressionError) as info:
        it.query("nope > 0", library="pd")
    assert "['chan', 'e', 'f_e', 'f_k', 'k']" in str(info.value)
    # the names that do exist all work
    df = it.query("(f_e >= 0) & (chan > 0)", fields=["k", "f_k", "chan"], library="pd")
    np.testing.assert_array_equal(df["k"], df["f_k"])
    assert df["chan"].tolist() == [1] * 6 + [3] * 5


def test_unknown_query_field_lists_fields(it):
    with pytest.raises(ExpressionError, match=r"\['nope'\].*\['e', 'k'\]"):
        it.query("e > 0", fields=["k", "nope"])


@pytest.mark.parametrize(
    ("kwargs", "unknown"),
    [
        ({"ax": hist.axis.Regular(3, 0, 3), "keys": "energy * 2"}, "energy"),
        ({"ax": hist.axis.Regular(3, 0, 3, name="energy")}, "energy"),
        ({"ax": hist.axis.Regular(3, 0, 3, label="Energy (keV)")}, "Energy (keV)"),
        ({"ax": hist.axis.Regular(3, 0, 3, name="e"), "weights": "w"}, "w"),
        ({"ax": hist.axis.Regular(3, 0, 3, name="e"), "where": "valid"}, "valid"),
    ],
)
def test_unknown_names_in_hist_list_fields(it, kwargs, unknown):
    with pytest.raises(ExpressionError) as info:
        it.hist(**kwargs)
    message = str(info.value)
    assert unknown in message and "['e', 'k']" in message


def test_bad_expressions(it):
    with pytest.raises(ExpressionError, match="cannot parse"):
        it.query("e >")
    with pytest.raises(TierflowError, match="one boolean per row"):
        it.query("e + 1")
    with pytest.raises(TierflowError, match="one boolean per row"):
        it.hist(hist.axis.Regular(3, 0, 3, name="e"), where="e * 2")


# --- missing files and groups --------------------------------------------------------------------
def test_missing_file_is_named(files):
    missing = str(files["dir"] / "nope.lh5")
    it = LH5Iterator([files["a"], missing], GROUPS)
    with pytest.raises(LH5FileError) as info:
        list(it)
    assert missing in str(info.value)
    with pytest.raises(LH5FileError, match=r"nope\.lh5"):
        len(LH5Iterator([files["a"], missing], GROUPS))


def test_glob_matching_nothing_is_named(files):
    with pytest.raises(LH5FileError, match=r"no file matches.*zzz\*\.lh5"):
        LH5Iterator(str(files["dir"] / "zzz*.lh5"), GROUPS)


def test_no_files_at_all():
    with pytest.raises(LH5FileError, match="no \\(file, group\\) pairs"):
        LH5Iterator([], GROUPS)


def test_file_that_is_not_hdf5(files):
    junk = files["dir"] / "junk.lh5"
    junk.write_text("not an HDF5 file")
    with pytest.raises(LH5FileError, match=r"junk\.lh5"):
        list(LH5Iterator(str(junk), GROUPS))


def test_missing_group_is_named_with_what_exists(files):
    it = LH5Iterator(files["a"], [*GROUPS, "ch9/hit"])
    with pytest.raises(LH5ObjectNotFoundError) as info:
        list(it)
    message = str(info.value)
    assert "ch9/hit" in message and files["a"] in message
    assert "ch0" in message and "ch2" in message  # what the file holds


def test_allow_missing_skips_with_a_warning(files):
    missing = str(files["dir"] / "nope.lh5")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        it = LH5Iterator(
            [missing, files["a"]], [*GROUPS, "ch9/hit"], allow_missing=True, buffer_len=3
        )
        k = np.concatenate([tb["k"].nda.copy() for tb in it])
    np.testing.assert_array_equal(k, np.arange(11))
    skipped = {(ds.file, ds.group) for ds in it.missing}
    assert skipped == {(missing, g) for g in [*GROUPS, "ch9/hit"]} | {(files["a"], "ch9/hit")}
    texts = [str(w.message) for w in caught]
    assert any("nope.lh5" in t for t in texts) and any("ch9/hit" in t for t in texts)
    # the verbs work on what exists
    assert len(it.query("e >= 0")) == 11
    assert it.hist(hist.axis.Regular(3, 0, 600, name="e")).values().sum() == 11


def test_not_a_table(files):
    with pytest.raises(LH5DecodeError, match=r"arr.*reads tables"):
        list(LH5Iterator(files["a"], ["arr"]))


def test_tables_with_different_columns(files):
    it = LH5Iterator([files["a"], files["b"]], ["ch0/hit"], buffer_len=20)
    with pytest.raises(LH5ObjectNotFoundError) as info:
        list(it)
    message = str(info.value)
    assert files["b"] in message and "columns differ" in message


# --- friends and entries ------------------------------------------------------------------------------
def test_friends_of_different_lengths(files):
    from tierflow.iterate import FriendLengthError
    from tierflow.lh5 import LH5Iterator as It

    with pytest.raises(FriendLengthError) as info:
        It(files["a"], GROUPS, friend=It(files["b"], GROUPS))
    message = str(info.value)
    assert "14" in message and "11" in message and files["b"] in message
    assert isinstance(info.value, LH5IndexError) and isinstance(info.value, TierflowError)
    with pytest.raises(FriendLengthError):
        It(files["a"], GROUPS).add_friend(It(files["a"], GROUPS, entry_list=[0, 1]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"entry_list": [0, 11]}, r"\[11\] outside the 11 rows"),
        ({"entry_list": [-1, 3]}, r"\[-1\] outside"),
        ({"entry_list": [[0], [], [5]]}, r"dataset 2 .*ch2/hit.* outside its 5 rows: \[5\]"),
        ({"entry_list": [[0], [0], [1]]}, r"dataset 1 .*ch1/hit.* 0 rows"),
        ({"entry_list": [[0], [1]]}, "2 lists for 3 datasets"),
        ({"entry_mask": np.ones(5, bool)}, "5 values for 11 rows"),
    ],
)
def test_entries_out_of_range(files, kwargs, match):
    with pytest.raises(LH5IndexError, match=match):
        LH5Iterator(files["a"], GROUPS, **kwargs)


def test_entry_list_and_mask_together(files):
    with pytest.raises(ValueError, match="not both"):
        LH5Iterator(files["a"], GROUPS, entry_list=[0], entry_mask=np.ones(11, bool))


# --- failing user functions -----------------------------------------------------------------------------
def fail_on_ch2(tb, it):
    if np.any(it.current_groups == "ch2/hit"):
        raise ValueError("bad value in chunk")
    return tb


def fail_on_ch2_values(tb, it):
    return fail_on_ch2(tb, it)["e"].nda


@pytest.mark.parametrize("executor", [None, "threads"])
@pytest.mark.parametrize("verb", ["query", "map", "hist"])
def test_failing_function_names_file_group_and_entries(it, files, verb, executor):
    with ThreadPoolExecutor(2) as pool:
        kwargs = {"executor": pool} if executor else {}
        with pytest.raises(TierflowError) as info:
            if verb == "query":
                it.query(fail_on_ch2, **kwargs)
            elif verb == "map":
                it.map(fail_on_ch2, **kwargs)
            else:
                it.hist(hist.axis.Regular(3, 0, 3), where=fail_on_ch2_values, **kwargs)
    message = str(info.value)
    assert "ValueError: bad value in chunk" in message
    # the chunk of entries 4..8: ch0 rows 4..6, then ch2 rows 0..2
    assert "entries 4..8" in message
    assert f"{files['a']}:ch2/hit rows 0..2" in message
    cause = info.value
    while cause.__cause__ is not None:
        cause = cause.__cause__
    assert isinstance(cause, ValueError)
    # the iterator still works
    assert len(it.query("e >= 0")) == 11


def test_failing_aggregate(it):
    with pytest.raises(TierflowError, match=r"ZeroDivisionError.*entries 0\.\.4"):
        it.map(lambda tb, it: len(tb), aggregate=lambda acc, n: acc / 0, init=1)


def test_not_an_iterator_as_friend(files):
    with pytest.raises(TypeError, match="LH5Iterator"):
        LH5Iterator(files["a"], GROUPS, friend=[3])
