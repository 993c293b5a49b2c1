"""Every ``tierflow`` command, given wrong arguments, prints one line in its own flags and exits
2 (usage) or 1 (files and data), never a traceback."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from testdata import DSP_CAL, HIT_CAL
from tierflow import sim
from tierflow.cli import main

HIT_CONFIGS = Path(importlib.import_module("tierflow.hit.build_hit").__file__).parent / "configs"
HIT_CONFIG = str(HIT_CONFIGS / "hpge-hit.json")
HIT_PARS = str(HIT_CONFIGS / "hpge-hit-pars-l200-p03-r001-cal.json")

#: names of Python arguments that must never reach a command-line user
PYTHON_NAMES = re.compile(
    r"write_mode|wo_mode|lh5_tables|n_max|buffer_len|start_row|hit_config|executor=|processes="
)


@pytest.fixture(scope="module")
def raw_file(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("sim")
    run = sim.simulate_run(
        root, n_events=20, channels=sim.default_channels(2), seed=3, compression=False
    )
    return run.raw_files[0]


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory) -> dict[str, str]:
    """A missing file, a folder, a text file, and malformed JSON/YAML configs."""
    d = tmp_path_factory.mktemp("bad")
    (d / "folder").mkdir()
    (d / "text.lh5").write_text("hello")
    (d / "bad.json").write_text('{"outputs": [')
    (d / "bad.yaml").write_text("outputs: [a, b\nprocessors: {")
    (d / "list.yaml").write_text("- 1\n- 2\n")
    return {
        "missing": str(d / "missing.lh5"),
        "folder": str(d / "folder"),
        "text": str(d / "text.lh5"),
        "bad_json": str(d / "bad.json"),
        "bad_yaml": str(d / "bad.yaml"),
        "list_yaml": str(d / "list.yaml"),
        "out": str(d / "out.lh5"),
    }


def _error_line(capsys, command: str) -> str:
    """stderr, checked to be one line naming the command and free of Python's vocabulary."""
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"tierflow {command}: error: "), lines[0]
    assert "Traceback" not in captured.err and "unexpected" not in captured.err
    assert not PYTHON_NAMES.search(lines[0]), lines[0]
    return lines[0]


# --- usage errors: exit 2 -----------------------------------------------------------------------
USAGE_ERRORS = {
    "dsp -f and -a together": (["dsp", "{raw}", "-c", "hpge-simple", "-f", "-a"], "not allowed"),
    "dsp negative -n": (["dsp", "{raw}", "-c", "hpge-simple", "-n", "-2"], "-n/--n-max"),
    "dsp negative processes": (["dsp", "{raw}", "-c", "hpge-simple", "-p", "-5"], "-p/--processes"),
    "dsp zero buffer": (["dsp", "{raw}", "-c", "hpge-simple", "--buffer-len", "0"], "--buffer-len"),
    "dsp -p with --scheduler": (
        ["dsp", "{raw}", "-c", "hpge-simple", "-p", "2", "--scheduler", "tcp://h:1"],
        "not allowed",
    ),
    "dsp several inputs into one file": (
        ["dsp", "{raw}", "{raw2}", "-c", "hpge-simple", "-o", "{text}"],
        "need a folder",
    ),
    "dsp output is the input": (["dsp", "{raw}", "-c", "hpge-simple", "-o", "{raw}"], "input"),
    "hit -f and --wo-mode together": (
        ["hit", "{dsp}", "-c", HIT_CONFIG, "-f", "--wo-mode", "a"],
        "not allowed",
    ),
    "hit -p given a file (its old meaning)": (
        ["hit", "{dsp}", "-c", HIT_CONFIG, "-p", "pars.json"],
        "-d/--database",
    ),
    "hit missing config": (["hit", "{dsp}"], "-c/--config"),
    "dsp files after -t": (
        ["dsp", "-t", "ch*", "{raw}", "-c", "hpge-simple"],
        "put the input files before -t/--tables",
    ),
    "hit files after -t": (["hit", "-t", "ch*", "{dsp}", "-c", HIT_CONFIG], "is a file"),
    "show unknown option": (["show", "{dsp}", "--detial"], "unrecognized arguments: --detial"),
    "show negative depth": (["show", "{dsp}", "--depth", "-1"], "--depth"),
    "run processes not a number": (["run", "{bad_yaml}", "-p", "x"], "-p/--processes"),
    "demo zero events": (["demo", "--events", "0"], "--events"),
    "demo outdir is a file": (["demo", "--outdir", "{text}"], "--outdir"),
}


@pytest.mark.parametrize("case", USAGE_ERRORS, ids=list(USAGE_ERRORS))
def test_usage_errors_print_one_line_and_exit_2(case, raw_file, bad_inputs, capsys):
    argv, expected = USAGE_ERRORS[case]
    names = {**bad_inputs, "raw": raw_file, "raw2": raw_file + "2", "dsp": str(DSP_CAL[0])}
    argv = [a.format(**names) for a in argv]
    assert main(argv) == 2
    line = _error_line(capsys, argv[0])
    assert expected in line and line.endswith(f"(see tierflow {argv[0]} --help)")


def test_no_command_and_unknown_command_exit_2(capsys):
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("tierflow: error: the following arguments")
    assert main(["lss"]) == 2
    assert "invalid choice: 'lss'" in capsys.readouterr().err


