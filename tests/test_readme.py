"""The README's Python examples run as they are written (the quickstart on a small demo)."""

from __future__ import annotations

import re
from pathlib import Path

from tierflow.pipeline.demo import run_demo

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert len(blocks) >= 2, "the README shows no Python example"
    monkeypatch.chdir(tmp_path)
    demo = run_demo("tierflow-demo", n_events=3000, n_channels=3, progress=False)
    assert demo.report.ok
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    # the quickstart found the 2614.5 keV events, and its three ways of counting agree
    assert len(namespace["df"]) > 10
    h, h2, counts = namespace["h"], namespace["h2"], namespace["counts"]
    assert h.sum(flow=True) == h2.sum(flow=True) == sum(counts) > 0
    # the LH5 example appended once: two copies of its two rows
    from tierflow import lh5

    assert lh5.read_n_rows("ch1084803/raw", tmp_path / "run.lh5") == 4
