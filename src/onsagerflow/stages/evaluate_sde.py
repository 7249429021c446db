"""Evaluation of a stochastic model (S-OnsagerNet) on held-out test ensembles (NCS24).

Each test ensemble is many noise realisations from one initial conformation. The model
runs as many SDE paths from the encoded initial state, and the ensembles are compared:
mean and standard deviation of the extension vs time, the distribution of unfolding
times, the covariance of the latent state; plus the critical points of the learned drift
and how the closure coordinates track |x_N − x_1| and |x_N + x_1|.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ..analysis.critical_points import find_critical_points, saddle_connections
from ..analysis.ensembles import abs_correlation, covariance_error, judge_ensemble, moment_errors
from ..analysis.fixed_points import find_fixed_points, near_data
from ..analysis.folds import chain_folds
from ..analysis.sde import physical_sde, simulate_sde
from ..config import ConfigError
from ..data import ENSEMBLE_LABELS, Split, Unfolding, build_dataset, open_store, split_mask, write_store
from ..data.cf import latent_labels
from ..models.dynamics import physical_field, physical_potential
from ..models.reducers import PCA
from ..provenance import stamp
from .common import load_run, observed, split_array, training_summary, write_json

log = logging.getLogger("onsagerflow.evaluate")


def run(
    spec: dict, data: str, model_dir: str, out_dir: str, fields: str | None = None, reducer: str | None = None
) -> None:
    """``fields``: the bead store (closure correlations; the true extension where it is not a
    latent coordinate); ``reducer``: its pca.zarr (the decoded chain at each critical point of
    V; the predicted extension where it is not a latent coordinate)."""
    t_start = time.perf_counter()
    out = Path(out_dir)
    cfg = spec["evaluation"]
    definition, fraction = cfg["unfolding_time"], cfg["unfolding_final_fraction"]
    ds = open_store(data)
    variable = observed(ds, data)
    run_ = load_run(model_dir)
    norm, meta, chart, dyn = run_.norm, run_.meta, run_.chart, run_.dynamics
    provenance = stamp(spec)

    test = np.flatnonzero(split_mask(ds, Split.TEST))
    y_test = split_array(ds, variable, Split.TEST)
    z_true = chart.encode(y_test)  # the run's latent coordinates (physical units of h)
    observables = ds.attrs.get("observables", "").split()
    n_obs = len(observables)  # observables lead, closure follows
    pca = PCA.load(reducer) if reducer is not None else None
    raw = open_store(fields) if fields else None  # the bead store, opened once
    extension = extension_of(chart, observables, pca, data)
    if "extension" in observables:  # a latent coordinate (NCS24's Z1)
        ext_true = y_test[..., observables.index("extension")]
    else:  # the decoded chains' extension, judged against the beads' own
        if raw is None:
            raise ConfigError(f"{data}: {NO_EXTENSION}")
        beads = raw["extension"]  # the test trajectories by their labels
        ext_true = beads.sel(trajectory=ds["trajectory"].values[test]).values.astype(np.float64)

    t = np.asarray(ds["time"].values)
    ensembles = np.asarray(ds["ensemble"].values)[test]
    labels = np.asarray(ds["unfolding"].values)[test]
    threshold = float(ds.attrs["unfolding_threshold"])

    # --- as many SDE paths as each ensemble has realisations, from its encoded start
    drift, sigma, sde_args = physical_sde(dyn, norm)
    z_pred = simulate_sde(
        drift,
        sigma,
        z_true[:, 0],
        t - t[0],
        (t[1] - t[0]) / cfg["sde_substeps"],
        jax.random.key(cfg["seed"]),
        args=sde_args,
    )
    # a path that leaves bound_factor × the train data's radius (or overflows) is unbounded: NaN
    # from there on, as in the deterministic rollouts, and counted
    train = chart.encode(split_array(ds, variable, "train"))
    bound = cfg["bound_factor"] * float(np.max(np.linalg.norm(train - norm.mean, axis=-1)))
    z_pred, bounded = cut_unbounded(z_pred, norm.mean, bound)
    ext_pred = extension(z_pred)
    log.info(
        "simulated %d %s paths over %d samples (%d substeps each), %d bounded",
        len(z_pred),
        "SDE" if hasattr(dyn, "sigma") else "ODE (no noise model)",
        len(t),
        cfg["sde_substeps"],
        int(bounded.sum()),
    )

    ext_chart = extension(z_true)
    per_ensemble: list[dict[str, Any]] = []
    for e in np.unique(ensembles):
        idx = np.flatnonzero(ensembles == e)
        # unfolding times by both definitions; the ensembles are judged by the configured one
        judged = judge_ensemble(ext_pred[idx], ext_true[idx], t, definition, threshold, fraction)
        per_ensemble.append(
            {
                "ensemble": int(e),
                "label": ENSEMBLE_LABELS[Unfolding(labels[idx[0]])],
                "realisations": int(len(idx)),
                "extension": judged["extension"],
                # the chart's own share: the held-out paths themselves, encoded and decoded
                # (0 where the extension is a latent coordinate, which the chart passes through)
                "extension_closure_floor": _max_errors(moment_errors(ext_chart[idx], ext_true[idx])),
                "unfolding_time": judged["unfolding_time"],
                "unfolding_time_by_definition": judged["unfolding_time_by_definition"],
                "covariance_error": covariance_error(z_pred[idx], z_true[idx]),
            }
        )
        log.info(
            "ensemble %d (%s): max mean error %.3f, max std error %.3f, W1/mean %.3f",
            e,
            per_ensemble[-1]["label"],
            per_ensemble[-1]["extension"]["max_mean_error"],
            per_ensemble[-1]["extension"]["max_std_error"],
            per_ensemble[-1]["unfolding_time"]["wasserstein1_relative"] or np.nan,
        )

    # --- fixed points of the learned drift, and the critical points of V itself (the only
    # points called minima and saddles), in the run's latent units
    frames = train.reshape(-1, train.shape[-1])
    starts = newton_starts(frames, cfg["fixed_point_starts"], cfg["seed"])
    domain = (frames.min(0), frames.max(0))
    length_scale = float(np.linalg.norm(norm.scale))
    field, args = physical_field(dyn, norm)
    fixed = find_fixed_points(
        field,
        starts,
        args=args,
        length_scale=length_scale,
        field_scale=length_scale / norm.time_scale,
        domain=domain,
    )
    mark_near_data(fixed, frames, cfg["seed"])
    log.info("drift fixed points: %s", [(np.round(c["x"], 2).tolist(), c["kind"]) for c in fixed])
    critical = None
    if hasattr(dyn, "potential"):
        critical = potential_critical_points(dyn, norm, frames, starts, domain, cfg["seed"])
        mark_near_data(critical, frames, cfg["seed"])
        if pca is not None:
            zc = np.array([c["x"] for c in critical])
            chains = decoded_chains(chart, pca, zc, n_obs)
            ext = extension(zc) if len(zc) else []  # the latent state's own extension
            longest = longest_training_extension(raw, ds) if raw is not None else None
            for c, x, e in zip(critical, chains, ext):
                c["conformation"] = conformation(x, e, longest)
        log.info(
            "critical points of V: %s",
            [
                (np.round(c["x"], 2).tolist(), c["type"], round(c.get("conformation", {}).get("fold_ratio", np.nan), 2))
                for c in critical
            ],
        )

    # --- do the closure coordinates track the folds? NCS24: |Z2| ~ |x_N − x_1|, |Z3| ~ |x_N + x_1|,
    # on the training data as the authors show them; the test data beside them
    correlations = correlations_test = None
    if raw is not None and z_true.shape[-1] >= n_obs + 2:
        train_ids = np.flatnonzero(split_mask(ds, "train"))
        correlations = closure_correlations(train, raw, train_ids, n_obs)
        correlations_test = closure_correlations(z_true, raw, test, n_obs)

    var = ds[variable]
    pred_ds = build_dataset(
        system=ds.attrs["system"],
        data_vars={
            variable: (
                var.dims,
                z_pred,
                {
                    "units": "1",
                    "long_name": f"{meta['run']} SDE path from the trajectory's encoded start (its own noise)",
                },
            ),
            "extension": (("trajectory", "time"), ext_pred, {"units": "1", "long_name": "extension"}),
        },
        time=t,
        time_units=ds["time"].attrs.get("units", "1"),
        time_long_name=ds["time"].attrs.get("long_name", "time"),
        split=np.full(len(test), Split.TEST, np.int8),
        trajectory=ds["trajectory"].values[test],
        trajectory_coords={"ensemble": ensembles, "unfolding": labels},
        coords={"state": (("state",), latent_labels(z_pred.shape[-1]))},
        attrs={"observed": variable, "model": meta["run"], "source_store": str(data), **provenance},
    )
    write_store(pred_ds, out / "predictions.zarr", dims=("state",), allow_nan=True)
    metrics = {
        "system": spec["system"]["name"],
        "model": meta["run"],
        "model_key": meta["model_key"],
        "latent": spec.get("latent"),
        "model_type": meta["model_spec"]["type"],
        "autoencoder": bool(meta["model_spec"].get("autoencoder")),
        "param_count": meta["param_count"],
        "n_test_trajectories": int(len(test)),
        "unfolding_threshold": threshold,
        "unfolding_time_definition": definition,
        "stochastic": hasattr(dyn, "sigma"),
        "paths": {
            "n": int(len(z_pred)),
            "n_bounded": int(bounded.sum()),
            "bound": bound,
            "center": np.asarray(norm.mean).tolist(),
        },
        "ensembles": per_ensemble,
        "critical_points": critical,
        "fixed_points": fixed,
        "correlations": correlations,
        "correlations_test": correlations_test,
        "diffusion": meta["model_spec"].get("diffusion"),
        "training": training_summary(meta),
        "evaluate_seconds": time.perf_counter() - t_start,
        "provenance": provenance,
    }
    write_json(out / "metrics.json", metrics)
    log.info("wrote %s in %.1f s", out, metrics["evaluate_seconds"])


NO_EXTENSION = (
    "without the extension among the latent observables (reduction.observables) the ensemble evaluation "
    "decodes it from the chains, and needs the bead store and its PCA"
)


def extension_of(chart, observables: list[str], pca: PCA | None, data: str):
    """The function latent states (..., n) → the chain's extension: the chart's own coordinate
    where the extension is a latent observable (NCS24's Z1), else the extension of the chain
    the chart and the PCA decode (which needs ``pca``)."""
    if "extension" in observables:
        ie = observables.index("extension")
        return lambda z: chart.decode(z)[..., ie]
    if pca is None:
        raise ConfigError(f"{data}: {NO_EXTENSION}")
    return lambda z: decoded_extension(chart, pca, z, len(observables))


def cut_unbounded(z: np.ndarray, center: np.ndarray, bound: float):
    """(z with NaN from each path's first sample beyond ``bound`` of ``center`` or non-finite on,
    bounded (paths,)): the ensemble statistics then skip the escaped part (nan-aware)."""
    dist = np.linalg.norm(z - center, axis=-1)
    out = ~(np.isfinite(dist) & (dist <= bound))  # (paths, time)
    after = np.cumsum(out, axis=1) > 0
    return np.where(after[..., None], np.nan, z), ~after.any(axis=1)


def mark_near_data(points: list[dict], frames: np.ndarray, seed: int) -> None:
    """Each point's distance to the nearest training state (in units of the training data's
    per-component std) as ``data_distance``; ``in_data_range`` holds only for a point inside
    the data's box and within reach of a training state (analysis.fixed_points.near_data)."""
    if not points:
        return
    dist, near = near_data(np.array([p["x"] for p in points]), frames, seed)
    for p, d, ok in zip(points, dist, near):
        p["data_distance"] = float(d)
        p["in_data_range"] = bool(p.get("in_data_range", True) and ok)


