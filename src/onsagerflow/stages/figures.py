"""``onsagerflow figures``, ``potential`` and ``accuracy``: the figures of a system learned on its
stored state (attractor, errors, training curves, learned potential) and the accuracy bar charts.
A reduced field system's figures are in ``figures_fields``, a polymer run's in ``figures_polymer``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import read_zarr
from ..data.cf import axis_label, component_labels, with_units
from ..figures.attractor import attractor_figure
from ..figures.common import save_figure
from ..figures.errors import error_figure
from ..figures.potential import plane_through, potential_figure
from ..figures.training import training_figure
from ..provenance import stamp
from ..systems import get_system
from ..training.files import HISTORY
from .common import load_run, read_json

log = logging.getLogger("onsagerflow.figures")


def run(spec: dict, models: dict[str, str], evals: dict[str, str], out_dir: str) -> None:
    """attractor, error_vs_time and training_curves of one system."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sys_spec = spec["system"]
    name = sys_spec["name"]
    provenance = stamp(spec)
    metrics = {m: read_json(Path(evals[m]) / "metrics.json") for m in spec["models"]}
    longs = {m: read_zarr(Path(evals[m]) / "long_rollouts.zarr").load() for m in spec["models"]}
    exact = None
    first = metrics[spec["models"][0]]
    if first.get("exact_fixed_points"):
        exact = np.array([p["x"] for p in first["exact_fixed_points"]])

    long0 = longs[spec["models"][0]]
    truth = long0["truth"].values if "truth" in long0 else None
    orbits = {m: metrics[m]["periodic_orbits"]["learned"] for m in spec["models"]}
    orbits["truth"] = first["periodic_orbits"]["exact"] or []
    fig = attractor_figure(
        truth,
        {m: longs[m]["model"].values for m in spec["models"]},
        {m: metrics[m]["fixed_points"] for m in spec["models"]},
        exact,
        labels=component_axis_labels(long0, "model"),
        title=f"{name}: long rollouts from the same random starts",
        orbits=orbits,
    )
    save_figure(fig, out / "attractor", provenance, f"{name} attractor")

    threshold = first["time_to_threshold"]["threshold"]
    fig = error_figure(
        {m: metrics[m]["relative_error"] for m in spec["models"]},
        threshold,
        title=f"{name}: {first['n_test_trajectories']} held-out test trajectories",
        time_label=axis_label(long0["time"]),
        edge={m: metrics[m]["edge_rollouts"] for m in spec["models"]} if "edge_rollouts" in first else None,
    )
    save_figure(fig, out / "error_vs_time", provenance, f"{name} error vs time")

    histories = {m: pd.read_csv(Path(models[m]) / HISTORY) for m in spec["models"]}
    fig = training_figure(
        histories,
        {m: metrics[m]["training"]["best_epoch"] for m in spec["models"]},
        title=f"{name}: training (thin) and validation (thick) loss; dotted: best epoch",
    )
    save_figure(fig, out / "training_curves", provenance, f"{name} training curves")
    log.info("wrote figures of %s to %s", name, out)


def component_axis_labels(ds, variable: str) -> list[str]:
    """Axis labels of a store's components: their names with the variable's units
    ("x (dimensionless)", "x [m]")."""
    units = str(ds[variable].attrs.get("units", "1"))
    return [with_units(c, units) for c in component_labels(ds, ds[variable].dims[-1])]


