"""``build_hit`` on real LEGEND dsp files and generated ones: values, layout, atomic output."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from testdata import DSP_CAL, HIT_CAL
from tierflow import lh5
from tierflow.cli import main
from tierflow.errors import HitConfigError, LH5ObjectNotFoundError, LH5WriteError
from tierflow.hit import build_hit, plan_hit, unpack_bitmask
from tierflow.types import Array, Table, VectorOfVectors

#: the module (``tierflow.hit.build_hit`` the attribute is the function)
build_hit_module = importlib.import_module("tierflow.hit.build_hit")
CONFIGS = Path(build_hit_module.__file__).parent / "configs"
HPGE = CONFIGS / "hpge-hit.json"
#: the calibration of the real p03 r001 cal hit files, recovered from them
PARS = CONFIGS / "hpge-hit-pars-l200-p03-r001-cal.json"
CHANNELS = ["ch1084803", "ch1084804", "ch1121600"]


def write_dsp(path: Path, n_rows: dict[str, int], seed: int = 7) -> Path:
    """A small dsp file with tierflow's writer: float32 columns like LEGEND's."""
    rng = np.random.default_rng(seed)
    for ch, n in n_rows.items():
        tb = Table(
            {
                "trapEmax": Array(
                    rng.uniform(0, 20000, n).astype("float32"), attrs={"units": "ADC"}
                ),
                "A_max": Array(rng.uniform(1, 2000, n).astype("float32"), attrs={"units": "ADC"}),
                "tp_0_est": Array(
                    rng.uniform(40000, 50000, n).astype("float32"), attrs={"units": "ns"}
                ),
                "timestamp": Array(1.679e9 + np.arange(n, dtype=float), attrs={"units": "s"}),
                "n_sat": Array(rng.integers(0, 3, n).astype("uint16")),
            }
        )
        lh5.write(tb, f"{ch}/dsp", path, wo_mode="append")
    return path


SIMPLE = {
    "outputs": ["timestamp", "e_cal", "AoE", "flags"],
    "operations": {
        "e_cal": {
            "expression": "a + b*trapEmax",
            "parameters": {"a": 1.0, "b": 0.5},
            "units": "keV",
        },
        "AoE": "A_max / e_cal",
        "is_valid": "(e_cal > 100) & (tp_0_est > 45000)",
        "is_saturated": "n_sat > 0",
        "flags": {"bitmask": ["is_valid", "is_saturated"]},
    },
}


# --- real files -----------------------------------------------------------------------------------
@pytest.mark.parametrize("i", range(len(DSP_CAL)))
def test_reproduces_legend_calibrated_energies(tmp_path: Path, i: int) -> None:
    """The real hit files' energies are ``a + b*E*(1 + alpha*dt_eff)`` of their dsp columns."""
    out = build_hit(DSP_CAL[i], tmp_path / "hit.lh5", hit_config=HPGE, parameters=PARS)
    assert lh5.ls(out) == CHANNELS
    for ch in CHANNELS:
        ours = lh5.read(f"{ch}/hit", out)
        theirs = lh5.read(f"{ch}/hit", HIT_CAL[i])
        for col in ("cuspEmax_ctc_cal", "trapEmax_ctc_cal", "trapTmax_cal"):
            assert ours[col].nda.dtype == theirs[col].nda.dtype == np.float64
            np.testing.assert_allclose(ours[col].nda, theirs[col].nda, rtol=1e-12, err_msg=col)
        np.testing.assert_array_equal(ours["timestamp"].nda, theirs["timestamp"].nda)


