"""Which columns an LH5Iterator reads and adds: field masks (nested too), buffer sizes given as
memory, friends (with prefix and suffix) and group data.

Files are written with fixed seeds into ``tmp_path``; every expected value is computed from
the arrays written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tierflow import lh5
from tierflow.errors import LH5Error
from tierflow.lh5 import LH5Iterator
from tierflow.types import Array, Table, VectorOfVectors

GROUPS = ["ch0/evt", "ch1/evt", "ch2/evt"]
SIZES = [9, 0, 6]


def vov(lengths: np.ndarray, values: np.ndarray) -> VectorOfVectors:
    return VectorOfVectors(
        flattened_data=Array(values),
        cumulative_length=Array(np.cumsum(lengths).astype(np.uint32)),
    )


@pytest.fixture
def nested(tmp_path: Path) -> dict:
    """One file; tables with a nested table ``geds`` (energy, t0), a vector column ``hits``,
    a 2-d column ``wf`` and flat ``flag``/``k``; group ``ch1`` is empty."""
    rng = np.random.default_rng(11)
    path = str(tmp_path / "evt.lh5")
    cols: dict[str, list] = {"energy": [], "t0": [], "flag": [], "k": [], "hits": [], "wf": []}
    total = 0
    for group, n in zip(GROUPS, SIZES, strict=True):
        energy = rng.normal(1000, 100, n)
        t0 = rng.integers(0, 1000, n).astype(np.int32)
        flag = rng.random(n) < 0.5
        k = np.arange(total, total + n)
        lengths = rng.integers(0, 4, n)
        values = rng.normal(size=int(lengths.sum())).astype(np.float32)
        wf = rng.integers(0, 2**16, (n, 5)).astype(np.uint16)
        table = Table(
            {
                "geds": Table({"energy": energy, "t0": t0}),
                "flag": flag,
                "k": k,
                "hits": vov(lengths, values),
                "wf": wf,
            }
        )
        lh5.write(table, group, path, wo_mode="a")
        total += n
        for name, value in zip(
            cols,
            (energy, t0, flag, k, np.split(values, np.cumsum(lengths)[:-1]) if n else [], wf),
            strict=True,
        ):
            cols[name].append(value) if name != "hits" else cols[name].extend(value)
    out = {k: np.concatenate(v) for k, v in cols.items() if k != "hits"}
    out["hits"] = cols["hits"]
    out["path"] = path
    return out


# --- field masks ------------------------------------------------------------------------------
def test_nested_field_mask_reads_only_that_field(nested):
    it = LH5Iterator(nested["path"], GROUPS, field_mask=["geds/energy"], buffer_len=4)
    energies = []
    for tb in it:
        assert list(tb) == ["geds"]
        assert list(tb["geds"]) == ["energy"]  # no zero-filled t0 next to it
        energies.append(tb["geds"]["energy"].nda.copy())
    np.testing.assert_array_equal(np.concatenate(energies), nested["energy"])
    df = it.query(None, library="pd")
    assert list(df.columns) == ["geds_energy"]
    np.testing.assert_array_equal(df["geds_energy"], nested["energy"])


def test_nested_and_flat_fields_together(nested):
    it = LH5Iterator(nested["path"], GROUPS, field_mask=["geds/t0", "k", "hits"], buffer_len=5)
    t0, k, hits = [], [], []
    for tb in it:
        assert sorted(tb) == ["geds", "hits", "k"]
        assert list(tb["geds"]) == ["t0"]
        t0.append(tb["geds"]["t0"].nda.copy())
        k.append(tb["k"].nda.copy())
        hits += [np.array(h) for h in tb["hits"]]
    np.testing.assert_array_equal(np.concatenate(t0), nested["t0"])
    np.testing.assert_array_equal(np.concatenate(k), nested["k"])
    assert len(hits) == len(nested["hits"])
    for got, want in zip(hits, nested["hits"], strict=True):
        np.testing.assert_array_equal(got, want)


def test_whole_nested_table_by_name(nested):
    it = LH5Iterator(nested["path"], GROUPS, field_mask=["geds"], buffer_len=100)
    (tb,) = list(it)
    assert list(tb) == ["geds"]
    assert sorted(tb["geds"]) == ["energy", "t0"]
    np.testing.assert_array_equal(tb["geds"]["t0"].nda, nested["t0"])


def test_field_mask_dict_false_reads_all_but(nested):
    it = LH5Iterator(nested["path"], GROUPS, field_mask={"geds": False}, buffer_len=4)
    chunks = list(tb for tb in it)
    assert all(sorted(tb) == ["flag", "hits", "k", "wf"] for tb in chunks)
    k = np.concatenate([tb["k"].nda for tb in LH5Iterator(nested["path"], GROUPS, buffer_len=99)])
    np.testing.assert_array_equal(k, nested["k"])
    wf = np.concatenate(
        [tb["wf"].nda.copy() for tb in LH5Iterator(nested["path"], GROUPS, field_mask={"k": False})]
    )
    np.testing.assert_array_equal(wf, nested["wf"])


def test_field_mask_dict_nested_false(nested):
    it = LH5Iterator(nested["path"], GROUPS, field_mask={"geds/t0": False}, buffer_len=50)
    (tb,) = list(it)
    assert sorted(tb) == ["flag", "geds", "hits", "k", "wf"]
    assert list(tb["geds"]) == ["energy"]
    np.testing.assert_array_equal(tb["geds"]["energy"].nda, nested["energy"])


def test_field_mask_dict_true_reads_only_those(nested):
    it = LH5Iterator(nested["path"], GROUPS, field_mask={"flag": True, "k": True}, buffer_len=50)
    (tb,) = list(it)
    assert sorted(tb) == ["flag", "k"]
    np.testing.assert_array_equal(tb["flag"].nda, nested["flag"])


def test_available_fields_lists_nested_ones(nested):
    it = LH5Iterator(nested["path"], GROUPS, field_mask=["k"])
    assert set(it.available_fields()) == {
        "geds",
        "geds/energy",
        "geds/t0",
        "flag",
        "k",
        "hits",
        "wf",
    }


# --- buffer_len as memory ------------------------------------------------------------------------
def test_buffer_len_from_memory_of_columns_read(nested):
    path = nested["path"]
    # k: int64 -> 8 bytes a row
    assert LH5Iterator(path, GROUPS, field_mask=["k"], buffer_len="1 kB").buffer_len == 125
    # geds/t0 int32 + wf 5 x uint16 -> 14 bytes a row
    it = LH5Iterator(path, GROUPS, field_mask=["geds/t0", "wf"], buffer_len="1 kB")
    assert it.bytes_per_row() == 14
    assert it.buffer_len == 1000 // 14
    assert LH5Iterator(path, GROUPS, field_mask=["k"], buffer_len="100 MB").buffer_len == 12_500_000
    assert LH5Iterator(path, GROUPS, field_mask=["k"], buffer_len="1 KiB").buffer_len == 128


def test_buffer_len_from_memory_with_vectors(nested):
    it = LH5Iterator(nested["path"], GROUPS, field_mask=["hits"], buffer_len="1 kB")
    # cumulative length (8 bytes) + mean length of the first table's vectors x float32
    mean = sum(len(h) for h in nested["hits"][: SIZES[0]]) / SIZES[0]
    assert it.bytes_per_row() == pytest.approx(8 + 4 * mean)
    assert it.buffer_len == int(1000 // (8 + 4 * mean))


def test_buffer_len_from_memory_counts_friends(tmp_path):
    hit, dsp = str(tmp_path / "hit.lh5"), str(tmp_path / "dsp.lh5")
    for g, n in (("ch0", 30), ("ch1", 12)):
        lh5.write(
            Table({"e": np.zeros(n), "t": np.zeros(n, "int32")}), f"{g}/hit", hit, wo_mode="a"
        )
        lh5.write(Table({"a": np.zeros(n), "b": np.zeros(n)}), f"{g}/dsp", dsp, wo_mode="a")
    groups_hit, groups_dsp = ["ch0/hit", "ch1/hit"], ["ch0/dsp", "ch1/dsp"]
    friend = LH5Iterator(dsp, groups_dsp)
    it = LH5Iterator(hit, groups_hit, field_mask=["e"], buffer_len="1 kB", friend=friend)
    assert it.bytes_per_row() == 8 + 16
    assert it.buffer_len == friend.buffer_len == 1000 // 24
    lengths = [len(tb) for tb in it]
    assert lengths == [41, 1]
    alone = LH5Iterator(hit, groups_hit, field_mask=["e"], buffer_len="1 kB")
    assert alone.buffer_len == 125


def test_buffer_len_bad_values(nested):
    with pytest.raises(ValueError, match="memory size"):
        LH5Iterator(nested["path"], GROUPS, buffer_len="lots")
    with pytest.raises(ValueError, match="at least 1"):
        LH5Iterator(nested["path"], GROUPS, buffer_len=0)


# --- friends ---------------------------------------------------------------------------------------
@pytest.fixture
def two_tiers(tmp_path: Path) -> dict:
    """A hit and a dsp tier with the same rows (a file of 2 groups, one empty, then another)."""
    rng = np.random.default_rng(5)
    sizes = [[7, 0], [4, 6]]
    out = {"hit": [], "dsp": [], "e": [], "a": [], "shared": [], "dsp_shared": []}
    for f, per_group in enumerate(sizes):
        hit, dsp = str(tmp_path / f"hit{f}.lh5"), str(tmp_path / f"dsp{f}.lh5")
        out["hit"].append(hit)
        out["dsp"].append(dsp)
        for g, n in enumerate(per_group):
            e, a = rng.normal(size=n), rng.normal(size=n)
            s1, s2 = rng.integers(0, 100, n), rng.integers(100, 200, n)
            lh5.write(Table({"e": e, "shared": s1}), f"ch{g}/hit", hit, wo_mode="a")
            lh5.write(Table({"a": a, "shared": s2}), f"ch{g}/dsp", dsp, wo_mode="a")
            for name, v in (("e", e), ("a", a), ("shared", s1), ("dsp_shared", s2)):
                out[name].append(v)
    for name in ("e", "a", "shared", "dsp_shared"):
        out[name] = np.concatenate(out[name])
    return out


@pytest.mark.parametrize("buffer_len", [1, 3, 100])
def test_friend_with_prefix_and_suffix(two_tiers, buffer_len):
    friend = LH5Iterator(two_tiers["dsp"], ["ch0/dsp", "ch1/dsp"])
    it = LH5Iterator(
        two_tiers["hit"],
        ["ch0/hit", "ch1/hit"],
        friend=friend,
        friend_prefix="dsp_",
        friend_suffix="_v",
        buffer_len=buffer_len,
    )
    df = pd.concat([tb.view_as("pd").copy() for tb in it], ignore_index=True)
    assert list(df.columns) == ["e", "shared", "dsp_a_v", "dsp_shared_v"]
    np.testing.assert_array_equal(df["e"], two_tiers["e"])
    np.testing.assert_array_equal(df["dsp_a_v"], two_tiers["a"])
    np.testing.assert_array_equal(df["shared"], two_tiers["shared"])
    np.testing.assert_array_equal(df["dsp_shared_v"], two_tiers["dsp_shared"])


def test_friend_name_conflict_keeps_own_column(two_tiers):
    friend = LH5Iterator(two_tiers["dsp"], ["ch0/dsp", "ch1/dsp"])
    it = LH5Iterator(two_tiers["hit"], ["ch0/hit", "ch1/hit"], friend=friend, buffer_len=4)
    df = pd.concat([tb.view_as("pd").copy() for tb in it], ignore_index=True)
    assert list(df.columns) == ["e", "shared", "a"]
    np.testing.assert_array_equal(df["shared"], two_tiers["shared"])
    np.testing.assert_array_equal(df["a"], two_tiers["a"])


def test_two_friends_and_entry_lists(two_tiers):
    rows = [0, 6, 7, 10, 16]
    dsp = LH5Iterator(two_tiers["dsp"], ["ch0/dsp", "ch1/dsp"], entry_list=rows)
    dsp2 = LH5Iterator(two_tiers["dsp"], ["ch0/dsp", "ch1/dsp"], entry_list=rows)
    it = LH5Iterator(
        two_tiers["hit"],
        ["ch0/hit", "ch1/hit"],
        entry_list=rows,
        friend=[dsp, dsp2],
        friend_prefix=["one_", "two_"],
        buffer_len=2,
    )
    df = pd.concat([tb.view_as("pd").copy() for tb in it], ignore_index=True)
    np.testing.assert_array_equal(df["e"], two_tiers["e"][rows])
    np.testing.assert_array_equal(df["one_a"], two_tiers["a"][rows])
    np.testing.assert_array_equal(df["two_a"], two_tiers["a"][rows])
    assert it.current_global_entries.tolist() == [16]


def test_friend_columns_in_query_and_random_read(two_tiers):
    friend = LH5Iterator(two_tiers["dsp"], ["ch0/dsp", "ch1/dsp"])
    it = LH5Iterator(
        two_tiers["hit"], ["ch0/hit", "ch1/hit"], friend=friend, friend_prefix="d_", buffer_len=3
    )
    df = it.query("d_a > e", fields=["e", "d_a"], library="pd")
    sel = two_tiers["a"] > two_tiers["e"]
    assert list(df.columns) == ["e", "d_a"]
    np.testing.assert_array_equal(df["d_a"], two_tiers["a"][sel])
    tb = it.read(5, 4)
    np.testing.assert_array_equal(tb["d_a"].nda, two_tiers["a"][5:9])


# --- group data ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["mapping", "dataframe"])
def test_group_data(two_tiers, kind):
    values = {"chanid": [1084803, 1121600], "detname": ["huey", "louie"], "mass": [1.5, 2.5]}
    group_data = values if kind == "mapping" else pd.DataFrame(values)
    it = LH5Iterator(two_tiers["hit"], ["ch0/hit", "ch1/hit"], group_data=group_data, buffer_len=4)
    frames, groups = [], []
    for tb in it:
        frames.append(tb.view_as("pd").copy())
        groups += it.current_groups.tolist()
    df = pd.concat(frames, ignore_index=True)
    assert list(df.columns) == ["e", "shared", "chanid", "detname", "mass"]
    index = [0 if g == "ch0/hit" else 1 for g in groups]
    assert df["chanid"].tolist() == [values["chanid"][i] for i in index]
    assert [str(d) for d in df["detname"]] == [values["detname"][i] for i in index]
    assert df["mass"].tolist() == [values["mass"][i] for i in index]
    np.testing.assert_array_equal(df["e"], two_tiers["e"])
    # usable in expressions like any column
    q = it.query("chanid == 1121600", fields=["e", "detname"], library="pd")
    assert len(q) == index.count(1) > 0
    assert set(map(str, q["detname"])) == {"louie"}


def test_group_data_per_file_set(two_tiers):
    # one list of groups per file set: group_data has one value per group of each set
    it = LH5Iterator(
        [two_tiers["hit"][0], two_tiers["hit"][1]],
        [["ch0/hit"], ["ch0/hit", "ch1/hit"]],
        group_data={"id": [[10], [20, 21]]},
        buffer_len=100,
    )
    (tb,) = list(it)
    assert tb["id"].nda.tolist() == [10] * 7 + [20] * 4 + [21] * 6


def test_group_data_of_wrong_length(two_tiers):
    with pytest.raises(LH5Error, match="one value per group"):
        LH5Iterator(two_tiers["hit"], ["ch0/hit", "ch1/hit"], group_data={"id": [1, 2, 3]})
