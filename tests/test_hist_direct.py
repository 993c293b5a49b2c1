"""hist filled straight from the files (``tierflow.iterate.direct``, ``tierflow.lh5.direct``):
where each dataset's rows lie in its file, which datasets the direct route serves (byte runs of
uncompressed data read into scratch arrays, gzip chunks read by HDF5 and inflated directly),
and histograms equal bit for bit to the chunked route's, on generated files (uncompressed
chunked, contiguous, gzip with and without shuffling), with entry lists, weights, two axes,
pools, damaged chunks, files truncated during the pass, and on the real LEGEND hit files
(whose columns are stored without filters)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import h5py
import hdf5plugin
import hist
import numpy as np
import pytest

import tierflow.iterate.verbs as verbs
from testdata import HIT_CAL, LH5_DATA
from tierflow import lh5
from tierflow.errors import LH5DecodeError, LH5FileError, TierflowError
from tierflow.iterate import direct
from tierflow.lh5 import LH5Iterator
from tierflow.lh5.direct import DeflatedRows, PlainRows, byte_runs, direct_rows
from tierflow.lh5.serial import general_path_only
from tierflow.types import Table

GROUPS = ["ch0/hit", "ch1/hit", "ch2/hit"]
SIZES = [40_000, 0, 25_000]


def _columns(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "e": rng.normal(0.0, 2.0, n).astype(np.float32),
        "w": rng.uniform(0.5, 2.0, n),
        "k": rng.integers(-3, 12, n).astype(np.int16),
        "flag": rng.random(n) < 0.3,
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """The same tables written uncompressed (chunked, as tierflow writes), gzip, and as
    contiguous datasets (the LH5 attributes copied onto datasets made by h5py)."""
    tmp = tmp_path_factory.mktemp("direct")
    rng = np.random.default_rng(7)
    tables = [_columns(rng, n) for n in SIZES]
    paths = {}
    settings = (
        ("none", False),
        ("gzip", "gzip"),  # shuffle + gzip, LH5's default
        ("deflate", {"compression": "gzip", "compression_opts": 6}),  # no shuffle
        ("lzf", "lzf"),
    )
    for label, compression in settings:
        path = str(tmp / f"{label}.lh5")
        for group, cols in zip(GROUPS, tables, strict=True):
            lh5.write(Table(dict(cols)), group, path, wo_mode="a", compression=compression)
        paths[label] = path
    contiguous = str(tmp / "contiguous.lh5")
    with h5py.File(paths["none"], "r") as src, h5py.File(contiguous, "w") as dst:

        def copy(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Group):
                dst.require_group(name).attrs.update(obj.attrs)
            else:
                dst.create_dataset(name, data=obj[()]).attrs.update(obj.attrs)

        src.visititems(copy)
    paths["contiguous"] = contiguous
    paths["tables"] = tables
    return paths


def _chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make hist take the chunked route."""
    monkeypatch.setattr(verbs, "direct_columns", lambda *args: None)


