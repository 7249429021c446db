"""Training throughput of OnsagerNet / S-OnsagerNet against the ``onsagernet`` package
(PyPI, JAX/Equinox, by the NCS24 authors), side by side in one run on the same data.

    PYTHONPATH=src python benchmarks/bench_train_peer.py                  # under two minutes
    PYTHONPATH=src python benchmarks/bench_train_peer.py --size paper     # PRF21-sized data
    PYTHONPATH=src python benchmarks/bench_train_peer.py --dtype float64

Data: Lorenz-63 pairs (deterministic: exact trajectories; stochastic: additive noise,
Euler–Maruyama), generated once, normalised as the train stage does, saved to one .npz
that both sides read. The peer runs in its own venv (peer_env.py: Python 3.12, pinned
onsagernet 0.1.3 and its dependencies, built on first use) through a subprocess
(_peer_onsagernet.py) that writes its timings and losses to a JSON file.

Same for both: training/validation windows, batch size, epochs, Adam with the same learning
rate and no decay (ours: AdamW with weight_decay 0), gradient clipping by global norm at
the same threshold (the project default 10; the peer's optimiser gets it by overriding
``_make_optimiser``; ``--grad-clip 0`` turns it off on both sides), learning-rate reduction
off on both sides, widths, depths, potential dimension, α and β,
activation ReQUr (= the peer's "srequ"), dtype, and the validation
metric (PRF21 Heun pair loss; Euler–Maruyama NLL per increment and component), computed
after every epoch on both sides.

Remaining differences (printed with the results):
- forcing: ours has the project's default f(z) = Fz + f0 (``--forcing none`` drops it, as the
  peer's OnsagerNet has no such term; without it our model learns the Lorenz pairs much
  more slowly from its initialisation);
- architecture: the peer builds M and W from two MLPs (L = tanh(MLP), M = αI + LLᵀ,
  W = L − Lᵀ); ours reads both off one MLP head (M from the lower triangle, W from the strict
  upper one), so the peer has one more MLP (more parameters, more work per sample); our
  potential MLP has skip connections between hidden layers, the peer's does not; diffusion:
  ours diag(softplus(g) + floor), the peer's diag(√(floor² + g²)); initialisations differ;
- training loop: ours shuffles the windows every epoch inside one compiled epoch (lax.scan
  over minibatches); the peer's loop iterates a Hugging Face dataset in order, one
  eqx.filter_jit step per batch, its reduce_on_plateau updated every step (patience off);
- the peer's stochastic loss is its MLELoss (NLL of the rates ΔZ/τ, equal to n × ours −
  n log τ: same minimiser); the deterministic peer loss is the PRF21 pair loss written
  as a SDETrainer subclass (the package ships no deterministic trainer);
- JAX: ours runs the project's jax; the peer needs jax 0.5.3 (its equinox fails on newer),
  so the XLA versions differ.

Throughput: training windows per second, from the median epoch time of epochs 2..E
(each epoch includes one validation evaluation on both sides); compile time: epoch 1
minus a steady epoch. Time to loss: wall time from the start of training until the
validation loss first reaches the worse of the two sides' best validation losses.
The persistent compilation cache is off so that compile times are cold.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

SIZES = {
    "default": dict(n_train=100, n_val=20, per_trajectory=50, epochs=12, batch=100),
    "paper": dict(n_train=1000, n_val=200, per_trajectory=100, epochs=20, batch=200),
}
ARCH = dict(width=32, depth=2, potential_dim=6, alpha=0.1, beta=0.1, sigma_floor=1e-3)


def ours_train(kind, data, size, dtype, lr, seed, forcing="linear", grad_clip=10.0):
    import jax.numpy as jnp
    from flax import nnx

    from onsagerflow.config import validated_block
    from onsagerflow.models import OnsagerNet, SOnsagerNet, param_count
    from onsagerflow.training.losses import em_nll
    from onsagerflow.training.trainer import fit

    pd_ = jnp.float64 if dtype == "float64" else jnp.float32
    kw = dict(
        width=ARCH["width"],
        depth=ARCH["depth"],
        potential_dim=ARCH["potential_dim"],
        alpha=ARCH["alpha"],
        beta=ARCH["beta"],
        activation="requr",
        forcing=forcing,
        rngs=nnx.Rngs(seed),
        param_dtype=pd_,
    )
    tau = float(data["tau"])
    if kind == "det":
        model, loss = OnsagerNet(3, **kw), None
    else:
        model = SOnsagerNet(
            3, diffusion="diagonal", sigma_init=float(np.sqrt(tau)), sigma_floor=ARCH["sigma_floor"], **kw
        )
        loss = em_nll
    cfg = validated_block(
        "training",
        dict(
            epochs=size["epochs"],
            batch_size=size["batch"],
            learning_rate=lr,
            weight_decay=0.0,
            grad_clip=grad_clip if grad_clip > 0 else 1e30,
            plateau=dict(factor=0.5, patience=10**9, min_scale=1e-3),
            early_stopping=dict(patience=10**9, min_delta=0.0),
        ),
    )
    res = fit(model, data["train"], data["val"], tau=tau, cfg=cfg, seed=seed, loss=loss)
    h = res.history
    secs = h["seconds"].to_numpy()
    rows = [
        {"epoch": int(e), "val_loss": float(v), "epoch_seconds": float(s), "seconds": float(c)}
        for e, v, s, c in zip(h["epoch"], h["val_loss"], np.diff(secs, prepend=0.0), secs)
    ]
    n = (len(data["train"]) // size["batch"]) * size["batch"]
    return {"rows": rows, "samples_per_epoch": n, "params": param_count(model)}


def summarise(r):
    rows = r["rows"]
    ep = np.array([x["epoch_seconds"] for x in rows])
    steady = float(np.median(ep[1:])) if len(ep) > 1 else float(ep[0])
    val = np.array([x["val_loss"] for x in rows])
    return dict(
        rate=r["samples_per_epoch"] / steady,
        steady=steady,
        compile=float(ep[0] - steady),
        best=float(np.nanmin(val)),
        final=float(val[-1]),
        params=r["params"],
        seconds=np.array([x["seconds"] for x in rows]),
        val=val,
    )


def time_to(s, target):
    hit = np.nonzero(s["val"] <= target)[0]
    return float(s["seconds"][hit[0]]) if hit.size else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (the project default)")
    ap.add_argument("--kinds", default="det,sde", help="det, sde or both (comma separated)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--grad-clip",
        type=float,
        default=10.0,
        help="clip gradients by global norm on both sides (the project default; 0: off)",
    )
    ap.add_argument(
        "--forcing",
        choices=["linear", "none"],
        default="linear",
        help="our model's f(z) = Fz + f0 (the project default; 12 parameters for n = 3) or "
        "none, as the peer's OnsagerNet, which has no forcing term",
    )
    args = ap.parse_args()
    size = dict(SIZES[args.size])
    if args.epochs:
        size["epochs"] = args.epochs
    from peer_env import run_peer, start

    start()
    import jax
    from _lorenz_data import lorenz_windows

    tmp = Path(tempfile.mkdtemp(prefix="onsagerflow-peer-"))
    print(
        f"training throughput vs onsagernet, size '{args.size}', dtype {args.dtype}: Lorenz, "
        f"{size['n_train']} train / {size['n_val']} val trajectories x {size['per_trajectory']} pairs, "
        f"batch {size['batch']}, {size['epochs']} epochs, Adam lr {args.lr}, "
        f"clip {args.grad_clip or 'off'}; "
        f"width {ARCH['width']}, depth {ARCH['depth']}, potential dim {ARCH['potential_dim']}; "
        f"our forcing: {args.forcing} (the peer has none)"
    )
    print(
        f"ours: jax {jax.__version__} on {jax.devices()[0]}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    table, peer_versions = [], None
    for kind in args.kinds.split(","):
        t0 = time.perf_counter()
        data = lorenz_windows(size["n_train"], size["n_val"], size["per_trajectory"], stochastic=kind == "sde")
        path = tmp / f"{kind}.npz"
        np.savez(path, **data)
        gen = time.perf_counter() - t0
        ours = summarise(ours_train(kind, data, size, args.dtype, args.lr, args.seed, args.forcing, args.grad_clip))
        peer_raw = run_peer(
            [
                "train",
                "--data",
                str(path),
                "--kind",
                kind,
                "--dtype",
                args.dtype,
                "--epochs",
                str(size["epochs"]),
                "--batch",
                str(size["batch"]),
                "--lr",
                str(args.lr),
                "--seed",
                str(args.seed),
                "--grad-clip",
                str(args.grad_clip),
                *[f"--{k.replace('_', '-')}={v}" for k, v in ARCH.items()],
            ],
            tmp / f"{kind}.json",
        )
        peer_versions = peer_raw["versions"]
        peer = summarise(peer_raw)
        target = max(ours["best"], peer["best"])
        table.append((kind, ours, peer, time_to(ours, target), time_to(peer, target), target))
        print(f"  [{kind}] {len(data['train'])} train windows, data {gen:.1f} s")

    print(f"peer: {', '.join(f'{k} {v}' for k, v in peer_versions.items())}")
    metric = {"det": "pair loss", "sde": "EM NLL"}
    print(
        f"\n{'model':14s} {'side':6s} {'params':>7s} {'windows/s':>11s} {'compile s':>9s} "
        f"{'best val':>11s} {'final val':>11s} {'t->target s':>11s}"
    )
    for kind, ours, peer, t_o, t_p, target in table:
        name = "OnsagerNet" if kind == "det" else "S-OnsagerNet"
        for side, s, t in (("ours", ours, t_o), ("peer", peer, t_p)):
            print(
                f"{name:14s} {side:6s} {s['params']:7d} {s['rate']:11.0f} {s['compile']:9.2f} "
                f"{s['best']:11.4e} {s['final']:11.4e} {t:11.2f}"
            )
        print(
            f"{'':14s} ratio  throughput {ours['rate'] / peer['rate']:.2f}x, time to {metric[kind]} "
            f"{target:.4e}: {t_p / t_o:.2f}x, best val ours {'<=' if ours['best'] <= peer['best'] else '>'} peer"
        )
    print(
        "\nDifferences: the peer has separate MLPs for M and W (more parameters), no skip connections "
        "in its potential MLP, a different diagonal-diffusion map and initialisation, no shuffling, "
        f"and runs jax {peer_versions['jax']} (its equinox needs it); see the docstring."
    )


if __name__ == "__main__":
    main()
