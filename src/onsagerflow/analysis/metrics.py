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
        return {
            "time": t[::every].tolist(),
            "mean": np.mean(e, axis=0).tolist(),
            "median": np.median(e, axis=0).tolist(),
            "q10": np.quantile(e, 0.1, axis=0).tolist(),
            "q90": np.quantile(e, 0.9, axis=0).tolist(),
        }


def time_to_threshold(err: np.ndarray, t: np.ndarray, threshold: float = 0.1) -> dict:
    """First time each trajectory's relative error exceeds ``threshold``.

    Trajectories that never exceed it are censored at the last time and counted.
    """
    above = err > threshold
    first = np.where(above.any(axis=1), t[np.argmax(above, axis=1)], t[-1])
    return {
        "threshold": threshold,
        "median": float(np.median(first)),
        "mean": float(np.mean(first)),
        "censored": int((~above.any(axis=1)).sum()),
        "per_trajectory": first.tolist(),
    }


def error_at(err: np.ndarray, t: np.ndarray, times) -> dict:
    """Median, mean and 90% quantile of the relative error at given times (the nearest
    sample's); a time beyond the last one is an error, not dropped."""
    beyond = [s for s in times if s > t[-1] + 1e-12]
    if beyond:
        raise ValueError(f"error times {beyond} lie beyond the last time {t[-1]:g}")
    out = {}
    for s in times:
        k = int(np.argmin(np.abs(t - s)))
        out[f"{t[k]:g}"] = {
            "median": float(np.median(err[:, k])),
            "mean": float(np.mean(err[:, k])),
            "q90": float(np.quantile(err[:, k], 0.9)),
        }
    return out


def long_time_statistics(xs: np.ndarray, t: np.ndarray, t_discard: float) -> dict:
    """Per-component mean and std over all trajectories after ``t_discard`` (finite ones)."""
    keep = t >= t_discard
    good = np.isfinite(xs).all(axis=(1, 2))
    if not good.any() or not keep.any():
        return {"mean": None, "std": None, "n": 0}
    x = xs[good][:, keep].reshape(-1, xs.shape[-1])
    return {"mean": x.mean(axis=0).tolist(), "std": x.std(axis=0).tolist(), "n": int(good.sum())}


def horizon_starts(n_time: int, lag: int, stride: int) -> np.ndarray:
    """Start indices i with i + lag inside a trajectory of n_time samples."""
    return np.arange(0, n_time - lag, max(1, stride))


def horizon_error(pred_end: np.ndarray, truth_end: np.ndarray) -> dict:
    """E(T) of PRF21: per trajectory, the RMS over starts of |ĥ(t₀+T) − h(t₀+T)| divided by
    the RMS of |h(t₀+T)|, then the mean over trajectories. Inputs are (traj, starts, n);
    a rollout that diverged counts as an infinite error."""
    d = np.sum((pred_end - truth_end) ** 2, axis=-1)
    d = np.where(np.isfinite(d), d, np.inf)
    per_traj = np.sqrt(np.mean(d, axis=1) / np.maximum(np.mean(np.sum(truth_end**2, axis=-1), axis=1), 1e-300))
    return {
        "mean": float(np.mean(per_traj)),
        "median": float(np.median(per_traj)),
        "n_infinite": int(np.sum(~np.isfinite(per_traj))),
        "per_trajectory": per_traj.tolist(),
    }


def steady_states(h: np.ndarray, window: int, *, merge_tol: float, steady_tol: float) -> list[dict]:
    """The states test trajectories (traj, time, n) settle on: the mean of each one's last
    ``window`` samples, merged when closer than merge_tol·|mean|. A trajectory counts as
    steady when its samples in the window stay within steady_tol·|mean| of their mean."""
    ends = h[:, -window:]
    means = ends.mean(axis=1)
    spread = np.max(np.linalg.norm(ends - means[:, None], axis=-1), axis=1)
    out: list[dict] = []
    for i, m in enumerate(means):
        norm = max(float(np.linalg.norm(m)), 1e-300)
        steady = bool(spread[i] <= steady_tol * norm)
        for s in out:
            if np.linalg.norm(np.asarray(s["h"]) - m) < merge_tol * norm:
                s["trajectories"].append(i)
                s["all_steady"] = s["all_steady"] and steady
                break
        else:
            out.append({"h": m.tolist(), "trajectories": [i], "all_steady": steady})
    return out


def match_steady_states(states: list[dict], fixed_points: list[dict]) -> list[dict]:
    """Nearest learned fixed point of each steady state: relative distance |Δ|/|h*| and kind."""
    for s in states:
        h = np.asarray(s["h"])
        if fixed_points:
            d = [float(np.linalg.norm(np.asarray(p["x"]) - h)) for p in fixed_points]
            j = int(np.argmin(d))
            s.update(
                nearest_fixed_point=j,
                relative_distance=d[j] / max(float(np.linalg.norm(h)), 1e-300),
                fixed_point_kind=fixed_points[j]["kind"],
            )
        else:
            s.update(nearest_fixed_point=None, relative_distance=None, fixed_point_kind=None)
        stable = [np.linalg.norm(np.asarray(p["x"]) - h) for p in fixed_points if p["kind"].startswith("stable")]
        s["nearest_stable_relative_distance"] = (
            float(np.min(stable)) / max(float(np.linalg.norm(h)), 1e-300) if stable else None
        )
    return states


def horizon_targets(time: np.ndarray, starts: np.ndarray, horizon: float, rtol: float = 1e-6) -> np.ndarray:
    """Index of the sample ``horizon`` after each start on the time axis (uniform or bursts),
    −1 where the trajectory has none; times match to rtol × the smallest step."""
    time = np.asarray(time, float)
    tol = rtol * float(np.min(np.diff(time)))
    want = time[starts] + horizon
    j = np.clip(np.searchsorted(time, want - tol), 0, len(time) - 1)
    return np.where(np.abs(time[j] - want) <= tol, j, -1)


def authors_horizon_error(pred_end: np.ndarray, truth_end: np.ndarray, trajectory_rms: np.ndarray) -> dict:
    """E(T) as PRF21's code computes it (test_ode_RBC.py, check_traj_error): per trajectory the
    RMS over starts of |ĥ(t₀+T) − h(t₀+T)|, divided by the RMS of |h| over the whole trajectory
    (``trajectory_rms``: every stored sample), then the mean over trajectories. Inputs
    (traj, starts, n); a rollout that diverged counts as an infinite error."""
    d = np.sum((pred_end - truth_end) ** 2, axis=-1)
    d = np.where(np.isfinite(d), d, np.inf)
    per_traj = np.sqrt(np.mean(d, axis=1)) / np.maximum(trajectory_rms, 1e-300)
    return {
        "mean": float(np.mean(per_traj)),
        "median": float(np.median(per_traj)),
        "n_infinite": int(np.sum(~np.isfinite(per_traj))),
        "per_trajectory": per_traj.tolist(),
    }


def authors_n_fail(end_distance: np.ndarray, trajectory_max: np.ndarray, threshold: float) -> int:
    """PRF21's N_fail: trajectories whose error |ĥ(t_end) − h(t_end)| of the rollout from the
    first snapshot, divided by max over the trajectory of |h|, exceeds ``threshold`` (0.3 in
    their code); a diverged rollout fails."""
    rel = np.asarray(end_distance, float) / np.maximum(np.asarray(trajectory_max, float), 1e-300)
    return int(np.sum(~(rel <= threshold)))
