"""``onsagerflow train``: fit a model on the train split, early-stop on val, checkpoint.

On a reduced system the store holds PCA coordinates y; a run on latent size n learns
the n leading ones, or — for an OnsagerNet with an autoencoder — starts from the
OnsagerNet pre-trained on them and learns a PCA-ResNet chart jointly with it.
"""

from __future__ import annotations

import functools
import logging
import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from flax import nnx

from ..config import ConfigError, pair_lag
from ..data import open_store, split_mask
from ..data.timegrid import TimeGridError
from ..errors import TrainingFailed
from ..models import build_model, param_count
from ..models.normalizer import Normalizer
from ..provenance import stamp
from ..training import fit, load_checkpoint, make_windows, save_checkpoint
from ..training.judge import by_trajectory, judge, trajectory_warnings, trivial_model, trivial_warnings
from ..training.losses import em_nll, em_nll_sum, joint_loss, window_loss
from ..training.restarts import screen_seeds
from .common import observed, split_array, store_grid, with_mirror_images
from .end_state_selection import judged, select_by_end_states

log = logging.getLogger("onsagerflow.train")


def run(spec: dict, data: str, out: str, pretrained: str | None = None, reducer: str | None = None) -> None:
    """``pretrained``: the checkpoint an autoencoder run's dynamics start from (when its
    ``autoencoder.pretrained`` names one); ``reducer``: the system's pca.zarr, needed by a chart
    that works on bead positions (autoencoder form or loss ncs24)."""
    try:
        _run(spec, data, out, pretrained, reducer)
    except TrainingFailed as exc:  # name the run: the message travels up to the rule's log
        raise TrainingFailed(f"{spec['system']}/{spec['run']}: {exc}") from None


