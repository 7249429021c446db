"""``onsagerflow evaluate``: judge a trained model on held-out test trajectories.

Writes predictions.zarr (rollouts of every test trajectory from its first state, in
the canonical schema), long_rollouts.zarr (long runs from random starts, with the
true system's where a simulator exists) and metrics.json. Each part is one function:
the context (store, run, vector field), the test rollouts and their store, the fixed
points, the long rollouts, the latent metrics (evaluate_latent) and the assembly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..analysis.fixed_points import fixed_points_from_data, match_exact
from ..analysis.metrics import (
    error_at,
    error_curve,
    long_time_statistics,
    relative_error,
    time_to_threshold,
)
from ..analysis.rollout import integrate
from ..config import check_times_within
from ..data import Split, build_dataset, open_store, read_zarr, split_mask, write_store
from ..data.cf import latent_labels
from ..data.store import write_zarr
from ..errors import UserError
from ..models.dynamics import physical_field
from ..models.reducers import PCA
from ..provenance import stamp
from ..systems import get_system, known_systems
from .common import (
    LoadedRun,
    load_run,
    long_rollouts_dataset,
    observed,
    split_array,
    store_grid,
    training_summary,
    write_json,
)
from .evaluate_extra import extra_metrics
from .evaluate_latent import compare_pde_states, latent_metrics

log = logging.getLogger("onsagerflow.evaluate")

PREDICTIONS = "predictions.zarr"
LONG = "long_rollouts.zarr"
METRICS = "metrics.json"
ERROR_CURVE_POINTS = 500  # the error-vs-time curve in metrics.json keeps about this many times
STREAM_TAG = 0x0E7A1  # mixes into the evaluation seed: root-finding and long-rollout streams of their own


@dataclass
class Context:
    """What every part of an evaluation reads: the config slices, the store, the trained run
    and its vector field in physical (or latent) units."""

    spec: dict
    cfg: dict
    system: Any  # the simulator module, or None for ingested data
    ds: xr.Dataset
    data: str
    variable: str
    run: LoadedRun
    field: Any
    args: Any
    chart: Any  # the latent chart of a reduced run, else None
    provenance: dict


@dataclass
class TestRollouts:
    """The held-out test trajectories (in the run's coordinates), the model's rollouts from
    their first states, and the bound a rollout must stay inside."""

    ids: np.ndarray
    t: np.ndarray  # the coarse grid: every sample of a uniform store, the burst starts of bursts
    since: np.ndarray  # t counted from the first sample (an RBC store's time starts after its burn-in)
    truth: np.ndarray  # on t
    y_test: np.ndarray | None  # the stored (un-encoded) test data of a latent run, on t
    time: np.ndarray  # the store's full time axis
    coarse: np.ndarray  # indices of t in it
    full: np.ndarray  # truth on the full axis
    train: np.ndarray
    pred: np.ndarray
    ok: np.ndarray
    err: np.ndarray
    bound: float
    center: np.ndarray


@dataclass
class LongRollouts:
    t: np.ndarray
    pred: np.ndarray
    ok: np.ndarray
    truth: np.ndarray | None


def run(
    spec: dict,
    data: str,
    model_dir: str,
    out_dir: str,
    reducer: str | None = None,
    fields: str | None = None,
    pde_states: str | None = None,
    pde_orbits: str | None = None,
) -> None:
    """``reducer`` (pca.zarr) and ``fields`` (the field store) give latent runs the
    reconstruction error of decoded fields; ``pde_states`` (pde_states.zarr) the PDE's own
    steady states to set beside the learned fixed points; ``pde_orbits`` (pde_orbits.zarr) its
    periodic orbits to set beside the learned ones."""
    t_start = time.perf_counter()
    if spec["system"]["type"] == "polymer":  # stochastic models on held-out test ensembles
        from . import evaluate_sde

        return evaluate_sde.run(spec, data, model_dir, out_dir, fields, reducer)
    out = Path(out_dir)
    ctx = load_context(spec, data, model_dir)
    test = test_rollouts(ctx)
    pred_ds = write_predictions(ctx, test, out / PREDICTIONS)
    fp_seed, long_seed = np.random.SeedSequence([ctx.cfg["seed"], STREAM_TAG]).generate_state(2)
    fps, exact = fixed_points(ctx, test, int(fp_seed))
    long = long_rollouts(ctx, test, int(long_seed))
    write_zarr(
        long_rollouts_dataset(
            pred_ds,
            long.pred,
            long.truth,
            long.t,
            long.ok,
            attrs={"model": ctx.run.meta["model_key"], "bound": test.bound},
        ),
        out / LONG,
    )
    # PRF21's reduced-coordinate measures (E(T), N_fail, both protocols) for runs on reduced
    # coordinates: a chart's, or ingested ones (already reduced). Not for a simulated state-space
    # system, where the authors' protocol (every snapshot of every trajectory a start) costs
    # minutes and the state-space metrics above already judge the run.
    latent = None
    if ctx.chart is not None or ctx.system is None:
        latent = latent_metrics(
            ctx.field, ctx.args, test, ctx.cfg, fps, ctx.chart, reducer, fields, everything=_every_trajectory(ctx)
        )
    if latent is not None and pde_states and reducer and ctx.chart is not None:
        latent["pde_steady_states"] = compare_pde_states(
            read_zarr(pde_states), PCA.load(reducer), ctx.chart, fps, latent
        )
    # PRF21's one-step error (pairs inside the store's bursts) and the periodic orbits
    starts = (
        None
        if store_grid(ctx.ds, ctx.data).uniform
        else store_grid(ctx.ds, ctx.data).pair_starts(int(ctx.run.meta["lag"]))
    )
    extra = extra_metrics(
        ctx.spec,
        ctx.system,
        ctx.run,
        ctx.field,
        ctx.args,
        test.full,
        long.pred,
        long.truth,
        long.t,
        float(np.linalg.norm(ctx.run.norm.scale)),
        starts=starts,
    )
    if latent is not None and pde_orbits and reducer and ctx.chart is not None:
        from . import pde_orbits as orbits_stage

        latent["pde_periodic_orbits"] = orbits_stage.compare(
            read_zarr(pde_orbits),
            PCA.load(reducer),
            ctx.chart,
            ctx.field,
            ctx.args,
            extra["periodic_orbits"]["learned"],
            length_scale=float(np.linalg.norm(ctx.run.norm.scale)),
            rtol=ctx.cfg["orbit_rtol"],
        )
    metrics = {**assemble_metrics(ctx, test, fps, exact, long, latent), **extra}
    metrics["evaluate_seconds"] = time.perf_counter() - t_start
    metrics["provenance"] = ctx.provenance
    write_json(out / METRICS, metrics)
    log.info("wrote %s in %.1f s", out, metrics["evaluate_seconds"])


def run_system(
    spec: dict,
    data: str,
    models: dict[str, str],
    evals: dict[str, str],
    reducer: str | None = None,
    fields: str | None = None,
    pde_states: str | None = None,
    pde_orbits: str | None = None,
) -> None:
    """Every run of one system in this process (``spec``: the system, its evaluation settings
    and ``runs``, each run's ``model`` and ``latent``), each exactly as ``run`` evaluates it
    alone: the workflow's per-system job (config ``jobs.evaluate_per_system``), which pays the
    start-up (imports, JAX's backend) once. ``models`` and ``evals``: run -> checkpoint and
    output folder."""
    names = [r["model"] for r in spec["runs"]]
    for flag, given in (("--model", models), ("--eval", evals)):
        if sorted(given) != sorted(names):
            raise UserError(
                f"onsagerflow evaluate-system: {flag} names {sorted(given)}, the spec's runs {sorted(names)}"
            )
    shared = {k: v for k, v in spec.items() if k != "runs"}
    for i, r in enumerate(spec["runs"], 1):
        log.info("run %d of %d: %s", i, len(names), r["model"])
        run({**shared, **r}, data, models[r["model"]], evals[r["model"]], reducer, fields, pde_states, pde_orbits)


def load_context(spec: dict, data: str, model_dir: str) -> Context:
    sys_spec = spec["system"]
    # Ingested data have no simulator: no exact fixed points and no true long rollouts, so
    # those metrics are null (and their table columns absent), never made up.
    system: Any = get_system(sys_spec["type"]) if sys_spec["type"] in known_systems() else None
    ds = open_store(data)
    run_ = load_run(model_dir)
    field, args = physical_field(run_.model, run_.norm)
    return Context(
        spec=spec,
        cfg=spec["evaluation"],
        system=system,
        ds=ds,
        data=data,
        variable=observed(ds, data),
        run=run_,
        field=field,
        args=args,
        chart=run_.chart if spec.get("latent") else None,
        provenance=stamp(spec),
    )


def test_rollouts(ctx: Context) -> TestRollouts:
    """Rollouts of every held-out test trajectory from its first state, on the store's coarse
    grid (every sample, or the first of each burst)."""
    ds, cfg = ctx.ds, ctx.cfg
    grid = store_grid(ds, ctx.data)
    ids = np.flatnonzero(split_mask(ds, "test"))
    full = split_array(ds, ctx.variable, "test")
    train = split_array(ds, ctx.variable, "train")
    y_test = None
    if ctx.chart is not None:
        y_test = full[:, grid.starts] if not grid.uniform else full
        full, train = ctx.chart.encode(full), ctx.chart.encode(train)
    coarse = np.arange(len(grid.time)) if grid.uniform else grid.starts
    t, truth = grid.coarse_time, full[:, coarse]
    # error times and the error curve count from each trajectory's first sample; none may lie
    # beyond the data
    since = t - t[0]
    where = f"systems.{ctx.spec['system']['name']}: evaluation"
    check_times_within(cfg["error_times"], since[-1], f"{where}.error_times", f"the length of the data in {ctx.data}")
    if ctx.chart is not None:
        check_times_within(cfg["horizons"], since[-1], f"{where}.horizons", f"the length of the data in {ctx.data}")
    center = ctx.run.norm.mean
    radius = float(np.max(np.linalg.norm(train - center, axis=-1)))
    bound = cfg["bound_factor"] * radius
    pred, ok = integrate(
        ctx.field, truth[:, 0], t, args=ctx.args, rtol=cfg["rtol"], atol=cfg["atol"], bound=bound, center=center
    )
    log.info("test rollouts: %d trajectories, %d stayed within the bound", len(ok), int(ok.sum()))
    return TestRollouts(
        ids,
        t,
        since,
        truth,
        y_test,
        grid.time,
        coarse,
        full,
        train,
        pred,
        ok,
        relative_error(pred, truth),
        bound,
        center,
    )


def write_predictions(ctx: Context, test: TestRollouts, path: Path) -> xr.Dataset:
    """The test rollouts as a canonical store (latent runs: in their own coordinates)."""
    ds, meta, variable = ctx.ds, ctx.run.meta, ctx.variable
    var = ds[variable]
    state_dims = var.dims[2:]
    coords: dict[Hashable, tuple[Any, ...]] = {d: ((d,), ds[d].values) for d in state_dims if d in ds.coords}
    if ctx.chart is not None:  # predictions live in the run's own latent coordinates
        coords = {state_dims[0]: ((state_dims[0],), latent_labels(test.pred.shape[-1]))}
    pred_ds = build_dataset(
        system=ds.attrs["system"],
        data_vars={
            variable: (
                var.dims,
                test.pred,
                {**var.attrs, "long_name": f"{meta['run']} rollout of " + var.attrs.get("long_name", variable)},
            )
        },
        time=test.t,
        time_units=ds["time"].attrs.get("units", "1"),
        time_long_name=ds["time"].attrs.get("long_name", "time"),
        split=np.full(len(test.ids), Split.TEST, np.int8),
        trajectory=ds["trajectory"].values[test.ids],
        trajectory_coords={"rollout_ok": test.ok.astype(np.int8)},
        coords=coords,
        attrs={"observed": variable, "model": meta["run"], "source_store": str(ctx.data), **ctx.provenance},
    )
    write_store(pred_ds, path, dims=state_dims, allow_nan=True)
    return pred_ds


def _every_trajectory(ctx: Context) -> np.ndarray:
    """Every trajectory of the store on its full time axis, in the run's coordinates."""
    h = np.asarray(ctx.ds[ctx.variable].values)
    return ctx.chart.encode(h) if ctx.chart is not None else h


def _frames(test: TestRollouts) -> np.ndarray:
    return test.train.reshape(-1, test.train.shape[-1])


def fixed_points(ctx: Context, test: TestRollouts, seed: int) -> tuple[list[dict], list[dict] | None]:
    """Fixed points of the learned field (Newton from training states and from uniform points of
    the data's box) and, where the system knows its own, how they match the exact ones."""
    norm = ctx.run.norm
    length_scale = float(np.linalg.norm(norm.scale))
    field_scale = length_scale / norm.time_scale
    fps = fixed_points_from_data(
        ctx.field,
        _frames(test),
        ctx.cfg["fixed_point_starts"],
        seed,
        args=ctx.args,
        length_scale=length_scale,
        field_scale=field_scale,
    )
    log.info("fixed points: %s", [(np.round(p["x"], 3).tolist(), p["kind"]) for p in fps])
    system, sys_spec = ctx.system, ctx.spec["system"]
    exact = system.exact_fixed_points(sys_spec) if ctx.chart is None and hasattr(system, "exact_fixed_points") else None
    exact_match = (
        match_exact(fps, exact, system.field(sys_spec), length_scale=length_scale) if exact is not None else None
    )
    return fps, exact_match


def long_rollouts(ctx: Context, test: TestRollouts, seed: int) -> LongRollouts:
    """Long rollouts from random starts (the system's own sampler, else training states), and
    the true system's from the same starts where a simulator can give them."""
    cfg, system, sys_spec = ctx.cfg, ctx.system, ctx.spec["system"]
    n_long = cfg["long_rollouts"]
    frames = _frames(test)
    starts = (
        system.sample_initial_states(sys_spec, n_long, seed)
        if ctx.chart is None and hasattr(system, "sample_initial_states")
        else frames[np.random.default_rng(seed).choice(len(frames), n_long)]
    )
    t_long = np.arange(0.0, cfg["long_t_end"] + 0.5 * cfg["long_dt_save"], cfg["long_dt_save"])
    pred, ok = integrate(
        ctx.field,
        starts,
        t_long,
        args=ctx.args,
        rtol=cfg["long_rtol"],
        atol=cfg["long_atol"],
        bound=test.bound,
        center=test.center,
    )
    log.info("long rollouts: %d of %d bounded up to t = %g", int(ok.sum()), n_long, t_long[-1])
    truth = system.solve(sys_spec, starts, t_long) if ctx.chart is None and hasattr(system, "solve") else None
    return LongRollouts(t_long, pred, ok, truth)


def assemble_metrics(
    ctx: Context,
    test: TestRollouts,
    fps: list[dict],
    exact: list[dict] | None,
    long: LongRollouts,
    latent: dict | None,
) -> dict:
    """metrics.json, without the timing and provenance the caller adds."""
    meta, cfg, t = ctx.run.meta, ctx.cfg, test.t
    return {
        "system": ctx.spec["system"]["name"],
        "model": meta["run"],
        "model_key": meta["model_key"],
        "latent": ctx.spec.get("latent"),
        "model_type": meta["model_spec"]["type"],
        "autoencoder": bool(meta["model_spec"].get("autoencoder")),
        "param_count": meta["param_count"],
        "n_test_trajectories": int(len(test.ids)),
        "test_rollouts_bounded": int(test.ok.sum()),
        "relative_error": error_curve(test.err, test.since, max(1, len(t) // ERROR_CURVE_POINTS)),
        "relative_error_at": error_at(test.err, test.since, cfg["error_times"]),
        "time_to_threshold": time_to_threshold(test.err, test.since, cfg["error_threshold"]),
        "fixed_points": fps,
        "boundedness_guarantee": _guarantee(ctx.run.model),
        "exact_fixed_points": exact,
        "long_rollouts": {
            "n": len(long.ok),
            "t_end": float(long.t[-1]),
            "n_bounded": int(long.ok.sum()),
            "bound": test.bound,
            "center": test.center.tolist(),
        },
        "long_time_statistics": {
            "discard": cfg["long_discard"],
            "model": long_time_statistics(long.pred, long.t, cfg["long_discard"]),
            "truth": (
                long_time_statistics(long.truth, long.t, cfg["long_discard"]) if long.truth is not None else None
            ),
        },
        "training": training_summary(meta),
        "latent_metrics": latent,
    }


def _guarantee(model) -> dict | None:
    """Whether the learned OnsagerNet is bounded by construction: far out, with ReQUr
    φ, dV/dt < 0 when the forcing grows slower than 2αβ (‖F‖₂ < 2αβ, model units).
    Where it is not, boundedness is only what the long rollouts observe. The bound needs
    M ⪰ αI: a dissipation restricted to some components (``dissipative``) gives none."""
    if not hasattr(model, "F"):
        return None
    growth = float(np.linalg.norm(np.asarray(model.F[...]), 2))
    limit = 2 * model.alpha * model.beta if getattr(model, "dissipative", None) is None else 0.0
    return {"forcing_growth": growth, "two_alpha_beta": limit, "guaranteed": growth < limit}
