"""E(T), N_fail and settled states of a reduced run (PRF21 Sec. V), under two protocols.

Ours: the held-out test trajectories only; E(T) divides each trajectory's RMS error T after a
start by the RMS of |h| at those ends, N_fail counts test rollouts from the first state whose
relative error at the end exceeds ``fail_threshold``. The authors' (their test_ode_RBC.py):
every trajectory of the store, training ones included, every snapshot a start, E(T) divided by
the RMS of |h| over the whole trajectory, and N_fail relative to max_t |h|. Both run on the
store's coarse grid (burst starts); a horizon equal to a burst's fine step compares a start with
its partner. Decoded-field errors and where the trajectories settle beside the learned fixed
points complete the block.
"""

from __future__ import annotations

import numpy as np

from ..analysis.metrics import (
    authors_horizon_error,
    authors_n_fail,
    horizon_error,
    horizon_targets,
    match_steady_states,
    relative_error,
    steady_states,
)
from ..analysis.rollout import integrate
from ..data import open_store
from ..models.reducers import PCA

HORIZON_STARTS = 50  # ours: about this many starts per trajectory for E(T)
SETTLE_WINDOW = 10  # the last 1/SETTLE_WINDOW of a trajectory decides where it settled
MERGE_TOL = 0.05  # end states closer than this fraction of |h| are one
STEADY_TOL = 0.02  # a trajectory is steady when its window stays within this fraction of |h|


def horizon_rollouts(field, args, h, time, starts, horizons, rtol, atol, *, bound, center) -> dict:
    """Rollouts from h[:, starts] (h on the full time axis) to every horizon T a start has a
    sample for, T → (predicted ends, true ends), both (traj, starts kept for T, n). Starts with
    the same horizons share one integration saving at each, so no start runs past its longest."""
    horizons = sorted({float(T) for T in horizons})
    targets = np.stack([horizon_targets(time, starts, T) for T in horizons])  # (horizons, starts)
    valid = targets >= 0
    ends = {T: np.full((h.shape[0], len(starts), h.shape[-1]), np.nan) for T in horizons}
    for key in {tuple(col) for col in valid.T if col.any()}:
        cols = np.flatnonzero((valid.T == key).all(axis=1))
        ts = [T for T, v in zip(horizons, key) if v]
        x0 = h[:, starts[cols]].reshape(-1, h.shape[-1])
        pred, _ = integrate(
            field, x0, np.array([0.0, *ts]), args=args, rtol=rtol, atol=atol, bound=bound, center=center
        )
        pred = pred.reshape(h.shape[0], len(cols), len(ts) + 1, -1)
        for k, T in enumerate(ts):
            ends[T][:, cols] = pred[:, :, k + 1]
    out = {}
    for i, T in enumerate(horizons):
        keep = valid[i]
        if keep.any():
            out[T] = (ends[T][:, keep], h[:, targets[i, keep]])
    return out


