"""The README's Python examples are the scripts in examples/, word for word, and run as scripts
(the quickstart on a small demo)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import tierflow
from tierflow import lh5
from tierflow.pipeline.demo import run_demo

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"


def _readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


def _run_script(name: str, cwd: Path) -> str:
    env = dict(os.environ)
    src = str(Path(tierflow.__file__).resolve().parents[1])  # the tierflow under test
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_readme_python_block_is_an_example_script_word_for_word():
    blocks = _readme_python_blocks()
    scripts = {p.name: p.read_text() for p in sorted(EXAMPLES.glob("*.py"))}
    assert len(blocks) >= 2, "the README shows no Python example"
    unmatched = [b.splitlines()[:3] for b in blocks if b not in scripts.values()]
    assert not unmatched, f"README blocks that are not a script in examples/: {unmatched}"
    not_shown = [name for name, text in scripts.items() if text not in blocks]
    assert not not_shown, f"scripts in examples/ that the README does not show: {not_shown}"
    assert {"quickstart.py", "lh5_read_write.py", "daq_build_raw.py"} <= set(scripts)


def test_the_example_scripts_run_as_scripts(tmp_path):
    demo = run_demo(tmp_path / "tierflow-demo", n_events=3000, n_channels=3, progress=False)
    assert demo.report.ok
    # the quickstart (processes=2) found the 2614.5 keV events, and its ways of counting agree
    selected, h, h2, counts = _run_script("quickstart.py", tmp_path).split()
    assert int(selected) > 10
    assert float(h) == float(h2) == int(counts) > 0
    # the LH5 example appended once: two copies of its two rows
    _run_script("lh5_read_write.py", tmp_path)
    # the DAQ example: 2 channels x 1000 waveforms, windowed to 7800 samples
    out = _run_script("daq_build_raw.py", tmp_path).splitlines()
    assert "ch1084803" in out[1] and "ch1084804" in out[1]
    assert out[2] == "(1000, 7800)"
    assert lh5.read_n_rows("ch1084803/raw", tmp_path / "run.lh5") == 4
