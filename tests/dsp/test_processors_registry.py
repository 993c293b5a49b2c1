"""The processor library: found by name, gufunc-shaped, documented, precisions, wrappers."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest

from tierflow.dsp import processors as P
from tierflow.dsp.processors._common import Processor, mode_char


@pytest.mark.parametrize("name", P.names())
def test_every_name_resolves_to_a_documented_processor(name):
    proc = P.get(name)
    assert getattr(P, name) is proc  # the processor, never the module of the same name
    module = importlib.import_module(f"tierflow.dsp.processors.{P.PROCESSOR_MODULES[name]}")
    assert getattr(module, name) is proc
    assert proc.__name__ == name
    doc = inspect.getdoc(proc) or ""
    assert ">>>" in doc, f"{name} has no example"
    assert "Signature" in doc or isinstance(proc, np.ufunc) or name == "where"


@pytest.mark.parametrize("name", P.names())
def test_every_processor_has_float32_and_float64_loops(name):
    proc = P.get(name)
    types = [t.replace("->", "") for t in proc.types]
    assert any(set(t) <= set("fbil?BI") and "f" in t for t in types), types
    assert any(set(t) <= set("dbil?BI") and "d" in t for t in types), types
    if not isinstance(proc, np.ufunc):  # numpy ufuncs (rounding, where) carry no core signature
        assert proc.signature
        n_in, n_out = proc.nin, proc.nout
        assert all(len(t) == n_in + n_out for t in types)


def test_no_processor_module_is_named_like_a_processor():
    assert not set(P.PROCESSOR_MODULES.values()) & set(P.PROCESSOR_MODULES)


def test_unknown_name():
    with pytest.raises(P.UnknownProcessorError, match="unknown processor 'trap_nrom'") as err:
        P.get("trap_nrom")
    assert isinstance(err.value, KeyError)
    with pytest.raises(AttributeError):
        P.no_such_processor  # noqa: B018


def test_signatures_follow_the_dspeed_argument_order():
    assert P.trap_norm.signature == "(n),(),()->(n)"
    assert P.linear_slope_fit.signature == "(n)->(),(),(),()"
    assert P.time_point_thresh.signature == "(n),(),(),()->()"
    assert P.windower.signature == "(n),()->(m)"
    assert P.presum.signature == "(n),()->(),(m)"
    assert P.fft_convolve_wf.signature == "(n),(m),()->(p)"
    assert P.cusp_filter.signature == "(),(),()->(n)"
    assert P.histogram_stats.signature == "(n),(m),(),(),(),()"  # outputs before the last input
    assert P.fixed_time_pickoff.types == ["ffb->f", "ddb->d"]
    assert P.trap_filter.types == ["fii->f", "dii->d"]


def test_in_place_processors_expose_their_ufunc():
    out = np.empty((2, 3), np.float32)
    P.windower.ufunc(np.arange(10, dtype=np.float32).reshape(2, 5), np.float32([1, 2]), out)
    np.testing.assert_array_equal(out, [[1, 2, 3], [7, 8, 9]])
    assert P.windower.ufunc.nin == 3 and P.windower.ufunc.nout == 0


def test_in_place_outputs_choose_the_loop():
    wf = np.arange(10.0, dtype=np.float32)
    out64 = np.empty(4)
    P.windower(wf, np.float32(2), out64)  # float32 input, float64 output: float64 loop
    np.testing.assert_array_equal(out64, [2, 3, 4, 5])
    out32 = np.empty(4, np.float32)
    P.windower(wf.astype(np.float64), 2.0, out32)  # the output is filled, not a copy of it
    np.testing.assert_array_equal(out32, [2, 3, 4, 5])
    with pytest.raises(TypeError, match="fit none"):
        P.windower(wf, 2.0, np.empty(4, np.int64))
    with pytest.raises(TypeError, match="numpy arrays"):
        P.windower(wf, 2.0, [0.0] * 4)
    with pytest.raises(TypeError, match="takes 2 inputs and 1 outputs"):
        P.windower(wf, 2.0)


def test_processor_wrapper_basics():
    def double(a: np.ndarray, out: np.ndarray) -> None:
        """Twice ``a``."""
        out[...] = 2 * a

    proc = Processor(double, "(n)->(n)", ["f->f", "d->d"], name="double")
    assert (proc.nin, proc.nout, proc.nargs, proc.ntypes) == (1, 1, 2, 2)
    assert proc.__doc__ == "Twice ``a``."
    assert not proc.is_factory
    np.testing.assert_array_equal(proc(np.ones(3), np.empty(3)), [2, 2, 2])
    assert "double" in repr(proc)


def test_mode_characters():
    assert mode_char("s") == mode_char(b"s") == mode_char(np.int8(ord("s"))) == ord("s")
    assert mode_char(np.full(4, ord("v"), np.int8)) == ord("v")
    with pytest.raises(ValueError, match="one character"):
        mode_char("sv")
    with pytest.raises(ValueError, match="same for every row"):
        mode_char(np.array([ord("s"), ord("v")]))


def test_kernel_processors_take_both_forms():
    assert not P.cusp_filter.is_factory  # a plain processor, also callable with init_args
    kernel = P.cusp_filter(20.0, 3.0, 100.0, np.empty(61))
    assert kernel.shape == (61,) and np.all(np.isfinite(kernel))
    conv = P.cusp_filter(61, 20.0, 3.0, 100.0)
    assert isinstance(conv, Processor) and conv.signature == "(n)->(m)"
    out = np.empty((1, 40))
    conv(np.ones((1, 100)), out)
    np.testing.assert_allclose(out, kernel.sum())
    with pytest.raises(ValueError, match="output must have"):
        conv(np.ones((1, 100)), np.empty((1, 39)))
