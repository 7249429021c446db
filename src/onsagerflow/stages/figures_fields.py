"""``onsagerflow figures-fields`` and ``potential-3d``: the figures of a reduced field system
(RBC): variance spectrum, training curves, latent trajectories, decoded fields, and a 3D view
of a run's learned potential."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import read_zarr
from ..figures.common import save_figure
from ..provenance import stamp
from ..training.files import HISTORY
from .common import load_run, read_json

log = logging.getLogger("onsagerflow.figures")


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
