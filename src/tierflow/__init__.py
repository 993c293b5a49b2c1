"""tierflow: LH5 storage and tiered processing for germanium and SiPM detector data.

>>> import tierflow
>>> tierflow.__version__
'0.1.0'
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tierflow")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.1.0"

# before any module with a numba ``cache=True`` kernel is imported: tierflow's kernels are cached
# in a folder keyed on the digest of all of tierflow's sources, never beside them (a cache entry
# of a kernel would outlive a change to a helper it calls)
from tierflow import compile_cache

compile_cache.install()

__all__ = ["__version__"]
