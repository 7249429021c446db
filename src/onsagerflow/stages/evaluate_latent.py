"""Latent metrics of a reduced run (PRF21 Sec. V): E(T) after every start, N_fail, decoded-field
errors, and the states the test trajectories settle on beside the learned fixed points."""

from __future__ import annotations

import numpy as np

from ..analysis.metrics import (
    horizon_error,
    horizon_starts,
    match_steady_states,
    relative_error,
    steady_states,
)
from ..analysis.rollout import integrate
from ..data import open_store
from ..models.reducers import PCA

HORIZON_STARTS = 50  # about this many starts per trajectory for E(T)
SETTLE_WINDOW = 10  # the last 1/SETTLE_WINDOW of a trajectory decides where it settled
MERGE_TOL = 0.05  # end states closer than this fraction of |h| are one
STEADY_TOL = 0.02  # a trajectory is steady when its window stays within this fraction of |h|


def latent_metrics(field, args, test, cfg, fps, chart, reducer, fields) -> dict:
    """A horizon rollout that leaves the bound stops there and counts as an infinite error."""
    truth, pred, t = test.truth, test.pred, test.t
    dt = float(t[1] - t[0])
    lags = sorted({int(round(T / dt)) for T in cfg["horizons"]} & set(range(1, len(t))))
    horizons = {}
    if lags:
        # every start runs once to the longest horizon, saving at each; a start counts for
        # a horizon only while its end stays inside the trajectory
        stride = max(1, len(t) // HORIZON_STARTS)
        starts = horizon_starts(len(t), lags[0], stride)
        x0 = truth[:, starts].reshape(-1, truth.shape[-1])
        ends, _ = integrate(
            field,
            x0,
            np.array([0.0] + [lag * dt for lag in lags]),
            args=args,
            rtol=cfg["rtol"],
            atol=cfg["atol"],
            bound=test.bound,
            center=test.center,
        )
        ends = ends.reshape(truth.shape[0], len(starts), len(lags) + 1, -1)
        for j, lag in enumerate(lags):
            keep = starts + lag < len(t)
            horizons[f"{lag * dt:g}"] = horizon_error(ends[:, keep, j + 1], truth[:, starts[keep] + lag])
    end_err = relative_error(pred[:, -1:], truth[:, -1:])[:, 0]
    window = max(2, len(t) // SETTLE_WINDOW)
    scale = float(np.sqrt(np.mean(np.sum(truth**2, axis=-1))))
    states = match_steady_states(steady_states(truth, window, merge_tol=MERGE_TOL, steady_tol=STEADY_TOL), fps)
    out = {
        "horizon_error": horizons,
        "n_fail": int(np.sum(end_err > cfg["fail_threshold"])),
        "fail_threshold": cfg["fail_threshold"],
        "end_error": end_err.tolist(),
        "steady_states": states,
        "latent_rms": scale,
    }
    if reducer and fields:
        out["field_error"] = field_errors(chart, PCA.load(reducer), fields, test.ids, test.y_test, pred)
    return out


def field_errors(chart, pca, fields, test_ids, y_test, pred) -> dict:
    """Relative L2 errors of decoded fields, in the PCA's centred and scaled units:
    of the chart alone (decode(encode(y))) and of the predicted rollouts, over the test set."""
    ds = open_store(fields)
    num_rec = num_pred = den = 0.0
    for k, i in enumerate(test_ids):  # one trajectory at a time: bounded memory
        X = np.asarray(pca.rows(ds.isel(trajectory=[i])).compute())
        Xs = (X - pca.mean) / pca.scale_vector
        rec = pca.pad(chart.decode(chart.encode(y_test[k]))) @ pca.components
        num_rec += float(np.sum((rec - Xs) ** 2))
        p = pca.pad(chart.decode(pred[k])) @ pca.components
        num_pred += float(np.nansum((p - Xs) ** 2)) if np.isfinite(p).all() else np.inf
        den += float(np.sum(Xs**2))
    return {
        "reconstruction": float(np.sqrt(num_rec / den)),
        "prediction": float(np.sqrt(num_pred / den)),
        "units": "fields centred by the train mean and scaled by each field's train RMS",
    }