def test_expressions_against_numpy_and_layout(tmp_path: Path) -> None:
    a, b, alpha = 0.1, 0.2, 1e-5
    cfg = {
        "outputs": ["timestamp", "cuspEmax_ctc_cal", "AoE", "is_valid_cal", "quality_flags"],
        "operations": {
            "cuspEmax_ctc": {"expression": "cuspEmax*(1+dt_eff*a)", "parameters": {"a": alpha}},
            "cuspEmax_ctc_cal": {
                "expression": "a + b*cuspEmax_ctc",
                "parameters": {"a": a, "b": b},
                "lgdo_attrs": {"units": "keV", "description": "calibrated cusp energy"},
            },
            "AoE": {"expression": "A_max / cuspEmax_ctc_cal"},
            "is_valid_cal": {"expression": "(cuspEmax_ctc_cal > 25) & (tp_0_est > 0)"},
            "is_saturated": {"expression": "t_sat_hi > 0"},
            "quality_flags": {"bitmask": ["is_valid_cal", "is_saturated"]},
        },
    }
    out = build_hit(DSP_CAL[0], tmp_path / "hit.lh5", hit_config=cfg, buffer_len=4)
    assert lh5.ls(out, "*/*") == [f"{ch}/hit" for ch in CHANNELS]
    for ch in CHANNELS:
        dsp = lh5.read(f"{ch}/dsp", DSP_CAL[0])
        hit = lh5.read(f"{ch}/hit", out)
        assert len(hit) == len(dsp) == lh5.read_n_rows(f"{ch}/dsp", DSP_CAL[0])
        assert sorted(hit) == sorted(cfg["outputs"])  # intermediates are not written
        e = dsp["cuspEmax"].nda.astype(np.float64)
        cal = a + b * (e * (1 + dsp["dt_eff"].nda.astype(np.float64) * alpha))
        np.testing.assert_allclose(hit["cuspEmax_ctc_cal"].nda, cal, rtol=1e-14)
        np.testing.assert_allclose(hit["AoE"].nda, dsp["A_max"].nda / cal, rtol=1e-14)
        valid = (cal > 25) & (dsp["tp_0_est"].nda > 0)
        np.testing.assert_array_equal(hit["is_valid_cal"].nda, valid)
        assert hit["cuspEmax_ctc_cal"].attrs["units"] == "keV"
        assert hit["timestamp"].attrs["units"] == "s"
        assert hit["is_valid_cal"].attrs["datatype"] == "array<1>{bool}"
        flags = unpack_bitmask(hit["quality_flags"])
        np.testing.assert_array_equal(flags["is_valid_cal"].nda, valid)
        np.testing.assert_array_equal(flags["is_saturated"].nda, dsp["t_sat_hi"].nda > 0)


def test_legend_reader_sees_the_same(tmp_path: Path) -> None:
    """LEGEND's own reader (the oracle) reads the hit file with the same values and attrs."""
    legend_lh5 = pytest.importorskip("lh5")
    out = build_hit(DSP_CAL[0], tmp_path / "hit.lh5", hit_config=HPGE, parameters=PARS)
    for ch in CHANNELS:
        ours = lh5.read(f"{ch}/hit", out)
        theirs = legend_lh5.read(f"{ch}/hit", out)
        assert sorted(theirs.keys()) == sorted(ours)
        for col in ours:
            np.testing.assert_array_equal(theirs[col].nda, ours[col].nda, err_msg=col)
        assert theirs["cuspEmax_ctc_cal"].attrs["units"] == "keV"
        bits = theirs["quality_flags"].attrs["bit_names"].split(",")
        assert bits == ["is_neg_energy", "is_saturated", "is_valid_t0"]
        for i, name in enumerate(bits):
            np.testing.assert_array_equal(
                (theirs["quality_flags"].nda >> i) & 1 == 1, ours[name].nda
            )


def test_reads_only_the_columns_needed() -> None:
    plans = plan_hit(DSP_CAL[0], HPGE, parameters=PARS)
    assert [p.table for p in plans] == [f"{ch}/dsp" for ch in CHANNELS]
    assert [p.output for p in plans] == [f"{ch}/hit" for ch in CHANNELS]
    assert plans[0].columns == (
        "A_max",
        "cuspEmax",
        "dt_eff",
        "t_sat_hi",
        "timestamp",
        "tp_0_est",
        "trapEmax",
        "trapTmax",
    )
    assert plans[1].config.operations["cuspEmax_ctc"].parameters == {"a": 1.369e-06}


