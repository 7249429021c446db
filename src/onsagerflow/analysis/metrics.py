"""Error statistics of rollouts against held-out truth."""

from __future__ import annotations

import numpy as np


def relative_error(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """‖x̂(t) − x(t)‖ / ‖x(t)‖ per trajectory and time, (traj, time); inf where x̂ is NaN."""
    err = np.linalg.norm(pred - truth, axis=-1) / np.maximum(np.linalg.norm(truth, axis=-1), 1e-300)
    return np.where(np.isfinite(err), err, np.inf)


def error_curve(err: np.ndarray, t: np.ndarray, every: int = 1) -> dict:
    """Mean, median and 10/90% quantiles over trajectories, on every ``every``-th time."""
    e = err[:, ::every]
    with np.errstate(invalid="ignore"):
        return {"time": t[::every].tolist(), "mean": np.mean(e, axis=0).tolist(),
                "median": np.median(e, axis=0).tolist(),
                "q10": np.quantile(e, 0.1, axis=0).tolist(),
                "q90": np.quantile(e, 0.9, axis=0).tolist()}


def time_to_threshold(err: np.ndarray, t: np.ndarray, threshold: float = 0.1) -> dict:
    """First time each trajectory's relative error exceeds ``threshold``.

    Trajectories that never exceed it are censored at the last time and counted.
    """
    above = err > threshold
    first = np.where(above.any(axis=1), t[np.argmax(above, axis=1)], t[-1])
    return {"threshold": threshold, "median": float(np.median(first)), "mean": float(np.mean(first)),
            "censored": int((~above.any(axis=1)).sum()), "per_trajectory": first.tolist()}


def error_at(err: np.ndarray, t: np.ndarray, times) -> dict:
    """Median, mean and 90% quantile of the relative error at given times."""
    out = {}
    for s in times:
        if s > t[-1] + 1e-12:
            continue
        k = int(np.argmin(np.abs(t - s)))
        out[f"{t[k]:g}"] = {"median": float(np.median(err[:, k])), "mean": float(np.mean(err[:, k])),
                            "q90": float(np.quantile(err[:, k], 0.9))}
    return out


def long_time_statistics(xs: np.ndarray, t: np.ndarray, t_discard: float) -> dict:
    """Per-component mean and std over all trajectories after ``t_discard`` (finite ones)."""
    keep = t >= t_discard
    good = np.isfinite(xs).all(axis=(1, 2))
    if not good.any() or not keep.any():
        return {"mean": None, "std": None, "n": 0}
    x = xs[good][:, keep].reshape(-1, xs.shape[-1])
    return {"mean": x.mean(axis=0).tolist(), "std": x.std(axis=0).tolist(), "n": int(good.sum())}