def newton_starts(frames: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k Newton starts: half training states, half uniform in the training data's box."""
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            frames[rng.choice(len(frames), k - k // 2)],
            rng.uniform(frames.min(0), frames.max(0), size=(k // 2, frames.shape[-1])),
        ]
    )


def potential_critical_points(dyn, norm, frames, starts, domain, seed: int) -> list[dict]:
    """Critical points of the learned V in the run's latent units (V(x) = V_model(z(x)): the
    same points and Hessian indices as in normalised units). |∇V| is judged against its RMS
    over training states."""
    import jax.numpy as jnp

    pot = physical_potential(dyn, norm)

    def potential(x, _=None):
        return pot(x)

    sample = frames[np.random.default_rng(seed + 1).choice(len(frames), min(len(frames), 512), replace=False)]
    g = np.asarray(jax.jit(jax.vmap(jax.grad(potential)))(jnp.asarray(sample)))
    grad_scale = float(np.sqrt(np.mean(np.sum(g**2, axis=-1))))
    length = float(np.linalg.norm(norm.scale))
    points = find_critical_points(
        potential, starts, length_scale=length, grad_scale=grad_scale if grad_scale > 0 else 1.0, domain=domain
    )
    # which minima each index-1 saddle joins: its two steepest-descent paths
    return saddle_connections(potential, points, step=1e-3 * length, match_tol=1e-2 * length)


def decoded_chains(chart, pca: PCA, z: np.ndarray, n_obs: int) -> np.ndarray:
    """Bead coordinates (k, N, d) decoded from latent states z (k, n): the chart gives the
    PCA coordinates (the observables lead and are dropped), the PCA the positions (the
    coordinates its ``select`` kept, e.g. x alone)."""
    if len(z) == 0:
        return np.zeros((0, *pca.shape))
    y = chart.decode(np.asarray(z))[..., n_obs:]
    return pca.inverse_rows(pca.pad(y)).reshape(len(z), *pca.shape)


def _max_errors(errors: dict) -> dict:
    return {k: errors[k] for k in ("max_mean_error", "max_std_error")}


def decoded_extension(chart, pca: PCA, z: np.ndarray, n_obs: int, rows: int = 8192) -> np.ndarray:
    """The extension max − min x of the chains decoded from latent states z (..., n), in blocks
    of ``rows`` states (a paper-size ensemble's chains do not fit in memory at once); NaN where
    z is. x is the first coordinate the PCA kept (``config.checks`` makes sure it is x)."""
    flat = np.asarray(z, np.float64).reshape(-1, np.shape(z)[-1])
    out = np.full(len(flat), np.nan)
    for i in range(0, len(flat), rows):
        block = flat[i : i + rows]
        ok = np.all(np.isfinite(block), axis=-1)
        if ok.any():
            x = decoded_chains(chart, pca, block[ok], n_obs)[..., 0]
            out[i : i + rows][ok] = x.max(axis=-1) - x.min(axis=-1)
    return out.reshape(np.shape(z)[:-1])


def conformation(chain: np.ndarray, extension_latent: float, longest: float | None = None) -> dict:
    """A decoded chain's extension, |x_N − x_1|, |x_N + x_1| and fold ratio |x_N + x_1| /
    extension (x = its first coordinate, the stretching axis), beside the extension the
    latent state itself holds (its observable Z1, which the chart does not decode; without
    that observable, the decoded chain's own); with ``longest`` (the longest training chain's
    extension) its ``relative_extension``, which tells a fold from a coil
    (analysis.folds.folded_saddle_summary)."""
    folds = chain_folds(np.asarray(chain)[:, 0])
    out = {**{k: float(v) for k, v in folds.items()}, "extension_latent": float(extension_latent)}
    if longest:
        out["relative_extension"] = float(folds["extension"]) / longest
    return out


def longest_training_extension(raw, ds) -> float:
    """The largest extension of any training frame, from the bead store ``raw`` (the training
    trajectories of the latent store ``ds``, by label)."""
    ids = ds["trajectory"].values[split_mask(ds, "train")]
    return float(raw["extension"].sel(trajectory=ids).max())


def closure_correlations(z: np.ndarray, raw, ids: np.ndarray, n_obs: int) -> dict:
    """Pearson correlations of |Z2|, |Z3| (the first two closure coordinates) with |x_N − x_1|
    and |x_N + x_1| over every frame of the trajectories ``ids`` of the bead store."""
    diff = raw["end_to_end_diff"].isel(trajectory=ids).values
    summ = raw["end_to_end_sum"].isel(trajectory=ids).values
    z2, z3 = z[..., n_obs], z[..., n_obs + 1]
    return {
        "Z2_vs_end_to_end_diff": abs_correlation(z2, diff),
        "Z3_vs_end_to_end_sum": abs_correlation(z3, summ),
        "Z2_vs_end_to_end_sum": abs_correlation(z2, summ),
        "Z3_vs_end_to_end_diff": abs_correlation(z3, diff),
    }
