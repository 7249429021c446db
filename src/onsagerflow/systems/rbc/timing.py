"""Time in an RBC run: the store's time unit (diffusive or free-fall) and where samples fall
(uniformly, or in bursts of closely spaced samples for short-time pairs)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...config import ConfigError
from .linear import RA_C

TIME_UNITS = ("diffusive", "free_fall")  # d²/κ, or (d²/κ)/√(Ra Pr)


def time_unit(spec: Mapping[str, Any]) -> float:
    """The length of the store's time unit in d²/κ: 1, or the free-fall time 1/√(Ra Pr)."""
    p, unit = spec["parameters"], spec["simulation"]["time_unit"]
    if unit == "free_fall":
        return 1.0 / math.sqrt(p["r"] * RA_C * p["Pr"])
    return 1.0


def _whole_multiple(spec, key: str, value: float, step: float) -> int:
    n = int(round(value / step))
    if n < 1 or abs(n * step - value) > 1e-9 * value:
        raise ConfigError(
            f"systems.{spec['name']}.simulation.{key} ({value:g}) must be a whole multiple of simulation.dt ({step:g})"
        )
    return n


@dataclass(frozen=True)
class Sampling:
    """Where a run stores samples, in the config's time unit: every ``dt_sample`` (``every``
    solver steps) from t_burn, each start followed by burst − 1 samples ``burst_step`` apart
    (``fine_every`` steps of a fine solver of step burst_step/fine_every ≤ dt)."""

    time: np.ndarray
    n_save: int
    every: int
    burn: int
    burst: int
    burst_step: float
    fine_every: int


def sampling(spec: Mapping[str, Any]) -> Sampling:
    sim = spec["simulation"]
    every = _whole_multiple(spec, "dt_sample", sim["dt_sample"], sim["dt"])
    burn = int(round(sim["t_burn"] / sim["dt"]))
    n_save = int(round(sim["t_end"] / sim["dt_sample"])) + 1
    burst, step = int(sim["burst_size"]), sim["burst_step"]
    if burst > 1:
        if step is None or (burst - 1) * step >= sim["dt_sample"]:
            raise ConfigError(
                f"systems.{spec['name']}.simulation.burst_step: bursts of {burst} samples need a step "
                f"with (burst_size − 1)·burst_step < dt_sample ({sim['dt_sample']:g}), got {step}"
            )
        fine_every = max(1, math.ceil(step / sim["dt"] - 1e-9))
    else:
        step, fine_every = 0.0, 1
    starts = sim["t_burn"] + np.arange(n_save) * sim["dt_sample"]
    t = (starts[:, None] + step * np.arange(burst)[None, :]).ravel()
    return Sampling(t, n_save, every, burn, burst, float(step), fine_every)