# --- data errors: exit 1 ------------------------------------------------------------------------
DATA_ERRORS = {
    "ls missing file": (["ls", "{missing}"], "no such file"),
    "ls folder": (["ls", "{folder}"], "directory"),
    "ls text file": (["ls", "{text}"], "not an HDF5 file"),
    "show text file": (["show", "{text}"], "not an HDF5 file"),
    "show unknown group": (["show", "{dsp}", "ch1084803/nope"], "no object 'nope'"),
    "dsp missing file": (["dsp", "{missing}", "-c", "hpge-simple", "-o", "{out}"], "no such file"),
    "dsp folder": (["dsp", "{folder}", "-c", "hpge-simple", "-o", "{out}"], "directory"),
    "dsp text file": (["dsp", "{text}", "-c", "hpge-simple", "-o", "{out}"], "not an HDF5 file"),
    "dsp bad config path": (["dsp", "{raw}", "-c", "{missing}", "-o", "{out}"], "-c/--config"),
    "dsp config is a folder": (["dsp", "{raw}", "-c", "{folder}", "-o", "{out}"], "folder"),
    "dsp malformed JSON config": (["dsp", "{raw}", "-c", "{bad_json}", "-o", "{out}"], "bad.json"),
    "dsp malformed YAML config": (["dsp", "{raw}", "-c", "{bad_yaml}", "-o", "{out}"], "bad.yaml"),
    "dsp malformed database": (
        ["dsp", "{raw}", "-c", "hpge-simple", "-d", "{bad_yaml}", "-o", "{out}"],
        "bad.yaml",
    ),
    "dsp glob matching no table": (
        ["dsp", "{raw}", "-c", "hpge-simple", "-t", "nomatch*", "-o", "{out}"],
        "tier_raw.lh5",
    ),
    "hit missing file": (["hit", "{missing}", "-c", HIT_CONFIG, "-o", "{out}"], "no such file"),
    "hit folder": (["hit", "{folder}", "-c", HIT_CONFIG, "-o", "{out}"], "directory"),
    "hit text file": (["hit", "{text}", "-c", HIT_CONFIG, "-o", "{out}"], "not an HDF5 file"),
    "hit bad config path": (["hit", "{dsp}", "-c", "{missing}", "-o", "{out}"], "missing"),
    "hit malformed YAML config": (["hit", "{dsp}", "-c", "{bad_yaml}", "-o", "{out}"], "bad.yaml"),
    "hit malformed parameters": (
        ["hit", "{dsp}", "-c", HIT_CONFIG, "-d", "{bad_json}", "-o", "{out}"],
        "bad.json",
    ),
    "hit glob matching no table": (
        ["hit", "{dsp}", "-c", HIT_CONFIG, "-t", "nomatch*", "-o", "{out}"],
        "nomatch*",
    ),
    "run missing config": (["run", "{missing}"], "missing.lh5"),
    "run config is a folder": (["run", "{folder}"], "folder"),
    "run malformed YAML config": (["run", "{bad_yaml}"], "bad.yaml"),
    "run malformed JSON config": (["run", "{bad_json}"], "bad.json"),
    "run config not a mapping": (["run", "{list_yaml}"], "mapping"),
}


@pytest.mark.parametrize("case", DATA_ERRORS, ids=list(DATA_ERRORS))
def test_data_errors_print_one_line_and_exit_1(case, raw_file, bad_inputs, capsys):
    argv, expected = DATA_ERRORS[case]
    names = {**bad_inputs, "raw": raw_file, "dsp": str(DSP_CAL[0])}
    argv = [a.format(**names) for a in argv]
    assert main(argv) == 1
    assert expected in _error_line(capsys, argv[0])


def test_malformed_yaml_error_drops_the_quoted_source(bad_inputs, capsys):
    assert main(["run", bad_inputs["bad_yaml"]]) == 1
    line = _error_line(capsys, "run")
    assert "line 2, column" in line and "^" not in line and "<unicode string>" not in line


def test_existing_output_asks_for_the_flags_not_write_mode(raw_file, tmp_path, capsys):
    out = tmp_path / "d.lh5"
    argv = ["dsp", raw_file, "-c", "hpge-simple", "-o", str(out), "-n", "2", "--no-progress"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 1
    line = _error_line(capsys, "dsp")
    assert "pass -f/--overwrite to replace it or -a/--append to add to it" in line
    assert main([*argv, "-a"]) == 0
    hit_out = tmp_path / "h.lh5"
    hit_out.write_bytes(b"")
    assert main(["hit", str(DSP_CAL[0]), "-c", HIT_CONFIG, "-o", str(hit_out)]) == 1
    assert "pass -f/--overwrite" in _error_line(capsys, "hit")
    assert hit_out.read_bytes() == b""


def test_an_unexpected_exception_is_one_line_too(monkeypatch, capsys):
    from tierflow.cli import inspect_commands

    def broken(path, pattern, recursive=False):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(inspect_commands, "ls", broken)
    monkeypatch.delenv("TIERFLOW_TRACEBACK", raising=False)
    assert main(["ls", str(HIT_CAL[0])]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "tierflow ls: error: unexpected RuntimeError: boom; second line (a tierflow bug: please "
        "report it; TIERFLOW_TRACEBACK=1 shows the traceback)"
    ]


@pytest.mark.parametrize("command", ["", "ls", "show", "dsp", "hit", "run", "demo"])
def test_help_of_every_command_exits_0(command, capsys):
    assert main([command, "--help"] if command else ["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tierflow {command}".rstrip())