def latent_metrics(field, args, test, cfg, fps, chart, reducer, fields, everything=None) -> dict:
    """``test``: the evaluation's TestRollouts; ``everything``: every trajectory of the store on
    the full time axis, in the run's coordinates (the authors' protocol), or None."""
    truth, pred, t = test.truth, test.pred, test.t
    stride = max(1, len(test.coarse) // HORIZON_STARTS)
    ends = horizon_rollouts(
        field,
        args,
        test.full,
        test.time,
        test.coarse[::stride],
        cfg["horizons"],
        cfg["rtol"],
        cfg["atol"],
        bound=test.bound,
        center=test.center,
    )
    horizons = {f"{T:g}": horizon_error(*got) for T, got in ends.items()}
    end_err = relative_error(pred[:, -1:], truth[:, -1:])[:, 0]
    window = max(2, len(t) // SETTLE_WINDOW)
    scale = float(np.sqrt(np.mean(np.sum(truth**2, axis=-1))))
    states = match_steady_states(steady_states(truth, window, merge_tol=MERGE_TOL, steady_tol=STEADY_TOL), fps)
    out = {
        "horizon_error": horizons,
        "n_fail": int(np.sum(~(end_err <= cfg["fail_threshold"]))),
        "fail_threshold": cfg["fail_threshold"],
        "end_error": end_err.tolist(),
        "steady_states": states,
        "latent_rms": scale,
    }
    if everything is not None:
        out["authors"] = authors_protocol(field, args, everything, test, cfg, fps)
    if reducer and fields:
        out["field_error"] = field_errors(chart, PCA.load(reducer), fields, test)
    return out


def authors_protocol(field, args, h, test, cfg, fps) -> dict:
    """PRF21's own definitions on every trajectory of the store (training ones included):
    E(T) from every coarse snapshot, N_fail of the rollout from the first snapshot to the last,
    and the states all trajectories settle on, with their populations."""
    coarse, time = test.coarse, test.time
    rms = np.sqrt(np.mean(np.sum(h**2, axis=-1), axis=1))  # every stored sample, pairs included
    biggest = np.max(np.linalg.norm(h, axis=-1), axis=1)
    # every start of every trajectory: the long-rollout tolerance (their code: fixed-step RK3)
    tol = dict(rtol=cfg["long_rtol"], atol=cfg["long_atol"], bound=test.bound, center=test.center)
    span = float(time[coarse[-1]] - time[coarse[0]])
    ends = horizon_rollouts(field, args, h, time, coarse, [*cfg["horizons"], span], **tol)
    horizons = {
        f"{T:g}": authors_horizon_error(ends[T][0], ends[T][1], rms) for T in sorted(cfg["horizons"]) if T in ends
    }
    last, truth_last = ends[span]
    distance = np.linalg.norm(last[:, 0] - truth_last[:, 0], axis=-1)
    hc = h[:, coarse]
    window = max(2, len(coarse) // SETTLE_WINDOW)
    states = match_steady_states(steady_states(hc, window, merge_tol=MERGE_TOL, steady_tol=STEADY_TOL), fps)
    for s in states:
        s["population"] = len(s["trajectories"])
    return {
        "n_trajectories": int(h.shape[0]),
        "horizon_error": horizons,
        "n_fail": authors_n_fail(distance, biggest, cfg["fail_threshold"]),
        "fail_threshold": cfg["fail_threshold"],
        "end_horizon": span,
        "end_error": (distance / np.maximum(biggest, 1e-300)).tolist(),
        "end_states": states,
    }


def field_errors(chart, pca, fields, test) -> dict:
    """Relative L2 errors of decoded fields on the coarse grid, in the PCA's centred and scaled
    units (and, on a non-uniform grid, its quadrature-weighted L² norm): of the chart alone
    (decode(encode(y))) and of the predicted rollouts, over the test set."""
    ds = open_store(fields)
    num_rec = num_pred = den = 0.0
    for k, i in enumerate(test.ids):  # one trajectory at a time: bounded memory
        X = np.asarray(pca.rows(ds.isel(trajectory=[i], time=test.coarse)).compute())
        Xs = pca.scaled(X)
        rec = pca.pad(chart.decode(chart.encode(test.y_test[k]))) @ pca.components
        num_rec += float(np.sum((rec - Xs) ** 2))
        p = pca.pad(chart.decode(test.pred[k])) @ pca.components
        num_pred += float(np.nansum((p - Xs) ** 2)) if np.isfinite(p).all() else np.inf
        den += float(np.sum(Xs**2))
    return {
        "reconstruction": float(np.sqrt(num_rec / den)),
        "prediction": float(np.sqrt(num_pred / den)),
        "units": "fields centred by the train mean and scaled by each field's train RMS"
        + ("; L2 norm with the grid's quadrature weights" if pca.weights is not None else ""),
    }


def compare_pde_states(states, pca, chart, fps, latent) -> list[dict]:
    """The PDE's converged steady states (pde_states.zarr) in the run's chart, each with its
    nearest learned fixed point, and each settled state of the data (held-out and, under the
    authors' protocol, all trajectories) with its nearest PDE state: distance |Δ| and |Δ|/|h*|."""
    from .pde_states import project

    h = project(states, pca, chart)
    out = []
    for j, hj in enumerate(h):
        entry = {
            "h": hj.tolist(),
            "nusselt": float(states["nusselt"][j]),
            "residual": float(states["residual"][j]),
            "stable": bool(states["stable"][j]),
            "population": int(states["population"][j]),
            "leading_eigenvalue": [float(states["eigenvalue_real"][j, 0]), float(states["eigenvalue_imag"][j, 0])],
        }
        match = match_steady_states([{"h": hj.tolist()}], fps)[0]
        keys = ("nearest_fixed_point", "relative_distance", "fixed_point_kind", "nearest_stable_relative_distance")
        entry.update({k: match[k] for k in keys})
        out.append(entry)
    groups = [latent["steady_states"]] + ([latent["authors"]["end_states"]] if "authors" in latent else [])
    for group in groups:
        for s in group:
            d = np.linalg.norm(h - np.asarray(s["h"]), axis=-1)
            j = int(np.argmin(d))
            s["nearest_pde_state"] = j
            s["pde_state_relative_distance"] = float(d[j] / max(np.linalg.norm(h[j]), 1e-300))
    return out
