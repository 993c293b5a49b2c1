"""``tierflow raw``: DAQ files to raw-tier files on the command line (FakeDAQ test format)."""

from __future__ import annotations

import json
import os

import pytest

from daq_fake_stream import fake_daq_registered, write_fake
from tierflow import lh5
from tierflow.cli import main


@pytest.fixture(autouse=True)
def _fake_daq():
    with fake_daq_registered():
        yield


@pytest.fixture
def daq(tmp_path):
    path = tmp_path / "run.fake"
    write_fake(path, {1: 8, 2: 8, 1000: 12}, n_events=30)
    return str(path)


def error_line(capsys) -> str:
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("tierflow raw: error: ")
    return err[0]


def test_help_names_every_option(capsys):
    assert main(["raw", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in (
        "--out-spec",
        "--stream-type",
        "--compass-config",
        "--buffer-size",
        "--n-max",
        "--overwrite",
        "--set",
        "FILE",
    ):
        assert flag in out


def test_default_output_beside_the_input_and_summary_on_stdout(daq, tmp_path, capsys):
    assert main(["raw", daq]) == 0
    out = tmp_path / "run.lh5"
    assert sorted(lh5.ls(str(out))) == ["FakeEvent_0", "FakeEvent_1000", "FakeHeader", "FakeStatus"]
    assert "run.fake (FakeDAQ) -> " in capsys.readouterr().out


def test_out_file_with_group_n_max_and_buffer_size(daq, tmp_path):
    out = tmp_path / "o.lh5"
    assert main(["raw", daq, "-o", f"{out}:/raw", "-n", "5", "--buffer-size", "2"]) == 0
    rows = sum(len(lh5.read(f"raw/{t}", str(out))) for t in ("FakeEvent_0", "FakeEvent_1000"))
    assert rows == 5


def test_out_spec_with_orig_basename_and_set(daq, tmp_path):
    config = {
        "FakeEventDecoder": {
            "ch{key}/raw": {
                "key_list": [1, 2],
                "out_stream": str(tmp_path) + "/{orig_basename}_{tier}.lh5",
            }
        }
    }
    spec = tmp_path / "route.json"
    spec.write_text(json.dumps(config))
    assert main(["raw", daq, "--out-spec", str(spec), "--set", "tier=raw"]) == 0
    assert lh5.ls(str(tmp_path / "run_raw.lh5"), "*/*") == ["ch1/raw", "ch2/raw"]


def test_existing_output_needs_overwrite(daq, tmp_path, capsys):
    (tmp_path / "run.lh5").write_bytes(b"old")
    assert main(["raw", daq]) == 1
    assert "exists; pass -f/--overwrite" in error_line(capsys)
    assert main(["raw", daq, "-f"]) == 0
    assert "FakeHeader" in lh5.ls(str(tmp_path / "run.lh5"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--buffer-size", "0"], "--buffer-size: 0 is not a whole number >= 1"),
        (["--n-max", "many"], "'many' is not a whole number"),
        (["--stream-type", "MGDO"], "--stream-type 'MGDO': the types are Compass, "),
        (["-o", "x.lh5", "--out-spec", "r.json"], "not allowed with argument"),
        (["--out-spec", "missing.json"], "--out-spec missing.json: no such routing config file"),
        (["--set", "novalue"], "--set 'novalue': expected KEY=VALUE"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_wrong_arguments_exit_2_with_one_line(daq, args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["raw", daq, *args]) == 2
    line = error_line(capsys)
    assert message in line
    assert "n_max" not in line and "buffer_size" not in line


def test_bad_routing_config_and_missing_file_exit_1(daq, tmp_path, capsys):
    spec = tmp_path / "route.yaml"
    spec.write_text("FakeEventDecoder:\n  t:\n    key_list: [99]\n    out_stream: o.lh5\n")
    assert main(["raw", daq, "--out-spec", str(spec)]) == 1
    assert "key 99 is not in this stream" in error_line(capsys)
    assert main(["raw", str(tmp_path / "nope.fake")]) == 1
    assert "no such file" in error_line(capsys)


def test_truncated_file_writes_what_is_complete_and_exits_1(tmp_path, capsys):
    path = tmp_path / "cut.fake"
    write_fake(path, {1: 8}, n_events=10, status_every=0, cut_bytes=3)
    assert main(["raw", str(path)]) == 1
    captured = capsys.readouterr()
    assert "the file ends inside a record" in captured.err
    assert "TRUNCATED" in captured.out
    assert len(lh5.read("FakeEvent", str(tmp_path / "cut.lh5"))) == 9


def test_several_files_into_a_folder(tmp_path):
    a, b = tmp_path / "a.fake", tmp_path / "b.fake"
    write_fake(a, {1: 8}, n_events=4)
    write_fake(b, {1: 8}, n_events=6)
    assert main(["raw", str(a), str(b), "-o", str(tmp_path / "out")]) == 0
    assert len(lh5.read("FakeEvent", str(tmp_path / "out" / "b.lh5"))) == 6


def test_out_naming_a_new_folder_with_a_slash_is_made_for_one_file(daq, tmp_path, monkeypatch):
    """``-o out/`` for one FILE failed with "Not a directory" (the folder was made only for
    several FILEs)."""
    monkeypatch.chdir(tmp_path)
    assert main(["raw", daq, "-o", "made/"]) == 0
    assert os.listdir(tmp_path / "made") == [os.path.splitext(os.path.basename(daq))[0] + ".lh5"]
