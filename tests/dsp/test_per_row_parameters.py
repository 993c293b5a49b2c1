"""Database values read per row: channels that differ only in numbers and times share one bound
plan and run together, with outputs bit for bit those of chains with the values as constants."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from tierflow import lh5
from tierflow.dsp import build_dsp, config_path
from tierflow.dsp.chain import compile_chain, run_together
from tierflow.dsp.compiler import prepare_per_row
from tierflow.dsp.config import load_config
from tierflow.dsp.parameters import kind_of
from tierflow.errors import DSPConfigError
from tierflow.types import Table, WaveformTable

TESTDATA = Path(
    os.environ.get("TIERFLOW_TESTDATA", Path(__file__).resolve().parents[3] / "shared" / "testdata")
)
RAW_FILE = sorted(
    (
        TESTDATA / "lh5" / "prod-ref-l200" / "generated" / "tier" / "raw" / "cal" / "p03" / "r001"
    ).glob("*.lh5")
)[0]
CHANNELS = ["ch1084803", "ch1084804", "ch1121600"]
FULL = str(config_path("hpge-full"))
#: each channel its own decay time, filter times and pick-off fractions (times of three kinds)
DATABASE = {
    "ch1084803": {"pz": {"tau": "537.5*us"}, "etrap": {"sample": 0.7}},
    "ch1084804": {"pz": {"tau": "540.123456789*us"}, "cusp": {"flat": "2.5*us"}},
    "ch1121600": {"pz": {"tau": "512.5*us"}, "zac": {"sigma": "15.3*us"}, "ttrap": {"rise": 600}},
}


def _values(obj) -> np.ndarray:
    return obj.nda if hasattr(obj, "nda") else obj["values"].nda


def _assert_same(a: Table, b: Table) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        x, y = _values(a[name]), _values(b[name])
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name
        assert a[name].attrs == b[name].attrs, name


@pytest.fixture(scope="module")
def raw_tables() -> dict[str, Table]:
    store = lh5.LH5Store()
    return {ch: store.read(f"{ch}/raw", str(RAW_FILE), n_rows=40) for ch in CHANNELS}


def test_kinds_of_database_values():
    assert kind_of("3.008*us") == ("time", 3008.0)  # the last-bit error of 3.008*1000 snapped
    assert kind_of("-2*ns") == ("time", -2.0)
    assert kind_of("1.5") == ("float", 1.5) and kind_of(np.int32(4)) == ("int", 4)
    assert kind_of("6*MHz") is None and kind_of("ADC") is None and kind_of([1, 2]) is None


def test_channels_share_one_plan_with_the_outputs_of_constants(raw_tables):
    chains = {
        ch: compile_chain(FULL, tb, DATABASE[ch], ch, per_row=True) for ch, tb in raw_tables.items()
    }
    # a filter rise time in samples (an int) is another kind than a time: a plan of its own
    first, second, third = (chains[ch] for ch in CHANNELS)
    assert first.plan is second.plan and third.plan is not first.plan
    assert first.plan.parameters and first.shared is not None
    again = compile_chain(
        FULL, raw_tables[CHANNELS[0]], DATABASE[CHANNELS[0]], CHANNELS[0], per_row=True
    )
    assert first is again
    for ch, tb in raw_tables.items():
        constants = compile_chain(FULL, tb, DATABASE[ch], ch, per_row=False)
        assert not constants.plan.parameters
        _assert_same(chains[ch].run(tb).table, constants.run(tb).table)
        _assert_same(chains[ch].run(tb, block_width=3).table, constants.run(tb).table)


def test_tables_run_together_as_they_run_alone(raw_tables):
    database = {ch: {"pz": {"tau": f"{500 + 7 * i}.25*us"}} for i, ch in enumerate(CHANNELS)}
    tables = [raw_tables[ch] for ch in CHANNELS] * 2  # a channel twice: equal kernels reused
    channels = CHANNELS * 2
    chains = [
        compile_chain(FULL, tb, database[ch], ch, per_row=True)
        for ch, tb in zip(channels, tables, strict=True)
    ]
    assert len({id(c.plan) for c in chains}) == 1
    for block_width in (16, 5):
        together = run_together(chains, tables, block_width)
        for ch, tb, result in zip(channels, tables, together, strict=True):
            alone = compile_chain(FULL, tb, database[ch], ch, per_row=False).run(tb)
            _assert_same(result.table, alone.table)
            assert result.failed == alone.failed


def test_build_dsp_equals_chains_with_constants(tmp_path, raw_tables):
    out = tmp_path / "dsp.lh5"
    build_dsp(RAW_FILE, out, FULL, lh5_tables=CHANNELS, database=DATABASE, n_max=40, progress=False)
    for ch, tb in raw_tables.items():
        expected = compile_chain(FULL, tb, DATABASE[ch], ch, per_row=False).run(tb).table
        _assert_same(lh5.read(f"{ch}/dsp", out), expected)


def test_build_dsp_with_processes_equals_serial(tmp_path):
    kwargs = {"lh5_tables": CHANNELS, "database": DATABASE, "n_max": 12, "progress": False}
    build_dsp(RAW_FILE, tmp_path / "serial.lh5", FULL, **kwargs)
    build_dsp(RAW_FILE, tmp_path / "two.lh5", FULL, processes=2, **kwargs)
    for ch in CHANNELS:
        _assert_same(
            lh5.read(f"{ch}/dsp", tmp_path / "two.lh5"),
            lh5.read(f"{ch}/dsp", tmp_path / "serial.lh5"),
        )


def _table(x: np.ndarray) -> Table:
    wf = np.tile(np.arange(64, dtype="float32"), (len(x), 1))
    return Table({"x": x, "waveform": WaveformTable(values=wf, dt=16, dt_units="ns")})


@pytest.mark.parametrize(
    ("dtype", "gain", "expected"),
    [("float32", 2.5, "float32"), ("int16", 2, "int16"), ("int16", 2.5, "float64")],
)
def test_values_are_typed_as_the_constants_they_replace(dtype, gain, expected):
    config = {
        "outputs": ["y", "n"],
        "processors": {
            "y": {"function": "x * db.gain", "defaults": {"db.gain": 1}},
            "n": {"function": "round(db.span / waveform.period) + x", "defaults": {"db.span": 0}},
        },
    }
    tb = _table(np.arange(5, dtype=dtype))
    database = {"gain": gain, "span": "40*ns"}
    per_row = compile_chain(config, tb, database, per_row=True)
    assert per_row.plan.parameters
    out = per_row.run(tb).table
    assert out["y"].nda.dtype == np.dtype(expected)
    _assert_same(out, compile_chain(config, tb, database, per_row=False).run(tb).table)


@pytest.mark.parametrize(
    "processor",
    [
        {"function": "waveform[:round(db.n)] * 2", "defaults": {"db.n": 8}},  # a slice bound
        {"function": "where(x > db.n, x, 0)", "defaults": {"db.n": 2}},  # a comparison
        {  # a declared shape
            "function": "cusp_filter",
            "args": [2.0, 2.0, 0.0, "y(round(db.n), 'f')"],
            "defaults": {"db.n": 9},
        },
    ],
)
def test_values_needed_as_constants_are_bound_per_channel(processor):
    config = {"outputs": ["y"], "processors": {"y": processor}}
    tb = _table(np.arange(5, dtype="float32"))
    outputs = []
    for n in (3, 6):
        chain = compile_chain(config, tb, {"n": n}, per_row=True)
        assert not chain.plan.parameters and chain.shared is None
        out = chain.run(tb).table
        _assert_same(out, compile_chain(config, tb, {"n": n}, per_row=False).run(tb).table)
        outputs.append(out)
    assert _values(outputs[0]["y"]).tobytes() != _values(outputs[1]["y"]).tobytes()


def test_a_window_length_per_row_is_rounded_as_its_constant():
    config = {
        "outputs": ["y"],
        "processors": {
            "y": {
                "function": "moving_window_left",
                "args": ["waveform", "db.length/waveform.period", "y"],
                "defaults": {"db.length": "64*ns"},
            },
        },
    }
    tb = _table(np.arange(3, dtype="float32"))
    lengths = ("40*ns", "72*ns")  # 2.5 and 4.5 samples: rounded half to even, to 2 and 4
    chains = [compile_chain(config, tb, {"length": n}, per_row=True) for n in lengths]
    assert chains[0].plan is chains[1].plan
    results = [chain.run(tb).table for chain in chains]
    for result, n in zip(results, lengths, strict=True):
        expected = compile_chain(config, tb, {"length": n}, per_row=False).run(tb).table
        _assert_same(result, expected)
    assert _values(results[0]["y"]).tobytes() != _values(results[1]["y"]).tobytes()


def test_missing_value_without_default_names_the_channel():
    config = {"outputs": ["y"], "processors": {"y": "x * db.gain"}}
    with pytest.raises(DSPConfigError, match=r"db\.gain is not in channel 'ch7'"):
        compile_chain(config, _table(np.arange(3.0)), {"other": 1}, "ch7", per_row=True)


def test_prepared_config_is_shared_and_pickles():
    cfg = load_config(FULL)
    a, values_a = prepare_per_row(cfg, DATABASE["ch1084803"], "ch1084803")
    b, values_b = prepare_per_row(cfg, DATABASE["ch1084804"], "ch1084804")
    assert a is b and values_a != values_b
    assert "db." not in repr([s.args for s in a.specs.values()])
    copy = pickle.loads(pickle.dumps(a))
    assert copy.params == a.params and copy.order == a.order


def test_large_tables_compile_their_values_in(tmp_path, monkeypatch, raw_tables):
    module = sys.modules["tierflow.dsp.build_dsp"]  # the package exports the function

    def refuse(*args, **kwargs):
        raise AssertionError("tables larger than PER_ROW_MAX_ROWS do not run together")

    monkeypatch.setattr(module, "PER_ROW_MAX_ROWS", 5)  # the tables have 10 rows
    monkeypatch.setattr(module, "run_together", refuse)
    out = tmp_path / "dsp.lh5"
    build_dsp(RAW_FILE, out, FULL, lh5_tables=CHANNELS, database=DATABASE, n_max=40, progress=False)
    for ch, tb in raw_tables.items():
        expected = compile_chain(FULL, tb, DATABASE[ch], ch).run(tb).table
        _assert_same(lh5.read(f"{ch}/dsp", out), expected)
