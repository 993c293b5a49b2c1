"""The README's Python examples run as they are written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert blocks, "the README shows no Python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    # the example appended once: two copies of its two rows
    from tierflow import lh5

    assert lh5.read_n_rows("ch1084803/raw", tmp_path / "run.lh5") == 4
