"""build_dsp and build_hit write their output under the target's write lock (as lh5.write
does): a writer that holds it keeps them out, and they leave no temporary file behind."""

from __future__ import annotations

import os

import pytest

from testdata import DSP_CAL, LH5_DATA
from tierflow.dsp import build_dsp, config_path
from tierflow.errors import LH5WriteError
from tierflow.hit import build_hit
from tierflow.lh5 import settings
from tierflow.lh5.writelock import WriteLock

RAW = sorted((LH5_DATA / "raw" / "cal" / "p03" / "r001").glob("*.lh5"))[0]
HIT_CONFIG = {"outputs": ["e"], "operations": {"e": "cuspEmax * 2"}}


def run_dsp(target):
    build_dsp(RAW, target, str(config_path("hpge-simple")), n_max=5, progress=False)


def run_hit(target):
    build_hit(DSP_CAL[0], target, HIT_CONFIG, lh5_tables="ch1084803/dsp", n_max=5)


@pytest.mark.parametrize("run", [run_dsp, run_hit], ids=["build_dsp", "build_hit"])
def test_a_writer_holding_the_lock_keeps_the_tier_builder_out(run, tmp_path, monkeypatch):
    target = tmp_path / "out.lh5"
    monkeypatch.setattr(settings, "WRITE_LOCK_TIMEOUT", 0.2)
    with WriteLock(target), pytest.raises(LH5WriteError, match=str(os.getpid())):
        run(target)
    assert not target.exists()
    run(target)  # once the lock is free it goes ahead
    assert target.exists()
    assert sorted(os.listdir(tmp_path)) == ["out.lh5"]  # no lock or temporary file left
