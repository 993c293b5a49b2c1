"""Fuzzing the expression language: any text gives a result or a TierflowError, and runs nothing.

Expressions are generated from a grammar that mixes what the language allows with what it
must refuse: columns, parameters, allowed and forbidden ``np.``/``ak.`` names, submodule
chains (``np.f2py.os.system``), builtins and dunder names, array methods that write files,
calls with ``out=``/``copy=``, powers of literals (``9**9**9``), huge repetitions, deep
nesting, lambdas, comprehensions, f-strings, and random unicode and byte strings. Each is
evaluated with ``Table.eval`` on a small table and read as a hit config. The promise checked:
a data object or a :class:`~tierflow.errors.TierflowError`, never another exception, and the
working directory (where a relative file name would land) and the table stay as they were.
A watchdog turns a hang into a failure.

By default a bounded, derandomized run (300 grammar examples and 300 random texts);
``TIERFLOW_FUZZ_FULL=1`` runs 5,000 of each. Outcome counts are printed at the end (``-s``).
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierflow.errors import HitConfigError, TierflowError
from tierflow.hit import HitConfig
from tierflow.types import LGDO, Table, VectorOfVectors

FULL = os.environ.get("TIERFLOW_FUZZ_FULL") == "1"
EXAMPLES = 5000 if FULL else 300
#: seconds after which an evaluation counts as a hang (bounded evaluation takes milliseconds)
WATCHDOG = 60

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

COLUMNS = ["a", "b", "v", "w", "sub__x"]
NAMES = [*COLUMNS, "k", "s", "np", "ak", "nope", "os", "open", "eval", "__import__"]
NAMES += ["__builtins__", "__class__", "sum", "sqrt", "where", "abs", "len", "_private"]
ATTRIBUTES = ["sqrt", "where", "sum", "abs", "log", "pi", "nan", "inf", "isnan", "clip", "max"]
ATTRIBUTES += ["num", "fill_none", "flatten", "firsts", "any", "mean", "T", "real", "shape"]
ATTRIBUTES += ["f2py", "os", "system", "save", "load", "memmap", "fromfile", "savetxt", "lib"]
ATTRIBUTES += ["ctypeslib", "ctypes", "CDLL", "highlevel", "builtins", "pickle", "to_parquet"]
ATTRIBUTES += ["tofile", "dump", "sort", "__class__", "__dict__", "__globals__", "_layout"]
ATTRIBUTES += ["astype", "testing", "at", "reduce", "outer", "nosuch"]
KEYWORDS = ["axis", "keepdims", "dtype", "out", "copy", "signature", "behavior", "mode", "q"]
OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^", "@", "<", "<="]
OPERATORS += ["==", "!=", ">", ">=", " and ", " or ", " in ", " is ", " not in "]


def literal() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-(10**25), 10**25).map(repr),
        st.sampled_from(["9", "99", "10**12", "2**64", "9**9", "1e308", "'O'", "None", "..."]),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(max_size=20).map(repr),
        st.binary(max_size=20).map(repr),
        st.booleans().map(repr),
        st.complex_numbers(max_magnitude=1e6, allow_nan=False).map(repr),
    )


def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    name = st.sampled_from(NAMES)
    attr = st.sampled_from(ATTRIBUTES)
    args = st.lists(inner, max_size=3)
    kwargs = st.lists(st.tuples(st.sampled_from(KEYWORDS), inner), max_size=2)
    return st.one_of(
        st.builds(lambda x, op, y: f"({x}){op}({y})", inner, st.sampled_from(OPERATORS), inner),
        st.builds(lambda op, x: f"{op}({x})", st.sampled_from(["-", "+", "~", "not "]), inner),
        st.builds(lambda x, a: f"({x}).{a}", inner, attr),
        st.builds(lambda n, chain: ".".join([n, *chain]), name, st.lists(attr, max_size=4)),
        st.builds(
            lambda f, a, kw: f"{f}({', '.join([*a, *(f'{k}={v}' for k, v in kw)])})",
            st.one_of(inner, st.builds(lambda n, a: f"{n}.{a}", name, attr)),
            args,
            kwargs,
        ),
        st.builds(lambda x, y: f"({x})[{y}]", inner, inner),
        st.builds(lambda x, y, z: f"({x})[{y}:{z}]", inner, inner, inner),
        st.builds(lambda x: f"({x})[:, None]", inner),
        st.builds(lambda x, y: f"[{x}, {y}]", inner, inner),
        st.builds(lambda x, y: f"({x}, {y})", inner, inner),
        st.builds(lambda x, y, z: f"({x}) if ({y}) else ({z})", inner, inner, inner),
        st.builds(lambda x: f"(lambda q: {x})(1)", inner),
        st.builds(lambda x: f"[q for q in {x}]", inner),
        st.builds(lambda x: f"{{'k': {x}}}", inner),
        st.builds(lambda x: f"f'{{{x}}}'", inner),
        st.builds(lambda x: f"(q := {x})", inner),
        st.builds(lambda n, x: "(" * n + x + ")" * n, st.integers(0, 400), inner),
        st.builds(lambda n, x: "-" * n + x, st.integers(0, 20_000), inner),
        st.builds(lambda n, x: x + "[0]" * n, st.integers(0, 3_000), inner),
        st.builds(
            lambda xs: "**".join(xs), st.lists(st.sampled_from(["9", "2", "99", "k"]), min_size=2)
        ),
    )


EXPRESSIONS = st.recursive(st.one_of(st.sampled_from(NAMES), literal()), extend, max_leaves=12)
RANDOM_TEXT = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.lists(st.sampled_from(["(", ")", "[", "]", ".", "np", "ak", "a", "*", "**", "9", ","])).map(
        "".join
    ),
)

OUTCOMES: collections.Counter = collections.Counter()


def small_table() -> Table:
    return Table(
        {
            "a": np.arange(1.0, 5.0),
            "b": np.array([4, 3, 2, 1]),
            "v": VectorOfVectors([[1.0], [2.0, 3.0], [], [4.0, 5.0, 6.0]]),
            "w": np.arange(12.0).reshape(4, 3),
            "sub": Table({"x": np.arange(4.0)}),
        }
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """An empty working directory for the whole module: a relative file name lands here."""
    path: Path = tmp_path_factory.mktemp("fuzz-expressions")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        yield path
    print(f"\nexpression fuzz outcomes: {dict(sorted(OUTCOMES.items()))}")


def _hang(signum, frame):
    raise AssertionError(f"an expression ran for more than {WATCHDOG} s")


def assert_evaluates_or_refuses(expr: str, workdir: Path, kind: str) -> None:
    table = small_table()
    before = signal.signal(signal.SIGALRM, _hang)
    signal.alarm(WATCHDOG)
    try:
        try:
            result = table.eval(expr, {"k": 3, "s": "x"})
        except TierflowError:
            OUTCOMES[f"{kind}: tierflow error"] += 1
        else:
            assert isinstance(result, LGDO)
            OUTCOMES[f"{kind}: result"] += 1
        with contextlib.suppress(HitConfigError):  # read as a hit config: refused or accepted
            HitConfig.from_dict({"outputs": ["x"], "operations": {"x": expr}})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
    assert list(workdir.iterdir()) == [], f"{expr!r} created a file"
    assert table["a"].nda.tolist() == [1.0, 2.0, 3.0, 4.0], f"{expr!r} changed a column"


@FUZZ
@given(expr=EXPRESSIONS)
def test_generated_expressions_give_a_result_or_a_tierflow_error(expr, workdir):
    assert_evaluates_or_refuses(expr, workdir, "grammar")


@FUZZ
@given(expr=RANDOM_TEXT)
def test_random_text_gives_a_result_or_a_tierflow_error(expr, workdir):
    assert_evaluates_or_refuses(expr, workdir, "random text")
