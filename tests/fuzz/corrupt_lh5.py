"""A corpus of damaged LH5 inputs, made from copies of the real LEGEND files.

:func:`cases` lists the inputs as small JSON-able descriptions (family, source file, seed);
:func:`build` makes one of them in a directory: a copy of the source damaged as described.
Everything follows from the seed, so a case is rebuilt identically anywhere.

Families:

- ``truncate``: the file cut at an offset (in the metadata at the start, anywhere, near the end);
- ``flip``: a few bytes XOR-ed with random values (half of them in the first 4 KiB, where the
  superblock and most object headers are; the rest at object header addresses or anywhere);
- ``zero``: a block of 16 B to 4 KiB zeroed;
- ``datatype``: the ``datatype`` attribute of an object rewritten by a grammar mutation
  (characters dropped, added or swapped; another kind, rank or element; deep nesting; a
  non-string value; invalid UTF-8);
- ``lengths``: a ``cumulative_length`` made decreasing, huge, negative, past the data or of
  another length;
- ``codec``: an encoded waveform's ``decoded_size`` lying, its byte stream damaged, its
  ``codec`` attributes wrong (raw files with encoded waveforms);
- ``structure``: columns removed, replaced by groups or strings, of other shapes or lengths;
- ``links``: cycles of hard, soft and external links inside a file, dangling links;
- ``not_lh5``: text, empty, zeros, random bytes, an HDF5 signature and junk, a FIFO, a
  directory, a character device, a socket, a loop of symlinks, a dangling symlink.

>>> small = cases(full=False)
>>> len(small) > 500, len(cases(full=True)) >= 2000
(True, True)
>>> small[0]["family"], sorted(small[0])
('truncate', ['family', 'name', 'seed', 'source'])
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401  (the raw files are compressed with Zstd)
import numpy as np

from testdata import LH5_DATA

#: the small real files the corpus is made from, by a short name
SOURCES = {
    "tcm": "tcm/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_tcm.lh5",
    "hit": "hit/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_hit.lh5",
    "dsp": "dsp/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_dsp.lh5",
    "raw03": "raw/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_raw.lh5",
    "raw14": "raw/cal/p14/r005/l200-p14-r004-cal-20250606T010224Z-tier_raw.lh5",
}
#: sources with vectors of vectors, with encoded waveforms
WITH_VECTORS = ("tcm", "raw03", "raw14")
WITH_CODECS = ("raw14",)

#: cases per source (or per run for ``not_lh5``) in the default run; the full run takes
#: :data:`FULL_FACTOR` times more of each family but ``not_lh5`` and ``links``
DEFAULT_COUNTS = {
    "truncate": 20,
    "flip": 30,
    "zero": 16,
    "datatype": 24,
    "structure": 10,
    "links": 8,
    "lengths": 14,
    "codec": 36,
}
FULL_FACTOR = 4

NOT_LH5 = (
    "text",
    "empty",
    "zeros_small",
    "zeros_1mb",
    "random",
    "signature_and_junk",
    "fifo",
    "directory",
    "char_device",
    "socket",
    "symlink_loop",
    "dangling_symlink",
)
LINK_KINDS = (
    "hard_parent",
    "hard_self_in_table",
    "soft_cycle",
    "soft_self",
    "external_self",
    "external_pair",
    "dangling_soft",
    "dangling_external",
)


def source_path(source: str) -> Path:
    return LH5_DATA / SOURCES[source]


def cases(full: bool = False) -> list[dict]:
    """Every input of a run, in a fixed order (the default run, or ``full``)."""
    factor = FULL_FACTOR if full else 1
    out: list[dict] = []
    for family, count in DEFAULT_COUNTS.items():
        sources = (
            WITH_CODECS
            if family == "codec"
            else WITH_VECTORS
            if family == "lengths"
            else tuple(SOURCES)
        )
        n = count if family == "links" else count * factor
        for source in sources:
            for i in range(n):
                out.append(
                    {
                        "name": f"{family}-{source}-{i}",
                        "family": family,
                        "source": source,
                        "seed": _seed(family, source, i),
                    }
                )
    for kind in NOT_LH5:
        out.append({"name": f"not_lh5-{kind}", "family": "not_lh5", "source": kind, "seed": 0})
    return out


def _seed(family: str, source: str, i: int) -> int:
    return (sum(map(ord, family)) * 1_000_003 + sum(map(ord, source)) * 10_007 + i) % 2**32


def build(case: dict, workdir: str | os.PathLike) -> str:
    """Make the case's input in ``workdir`` (emptied first); its path."""
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    family = case["family"]
    if family == "not_lh5":
        return _not_lh5(case["source"], workdir)
    path = workdir / "input.lh5"
    shutil.copyfile(source_path(case["source"]), path)
    os.chmod(path, 0o644)
    rng = np.random.default_rng(case["seed"])
    if family == "clean":  # the source as it is (a worker's warm-up)
        pass
    elif family == "links":  # every kind of link in turn
        _links(path, rng, LINK_KINDS[case["seed"] % len(LINK_KINDS)])
    else:
        _FAMILIES[family](path, rng)
    return str(path)


