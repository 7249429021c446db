"""``onsagerflow figures``: every figure of one system from its evaluations and checkpoints."""

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
from ..training.checkpoint import HISTORY
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


def run_fields(
    spec: dict, models: dict[str, str], evals: dict[str, str], reducer: str, data: str, latent: str, out_dir: str
) -> None:
    """variance_spectrum, training_curves, latent_trajectories and temperature_fields of a
    reduced field system."""
    from ..data import open_store, split_mask
    from ..figures.fields import latent_figure, temperature_figure, variance_figure
    from ..models.reducers import PCA

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = spec["system"]["name"]
    provenance = stamp(spec)
    pca = PCA.load(reducer)
    save_figure(
        variance_figure(pca.explained_variance_ratio, title=f"{name}: PCA of {', '.join(pca.fields)} (train split)"),
        out / "variance_spectrum",
        provenance,
        f"{name} variance spectrum",
    )

    metrics = {r: read_json(Path(evals[r]) / "metrics.json") for r in spec["models"]}
    by_n: dict[int, list[str]] = {}
    for r in spec["models"]:
        by_n.setdefault(metrics[r]["latent"], []).append(r)
    histories = {r: pd.read_csv(Path(models[r]) / HISTORY) for r in spec["models"]}
    fig = _training_grid(by_n, histories, {r: metrics[r]["training"]["best_epoch"] for r in spec["models"]}, name)
    save_figure(fig, out / "training_curves", provenance, f"{name} training curves")

    n0 = min((n for n in by_n if n >= 3), default=min(by_n))
    runs = by_n[n0]
    lat = open_store(latent)
    coarse = _coarse_indices(lat)  # predictions are on the coarse grid (burst starts)
    y = lat["h"].isel(trajectory=np.flatnonzero(split_mask(lat, "test")), time=coarse).values
    charts = {r: load_run(models[r]).chart for r in runs}
    preds, truths, steady = {}, {}, {}
    for r in runs:
        p = read_zarr(Path(evals[r]) / "predictions.zarr")
        preds[r] = p[p.attrs["observed"]].values
        truths[r] = charts[r].encode(y)
        steady[r] = [np.asarray(s["h"]) for s in metrics[r]["latent_metrics"]["steady_states"]]
    save_figure(
        latent_figure(
            truths,
            preds,
            {r: metrics[r]["fixed_points"] for r in runs},
            steady,
            title=f"{name}: n = {n0} test trajectories",
        ),
        out / "latent_trajectories",
        provenance,
        f"{name} latent trajectories",
    )

    ds = open_store(data)
    # the test trajectory that moves most in the latent space shows the most
    ref = truths[runs[0]]
    pick = int(np.argmax(np.sum(np.linalg.norm(np.diff(ref, axis=1), axis=-1), axis=1)))
    test = np.flatnonzero(split_mask(ds, "test"))[pick]
    t = ds["time"].values[coarse]
    idx = np.unique(np.linspace(0, len(t) - 1, 4).round().astype(int))
    scalar = [f for f in pca.fields if ds[f].dims[2:] == ("z", "x")]  # a vector field has a component axis
    shown = "theta" if "theta" in scalar else scalar[0]
    true_theta = ds[shown].isel(trajectory=test, time=coarse[idx]).values
    decoded = {}
    for r in runs:
        rows = pca.inverse_rows(pca.pad(charts[r].decode(preds[r][pick, idx])))
        decoded[r] = rows[:, pca.field_block(shown)].reshape(len(idx), *pca.shape)
    units = ds[shown].attrs["units"]
    save_figure(
        temperature_figure(
            true_theta,
            decoded,
            t[idx],
            ds["x"].values,
            ds["z"].values,
            title=f"{name}: {shown} of test trajectory {int(ds['trajectory'][test])}, "
            f"true and decoded from n = {n0} rollouts",
            label=shown if units == "1" else f"{shown} [{units}]",
        ),
        out / "temperature_fields",
        provenance,
        f"{name} temperature fields",
    )
    log.info("wrote figures of %s to %s", name, out)


def run_potential_3d(spec: dict, model_dir: str, eval_dir: str, latent: str, out_stem: str) -> None:
    """The learned potential of a reduced run with 3 latent coordinates in 3D (PRF21 shows its
    isosurfaces): slices through the deepest stable fixed point, fixed points, test trajectories."""
    import jax

    from ..data import open_store, split_mask
    from ..figures.fields import potential_3d_figure
    from ..models.dynamics import physical_potential

    name = spec["system"]["name"]
    loaded = load_run(model_dir)
    if loaded.meta["n"] != 3:
        raise ValueError(
            f"{model_dir}: a 3D view of the potential needs a run on 3 coordinates, not {loaded.meta['n']}"
        )
    metrics = read_json(Path(eval_dir) / "metrics.json")
    lat = open_store(latent)
    coarse = _coarse_indices(lat)
    y = lat["h"].isel(trajectory=np.flatnonzero(split_mask(lat, "test")), time=coarse).values
    h = loaded.chart.encode(y)
    frames = h.reshape(-1, 3)
    lo, hi = frames.min(axis=0), frames.max(axis=0)
    pad = 0.1 * (hi - lo)
    potential = jax.jit(physical_potential(loaded.dynamics, loaded.norm))
    fig = potential_3d_figure(
        potential,
        lo - pad,
        hi + pad,
        metrics["fixed_points"],
        list(h[:4]),
        title=f"{name}: learned potential V of {loaded.meta['run']} (slices through its deepest stable fixed point)",
    )
    save_figure(fig, out_stem, stamp(spec), f"{name} potential 3d")
    log.info("wrote %s", out_stem)


