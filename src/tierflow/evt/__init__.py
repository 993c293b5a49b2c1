"""Events: the time coincidence map (tcm) across channels.

>>> from tierflow.evt import build_tcm, read_tcm
"""

from .build_tcm import build_tcm
from .tcm import TCM, read_tcm

__all__ = ["TCM", "build_tcm", "read_tcm"]