# --- byte-level damage ------------------------------------------------------------------------
def _truncate(path: Path, rng: np.random.Generator) -> None:
    size = path.stat().st_size
    where = rng.integers(3)
    if where == 0:
        cut = int(rng.integers(0, min(size, 8192)))
    elif where == 1:
        cut = int(rng.integers(0, size))
    else:
        cut = int(size - rng.integers(1, min(size, 4096)))
    os.truncate(path, cut)


def _header_addresses(path: Path) -> list[int]:
    """Byte addresses of the file's object headers (where flips do the most damage)."""
    addresses: list[int] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda _, obj: addresses.append(h5py.h5o.get_info(obj.id).addr))
    return addresses


def _flip(path: Path, rng: np.random.Generator) -> None:
    size = path.stat().st_size
    headers = _header_addresses(path)
    data = bytearray(path.read_bytes())
    for _ in range(int(rng.integers(1, 9))):
        where = rng.integers(4)
        if where <= 1:
            pos = int(rng.integers(0, min(size, 4096)))
        elif where == 2 and headers:
            pos = int(headers[rng.integers(len(headers))] + rng.integers(0, 256))
        else:
            pos = int(rng.integers(0, size))
        if pos < size:
            data[pos] ^= int(rng.integers(1, 256))
    path.write_bytes(bytes(data))


def _zero(path: Path, rng: np.random.Generator) -> None:
    size = path.stat().st_size
    length = int(2 ** rng.integers(4, 13))
    start = (
        int(rng.integers(0, min(size, 16384))) if rng.random() < 0.5 else int(rng.integers(size))
    )
    with open(path, "r+b") as f:
        f.seek(start)
        f.write(bytes(min(length, size - start)))


# --- datatype grammar -------------------------------------------------------------------------
_KINDS = (
    "array",
    "table",
    "struct",
    "fixedsize_array",
    "array_of_equalsized_arrays",
    "array_of_encoded_equalsized_arrays",
    "encoded_array",
    "enum",
    "real",
    "bool",
    "string",
    "blob",
    "nonsense",
)


