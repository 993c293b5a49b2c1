"""Expressions cannot run code, touch the file system or hang (issue 13, item 3).

Every route the issue lists (submodules re-exporting ``os``/``builtins``/``ctypes``, numpy and
awkward file functions, array methods that write, in-place ``out=``) is refused with an
``ExpressionError`` before anything runs, through ``Table.eval``, ``LH5Iterator.query`` and
``hist`` (where, keys, weights) and hit configs; dsp configs refuse modules and numpy functions
off the list with a ``DSPConfigError``. A generated walk tries every public attribute reachable
from ``np`` and ``ak``. Unbounded work (``9**9**9``, deep nesting, huge repetitions) is an error,
not a hang or a ``RecursionError``.
"""

from __future__ import annotations

import types
import warnings
from pathlib import Path

import awkward as ak
import hist
import numpy as np
import pytest

from testdata import DSP_CAL
from tierflow.dsp import process
from tierflow.errors import DSPConfigError, ExpressionError, HitConfigError, TierflowError
from tierflow.hit import HitConfig
from tierflow.lh5 import LH5Iterator
from tierflow.types import Table, VectorOfVectors, WaveformTable
from tierflow.types.allowed_names import LIBRARY
from tierflow.types.safe_eval import MAX_DEPTH, MAX_LENGTH, MAX_STRING, check, check_binop

DSP_GROUP = "ch1084803/dsp"

#: every escape route of the issue, and more; ``{marker}`` is a file that must never appear
ESCAPES = [
    "np.f2py.os.system('touch {marker}')",
    "ak.highlevel.builtins.open('{marker}', 'w').write('x')",
    "np.ctypeslib.ctypes.CDLL(None).system(b'touch {marker}')",
    "ak.highlevel.pickle.loads(b'x')",
    "np.testing.os.system('touch {marker}')",
    "np.save('{marker}', a)",
    "np.savetxt('{marker}', a)",
    "np.savez('{marker}', a)",
    "np.memmap('{marker}', mode='w+', shape=(4,))",
    "np.load('{marker}')",
    "np.loadtxt('{marker}')",
    "np.fromfile('{marker}')",
    "np.lib.npyio.DataSource('{marker}')",
    "ak.to_parquet(v, '{marker}')",
    "ak.from_parquet('{marker}')",
    "ak.to_feather(v, '{marker}')",
    "a.tofile('{marker}')",
    "a.dump('{marker}')",
    "np.sqrt.__call__(a)",
    "np.sqrt.at(a, [0], 1)",
    "np.add(a, 1, a)",
    "np.add(a, 1, out=a)",
    "np.nan_to_num(a, copy=False)",
    "a.sort()",
    "a.__class__",
    "np.__dict__",
    "np.pi.hex()",
    "np.float64.fromhex('1')",
    "__import__('os').system('touch {marker}')",
    "open('{marker}', 'w')",
    "getattr(a, 'tofile')('{marker}')",
    "(lambda: 1)()",
    "[x for x in a]",
    "{{'k': a}}",
    "f'{{a}}'",
    "(x := a)",
    "a @ a",
    "a[:, None] * a",
    "np.power(b, b, dtype='O')",
    "a.astype('O')",
    "np.where(a > 1, None, 9) ** b",
    "[None, 9] ** b",
]

#: escapes that need the values to be known (an object dtype, an array of Python objects)
REFUSED_AT_RUN_TIME = [
    "np.power(b, b, dtype='O')",
    "a.astype('O')",
    "np.where(a > 1, None, 9) ** b",
]

