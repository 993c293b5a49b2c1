"""Config parsing and binding: forms, db lookups, units, slices, and the errors of bad configs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tierflow.dsp import compile_chain, load_config, process
from tierflow.errors import DSPConfigError, DSPCycleError, DSPInputError, DSPUnitError
from tierflow.types import Table, WaveformTable


def raw_table(n: int = 4, t0: float = 0.0, length: int = 1000) -> Table:
    """A step at sample 500 of height 100 + row, on a baseline of 10, dt = 16 ns."""
    wf = np.full((n, length), 10, "uint16")
    for i in range(n):
        wf[i, 500:] += 100 + i
    return Table(
        {
            "waveform": WaveformTable(
                values=wf, t0=np.full(n, t0), t0_units="ns", dt=16, dt_units="ns"
            ),
            "baseline": np.full(n, 10, "uint16"),
            "timestamp": np.arange(n, dtype="float64"),
        }
    )


# --- forms ------------------------------------------------------------------------------------
def test_one_line_dict_and_expression_forms_agree():
    forms = [
        {"height": "subtract(top, bottom, height)"},
        {
            "height": {
                "function": "subtract",
                "module": "numpy",
                "args": ["top", "bottom", "height"],
            }
        },
        {"height": {"function": "numpy.subtract", "args": ["top", "bottom", "height"]}},
        {"height": "top - bottom"},
    ]
    base = {"top": "waveform[999]", "bottom": "waveform[0]"}
    results = []
    for form in forms:
        if "module" not in json.dumps(form) and "(" in json.dumps(form):
            form = {"height": {"function": "subtract(top, bottom, height)", "module": "numpy"}}
        cfg = {"outputs": ["height"], "processors": {**base, **form}}
        results.append(process(raw_table(), cfg)["height"].nda.tolist())
    assert all(r == [100, 101, 102, 103] for r in results)


def test_config_from_json_and_yaml_text_and_file(tmp_path):
    cfg = {"outputs": ["x"], "processors": {"x": "waveform[0] * 2"}}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    yaml_text = "outputs: [x]\nprocessors:\n  x: waveform[0] * 2\n"
    (tmp_path / "c.yaml").write_text(yaml_text)
    for source in (cfg, json.dumps(cfg), str(path), path, yaml_text, str(tmp_path / "c.yaml")):
        assert process(raw_table(2), source)["x"].nda.tolist() == [20, 20]


def test_multiple_outputs_key_and_units_are_written():
    cfg = {
        "outputs": ["lo", "hi"],
        "processors": {
            "lo, hi": {
                "function": "percentile",
                "module": "numpy",
                "args": ["waveform", "[0, 100]", 1, "lo, hi"],
            }
        },
    }
    with pytest.raises(DSPConfigError):  # "lo, hi" is not one output variable
        process(raw_table(), cfg)
    cfg = {
        "outputs": ["a", "b"],
        "processors": {"a": {"function": "waveform[0]", "unit": "ADC"}, "b": "a + 1"},
    }
    out = process(raw_table(), cfg)
    assert out["a"].attrs["units"] == "ADC"
    assert out["b"].nda.tolist() == [11, 11, 11, 11]


def test_passthrough_outputs_keep_their_attributes():
    out = process(raw_table(3), {"outputs": ["timestamp", "x"], "processors": {"x": "baseline"}})
    assert out["timestamp"].nda.tolist() == [0.0, 1.0, 2.0]
    assert list(out.keys()) == ["timestamp", "x"]


# --- slices, units, times -------------------------------------------------------------------
def test_slices_and_unit_constants_use_dt():
    cfg = {
        "outputs": ["n_slice", "n_time_slice", "samples", "late"],
        "processors": {
            "n_slice": "len(waveform[0:750])",
            "n_time_slice": "len(waveform[0:800*ns])",  # 800 ns / 16 ns = 50 samples
            "samples": "10*us / waveform.period",  # 625
            "late": "waveform[1*us:][-1]",
        },
    }
    out = process(raw_table(2), cfg)
    assert out["n_slice"].nda.tolist() == [750, 750]
    assert out["n_time_slice"].nda.tolist() == [50, 50]
    assert out["samples"].nda.tolist() == [625.0, 625.0]
    assert out["late"].nda.tolist() == [110, 111]


def test_unit_constant_passed_to_a_processor_becomes_samples():
    cfg = {
        "outputs": ["y"],
        "processors": {
            "bl": "waveform[0]",
            "y": {
                "function": "add",
                "module": "numpy",
                "args": ["bl", "10*us", "y"],
                "coord_grid": "waveform",
            },
        },
    }
    chain = compile_chain(cfg, raw_table())
    add = next(s for s in chain.plan.steps if s.label == "y")
    assert add.args[1] == 625
    assert chain.run(raw_table()).table["y"].nda.tolist() == [635] * 4


def test_time_outputs_are_ns_and_include_t0_and_slice_offsets():
    cfg = {
        "outputs": ["tp", "tp_win", "tp_us", "rise"],
        "processors": {
            "tp": {
                "function": "argmax",
                "module": "numpy",
                "args": ["waveform", 1, "tp"],
                "signature": "(n),()->()",
                "types": ["Hi->l"],
                "unit": "ns",
            },
            "tp_win": {
                "function": "argmax",
                "module": "numpy",
                "args": ["waveform[400:]", 1, "tp_win"],
                "signature": "(n),()->()",
                "types": ["Hi->l"],
                "unit": "ns",
            },
            "tp_us": {"function": "tp + 1*us", "unit": "us"},
            "rise": {"function": "tp_win - tp", "unit": "ns"},
        },
    }
    out = process(raw_table(2, t0=320.0), cfg)
    # the step is at sample 500: 500 * 16 ns + t0
    assert out["tp"].nda.tolist() == [8320.0, 8320.0]
    assert out["tp_win"].nda.tolist() == [8320.0, 8320.0]
    assert out["tp"].attrs["units"] == "ns"
    assert out["tp_us"].nda.tolist() == pytest.approx([9.32, 9.32])
    assert out["rise"].nda.tolist() == [0.0, 0.0]  # a duration: no t0 added


def test_unit_that_cannot_be_converted_names_processor_and_key():
    cfg = {
        "outputs": ["y"],
        "processors": {
            "y": {
                "function": "add",
                "module": "numpy",
                "args": ["waveform[0]", "3*V", "y"],
                "coord_grid": "waveform",
            }
        },
    }
    with pytest.raises(DSPUnitError, match=r"processor 'y' \(processors\.y\.args\[1\]\).*V"):
        compile_chain(cfg, raw_table())
    cfg = {"outputs": ["y"], "processors": {"y": "waveform[0] + 10*us"}}
    with pytest.raises(DSPUnitError, match=r"processors\.y\.function"):
        compile_chain(cfg, raw_table())


# --- database parameters --------------------------------------------------------------------
DB_CFG = {
    "outputs": ["scaled"],
    "processors": {
        "scaled": {"function": "waveform[999] * db.gain.factor", "defaults": {"db.gain.factor": 2}}
    },
}


def test_db_lookup_uses_channel_entry_then_default():
    tb = raw_table(1)
    assert process(tb, DB_CFG)["scaled"].nda.tolist() == [220]
    assert process(tb, DB_CFG, database={"gain": {"factor": 3}})["scaled"].nda.tolist() == [330]
    assert process(tb, DB_CFG, database={"other": 1})["scaled"].nda.tolist() == [220]


def test_db_lookup_without_entry_or_default_is_an_error_naming_everything():
    cfg = {"outputs": ["y"], "processors": {"y": {"function": "waveform[0] * db.gain.factor"}}}
    with pytest.raises(DSPConfigError) as info:
        compile_chain(cfg, raw_table(), database={"gain": {}}, channel="ch1084803")
    message = str(info.value)
    assert "db.gain.factor" in message and "ch1084803" in message and "processors.y" in message
    assert info.value.processor == "y"


def test_db_values_with_units_are_converted_with_dt():
    cfg = {
        "outputs": ["n"],
        "processors": {
            "n": {"function": "len(waveform[0:db.win])", "defaults": {"db.win": "1.6*us"}}
        },
    }
    assert process(raw_table(1), cfg)["n"].nda.tolist() == [100]
    assert process(raw_table(1), cfg, database={"win": "3.2*us"})["n"].nda.tolist() == [200]


# --- ordering and bad configs ---------------------------------------------------------------
def test_dependencies_are_ordered_whatever_the_order_in_the_config():
    cfg = {
        "outputs": ["c"],
        "processors": {"c": "b * 2", "b": "a + 1", "a": "waveform[0]", "unused": "nothing_here"},
    }
    assert process(raw_table(1), cfg)["c"].nda.tolist() == [22]


def test_cycle_is_an_error_naming_the_processors_in_it():
    cfg = {"outputs": ["a"], "processors": {"a": "b + 1", "b": "c * 2", "c": "a - 1"}}
    with pytest.raises(DSPCycleError, match="a -> b -> c -> a"):
        compile_chain(cfg, raw_table())


def test_typo_in_a_column_name_names_processor_and_key():
    cfg = {
        "outputs": ["y"],
        "processors": {
            "y": {
                "function": "subtract",
                "module": "numpy",
                "args": ["waveform[0]", "baselin", "y"],
            }
        },
    }
    with pytest.raises(DSPInputError) as info:
        compile_chain(cfg, raw_table())
    message = str(info.value)
    assert "processors.y.args[1]" in message and "'baselin'" in message and "'baseline'" in message


def test_unknown_processor_names_processor_and_suggests():
    cfg = {"outputs": ["y"], "processors": {"y": "bl_subtrakt(waveform, baseline, y)"}}
    with pytest.raises(
        DSPConfigError, match=r"processor 'y' .*unknown processor 'bl_subtrakt'.*bl_subtract"
    ):
        compile_chain(cfg, raw_table())


def test_unknown_keys_and_arguments_are_errors():
    bad_key = {"outputs": ["y"], "processors": {"y": {"function": "waveform[0]", "units": "ADC"}}}
    with pytest.raises(DSPConfigError, match=r"processors\.y\.units.*unknown key 'units'"):
        load_config(bad_key)
    bad_kwarg = {
        "outputs": ["y"],
        "processors": {
            "y": {
                "function": "amax",
                "module": "numpy",
                "args": ["waveform", 1, "y"],
                "kwargs": {"signatur": "x"},
            }
        },
    }
    with pytest.raises(DSPConfigError, match="unknown argument 'signatur'"):
        load_config(bad_kwarg)
    bad_named = {
        "outputs": ["y"],
        "processors": {
            "y": {
                "function": "cumsum",
                "module": "numpy",
                "args": ["waveform", "axs=1", "out=y"],
                "signature": "(n),()->(n)",
                "types": ["Hi->f"],
            }
        },
    }
    with pytest.raises(DSPConfigError, match=r"has no argument 'axs' \(did you mean 'axis'\?\)"):
        compile_chain(bad_named, raw_table())
    with pytest.raises(DSPConfigError, match="unknown key 'inputz'"):
        load_config({"outputs": [], "processors": {}, "inputz": []})


def test_double_star_arguments_in_an_expression_are_a_config_error():
    cfg = {"outputs": ["x"], "processors": {"x": "where(**waveform)"}}
    with pytest.raises(DSPConfigError, match=r"'where\(\*\*waveform\)': \*\*arguments"):
        compile_chain(cfg, raw_table())


def test_wrong_number_of_arguments_and_wrong_shapes_are_errors():
    amax = {"function": "amax", "module": "numpy", "signature": "(n),()->()", "types": ["fi->f"]}
    with pytest.raises(DSPConfigError, match=r"takes 2 inputs and 1 outputs.*got 2"):
        compile_chain(
            {"outputs": ["y"], "processors": {"y": {**amax, "args": ["waveform", "y"]}}},
            raw_table(),
        )
    # a per-row scalar where the processor needs a waveform
    with pytest.raises(DSPInputError, match=r"processors\.y\.args\[0\].*'baseline'"):
        compile_chain(
            {"outputs": ["y"], "processors": {"y": {**amax, "args": ["baseline", 1, "y"]}}},
            raw_table(),
        )


def test_type_errors_are_config_errors_not_nan_rows():
    cfg = {
        "outputs": ["tp"],
        "processors": {
            "tp": {
                "function": "argmax",
                "module": "numpy",
                "args": ["waveform", 1, "tp"],
                "signature": "(n),()->()",
                "types": ["Hi->f"],
            }
        },
    }
    with pytest.raises(DSPConfigError, match=r"processor 'tp'.*Cannot cast"):
        process(raw_table(), cfg)


def test_missing_output_and_vector_waveforms_are_errors():
    with pytest.raises(DSPInputError, match="output 'nope'"):
        compile_chain({"outputs": ["nope"], "processors": {}}, raw_table())
    jagged = Table({"waveform": WaveformTable(values=[[1, 2], [3]], dt=16, dt_units="ns")})
    with pytest.raises(DSPInputError, match="different lengths"):
        compile_chain({"outputs": ["y"], "processors": {"y": "waveform[0]"}}, jagged)


def test_waveform_rows_with_another_dt_are_refused():
    chain = compile_chain({"outputs": ["y"], "processors": {"y": "waveform[0]"}}, raw_table())
    other = raw_table()
    other["waveform"]["dt"].nda[2] = 8
    with pytest.raises(DSPInputError, match="sampling periods"):
        chain.run(other)
