"""The sources type-check: ``mypy src/tierflow`` with the settings in pyproject.toml passes.

CI runs the test suite and nothing else, so the type check lives here as a test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is not installed (it is in the 'test' extra)")

REPO = Path(__file__).resolve().parents[1]


def test_mypy_reports_no_errors_in_src_tierflow():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "src/tierflow"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        f"mypy src/tierflow failed (exit code {result.returncode}):\n{result.stdout}{result.stderr}"
    )