#: unbounded work: each must be an ExpressionError, quickly (nothing asserts on time)
UNBOUNDED = [
    "9**9**9",
    "a ** 9**9",
    "2**(2**(2**(2**2)))",
    "(" * 10_000 + "a" + ")" * 10_000,
    "-" * 100_000 + "1",
    "-" * (MAX_DEPTH + 10) + "a",
    "1+" * 3_000 + "1",
    "a" + "[0]" * 10_000,
    "'x' * 10**12",
    "b'x' * 2**40",
    "1 << 10**6",
    "2**62 * 4",
    "'%*d' % (10**9, 1)",
    "1" * 5_000,
    "a + " + "1" * 100,
    "a" * (MAX_LENGTH + 1),
    "'x' * " + str(MAX_STRING + 1),
    repr("x" * (MAX_STRING + 1)),
    "a.astype('U100000')",
    "w[:, :1] * a",
    "np.where(a > 1, w[:, :1], a)",
    "w[:, :1] < a",
    "w[w[:, :1].astype('int64') % 3, b % 3]",
]

#: legitimate expressions, with what they give on :func:`small_table`
LEGITIMATE = [
    ("a * 2 + b", [6.0, 7.0, 8.0, 9.0]),
    ("np.sqrt(a**2)", [1.0, 2.0, 3.0, 4.0]),
    ("np.where(a > 2, a, -a)", [-1.0, -2.0, 3.0, 4.0]),
    ("np.clip(a, 2, 3) * np.pi / np.pi", [2.0, 2.0, 3.0, 3.0]),
    ("np.isin(b, [1, 2])", [False, False, True, True]),
    ("ak.fill_none(ak.max(v, axis=-1), 0)", [1.0, 3.0, 0.0, 6.0]),
    ("ak.num(v, axis=-1) + ak.sum(v, axis=-1)", [2.0, 7.0, 0.0, 18.0]),
    ("np.isfinite(a) & (a < np.inf) & ~np.isnan(a)", [True] * 4),
    ("a.cumsum() - a.mean()", [-1.5, 0.5, 3.5, 7.5]),
    ("np.sum(w, axis=1) + w.T[0]", [3.0, 15.0, 27.0, 39.0]),
    ("a if k > 1 else b", [1.0, 2.0, 3.0, 4.0]),
    ("np.float32(2) * a", [2.0, 4.0, 6.0, 8.0]),
    ("np.percentile(a, [0, 100])", [1.0, 4.0]),
    ("2**10 + a * 1e3", [2024.0, 3024.0, 4024.0, 5024.0]),
]


def small_table() -> Table:
    return Table(
        {
            "a": np.arange(1.0, 5.0),
            "b": np.array([4, 3, 2, 1]),
            "v": VectorOfVectors([[1.0], [2.0, 3.0], [], [4.0, 5.0, 6.0]]),
            "w": np.arange(12.0).reshape(4, 3),
        }
    )


