"""Fixtures for the DSP processor tests: realistic germanium-detector pulses made with numpy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def _make_pulses(
    n_wf: int = 12,
    n: int = 1200,
    dtype: type = np.float64,
    *,
    baseline: float = 12000.0,
    noise: float = 3.0,
    tau: float = 800.0,
    seed: int = 7,
) -> np.ndarray:
    """Baseline + Gaussian noise + a smoothed step decaying as ``exp(-t / tau)`` (samples).

    Each row has its own start time (40-50 % of the trace) and amplitude (100-3000 ADC).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    t0 = rng.uniform(0.4 * n, 0.5 * n, n_wf)[:, None]
    amp = rng.uniform(100.0, 3000.0, n_wf)[:, None]
    edge = 1.0 / (1.0 + np.exp(-(t - t0) / 4.0))
    decay = np.exp(-np.clip(t - t0, 0, None) / tau)
    wf = baseline + rng.normal(0.0, noise, (n_wf, n)) + amp * edge * decay
    return wf.astype(dtype)


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def wf_dtype(request: pytest.FixtureRequest) -> type:
    """Each processor test runs in both precisions the processors are compiled for."""
    return request.param


@pytest.fixture
def make_pulses() -> Callable[..., np.ndarray]:
    """The pulse maker: ``make_pulses(n_wf, n, dtype, baseline=, noise=, tau=, seed=)``."""
    return _make_pulses
