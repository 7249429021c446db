"""``onsagerflow train``: fit a model on the train split, early-stop on val, checkpoint."""

from __future__ import annotations

import logging

import jax

from ..config import ConfigError, pair_lag
from ..data import open_store
from ..models import build_model, param_count
from ..models.normalizer import Normalizer
from ..provenance import stamp
from ..training import fit, make_windows, save_checkpoint
from .common import observed, sampling_step, split_array

log = logging.getLogger("onsagerflow.train")


def run(spec: dict, data: str, out: str) -> None:
    ds = open_store(data)
    variable = observed(ds, data)
    dt = sampling_step(ds)
    pairs, training = spec["pairs"], spec["training"]
    lag = pair_lag(pairs["tau"], dt)
    if lag is None:
        raise ConfigError(f"systems.{spec['system']}.pairs.tau: {pairs['tau']} is not a whole multiple "
                          f"of the store's sampling step {dt} ({data})")
    u_train = split_array(ds, variable, "train")
    u_val = split_array(ds, variable, "val")
    norm = Normalizer.fit(u_train, dt)
    cut = dict(lag=lag, steps=pairs["rollout_steps"], per_trajectory=pairs["per_trajectory"])
    train = make_windows(norm.encode(u_train), seed=training["seed"], **cut)
    val = make_windows(norm.encode(u_val), seed=training["seed"] + 1, **cut)
    n = u_train.shape[-1]
    m = spec["model"]
    all_specs = {m["key"]: m["spec"], **m["peers"]}
    model = build_model(m["spec"], n, seed=training["seed"], all_specs=all_specs)
    log.info("%s on %s: %d parameters, %d train / %d val windows, tau = %g (%d samples), device %s",
             m["key"], spec["system"], param_count(model), len(train), len(val), pairs["tau"], lag,
             jax.devices()[0])
    result = fit(model, train, val, tau=pairs["tau"] / norm.time_scale, cfg=training,
                 seed=training["seed"])
    meta = {"model_key": m["key"], "model_spec": m["spec"], "all_specs": all_specs, "n": n,
            "seed": training["seed"], "system": spec["system"], "variable": variable,
            "tau": pairs["tau"], "lag": lag, "param_count": param_count(model),
            "training": training, "best_epoch": result.best_epoch,
            "best_val_loss": result.best_val_loss, "epochs_run": len(result.history),
            "stopped_early": result.stopped_early, "train_seconds": result.seconds,
            "device": str(jax.devices()[0]), "provenance": stamp(spec)}
    save_checkpoint(out, result.model, meta=meta, normalizer=norm, history=result.history)
    log.info("wrote checkpoint %s", out)
