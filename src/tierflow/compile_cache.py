"""numba's on-disk cache for tierflow's kernels, keyed so that it can never be stale.

numba caches a ``cache=True`` function next to its source (``__pycache__/*.nbi``, ``*.nbc``) and
trusts an entry as long as *the file that defines the function* is unchanged. A kernel's compiled
code also holds every helper it calls (inlined from other files), so after a helper changes
numba would still load the old machine code: wrong results, or a segfault when the helper's
arguments changed. tierflow therefore keeps its cache elsewhere:

- in a directory named after tierflow's version and a digest of **all** of tierflow's ``.py``
  sources (and the numba and Python versions): any change to any source gives a new, empty
  directory, so nothing compiled from other sources is ever loaded;
- outside the source tree: ``$TIERFLOW_CACHE_DIR`` if set, else ``$NUMBA_CACHE_DIR/tierflow``
  if set, else the user's cache directory (``~/.cache/tierflow`` on Linux), falling back to the
  temporary directory when that is not writable::

      <root>/numba/<version>-<digest>/<subpackage>/   e.g. ~/.cache/tierflow/numba/0.1.0-3f9c.../dsp/processors/

- safe when several processes fill it at once: numba writes every file to a temporary and
  renames it (atomic), but numbers the data files of a function by reading, extending and
  rewriting its index, so two processes compiling *different signatures* of one function at
  the same moment could both take number 1 and leave the index pointing one signature at the
  other's machine code. Saves into this cache hold an exclusive lock on the function's index
  (``fcntl.flock``; on systems without it, e.g. Windows, saves are not locked). A gufunc is
  cached as two entries, its kernel and its wrapper, and the wrapper calls the kernel by a
  symbol name that depends on the order in which the process compiled things: if two processes
  compile one gufunc at once, the kernel of one and the wrapper of the other can end up in the
  cache, and every later process that loads them crashes (numba issue #10128). tierflow's
  gufuncs are therefore compiled under :func:`exclusive_compilation`: one process compiles and
  saves both, the others wait and then load both.

The digest is computed once per process, when the first cached kernel is defined (about 3 ms
for tierflow's 1.2 MB of sources). Other numba functions of the user's are not affected: the
locator claims only functions defined in tierflow's own files. Old ``<version>-<digest>``
directories are never read again and can be deleted at any time.

This is done with numba's own extension point, a cache locator (:class:`SourceTreeCacheLocator`)
registered first in numba's list of locators by :func:`install`, which ``import tierflow``
calls. (If ``NUMBA_CACHE_LOCATOR_CLASSES`` is set, numba uses only the locators it names: put
``tierflow.compile_cache.TierflowCacheLocator`` first in it.)

>>> from tierflow import compile_cache
>>> compile_cache.cache_dir().name.startswith(tierflow.__version__ + "-")
True
>>> len(compile_cache.source_digest(compile_cache.PACKAGE_DIR))
16
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FunctionType
from typing import ClassVar

import numba
from numba.core import caching
from numba.misc.appdirs import AppDirs

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]  # the optional-module idiom: None where it is missing

import tierflow

#: the folder of tierflow's sources, whose functions this cache serves
PACKAGE_DIR = Path(__file__).resolve().parent

#: environment variable naming the folder under which tierflow keeps its caches
CACHE_DIR_VARIABLE = "TIERFLOW_CACHE_DIR"


@functools.cache
def source_digest(package_dir: Path) -> str:
    """A digest of every ``.py`` file under ``package_dir`` (relative paths and contents), of
    the numba version and of the Python implementation: 16 hex digits, computed once per process.

    Contents, not modification times: copies and checkouts change times without changing code.
    """
    digest = hashlib.sha256(f"{numba.__version__} {sys.implementation.cache_tag}".encode())
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir).as_posix()
        digest.update(f"\0{relative}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def cache_root() -> Path:
    """The folder under which tierflow keeps its caches (see the module's docstring)."""
    if os.environ.get(CACHE_DIR_VARIABLE):
        return Path(os.environ[CACHE_DIR_VARIABLE]).expanduser()
    numba_cache_dir = numba.config.CACHE_DIR  # type: ignore[attr-defined]  # set at run time
    if numba_cache_dir:
        return Path(numba_cache_dir).expanduser() / "tierflow"
    return Path(AppDirs(appname="tierflow", appauthor=False).user_cache_dir)


@functools.cache
def keyed_cache_dir(package_dir: Path, version: str, root: Path) -> Path:
    """``root/numba/<version>-<digest of package_dir>``, created; in the temporary directory
    instead if ``root`` is not writable."""
    name = f"{version}-{source_digest(package_dir)}"
    folder = root / "numba" / name
    if not _writable(folder):
        user = os.getuid() if hasattr(os, "getuid") else getpass.getuser()
        folder = Path(tempfile.gettempdir()) / f"{package_dir.name}-{user}" / "numba" / name
    return folder


def cache_dir() -> Path:
    """The folder holding tierflow's compiled kernels for the sources running now."""
    return keyed_cache_dir(PACKAGE_DIR, tierflow.__version__, cache_root())


class LockedIndexDataCacheFile(caching.IndexDataCacheFile):
    """numba's index-and-data cache file, whose saves into a folder of a
    :class:`SourceTreeCacheLocator` hold an exclusive lock on the index, so that concurrent
    processes number their entries one after the other (see the module's docstring). Saves
    anywhere else are numba's own."""

    #: the cache folders of the functions that source-tree locators claimed
    locked_folders: ClassVar[set[str]] = set()

    def save(self, key: object, data: object) -> None:
        with self._index_lock():
            super().save(key, data)

    @contextlib.contextmanager
    def _index_lock(self) -> Iterator[None]:
        if fcntl is None or self._cache_path not in self.locked_folders:
            yield
            return
        with open(f"{self._index_path}.lock", "wb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            yield


class SourceTreeCacheLocator(caching._CacheLocator):
    """A numba cache locator for the functions defined in the files of one source tree.

    Subclasses set :attr:`package_dir` and :meth:`keyed_dir`; :meth:`from_function` claims a
    function only if its file is under ``package_dir`` (numba asks the next locator otherwise),
    and caches it in ``keyed_dir()/<folder of the file relative to package_dir>``. The source
    stamp numba stores in each index is the tree's digest, so an index written for other
    sources is never trusted either.
    """

    #: the root of the source tree whose functions this locator claims
    package_dir: ClassVar[Path]

    def __init__(self, py_func: FunctionType, py_file: Path) -> None:
        self._py_file = str(py_file)
        self._lineno = py_func.__code__.co_firstlineno
        relative = py_file.parent.relative_to(self.package_dir)
        self._cache_path = str(self.keyed_dir().joinpath(relative))
        LockedIndexDataCacheFile.locked_folders.add(self._cache_path)

    @classmethod
    def keyed_dir(cls) -> Path:
        """The folder for the sources as they are now."""
        raise NotImplementedError

    @classmethod
    def from_function(cls, py_func: FunctionType, py_file: str) -> SourceTreeCacheLocator | None:
        path = Path(py_file).resolve()
        if not path.is_relative_to(cls.package_dir) or not path.is_file():
            return None
        locator = cls(py_func, path)
        try:
            locator.ensure_cache_path()
        except OSError:  # not even the temporary directory is writable: numba cannot cache
            return None
        return locator

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self) -> str:
        return source_digest(self.package_dir)

    def get_disambiguator(self) -> str:
        return str(self._lineno)


class TierflowCacheLocator(SourceTreeCacheLocator):
    """The locator of tierflow's own kernels, in :func:`cache_dir`."""

    package_dir = PACKAGE_DIR

    @classmethod
    def keyed_dir(cls) -> Path:
        return cache_dir()


@contextlib.contextmanager
def exclusive_compilation(name: str) -> Iterator[None]:
    """Hold, against other processes using the same cache, the right to compile ``name`` (a
    function's module and qualified name): wrap the compilation of a gufunc in it, so that its
    kernel and its wrapper are compiled and saved by one process. Without ``fcntl`` (Windows),
    nothing is held.

    >>> with exclusive_compilation("tierflow.example.kernel__float64"):
    ...     pass
    """
    if fcntl is None:
        yield
        return
    folder = cache_dir() / "compiling"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


#: numba's class that picks a function's locator (named ``_CacheImpl`` before numba 0.59)
_NUMBA_CACHE_IMPL = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # type: ignore[attr-defined]  # numba < 0.59


def install_locator(locator: type[SourceTreeCacheLocator]) -> None:
    """Make numba cache the functions ``locator`` claims with it, their saves locked.

    ``locator`` goes first in numba's list of locators, and numba's ``IndexDataCacheFile`` is
    replaced by :class:`LockedIndexDataCacheFile` (the same outside the claimed folders). Call it
    before the modules whose functions it serves are imported: numba picks a function's locator
    when the function is decorated. Installing twice does nothing.
    """
    classes = _NUMBA_CACHE_IMPL._locator_classes
    if locator not in classes:
        classes.insert(0, locator)
    caching.IndexDataCacheFile = LockedIndexDataCacheFile  # type: ignore[misc]  # replacing numba's class is the point


def install() -> None:
    """Serve tierflow's kernels from :func:`cache_dir` (``import tierflow`` calls it)."""
    install_locator(TierflowCacheLocator)