def test_per_channel_configs_by_pattern(tmp_path: Path) -> None:
    out = build_hit(DSP_CAL[0], tmp_path / "hit.lh5", hit_config=CONFIGS / "by-channel.json")
    assert sorted(lh5.read("ch1121600/hit", out)) == ["timestamp", "trapEmax_cal"]
    assert "cuspEmax_ctc_cal" in lh5.read("ch1084804/hit", out)
    # patterns pick tables; the first match in order wins; unmatched tables are left out
    cfg = {"ch10848*": SIMPLE | {"outputs": ["e_cal"]}, "ch1084803": SIMPLE | {"outputs": ["AoE"]}}
    dsp = write_dsp(tmp_path / "d.lh5", {"ch1084803": 3, "ch1084804": 4, "ch1121600": 5})
    out = build_hit(dsp, tmp_path / "h2.lh5", hit_config=cfg)
    assert lh5.ls(out) == ["ch1084803", "ch1084804"]
    assert list(lh5.read("ch1084803/hit", out)) == ["AoE"]
    assert list(lh5.read("ch1084804/hit", out)) == ["e_cal"]
    with pytest.raises(HitConfigError, match=r"no config for table 'ch1121600/dsp'"):
        build_hit(dsp, tmp_path / "h3.lh5", hit_config=cfg, lh5_tables="ch*/dsp")


def test_parameters_per_channel(tmp_path: Path) -> None:
    dsp = write_dsp(tmp_path / "d.lh5", {"ch1084803": 5, "ch1084804": 5, "ch1121600": 5})
    pars = {
        "ch1084803": {"e_cal": {"parameters": {"b": 2.0}}},
        "ch1084804": {"pars": {"operations": {"e_cal": {"parameters": {"a": 0.0, "b": 3.0}}}}},
        "*": {"e_cal": {"parameters": {"b": 4.0}}},
    }
    path = tmp_path / "pars.json"
    path.write_text(json.dumps(pars))
    out = build_hit(dsp, tmp_path / "h.lh5", hit_config=SIMPLE, parameters=path)
    for ch, (a, b) in {"ch1084803": (1, 2), "ch1084804": (0, 3), "ch1121600": (1, 4)}.items():
        e = lh5.read(f"{ch}/dsp/trapEmax", dsp).nda.astype(float)
        np.testing.assert_allclose(lh5.read(f"{ch}/hit/e_cal", out).nda, a + b * e)
    with pytest.raises(HitConfigError, match="keyed by operation"):
        build_hit(dsp, tmp_path / "h.lh5", hit_config=SIMPLE, parameters=pars["ch1084803"])
    with pytest.raises(HitConfigError, match=r"^parameters\.ch1084803\.e_cl: "):
        build_hit(
            dsp, tmp_path / "x.lh5", hit_config=SIMPLE, parameters={"ch1084803": {"e_cl": {}}}
        )


def test_chunks_n_max_and_jagged_columns(tmp_path: Path) -> None:
    dsp = write_dsp(tmp_path / "d.lh5", {"ch0000001": 23, "ch0000002": 0})
    lh5.write(
        Table({"hits": VectorOfVectors([[float(i)] * (i % 3) for i in range(23)])}),
        "ch0000001/dsp",
        dsp,
        wo_mode="append_column",
    )
    cfg = SIMPLE | {"outputs": [*SIMPLE["outputs"], "n_hits"]}
    cfg = cfg | {"operations": {**SIMPLE["operations"], "n_hits": "ak.num(hits, axis=-1)"}}
    whole = build_hit(dsp, tmp_path / "a.lh5", hit_config=cfg, lh5_tables="ch0000001/dsp")
    chunked = build_hit(
        dsp, tmp_path / "b.lh5", hit_config=cfg, lh5_tables=["ch0000001/dsp"], buffer_len=4
    )
    assert lh5.read("ch0000001/hit", whole) == lh5.read("ch0000001/hit", chunked)
    assert lh5.read("ch0000001/hit/n_hits", whole).nda.tolist() == [i % 3 for i in range(23)]
    part = build_hit(dsp, tmp_path / "c.lh5", hit_config=SIMPLE, n_max=7, buffer_len=3)
    assert lh5.read_n_rows("ch0000001/hit", part) == 7
    assert lh5.read_n_rows("ch0000002/hit", part) == 0  # an empty table stays, empty
    assert lh5.read("ch0000001/hit", part) == lh5.read(
        "ch0000001/hit", whole, n_rows=7, field_mask=SIMPLE["outputs"]
    )


