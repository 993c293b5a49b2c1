"""Where the real LEGEND test files are (imported by tests as ``from testdata import ...``)."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

#: real LEGEND files; ``TIERFLOW_TESTDATA`` overrides the checkout's ../shared/testdata
TESTDATA = Path(
    os.environ.get("TIERFLOW_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata")
)
LH5_DATA = TESTDATA / "lh5" / "prod-ref-l200" / "generated" / "tier"
#: every real LH5 file
LH5_FILES = sorted(LH5_DATA.rglob("*.lh5"))
#: the 2025 raw file with Zstd filters and encoded waveforms
RAW_P14 = next(iter(sorted((LH5_DATA / "raw" / "cal" / "p14").rglob("*.lh5"))), None)
DSP_CAL = sorted((LH5_DATA / "dsp" / "cal" / "p03" / "r001").glob("*.lh5"))
HIT_CAL = sorted((LH5_DATA / "hit" / "cal" / "p03" / "r001").glob("*.lh5"))


@functools.cache
def daq2lh5_output(relative: str, stream_type: str, settings: str | None = None) -> str:
    """legend-daq2lh5's raw file (default routing) of the DAQ file ``TESTDATA/daq/relative``,
    made once per test session in a temporary folder (daq2lh5 is a test-only oracle)."""
    import pytest

    daq2lh5 = pytest.importorskip("daq2lh5")
    source = TESTDATA / "daq" / relative
    out = os.path.join(tempfile.mkdtemp(prefix="daq2lh5-"), source.stem + ".lh5")
    extra = {} if settings is None else {"compass_config_file": str(TESTDATA / "daq" / settings)}
    daq2lh5.build_raw(str(source), in_stream_type=stream_type, out_spec=out, **extra)
    return out
