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

__all__ = ["__version__"]
