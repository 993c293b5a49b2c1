"""Layering of ``iterate/`` and ``lh5/`` (docs/architecture.md, issue 14 item 4).

- ``lh5`` knows no iterator: nothing in ``lh5/`` imports ``iterate/`` but the lazy
  ``from tierflow.lh5 import LH5Iterator`` re-export LEGEND users rely on;
- the verbs take a :class:`~tierflow.iterate.source.ChunkSource`: no module of ``iterate/`` but
  ``iterator.py`` (and the package's ``__init__``) imports ``iterator``, so the iterator calls the
  verbs and never the other way round;
- no module of ``lh5/`` or ``iterate/`` reads or sets another object's ``_private`` names or
  imports another module's, except the few listed below with their reason.

The checks parse the sources with :mod:`ast`; nothing is imported to find the imports.
"""

from __future__ import annotations

import ast
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import hist
import numpy as np
import pytest

import tierflow
from tierflow import lh5
from tierflow.iterate import LH5Iterator, verbs
from tierflow.iterate.dask_io import to_dask
from tierflow.iterate.direct import DirectColumns
from tierflow.iterate.source import ChunkSource
from tierflow.types import Table

PACKAGE = Path(tierflow.__file__).parent
SCANNED = ("lh5", "iterate")

#: (module, expression) -> why it stays. A listed access that is gone fails
#: ``test_every_listed_exception_is_still_needed``: delete its line.
PRIVATE_ACCESS_EXCEPTIONS = {
    (
        "iterate/hist_fill.py",
        "getattr(axis, '_ax')",
    ): "boost-histogram has no public accessor for a regular axis' stored (min, delta) and "
    "its C++ kind (transform, circular, growing), which the bit-exact kernels need; what is "
    "read is checked against the axis' public index() before the fast path is used",
}


# --------------------------------------------------------------------------- parsing


def sources(*packages: str) -> Iterator[tuple[str, ast.Module]]:
    """(path relative to the package, parsed module) of every module under ``packages``."""
    for package in packages:
        for path in sorted((PACKAGE / package).rglob("*.py")):
            yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(), str(path))


def module_name(relpath: str) -> str:
    parts = ["tierflow", *relpath.removesuffix(".py").split("/")]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(relpath: str) -> bool:
    return relpath.endswith("__init__.py")


