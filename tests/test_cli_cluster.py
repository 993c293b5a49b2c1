"""``--scheduler ADDRESS``: ``tierflow run`` and ``tierflow dsp`` on a dask cluster (an in-process
``LocalCluster``), and the errors when dask is missing or the address is wrong."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import yaml

from tierflow import lh5, sim
from tierflow.cli import main
from tierflow.pipeline.demo import demo_config

distributed = pytest.importorskip("distributed")

CHANNELS = sim.default_channels(2)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as local:
        yield local


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Two raw files of 2 channels x 30 events (so that the pipeline sends whole files to the
    cluster), their pipeline config (calibration given, not fitted) and the DSP database."""
    root = tmp_path_factory.mktemp("run")
    run = sim.simulate_run(
        root, n_events=30, channels=CHANNELS, seed=11, n_files=2, compression=False
    )
    config = demo_config(str(root), CHANNELS)
    output = config["calibration"]["output"]
    config["hit"] = {
        "parameters": {f"ch{c.rawid}": {output: {"parameters": {"b": 1.0}}} for c in CHANNELS}
    }
    database = root / "db.yaml"
    database.write_text(yaml.safe_dump(config["dsp"]["database"]))
    return run.raw_files[0], config, str(database)


def _tasks_run(cluster) -> int:
    return cluster.scheduler.transition_counter


def test_run_with_scheduler_runs_the_pipeline_on_the_cluster(cluster, simulated, tmp_path, capsys):
    _raw, config, _db = simulated
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({**config, "outdir": str(tmp_path / "out")}))
    before = _tasks_run(cluster)
    rc = main(["run", str(path), "--scheduler", cluster.scheduler_address, "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"on dask client of {cluster.scheduler_address}" in out
    assert _tasks_run(cluster) > before
    hits = sorted((tmp_path / "out" / "tier" / "hit").rglob("*.lh5"))
    assert len(hits) == 2
    for hit in hits:
        assert lh5.ls(hit) == [f"ch{c.rawid}" for c in CHANNELS]


def test_dsp_with_scheduler_writes_the_same_file_as_serial(cluster, simulated, tmp_path):
    raw, _config, database = simulated
    argv = ["dsp", raw, "-c", "hpge-simple", "-d", database, "--no-progress"]
    assert main([*argv, "-o", str(tmp_path / "serial.lh5")]) == 0
    before = _tasks_run(cluster)
    assert (
        main([*argv, "-o", str(tmp_path / "dask.lh5"), "--scheduler", cluster.scheduler_address])
        == 0
    )
    assert _tasks_run(cluster) > before
    for table in lh5.ls(tmp_path / "serial.lh5", "*/dsp"):
        a = lh5.read(table, tmp_path / "serial.lh5")
        b = lh5.read(table, tmp_path / "dask.lh5")
        for column in a:
            np.testing.assert_array_equal(a[column].nda, b[column].nda, err_msg=column)


def test_scheduler_without_distributed_says_which_extra_to_install(monkeypatch, simulated, capsys):
    raw, _config, _db = simulated
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    assert main(["dsp", raw, "-c", "hpge-simple", "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("tierflow dsp: error: --scheduler needs dask's")
    assert "pip install 'tierflow[dask]'" in err[0]


def test_scheduler_address_that_is_not_one_is_a_usage_error(capsys):
    assert main(["run", "pipeline.yaml", "--scheduler", "not-an-address"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--scheduler not-an-address: not a scheduler address" in err[0]
