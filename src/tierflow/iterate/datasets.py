"""The datasets an iterator walks: (file, group) pairs, in order, with their row counts.

Files may be globs, a list, or a list of lists; groups one list for all files or one
list per file set. Files come first, groups inside them, so each file is opened once.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import LH5FileError

FilesSpec = str | os.PathLike | Sequence[str | os.PathLike | Sequence[str | os.PathLike]]
GroupsSpec = str | Sequence[str | Sequence[str]]


@dataclass(frozen=True)
class Dataset:
    """One table to read: a group in a file; ``group_index`` numbers the group in ``groups``.

    >>> Dataset("a.lh5", "ch1/hit", 0)
    Dataset(file='a.lh5', group='ch1/hit', group_index=0)
    """

    file: str
    group: str
    group_index: int

    def __str__(self) -> str:
        return f"{self.file}:{self.group}"


def expand_files(pattern: str | os.PathLike, base_path: str = "") -> list[str]:
    """The files a path or glob names (sorted); environment variables and ``~`` expanded.

    A plain path is returned as it is, even when missing, so that reading it can say so.

    >>> expand_files("/no/such/file.lh5")
    ['/no/such/file.lh5']
    """
    path = os.path.expanduser(os.path.expandvars(os.fspath(pattern)))
    path = os.path.join(base_path, path) if base_path else path
    if glob.has_magic(path):
        matches = sorted(glob.glob(path))
        if not matches:
            raise LH5FileError(f"no file matches the pattern {path!r}", file=path)
        return matches
    return [path]


def _as_sets(files: FilesSpec, base_path: str) -> list[list[str]]:
    if isinstance(files, str | os.PathLike):
        return [expand_files(files, base_path)]
    sets = []
    for entry in files:
        if isinstance(entry, str | os.PathLike):
            sets.append(expand_files(entry, base_path))
        else:
            sets.append([f for pattern in entry for f in expand_files(pattern, base_path)])
    return sets


def _group_sets(groups: GroupsSpec, n_sets: int) -> list[list[str]]:
    if isinstance(groups, str):
        return [[groups]] * n_sets
    listed = list(groups)
    if all(isinstance(g, str) for g in listed):
        return [[str(g) for g in listed]] * n_sets
    sets: list[list[str]] = [[g] if isinstance(g, str) else list(g) for g in listed]
    if len(sets) != n_sets:
        msg = f"groups has {len(sets)} lists for {n_sets} file sets; give one list per file set"
        raise ValueError(msg)
    return sets


def list_datasets(
    files: FilesSpec, groups: GroupsSpec, base_path: str = ""
) -> tuple[list[Dataset], list[str]]:
    """All (file, group) datasets in reading order, and the flat list of groups.

    A flat list of groups applies to every file; a list of lists gives the groups of
    each file set. ``group_index`` points into the flat list of groups.

    >>> ds, flat = list_datasets(["a.lh5", "b.lh5"], ["ch1/hit", "ch2/hit"])
    >>> [str(d) for d in ds], flat
    (['a.lh5:ch1/hit', 'a.lh5:ch2/hit', 'b.lh5:ch1/hit', 'b.lh5:ch2/hit'], ['ch1/hit', 'ch2/hit'])
    """
    file_sets = _as_sets(files, base_path)
    group_sets = _group_sets(groups, len(file_sets))
    shared = len(file_sets) > 0 and all(g is group_sets[0] for g in group_sets)
    flat = list(group_sets[0]) if shared else [g for gs in group_sets for g in gs]
    datasets: list[Dataset] = []
    offset = 0
    for fs, gs in zip(file_sets, group_sets, strict=True):
        for f in fs:
            datasets.extend(Dataset(f, g, (0 if shared else offset) + i) for i, g in enumerate(gs))
        if not shared:
            offset += len(gs)
    return datasets, flat
