"""``onsagerflow lstm-baseline``: PRF21's Table III baseline, a discrete-time LSTM
(``models.lstm``) on a latent store's first n PCA coordinates at the coarse samples — trained
on the train split (teacher forcing, mean squared error of the next state, Adam; the best
validation loss kept), judged on the held-out test trajectories by E(T) and N_fail under our
definitions and the authors', as the nearest-neighbour baseline is (rows ``lstm-n<n>`` of the
latent table).

Windows: ``sequence_length`` samples on from every start of the train trajectories, or
(null) each whole trajectory from its first sample — the authors' two settings are null
("long") and 1 ("short"). States are centred by the train mean and divided by one scale, the
RMS distance from it per component (the authors divide by a fixed 10).
"""

from __future__ import annotations

import logging
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ..analysis.metrics import authors_horizon_error, horizon_error
from ..data import open_store
from ..models.layers import param_count
from ..models.lstm import LSTMBaseline, lstm_rollout
from ..provenance import stamp
from ..runtime import progress
from ..training import make_windows
from .common import baseline_latent_metrics, observed, split_array, store_grid, write_json

log = logging.getLogger("onsagerflow.lstm_baseline")

MODEL = "lstm"
VALIDATE_EVERY = 10  # epochs between validation losses (early stopping counts in epochs)


def _loss(model: LSTMBaseline, batch):
    return jnp.mean((model.teacher_forced(batch) - batch[:, 1:]) ** 2)


@nnx.jit
def _train_step(model, optimizer, batch):
    loss, grads = nnx.value_and_grad(_loss)(model, batch)
    optimizer.update(model, grads)
    return loss


_val_loss = nnx.jit(_loss)


def fit(train: np.ndarray, val: np.ndarray, n: int, cfg: dict) -> tuple[LSTMBaseline, dict]:
    """Train on windows of the (normalised) train trajectories (traj, time, n); keep the
    parameters of the best validation loss (whole validation trajectories)."""
    length = train.shape[1] - 1 if cfg["sequence_length"] is None else min(cfg["sequence_length"], train.shape[1] - 1)
    windows = jnp.asarray(make_windows(train, lag=1, steps=length))
    val_seq = jnp.asarray(val)
    model = LSTMBaseline(
        n, hidden=cfg["hidden"], init_hidden=cfg["init_hidden"], layers=cfg["layers"], rngs=nnx.Rngs(cfg["seed"])
    )
    optimizer = nnx.Optimizer(model, optax.adam(cfg["learning_rate"]), wrt=nnx.Param)
    rng = np.random.default_rng(cfg["seed"])
    batch = min(cfg["batch_size"], len(windows))
    best, best_state, since, epoch, train_loss = np.inf, nnx.state(model), 0, 0, np.nan
    for epoch in progress(range(1, cfg["epochs"] + 1), desc="LSTM epochs"):
        order = rng.permutation(len(windows))
        losses = [
            float(_train_step(model, optimizer, windows[order[i : i + batch]])) for i in range(0, len(order), batch)
        ]
        train_loss = float(np.mean(losses))
        if epoch % VALIDATE_EVERY == 0 or epoch == cfg["epochs"]:
            v = float(_val_loss(model, val_seq))
            if v < best:
                best, best_state, since = v, jax.tree.map(jnp.copy, nnx.state(model)), 0
            else:
                since += VALIDATE_EVERY
            if epoch % (10 * VALIDATE_EVERY) == 0:
                log.info("epoch %d: train loss %.3e, validation loss %.3e", epoch, train_loss, v)
            if since >= cfg["patience"]:
                log.info("early stop at epoch %d: no better validation loss for %d epochs", epoch, since)
                break
    nnx.update(model, best_state)
    return model, {
        "fitted": True,
        "warnings": [],
        "epochs": epoch,
        "final_train_loss": train_loss,
        "best_validation_loss": best,
        "windows": int(len(windows)),
        "window_steps": int(length),
    }


def run(spec: dict, data: str, out: str) -> None:
    t0 = time.perf_counter()
    ds = open_store(data)
    variable, n, cfg, lc = observed(ds, data), spec["latent"], spec["evaluation"], spec["lstm"]
    grid = store_grid(ds, data)
    coarse = np.arange(len(grid.time)) if grid.uniform else grid.starts
    t = grid.coarse_time
    dt = np.diff(t)
    if not np.allclose(dt, dt[0], rtol=1e-8):
        raise ValueError(f"{data}: the LSTM baseline needs a uniform coarse grid")
    train, val, test = (
        split_array(ds, variable, s)[:, coarse, :n].astype(np.float64) for s in ("train", "val", "test")
    )
    mean = train.reshape(-1, n).mean(axis=0)
    scale = float(np.sqrt(np.mean((train - mean) ** 2)))
    model, record = fit((train - mean) / scale, (val - mean) / scale, n, lc)
    # closed-loop rollouts from every coarse snapshot of every test trajectory
    m = len(t)
    starts = ((test[:, : m - 1] - mean) / scale).reshape(-1, n)
    ys = np.asarray(lstm_rollout(model, jnp.asarray(starts), m - 1)).reshape(test.shape[0], m - 1, m - 1, n)
    ys = ys * scale + mean  # (traj, start, step − 1, n)
    rms = np.sqrt(np.mean(np.sum(test**2, axis=-1), axis=1))  # the authors': over the coarse snapshots
    horizons, authors = {}, {}
    for T in sorted(cfg["horizons"]):
        lag = int(round(T / dt[0]))
        if abs(lag * dt[0] - T) > 1e-6 * dt[0] or not 1 <= lag < m:
            continue
        pred = ys[:, : m - lag, lag - 1]
        truth = test[:, lag:]
        horizons[f"{T:g}"] = horizon_error(pred, truth)
        authors[f"{T:g}"] = authors_horizon_error(pred, truth, rms)
    end = ys[:, 0, -1]
    bounded = np.isfinite(ys[:, 0]).all(axis=(1, 2))
    metrics = {
        "system": spec["system"]["name"],
        "model": f"{MODEL}-n{n}",
        "model_key": MODEL,
        "latent": n,
        "model_type": MODEL,
        "autoencoder": False,
        "param_count": param_count(model),
        "n_test_trajectories": int(test.shape[0]),
        "test_rollouts_bounded": int(bounded.sum()),
        "lstm": lc,
        "training": record,
        "latent_metrics": baseline_latent_metrics(horizons, authors, end, test, cfg),
        "evaluate_seconds": time.perf_counter() - t0,
        "provenance": stamp(spec),
    }
    write_json(out, metrics)
    log.info("LSTM on n = %d: %s; wrote %s", n, {k: round(v["mean"], 4) for k, v in horizons.items()}, out)
