"""Config files and values no config can be: each is refused with a tierflow error naming the
file, the key and what was expected, before any output is made (dsp, hit and pipeline)."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from tierflow import configfile, lh5
from tierflow.dsp import build_dsp, load_config
from tierflow.errors import DSPConfigError, HitConfigError, TierflowError
from tierflow.hit import HitConfig, build_hit
from tierflow.pipeline import PipelineConfig, PipelineConfigError, run_pipeline
from tierflow.types import Table, WaveformTable

DSP_CONFIG = {"outputs": ["height"], "processors": {"height": "waveform[63] - waveform[0]"}}
HIT_CONFIG = {"outputs": ["e"], "operations": {"e": {"expression": "2*height", "units": "keV"}}}

#: a YAML "billion laughs": nine lines that a reader expands to 10**9 strings
BILLION_LAUGHS = "\n".join(
    ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    + ["outputs: *a8"]
)


@pytest.fixture
def files(tmp_path):
    """A tiny raw file and its dsp file."""
    raw = tmp_path / "raw.lh5"
    wf = np.zeros((5, 64), "uint16")
    wf[:, 32:] = 100
    lh5.write(
        Table({"waveform": WaveformTable(values=wf, dt=16, dt_units="ns", t0_units="ns")}),
        "ch1/raw",
        raw,
    )
    dsp = tmp_path / "dsp.lh5"
    build_dsp(raw, dsp, DSP_CONFIG, progress=False)
    return raw, dsp


def _build_dsp(files, config, out):
    build_dsp(files[0], out, config, progress=False)


def _build_dsp_database(files, database, out):
    build_dsp(files[0], out, {**DSP_CONFIG}, database=database, progress=False)


def _build_hit(files, config, out):
    build_hit(files[1], out, config)


def _build_hit_parameters(files, parameters, out):
    build_hit(files[1], out, HIT_CONFIG, parameters=parameters)


def _pipeline(files, config, out):
    run_pipeline(config, progress=False)


RUNS = {
    "dsp config": (_build_dsp, DSPConfigError),
    "dsp database": (_build_dsp_database, DSPConfigError),
    "hit config": (_build_hit, HitConfigError),
    "hit parameters": (_build_hit_parameters, HitConfigError),
    "pipeline config": (_pipeline, PipelineConfigError),
}


def _top(which: str) -> str:
    """A top-level key that ``which`` accepts (so that checks of its value are reached)."""
    return "tables" if which == "pipeline config" else "outputs"


def assert_refused(files, tmp_path, which, source, *expected):
    """Run ``which`` on ``source``: its error class, naming each of ``expected``; no output."""
    run, error = RUNS[which]
    out = tmp_path / "out.lh5"
    with pytest.raises(error) as caught:
        run(files, source, out)
    for text in expected:
        assert str(text) in str(caught.value)
    assert not out.exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".out.lh5")]
    return caught.value


@pytest.mark.parametrize("which", sorted(RUNS))
def test_missing_file_is_refused_naming_it(files, tmp_path, which):
    path = tmp_path / "nowhere.yaml"
    assert_refused(files, tmp_path, which, path, path, "No such file")


@pytest.mark.parametrize("which", sorted(RUNS))
def test_directory_is_refused_naming_it(files, tmp_path, which):
    path = tmp_path / "a-folder.json"
    path.mkdir()
    assert_refused(files, tmp_path, which, path, path, "is a directory")


@pytest.mark.parametrize("which", sorted(RUNS))
def test_fifo_is_refused_without_waiting_for_a_writer(files, tmp_path, which):
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    assert_refused(files, tmp_path, which, path, path, "not a regular file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_device_is_refused_without_reading_it(files, tmp_path):
    assert_refused(files, tmp_path, "dsp config", "/dev/zero", "/dev/zero", "not a regular file")


@pytest.mark.parametrize("which", sorted(RUNS))
def test_file_over_the_size_limit_is_refused(files, tmp_path, which, monkeypatch):
    path = tmp_path / "big.json"
    path.write_text(json.dumps({_top(which): ["x" * 100]}))
    monkeypatch.setattr(configfile, "MAX_FILE_BYTES", 50)
    assert_refused(files, tmp_path, which, path, path, "at most 50 bytes")


@pytest.mark.parametrize("which", sorted(RUNS))
def test_bytes_that_are_not_utf8_are_refused(files, tmp_path, which):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("outputs: [énergie]\n".encode("latin-1"))
    assert_refused(files, tmp_path, which, path, path, "not UTF-8", "byte 10")


@pytest.mark.parametrize("which", sorted(RUNS))
def test_yaml_syntax_error_is_refused_naming_the_line(files, tmp_path, which):
    path = tmp_path / "broken.yaml"
    path.write_text("outputs: [a, b\nprocessors: {\n")
    assert_refused(files, tmp_path, which, path, path, "neither JSON nor YAML", "line")


@pytest.mark.parametrize("which", sorted(RUNS))
def test_a_list_where_the_mapping_belongs_is_refused(files, tmp_path, which):
    path = tmp_path / "list.json"
    path.write_text("[1, 2, 3]")
    assert_refused(files, tmp_path, which, path, path, "holds a list, not a mapping")


@pytest.mark.parametrize("which", sorted(RUNS))
def test_yaml_billion_laughs_is_refused(files, tmp_path, which):
    path = tmp_path / "laughs.yaml"
    path.write_text(BILLION_LAUGHS)
    assert_refused(files, tmp_path, which, path, path, "more than 2,000,000 values")


@pytest.mark.parametrize("which", sorted(RUNS))
@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_deep_nesting_is_refused(files, tmp_path, which, suffix):
    path = tmp_path / f"deep.{suffix}"
    depth = 100_000 if suffix == "json" else 5_000
    path.write_text(f'{{"{_top(which)}": ' + "[" * depth + "]" * depth + "}")
    assert_refused(files, tmp_path, which, path, path, "nested")
    path.write_text(f'{{"{_top(which)}": ' + "[" * 100 + "]" * 100 + "}")  # parsed, then refused
    assert_refused(files, tmp_path, which, path, path, f"more than {configfile.MAX_DEPTH} levels")


@pytest.mark.parametrize("which", sorted(RUNS))
def test_lone_surrogate_is_refused_naming_the_key(files, tmp_path, which):
    path = tmp_path / "surrogate.json"
    path.write_text(f'{{"{_top(which)}": ["ok", "\\ud800"]}}')
    assert_refused(files, tmp_path, which, path, path, f"{_top(which)}[1]", "lone surrogate")


@pytest.mark.parametrize("which", sorted(RUNS))
def test_integer_beyond_64_bits_is_refused_naming_the_key(files, tmp_path, which):
    path = tmp_path / "huge.yaml"
    path.write_text(f"{_top(which)}: [{10**30}]\n")
    assert_refused(files, tmp_path, which, path, path, f"{_top(which)}[0]", "at most 64 bits")


def test_dict_configs_are_checked_like_files(files, tmp_path):
    deep: list = []
    for _ in range(200):
        deep = [deep]
    for which, bad, key in [
        ("dsp config", {**DSP_CONFIG, "outputs": ["\udfff"]}, "outputs[0]"),
        (
            "dsp config",
            {**DSP_CONFIG, "processors": {"height": {"function": deep}}},
            "processors.height",
        ),
        ("hit config", {**HIT_CONFIG, "outputs": [2**65]}, "outputs[0]"),
        ("dsp database", {"ch1": {"pz": {"tau": [2**70]}}}, "ch1.pz.tau[0]"),
    ]:
        assert_refused(files, tmp_path, which, bad, key)


@pytest.mark.parametrize(
    ("node", "key", "expected"),
    [
        ({"function": "bl_subtract", "args": ["waveform", None, "x"]}, "args[1]", "not NoneType"),
        ({"function": "bl_subtract", "args": ["waveform", "", "x"]}, "args[1]", "empty argument"),
        ({"function": "bl_subtract", "args": ["waveform", [1], "x"]}, "args[1]", "not list"),
        ({"function": "f", "args": [], "module": 3}, "module", "expected a string"),
        ({"function": "f", "args": [], "unit": [{"a": 1}]}, "unit[0]", "expected a unit name"),
        ({"function": "f", "args": [], "prereqs": [1]}, "prereqs[0]", "expected a string"),
        ({"function": "f", "args": [], "types": "ff->f", "signature": 5}, "signature", "string"),
        ({"function": "f", "args": [], "defaults": {"db.a": {"b": 1}}}, "defaults.db.a", "number"),
        ({"function": "f", "args": [], "lh5_attrs": {"units": [1]}}, "lh5_attrs.units", "string"),
        ({"function": "f", "args": [], "module": "..."}, "module", "not a module name"),
        ({"function": "f", "args": [], "types": ["zz->z"]}, "types[0]", "not a type signature"),
        ({"function": "f", "args": [], "signature": "(n),(,)->()"}, "signature", "gufunc"),
        ({"function": "f", "args": ["w", 2**63, "x"]}, "args[1]", "does not fit in 64 bits"),
        ({"function": "(" * 300 + "a" + ")" * 300}, "function", "nested"),
        ({"function": "+".join(["a"] * 100_000)}, "function", "cannot parse"),
    ],
)
def test_wrong_processor_values_name_processor_and_key(node, key, expected):
    with pytest.raises(DSPConfigError) as caught:
        load_config({"outputs": ["x"], "processors": {"x": node}})
    assert f"processors.x.{key}" in str(caught.value) and expected in str(caught.value)


def test_dsp_config_errors_name_the_file_and_survive_pickling(tmp_path):
    path = tmp_path / "chain.yaml"
    path.write_text("outputs: [x]\nprocessors:\n  x: {function: f, args: [a, x], unit: 5}\n")
    with pytest.raises(DSPConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: processor 'x' (processors.x.unit)")
    back = pickle.loads(pickle.dumps(caught.value))
    assert str(back) == str(caught.value) and back.file == str(path)


def test_hit_config_errors_name_the_file(tmp_path):
    path = tmp_path / "hit.yaml"
    path.write_text("outputs: [e]\noperations:\n  e: {expression: 2*x, dtype: complex128}\n")
    with pytest.raises(HitConfigError) as caught:
        HitConfig.load(path)
    assert str(caught.value).startswith(f"{path}: operations.e.dtype: 'complex128' is not")
    assert pickle.loads(pickle.dumps(caught.value)).file == str(path)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"raw": ["a", "b"]}, "raw"),
        ({"outdir": "o\x00ut"}, "outdir"),
        ({"tables": 5}, "tables"),
        ({"dsp": ["hpge-simple"]}, "dsp"),
        ({"dsp": {"config": 3}}, "dsp.config"),
        ({"hit": {"parameters": 1.5}}, "hit.parameters"),
        ({"calibration": {"deg": 3}}, "calibration.deg"),
        ({"calibration": {"lines": [583.2, float("nan")]}}, "calibration.lines[1]"),
        ({"calibration": {"plots": "yes"}}, "calibration.plots"),
        ({"calibration": {"energy": "trap Emax"}}, "calibration.energy"),
        ({"processes": 10**6}, "processes"),
        ({"processes": True}, "processes"),
        ({"buffer_len": 0}, "buffer_len"),
        ({"buffer_len": 2.5}, "buffer_len"),
    ],
)
def test_wrong_pipeline_values_name_the_file_and_key(tmp_path, change, key):
    config = {"raw": str(tmp_path / "*.lh5"), "outdir": str(tmp_path / "out"), **change}
    with pytest.raises(PipelineConfigError) as caught:
        PipelineConfig.from_dict(config, source="run.yaml")
    assert str(caught.value).startswith(f"run.yaml: {key}: ")
    assert not (tmp_path / "out").exists()


def test_a_value_the_chain_builder_cannot_use_is_a_config_error_naming_file_and_table(
    files, tmp_path
):
    path = tmp_path / "axis.json"
    amax = {
        "function": "amax",
        "module": "numpy",
        "args": ["waveform", float("nan"), "m"],  # NaN where an axis belongs
        "signature": "(n),()->()",
        "types": ["fi->f"],
    }
    path.write_text(json.dumps({"outputs": ["m"], "processors": {"m": amax}}))
    error = assert_refused(files, tmp_path, "dsp config", path, path)
    assert "ch1/raw" in str(error) or "processors.m" in str(error)


def test_hit_parameter_beyond_64_bits_is_refused_naming_the_key(files, tmp_path):
    config = {
        "outputs": ["e"],
        "operations": {"e": {"expression": "a * height", "parameters": {"a": -(2**63) - 1}}},
    }
    assert_refused(files, tmp_path, "hit config", config, "operations.e.parameters.a", "64 bits")


def test_hit_evaluation_that_overflows_is_a_tierflow_error_without_output(files, tmp_path):
    config = {"outputs": ["e"], "operations": {"e": f"height * {2**70}"}}
    out = tmp_path / "out.lh5"
    with pytest.raises(TierflowError):
        build_hit(files[1], out, config)
    assert not out.exists()
