"""Did training learn? Two references on the same validation windows, in the same units.

- The model as it started (epoch 0). A run from scratch whose best validation loss is no
  better than that (or above ``training.divergence_factor`` of it) diverged or learned
  nothing: it fails, and no checkpoint is written. A run that starts from a trained model
  (a pre-trained chart or a second training stage) keeps its start when no epoch beats
  it, with a warning.
- The trivial predictor dz/dt = 0 (persistence: z(t + τ) = z(t)), scored by the run's own
  loss. For a likelihood loss it is a random walk: zero drift and constant, independent
  noise in each component, of the size of the train increments (the simplest noise any
  S-OnsagerNet diffusion can represent, so only the drift is being compared). A model that
  never beats it has learned nothing the data show over τ: a warning.

A best epoch in the first ``training.early_best_fraction`` of the epochs is a warning too:
the validation loss stopped falling almost at once, so early stopping kept a barely
trained model.

Both references pool every validation window, so one validation trajectory that goes where
no training pair does (another attractor a few starts reach) can decide the verdict alone:
the model extrapolates there, its loss on that trajectory grows as it fits the rest, and the
pooled loss peaks early or stays above persistence's while the model beats persistence on
every other trajectory. ``by_trajectory`` scores each validation trajectory apart, and
``trajectory_warnings`` names the ones the model loses on, beside the warnings above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import TrainingFailed

RIDGE = 1e-12  # relative floor that keeps the random walk's variances positive


class Persistence:
    """dz/dt = 0 as a model: a zero vector field (``__call__``, ``drift``) and, for
    likelihood losses, a constant diffusion matrix ``cov`` (per unit time)."""

    def __init__(self, cov: np.ndarray):
        self.cov = jnp.asarray(cov)

    def __call__(self, z):
        return jnp.zeros_like(z)

    def drift(self, z):
        return jnp.zeros_like(z)

    def diffusion_matrix(self, z):
        return jnp.broadcast_to(self.cov.astype(z.dtype), (*z.shape[:-1], *self.cov.shape))


def trivial_model(model, train, tau):
    """The trivial counterpart of ``model`` for its own loss: persistence in the space its
    dynamics see (for a model with an autoencoder, that chart as it starts), with the
    diagonal noise covariance diag(E[Δz²])/τ of the train windows' increments.
    ``train`` (N, K+1, n) and ``tau`` are arrays (NumPy or JAX) or numbers."""
    ae = getattr(model, "autoencoder", None)
    h = np.asarray(ae.encode(jnp.asarray(train))) if ae is not None else np.asarray(train)
    dz = np.diff(h, axis=1).reshape(-1, h.shape[-1]).astype(np.float64)
    var = np.mean(dz**2, axis=0) / float(tau) if len(dz) else np.ones(h.shape[-1])
    cov = np.diag(var + RIDGE * max(float(var.mean()), 1.0))
    walk = Persistence(cov.astype(np.asarray(train).dtype))
    return SimpleNamespace(autoencoder=ae, dynamics=walk) if ae is not None else walk


def divergence_threshold(initial: float, factor: float) -> float:
    """The loss a run from scratch must end below: factor × initial for a positive loss;
    in general initial − (1 − factor)·|initial| (a likelihood loss may be negative)."""
    return initial - (1.0 - factor) * abs(initial)


def judge(result, cfg: Mapping[str, Any], *, warm_start: bool = False) -> list[str]:
    """Raise TrainingFailed for a run from scratch that diverged; otherwise the warnings
    of a run that did not learn (empty when it did). ``result`` is a FitResult."""
    best, initial, trivial = result.best_val_loss, result.initial_val_loss, result.trivial_val_loss
    epochs = int(cfg["epochs"])
    warnings = []
    if not warm_start and math.isfinite(initial):
        limit = divergence_threshold(initial, cfg["divergence_factor"])
        if not best < limit:
            raise TrainingFailed(
                f"training diverged or learned nothing: best validation loss {best:.4g} (epoch "
                f"{result.best_epoch}) is not below {limit:.4g} (training.divergence_factor "
                f"{cfg['divergence_factor']:g} of the untrained model's {initial:.4g}); lower "
                f"training.learning_rate (now {cfg['learning_rate']:g}) or training.grad_clip (now "
                f"{cfg['grad_clip']:g}); no checkpoint written"
            )
    if warm_start and result.best_epoch == 0:
        warnings.append(
            f"no epoch beat the model it started from (validation loss {initial:.4g}); it was kept: "
            f"lower training.learning_rate (now {cfg['learning_rate']:g}) to fine-tune it"
        )
    early = math.floor(cfg["early_best_fraction"] * epochs)
    if 1 <= result.best_epoch <= early:
        warnings.append(
            f"best epoch {result.best_epoch} of {epochs} is in the first "
            f"{cfg['early_best_fraction']:.0%} (training.early_best_fraction): the validation loss "
            f"stopped falling almost at once; lower training.learning_rate (now "
            f"{cfg['learning_rate']:g}) or check the data"
        )
    warnings += trivial_warnings(best, trivial)
    return warnings


def by_trajectory(model, trivial, val, tau, loss, trajectories) -> list[dict]:
    """Per validation trajectory, the loss of ``model`` and of ``trivial`` (``trivial_model``)
    on its own windows. ``val`` (N, K+1, n) holds the windows of ``trajectories`` (their ids,
    in order) in equal consecutive blocks, as ``make_windows`` makes them; ``loss(model,
    windows, tau)`` is the run's loss."""
    ids = list(trajectories)
    if not ids or len(val) % len(ids):
        raise ValueError(f"{len(val)} validation windows do not split into {len(ids)} equal trajectory blocks")
    blocks = jnp.asarray(np.asarray(val).reshape(len(ids), -1, *np.shape(val)[1:]))

    def per_block(m) -> np.ndarray:
        # one compiled call over all blocks: run eagerly, every block's loss traced and
        # compiled its own scan (22 compiles, 7 CPU-s of a small Lorenz training job)
        return np.asarray(jax.jit(jax.vmap(lambda b: loss(m, b, tau)))(blocks))

    return [
        {"trajectory": t, "loss": float(a), "trivial": float(b)}
        for t, a, b in zip(ids, per_block(model), per_block(trivial))
    ]


def trajectory_warnings(rows: list[dict]) -> list[str]:
    """The warning that names the validation trajectories (``by_trajectory`` rows) on which the
    model does no better than dz/dt = 0 while it beats it on the others: there the pooled
    verdict is that of a few trajectories, not of the model on the data it was fitted to."""
    lost = [r for r in rows if not r["loss"] < r["trivial"]]
    if not lost or len(lost) == len(rows):
        return []
    which = ", ".join(f"{r['trajectory']} ({r['loss']:.4g} against {r['trivial']:.4g})" for r in lost)
    return [
        f"it loses to dz/dt = 0 on validation trajectory {which} but beats it on the other "
        f"{len(rows) - len(lost)}: those go where the training pairs may not (another attractor); "
        f"more trajectories (simulation.n_trajectories) or a larger splits.val judge it on the data it learned"
    ]


def trivial_warnings(best: float, trivial: float) -> list[str]:
    """The warning of a model whose best validation loss never beat dz/dt = 0's."""
    if math.isfinite(trivial) and not best < trivial:
        return [
            f"never beat the trivial predictor dz/dt = 0 (persistence) on the validation pairs: best "
            f"loss {best:.4g} against its {trivial:.4g}; the model learned nothing the data show "
            f"over pairs.tau: check the data and pairs.tau"
        ]
    return []
