"""The hit tier: calibrated energies and flags per waveform.

:func:`build_hit` turns ``chNNNNNNN/dsp`` tables into ``chNNNNNNN/hit`` tables from a
config of output columns (expressions over dsp columns with calibration parameters,
per-channel configs and parameters, flags packed into bitmask columns);
:class:`HitConfig` applies such a config to a table in memory.

>>> import numpy as np
>>> from tierflow.hit import HitConfig
>>> from tierflow.types import Table
>>> cfg = HitConfig.from_dict({"outputs": ["e"], "operations": {"e": "0.5 * trapEmax"}})
>>> cfg.apply(Table({"trapEmax": np.array([10.0])}))["e"].nda.tolist()
[5.0]
"""

from .bitmask import bit_names_of, pack_bitmask, unpack_bitmask
from .build_hit import build_hit, hit_file_name, plan_hit
from .config import HitConfig, HitOperation

__all__ = [
    "HitConfig",
    "HitOperation",
    "bit_names_of",
    "build_hit",
    "hit_file_name",
    "pack_bitmask",
    "plan_hit",
    "unpack_bitmask",
]
