"""What a C library prints to the process's stderr, caught and passed to :mod:`logging`.

The ``fcio`` package's C code prints warnings such as ``FCIO/fcio_get_config/WARNING: got
unexpected tracemap size -1/1`` straight to file descriptor 2, past Python. Around the calls
that print them, :func:`c_stderr_to_log` points descriptor 2 at a temporary file and logs what
was written there (at ``WARNING``, naming the DAQ file), so that a user sees them where tierflow's
other messages go and a script's stderr stays clean.

>>> import logging, os
>>> with c_stderr_to_log(logging.getLogger("demo"), "run.fcio"):
...     _ = os.write(2, b"FCIO/WARNING: something\\n")
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def c_stderr_to_log(log: logging.Logger, source: str) -> Iterator[None]:
    """Catch what is written to descriptor 2 inside the block; log it as from ``source``."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no descriptor 2 (a daemon): nothing to catch
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode(errors="replace").strip()
            for line in filter(None, text.splitlines()):
                log.warning("%s: %s", source, line)
