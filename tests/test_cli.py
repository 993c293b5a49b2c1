"""The ``tierflow`` commands on real files: ls, show, the options dsp and hit share, run's help."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from testdata import DSP_CAL, HIT_CAL, RAW_P14
from tierflow import lh5
from tierflow.cli import build_parser, main
from tierflow.cli.pipeline_commands import RUN_EPILOG
from tierflow.pipeline import PipelineConfig

REPO = Path(__file__).resolve().parents[1]
HIT_CONFIGS = Path(importlib.import_module("tierflow.hit.build_hit").__file__).parent / "configs"


def test_ls_top_level_and_pattern(capsys):
    assert main(["ls", str(HIT_CAL[0])]) == 0
    assert capsys.readouterr().out.split() == ["ch1084803", "ch1084804", "ch1121600"]
    assert main(["ls", str(RAW_P14), "ch*/raw/waveform_*"]) == 0
    names = capsys.readouterr().out.split()
    assert len(names) == 12 and "ch1105600/raw/waveform_windowed" in names


def test_ls_recursive(capsys):
    assert main(["ls", str(HIT_CAL[0]), "ch1084803", "-r"]) == 0
    out = capsys.readouterr().out.split()
    assert "ch1084803/hit/cuspEmax_ctc_cal" in out


def test_show_tree_with_detail_and_attrs(capsys):
    assert main(["show", str(RAW_P14), "ch1105600/raw", "--detail", "--attrs"]) == 0
    out = capsys.readouterr().out
    assert "waveform_windowed  table{dt,t0,values}" in out
    assert "array_of_encoded_equalsized_arrays<1,1>{real}" in out
    assert "zstd" in out and "chunks=" in out
    assert "[ns]" in out  # units
    assert "@codec = radware_sigcompress" in out


def test_show_depth(capsys):
    assert main(["show", str(RAW_P14), "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "ch1105600" in out and "waveform_windowed" not in out


def test_errors_are_one_line_and_exit_1(tmp_path, capsys):
    bogus = tmp_path / "x.lh5"
    bogus.write_text("hello")
    assert main(["show", str(bogus)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tierflow show: error:") and "not an HDF5 file" in err
    assert main(["show", str(HIT_CAL[0]), "ch1084803/nope"]) == 1
    assert "it holds ['hit']" in capsys.readouterr().err


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "tierflow.cli", "ls", str(HIT_CAL[0])],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "ch1121600" in out.stdout


def test_ls_pattern_matching_nothing_lists_what_is_there_and_exits_1(capsys):
    assert main(["ls", str(HIT_CAL[0]), "nomatch*"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"tierflow ls: error: {HIT_CAL[0]}: nothing matches 'nomatch*': no name at the top "
        "level matches 'nomatch*'; there are ch1084803, ch1084804, ch1121600"
    ]
    assert main(["ls", str(HIT_CAL[0]), "ch1084803/hit/zz*"]) == 1
    err = capsys.readouterr().err
    assert "no name in 'ch1084803/hit' matches 'zz*'" in err
    assert "ch1084803/hit/AoE_Classifier" in err and "(27 in all)" in err  # a few, not 27
    assert main(["ls", str(HIT_CAL[0]), "ch1084803/hit/timestamp/x"]) == 1
    assert "'ch1084803/hit/timestamp' holds no objects" in capsys.readouterr().err


# --- dsp and hit spell the same options the same way ----------------------------------------------
@pytest.mark.parametrize("command", ["dsp", "hit"])
def test_dsp_and_hit_take_the_same_flags(command):
    parse = build_parser().parse_args
    common = [command, "in.lh5", "-c", "cfg.json", "-o", "out.lh5"]
    args = parse([*common, "-t", "a", "b", "-t", "c", "-d", "db.json", "-n", "5", "-f", "-p", "2"])
    assert (args.tables, args.database, args.n_max, args.write, args.processes) == (
        ["a", "b", "c"],
        "db.json",
        5,
        "overwrite",
        2,
    )
    args = parse([*common, "--tables", "a", "--append", "--scheduler", "tcp://h:8786"])
    assert (args.tables, args.write, args.scheduler, args.processes) == (
        ["a"],
        "append",
        "tcp://h:8786",
        None,
    )
    assert parse(common).write is None  # neither: existing outputs are refused


def test_hit_keeps_its_old_spellings():
    parse = build_parser().parse_args
    common = ["hit", "in.lh5", "-c", "cfg.json"]
    assert parse([*common, "--params", "p.json"]).database == "p.json"
    assert [parse([*common, "--wo-mode", m]).write for m in ("of", "w", "a", "append")] == [
        "overwrite",
        None,
        "append",
        "append",
    ]


def test_hit_refuses_an_existing_output_unless_f_or_a(tmp_path, capsys):
    out = tmp_path / "h.lh5"
    argv = ["hit", str(DSP_CAL[0]), "-c", str(HIT_CONFIGS / "hpge-hit.json"), "-o", str(out)]
    argv += ["-d", str(HIT_CONFIGS / "hpge-hit-pars-l200-p03-r001-cal.json"), "-t", "ch1084803/dsp"]
    assert main(argv) == 0
    rows = lh5.read_n_rows("ch1084803/hit", out)
    assert main(argv) == 1
    assert "exists; pass -f/--overwrite" in capsys.readouterr().err
    assert main([*argv, "-a"]) == 0
    assert lh5.read_n_rows("ch1084803/hit", out) == 2 * rows
    assert main([*argv, "-f"]) == 0
    assert lh5.read_n_rows("ch1084803/hit", out) == rows


def test_hit_with_processes_writes_the_same_files_as_serial(tmp_path, capsys):
    argv = ["hit", *map(str, DSP_CAL[:2]), "-c", str(HIT_CONFIGS / "hpge-hit.json")]
    argv += ["-d", str(HIT_CONFIGS / "hpge-hit-pars-l200-p03-r001-cal.json"), "-t", "ch1084803/dsp"]
    assert main([*argv, "-o", str(tmp_path / "serial")]) == 0
    assert main([*argv, "-o", str(tmp_path / "pool"), "-p", "2", "--no-progress"]) == 0
    assert capsys.readouterr().out.count(" -> ") == 4
    for name in sorted(p.name for p in (tmp_path / "serial").iterdir()):
        a = lh5.read("ch1084803/hit", tmp_path / "serial" / name)
        b = lh5.read("ch1084803/hit", tmp_path / "pool" / name)
        assert sorted(a) == sorted(b)
        for column in a:
            np.testing.assert_array_equal(a[column].nda, b[column].nda)


# --- run --help ------------------------------------------------------------------------------------
def test_run_help_explains_every_config_key_and_names_docs_that_exist(capsys):
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    assert "tierflow.pipeline.config" not in text  # no pointer into the sources
    for key in ("raw", "outdir", "tables", "dsp", "hit", "calibration", "processes", "buffer_len"):
        assert re.search(rf"^  {key}:", text, re.M), key
    for key in ("config", "database", "parameters", "energy", "output", "run_type", "deg", "lines"):
        assert re.search(rf"^    {key}:", text, re.M), key
    docs = re.findall(r"\b(?:docs/[\w-]+\.md|README\.md)", text)
    assert "docs/cluster.md" in docs and "README.md" in docs
    assert all((REPO / doc).is_file() for doc in docs)


def test_run_help_example_is_a_valid_config():
    example = RUN_EPILOG.split("\n\n")[1]
    config = PipelineConfig.from_dict(yaml.safe_load(example))
    assert config.calibration.energy == "trapTmax" and config.processes == 2
    assert config.calibration.lines == [583.2, 2614.5]


def test_gitignore_covers_the_demo_output():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    for path in ("tierflow-demo/spectrum.png", "tierflow-demo/tier/raw/x.lh5", ".venv/bin/python"):
        ignored = subprocess.run(
            ["git", "-C", str(REPO), "check-ignore", "--no-index", "-q", path], check=False
        )
        assert ignored.returncode == 0, path