def _coarse_indices(ds) -> np.ndarray:
    """Indices of the coarse grid on a store's time axis: every sample, or each burst's first."""
    from ..data.timegrid import time_grid

    grid = time_grid(ds["time"].values)
    return np.arange(len(grid.time)) if grid.uniform else grid.starts


def _training_grid(by_n, histories, best, name):
    import matplotlib.pyplot as plt

    from ..figures.common import MODEL_COLORS

    ns = sorted(by_n)
    fig, axes = plt.subplots(1, len(ns), figsize=(4.6 * len(ns), 3.6), squeeze=False)
    for ax, n in zip(axes[0], ns):
        for i, r in enumerate(by_n[n]):
            h, col = histories[r], MODEL_COLORS[i % len(MODEL_COLORS)]
            mark = "o" if len(h) == 1 else None  # a model fitted in one go (SINDy): one point
            ax.plot(h["epoch"], h["train_loss"], color=col, lw=0.8, alpha=0.6, marker=mark)
            ax.plot(h["epoch"], h["val_loss"], color=col, lw=1.6, marker=mark, label=r)
            ax.axvline(best[r], color=col, ls=":", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(f"n = {n}", fontsize=9)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("loss (thin: train, thick: val)")
    fig.suptitle(f"{name}: training curves (PRF21 Fig. 10); dotted: kept epoch", fontsize=9)
    fig.tight_layout()
    return fig


def run_polymer(spec: dict, run: str, model_dir: str, eval_dir: str, reducer: str, latent: str, out_dir: str) -> None:
    """landscape, extension, unfolding_times and conformations of a polymer closure run."""
    import jax

    from ..data import Unfolding, open_store, split_mask
    from ..figures.polymer import conformations_figure, extension_figure, landscape_figure, unfolding_figure
    from ..models.dynamics import physical_potential
    from ..models.reducers import PCA
    from .evaluate_sde import decoded_chains

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = spec["system"]["name"]
    provenance = stamp(spec)
    m = read_json(Path(eval_dir) / "metrics.json")
    loaded = load_run(model_dir)
    norm, chart, dyn = loaded.norm, loaded.chart, loaded.dynamics
    lat = open_store(latent)
    test = np.flatnonzero(split_mask(lat, "test"))
    z = chart.encode(lat["h"].isel(trajectory=test).values)
    t = lat["time"].values
    labels = np.asarray(lat["unfolding"].values)[test]
    critical = m["critical_points"] or []  # V's own critical points (none without a potential)

    if z.shape[-1] >= 3:
        v = jax.jit(physical_potential(dyn, norm))
        lo, hi = np.percentile(z.reshape(-1, z.shape[-1]), [0.5, 99.5], axis=0)
        pad = 0.1 * (hi - lo)
        trajs = {
            c.name.lower(): z[np.flatnonzero(labels == c)[0], :, :3]
            for c in (Unfolding.FAST, Unfolding.SLOW)
            if (labels == c).any()
        }
        fig = landscape_figure(
            lambda x: v(np.pad(x, ((0, 0), (0, z.shape[-1] - 3)))),
            lo[:3] - pad[:3],
            hi[:3] + pad[:3],
            critical,
            trajs,
            title=f"{name}: learned potential V of {run}",
        )
        save_figure(fig, out / f"landscape_{run}", provenance, f"{name} landscape")

    groups = {f"ensemble {e['ensemble']} ({e['label']})": e["extension"] for e in m["ensembles"]}
    save_figure(
        extension_figure(
            t, groups, title=f"{name}: extension of held-out ensembles vs {run}", time_label=axis_label(lat["time"])
        ),
        out / f"extension_{run}",
        provenance,
        f"{name} extension",
    )
    groups = {f"ensemble {e['ensemble']} ({e['label']})": e["unfolding_time"] for e in m["ensembles"]}
    save_figure(
        unfolding_figure(groups, float(t[-1]), title=f"{name}: unfolding times", time_label=axis_label(lat["time"])),
        out / f"unfolding_times_{run}",
        provenance,
        f"{name} unfolding times",
    )

    chains = decoded_chains(
        chart, PCA.load(reducer), np.array([c["x"] for c in critical]), int(lat.attrs.get("n_observables", 0))
    )
    save_figure(
        conformations_figure(
            list(chains), critical, title=f"{name}: decoded chains at the critical points of V, {run}"
        ),
        out / f"conformations_{run}",
        provenance,
        f"{name} conformations",
    )
    log.info("wrote figures of %s to %s", name, out)
