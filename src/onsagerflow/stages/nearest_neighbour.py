"""``onsagerflow nearest-neighbour``: PRF21's Table II baseline on a latent store's first n PCA
coordinates — E(T) and N_fail of the nearest-neighbour predictor on the held-out test
trajectories, by our definitions and the authors' (their test_ode_nn.py, on their test split)."""

from __future__ import annotations

import logging
import time

import numpy as np

from ..analysis.metrics import authors_horizon_error, horizon_error
from ..analysis.nearest_neighbour import nearest_neighbour_predict
from ..data import open_store
from ..provenance import stamp
from .common import baseline_latent_metrics, observed, split_array, store_grid, write_json

log = logging.getLogger("onsagerflow.nearest_neighbour")

MODEL = "nearest_neighbour"


def run(spec: dict, data: str, out: str) -> None:
    t0 = time.perf_counter()
    ds = open_store(data)
    variable, n, cfg = observed(ds, data), spec["latent"], spec["evaluation"]
    grid = store_grid(ds, data)
    coarse = np.arange(len(grid.time)) if grid.uniform else grid.starts
    t = grid.coarse_time
    library = split_array(ds, variable, "train")[:, coarse, :n]
    test = split_array(ds, variable, "test")[:, coarse, :n]
    dt = np.diff(t)
    if not np.allclose(dt, dt[0], rtol=1e-8):
        raise ValueError(f"{data}: the nearest-neighbour predictor needs a uniform coarse grid")
    rms = np.sqrt(np.mean(np.sum(test**2, axis=-1), axis=1))  # the authors': over the coarse snapshots
    horizons, authors = {}, {}
    for T in sorted(cfg["horizons"]):
        lag = int(round(T / dt[0]))
        if abs(lag * dt[0] - T) > 1e-6 * dt[0] or not 1 <= lag < len(t):
            continue
        starts = np.arange(len(t) - lag)
        pred = nearest_neighbour_predict(library, test, starts, lag)
        truth = test[:, starts + lag]
        horizons[f"{T:g}"] = horizon_error(pred, truth)
        authors[f"{T:g}"] = authors_horizon_error(pred, truth, rms)
    end = nearest_neighbour_predict(library, test, np.array([0]), len(t) - 1)[:, 0]
    metrics = {
        "system": spec["system"]["name"],
        "model": f"{MODEL}-n{n}",
        "model_key": MODEL,
        "latent": n,
        "model_type": MODEL,
        "autoencoder": False,
        "param_count": 0,
        "n_test_trajectories": int(test.shape[0]),
        "test_rollouts_bounded": int(test.shape[0]),
        "library_trajectories": int(library.shape[0]),
        # nothing is trained (the train split is the predictor): no training record, no warnings
        "training": {"fitted": False, "warnings": []},
        "latent_metrics": baseline_latent_metrics(horizons, authors, end, test, cfg),
        "evaluate_seconds": time.perf_counter() - t0,
        "provenance": stamp(spec),
    }
    write_json(out, metrics)
    log.info("nearest neighbour on n = %d: %s; wrote %s", n, {k: round(v["mean"], 4) for k, v in horizons.items()}, out)