@pytest.fixture
def marker(tmp_path: Path, monkeypatch) -> Path:
    """A file no expression may create; the working directory is the (empty) tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "pwned"


def nothing_ran(tmp_path: Path, table: Table) -> None:
    assert list(tmp_path.iterdir()) == []
    assert table["a"].nda.tolist() == [1.0, 2.0, 3.0, 4.0]  # no in-place write either


# --- Table.eval ---------------------------------------------------------------------------------
@pytest.mark.parametrize("template", ESCAPES)
def test_escape_routes_are_refused_by_table_eval(template, marker, tmp_path):
    tb = small_table()
    expr = template.format(marker=marker)
    with pytest.raises(ExpressionError) as err:
        tb.eval(expr, {"k": 1})
    nothing_ran(tmp_path, tb)
    assert not str(err.value).startswith("evaluating")  # refused, not failed while running


@pytest.mark.parametrize("template", [e for e in ESCAPES if e not in REFUSED_AT_RUN_TIME])
def test_escape_routes_are_refused_before_evaluation(template, marker):
    # the check alone refuses them: no column or parameter is needed to know
    with pytest.raises(ExpressionError):
        check(template.format(marker=marker))


def test_refusals_name_the_expression_and_the_offending_name():
    with pytest.raises(ExpressionError) as err:
        small_table().eval("np.f2py.os.system('ls')")
    assert "\"np.f2py.os.system('ls')\"" in str(err.value) and "'np.f2py'" in str(err.value)
    with pytest.raises(ExpressionError, match=r"'ak.to_parquet' in .*not an allowed awkward name"):
        small_table().eval("ak.to_parquet(v, 'x.parquet')")
    with pytest.raises(ExpressionError, match=r"method 'tofile' in \"a.tofile\('x'\)\""):
        small_table().eval("a.tofile('x')")
    with pytest.raises(ExpressionError, match=r"keyword 'out' in 'np.add\(a, 1, out=a\)'"):
        small_table().eval("np.add(a, 1, out=a)")
    with pytest.raises(ExpressionError, match=r"did you mean np\.sqrt"):
        small_table().eval("np.sqrtt(a)")


@pytest.mark.parametrize("expr", UNBOUNDED, ids=lambda e: e[:30])
def test_unbounded_expressions_are_expression_errors(expr):
    with pytest.raises(ExpressionError):
        small_table().eval(expr)


@pytest.mark.parametrize(("expr", "expected"), LEGITIMATE)
def test_legitimate_expressions_still_work(expr, expected):
    out = small_table().eval(expr, {"k": 2})
    np.testing.assert_allclose(out.nda, expected)


@pytest.mark.parametrize(
    "parameters",
    [{"k": 10**30}, {"k": [None, 1]}, {"k": np.array([1, "a", None], dtype=object)}, {"k": types}],
    ids=["huge int", "list with None", "object array", "module"],
)
def test_parameters_that_could_escape_the_bounds_are_refused(parameters):
    with pytest.raises(ExpressionError):
        small_table().eval("a * k", parameters)


def test_constant_folding_bounds_what_numexpr_would_compute():
    # numexpr folds constants with Python: 9**9**9 must never reach it
    with pytest.raises(ExpressionError, match="exponent"):
        check("a * 9**9**9")
    assert check("a * 2**10").names == {"a"}
    with pytest.raises(ExpressionError, match="more than 64 bits"):
        check_binop(type(check("2**3").tree.body.op), 3, 10**6, "3**10**6")


# --- the generated walk -------------------------------------------------------------------------
def public_chains(root: str, module: types.ModuleType, max_depth: int = 3) -> list[str]:
    """``root.x.y...`` for every public attribute reachable from ``module`` through modules
    (numpy's and awkward's submodules and what they import: os, sys, ctypes, builtins...)."""
    seen: set[int] = set()
    chains: list[str] = []
    queue = [(root, module, 0)]
    while queue:
        prefix, mod, depth = queue.pop(0)
        if id(mod) in seen:
            continue
        seen.add(id(mod))
        for attr in sorted(dir(mod)):
            if attr.startswith("_"):
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    value = getattr(mod, attr)
            except Exception:
                continue
            chains.append(f"{prefix}.{attr}")
            if isinstance(value, types.ModuleType) and depth < max_depth:
                queue.append((f"{prefix}.{attr}", value, depth + 1))
    return chains


def test_every_public_attribute_of_np_and_ak_is_allowed_or_refused(tmp_path, marker):
    chains = public_chains("np", np) + public_chains("ak", ak)
    # and everything reachable from an allowed entry: np.sqrt.at, np.where.__globals__ ...
    for module, entries in LIBRARY.items():
        for name, entry in entries.items():
            chains += [f"{module}.{name}.{attr}" for attr in dir(entry.value)]
    assert len(chains) > 5000  # the walk reached the submodules
    allowed = {f"{m}.{name}" for m, entries in LIBRARY.items() for name in entries}
    tb = small_table()
    refused = 0
    with np.errstate(all="ignore"):  # np.arccos(a) and the like warn about their domain
        for chain in chains:
            for expr in (chain, f"{chain}('{marker}', a)", f"{chain}(a)"):
                try:
                    tb.eval(expr)
                except ExpressionError as err:
                    if chain not in allowed:
                        assert chain.split(".")[1] in str(err), (expr, str(err))
                        refused += 1
                else:
                    assert chain in allowed, f"{expr!r} was evaluated"
    nothing_ran(tmp_path, tb)
    assert refused >= 3 * (len(chains) - len(allowed))


def test_allowed_names_exist_and_are_not_modules():
    for entries in LIBRARY.values():
        for name, entry in entries.items():
            assert not isinstance(entry.value, types.ModuleType), name
            if entry.positional is not None:
                assert callable(entry.value), name
    assert {"sqrt", "where", "pi", "nan", "inf", "isnan", "clip", "sum", "log"} <= set(
        LIBRARY["np"]
    )
    assert {"sum", "num", "any", "all", "firsts", "fill_none", "flatten", "max", "mask"} <= set(
        LIBRARY["ak"]
    )
    assert not {"save", "load", "memmap", "fromfile", "f2py", "ctypeslib", "lib"} & set(
        LIBRARY["np"]
    )


# --- LH5Iterator: query and hist -----------------------------------------------------------------
@pytest.fixture
def it() -> LH5Iterator:
    return LH5Iterator(DSP_CAL[0], DSP_GROUP, buffer_len=500)


@pytest.mark.parametrize(
    "template",
    [
        "np.f2py.os.system('touch {marker}') > 0",
        "ak.highlevel.builtins.open('{marker}', 'w').write('x') > 0",
        "np.save('{marker}', cuspEmax) > 0",
        "cuspEmax.tofile('{marker}') > 0",
        "9**9**9 > cuspEmax",
        "-" * 100_000 + "cuspEmax",
        "(" * 10_000 + "cuspEmax > 0" + ")" * 10_000,
    ],
    ids=lambda e: e[:30],
)
def test_iterator_query_and_hist_refuse_escapes(it, template, marker, tmp_path):
    expr = template.format(marker=marker)
    axis = hist.axis.Regular(10, 0, 3000, name="cuspEmax")
    with pytest.raises(ExpressionError):
        it.query(expr, library="pd")
    with pytest.raises(ExpressionError):
        it.hist(axis, where=expr)
    with pytest.raises(ExpressionError):
        it.hist(axis, keys=[expr])
    with pytest.raises(ExpressionError):
        it.hist(axis, weights=expr)
    assert list(tmp_path.iterdir()) == []


def test_hist_keys_over_a_where_function_go_through_the_same_checks(it, marker, tmp_path):
    def select(tb, _it):
        return {"e": tb["cuspEmax"].nda}

    axis = hist.axis.Regular(10, 0, 3000, name="x")
    h = it.hist(axis, where=select, keys=["np.abs(e) * 1.0"])
    assert h.sum(flow=True) == it.query(None, fields=["cuspEmax"], library="pd").shape[0]
    for key in (f"np.save('{marker}', e)", "np.f2py.os.getcwd()", "9**9**9 + e", "e.dump('x')"):
        # checked when the first chunk's values are known (a key may also be a returned name)
        with pytest.raises(TierflowError) as err:
            it.hist(axis, where=select, keys=[key])
        assert isinstance(err.value.__cause__, ExpressionError)
        assert not str(err.value.__cause__).startswith("evaluating")
    assert list(tmp_path.iterdir()) == []


def test_iterator_query_with_allowed_functions_still_works(it):
    df = it.query("np.isfinite(cuspEmax) & (np.abs(cuspEmax) > 1000)", library="pd")
    assert len(df) > 0 and (df["cuspEmax"].abs() > 1000).all()


# --- hit configs --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "template",
    [*ESCAPES[:18], "9**9**9 * trapEmax", "-" * 100_000 + "trapEmax", "a" * (MAX_LENGTH + 1)],
    ids=lambda e: e[:30],
)
def test_hit_configs_refuse_escapes_when_read(template, marker, tmp_path):
    expr = template.format(marker=marker)
    with pytest.raises(HitConfigError, match=r"operations\.x\.expression"):
        HitConfig.from_dict({"outputs": ["x"], "operations": {"x": {"expression": expr}}})
    assert list(tmp_path.iterdir()) == []


def test_hit_config_parameters_cannot_escape_the_bounds():
    # refused when the config is read, before any expression runs
    with pytest.raises(HitConfigError, match=r"operations\.x\.parameters\.k"):
        HitConfig.from_dict(
            {
                "outputs": ["x"],
                "operations": {
                    "x": {"expression": "k ** 3 + trapEmax", "parameters": {"k": 10**30}}
                },
            }
        )


# --- dsp configs --------------------------------------------------------------------------------
def raw_table(n: int = 3) -> Table:
    wf = np.full((n, 100), 10, "uint16")
    wf[:, 50:] += 100
    return Table(
        {"waveform": WaveformTable(values=wf, t0=np.zeros(n), t0_units="ns", dt=16, dt_units="ns")}
    )


def dsp_config(processor) -> dict:
    return {"outputs": ["x"], "processors": {"x": processor}}


@pytest.mark.parametrize(
    ("processor", "key"),
    [
        ({"function": "system", "module": "os", "args": ["'touch {marker}'", "x"]}, "module"),
        ({"function": "run", "module": "subprocess", "args": ["'true'", "x"]}, "module"),
        ({"function": "open", "module": "builtins", "args": ["'{marker}'", "x"]}, "module"),
        ({"function": "lfilter", "module": "scipy.signal", "args": ["waveform", "x"]}, "module"),
        ({"function": "save", "module": "numpy", "args": ["'{marker}'", "waveform"]}, "function"),
        ({"function": "load", "module": "np", "args": ["'{marker}'", "x"]}, "function"),
        ({"function": "numpy.memmap", "args": ["'{marker}'", "x"]}, "function"),
        ({"function": "f2py", "module": "numpy", "args": ["x"]}, "function"),
    ],
    ids=lambda p: str(p)[:40],
)
def test_dsp_configs_refuse_modules_and_numpy_functions_off_the_list(
    processor, key, marker, tmp_path
):
    processor = {**processor, "args": [a.format(marker=marker) for a in processor["args"]]}
    processor.update(signature="(n)->()", types=["f->f"])
    with pytest.raises(DSPConfigError) as err:
        process(raw_table(), dsp_config(processor))
    assert err.value.processor == "x" and err.value.key == key
    assert list(tmp_path.iterdir()) == []


def test_a_module_the_user_trusts_can_be_named(tmp_path, monkeypatch):
    (tmp_path / "my_processors.py").write_text(
        "def first(w, out):\n    out[:] = w[:, 0]\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    processor = {
        "function": "first",
        "module": "my_processors",
        "args": ["waveform", "x"],
        "signature": "(n)->()",
        "types": ["f->f"],
    }
    with pytest.raises(DSPConfigError, match="TIERFLOW_DSP_MODULES"):
        process(raw_table(), dsp_config(processor))
    monkeypatch.setenv("TIERFLOW_DSP_MODULES", "other, my_processors")
    assert process(raw_table(), dsp_config(processor))["x"].nda.tolist() == [10.0] * 3


@pytest.mark.parametrize(
    "expression",
    [
        "waveform[0] * 9**9**9",
        "waveform[0] * len('a' * 10**12)",
        "-" * (MAX_DEPTH + 10) + "waveform[0]",
        "waveform[0] * np.__version__",
        "waveform[0] * np.f2py",
        "waveform[0] * ([None, 9] ** 99)",
    ],
    ids=lambda e: e[:30],
)
def test_dsp_expressions_are_bounded(expression):
    with pytest.raises(DSPConfigError) as err:
        process(raw_table(), dsp_config(expression))
    assert err.value.processor == "x"


def test_dsp_numpy_constants_and_functions_still_work():
    cfg = {
        "outputs": ["x", "m"],
        "processors": {
            "x": "waveform[99] * np.pi / np.pi",
            "m": {
                "function": "amax",
                "module": "numpy",
                "args": ["waveform", 1, "m"],
                "signature": "(n),()->()",
                "types": ["fi->f"],
            },
        },
    }
    out = process(raw_table(), cfg)
    assert out["x"].nda.tolist() == [110.0] * 3 and out["m"].nda.tolist() == [110.0] * 3


def test_errors_are_tierflow_errors():
    assert issubclass(ExpressionError, TierflowError) and issubclass(DSPConfigError, TierflowError)