def run_potential(spec: dict, model_dir: str, eval_dir: str, out_stem: str) -> None:
    """The learned potential of one model on the plane through the fixed points; for a damped
    oscillator (a 2D state with a known energy) PRF21 Fig. 3 instead."""
    import jax

    from ..models.dynamics import physical_potential

    sys_spec = spec["system"]
    if sys_spec["type"] == "langevin":
        return _energy(spec, model_dir, eval_dir, out_stem)
    name, key = sys_spec["name"], spec["model"]
    provenance = stamp(spec)
    metrics = read_json(Path(eval_dir) / "metrics.json")
    exact = np.array([p["x"] for p in metrics["exact_fixed_points"]]) if metrics.get("exact_fixed_points") else None
    long = read_zarr(Path(eval_dir) / "long_rollouts.zarr")
    truth = long["truth"].isel(start=0).values if "truth" in long else None
    run = load_run(model_dir)
    norm = run.norm
    potential = jax.jit(physical_potential(run.model, norm))
    learned = metrics["fixed_points"]
    candidates = [exact] if exact is not None and len(exact) >= 3 else []
    if len(learned) >= 3:
        candidates.append(np.array([p["x"] for p in learned]))
    origin: np.ndarray | None = None
    basis: np.ndarray | None = None
    for pts in candidates:
        try:
            origin, basis = plane_through(pts)
            break
        except ValueError:
            continue
    if origin is None or basis is None:  # no three fixed points: the plane of the two widest directions
        origin = norm.mean
        basis = np.eye(len(norm.mean))[np.argsort(norm.scale)[::-1][:2]]
    points = [np.asarray(p["x"]) for p in learned] + ([*exact] if exact is not None else [])
    spread = max([float(np.linalg.norm(p - origin)) for p in points] + [float(np.linalg.norm(norm.scale))])
    fig = potential_figure(
        potential,
        origin,
        basis,
        extent=1.5 * spread,
        learned=learned,
        exact=exact,
        traj=truth,
        title=f"{name}: learned potential V of {key} on the plane through the fixed points",
        units=str(long["model"].attrs.get("units", "1")),
    )
    save_figure(fig, out_stem, provenance, f"{name} potential {key}")
    log.info("wrote %s", out_stem)


def _energy(spec: dict, model_dir: str, eval_dir: str, out_stem: str) -> None:
    """PRF21 Fig. 3: H, the learned V after the authors' alignment, and their difference."""
    import jax

    from ..analysis.energy import energy_errors
    from ..figures.energy import energy_figure
    from ..models.dynamics import physical_potential

    sys_spec = spec["system"]
    system = get_system(sys_spec["type"])
    metrics = read_json(Path(eval_dir) / "metrics.json", needs=("energy",))
    grid = metrics["energy"]["grid"]
    run = load_run(model_dir)
    e = energy_errors(
        jax.jit(physical_potential(run.model, run.norm)),
        system.energy(sys_spec),
        grid["low"],
        grid["high"],
        grid["n"],
        metrics["energy"]["authors_alignment"],
    )
    how = e["authors_alignment"]
    aligned = e["fields"][how]
    if not np.isfinite(aligned).all():  # the authors' alignment is undefined here: show the affine one
        how = "affine"
        aligned = e["fields"][how]
    p = sys_spec["parameters"]
    fig = energy_figure(
        e["fields"]["axes"],
        e["fields"]["exact"],
        aligned,
        alignment=how,
        error=e["relative_l2_error"]["authors" if how == e["authors_alignment"] else "affine"],
        title=f"{sys_spec['name']}: {p['potential']} potential, {p['damping']} damping; model {spec['model']} "
        f"(affine-fit error {e['relative_l2_error']['affine']:.2%})",
    )
    save_figure(fig, out_stem, stamp(spec), f"{sys_spec['name']} energy {spec['model']}")
    log.info("wrote %s", out_stem)


def run_accuracy(metrics_files: list[str], out_stem: str) -> None:
    """PRF21 Figs. 2a, 7, 8: accuracy bars over activations, networks and seeds, per system."""
    from ..figures.accuracy import accuracy_figure, accuracy_table

    runs = []
    for f in metrics_files:
        m = read_json(f)
        one = m.get("one_step_error")
        if one is None:  # a model without the one-step error (a stochastic one): not in this figure
            continue
        spec = m["model_spec"]
        runs.append(
            {
                "system": m["system"],
                "type": spec["type"],
                "activation": spec.get("activation"),
                "params": m["param_count"],
                "seed": m["training_seed"],
                "accuracy": one["accuracy"],
            }
        )
    table = accuracy_table(runs)
    fig = accuracy_figure(
        table, title="one-step test error as in PRF21's bar charts: bar = mean over seeds of −log₁₀ MSE"
    )
    save_figure(fig, out_stem, stamp({"accuracy": sorted(metrics_files)}), "accuracy")
    log.info("wrote %s (%d runs)", out_stem, len(runs))