def imported_modules(relpath: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Absolute names of the modules an import statement may load (``from a import b``
    loads ``a`` and maybe the module ``a.b``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module_name(relpath).split(".")
        if not is_package(relpath):
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([base] if base else [])])
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, list[str]]]:
    """Every import statement (also inside functions and ``if TYPE_CHECKING``), with the names
    of the functions it sits in."""

    def walk(node: ast.AST, functions: list[str]) -> Iterator:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, functions
            inner = (
                [*functions, child.name]
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                else functions
            )
            yield from walk(child, inner)

    yield from walk(tree, [])


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_accesses(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, expression) of every read or write of a ``_private`` name of another object or
    module: ``x._name`` (but ``self._name``, ``cls._name`` and ``super()._name``),
    ``getattr(x, "_name")`` and the like, ``from m import _name``, and imports of private
    modules (``h5py._hl``)."""
    own = ("self", "cls")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            value = node.value
            if isinstance(value, ast.Name) and value.id in own:
                continue
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id == "super"
            ):
                continue  # the class's own (inherited) attribute
            yield node.lineno, ast.unparse(node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and is_private(node.args[1].value)
        ):
            obj = node.args[0]
            if isinstance(obj, ast.Name) and obj.id in own:
                continue
            yield node.lineno, f"{node.func.id}({ast.unparse(obj)}, {node.args[1].value!r})"
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if any(is_private(part) for part in (node.module or "").split(".")):
                names = ", ".join(alias.name for alias in node.names)
                yield node.lineno, f"from {module} import {names}"
            for alias in node.names:
                if is_private(alias.name):
                    yield node.lineno, f"from {module} import {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(is_private(part) for part in alias.name.split(".")):
                    yield node.lineno, f"import {alias.name}"


def found_private_accesses() -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for relpath, tree in sources(*SCANNED):
        for line, expression in private_accesses(tree):
            found.setdefault((relpath, expression), []).append(line)
    return found


# --------------------------------------------------------------------------- imports


def test_only_the_iterator_module_and_the_package_import_the_iterator():
    offenders = []
    for relpath, tree in sources("iterate"):
        if relpath in ("iterate/iterator.py", "iterate/__init__.py"):
            continue
        for node, _ in imports(tree):
            if "tierflow.iterate.iterator" in imported_modules(relpath, node):
                offenders.append(f"{relpath}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == [], "the verbs take a ChunkSource (iterate/source.py), not LH5Iterator"


def test_lh5_imports_iterate_only_for_the_lazy_reexport():
    found = []
    for relpath, tree in sources("lh5"):
        for node, functions in imports(tree):
            names = imported_modules(relpath, node)
            if any(n == "tierflow.iterate" or n.startswith("tierflow.iterate.") for n in names):
                found.append((relpath, functions, ast.unparse(node)))
    # the one allowed: inside the module's __getattr__, so importing tierflow.lh5 never loads it
    assert found == [("lh5/__init__.py", ["__getattr__"], "from ..iterate import LH5Iterator")]


def test_lh5_reexports_the_iterator_lazily():
    assert lh5.LH5Iterator is LH5Iterator


def test_imports_are_resolved_as_python_resolves_them():
    """The checks above see relative imports as the absolute modules they load."""
    tree = ast.parse("from .iterator import LH5Iterator\nfrom .. import lh5\nfrom . import x")
    nodes = [node for node, _ in imports(tree)]
    assert imported_modules("iterate/verbs.py", nodes[0])[0] == "tierflow.iterate.iterator"
    assert imported_modules("iterate/verbs.py", nodes[1]) == ["tierflow", "tierflow.lh5"]
    assert imported_modules("iterate/__init__.py", nodes[2])[1] == "tierflow.iterate.x"


@pytest.mark.parametrize("module", ["verbs", "work", "direct", "dask_io", "source"])
def test_each_verb_module_imports_in_a_fresh_interpreter(module):
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    done = subprocess.run(
        [sys.executable, "-c", f"import tierflow.iterate.{module}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- private names


def test_no_module_reaches_into_another_modules_private_names():
    found = found_private_accesses()
    unexplained = sorted(
        f"{relpath}:{lines[0]}: {expression}"
        for (relpath, expression), lines in found.items()
        if (relpath, expression) not in PRIVATE_ACCESS_EXCEPTIONS
    )
    assert unexplained == []


def test_every_listed_exception_is_still_needed():
    found = found_private_accesses()
    stale = sorted(key for key in PRIVATE_ACCESS_EXCEPTIONS if key not in found)
    assert stale == [], "these are gone: remove them from PRIVATE_ACCESS_EXCEPTIONS"


def test_private_access_check_finds_what_it_should():
    code = """
import h5py._hl.filters
from h5py._hl.filters import fill_dcpl
from .base import _helper, public
class A(B):
    def f(self, other):
        self._mine = other._theirs
        other._set = 1
        hasattr(other, "_flag")
        getattr(self, "_fine")
        super()._hook()
        return other.__class__, cls_._x
