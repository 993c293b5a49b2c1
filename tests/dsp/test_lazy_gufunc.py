"""Processors compile one loop at a time, on first use, and choose loops as numpy does."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tierflow.dsp.processors._gufunc import gufunc

LOOPS = [
    "void(float32[:], int32, float32[:])",
    "void(float64[:], int32, float64[:])",
]


def make_shift():
    @gufunc(LOOPS, "(n),()->(n)", cache=False)
    def shift(x, k, out):  # pragma: no cover - compiled
        for i in range(x.shape[0]):
            out[i] = x[i] + k

    return shift


def test_types_and_shape_are_known_before_anything_compiles():
    shift = make_shift()
    assert shift.types == ["fi->f", "di->d"]
    assert (shift.nin, shift.nout, shift.signature) == (2, 1, "(n),()->(n)")
    assert shift.compiled_loops == []
    assert shift.__name__ == "shift"


@pytest.mark.parametrize(
    ("values", "loop", "dtype"),
    [
        (np.arange(3, dtype=np.float32), "fi->f", np.float32),
        (np.arange(3, dtype=np.uint16), "fi->f", np.float32),  # uint16 fits float32 safely
        (np.arange(3, dtype=np.int32), "di->d", np.float64),  # int32 does not
        (np.arange(3.0), "di->d", np.float64),
        ([0.0, 1.0, 2.0], "di->d", np.float64),
    ],
)
def test_a_call_compiles_only_the_loop_numpy_would_choose(values, loop, dtype):
    shift = make_shift()
    out = shift(values, 2)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, [2, 3, 4])
    assert shift.compiled_loops == [loop]


def test_an_explicit_loop_and_in_place_outputs():
    shift = make_shift()
    out = np.zeros(3, dtype=np.float64)
    shift(np.arange(3, dtype=np.float32), 1, out, signature=("d", "i", "d"))
    np.testing.assert_array_equal(out, [1, 2, 3])
    assert shift.compiled_loops == ["di->d"]
    assert shift.loop("di->d") is shift.loop(("d", "i", "d"))  # compiled once, then reused


def test_inputs_no_loop_takes_are_a_clear_error():
    shift = make_shift()
    with pytest.raises(TypeError, match=r"shift: no loop takes inputs \(complex128, int\)"):
        shift(np.ones(3, dtype=complex), 1)
    with pytest.raises(TypeError, match="no loop 'ffi'"):
        shift.loop("ffi")


def test_a_chain_compiles_only_the_loops_it_runs():
    """In a fresh process, a float32 chain compiles the float32 loops of the processors it calls
    and nothing of the others in the same modules."""
    code = textwrap.dedent(
        """
        import numpy as np
        from tierflow.dsp import ProcessingChain, processors
        from tierflow.types import Table, WaveformTable

        wf = np.full((4, 2000), 1000, dtype=np.uint16)
        wf[:, 1000:] += 50
        waveform = WaveformTable(values=wf, dt=10.0, dt_units="ns", t0_units="ns")
        chain = ProcessingChain()
        chain.add("fit_baseline", {"i_end": 800})
        chain.add("bl_subtract")
        chain.add("trap_filter", {"rise": "2*us", "flat": "1*us"})
        chain.add("trap_max")
        out = chain.process(Table({"waveform": waveform}))
        print(np.asarray(out["trap_max"].nda).tolist())
        for name in ("trap_norm", "trap_filter", "bl_subtract", "linear_slope_diff"):
            print(name, processors.get(name).compiled_loops)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == str([50.0] * 4)  # the normalised trapezoid of a step of 50
    loops = dict(line.split(" ", 1) for line in lines[1:])
    assert loops["trap_norm"] == "['fii->f']"  # uint16 waveforms run in float32
    assert loops["bl_subtract"] == "['ff->f']"
    assert loops["trap_filter"] == "[]"  # same module as trap_norm, never called
    assert loops["linear_slope_diff"] == "[]"
