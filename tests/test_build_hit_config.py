"""Hit configs in memory: checking, ordering, parameters, bitmasks (tierflow.hit.config)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from tierflow.errors import ExpressionError, HitConfigError
from tierflow.hit import HitConfig, bit_names_of, pack_bitmask, unpack_bitmask
from tierflow.hit.bitmask import bitmask_dtype
from tierflow.types import Array, Table, VectorOfVectors

RNG_SEED = 20230318


def dsp_table(n: int = 50, seed: int = RNG_SEED) -> Table:
    rng = np.random.default_rng(seed)
    return Table(
        {
            "trapEmax": Array(rng.uniform(-50, 20000, n).astype("float32"), attrs={"units": "ADC"}),
            "A_max": Array(rng.uniform(1, 2000, n).astype("float32"), attrs={"units": "ADC"}),
            "dt_eff": Array(rng.uniform(200, 1200, n).astype("float32"), attrs={"units": "ns"}),
            "tp_0_est": Array(rng.uniform(40000, 50000, n).astype("float32")),
            "timestamp": Array(1.679e9 + np.sort(rng.uniform(0, 60, n)), attrs={"units": "s"}),
            "n_sat": Array(rng.integers(0, 3, n).astype("uint16")),
        }
    )


BASE = {
    "outputs": ["timestamp", "e_cal", "AoE", "is_valid", "flags"],
    "operations": {
        # listed before what it uses: the order comes from the dependencies
        "AoE": {"expression": "A_max / e_cal", "description": "A over E"},
        "e_cal": {
            "expression": "a + b*e_ctc",
            "parameters": {"a": 0.5, "b": 0.25},
            "lgdo_attrs": {"units": "keV", "description": "calibrated energy"},
        },
        "e_ctc": {"expression": "trapEmax*(1+dt_eff*a)", "parameters": {"a": 1e-6}},
        "is_valid": "(e_cal > 25) & (tp_0_est > 45000)",
        "is_saturated": "n_sat > 0",
        "flags": {"bitmask": ["is_valid", "is_saturated"], "units": ""},
    },
}


# --- evaluation ---------------------------------------------------------------------------------
def test_apply_computes_expressions_in_float64_like_numpy() -> None:
    tb = dsp_table()
    hit = HitConfig.from_dict(BASE).apply(tb)
    e = tb["trapEmax"].nda.astype(np.float64)
    dt = tb["dt_eff"].nda.astype(np.float64)
    e_cal = 0.5 + 0.25 * (e * (1 + dt * 1e-6))
    np.testing.assert_allclose(hit["e_cal"].nda, e_cal, rtol=1e-15)
    assert hit["e_cal"].nda.dtype == np.float64
    np.testing.assert_allclose(
        hit["AoE"].nda, tb["A_max"].nda.astype(np.float64) / e_cal, rtol=1e-15
    )
    valid = (e_cal > 25) & (tb["tp_0_est"].nda > 45000)
    assert hit["is_valid"].nda.dtype == bool
    np.testing.assert_array_equal(hit["is_valid"].nda, valid)
    # outputs only, in the config's order; intermediates are not kept
    assert list(hit) == BASE["outputs"]
    assert hit["e_cal"].attrs["units"] == "keV"
    assert hit["e_cal"].attrs["description"] == "calibrated energy"
    # a column copied through keeps its values and attributes
    np.testing.assert_array_equal(hit["timestamp"].nda, tb["timestamp"].nda)
    assert hit["timestamp"].attrs["units"] == "s"


def test_order_and_needed_columns() -> None:
    cfg = HitConfig.from_dict(BASE)
    assert cfg.order.index("e_ctc") < cfg.order.index("e_cal") < cfg.order.index("AoE")
    assert cfg.order.index("is_valid") < cfg.order.index("flags")
    assert cfg.input_columns == {"timestamp", "trapEmax", "dt_eff", "A_max", "tp_0_est", "n_sat"}
    only_e = HitConfig.from_dict({**BASE, "outputs": ["e_cal"]})
    assert only_e.input_columns == {"trapEmax", "dt_eff"}
    assert only_e.steps == ("e_ctc", "e_cal")  # AoE, flags... are not computed


def test_own_name_means_the_dsp_column() -> None:
    cfg = HitConfig.from_dict(
        {
            "outputs": ["trapEmax", "twice"],
            "operations": {"trapEmax": "trapEmax * 2", "twice": "trapEmax"},
        }
    )
    tb = dsp_table(5)
    hit = cfg.apply(tb)
    np.testing.assert_allclose(hit["trapEmax"].nda, 2.0 * tb["trapEmax"].nda.astype(float))
    np.testing.assert_allclose(
        hit["twice"].nda, hit["trapEmax"].nda
    )  # the operation, not the column


def test_parameter_forms_dtype_and_constant_expressions() -> None:
    cfg = HitConfig.from_dict(
        {
            "outputs": ["legacy", "narrow", "const", "poly"],
            "operations": {
                "legacy": {"expression": "@a + @b * trapEmax", "parameters": {"a": "1.5", "b": 2}},
                "narrow": {"expression": "trapEmax / 2", "dtype": "float32"},
                "const": {"expression": "a", "parameters": {"a": 7}},
                "poly": {"expression": "np.polyval(c, trapEmax)", "parameters": {"c": [1, 0, 2]}},
            },
        }
    )
    tb = dsp_table(6)
    e = tb["trapEmax"].nda.astype(np.float64)
    hit = cfg.apply(tb)
    np.testing.assert_allclose(hit["legacy"].nda, 1.5 + 2 * e)
    assert hit["narrow"].nda.dtype == np.float32
    assert hit["const"].nda.tolist() == [7] * 6
    np.testing.assert_allclose(hit["poly"].nda, e**2 + 2)


def test_jagged_columns_go_through_awkward() -> None:
    tb = Table({"hits": VectorOfVectors([[1.0, 2.0], [], [3.0]]), "e": np.array([1.0, 2.0, 3.0])})
    cfg = HitConfig.from_dict(
        {
            "outputs": ["total", "big"],
            "operations": {
                "total": "ak.sum(hits, axis=-1) + e",
                "big": {"expression": "hits * k", "parameters": {"k": 10}},
            },
        }
    )
    hit = cfg.apply(tb)
    assert hit["total"].nda.tolist() == [4.0, 2.0, 6.0]
    assert hit["big"].view_as("ak").tolist() == [[10.0, 20.0], [], [30.0]]


# --- parameters (per-channel overrides) --------------------------------------------------------
def test_parameters_merge_over_the_config() -> None:
    cfg = HitConfig.from_dict(BASE)
    tb = dsp_table(8)
    pars = {"e_cal": {"parameters": {"b": 2.0}}, "e_ctc": {"parameters": {"a": 0.0}}}
    hit = cfg.apply(tb, pars)
    np.testing.assert_allclose(hit["e_cal"].nda, 0.5 + 2.0 * tb["trapEmax"].nda.astype(float))
    # the config itself is unchanged
    assert cfg.operations["e_cal"].parameters == {"a": 0.5, "b": 0.25}
    # a whole new expression from the parameters (a calibration's output), LEGEND's wrappers
    wrapped = {
        "pars": {"operations": {"e_cal": {"expression": "b*trapEmax", "parameters": {"b": 3}}}}
    }
    np.testing.assert_allclose(
        cfg.apply(tb, wrapped)["e_cal"].nda, 3 * tb["trapEmax"].nda.astype(float)
    )


def test_bad_parameters_are_named() -> None:
    cfg = HitConfig.from_dict(BASE)
    with pytest.raises(HitConfigError, match=r"parameters\.e_cl: .*'e_cal'"):
        cfg.with_parameters({"e_cl": {"parameters": {"a": 1}}})
    with pytest.raises(
        HitConfigError,
        match=r"parameters\.e_cal\.a: unknown key 'a' \(constants go under 'parameters'\)",
    ):
        cfg.with_parameters({"e_cal": {"a": 1.0, "b": 2.0}})
    with pytest.raises(
        HitConfigError, match=r"parameters\.e_cal\.parameters\.b: 'x' is not a number"
    ):
        cfg.with_parameters({"e_cal": {"parameters": {"b": "x"}}})


# --- bitmasks ------------------------------------------------------------------------------------
def test_bitmask_round_trip_with_bit_names() -> None:
    rng = np.random.default_rng(RNG_SEED)
    flags = {f"flag_{i}": rng.random(200) < 0.3 for i in range(11)}
    col = pack_bitmask(flags, attrs={"description": "d"})
    assert col.nda.dtype == np.uint16
    assert col.attrs["bit_names"] == ",".join(flags)
    assert bit_names_of(col) == list(flags)
    expected = sum(flags[f"flag_{i}"].astype(np.uint16) << i for i in range(11))
    np.testing.assert_array_equal(col.nda, expected)
    back = unpack_bitmask(col)
    assert list(back) == list(flags)
    for name, values in flags.items():
        np.testing.assert_array_equal(back[name].nda, values)
    # plain integers with names given
    assert unpack_bitmask(np.array([5]), "a,b,c").view_as("np")["c"].tolist() == [True]


def test_bitmask_dtypes_and_limits() -> None:
    assert [bitmask_dtype(n).name for n in (1, 8, 9, 16, 17, 32, 33, 64)] == [
        "uint8",
        "uint8",
        "uint16",
        "uint16",
        "uint32",
        "uint32",
        "uint64",
        "uint64",
    ]
    names = {f"f{i}": np.array([True]) for i in range(64)}
    assert pack_bitmask(names).nda[0] == np.iinfo(np.uint64).max
    with pytest.raises(HitConfigError, match="at most 64"):
        bitmask_dtype(65)
    with pytest.raises(HitConfigError, match="is float64"):
        pack_bitmask({"a": np.array([0.5])})
    with pytest.raises(HitConfigError, match="no 'bit_names'"):
        unpack_bitmask(Array(np.zeros(3, "uint8")))


def test_bitmask_operation() -> None:
    tb = dsp_table()
    hit = HitConfig.from_dict(BASE).apply(tb)
    flags = hit["flags"]
    assert flags.nda.dtype == np.uint8
    assert flags.attrs["bit_names"] == "is_valid,is_saturated"
    unpacked = unpack_bitmask(flags)
    np.testing.assert_array_equal(unpacked["is_valid"].nda, hit["is_valid"].nda)
    np.testing.assert_array_equal(unpacked["is_saturated"].nda, tb["n_sat"].nda > 0)
    # an integer dsp column packs as non-zero = set; a float one is refused at run time
    cfg = HitConfig.from_dict({"outputs": ["m"], "operations": {"m": {"bitmask": ["n_sat"]}}})
    np.testing.assert_array_equal(cfg.apply(tb)["m"].nda, (tb["n_sat"].nda > 0).astype("uint8"))
    bad = HitConfig.from_dict({"outputs": ["m"], "operations": {"m": {"bitmask": ["trapEmax"]}}})
    with pytest.raises(HitConfigError, match=r"operations\.m\.bitmask: flag 'trapEmax' is float32"):
        bad.apply(tb)


# --- rejected configs ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        (
            {"output": ["a"], "operations": {}},
            r"^output: unknown key 'output' \(did you mean 'outputs'\?\)",
        ),
        (
            {"outputs": ["a"], "operations": {"a": {"expresion": "x"}}},
            r"operations\.a\.expresion: unknown key 'expresion' \(did you mean 'expression'\?\)",
        ),
        (
            {"outputs": ["a"], "operations": {"a": {"parameters": {"k": 1}}}},
            r"operations\.a: an operation has exactly one of",
        ),
        (
            {"outputs": ["a"], "operations": {"a": "x +* 2"}},
            r"operations\.a\.expression: cannot parse",
        ),
        ({"outputs": ["a"], "operations": {"a": "sqrtt(x)"}}, r"unknown function\(s\) \['sqrtt'\]"),
        ({"outputs": ["a"], "operations": {"a": "@k * x"}}, r"'@k' names no parameter"),
        ({"outputs": ["a"], "operations": {"a": {"bitmask": "x"}}}, r"operations\.a\.bitmask: "),
        (
            {"outputs": ["a"], "operations": {"a": {"bitmask": ["x"], "dtype": "int8"}}},
            r"operations\.a\.dtype",
        ),
        (
            {"outputs": ["a"], "operations": {"a": {"expression": "x", "lgdo_attrs": {"u": [1]}}}},
            r"lgdo_attrs\.u",
        ),
        ({"outputs": ["a", "a"]}, r"outputs: column\(s\) \['a'\] listed twice"),
        ({"outputs": "a"}, r"outputs: 'outputs' is a non-empty list"),
    ],
)
def test_bad_configs_name_the_key(config: dict, pattern: str) -> None:
    with pytest.raises(HitConfigError, match=pattern):
        HitConfig.from_dict(config)


def test_cycles_are_rejected() -> None:
    cfg = {"outputs": ["c"], "operations": {"a": "b + 1", "b": "c * 2", "c": "a - x"}}
    with pytest.raises(HitConfigError, match=r"cycle: a -> b -> c -> a"):
        HitConfig.from_dict(cfg)
    # a cycle through operations no output needs is still an error
    with pytest.raises(HitConfigError, match="cycle"):
        HitConfig.from_dict({"outputs": ["x"], "operations": {"p": "q", "q": "p"}})


def test_unknown_columns_list_what_exists() -> None:
    cfg = HitConfig.from_dict({"outputs": ["e", "timestmp"], "operations": {"e": "trapEmx * 2"}})
    tb = dsp_table(3)
    with pytest.raises(HitConfigError) as err:
        cfg.apply(tb)
    text = str(err.value)
    assert text.startswith("outputs[1]: output 'timestmp' is neither an operation nor a column")
    assert "did you mean 'timestamp'" in text
    assert "'A_max', 'dt_eff', 'n_sat', 'timestamp', 'tp_0_est', 'trapEmax'" in text
    cfg = HitConfig.from_dict({"outputs": ["e", "timestamp"], "operations": {"e": "trapEmx * 2"}})
    with pytest.raises(
        HitConfigError,
        match=r"operations\.e\.expression: column 'trapEmx' is not in ch1/dsp \(did you mean 'trapEmax'\?\)",
    ):
        cfg.check_columns(list(tb), "ch1/dsp")


def test_runtime_expression_errors_name_the_operation() -> None:
    # (a function outside the allowed list, np.nosuch, is refused when the config is read)
    cfg = HitConfig.from_dict({"outputs": ["e"], "operations": {"e": "ak.sum(trapEmax, axis=5)"}})
    with pytest.raises(ExpressionError, match=r"^operations\.e: evaluating"):
        cfg.apply(dsp_table(3))


# --- files and plain data ------------------------------------------------------------------------
def test_from_file_json_yaml_and_to_dict(tmp_path) -> None:
    path = tmp_path / "hit.json"
    path.write_text(json.dumps(BASE))
    cfg = HitConfig.from_file(path)
    again = HitConfig.from_dict(cfg.to_dict())
    assert again.outputs == cfg.outputs and again.operations == cfg.operations
    yml = tmp_path / "hit.yaml"
    yml.write_text("outputs: [e]\noperations:\n  e:\n    expression: 2*trapEmax\n    units: keV\n")
    hit = HitConfig.load(yml).apply(dsp_table(2))
    assert hit["e"].attrs["units"] == "keV"
    with pytest.raises(HitConfigError, match="cannot read hit config file"):
        HitConfig.load(tmp_path / "missing.json")


def test_hit_config_error_pickles() -> None:
    err = HitConfigError("unknown key 'x'", key="operations.a")
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) == "operations.a: unknown key 'x'"
    assert back.key == "operations.a"