# --- bad input: errors before any work, no file after a failure ----------------------------------
@pytest.fixture
def no_reading(monkeypatch: pytest.MonkeyPatch):
    def fail(*args, **kwargs):
        raise AssertionError("data was read before the config was checked")

    monkeypatch.setattr(build_hit_module, "read", fail)


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        (
            {"outputs": ["e"], "operations": {"e": {"expresion": "2*trapEmax"}}},
            r"operations\.e\.expresion: unknown key 'expresion' \(did you mean 'expression'\?\)",
        ),
        (
            {"outputs": ["e"], "operations": {"e": "2*cuspEmx"}},
            r"operations\.e\.expression: column 'cuspEmx' is not in "
            r".*tier_dsp\.lh5:/ch1084803/dsp \(did you mean 'cuspEmax'\?\); its columns are \['A_max', ",
        ),
        (
            {"outputs": ["e", "timestmp"], "operations": {"e": "2*cuspEmax"}},
            r"outputs\[1\]: output 'timestmp' is neither an operation nor a column.*'timestamp'",
        ),
        (
            {"outputs": ["e"], "operations": {"e": "f + 1", "f": "e * 2"}},
            r"cycle: e -> f -> e",
        ),
        (
            {
                "ch1084803": {"outputs": ["e"], "operations": {"e": {"units": "keV"}}},
                "*": str(HPGE),
            },
            r"^ch1084803\.operations\.e: an operation has exactly one of",
        ),
    ],
)
def test_bad_config_rejected_before_any_work(tmp_path: Path, no_reading, config, pattern) -> None:
    with pytest.raises(HitConfigError, match=pattern):
        build_hit(DSP_CAL[0], tmp_path / "hit.lh5", hit_config=config)
    assert os.listdir(tmp_path) == []


def test_unknown_tables_and_modes(tmp_path: Path, no_reading) -> None:
    with pytest.raises(
        LH5ObjectNotFoundError, match=r"no table matches 'ch9\*/dsp'.*'ch1084803/dsp'"
    ):
        build_hit(DSP_CAL[0], tmp_path / "h.lh5", hit_config=HPGE, lh5_tables="ch9*/dsp")
    with pytest.raises(HitConfigError, match="unknown wo_mode"):
        build_hit(DSP_CAL[0], tmp_path / "h.lh5", hit_config=HPGE, wo_mode="x")
    assert os.listdir(tmp_path) == []


def test_empty_list_of_tables_is_a_config_error(tmp_path: Path) -> None:
    one_config = {"outputs": ["e"], "operations": {"e": "2*trapEmax"}}
    for config in (one_config, {"ch*": one_config}):
        with pytest.raises(HitConfigError, match="lh5_tables: an empty list names no table"):
            build_hit(DSP_CAL[0], tmp_path / "h.lh5", hit_config=config, lh5_tables=[])
    assert os.listdir(tmp_path) == []


