"""Uneven time steps onto a uniform or burst grid, by spline interpolation of a stated order,
with an estimate of the error the interpolation makes.

Solvers with adaptive steps (Dedalus's CFL control, any ``solve_ivp`` with dense output
off) write snapshots when a step first passes the next scheduled time, so consecutive
samples are unevenly spaced and no two runs share an axis. Training pairs need one step
(or bursts of one fine step: ``data.timegrid``), so such data are interpolated onto a
grid: a spline of odd degree k (1 linear, 3 cubic, 5 quintic) through every sample of the
run. The error is estimated as the largest difference between that spline and one of
degree k + 2 through the same samples, relative to the run's RMS: where the samples
resolve the motion both agree far below the data's size, and where they do not the
estimate is large and ingestion stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

ORDERS = (1, 3, 5)


def target_times(t: np.ndarray, resample: Mapping[str, Any]) -> np.ndarray:
    """The grid inside [t[0], t[-1]] that ``resample`` asks for, starting at t[0]: uniform
    steps ``dt``, or (with ``every``) bursts of ``burst`` samples ``dt`` apart, one burst
    starting every ``every``. Only whole bursts are kept."""
    t0, t1, dt = float(t[0]), float(t[-1]), float(resample["dt"])
    slack = 1e-9 * max(abs(t1), abs(dt))  # a grid point on the last sample stays in
    every = resample.get("every")  # optional: absent means a uniform grid
    if every is None:
        n = int(np.floor((t1 - t0 + slack) / dt)) + 1
        return t0 + dt * np.arange(n)
    width = (resample["burst"] - 1) * dt
    n = int(np.floor((t1 - t0 - width + slack) / every)) + 1
    if n < 1:
        return np.empty(0)
    return (t0 + every * np.arange(n)[:, None] + dt * np.arange(resample["burst"])[None, :]).ravel()


def interpolate(t: np.ndarray, y: np.ndarray, t_new: np.ndarray, order: int) -> tuple[np.ndarray, float]:
    """``y`` (time, ...) sampled at ``t``, evaluated at ``t_new`` by a spline of degree
    ``order``; and the estimated error, max |s_k − s_{k+2}| / RMS(y) (NaN where the run
    has too few samples for the degree k + 2 spline)."""
    from scipy.interpolate import make_interp_spline

    y64 = np.asarray(y, dtype=np.float64)
    t_new = np.clip(t_new, t[0], t[-1])  # round-off at the ends is not extrapolation
    out = make_interp_spline(t, y64, k=order, axis=0)(t_new)
    err = float("nan")
    if len(t) >= order + 3:
        finer = make_interp_spline(t, y64, k=order + 2, axis=0)(t_new)
        rms = float(np.sqrt(np.mean(y64**2)))
        err = float(np.max(np.abs(finer - out))) / rms if rms > 0 else 0.0
    return out.astype(y.dtype, copy=False), err
