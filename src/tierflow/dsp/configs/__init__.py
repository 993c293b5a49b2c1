"""Example DSP configs shipped with tierflow (package data).

>>> sorted(names())
['hpge-full', 'hpge-simple']
>>> config_path("hpge-simple").name
'hpge-simple.json'
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def names() -> list[str]:
    """The shipped configs, by name (file name without extension)."""
    return sorted(p.stem for p in _HERE.iterdir() if p.suffix in (".json", ".yaml", ".yml"))


def config_path(name: str) -> Path:
    """The path of a shipped config, e.g. ``config_path("hpge-simple")``."""
    for suffix in (".json", ".yaml", ".yml"):
        path = _HERE / f"{name}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(f"no shipped DSP config {name!r}; there are {', '.join(names())}")