def test_failure_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    dsp = write_dsp(tmp_path / "d.lh5", {"ch0000001": 6})
    # the second table's n_sat is float: the bitmask fails there, after the first was written
    tb = lh5.read("ch0000001/dsp", dsp)
    tb.add_field("n_sat", Array(np.zeros(6)))
    lh5.write(tb, "ch0000002/dsp", dsp)
    target = tmp_path / "out" / "h.lh5"
    target.parent.mkdir()
    packs_n_sat = {"outputs": ["flags"], "operations": {"flags": {"bitmask": ["n_sat"]}}}
    with pytest.raises(HitConfigError, match=r"flag 'n_sat' is float64.*ch0000002/dsp"):
        build_hit(dsp, target, hit_config=packs_n_sat)
    assert os.listdir(target.parent) == []
    # an existing output is replaced only on success
    build_hit(dsp, target, hit_config=SIMPLE | {"outputs": ["e_cal"]}, lh5_tables="ch0000001/dsp")
    before = target.read_bytes()
    with pytest.raises(HitConfigError):
        build_hit(dsp, target, hit_config=packs_n_sat)
    assert target.read_bytes() == before
    assert os.listdir(target.parent) == ["h.lh5"]


def test_write_safe_and_append(tmp_path: Path) -> None:
    dsp = write_dsp(tmp_path / "run-tier_dsp.lh5", {"ch0000001": 4})
    out = build_hit(dsp, hit_config=SIMPLE)
    assert out == str(tmp_path / "run-tier_hit.lh5")
    with pytest.raises(LH5WriteError, match="exists"):
        build_hit(dsp, hit_config=SIMPLE, wo_mode="w")
    build_hit(dsp, hit_config=SIMPLE, wo_mode="a")
    assert lh5.read_n_rows("ch0000001/hit", out) == 8
    build_hit(dsp, hit_config=SIMPLE)  # "of" starts over
    assert lh5.read_n_rows("ch0000001/hit", out) == 4


# --- command line --------------------------------------------------------------------------------
def test_cli_hit(tmp_path: Path, capsys) -> None:
    out = tmp_path / "hit.lh5"
    rc = main(
        ["hit", str(DSP_CAL[0]), "--config", str(HPGE), "--params", str(PARS), "--out", str(out)]
    )
    assert rc == 0
    assert str(out) in capsys.readouterr().out
    np.testing.assert_allclose(
        lh5.read("ch1084803/hit/cuspEmax_ctc_cal", out).nda,
        lh5.read("ch1084803/hit/cuspEmax_ctc_cal", HIT_CAL[0]).nda,
        rtol=1e-12,
    )
    # several files into a folder
    folder = tmp_path / "hits"
    assert (
        main(["hit", *map(str, DSP_CAL), "-c", str(HPGE), "-o", str(folder), "-t", "ch1084803/dsp"])
        == 0
    )
    assert sorted(os.listdir(folder)) == sorted(
        p.name.replace("tier_dsp", "tier_hit") for p in DSP_CAL
    )
    # a bad column: one clear line, exit 1, nothing written
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"outputs": ["e"], "operations": {"e": "2*cuspEmx"}}))
    assert main(["hit", str(DSP_CAL[0]), "-c", str(bad), "-o", str(tmp_path / "x.lh5")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tierflow hit: error: operations.e.expression: column 'cuspEmx'")
    assert not (tmp_path / "x.lh5").exists()


def test_nested_dsp_columns_are_named_with_double_underscores(tmp_path: Path) -> None:
    dsp = tmp_path / "d.lh5"
    tb = Table({"e": np.arange(4.0), "sub": Table({"x": np.arange(4.0) * 10, "y": np.ones(4)})})
    lh5.write(tb, "ch0000001/dsp", dsp)
    cfg = {"outputs": ["s", "sub__y"], "operations": {"s": "e + sub__x"}}
    assert plan_hit(dsp, cfg)[0].columns == ("e", "sub")
    out = build_hit(dsp, tmp_path / "h.lh5", hit_config=cfg)
    assert lh5.read("ch0000001/hit/s", out).nda.tolist() == [0.0, 11.0, 22.0, 33.0]
    assert lh5.read("ch0000001/hit/sub__y", out).nda.tolist() == [1.0] * 4
    with pytest.raises(HitConfigError, match=r"output 'sub' is neither.*'sub__x', 'sub__y'"):
        plan_hit(dsp, {"outputs": ["sub"]})
    assert sorted(os.listdir(tmp_path)) == ["d.lh5", "h.lh5"]  # no temporary left behind
