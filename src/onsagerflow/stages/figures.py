"""``onsagerflow figures``: every figure of one system from its evaluations and checkpoints."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import read_zarr
from ..figures.attractor import attractor_figure
from ..figures.common import save_figure
from ..figures.errors import error_figure
from ..figures.potential import plane_through, potential_figure
from ..figures.training import training_figure
from ..provenance import stamp
from ..training.checkpoint import HISTORY

log = logging.getLogger("onsagerflow.figures")

def run(spec: dict, models: dict[str, str], evals: dict[str, str], out_dir: str) -> None:
    """attractor, error_vs_time and training_curves of one system."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sys_spec = spec["system"]
    name = sys_spec["name"]
    provenance = stamp(spec)
    metrics = {m: json.loads((Path(evals[m]) / "metrics.json").read_text()) for m in spec["models"]}
    longs = {m: read_zarr(Path(evals[m]) / "long_rollouts.zarr").load()
             for m in spec["models"]}
    exact = None
    first = metrics[spec["models"][0]]
    if first.get("exact_fixed_points"):
        exact = np.array([p["x"] for p in first["exact_fixed_points"]])

    truth = longs[spec["models"][0]]["truth"].values if "truth" in longs[spec["models"][0]] else None
    fig = attractor_figure(truth, {m: longs[m]["model"].values for m in spec["models"]},
                           {m: metrics[m]["fixed_points"] for m in spec["models"]}, exact,
                           title=f"{name}: long rollouts from the same random starts")
    save_figure(fig, out / "attractor", provenance, f"{name} attractor")

    threshold = first["time_to_threshold"]["threshold"]
    fig = error_figure({m: metrics[m]["relative_error"] for m in spec["models"]}, threshold,
                       title=f"{name}: {first['n_test_trajectories']} held-out test trajectories")
    save_figure(fig, out / "error_vs_time", provenance, f"{name} error vs time")

    histories = {m: pd.read_csv(Path(models[m]) / HISTORY) for m in spec["models"]}
    fig = training_figure(histories, {m: metrics[m]["training"]["best_epoch"] for m in spec["models"]},
                          title=f"{name}: training (thin) and validation (thick) loss; dotted: best epoch")
    save_figure(fig, out / "training_curves", provenance, f"{name} training curves")
    log.info("wrote figures of %s to %s", name, out)


def run_potential(spec: dict, model_dir: str, eval_dir: str, out_stem: str) -> None:
    """The learned potential of one model on the plane through the fixed points."""
    import jax

    from ..models.dynamics import as_float64, physical_potential
    from ..training import load_checkpoint

    sys_spec = spec["system"]
    name, key = sys_spec["name"], spec["model"]
    provenance = stamp(spec)
    metrics = json.loads((Path(eval_dir) / "metrics.json").read_text())
    exact = (np.array([p["x"] for p in metrics["exact_fixed_points"]])
             if metrics.get("exact_fixed_points") else None)
    long = read_zarr(Path(eval_dir) / "long_rollouts.zarr")
    truth = long["truth"].isel(start=0).values if "truth" in long else None
    model, norm, _ = load_checkpoint(model_dir)
    potential = jax.jit(physical_potential(as_float64(model), norm))
    learned = metrics["fixed_points"]
    candidates = [exact] if exact is not None and len(exact) >= 3 else []
    if len(learned) >= 3:
        candidates.append(np.array([p["x"] for p in learned]))
    origin = basis = None
    for pts in candidates:
        try:
            origin, basis = plane_through(pts)
            break
        except ValueError:
            continue
    if origin is None:  # no three fixed points: the plane of the two widest directions
        origin = norm.mean
        basis = np.eye(len(norm.mean))[np.argsort(norm.scale)[::-1][:2]]
    pts = [np.asarray(p["x"]) for p in learned] + ([*exact] if exact is not None else [])
    spread = max([np.linalg.norm(p - origin) for p in pts] + [float(np.linalg.norm(norm.scale))])
    fig = potential_figure(potential, origin, basis, extent=1.5 * spread, learned=learned, exact=exact,
                           traj=truth,
                           title=f"{name}: learned potential V of {key} on the plane through the fixed points")
    save_figure(fig, out_stem, provenance, f"{name} potential {key}")
    log.info("wrote %s", out_stem)
