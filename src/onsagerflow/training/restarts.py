"""Several initialisations screened briefly, the best continued: against training that stalls.

A small net can start in a basin it never leaves: PRF21's double-well OnsagerNet (one hidden
layer of 12) from some initialisations ends 5 orders of magnitude above the runs that learn,
with a V that is not the double well, whatever the optimiser settings. Which start stalls
shows early: the stalled runs' validation loss is already an order of magnitude above the
others' after a few tens of epochs. ``training.restarts`` trains ``count`` initialisations
(seeds ``seed + i·RESTART_SEED_STRIDE``, i = 0, 1, ...) for ``epochs`` epochs each, and the
run is then the ordinary full run, on the same windows, from the seed (initialisation and
shuffling) whose validation loss was lowest. Only the validation split decides; test data play
no part. ``count`` 1 (the default) trains the configured seed alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from flax import nnx

from ..errors import TrainingFailed
from .trainer import fit

log = logging.getLogger("onsagerflow.training")

# The seeds of the candidates are this far apart, so that copies of a model with nearby seeds
# (``seeds: [0, 1, 2]``) screen disjoint sets of initialisations.
RESTART_SEED_STRIDE = 1000


def screen_seeds(
    build: Callable[[int], nnx.Module],
    train,
    val,
    *,
    tau,
    cfg: Mapping[str, Any],
    loss: Callable | None = None,
) -> tuple[int, list[dict]]:
    """(seed, trials): the seed whose model, built by ``build(seed)`` and trained for
    ``cfg["restarts"]["epochs"]`` epochs, reached the lowest validation loss, and every
    candidate's seed and best validation loss (inf for one that diverged). ``cfg`` is a
    validated training block; with ``restarts.count`` 1 its own seed, and no trials."""
    count, epochs = cfg["restarts"]["count"], cfg["restarts"]["epochs"]
    if count == 1:
        return int(cfg["seed"]), []
    short = {**cfg, "epochs": epochs, "early_stopping": {**cfg["early_stopping"], "patience": epochs}}
    trials = []
    for i in range(count):
        seed = int(cfg["seed"]) + i * RESTART_SEED_STRIDE
        try:
            val_loss = fit(build(seed), train, val, tau=tau, cfg=short, seed=seed, loss=loss).best_val_loss
        except TrainingFailed as exc:
            log.info("restart candidate seed %d diverged: %s", seed, exc)
            val_loss = np.inf
        trials.append({"seed": seed, "val_loss": float(val_loss)})
        log.info(
            "restart candidate %d/%d (seed %d): val loss %.4e after %d epochs", i + 1, count, seed, val_loss, epochs
        )
    best = min(trials, key=lambda t: t["val_loss"])
    if not np.isfinite(best["val_loss"]):
        raise TrainingFailed(f"every one of the {count} restart candidates diverged; lower training.learning_rate")
    log.info("restarts: seed %d continues (val loss %.4e)", best["seed"], best["val_loss"])
    return int(best["seed"]), trials
