"""``onsagerflow evaluate``: judge a trained model on held-out test trajectories.

Writes predictions.zarr (rollouts of every test trajectory from its first state, in
the canonical schema), long_rollouts.zarr (long runs from random starts, with the
true system's where a simulator exists) and metrics.json.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.fixed_points import find_fixed_points, match_exact
from ..analysis.metrics import (
    error_at,
    error_curve,
    horizon_error,
    horizon_starts,
    long_time_statistics,
    match_steady_states,
    relative_error,
    steady_states,
    time_to_threshold,
)
from ..analysis.rollout import integrate
from ..config import check_times_within
from ..data import Split, build_dataset, open_store, split_mask, write_store
from ..data.cf import latent_labels
from ..data.store import write_zarr
from ..models.dynamics import physical_field
from ..models.reducers import PCA
from ..provenance import stamp
from ..systems import get_system, known_systems
from .common import load_run, long_rollouts_dataset, observed, split_array, training_summary, write_json
from .evaluate_extra import extra_metrics

log = logging.getLogger("onsagerflow.evaluate")

PREDICTIONS = "predictions.zarr"
LONG = "long_rollouts.zarr"
METRICS = "metrics.json"


def run(
    spec: dict, data: str, model_dir: str, out_dir: str, reducer: str | None = None, fields: str | None = None
) -> None:
    """``reducer`` (pca.zarr) and ``fields`` (the field store) give latent runs the
    reconstruction error of decoded fields."""
    t_start = time.perf_counter()
    if spec["system"]["type"] == "polymer":  # stochastic models on held-out test ensembles
        from . import evaluate_sde

        return evaluate_sde.run(spec, data, model_dir, out_dir, fields, reducer)
    out = Path(out_dir)
    sys_spec, cfg = spec["system"], spec["evaluation"]
    # Ingested data have no simulator: no exact fixed points and no true long rollouts, so
    # those metrics are null (and their table columns absent), never made up.
    system: Any = get_system(sys_spec["type"]) if sys_spec["type"] in known_systems() else None
    ds = open_store(data)
    variable = observed(ds, data)
    run_ = load_run(model_dir)
    model, norm, meta = run_.model, run_.norm, run_.meta
    field, args = physical_field(model, norm)
    provenance = stamp(spec)
    chart = run_.chart if spec.get("latent") else None

    # --- rollouts of the held-out test trajectories
    test_ids = np.flatnonzero(split_mask(ds, "test"))
    truth = split_array(ds, variable, "test")
    t = np.asarray(ds["time"].values)
    # error times and the error curve count from each trajectory's first sample (an RBC
    # store's time starts after its burn-in); none may lie beyond the data
    since = t - t[0]
    where = f"systems.{sys_spec['name']}: evaluation"
    check_times_within(cfg["error_times"], since[-1], f"{where}.error_times", f"the length of the data in {data}")
    if chart is not None:
        check_times_within(cfg["horizons"], since[-1], f"{where}.horizons", f"the length of the data in {data}")
    train = split_array(ds, variable, "train")
    if chart is not None:
        y_test = truth
        truth, train = chart.encode(truth), chart.encode(train)
    center = norm.mean
    radius = float(np.max(np.linalg.norm(train - center, axis=-1)))
    bound = cfg["bound_factor"] * radius
    pred, ok = integrate(
        field, truth[:, 0], t, args=args, rtol=cfg["rtol"], atol=cfg["atol"], bound=bound, center=center
    )
    log.info("test rollouts: %d trajectories, %d stayed within the bound", len(ok), int(ok.sum()))
    err = relative_error(pred, truth)
    every = max(1, len(t) // 500)

    var = ds[variable]
    state_dims = var.dims[2:]
    coords: dict[Hashable, tuple[Any, ...]] = {d: ((d,), ds[d].values) for d in state_dims if d in ds.coords}
    if chart is not None:  # predictions live in the run's own latent coordinates
        coords = {state_dims[0]: ((state_dims[0],), latent_labels(pred.shape[-1]))}
    pred_ds = build_dataset(
        system=ds.attrs["system"],
        data_vars={
            variable: (
                var.dims,
                pred,
                {**var.attrs, "long_name": f"{meta['run']} rollout of " + var.attrs.get("long_name", variable)},
            )
        },
        time=t,
        time_units=ds["time"].attrs.get("units", "1"),
        time_long_name=ds["time"].attrs.get("long_name", "time"),
        split=np.full(len(test_ids), Split.TEST, np.int8),
        trajectory=ds["trajectory"].values[test_ids],
        trajectory_coords={"rollout_ok": ok.astype(np.int8)},
        coords=coords,
        attrs={"observed": variable, "model": meta["run"], "source_store": str(data), **provenance},
    )
    write_store(pred_ds, out / PREDICTIONS, dims=state_dims, allow_nan=True)

    # --- fixed points of the learned field
    # Streams of their own: equal evaluation and system seeds must not replay the data's starts.
    fp_seed, long_seed = np.random.SeedSequence([cfg["seed"], 0x0E7A1]).generate_state(2)
    rng = np.random.default_rng(fp_seed)
    frames = train.reshape(-1, train.shape[-1])
    k = cfg["fixed_point_starts"]
    lo, hi = frames.min(axis=0), frames.max(axis=0)
    starts = np.concatenate(
        [frames[rng.choice(len(frames), k - k // 2)], rng.uniform(lo, hi, size=(k // 2, frames.shape[-1]))]
    )
    length_scale = float(np.linalg.norm(norm.scale))
    field_scale = length_scale / norm.time_scale
    fps = find_fixed_points(
        field, starts, args=args, length_scale=length_scale, field_scale=field_scale, domain=(lo, hi)
    )
    log.info("fixed points: %s", [(np.round(p["x"], 3).tolist(), p["kind"]) for p in fps])
    exact = system.exact_fixed_points(sys_spec) if chart is None and hasattr(system, "exact_fixed_points") else None
    exact_match = (
        match_exact(fps, exact, system.field(sys_spec), length_scale=length_scale) if exact is not None else None
    )

    # --- long rollouts from random starts: do they stay bounded?
    n_long = cfg["long_rollouts"]
    starts_long = (
        system.sample_initial_states(sys_spec, n_long, int(long_seed))
        if chart is None and hasattr(system, "sample_initial_states")
        else frames[np.random.default_rng(long_seed).choice(len(frames), n_long)]
    )
    t_long = np.arange(0.0, cfg["long_t_end"] + 0.5 * cfg["long_dt_save"], cfg["long_dt_save"])
    long_pred, long_ok = integrate(
        field, starts_long, t_long, args=args, rtol=cfg["long_rtol"], atol=cfg["long_atol"], bound=bound, center=center
    )
    log.info("long rollouts: %d of %d bounded up to t = %g", int(long_ok.sum()), n_long, t_long[-1])
    long_truth = None
    if chart is None and hasattr(system, "solve"):
        long_truth = system.solve(sys_spec, starts_long, t_long)
    write_zarr(
        long_rollouts_dataset(
            pred_ds, long_pred, long_truth, t_long, long_ok, attrs={"model": meta["model_key"], "bound": bound}
        ),
        out / LONG,
    )

    extra = extra_metrics(spec, system, run_, field, args, truth, long_pred, long_truth, t_long, length_scale)

    metrics = {
        "system": sys_spec["name"],
        "model": meta["run"],
        "model_key": meta["model_key"],
        "latent": spec.get("latent"),
        "model_type": meta["model_spec"]["type"],
        "autoencoder": bool(meta["model_spec"].get("autoencoder")),
        "param_count": meta["param_count"],
        "n_test_trajectories": int(len(test_ids)),
        "test_rollouts_bounded": int(ok.sum()),
        "relative_error": error_curve(err, since, every),
        "relative_error_at": error_at(err, since, cfg["error_times"]),
        "time_to_threshold": time_to_threshold(err, since, cfg["error_threshold"]),
        "fixed_points": fps,
        "boundedness_guarantee": _guarantee(model),
        "exact_fixed_points": exact_match,
        "long_rollouts": {
            "n": n_long,
            "t_end": float(t_long[-1]),
            "n_bounded": int(long_ok.sum()),
            "bound": bound,
            "center": center.tolist(),
        },
        "long_time_statistics": {
            "discard": cfg["long_discard"],
            "model": long_time_statistics(long_pred, t_long, cfg["long_discard"]),
            "truth": (
                long_time_statistics(long_truth, t_long, cfg["long_discard"]) if long_truth is not None else None
            ),
        },
        "training": training_summary(meta),
        "latent_metrics": (
            _latent_metrics(
                field,
                args,
                truth,
                y_test,
                pred,
                t,
                cfg,
                fps,
                chart,
                reducer,
                fields,
                test_ids,
                bound=bound,
                center=center,
            )
            if chart is not None
            else None
        ),
        **extra,
        "evaluate_seconds": time.perf_counter() - t_start,
        "provenance": provenance,
    }
    write_json(out / METRICS, metrics)
    log.info("wrote %s in %.1f s", out, metrics["evaluate_seconds"])


def _guarantee(model) -> dict | None:
    """Whether the learned OnsagerNet is bounded by construction: far out, with ReQUr
    φ, dV/dt < 0 when the forcing grows slower than 2αβ (‖F‖₂ < 2αβ, model units).
    Where it is not, boundedness is only what the long rollouts observe."""
    if not hasattr(model, "F"):
        return None
    growth = float(np.linalg.norm(np.asarray(model.F[...]), 2))
    limit = 2 * model.alpha * model.beta
    return {"forcing_growth": growth, "two_alpha_beta": limit, "guaranteed": growth < limit}


def _latent_metrics(
    field, args, truth, y_test, pred, t, cfg, fps, chart, reducer, fields, test_ids, *, bound=None, center=None
) -> dict:
    """PRF21 Sec. V: E(T) after every start, N_fail, decoded-field errors, steady states. A
    horizon rollout that leaves the bound stops there and counts as an infinite error."""
    dt = float(t[1] - t[0])
    lags = sorted({int(round(T / dt)) for T in cfg["horizons"]} & set(range(1, len(t))))
    horizons = {}
    if lags:
        # every start runs once to the longest horizon, saving at each; a start counts for
        # a horizon only while its end stays inside the trajectory
        stride = max(1, len(t) // 50)
        starts = horizon_starts(len(t), lags[0], stride)
        x0 = truth[:, starts].reshape(-1, truth.shape[-1])
        ends, _ = integrate(
            field,
            x0,
            np.array([0.0] + [lag * dt for lag in lags]),
            args=args,
            rtol=cfg["rtol"],
            atol=cfg["atol"],
            bound=bound,
            center=center,
        )
        ends = ends.reshape(truth.shape[0], len(starts), len(lags) + 1, -1)
        for j, lag in enumerate(lags):
            keep = starts + lag < len(t)
            horizons[f"{lag * dt:g}"] = horizon_error(ends[:, keep, j + 1], truth[:, starts[keep] + lag])
    end_err = relative_error(pred[:, -1:], truth[:, -1:])[:, 0]
    window = max(2, len(t) // 10)
    scale = float(np.sqrt(np.mean(np.sum(truth**2, axis=-1))))
    states = match_steady_states(steady_states(truth, window, merge_tol=0.05, steady_tol=0.02), fps)
    out = {
        "horizon_error": horizons,
        "n_fail": int(np.sum(end_err > cfg["fail_threshold"])),
        "fail_threshold": cfg["fail_threshold"],
        "end_error": end_err.tolist(),
        "steady_states": states,
        "latent_rms": scale,
    }
    if reducer and fields:
        out["field_error"] = _field_errors(chart, PCA.load(reducer), fields, test_ids, y_test, pred)
    return out


def _field_errors(chart, pca, fields, test_ids, y_test, pred) -> dict:
    """Relative L2 errors of decoded fields, in the PCA's centred and scaled units (and, on a
    non-uniform grid, its quadrature-weighted L² norm): of the chart alone (decode(encode(y)))
    and of the predicted rollouts, over the test set."""
    ds = open_store(fields)
    num_rec = num_pred = den = 0.0
    for k, i in enumerate(test_ids):  # one trajectory at a time: bounded memory
        X = np.asarray(pca.rows(ds.isel(trajectory=[i])).compute())
        Xs = pca.scaled(X)
        rec = pca.pad(chart.decode(chart.encode(y_test[k]))) @ pca.components
        num_rec += float(np.sum((rec - Xs) ** 2))
        p = pca.pad(chart.decode(pred[k])) @ pca.components
        num_pred += float(np.nansum((p - Xs) ** 2)) if np.isfinite(p).all() else np.inf
        den += float(np.sum(Xs**2))
    return {
        "reconstruction": float(np.sqrt(num_rec / den)),
        "prediction": float(np.sqrt(num_pred / den)),
        "units": "fields centred by the train mean and scaled by each field's train RMS"
        + ("; L2 norm with the grid's quadrature weights" if pca.weights is not None else ""),
    }
