"""Peer side of the benchmarks against the ``onsagernet`` package (PyPI, JAX/Equinox, NCS24).

Runs inside the peer's own virtual environment (Python >= 3.12; see ``peer_env.py``), never
imports onsagerflow, and talks to the driver through files only: it reads a .npz of
windows written by the driver and writes a JSON of timings and losses.

    python _peer_onsagernet.py train   --data d.npz --out r.json --kind det|sde [...]
    python _peer_onsagernet.py rollout --data d.npz --out r.json --kind ode|sde [...]

Model: the package's stock components at the driver's widths — PotentialResMLP (V = ½|φ(x) +
Γx|² + β|x|², φ a plain MLP), DissipationMatrixMLP (M = αI + LLᵀ, L = tanh(MLP)),
ConservationMatrixMLP (W = L − Lᵀ, its own MLP), DiffusionDiagonalMLP (σ = diag√(a + g²)),
assembled by ``onsagernet.dynamics.OnsagerNet``; activation ``srequ`` (= our ``requr``).

Training: the package's own epoch routine ``SDETrainer._train_epoch`` (a Python loop over
``datasets.Dataset.iter`` batches, one ``eqx.filter_jit`` step per batch) with its optimiser
(optax Adam chained with reduce_on_plateau), preceded by clipping by global norm when the
driver asks (``--grad-clip``, as our trainer does), by overriding ``_make_optimiser``. The stochastic model trains with the package's
``MLETrainer`` (``MLELoss``); the deterministic one with a ``SDETrainer`` subclass whose
``loss_func`` is the PRF21 Heun pair loss — the package's documented way to add a loss (it
ships no deterministic trainer). After every epoch the validation loss is computed with the
driver's formulas (pair loss; Euler–Maruyama NLL per increment and component) so the two
sides' numbers are the same quantity.

Rollout: the package ships no simulator; its examples (examples/utils/sde.py of the
authors' repository) integrate an SDE with diffrax — ``Euler`` on ``MultiTerm(ODETerm(drift),
ControlTerm(diffusion, VirtualBrownianTree))`` under ``eqx.filter_jit`` + ``jax.vmap``. This
script follows that recipe (our code, same library calls). For the ODE it uses diffrax
Tsit5 with a PID controller on the model's drift, as the driver does.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time

import numpy as np


def build_model(kind, n, width, depth, potential_dim, alpha, beta, sigma_floor, seed):
    import jax
    from onsagernet.dynamics import OnsagerNet
    from onsagernet.models import ConservationMatrixMLP, DiffusionDiagonalMLP, DissipationMatrixMLP, PotentialResMLP

    k = jax.random.split(jax.random.PRNGKey(seed), 4)
    units = [width] * depth
    pot = PotentialResMLP(k[0], n, units, "srequ", potential_dim, beta)
    dis = DissipationMatrixMLP(k[1], n, units, "srequ", alpha, is_bounded=True)
    con = ConservationMatrixMLP(k[2], n, "srequ", units, is_bounded=True)
    dif = DiffusionDiagonalMLP(k[3], n, units, "srequ", sigma_floor**2) if kind in ("sde",) else None
    return OnsagerNet(pot, dis, con, dif)


def param_count(model):
    import equinox as eqx
    import jax

    return int(sum(x.size for x in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))))


def pair_loss(model, x, tau):
    """Heun pair loss, as onsagerflow.training.losses.window_loss with K = 1."""
    import jax
    import jax.numpy as jnp

    args = jnp.ones((1,), x.dtype)
    f = jax.vmap(lambda z: model.drift(0.0, z, args))
    z0, z1 = x[:, 0], x[:, 1]
    k1 = f(z0)
    k2 = f(z0 + tau * k1)
    pred = z0 + 0.5 * tau * (k1 + k2)
    return jnp.mean(((pred - z1) / tau) ** 2)


def em_nll(model, x, tau):
    """Euler–Maruyama NLL per increment and component, as onsagerflow.training.losses.em_nll."""
    import jax
    import jax.numpy as jnp

    args = jnp.ones((1,), x.dtype)
    z, dz = x[:, 0], x[:, 1] - x[:, 0]
    n = z.shape[-1]
    b = jax.vmap(lambda y: model.drift(0.0, y, args))(z)
    s = jax.vmap(lambda y: model.diffusion(0.0, y, args))(z)
    chol = jnp.linalg.cholesky(tau * s @ jnp.swapaxes(s, -1, -2))
    y = jax.scipy.linalg.solve_triangular(chol, (dz - tau * b)[..., None], lower=True)[..., 0]
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return jnp.mean(0.5 * (jnp.sum(y**2, -1) + logdet + n * jnp.log(2.0 * jnp.pi))) / n


def train(a):
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    from datasets import Array2D, Dataset, Features
    from onsagernet.trainers import MLETrainer, SDETrainer

    d = np.load(a.data)
    dtype = np.float64 if a.dtype == "float64" else np.float32
    train_w, val_w, tau = d["train"].astype(dtype), d["val"].astype(dtype), float(d["tau"])
    N, _, n = train_w.shape
    t = np.broadcast_to(np.array([0.0, tau], dtype)[None, :, None], (N, 2, 1)).copy()
    feats = Features({"t": Array2D((2, 1), a.dtype), "x": Array2D((2, n), a.dtype), "args": Array2D((2, 1), a.dtype)})
    ds = Dataset.from_dict({"t": t, "x": train_w, "args": np.ones((N, 2, 1), dtype)}, features=feats).with_format("jax")

    import optax

    class Clipped:
        """The package's optimiser (Adam, then reduce_on_plateau) after gradient clipping
        by global norm, as the driver's; --grad-clip 0 keeps the package's own."""

        def _make_optimiser(self, opt_options, rop_options):
            opt = super()._make_optimiser(opt_options, rop_options)
            return optax.chain(optax.clip_by_global_norm(a.grad_clip), opt) if a.grad_clip > 0 else opt

    class HeunTrainer(Clipped, SDETrainer):
        @eqx.filter_jit
        def loss_func(self, diff_model, static_model, t, x, args):
            model = eqx.combine(diff_model, static_model)
            return pair_loss(model, x, t[0, 1, 0] - t[0, 0, 0])

    model = build_model(a.kind, n, a.width, a.depth, a.potential_dim, a.alpha, a.beta, a.sigma_floor, a.seed)
    opt_options = {"learning_rate": a.lr}
    rop_options = {"factor": 0.5, "patience": 10**9}  # no reductions: the driver's plateau is off too

    class ClippedMLETrainer(Clipped, MLETrainer):
        pass

    Trainer = HeunTrainer if a.kind == "det" else ClippedMLETrainer
    trainer = Trainer(opt_options=opt_options, rop_options=rop_options)
    # SDETrainer.train's epoch loop, unrolled here to time each epoch and evaluate the
    # validation loss between epochs (train() builds the same optimiser and filter_spec)
    opt = trainer._make_optimiser(opt_options, rop_options)
    opt_state = opt.init(eqx.filter(model, eqx.is_array))
    filter_spec = jax.tree_util.tree_map(lambda _: True, model)
    metric = pair_loss if a.kind == "det" else em_nll
    val = jnp.asarray(val_w)
    val_fn = eqx.filter_jit(lambda m: metric(m, val, jnp.asarray(tau, dtype)))
    rows = []
    t_start = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        model, loss, opt_state = trainer._train_epoch(model, ds, a.batch, opt, opt_state, filter_spec)
        loss = float(loss)
        t1 = time.perf_counter()
        v = float(val_fn(model))
        rows.append(
            {
                "epoch": epoch,
                "train_loss": loss,
                "val_loss": v,
                "epoch_seconds": t1 - t0,
                "seconds": time.perf_counter() - t_start,
            }
        )
    return {"rows": rows, "samples_per_epoch": (N // a.batch) * a.batch, "params": param_count(model)}


def rollout(a):
    import diffrax
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    dtype = jnp.float64 if a.dtype == "float64" else jnp.float32
    d = np.load(a.data)
    z0 = jnp.asarray(d["z0"], dtype)
    n = z0.shape[-1]
    model = build_model(
        "sde" if a.kind == "sde" else "det",
        n,
        a.width,
        a.depth,
        a.potential_dim,
        a.alpha,
        a.beta,
        a.sigma_floor,
        a.seed,
    )
    model = jax.tree.map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, model)
    args = jnp.ones((1,), dtype)
    t0, t1, dt = 0.0, float(a.t_end), float(a.dt)
    ts = jnp.linspace(t0, t1, int(a.saves) + 1, dtype=dtype)

    if a.kind == "sde":
        bm_shape = jax.ShapeDtypeStruct((n,), dtype)

        @eqx.filter_jit
        @jax.vmap
        def solve(y0, key):
            bm = diffrax.VirtualBrownianTree(t0, t1, tol=0.1 * dt, shape=bm_shape, key=key)
            terms = diffrax.MultiTerm(diffrax.ODETerm(model.drift), diffrax.ControlTerm(model.diffusion, bm))
            sol = diffrax.diffeqsolve(
                terms,
                diffrax.Euler(),
                t0,
                t1,
                dt0=dt,
                y0=y0,
                saveat=diffrax.SaveAt(ts=ts),
                max_steps=int(round(t1 / dt)) + 16,
                args=args,
            )
            return sol.ys, sol.stats["num_accepted_steps"]

        keys = jax.random.split(jax.random.PRNGKey(1), z0.shape[0])
        call = lambda: solve(z0, keys)
    else:

        @eqx.filter_jit
        @jax.vmap
        def solve(y0):
            sol = diffrax.diffeqsolve(
                diffrax.ODETerm(model.drift),
                diffrax.Tsit5(),
                t0,
                t1,
                None,
                y0,
                args=args,
                saveat=diffrax.SaveAt(ts=ts),
                stepsize_controller=diffrax.PIDController(rtol=a.rtol, atol=a.atol),
                max_steps=200_000,
            )
            return sol.ys, sol.stats["num_accepted_steps"]

        call = lambda: solve(z0)
    t = time.perf_counter()
    ys, steps = jax.block_until_ready(call())
    first = time.perf_counter() - t
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        ys, steps = jax.block_until_ready(call())
        times.append(time.perf_counter() - t)
    return {
        "first_call_seconds": first,
        "seconds": times,
        "finite": bool(np.isfinite(np.asarray(ys)).all()),
        "num_steps": float(np.mean(np.asarray(steps))),
        "params": param_count(model),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "rollout", "versions"])
    ap.add_argument("--data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--kind", default="det")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    for k, v in dict(width=32, depth=2, potential_dim=6, epochs=10, batch=100, seed=0, saves=100, repeat=3).items():
        ap.add_argument(f"--{k.replace('_', '-')}", type=int, default=v)
    for k, v in dict(
        alpha=0.1, beta=0.1, sigma_floor=1e-3, lr=1e-3, grad_clip=0.0, t_end=1.0, dt=1e-3, rtol=1e-6, atol=1e-8
    ).items():
        ap.add_argument(f"--{k.replace('_', '-')}", type=float, default=v)
    a = ap.parse_args()
    if a.dtype == "float64":
        os.environ["JAX_ENABLE_X64"] = "1"
    logging.disable(logging.WARNING)
    import importlib.metadata as md

    import jax

    jax.config.update("jax_enable_x64", a.dtype == "float64")
    versions = {p: md.version(p) for p in ("onsagernet", "jax", "jaxlib", "equinox", "optax", "diffrax", "datasets")}
    out = {"versions": versions, "device": str(jax.devices()[0])}
    if a.mode == "train":
        out.update(train(a))
    elif a.mode == "rollout":
        out.update(rollout(a))
    with open(a.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