def _objects(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visit(names.append)
    return names


def _mutated_datatype(text: str, rng: np.random.Generator) -> object:
    """A damaged ``datatype`` value: a mutation of ``text`` or something else entirely."""
    how = int(rng.integers(14))
    chars = list(text)
    if how == 0 and chars:  # drop characters
        for _ in range(int(rng.integers(1, 4))):
            if chars:
                del chars[int(rng.integers(len(chars)))]
    elif how == 1:  # insert grammar characters
        for _ in range(int(rng.integers(1, 4))):
            chars.insert(int(rng.integers(len(chars) + 1)), str(rng.choice(list("{}<>,=1 "))))
    elif how == 2 and len(chars) > 1:  # swap two characters
        i, j = rng.integers(len(chars), size=2)
        chars[i], chars[j] = chars[j], chars[i]
    elif how == 3:  # another kind
        head, brace, rest = text.partition("{")
        kind = str(rng.choice(_KINDS))
        dims = head[head.find("<") :] if "<" in head else ""
        return f"{kind}{dims}{brace}{rest}"
    elif how == 4:  # another rank
        dims = ",".join(str(d) for d in rng.integers(0, 4, size=int(rng.integers(0, 4))))
        head, brace, rest = text.partition("{")
        return f"{head.split('<')[0]}<{dims}>{brace}{rest}"
    elif how == 5:  # another element
        return text.replace("real", str(rng.choice(_KINDS)))
    elif how == 6:  # deep nesting
        depth = int(rng.choice([40, 200, 2000, 20000]))
        return "array<1>{" * depth + "real" + "}" * depth
    elif how == 7:  # deeply nested struct fields
        depth = int(rng.choice([40, 500, 5000]))
        return "struct{" * depth + "a" + "}" * depth
    elif how == 8:
        return int(rng.integers(-5, 5))
    elif how == 9:
        return np.array([text.encode(), text.encode()])
    elif how == 10:
        return np.void(b"\xff\xfe" + text.encode())
    elif how == 11:
        return b"table{\xff\xfe\x80}" if rng.random() < 0.5 else b""
    elif how == 12:  # fields that are not there, many of them
        return "table{" + ",".join(f"f{i}" for i in range(int(rng.integers(1, 3000)))) + "}"
    else:  # enum and field lists with odd entries
        return str(rng.choice(["enum{a=x,b}", "table{,,}", "table{a,a}", "array<1>{enum{=}}"]))
    return "".join(chars)


def _datatype(path: Path, rng: np.random.Generator) -> None:
    with h5py.File(path, "r+") as f:
        names = [n for n in _objects(f) if "datatype" in f[n].attrs]
        for _ in range(int(rng.integers(1, 3))):
            name = names[int(rng.integers(len(names)))]
            old = f[name].attrs["datatype"]
            old = old.decode(errors="replace") if isinstance(old, bytes) else str(old)
            f[name].attrs["datatype"] = _mutated_datatype(old, rng)


# --- lengths of vectors -----------------------------------------------------------------------
def _replace(group: h5py.Group, name: str, data: np.ndarray, like: h5py.Dataset) -> None:
    attrs = dict(like.attrs)
    del group[name]
    group.create_dataset(name, data=data)
    group[name].attrs.update(attrs)


def _lengths(path: Path, rng: np.random.Generator) -> None:
    with h5py.File(path, "r+") as f:
        names = [n for n in _objects(f) if n.endswith("/cumulative_length")]
        name = names[int(rng.integers(len(names)))]
        ds = f[name]
        cl = ds[()].astype(np.int64)
        n_flat = cl[-1] if len(cl) else 0
        how = int(rng.integers(8))
        if how == 0 and len(cl) > 1:  # decreasing
            cl[int(rng.integers(len(cl)))] = max(int(n_flat) - 1, 0) // 2
            cl[0] = n_flat
        elif how == 1:  # huge
            cl[int(rng.integers(len(cl)))] = int(rng.choice([2**31 - 1, 2**40, 2**62]))
        elif how == 2:  # huge at the end only
            cl[-1] = int(rng.choice([2**32, 10**12, 2**62]))
        elif how == 3:  # past the data by a little
            cl[-1] += int(rng.integers(1, 100))
        elif how == 4:  # negative
            cl[int(rng.integers(len(cl)))] = -int(rng.integers(1, 2**40))
        elif how == 5:  # fewer entries
            cl = cl[: int(rng.integers(len(cl)))]
        elif how == 6:  # more entries
            cl = np.concatenate([cl, cl[-1:] + np.arange(1, int(rng.integers(2, 50)))])
        else:  # all equal to the end: every vector empty but the first
            cl[:] = n_flat
            cl[: len(cl) // 2] = int(rng.integers(0, 2**33))
        dtype = np.int64 if how == 4 or ds.dtype.kind == "i" else ds.dtype
        _replace(ds.parent, name.rsplit("/", 1)[1], cl.astype(dtype), ds)


# --- encoded waveforms ------------------------------------------------------------------------
def _codec(path: Path, rng: np.random.Generator) -> None:
    with h5py.File(path, "r+") as f:
        encoded = [n for n in _objects(f) if n.endswith("/decoded_size")]
        name = encoded[int(rng.integers(len(encoded)))].rsplit("/", 1)[0]
        obj = f[name]
        how = int(rng.integers(10))
        if how <= 1:  # decoded_size lying
            size = obj["decoded_size"]
            value = int(rng.choice([0, 1, 7, 32768, 65535, 2**31, 10**12, 2**62, -1, -(2**40)]))
            if how == 1:
                value = int(size[()]) + int(rng.integers(-3, 4))
            _replace(obj, "decoded_size", np.int64(value), size)
        elif how <= 5:  # the byte stream damaged
            flat = obj["encoded_data/flattened_data"]
            data = flat[()]
            mode = int(rng.integers(4))
            if mode == 0:
                k = rng.integers(len(data), size=int(rng.integers(1, 20)))
                data[k] ^= rng.integers(1, 256, size=len(k)).astype(np.uint8)
            elif mode == 1:
                a = int(rng.integers(len(data)))
                data[a : a + int(rng.integers(1, 64))] = int(rng.choice([0, 0xFF]))
            elif mode == 2:
                data = data[: int(rng.integers(len(data)))]
            else:
                data = rng.integers(0, 256, size=len(data)).astype(np.uint8)
            _replace(obj["encoded_data"], "flattened_data", data, flat)
        elif how <= 7:  # the byte counts lying
            cl = obj["encoded_data/cumulative_length"]
            value = int(rng.choice([0, 3, 2**31, 2**32 - 1, 10**12]))
            _replace(obj["encoded_data"], "cumulative_length", np.array([value], np.int64), cl)
        elif how == 8:  # codec attributes
            obj.attrs["codec"] = str(rng.choice(["gzip", "", "radware_sigcompress"]))
            if rng.random() < 0.5:
                obj.attrs["codec_shift"] = [2**40, -(2**40), 0.5, "x"][int(rng.integers(4))]
        else:  # the codec of the other column
            other = "uleb128_zigzag_diff" if obj.attrs["codec"] != "uleb128_zigzag_diff" else None
            obj.attrs["codec"] = other or "radware_sigcompress"
            obj.attrs["codec_shift"] = -32768


# --- structure ----------------------------------------------------------------------------------
def _structure(path: Path, rng: np.random.Generator) -> None:
    with h5py.File(path, "r+") as f:
        columns = [n for n in _objects(f) if isinstance(f[n], h5py.Dataset)]
        name = columns[int(rng.integers(len(columns)))]
        ds = f[name]
        parent, leaf = ds.parent, name.rsplit("/", 1)[1]
        how = int(rng.integers(7))
        if how == 0:
            del parent[leaf]
        elif how == 1:
            attrs = dict(ds.attrs)
            del parent[leaf]
            parent.create_group(leaf).attrs.update(attrs)
        elif how == 2:
            _replace(parent, leaf, np.array([b"abc", b"\xff"] * max(len(ds), 1)), ds)
        elif how == 3 and ds.shape:
            _replace(parent, leaf, ds[()][: int(rng.integers(ds.shape[0] + 1))], ds)
        elif how == 4:
            _replace(parent, leaf, np.zeros((2, 3, 4), np.float32), ds)
        elif how == 5:
            _replace(parent, leaf, np.float64(3.0), ds)
        else:
            dt = h5py.vlen_dtype(np.dtype("int32"))
            data = np.empty(2, dtype=object)
            data[:] = [np.arange(3, dtype="int32"), np.arange(1, dtype="int32")]
            attrs = dict(ds.attrs)
            del parent[leaf]
            parent.create_dataset(leaf, data=data, dtype=dt).attrs.update(attrs)


# --- links ----------------------------------------------------------------------------------------
def _links(path: Path, rng: np.random.Generator, kind: str) -> None:
    with h5py.File(path, "r+") as f:
        groups = [n for n in _objects(f) if isinstance(f[n], h5py.Group)]
        name = groups[int(rng.integers(len(groups)))]
        group = f[name]
        if kind == "hard_parent":
            group["up"] = group.parent
        elif kind == "hard_self_in_table":
            group["loop"] = group
            if "datatype" in group.attrs and str(group.attrs["datatype"]).startswith("table{"):
                fields = str(group.attrs["datatype"])[len("table{") : -1]
                group.attrs["datatype"] = "table{loop," + fields + "}"
        elif kind == "soft_cycle":
            group["a"] = h5py.SoftLink(f"{group.name}/b")
            group["b"] = h5py.SoftLink(f"{group.name}/a")
        elif kind == "soft_self":
            group["me"] = h5py.SoftLink(group.name)
        elif kind == "external_self":
            group["ext"] = h5py.ExternalLink(path.name, group.name)
        elif kind == "external_pair":
            other = path.with_name("other.lh5")
            with h5py.File(other, "w") as g:
                g["back"] = h5py.ExternalLink(path.name, "/")
            group["ext"] = h5py.ExternalLink(other.name, "/back")
        elif kind == "dangling_soft":
            group["gone"] = h5py.SoftLink("/no/such/object")
        else:
            group["gone"] = h5py.ExternalLink("missing.lh5", "/x")


# --- not LH5 at all -------------------------------------------------------------------------------
def _not_lh5(kind: str, workdir: Path) -> str:
    path = workdir / "input.lh5"
    rng = np.random.default_rng(7)
    if kind == "text":
        path.write_text("energy,timestamp\n1,2\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "zeros_small":
        path.write_bytes(bytes(4096))
    elif kind == "zeros_1mb":
        path.write_bytes(bytes(1 << 20))
    elif kind == "random":
        path.write_bytes(rng.integers(0, 256, 65536).astype(np.uint8).tobytes())
    elif kind == "signature_and_junk":
        path.write_bytes(
            b"\x89HDF\r\n\x1a\n" + rng.integers(0, 256, 4096).astype(np.uint8).tobytes()
        )
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "char_device":
        return "/dev/zero"
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "symlink_loop":
        os.symlink(workdir / "loop2.lh5", path)
        os.symlink(path, workdir / "loop2.lh5")
    elif kind == "dangling_symlink":
        os.symlink(workdir / "nowhere.lh5", path)
    return str(path)


_FAMILIES = {
    "truncate": _truncate,
    "flip": _flip,
    "zero": _zero,
    "datatype": _datatype,
    "lengths": _lengths,
    "codec": _codec,
    "structure": _structure,
}
