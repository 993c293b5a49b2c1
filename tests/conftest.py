"""Shared fixtures: where the real LEGEND files are (see testdata.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testdata import DSP_CAL, LH5_DATA, LH5_FILES, RAW_P14

if not LH5_FILES:
    pytest.exit(f"no LH5 test files under {LH5_DATA}; set TIERFLOW_TESTDATA", returncode=1)


@pytest.fixture
def raw_p14() -> Path:
    return RAW_P14


@pytest.fixture
def dsp_file() -> Path:
    return DSP_CAL[0]
