"""Progress bars for long jobs: tqdm, on by default only where someone is watching.

>>> progress_enabled(False), progress_enabled(True)
(False, True)
>>> import io
>>> bar = progress_bar(total=3, description="reading", unit="files", file=io.StringIO())
>>> bar.update(3); bar.close()
>>> progress_bar(total=3, enabled=False) is None
True
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress_enabled(progress: bool | None) -> bool:
    """Whether to show a bar: ``progress`` if it is a bool, else whether someone is watching.

    ``None`` means on when ``sys.stderr`` is an interactive terminal or the code runs in a Jupyter
    kernel, and off otherwise (batch jobs, logs, pytest).

    >>> progress_enabled(None)  # doctest output is captured, not a terminal
    False
    """
    if progress is not None:
        return bool(progress)
    stream = sys.stderr
    try:
        interactive = stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        interactive = False
    return interactive or _in_notebook()


def progress_bar(
    total: float | None = None,
    *,
    description: str = "",
    unit: str = "tasks",
    enabled: bool | None = True,
    postfix: str | None = None,
    file: TextIO | None = None,
    **kwargs: Any,
) -> Any:
    """A tqdm bar (``tqdm.auto``: a widget in notebooks), or ``None`` when not ``enabled``.

    ``enabled`` is passed through :func:`progress_enabled`. Any unit other than ``"tasks"`` is
    scaled (``1.2M rows``, ``3.4M rows/s``). ``file`` defaults to ``sys.stderr``; ``kwargs`` go to
    tqdm.

    >>> import io
    >>> stream = io.StringIO()
    >>> bar = progress_bar(1000, description="reading", unit="rows", file=stream)
    >>> bar.update(1000); bar.close()
    >>> "1.00k/1.00k" in stream.getvalue()
    True
    """
    if not progress_enabled(enabled):
        return None
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        desc=description or None,
        unit=f" {unit}",  # "1.2k rows/s", not "1.2krows/s"
        unit_scale=unit != "tasks",
        file=file,
        dynamic_ncols=True,
        **kwargs,
    )
    if postfix:
        bar.set_postfix_str(postfix, refresh=False)
    return bar
