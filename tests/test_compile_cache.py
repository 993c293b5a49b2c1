"""tierflow's numba cache (tierflow.compile_cache): keyed on the sources, outside them, and safe
when several processes fill it at once.

Compilation happens in child processes: numba picks a function's cache when the function is
defined, so each scenario needs a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import tierflow
from tierflow import compile_cache

SRC = Path(tierflow.__file__).resolve().parents[1]

#: a child that computes with one of tierflow's cached kernels and says where it was cached
TIERFLOW_KERNEL = """
import json
import numpy as np
from tierflow import compile_cache
from tierflow.dsp import processors

bl_subtract = processors.get("bl_subtract")
out = bl_subtract(np.array([3.0, 4.0, 5.0]), 3.0)
print(json.dumps({"out": out.tolist(), "cache_dir": str(compile_cache.cache_dir())}))
"""

#: a child that caches the functions of a throwaway package ``pkg`` the way tierflow caches its
#: own (a SourceTreeCacheLocator), calls ``pkg.kernel.first`` on an array of ``dtype`` and says
#: what it got and whether it came from the cache
THROWAWAY_KERNEL = """
import json, os, sys, time
from pathlib import Path
import numpy as np
from tierflow import compile_cache

package = Path(sys.argv[1]).resolve()

class ThrowawayLocator(compile_cache.SourceTreeCacheLocator):
    package_dir = package / "pkg"

    @classmethod
    def keyed_dir(cls):
        return compile_cache.keyed_cache_dir(cls.package_dir, "1.0", Path(sys.argv[2]))

compile_cache.install_locator(ThrowawayLocator)
{patch}
sys.path.insert(0, str(package))
from pkg.kernel import first

results = []
for dtype in sys.argv[3].split(","):
    results.append(first(np.array([1.25, 7], dtype)))
print(json.dumps({{
    "results": [float(r) for r in results],
    "hits": sum(first.stats.cache_hits.values()),
    "keyed_dir": str(ThrowawayLocator.keyed_dir()),
}}))
"""

#: a child that, like THROWAWAY_KERNEL, calls ``pkg.gufuncs.double``: a gufunc made with
#: tierflow's ``gufunc`` decorator, whose kernel and wrapper numba caches as two entries
THROWAWAY_GUFUNC = """
import json, os, sys, time
from pathlib import Path
import numba
import numpy as np
from tierflow import compile_cache

package = Path(sys.argv[1]).resolve()

class ThrowawayLocator(compile_cache.SourceTreeCacheLocator):
    package_dir = package / "pkg"

    @classmethod
    def keyed_dir(cls):
        return compile_cache.keyed_cache_dir(cls.package_dir, "1.0", Path(sys.argv[2]))

compile_cache.install_locator(ThrowawayLocator)
{patch}
sys.path.insert(0, str(package))
from pkg.gufuncs import double

print(json.dumps({{"out": double(np.arange(3.0)).tolist()}}))
"""

#: makes two children ("a", "b") that compile ``double`` at once save in the order that leaves
#: b's kernel and a's wrapper in the cache (numba issue #10128): a saves its kernel once b found
#: none, and its wrapper once b saved its own; b first compiles another function, so that its
#: kernel's symbol is numbered differently from a's
KERNEL_OF_ONE_WRAPPER_OF_THE_OTHER = """
role, flags = sys.argv[3], Path(sys.argv[4])

def wait_for(flag, timeout):
    deadline = time.monotonic() + timeout
    while not (flags / flag).exists() and time.monotonic() < deadline:
        time.sleep(0.01)

if role == "b":
    numba.njit(lambda x: x + 1)(1)
numba_load = compile_cache.LockedIndexDataCacheFile.load
numba_save = compile_cache.LockedIndexDataCacheFile.save

def load(self, key):
    found = numba_load(self, key)
    if role == "b" and found is None and not self._index_name.startswith("guf-"):
        (flags / "b-missed-the-kernel").touch()
    return found

