"""Chains: the 2018 programmatic interface, compiled-chain reuse, blocks, failed rows."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from tierflow.dsp import ProcessingChain, cache_info, compile_chain, load_config, process
from tierflow.errors import DSPConfigError
from tierflow.types import Array, Table, WaveformTable


def step_table(amplitudes, baseline=1000.0, n=2000, at=1000, dt=10.0, noise=0.0, seed=1) -> Table:
    """Steps of the given amplitudes on a flat baseline (no decay: pole-zero is a no-op)."""
    rng = np.random.default_rng(seed)
    wf = np.full((len(amplitudes), n), baseline, "float64")
    for i, a in enumerate(amplitudes):
        wf[i, at:] += a
    wf += rng.normal(0, noise, wf.shape) if noise else 0
    return Table(
        {"waveform": WaveformTable(values=wf.astype("uint16"), dt=dt, dt_units="ns", t0_units="ns")}
    )


# --- the 2018 interface --------------------------------------------------------------------
def test_programmatic_chain_gives_the_known_trapezoid_height():
    chain = ProcessingChain()
    chain.add("fit_baseline", {"i_end": 800})
    chain.add("bl_subtract")
    chain.add("trap_filter", {"rise": "2*us", "flat": "1*us"})
    chain.add("trap_max")
    out = chain.process(step_table([100, 2000, 5000]))
    # a normalised trapezoid of a clean step reaches the step height on its flat top
    assert out["trap_max"].nda == pytest.approx([100, 2000, 5000], rel=1e-5)
    assert out["bl_mean"].nda == pytest.approx([1000, 1000, 1000])
    assert out["trap_max"].attrs["units"] == "ADC"
    assert chain.outputs == ["bl_mean", "bl_std", "bl_slope", "bl_intercept", "trap_max"]


def test_programmatic_chain_with_pole_zero_and_noise():
    tau = 50.0  # us; waveforms decay, the pole-zero correction makes them flat again
    n, at, dt = 4000, 1000, 16.0
    t = (np.arange(n) - at) * dt / 1000.0
    amplitudes = np.array([300.0, 3000.0])
    wf = 2000.0 + np.where(t >= 0, 1.0, 0.0) * amplitudes[:, None] * np.exp(
        -np.clip(t, 0, None) / tau
    )
    tb = Table({"waveform": WaveformTable(values=wf.astype("float32"), dt=dt, dt_units="ns")})
    chain = (
        ProcessingChain()
        .add("fit_baseline", {"i_end": 900})
        .add("bl_subtract")
        .add("pole_zero", {"tau": f"{tau}*us"})
        .add("trap_filter", {"rise": "4*us", "flat": "1*us"})
        .add("trap_max")
    )
    assert chain.process(tb)["trap_max"].nda == pytest.approx(amplitudes, rel=2e-3)


def test_programmatic_chain_checks_step_and_argument_names():
    with pytest.raises(
        DSPConfigError, match=r"unknown argument 'i_ned' \(did you mean 'i_end'\?\)"
    ):
        ProcessingChain().add("fit_baseline", {"i_ned": 800})
    with pytest.raises(
        DSPConfigError, match=r"unknown step 'fit_basline'.*did you mean 'fit_baseline'"
    ):
        ProcessingChain().add("fit_basline")
    with pytest.raises(DSPConfigError, match="already in the chain"):
        ProcessingChain().add("bl_subtract").add("bl_subtract")


def test_programmatic_chain_takes_config_entries_and_round_trips():
    chain = ProcessingChain().add(
        "wf_blsub", "bl_subtract(waveform, baseline, wf_blsub)", output=False
    )
    chain.add("height", {"function": "wf_blsub[1999]", "unit": "ADC"})
    tb = step_table([100, 200])
    tb.add_field("baseline", Array(tb["waveform"]["values"].view_as("np")[:, 0].copy()))
    assert chain.process(tb)["height"].nda.tolist() == [100.0, 200.0]
    again = ProcessingChain(chain.config)
    assert again.config == chain.config
    assert load_config(chain.config).outputs == ("height",)


# --- compile once ---------------------------------------------------------------------------
def test_a_chain_is_compiled_once_and_shared_by_channels():
    cfg = {
        "outputs": ["bl", "scaled"],
        "processors": {
            "bl": "waveform[0]",
            "scaled": {"function": "bl * db.gain", "defaults": {"db.gain": 2}},
        },
    }
    channels = {name: step_table([10 * i, 20 * i]) for i, name in enumerate(["ch1", "ch2", "ch3"])}
    before = cache_info()
    chains = {
        name: compile_chain(cfg, tb, database={"gain": 3}, channel=name)
        for name, tb in channels.items()
    }
    after = cache_info()
    assert len({id(c) for c in chains.values()}) == 1
    assert after["misses"] - before["misses"] <= 1 and after["hits"] - before["hits"] >= 2
    # the shared plan holds no data of a channel: each run gives that channel's values
    assert chains["ch2"].run(channels["ch2"]).table["scaled"].nda.tolist() == [3000, 3000]
    # another database value or another waveform length is another chain
    assert compile_chain(cfg, channels["ch1"], database={"gain": 4}) is not chains["ch1"]
    assert compile_chain(cfg, step_table([1], n=500), database={"gain": 3}) is not chains["ch1"]


def test_results_do_not_depend_on_the_block_width():
    cfg = {
        "outputs": ["lo", "bl", "diff"],
        "processors": {"lo": "waveform[0:10]", "bl": "waveform[5]", "diff": "waveform[-1] - bl"},
    }
    tb = step_table(list(range(37)), noise=3.0)
    chain = compile_chain({"outputs": ["bl", "diff"], "processors": cfg["processors"]}, tb)
    ref = chain.run(tb, block_width=37).table
    for width in (1, 4, 16):
        out = chain.run(tb, block_width=width).table
        assert out["diff"].nda.tolist() == ref["diff"].nda.tolist()
    part = chain.run(tb, start=5, n_rows=20, block_width=16).table
    assert part["diff"].nda.tolist() == ref["diff"].nda[5:25].tolist()


def test_waveform_outputs_keep_their_grid():
    tb = step_table([100, 200])
    tb["waveform"]["t0"].nda[:] = [0, 50]
    out = process(
        tb,
        {
            "outputs": ["win"],
            "processors": {"win": {"function": "waveform[100:200:2]", "unit": "ADC"}},
        },
    )
    win = out["win"]
    assert win["values"].nda.shape == (2, 50)
    assert win["dt"].nda.tolist() == [20.0, 20.0]
    assert win["t0"].nda.tolist() == [1000.0, 1050.0]  # 100 samples of 10 ns after t0
    assert win["values"].attrs.get("units") == "ADC"


# --- failed rows ----------------------------------------------------------------------------
@pytest.fixture
def flaky_module(tmp_path, monkeypatch):
    (tmp_path / "flaky_processors.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def first_sample(w, out):
                if np.any(w[:, 0] > 60000):
                    raise ValueError("saturated waveform")
                out[:] = w[:, 0]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    # a config alone may not name a module: the user trusts this one
    monkeypatch.setenv("TIERFLOW_DSP_MODULES", "flaky_processors")
    return "flaky_processors"


def test_a_waveform_that_makes_a_processor_fail_gives_nan_and_is_counted(flaky_module):
    tb = step_table([10, 20, 30, 40, 50, 60])
    values = tb["waveform"]["values"].nda
    values[[1, 4], 0] = 65000
    cfg = {
        "outputs": ["first", "other"],
        "processors": {
            "first": {
                "function": "first_sample",
                "module": flaky_module,
                "args": ["waveform", "first"],
                "signature": "(n)->()",
                "types": ["f->f"],
            },
            "other": "waveform[1999] * 1.0",
        },
    }
    chain = compile_chain(cfg, tb)
    result = chain.run(tb, block_width=4)
    assert result.failed == 2 and result.failed_rows == [1, 4]
    first = result.table["first"].nda
    assert np.isnan(first[[1, 4]]).all()
    assert first[[0, 2, 3, 5]].tolist() == [1000.0] * 4
    # every output of a failed row is NaN; the other rows are untouched
    other = result.table["other"].nda
    assert np.isnan(other[[1, 4]]).all() and other[0] == 1010.0
    assert "saturated waveform" in result.first_error and "'first'" in result.first_error