def _run(spec: dict, data: str, out: str, pretrained: str | None, reducer: str | None) -> None:
    ds = open_store(data)
    variable = observed(ds, data)
    grid = store_grid(ds, data)
    dt = grid.step
    pairs, training = spec["pairs"], spec["training"]
    lag = pair_lag(pairs["tau"], dt)
    if lag is None:
        raise ConfigError(
            f"systems.{spec['system']}.pairs.tau: {pairs['tau']} is not a whole multiple "
            f"of the store's sampling step {dt} ({data})"
        )
    try:  # windows never cross the gap between two bursts
        starts = grid.pair_starts(lag * pairs["rollout_steps"])
    except TimeGridError as e:
        raise ConfigError(f"systems.{spec['system']}.pairs: {e} ({data})") from None
    unit_steps = grid.pair_starts(1)  # one-step differences, for the time scale
    u_train = with_mirror_images(ds, split_array(ds, variable, "train"), data)
    u_val = split_array(ds, variable, "val")
    n = spec.get("latent") or u_train.shape[-1]
    if n > u_train.shape[-1]:
        raise ConfigError(f"run {spec['run']}: latent size {n} exceeds the {u_train.shape[-1]} coordinates of {data}")
    m = spec["model"]
    stochastic = m["spec"]["type"] == "s_onsagernet"
    cut = dict(
        lag=lag,
        steps=pairs["rollout_steps"],
        per_trajectory=pairs["per_trajectory"],
        placement=pairs["placement"],
        starts=starts,
    )
    meta = {
        "model_key": m["key"],
        "run": spec["run"],
        "latent": spec.get("latent"),
        "model_spec": m["spec"],
        "all_specs": {m["key"]: m["spec"], **m["peers"]},
        "n": n,
        "seed": training["seed"],
        "system": spec["system"],
        "variable": variable,
        "tau": pairs["tau"],
        "lag": lag,
        "placement": pairs["placement"],
        "time_grid": {"step": dt, "burst": grid.burst, "bursts": int(grid.starts.size)},
        "training": training,
        # the train pairs include the mirror images of the train trajectories (reduction.symmetry)
        "symmetry": ds.attrs.get("symmetry", "none"),
    }

    if m["spec"]["type"] == "sindy":
        return _sindy(
            spec, u_train[..., :n], u_val[..., :n], n, dt, cut, meta, out, None if grid.uniform else unit_steps
        )
    seed, trials = training["seed"], []  # restarts may choose another initialisation
    selected = None  # the chosen candidate's whole run, where restarts select by end states
    restarts = training["restarts"]
    by_end_states = restarts["select"] == "end_states" and restarts["count"] > 1
    if by_end_states and stochastic:
        raise ConfigError(
            f"run {spec['run']}: training.restarts.select: end_states judges the fixed points of a "
            "deterministic field; use val_loss for an S-OnsagerNet"
        )
    if by_end_states:  # judged on the stored train and val trajectories (no mirror images), coarse grid
        coarse = np.arange(len(grid.time)) if grid.uniform else grid.starts
        stored = split_array(ds, variable, "train")[:, coarse]
        ends_y = np.concatenate([stored, u_val[:, coarse]])
    if m["spec"].get("autoencoder"):
        if restarts["count"] > 1 and not by_end_states:
            raise ConfigError(
                f"run {spec['run']}: a run with an autoencoder starts from its pre-trained dynamics, so "
                "restarts can only choose among its full runs: set restarts.select to end_states or count to 1"
            )
        if pretrained is None and m["spec"]["autoencoder"]["pretrained"] is not None:
            raise ConfigError(
                f"run {spec['run']}: an autoencoder run needs --pretrained (the checkpoint "
                f"of {spec.get('pretrained_run')})"
            )

        def joint(s):
            return _joint(
                {**spec, "training": {**training, "seed": s}},
                u_train,
                u_val,
                n,
                cut,
                pretrained,
                meta,
                int(ds.attrs.get("n_observables", 0)),
                stochastic,
                reducer,
                dt,
            )

        if by_end_states:

            def candidate(s):  # the chart is the candidate's own: the end states are judged in it
                model, norm, windows, loss = joint(s)
                result = fit(
                    model,
                    *windows,
                    tau=norm.time_to_model(pairs["tau"]),
                    cfg=training,
                    seed=s,
                    loss=loss,
                    warm_start=True,
                )
                encode = jax.jit(result.model.encode)
                dtype = jax.tree.leaves(nnx.state(result.model, nnx.Param))[0].dtype
                ends = np.asarray(encode(jnp.asarray(ends_y, dtype)), np.float64)
                return judged(
                    result, result.model.dynamics, norm, ends, ends[: len(stored)], (model, norm, windows, loss)
                )

            seed, trials, chosen = _select(spec, candidate, restarts["count"], seed)
            selected = chosen.result
            model, norm, (train, val), loss = chosen.keep
        else:
            model, norm, (train, val), loss = joint(seed)
    else:
        u_train, u_val = u_train[..., :n], u_val[..., :n]
        norm = Normalizer.for_kind(spec["normalization"], u_train, dt, steps=unit_steps)
        train = make_windows(norm.encode(u_train), seed=training["seed"], **cut)
        val = make_windows(norm.encode(u_val), seed=training["seed"] + 1, **cut)
        spec_m = m["spec"]
        if stochastic:  # in normalised units increments are O(τ'), so the noise starts at √τ'
            spec_m = {**spec_m, "sigma_init": float(np.sqrt(norm.time_to_model(pairs["tau"])))}
            meta["model_spec"] = spec_m
        loss = em_nll if stochastic else None

        def build(s):
            return build_model(spec_m, n, seed=s, all_specs=meta["all_specs"])

        if by_end_states:
            ends = ends_y[..., :n]

            def candidate(s):
                result = fit(
                    build(s), train, val, tau=norm.time_to_model(pairs["tau"]), cfg=training, seed=s, loss=loss
                )
                return judged(result, result.model, norm, ends, ends[: len(stored)])

            seed, trials, chosen = _select(spec, candidate, restarts["count"], seed)
            selected = chosen.result
            model = selected.model
        else:
            seed, trials = screen_seeds(
                build, train, val, tau=norm.time_to_model(pairs["tau"]), cfg=training, loss=loss
            )
            model = build(seed)
    meta["restarts"] = {"seed": seed, "trials": trials, "select": restarts["select"]}
    log.info(
        "%s on %s: %d parameters, %d train%s / %d val windows, tau = %g (%d samples), device %s",
        spec["run"],
        spec["system"],
        param_count(model),
        len(train),
        " (half of them mirror images)" if meta["symmetry"] == "mirror" else "",
        len(val),
        pairs["tau"],
        lag,
        jax.devices()[0],
    )
    ae = m["spec"].get("autoencoder")  # NCS24's second stage: the dynamics on the frozen chart
    warm = bool(ae)  # the dynamics start pre-trained
    tau = norm.time_to_model(pairs["tau"])
    if selected is None:
        result = fit(model, train, val, tau=tau, cfg=training, seed=seed, loss=loss, warm_start=warm)
    else:  # already the full run, chosen among the candidates
        result = selected
    result.warnings = judge(result, training, warm_start=warm)
    if not ae:  # plain runs: the val windows lie in per-trajectory blocks (a joint run's are shuffled)
        rows = _val_by_trajectory(result.model, train, val, tau, loss, training, ds)
        meta["val_by_trajectory"] = rows
        if result.warnings:
            result.warnings += trajectory_warnings(rows)
    frozen = ae["frozen_epochs"] if ae else 0
    if frozen:
        second = (em_nll_sum if ae["loss"] == "ncs24" else em_nll) if stochastic else None
        result = _frozen_stage(model, train, val, tau, training, frozen, result, second)
    for w in result.warnings:
        log.warning("did not learn: %s", w)
    meta.update(
        {
            "param_count": param_count(model),
            "best_epoch": result.best_epoch,
            "best_val_loss": result.best_val_loss,
            "initial_val_loss": result.initial_val_loss,
            "trivial_val_loss": result.trivial_val_loss,
            "warnings": result.warnings,
            "epochs_run": len(result.history),
            "stopped_early": result.stopped_early,
            "train_seconds": result.seconds,
            "device": str(jax.devices()[0]),
            "provenance": stamp(spec),
        }
    )
    save_checkpoint(out, result.model, meta=meta, normalizer=norm, history=result.history)
    log.info("wrote checkpoint %s", out)


