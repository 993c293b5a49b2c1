"""The binder's memos (statements, ufunc results, substituted specs) and the executor's set-up
give the same plans, results and errors as working everything out afresh."""

from __future__ import annotations

import numpy as np
import pytest

from tierflow.dsp import compile_chain, load_config, process
from tierflow.dsp.compiler import _UFUNC_RESULTS, bind
from tierflow.dsp.executor import Executor, aligned_arrays
from tierflow.dsp.plan import Schema
from tierflow.errors import DSPConfigError
from tierflow.types import Array, Table, WaveformTable


def wave_table() -> Table:
    wf = np.arange(20, dtype="uint16").reshape(2, 10)
    return Table(
        {
            "waveform": WaveformTable(values=wf, dt=16, dt_units="ns", t0_units="ns"),
            "bl": Array(np.array([1.0, 2.0], "float32")),
            "n": Array(np.array([3, 4], "int64")),
        }
    )


@pytest.mark.parametrize("repeat", [1, 2])  # the second time from the memo of ufunc results
def test_arithmetic_of_a_waveform_and_a_value_per_row_broadcasts_like_numpy(repeat):
    tb = wave_table()
    wf = tb["waveform"]["values"].nda
    config = {
        "outputs": ["d", "e", "f"],
        "processors": {"d": "waveform - bl", "e": "bl * waveform[3]", "f": "n + 0.5"},
    }
    for _ in range(repeat):
        out = process(tb, config)
    expected = wf - np.float32([1, 2])[:, None]
    assert out["d"].values.nda.dtype == expected.dtype
    assert out["d"].values.nda.tobytes() == expected.tobytes()
    assert out["e"].nda.tolist() == [3.0, 26.0]
    assert out["f"].nda.dtype == np.float64 and out["f"].nda.tolist() == [3.5, 4.5]


def test_ufunc_results_are_remembered_by_shape_dtype_and_constant():
    cfg = load_config({"outputs": ["y"], "processors": {"y": "x * 2 + 1.5"}})
    schema = Schema.of_columns({"x": np.zeros((3, 4), "int16")})
    first = bind(cfg, schema)
    keys = [k for k in _UFUNC_RESULTS if k[0] is np.multiply and (int, 2) in k]
    assert keys
    again = bind(cfg, schema)
    assert [s.text for s in again.steps] == [s.text for s in first.steps]
    assert again.outputs[0].var.dtype == first.outputs[0].var.dtype == np.float64


def test_channels_with_different_database_values_get_their_own_values():
    tb = wave_table()
    config = {
        "outputs": ["y"],
        "processors": {"y": {"function": "waveform * db.g", "defaults": {"db.g": 1}}},
    }
    wf = tb["waveform"]["values"].nda
    for gain in (2, 3, 2, 5):
        out = compile_chain(config, tb, database={"g": gain}).run(tb).table
        assert out["y"].values.nda.tolist() == (wf * gain).tolist()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "s", "s"], "argument s is an output of bl_subtract ((n),()->(n)) but it is already"),
        (["x", "s", "3"], "argument 3 is an output of bl_subtract ((n),()->(n)) but it is not a"),
        (["x", "y"], "bl_subtract takes 2 inputs and 1 outputs (signature (n),()->(n)); got 2"),
        (["x", "s", "y", "axis=1"], "bl_subtract has no argument 'axis'"),
    ],
)
def test_call_errors_name_the_argument(args, message):
    cfg = load_config(
        {"outputs": ["y"], "processors": {"y": {"function": "bl_subtract", "args": args}}}
    )
    schema = Schema.of_columns({"x": np.zeros((3, 8), "float32"), "s": np.zeros(3)})
    with pytest.raises(DSPConfigError, match=r"processors\.y\.args") as err:
        bind(cfg, schema)
    assert message in str(err.value)


def test_type_errors_show_the_types_as_a_list():
    cfg = load_config(
        {
            "outputs": ["y"],
            "processors": {
                "y": {
                    "function": "amax",
                    "module": "numpy",
                    "args": ["x", "y"],
                    "signature": "(n)->()",
                    "types": ["fii->f"],
                }
            },
        }
    )
    with pytest.raises(DSPConfigError, match=r"the types of amax \(\['fii->f'\]\) do not match"):
        bind(cfg, Schema.of_columns({"x": np.zeros((3, 8), "float32")}))


def test_a_whole_block_runs_on_the_buffers_themselves():
    plan = bind(
        load_config({"outputs": ["y"], "processors": {"y": "x[1:] * 2"}}),
        Schema.of_columns({"x": np.zeros((1, 5))}),
    )
    ex = Executor(plan, block_width=4)
    buffers = {id(b) for b in ex.buffers.values()}
    (_, args, _), *_ = ex.full_calls
    assert id(args[-1]) in buffers  # the output: a whole buffer, not a view of one
    assert args[0].base is ex.buffers[id(plan.inputs[0])].base  # the slice views the input
    out = ex.allocate(3)
    x = np.arange(15.0).reshape(3, 5)
    ex.run({"x": x}, 3, out)
    assert out["y"].tolist() == (x[:, 1:] * 2).tolist()


def test_aligned_arrays_do_not_overlap():
    layouts = [((3,), np.dtype("int8")), ((2, 0), np.dtype("float32")), ((4, 3), np.dtype("f8"))]
    arrays = aligned_arrays(layouts)
    assert [a.shape for a in arrays] == [(3,), (2, 0), (4, 3)]
    assert all(a.ctypes.data % 64 == 0 for a in arrays)
    arrays[0][:] = 1
    arrays[2][:] = 2.0
    assert arrays[0].tolist() == [1, 1, 1] and arrays[2].sum() == 24.0


def test_equal_database_values_of_different_types_give_different_chains():
    # 2, 2.0 and True are equal in Python; the chains they make are not (x * 2 of an integer
    # column is an integer, x * 2.0 a float): the caches must not give one for the other
    cfg = {"outputs": ["y"], "processors": {"y": {"function": "x * db.gain"}}}
    tb = Table({"x": np.arange(3, dtype="i4")})
    dtypes = [
        compile_chain(cfg, tb, database={"gain": gain}).run(tb).table["y"].nda.dtype
        for gain in (2, 2.0, 2, 2.0)
    ]
    assert dtypes == [np.dtype("i4"), np.dtype("f8"), np.dtype("i4"), np.dtype("f8")]
