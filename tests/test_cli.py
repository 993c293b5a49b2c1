"""The ``tierflow ls`` and ``tierflow show`` commands on real files."""

from __future__ import annotations

import subprocess
import sys

from testdata import HIT_CAL, RAW_P14
from tierflow.cli import main


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