def _select(spec, candidate, count, seed):
    try:
        return select_by_end_states(candidate, count=count, seed=seed)
    except ValueError as exc:
        raise ConfigError(f"run {spec['run']}: training.restarts.select: end_states: {exc}") from None


def _val_by_trajectory(model, train, val, tau, loss, training, ds) -> list[dict]:
    """Each validation trajectory's loss beside dz/dt = 0's (training.judge.by_trajectory), logged."""
    if loss is None:
        rollout_weight = float(training["rollout_weight"])

        def loss(m, w, tau):
            return window_loss(m, w, tau, rollout_weight)

    ids = [int(t) for t in ds["trajectory"].values[np.flatnonzero(split_mask(ds, "val"))]]
    rows = by_trajectory(model, trivial_model(model, train, tau), val, tau, loss, ids)
    for r in rows:
        log.info("val trajectory %d: loss %.4e, dz/dt = 0 gives %.4e", r["trajectory"], r["loss"], r["trivial"])
    return rows


def _sindy(spec, u_train, u_val, n, dt, cut, meta, out, steps=None):
    """SINDy on the same normalised coordinates and train split as the neural models: derivatives
    by finite differences along each whole train trajectory (sampling step Δt/time_scale), or on a
    burst-sampled store by forward differences inside the bursts (``steps``), STLSQ.
    With ``selection: validation`` the threshold and ridge penalty are the pair of the grids whose
    fit has the lowest pair loss (one Heun step over τ) on the validation windows — the loss the
    neural models early-stop on, so the baseline is tuned as they are. The grid is fitted by
    ``stlsq_grid`` (pysindy's algorithm on the normal equations, one library evaluation for all
    pairs), the chosen pair again by pysindy. Its history is one row:
    that pair loss on the same train and val windows, so 'best val loss' compares across models."""
    import pysindy  # noqa: F401  (imported before the clock starts: train_seconds is the fit)

    from ..models.sindy import derivatives, feature_names, fit_sindy, select_stlsq

    s, training, pairs = spec["model"]["spec"], spec["training"], spec["pairs"]
    norm = Normalizer.for_kind(spec["normalization"], u_train, dt, steps=steps)
    tau = norm.time_to_model(pairs["tau"])
    weight = float(training["rollout_weight"])
    windows = [
        jnp.asarray(make_windows(norm.encode(u), seed=training["seed"] + k, **cut))
        for k, u in enumerate((u_train, u_val))
    ]
    model = build_model(s, n, seed=training["seed"])

    @jax.jit
    def pair_loss(coef, w):
        return window_loss(lambda z: model.features(z) @ coef, w, tau, weight)

    t0 = time.perf_counter()
    z_train, dt_model = norm.encode(u_train), norm.time_to_model(dt)
    common = dict(degree=s["degree"], max_iter=s["max_iter"], method=s["differentiation"], window=s["smoothing_window"])
    if s["selection"] == "validation":
        if steps is None:  # derivatives along whole trajectories, at every sample
            x_dot = derivatives(z_train, dt_model, method=s["differentiation"], window=s["smoothing_window"])
            states, rates = np.concatenate(list(z_train)), np.concatenate(x_dot)
        else:  # bursts: forward differences inside them, at their first states (as fit_sindy)
            i = np.asarray(steps)
            states = np.concatenate([z[i] for z in z_train])
            rates = np.concatenate([(z[i + 1] - z[i]) / dt_model for z in z_train])
        theta = np.asarray(jax.jit(model.features)(jnp.asarray(states)))
        (threshold, alpha), chosen, trials = select_stlsq(
            theta,
            rates,
            s["threshold_grid"],
            s["alpha_grid"],
            lambda c: pair_loss(jnp.asarray(c), windows[1]),
            s["max_iter"],
        )
        given = dict(x_dot=x_dot) if steps is None else dict(steps=steps)
        coef, _ = fit_sindy(z_train, dt_model, threshold=threshold, alpha=alpha, **given, **common)
        log.info(
            "SINDy: threshold %g and alpha %g chosen on the val split (%d fits; pysindy's coefficients differ from "
            "the grid's by at most %.2g)",
            threshold,
            alpha,
            len(trials),
            float(np.abs(coef - chosen).max()),
        )
        meta["sindy_selection"] = {"threshold": threshold, "alpha": alpha, "trials": trials}
    else:
        threshold, alpha = s["threshold"], s["alpha"]
        coef, _ = fit_sindy(z_train, dt_model, threshold=threshold, alpha=alpha, steps=steps, **common)
        meta["sindy_selection"] = {"threshold": threshold, "alpha": alpha, "trials": None}
    seconds = time.perf_counter() - t0
    model.coef[...] = jnp.asarray(coef, model.coef[...].dtype)
    names = feature_names(n, s["degree"])
    for i in range(n):
        terms = " ".join(f"{c:+.4g} {f}" for c, f in zip(coef[:, i], names) if c != 0)
        log.info("dz%d/dt' = %s", i, terms or "0")
    losses = [float(pair_loss(model.coef[...], w)) for w in windows]
    trivial = float(window_loss(trivial_model(model, windows[0], tau), windows[1], tau, weight))
    warnings = trivial_warnings(losses[1], trivial)
    for w in warnings:
        log.warning("did not learn: %s", w)
    history = pd.DataFrame([{"epoch": 0, "train_loss": losses[0], "val_loss": losses[1]}])
    log.info(
        "%s on %s: %d non-zero of %d coefficients, train / val pair loss %.4e / %.4e (%.2f s)",
        spec["run"],
        spec["system"],
        param_count(model),
        coef.size,
        *losses,
        seconds,
    )
    meta.update(
        {
            "param_count": param_count(model),
            "coefficients": int(coef.size),
            "best_epoch": 0,
            "best_val_loss": losses[1],
            "initial_val_loss": None,  # no iterations: nothing to start from
            "trivial_val_loss": trivial,
            "warnings": warnings,
            "epochs_run": 1,
            "stopped_early": False,
            "train_seconds": seconds,
            "device": "cpu (pysindy)",
            "provenance": stamp(spec),
        }
    )
    save_checkpoint(out, model, meta=meta, normalizer=norm, history=history)
    log.info("wrote checkpoint %s", out)