"""
    found = [expression for _, expression in private_accesses(ast.parse(code))]
    assert sorted(found) == sorted(
        [
            "import h5py._hl.filters",
            "from h5py._hl.filters import fill_dcpl",
            "from .base import _helper",
            "other._theirs",
            "other._set",
            "hasattr(other, '_flag')",
            "cls_._x",
        ]
    )


# --------------------------------------------------------------------------- the protocol


class ProtocolOnly:
    """A chunk source that offers its iterator's ``ChunkSource`` members and nothing else:
    the verbs, run on it, can use nothing more."""

    MEMBERS = frozenset(n for n in vars(ChunkSource) if not n.startswith("_"))

    def __init__(self, inner: LH5Iterator):
        self.inner = inner

    def __getattr__(self, name: str):
        if name in type(self).MEMBERS and name != "reading":
            return getattr(self.inner, name)
        raise AttributeError(f"{name!r} is not part of ChunkSource")

    def __len__(self) -> int:
        return len(self.inner)

    def reading(self, names):
        return self if names is None else ProtocolOnly(self.inner.reading(names))

    def __getstate__(self):
        return {"inner": self.inner}

    def __setstate__(self, state):
        self.inner = state["inner"]


@pytest.fixture
def iterator(tmp_path):
    path = tmp_path / "layering.lh5"
    rng = np.random.default_rng(14)
    for ch in ("ch1", "ch2"):
        table = Table({"e": rng.normal(5.0, 2.0, 40), "t": np.arange(40.0)})
        lh5.write(table, f"{ch}/hit", str(path), wo_mode="a")
    return LH5Iterator(str(path), ["ch1/hit", "ch2/hit"], buffer_len=15)


def test_the_protocol_names_what_the_verbs_use():
    assert {
        "read",
        "buffer_len",
        "i_start",
        "datasets",
        "selection",
        "friends",
        "group_data",
        "open_file",
        "available_fields",
        "known_fields",
        "reading",
        "current_files",
    } <= ProtocolOnly.MEMBERS


def test_the_iterator_is_a_chunk_source(iterator):
    assert isinstance(iterator, ChunkSource)
    assert isinstance(ProtocolOnly(iterator), ChunkSource)
    assert not isinstance(object(), ChunkSource)


def test_verbs_run_on_the_protocol_alone(iterator):
    source = ProtocolOnly(iterator)
    assert pickle.loads(pickle.dumps(source)).inner.buffer_len == 15
    with pytest.raises(AttributeError):
        source._store  # noqa: B018 - the iterator's own state is out of reach

    query = verbs.query(source, "e > 5", ["t"], "pd")
    expected = iterator.query("e > 5", fields=["t"], library="pd")
    assert query["t"].tolist() == expected["t"].tolist()
    assert len(query) > 0

    lengths = verbs.map_chunks(source, lambda table, it: (len(table), it.current_groups[0]))
    assert lengths == iterator.map(lambda table, it: (len(table), it.current_groups[0]))
    assert sum(n for n, _ in lengths) == 80

    pieces = DirectColumns(source, ["e"]).pieces(0, 80)  # the files, opened through the source
    assert pieces is not None
    e = np.concatenate([piece[0].copy() for piece in pieces])
    assert e.tolist() == iterator.query(None, fields=["e"], library="np")["e"].tolist()

    axis = hist.axis.Regular(20, -5, 15, name="e")
    direct = verbs.fill_hist(source, axis)  # no where: the direct route opens the files
    chunked = verbs.fill_hist(source, axis, where="t >= 0")
    assert direct.values().tolist() == iterator.hist(axis).values().tolist()
    assert direct.values().tolist() == chunked.values().tolist()
    assert direct.sum() == 80

    frame = to_dask(source).compute()
    assert frame["t"].tolist() == iterator.query(None, library="pd")["t"].tolist()


def test_reading_copies_and_restricts_friends_through_their_affixes(tmp_path):
    hit, dsp = str(tmp_path / "hit.lh5"), str(tmp_path / "dsp.lh5")
    lh5.write(Table({"e": np.arange(5.0), "q": np.zeros(5)}), "ch/hit", hit)
    lh5.write(Table({"a": np.arange(5.0) * 2, "b": np.ones(5)}), "ch/dsp", dsp)
    friend = LH5Iterator(dsp, "ch/dsp")
    it = LH5Iterator(hit, "ch/hit", friend=friend, friend_prefix="d_", friend_suffix="_v")

    narrow = it.reading({"e", "d_a_v", "no_such"})
    assert sorted(narrow.read(0, 5)) == ["d_a_v", "e"]
    assert narrow.read(1, 2)["d_a_v"].nda.tolist() == [2.0, 4.0]
    assert narrow.friends[0][0] is not friend  # copies: the iterator itself reads as before
    assert sorted(it.read(0, 5)) == ["d_a_v", "d_b_v", "e", "q"]
    assert sorted(friend.read(0, 5)) == ["a", "b"]