def save(self, key, data):
    wrapper = self._index_name.startswith("guf-")
    if role == "a":
        wait_for("b-saved-its-wrapper" if wrapper else "b-missed-the-kernel", 3)
    if role == "b" and not wrapper:
        wait_for("a-saved-its-kernel", 60)
    numba_save(self, key, data)
    if role == "a" and not wrapper:
        (flags / "a-saved-its-kernel").touch()
    if role == "b" and wrapper:
        (flags / "b-saved-its-wrapper").touch()

compile_cache.LockedIndexDataCacheFile.load = load
compile_cache.LockedIndexDataCacheFile.save = save
"""

#: makes two children that save at once read the index at the same moment, as a race would:
#: both wait before saving until the other is about to save too, then each, having read the
#: index, waits (up to a few seconds) for the other to have read it as well
SAVE_AT_THE_SAME_MOMENT = """
from numba.core import caching
barrier = Path(sys.argv[4])
base = compile_cache.LockedIndexDataCacheFile.__bases__[0]
numba_save, numba_load_index = base.save, base._load_index
saving = []

def wait_for_both(stage, timeout):
    (barrier / f"{stage}-{os.getpid()}").touch()
    deadline = time.monotonic() + timeout
    while len(list(barrier.glob(f"{stage}-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

def save(self, key, data):
    saving.append(True)
    try:
        return numba_save(self, key, data)
    finally:
        saving.clear()

def load_index(self):
    overloads = numba_load_index(self)
    if saving:
        wait_for_both("read", 3)
    return overloads

base.save, base._load_index = save, load_index
real_locked_save = compile_cache.LockedIndexDataCacheFile.save

def locked_save(self, key, data):
    wait_for_both("about-to-save", 120)
    return real_locked_save(self, key, data)

compile_cache.LockedIndexDataCacheFile.save = locked_save
"""


def _child_env(cache_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env["TIERFLOW_CACHE_DIR"] = str(cache_root)
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("NUMBA_CACHE_LOCATOR_CLASSES", None)
    return env


def _start(code: str, args: list[str], cache_root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=_child_env(cache_root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(child: subprocess.Popen) -> dict:
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _run(code: str, args: list[str], cache_root: Path) -> dict:
    return _finish(_start(code, args, cache_root))


def _numba_cache_files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc")}


def _throwaway_gufunc_package(root: Path) -> Path:
    pkg = root / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "gufuncs.py").write_text(
        textwrap.dedent(
            """
            from tierflow.dsp.processors._gufunc import gufunc

            @gufunc(["void(float64[:], float64[:])"], "(n)->(n)")
            def double(x, out):
                for i in range(x.shape[0]):
                    out[i] = 2 * x[i]
            """
        )
    )
    return root


def _throwaway_package(root: Path, factor: int) -> Path:
    """``root/pkg``: a jitted, cached ``first`` that calls a jitted helper in another file."""
    pkg = root / "pkg"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text(
        f"import numba\n\n@numba.njit\ndef scale(x):\n    return x * {factor}\n"
    )
    (pkg / "kernel.py").write_text(
        textwrap.dedent(
            """
            import numba
            from pkg.helper import scale

            @numba.njit(cache=True)
            def first(values):
                return scale(values[0])
            """
        )
    )
    return root


# ---------------------------------------------------------------------------------------------


def test_two_processes_compiling_a_tierflow_kernel_at_once_cache_it_in_the_keyed_folder(tmp_path):
    before = _numba_cache_files(SRC / "tierflow")
    children = [_start(TIERFLOW_KERNEL, [], tmp_path) for _ in range(2)]
    results = [_finish(c) for c in children]
    assert [r["out"] for r in results] == [[0.0, 1.0, 2.0]] * 2
    keyed = Path(results[0]["cache_dir"])
    digest = compile_cache.source_digest(compile_cache.PACKAGE_DIR)
    assert keyed == tmp_path / "numba" / f"{tierflow.__version__}-{digest}"
    saved = _numba_cache_files(keyed / "dsp" / "processors")
    assert {p.suffix for p in saved if p.name.startswith("baseline.bl_subtract__float64")} == {
        ".nbi",
        ".nbc",
    }
    assert not list(keyed.rglob("*.tmp.*"))  # every file was written whole and renamed
    assert _numba_cache_files(SRC / "tierflow") == before  # nothing beside the sources


def test_only_functions_in_tierflow_files_are_claimed(tmp_path):
    user_file = tmp_path / "analysis.py"
    user_file.write_text("def f():\n    return 1\n")
    namespace: dict = {}
    exec(compile(user_file.read_text(), str(user_file), "exec"), namespace)
    assert compile_cache.TierflowCacheLocator.from_function(namespace["f"], str(user_file)) is None
    mine = compile_cache.TierflowCacheLocator.from_function(
        compile_cache.cache_root, compile_cache.__file__
    )
    assert Path(mine.get_cache_path()) == compile_cache.cache_dir()
    assert mine.get_source_stamp() == compile_cache.source_digest(compile_cache.PACKAGE_DIR)


def test_a_changed_helper_in_another_file_is_never_served_from_the_old_cache(tmp_path):
    package = _throwaway_package(tmp_path / "src", factor=2)
    cache = tmp_path / "cache"
    args = [str(package), str(cache), "float64"]
    code = THROWAWAY_KERNEL.format(patch="")
    first_run = _run(code, args, cache)
    assert first_run["results"] == [2.5] and first_run["hits"] == 0
    second_run = _run(code, args, cache)
    assert second_run["results"] == [2.5] and second_run["hits"] == 1  # it does cache
    # the helper changes; the file defining the kernel, and the helper's time stamp, do not
    helper = package / "pkg" / "helper.py"
    stat = helper.stat()
    _throwaway_package(tmp_path / "src", factor=3)
    os.utime(helper, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after_change = _run(code, args, cache)
    assert after_change["results"] == [3.75]
    assert after_change["hits"] == 0
    assert after_change["keyed_dir"] != first_run["keyed_dir"]


def test_processes_saving_different_signatures_at_once_keep_each_its_own_entry(tmp_path):
    # without a lock both read an empty index, both number their entry 1, and the index left
    # behind points one signature at nothing or at the other signature's machine code
    package = _throwaway_package(tmp_path / "src", factor=2)
    cache, barrier = tmp_path / "cache", tmp_path / "barrier"
    barrier.mkdir()
    racing = THROWAWAY_KERNEL.format(patch=SAVE_AT_THE_SAME_MOMENT)
    children = [
        _start(racing, [str(package), str(cache), dtype, str(barrier)], cache)
        for dtype in ("float64", "int64")
    ]
    assert [_finish(c)["results"] for c in children] == [[2.5], [2.0]]
    reader = _run(
        THROWAWAY_KERNEL.format(patch=""), [str(package), str(cache), "float64,int64"], cache
    )
    assert reader["results"] == [2.5, 2.0]
    assert reader["hits"] == 2


def test_processes_compiling_one_gufunc_at_once_leave_a_kernel_and_wrapper_that_match(tmp_path):
    # numba caches a gufunc's kernel and its wrapper separately; the wrapper calls the kernel
    # by a name numbered in the order the process compiled things, so a kernel saved by one
    # process and a wrapper saved by another crash every process that loads them
    package = _throwaway_gufunc_package(tmp_path / "src")
    cache, flags = tmp_path / "cache", tmp_path / "flags"
    flags.mkdir()
    racing = THROWAWAY_GUFUNC.format(patch=KERNEL_OF_ONE_WRAPPER_OF_THE_OTHER)
    children = [
        _start(racing, [str(package), str(cache), role, str(flags)], cache) for role in "ab"
    ]
    assert [_finish(c)["out"] for c in children] == [[0.0, 2.0, 4.0]] * 2
    loader = _start(THROWAWAY_GUFUNC.format(patch=""), [str(package), str(cache)], cache)
    out, err = loader.communicate(timeout=300)
    assert loader.returncode == 0, f"the process loading the cached gufunc died: {err[-2000:]}"
    assert json.loads(out.strip().splitlines()[-1])["out"] == [0.0, 2.0, 4.0]