def _frozen_stage(model, train, val, tau, training, epochs, first, loss):
    """NCS24's second stage: the chart frozen, the dynamics alone trained on the encoded
    windows by ``loss`` (None: the pair loss). The history continues the first stage's
    epochs, marked stage 2."""
    enc = jax.jit(model.autoencoder.encode)
    dtype = jax.tree.leaves(nnx.state(model, nnx.Param))[0].dtype
    h_train = np.asarray(enc(jnp.asarray(train, dtype)))
    h_val = np.asarray(enc(jnp.asarray(val, dtype)))
    log.info("second stage: the chart frozen, %d epochs of the dynamics alone", epochs)
    second = fit(
        model.dynamics,
        h_train,
        h_val,
        tau=tau,
        cfg={**training, "epochs": epochs},
        seed=training["seed"] + 2,
        loss=loss,
        warm_start=True,
    )
    warnings = judge(second, {**training, "epochs": epochs}, warm_start=True)
    h1 = first.history.assign(stage=1)
    h2 = second.history.assign(stage=2, epoch=second.history["epoch"] + len(h1))
    # the second stage starts from the first's kept (best) epoch: that is its epoch 0
    best = second.best_epoch + len(h1) if second.best_epoch else first.best_epoch
    return type(first)(
        model=model,
        history=pd.concat([h1, h2], ignore_index=True),
        best_epoch=best,
        best_val_loss=second.best_val_loss,
        seconds=first.seconds + second.seconds,
        stopped_early=second.stopped_early,
        initial_val_loss=first.initial_val_loss,
        trivial_val_loss=second.trivial_val_loss,
        warnings=first.warnings + [f"second stage: {w}" for w in warnings],
    )