def _served_directly(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, per work item, whether the direct route served it."""
    served: list[bool] = []
    pieces = direct.DirectColumns.pieces

    def spy(self, first, n):
        out = pieces(self, first, n)
        served.append(out is not None)
        return out

    monkeypatch.setattr(direct.DirectColumns, "pieces", spy)
    return served


def _same(a: hist.Hist, b: hist.Hist) -> bool:
    return np.array_equal(a.view(flow=True), b.view(flow=True))


@pytest.mark.parametrize("label", ["none", "contiguous"])
def test_direct_fill_equals_numpy_and_the_chunked_route(files, label, monkeypatch):
    it = LH5Iterator(files[label], GROUPS, buffer_len=7_000)
    axis = hist.axis.Regular(50, -4.0, 4.0, name="e")
    with monkeypatch.context() as m:
        served = _served_directly(m)
        h = it.hist(axis, progress=False)
    assert served and all(served)
    e = np.concatenate([t["e"] for t in files["tables"]])
    counts, _ = np.histogram(e, bins=50, range=(-4.0, 4.0))
    assert h.values().tolist() == counts.tolist()
    assert h.sum(flow=True) == len(e)
    _chunked(monkeypatch)
    assert _same(h, it.hist(axis, progress=False))


def test_direct_fill_two_axes_weights_ints_and_bools(files, monkeypatch):
    it = LH5Iterator(files["none"], GROUPS, buffer_len=10_000)
    axes = [
        hist.axis.Regular(20, -4.0, 4.0, name="e"),
        hist.axis.Regular(15, -3.0, 12.0, name="k"),
        hist.axis.Regular(2, 0.0, 2.0, name="flag", underflow=False, overflow=False),
    ]
    kwargs = {"weights": "w", "storage": hist.storage.Weight(), "progress": False}
    with monkeypatch.context() as m:
        served = _served_directly(m)
        h = it.hist(axes, **kwargs)
    assert all(served)
    cols = {k: np.concatenate([t[k] for t in files["tables"]]) for k in ("e", "k", "flag", "w")}
    expected = hist.Hist(*axes, storage=hist.storage.Weight())
    expected.fill(cols["e"], cols["k"], cols["flag"], weight=cols["w"])
    assert _same(h, expected)
    _chunked(monkeypatch)
    assert _same(h, it.hist(axes, **kwargs))


def test_keys_and_labels_name_the_viewed_columns(files, monkeypatch):
    it = LH5Iterator(files["none"], GROUPS)
    served = _served_directly(monkeypatch)
    by_key = it.hist(hist.axis.Regular(30, -4, 4), keys="e", progress=False)
    by_label = it.hist(hist.axis.Regular(30, -4, 4, label="e"), progress=False)
    assert served == [True, True]
    assert _same(by_key, by_label)
    assert by_key.sum(flow=True) == sum(SIZES)


def test_expressions_entry_lists_and_lzf_take_the_chunked_route(files, monkeypatch):
    axis = hist.axis.Regular(40, -4.0, 4.0, name="e")
    served = _served_directly(monkeypatch)
    e = np.concatenate([t["e"] for t in files["tables"]])
    picked = np.arange(5, len(e), 3)
    cases = {
        "lzf": (LH5Iterator(files["lzf"], GROUPS), {}),
        "entry list": (LH5Iterator(files["none"], GROUPS, entry_list=picked), {}),
        "key expression": (LH5Iterator(files["none"], GROUPS), {"keys": "e * 1"}),
        "where": (LH5Iterator(files["none"], GROUPS), {"where": "e > 0"}),
    }
    results = {name: it.hist(axis, progress=False, **kw) for name, (it, kw) in cases.items()}
    assert not any(served)  # the lzf file and the entry list were asked and declined
    assert results["lzf"].sum(flow=True) == len(e)
    assert results["entry list"].sum(flow=True) == len(picked)
    assert results["key expression"].sum(flow=True) == len(e)
    assert results["where"].sum(flow=True) == int((e > 0).sum())


def test_i_start_and_n_entries_cut_the_views(files, monkeypatch):
    it = LH5Iterator(files["none"], GROUPS, i_start=39_990, n_entries=20, buffer_len=7)
    served = _served_directly(monkeypatch)
    h = it.hist(hist.axis.Regular(40, -4.0, 4.0, name="e"), progress=False)
    assert all(served)
    e = np.concatenate([t["e"] for t in files["tables"]])[39_990:40_010]
    counts, _ = np.histogram(e, bins=40, range=(-4.0, 4.0))
    assert h.values().tolist() == counts.tolist()


@pytest.mark.parametrize("label", ["none", "gzip"])
def test_pools_give_the_serial_histogram(files, label):
    axis = hist.axis.Regular(64, -4.0, 4.0, name="e")
    it = LH5Iterator(files[label], GROUPS, buffer_len=4_000)
    serial = it.hist(axis, progress=False)
    with ThreadPoolExecutor(2) as pool:
        threads = it.hist(axis, executor=pool, progress=False)
    processes = it.hist(axis, processes=2, progress=False)
    assert _same(serial, threads) and _same(serial, processes)


def test_byte_runs_and_readers_of_layouts(tmp_path):
    path = str(tmp_path / "layouts.h5")
    x = np.arange(100, dtype=np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("contiguous", data=x)
        f.create_dataset("gzip", data=x, chunks=(10,), compression="gzip")
        f.create_dataset("matrix", data=x.reshape(10, 10))
        f.create_dataset("strings", data=np.array([b"a", b"b"]))
        partial = f.create_dataset("partial", shape=(100,), dtype="f4", chunks=(10,))
        partial[:15] = x[:15]  # chunks 2..9 never written: their rows are not in the file
        a = f.create_dataset("a", shape=(0,), maxshape=(None,), dtype="f4", chunks=(10,))
        b = f.create_dataset("b", shape=(0,), maxshape=(None,), dtype="f4", chunks=(10,))
        for start in range(0, 100, 10):  # appended in turns: a's chunks are not neighbours
            for ds in (a, b):
                ds.resize((start + 10,))
                ds[start:] = x[start : start + 10]
                f.flush()
    with h5py.File(path, "r") as f:
        runs = {name: byte_runs(f[name].id) for name in ("contiguous", "a", "b", "partial")}
        readers = {name: direct_rows(f[name].id) for name in f}
        assert runs["partial"] is None
        assert runs["contiguous"].starts.tolist() == [0] and runs["contiguous"].n_rows == 100
        assert len(runs["a"].starts) > 1 and runs["a"].n_rows == 100
        assert all(readers[n] is None for n in ("matrix", "strings", "partial"))
        assert isinstance(readers["gzip"], DeflatedRows)
        assert all(isinstance(readers[n], PlainRows) for n in ("contiguous", "a", "b"))
        for name in ("contiguous", "a", "b", "gzip"):
            out = np.full(90, -1.0, np.float32)
            got = readers[name].read(7, 93, out)
            assert got.tolist() == x[7:93].tolist() and out[86:].tolist() == [-1.0] * 4
            assert readers[name].file == path and readers[name].obj == f"/{name}"


@pytest.mark.skipif(not HIT_CAL, reason="the prod-ref-l200 hit files are missing")
def test_real_hit_files_fill_from_views(monkeypatch):
    """The LEGEND hit tier stores its columns without filters: hist reads them in place."""
    with h5py.File(HIT_CAL[0], "r", locking=False) as f:
        groups = sorted(f"{ch}/hit" for ch in f if ch.startswith("ch"))
    it = LH5Iterator([str(p) for p in HIT_CAL], groups)
    axis = hist.axis.Regular(300, 0.0, 3000.0, name="cuspEmax_ctc_cal")
    with monkeypatch.context() as m:
        served = _served_directly(m)
        h = it.hist(axis, progress=False)
    assert served and all(served)
    values = []
    for path in HIT_CAL:
        with h5py.File(path, "r", locking=False) as f:
            values += [f[f"{g}/cuspEmax_ctc_cal"][()] for g in groups]
    e = np.concatenate(values)
    assert h.sum(flow=True) == len(e)
    assert h.values().tolist() == np.histogram(e, bins=300, range=(0.0, 3000.0))[0].tolist()
    _chunked(monkeypatch)
    assert _same(h, it.hist(axis, progress=False))


@pytest.mark.parametrize("label", ["none", "gzip"])
def test_a_file_truncated_while_open_raises_naming_file_and_dataset(files, label, tmp_path):
    """Rows past the end of a file cut short after HDF5 opened it are not read as zeros (what
    HDF5 would give) nor mapped (which would end the process): a tierflow error says so."""
    path = str(tmp_path / f"{label}.lh5")
    shutil.copy(files[label], path)
    with h5py.File(path, "r", locking=False) as f:
        reader = direct_rows(f["ch2/hit/w"].id)
        os.truncate(path, os.path.getsize(path) // 2)
        with pytest.raises(LH5FileError, match="ch2/hit/w") as err:
            reader.read(0, 25_000, np.empty(25_000))
        assert err.value.file == path and "shrank" in str(err.value)
        if label == "none":  # a reader made after the cut knows its rows are not all there
            with pytest.raises(LH5FileError, match="shorter than its dataset"):
                direct_rows(f["ch2/hit/w"].id)


_TRUNCATED_DURING_HIST = textwrap.dedent(
    """
    import os, subprocess, sys
    import hist
    from tierflow.errors import TierflowError
    from tierflow.iterate import direct, hist_fill
    from tierflow.lh5 import LH5Iterator

    path, groups = sys.argv[1], sys.argv[2].split(",")
    direct.WINDOW = 1000  # many windows: the cut falls between two of them
    fill, calls = hist_fill.Filler.__call__, []

    def truncate_then_fill(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # another process cuts the file to a tenth mid-pass
            cut = "import os, sys; os.truncate(sys.argv[1], os.path.getsize(sys.argv[1]) // 10)"
            subprocess.run([sys.executable, "-c", cut, path], check=True)
        fill(self, *args, **kwargs)

    hist_fill.Filler.__call__ = truncate_then_fill
    try:
        LH5Iterator(path, groups).hist(hist.axis.Regular(10, -4, 4, name="e"), progress=False)
    except TierflowError as err:
        cause = err.__cause__ or err  # a TaskError names the work item; its cause, the file
        print(f"{type(cause).__name__}: {cause}")
    else:
        print("no error")
    """
)


@pytest.mark.parametrize("label", ["none", "gzip"])
def test_a_file_truncated_by_another_process_mid_pass_raises_not_sigbus(files, label, tmp_path):
    """A file cut short by another process while hist fills from it, between reading a window
    and filling it: before, filling from the memory map of that window ended the process with
    SIGBUS (exit code -7)."""
    path = str(tmp_path / f"{label}.lh5")
    shutil.copy(files[label], path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    run = subprocess.run(
        [sys.executable, "-c", _TRUNCATED_DURING_HIST, path, ",".join(GROUPS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("LH5FileError: ") and path in run.stdout
    assert "/ch0/hit/e" in run.stdout and "shrank" in run.stdout


def test_small_windows_give_the_same_histogram(files, monkeypatch):
    """Rows are read a window at a time; cutting them into many windows changes nothing."""
    axes = [hist.axis.Regular(30, -4.0, 4.0, name="e"), hist.axis.Regular(15, -3, 12, name="k")]
    it = LH5Iterator(files["none"], GROUPS, buffer_len=1_000)
    whole = it.hist(axes, weights="w", progress=False)
    monkeypatch.setattr(direct, "WINDOW", 999)
    served = _served_directly(monkeypatch)
    assert _same(whole, it.hist(axes, weights="w", progress=False))
    assert served == [True]


@pytest.mark.parametrize("label", ["gzip", "deflate"])
def test_gzip_chunks_inflate_straight_into_the_fill(files, label, monkeypatch):
    """Values of 1, 2, 4 and 8 bytes (bool, int16, float32, float64), shuffled or not, rows
    cut at buffer and entry-range boundaries that are not the chunks'."""
    axes = [
        hist.axis.Regular(20, -4.0, 4.0, name="e"),
        hist.axis.Regular(15, -3.0, 12.0, name="k"),
        hist.axis.Regular(2, 0.0, 2.0, name="flag", underflow=False, overflow=False),
    ]
    kwargs = {"weights": "w", "storage": hist.storage.Weight(), "progress": False}
    cols = {k: np.concatenate([t[k] for t in files["tables"]]) for k in ("e", "k", "flag", "w")}
    with h5py.File(files[label], "r", locking=False) as f:
        plist = f["ch0/hit/e"].id.get_create_plist()
        filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        assert (h5py.h5z.FILTER_SHUFFLE in filters) == (label == "gzip")
    for start, n, buffer_len in ((0, None, 7_000), (12_345, 40_000, 3_333)):
        it = LH5Iterator(files[label], GROUPS, buffer_len=buffer_len, i_start=start, n_entries=n)
        with monkeypatch.context() as m:
            served = _served_directly(m)
            h = it.hist(axes, **kwargs)
        assert served and all(served)
        rows = slice(start, None if n is None else start + n)
        expected = hist.Hist(*axes, storage=hist.storage.Weight())
        expected.fill(cols["e"][rows], cols["k"][rows], cols["flag"][rows], weight=cols["w"][rows])
        assert _same(h, expected)
        with monkeypatch.context() as m:
            _chunked(m)
            assert _same(h, it.hist(axes, **kwargs))


def test_gzip_rows_of_every_item_size(tmp_path):
    path = str(tmp_path / "sizes.h5")
    values = {
        "u1": np.arange(100, dtype=np.uint8),
        "i2": np.arange(-50, 50, dtype=np.int16),
        "f4": np.linspace(-1, 1, 100, dtype=np.float32),
        "f8": np.linspace(-1, 1, 100),
        "big": np.arange(100, dtype=">i4"),
    }
    with h5py.File(path, "w") as f:
        for name, data in values.items():
            f.create_dataset(name, data=data, chunks=(16,), compression="gzip", shuffle=True)
        f.create_dataset("zstd", data=values["f4"], chunks=(16,), **hdf5plugin.Zstd())
    with h5py.File(path, "r") as f:
        assert direct_rows(f["zstd"].id) is None
        for name, data in values.items():
            reader = direct_rows(f[name].id)
            assert reader.shuffled and reader.chunk == 16 and reader.n_rows == 100
            got = reader.read(7, 93, np.empty(90, data.dtype))
            assert got.dtype == data.dtype and got.tolist() == data[7:93].tolist()
            # windows that cut chunks, read in turn: the same rows
            pieces = [
                reader.read(a, min(a + 5, 100), np.empty(5, data.dtype)) for a in range(0, 100, 5)
            ]
            assert np.concatenate(pieces).tolist() == data.tolist()


def test_gzip_chunks_come_from_hdf5_not_the_file_descriptor(files, monkeypatch):
    """Compressed chunks are read by HDF5 (``read_direct_chunk``), never at byte offsets
    found by hand."""
    reads: list[int] = []

    def counted(real):
        def read(*args):
            # the attribute checks read the global heap (lh5/globalheap.py): not chunk data
            if not sys._getframe(1).f_code.co_filename.endswith("globalheap.py"):
                reads.append(1)
            return real(*args)

        return read

    for name in ("pread", "preadv", "read", "readv"):
        monkeypatch.setattr(os, name, counted(getattr(os, name)))
    served = _served_directly(monkeypatch)
    it = LH5Iterator(files["gzip"], GROUPS)
    h = it.hist(hist.axis.Regular(10, -4, 4, name="e"), weights="w", progress=False)
    assert served == [True] and not reads
    w = np.concatenate([t["w"] for t in files["tables"]])
    assert h.sum(flow=True) == pytest.approx(w.sum())


def test_chunks_stored_without_a_filter_take_the_chunked_route(tmp_path, monkeypatch):
    """HDF5 records, per chunk, filters that were skipped; such chunks are HDF5's to read."""
    path = str(tmp_path / "masked.lh5")
    values = np.linspace(-3, 3, 64, dtype=np.float32)
    lh5.write(Table({"e": values}), "t", path, compression={"compression": "gzip"})
    with h5py.File(path, "r+") as f:
        ds = f["t/e"]
        assert ds.chunks == (2048,)  # one chunk: store it raw, marked "deflate not applied"
        raw = np.zeros(2048, np.float32)
        raw[:64] = values[::-1]
        ds.id.write_direct_chunk((0,), raw.tobytes(), filter_mask=0b1)
        assert direct_rows(ds.id) is None
    served = _served_directly(monkeypatch)
    h = LH5Iterator(path, "t").hist(hist.axis.Regular(64, -3, 3, name="e"), progress=False)
    assert served == [False] and h.sum(flow=True) == 64


def test_general_path_only_takes_the_chunked_route(files, monkeypatch):
    served = _served_directly(monkeypatch)
    axis = hist.axis.Regular(30, -4, 4, name="e")
    it = LH5Iterator(files["gzip"], GROUPS)
    with general_path_only():
        general = it.hist(axis, weights="w", progress=False)
    assert served == []
    assert _same(general, it.hist(axis, weights="w", progress=False)) and served == [True]


def test_mixed_plain_and_gzip_columns_are_read_together(files, tmp_path, monkeypatch):
    mixed = str(tmp_path / "mixed.lh5")
    with h5py.File(files["gzip"], "r", locking=False) as src, h5py.File(mixed, "w") as dst:

        def copy(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Group):
                dst.require_group(name).attrs.update(obj.attrs)
            elif name.endswith("/w"):  # the weights uncompressed
                dst.create_dataset(name, data=obj[()], maxshape=(None,)).attrs.update(obj.attrs)
            else:
                src.copy(obj, dst, name)

        src.visititems(copy)
    axis = hist.axis.Regular(10, -4, 4, name="e")
    it = LH5Iterator(mixed, GROUPS, i_start=1_000)
    with monkeypatch.context() as m:
        served = _served_directly(m)
        h = it.hist(axis, weights="w", progress=False)
    assert served == [True]
    _chunked(monkeypatch)
    assert _same(h, it.hist(axis, weights="w", progress=False))


def test_a_chunk_that_does_not_inflate_is_reported_naming_file_and_dataset(files, tmp_path):
    damaged = str(tmp_path / "damaged.lh5")
    shutil.copy(files["gzip"], damaged)
    with h5py.File(damaged, "r", locking=False) as f:
        infos = []
        f["ch2/hit/e"].id.chunk_iter(infos.append)
    with open(damaged, "r+b") as f:
        f.seek(infos[0].byte_offset + 2)  # past the zlib header: the deflate stream
        f.write(b"\xff" * 64)
    with h5py.File(damaged, "r", locking=False) as f:
        with pytest.raises(LH5DecodeError, match="chunk 0") as err:
            direct_rows(f["ch2/hit/e"].id).read(0, 10, np.empty(10, np.float32))
        assert err.value.file == damaged and err.value.obj == "/ch2/hit/e"
    it = LH5Iterator(damaged, GROUPS)
    with pytest.raises(TierflowError, match="ch2/hit"):
        it.hist(hist.axis.Regular(10, -4, 4, name="e"), progress=False)


def test_real_gzip_dsp_file_inflates_directly(monkeypatch):
    """A LEGEND dsp file whose columns are shuffle + gzip with chunks that h5py guessed, of
    different sizes per column (1199 and 2397 rows): inflated directly, equal to the chunked
    route, from an entry that starts inside a chunk."""
    path = next(iter(sorted((LH5_DATA / "dsp" / "cal" / "p03" / "r000").glob("*.lh5"))), None)
    if path is None:
        pytest.skip("no gzip dsp file in the test data")
    it = LH5Iterator(str(path), "ch1104000/dsp", buffer_len=5_000, i_start=777)
    axes = [
        hist.axis.Regular(200, 0, 40_000, name="trapEmax"),
        hist.axis.Regular(50, 0, 2_000, name="A_max"),
    ]
    with monkeypatch.context() as m:
        served = _served_directly(m)
        decoded = []
        read = DeflatedRows.read
        m.setattr(DeflatedRows, "read", lambda *a: decoded.append(1) or read(*a))
        h = it.hist(axes, weights="baseline", progress=False)
    assert served == [True] and decoded
    _chunked(monkeypatch)
    assert _same(h, it.hist(axes, weights="baseline", progress=False))
    assert h.sum(flow=True) > 0
