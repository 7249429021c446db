"""The sampling of a store's time axis: uniform, or bursts of snapshots separated by gaps.

Archives of expensive simulations often keep short bursts — a snapshot and its neighbour a small
step later (PRF21's RBC data: h(t), h(t + 0.001) at t = 0, 1, …, 99) — rather than a fine uniform
record. Training pairs then come from inside a burst (the fine step), and rollouts are judged on
the coarse grid of burst starts. A uniform axis is the special case of one burst holding every
sample. The grid is read off the time values alone, so no attribute can disagree with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError

RTOL = 1e-8  # relative tolerance when comparing steps
ATOL = 1e-12


class TimeGridError(UserError, ValueError):
    """A time axis that is neither uniform nor equal bursts of a uniform fine step."""


@dataclass(frozen=True)
class TimeGrid:
    """``step``: spacing of consecutive samples inside a burst; ``burst``: samples per burst;
    ``starts``: index of each burst's first sample (``[0]`` for a uniform axis)."""

    time: np.ndarray
    step: float
    burst: int
    starts: np.ndarray

    @property
    def uniform(self) -> bool:
        return self.starts.size == 1

    @property
    def coarse_time(self) -> np.ndarray:
        """The times of burst starts: the grid rollouts are compared on (every time if uniform)."""
        return self.time if self.uniform else self.time[self.starts]

    def pair_starts(self, lag: int) -> np.ndarray:
        """Indices i with i and i + lag in the same burst: where a pair (t, t + lag·step) may start."""
        if not 1 <= lag < self.burst:
            raise TimeGridError(
                f"a pair {lag} steps long does not fit in bursts of {self.burst} samples "
                f"(step {self.step:g}); choose pairs.tau ≤ {(self.burst - 1) * self.step:g}"
            )
        within = np.arange(self.burst - lag)
        return (self.starts[:, None] + within[None, :]).ravel()


def _close(a, b) -> np.ndarray:
    return np.isclose(a, b, rtol=RTOL, atol=ATOL)


def time_grid(time, where: str = "store") -> TimeGrid:
    """Classify a strictly increasing time axis; ``where`` names it in errors."""
    t = np.asarray(time, dtype=np.float64)
    if t.ndim != 1 or t.size < 2:
        raise TimeGridError(f"{where}: the time axis needs at least 2 samples, got {t.size}")
    dt = np.diff(t)
    if np.any(dt <= 0):
        raise TimeGridError(f"{where}: the time axis is not strictly increasing")
    step = float(dt.min())
    fine = _close(dt, step)
    if fine.all():
        return TimeGrid(t, step, t.size, np.array([0]))
    starts = np.concatenate([[0], np.flatnonzero(~fine) + 1])
    lengths = np.diff(np.concatenate([starts, [t.size]]))
    if np.any(lengths != lengths[0]) or lengths[0] < 2:
        raise TimeGridError(
            f"{where}: the time axis is neither uniform nor equal bursts of one step: burst lengths "
            f"{sorted(set(lengths.tolist()))} samples with step {step:g}; resample it onto a uniform grid"
        )
    return TimeGrid(t, step, int(lengths[0]), starts)