def _joint(spec, y_train, y_val, n, cut, pretrained, meta, fixed, stochastic, reducer, dt):
    """A JointModel whose PCA-ResNet starts as the PCA chart of the n leading coordinates
    (``fixed`` leading observables pass through it uncorrected) and whose dynamics start from
    the pre-trained model on them, or — without one (NCS24's code) — untrained, normalised as a
    run on those coordinates would be."""
    training = spec["training"]
    a = spec["model"]["spec"]["autoencoder"]
    m_dim = y_train.shape[-1]
    positions = a["form"] == "ncs24" or a["loss"] == "ncs24"
    pca = None
    if positions:
        from ..models.reducers import PCA

        if reducer is None:
            raise ConfigError(
                f"run {spec['run']}: autoencoder form or loss 'ncs24' works on bead positions and needs "
                "--reducer (the system's pca.zarr)"
            )
        pca = PCA.load(reducer)
        if pca.components.shape[0] != m_dim - fixed:
            raise ConfigError(
                f"run {spec['run']}: {reducer} holds {pca.components.shape[0]} components, the store "
                f"{m_dim - fixed} PCA coordinates: not the PCA this store was made with"
            )
    model = build_model(
        spec["model"]["spec"],
        n,
        seed=training["seed"],
        all_specs=meta["all_specs"],
        input_dim=m_dim,
        fixed=fixed,
        positions_dim=pca.components.shape[1] if pca is not None else None,
    )
    if pretrained is not None:
        pre_model, pre_norm, pre_meta = load_checkpoint(pretrained)
        if pre_meta.get("latent") != n or pre_meta["model_spec"].get("autoencoder"):
            raise ConfigError(f"run {spec['run']}: {pretrained} is not a plain OnsagerNet on {n} PCA coordinates")
        nnx.update(model.dynamics, nnx.state(pre_model))
        meta.update({"pretrained_run": spec.get("pretrained_run"), "pretrained_provenance": pre_meta["provenance"]})
    else:
        pre_norm = Normalizer.fit(y_train[..., :n], dt, isotropic=spec["normalization"] == "isotropic")
        if stochastic:  # as a plain run: in normalised units increments are O(τ'), the noise starts at √τ'
            s_init = float(np.sqrt(pre_norm.time_to_model(spec["pairs"]["tau"])))
            fresh = build_model(
                {**{k: v for k, v in spec["model"]["spec"].items() if k != "autoencoder"}, "sigma_init": s_init},
                n,
                seed=training["seed"],
                all_specs=meta["all_specs"],
            )
            nnx.update(model.dynamics, nnx.state(fresh))
    ae = model.autoencoder
    dtype = ae.h_mean[...].dtype
    ae.h_mean[...] = jnp.asarray(pre_norm.mean, dtype)
    ae.h_scale[...] = jnp.asarray(pre_norm.scale, dtype)
    ae.y_scale[...] = jnp.asarray(np.maximum(y_train.reshape(-1, m_dim).std(axis=0), 1e-12), dtype)
    if pca is not None:
        ae.set_pca(pca.components, pca.scale_vector, pca.mean)
    # h is the model's own (already normalised) coordinate; time keeps that normaliser's scale
    norm = Normalizer(mean=np.zeros(n), scale=np.ones(n), time_scale=pre_norm.time_scale)
    # val windows shuffled once: the isometry term pairs neighbours in a batch, and ordered
    # windows would pair near-identical snapshots of one trajectory
    val = make_windows(y_val, seed=training["seed"] + 1, **cut)
    val = val[np.random.default_rng(training["seed"] + 1).permutation(len(val))]
    windows = (make_windows(y_train, seed=training["seed"], **cut), val)
    dynamics_loss = None
    if stochastic:
        dynamics_loss = em_nll_sum if a["loss"] == "ncs24" else em_nll
    loss = functools.partial(
        joint_loss,
        rollout_weight=float(training["rollout_weight"]),
        reconstruction_weight=a["reconstruction_weight"],
        isometry_weight=a["isometry_weight"],
        pca_penalty_weight=a["pca_penalty_weight"],
        dynamics_loss=dynamics_loss,
        form=a["loss"],
    )
    meta.update(
        {
            "input_dim": m_dim,
            "fixed": fixed,
            "positions_dim": pca.components.shape[1] if pca is not None else None,
            "pretrained_run": spec.get("pretrained_run"),
        }
    )
    return model, norm, windows, loss
