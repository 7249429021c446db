"""Measure the rates that size the workflow's jobs and write them to a rates file.

    PYTHONPATH=src python benchmarks/measure_rates.py                        # prints them
    PYTHONPATH=src python benchmarks/measure_rates.py --out config/rates.yaml

Every rate is measured the way the jobs run: one XLA thread (the rules pass --threads 1),
float64 simulators, float32 models at config/paper.yaml's architecture (width 64, depth 2),
the persistent compilation cache off (so a solver call's compile time is the cold one), and
each timed call after a first one that compiles (but ``startup`` and ``rbc_call``, which are
the compile costs). The cases are the papers' sizes where they are cheap enough to time in a
minute each here: RBC on 128 × 48, polymer N = 300 × 64 chains (config/paper.yaml's batch).
Times are the process's CPU time, not wall time: a job runs one thread, so on a machine of its
own its wall time is its CPU time, while on a shared machine the wall time mostly measures
the queue for a core (here: a load of 15–20 on 2 cores made wall-clock rates 7–10× slower).
The file records the machine, its load and the code; measure on the machines the jobs will
run on and point ``jobs.rates`` at the file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python benchmarks/measure_rates.py --out config/rates.yaml"


def cpu_seconds(fn) -> float:
    """CPU seconds of this process (all threads) spent in ``fn()``."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def best(fn, repeat: int = 2) -> float:
    fn()  # compile
    return min(cpu_seconds(fn) for _ in range(repeat))


def startup() -> tuple[float, str]:
    """A whole tiny simulate job as the workflow runs it: a new process, imports, one compiled
    solver (Dormand–Prince 8, the slowest of the simulators to compile), the store written."""
    spec = {
        "name": "startup",
        "type": "lorenz",
        "seed": 0,
        "parameters": {"sigma": 10.0, "r": 28.0, "b": 8 / 3},
        "simulation": {
            "n_trajectories": 3,
            "t_end": 0.01,
            "dt_sample": 0.001,
            "init_low": [-25, -25, -5],
            "init_high": [25, 25, 30],
            "rtol": 1e-12,
            "atol": 1e-12,
        },
        "splits": {"train": 0.4, "val": 0.3, "test": 0.3},
    }
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ONSAGERFLOW_JAX_CACHE": "off", "PYTHONPATH": str(ROOT / "src")}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "onsagerflow",
                "simulate",
                "--threads",
                "1",
                "--spec",
                json.dumps(spec),
                "--out",
                f"{tmp}/s.zarr",
            ],
            check=True,
            env=env,
            capture_output=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return cpu, "onsagerflow simulate of 3 Lorenz-63 trajectories, cold compile"


def lorenz() -> tuple[float, str]:
    from onsagerflow.systems.lorenz import solve_batch

    n, t_end = 25, 3.0
    u0 = np.random.default_rng(0).uniform([-25, -25, -5], [25, 25, 30], size=(n, 3))
    t = np.arange(3001) * 0.001
    secs = best(lambda: np.asarray(solve_batch(u0, t, (10.0, 28.0, 8 / 3), rtol=1e-12, atol=1e-12)))
    return n * t_end / secs, f"{n} trajectories × {t_end} time units at r = 28, rtol = atol = 1e-12"


def _rbc_solver():
    from onsagerflow.systems.rbc import RA_C, Grid, Solver

    return Solver(Grid(nx=128, nz=48), 28 * RA_C, 10.0, 4e-5)


def rbc() -> tuple[float, str]:
    import jax

    from onsagerflow.systems.rbc import random_perturbations

    solver, batch, steps = _rbc_solver(), 10, 100
    s0 = random_perturbations(solver, jax.random.split(jax.random.key(0), batch), 0.3)
    run = jax.jit(solver.run, static_argnums=(1, 2))  # compiled once; rbc_call is the compile
    secs = best(lambda: run(s0, 2, steps)[0].block_until_ready())
    points = 2 * 48 * 128
    return batch * steps * points / secs, f"128 × 48, r = 28, dt 4e-5, batch {batch}, {steps} steps"


def rbc_call() -> tuple[float, str]:
    import jax

    from onsagerflow.systems.rbc import random_perturbations

    solver = _rbc_solver()
    s0 = random_perturbations(solver, jax.random.split(jax.random.key(0), 10), 0.3)
    solver.run(s0, 2, 1)[0].block_until_ready()
    # Solver.run builds a new jitted function at every call
    times = [cpu_seconds(lambda: solver.run(s0, 2, 1)[0].block_until_ready()) for _ in range(2)]
    return float(np.mean(times)), "Solver.run of one step, 128 × 48, batch 10 (compile included)"


def polymer() -> tuple[float, str]:
    import jax

    from onsagerflow.systems import polymer as P

    n_beads, chains, steps = 300, 64, 1000
    noise = next(s for s in _paper_config()["systems"].values() if s["type"] == "polymer")["simulation"]["noise"]
    chain = P.chain_of(n_beads=n_beads, spring="fene", H=50.0)
    keys = jax.random.split(jax.random.PRNGKey(0), 2 * chains)
    r0 = np.asarray(P.random_walks(chain, keys[:chains]))
    eps = 2.0 / P.rouse_relaxation_time(n_beads, chain.H, chain.zeta)
    secs = best(
        lambda: P.run(
            chain, r0, keys[chains:], dt=5e-4, n_saves=1, save_every=steps, strain_rate=eps, noise=noise
        ).block_until_ready()
    )
    return chains * n_beads * steps / secs, f"FENE N = {n_beads}, {chains} chains, Wi = 2, dt 5e-4, {noise} noise"


def _paper_config() -> dict:
    from onsagerflow.config import load_config

    return load_config(ROOT / "config" / "paper.yaml")


def _paper_model(key: str) -> dict:
    return _paper_config()["models"][key]


def _train_rate(kind: str) -> tuple[float, str]:
    import functools

    from onsagerflow.config import training_spec
    from onsagerflow.models import build_model
    from onsagerflow.training.losses import em_nll, joint_loss
    from onsagerflow.training.trainer import fit

    rng = np.random.default_rng(0)
    n_win, batch, epochs, n, m = 200_000, 100, 10, 3, 32
    key = {"det": "onsagernet_s1", "sde": "s_onsagernet_s1", "joint": "onsagernet_resnet_s1"}[kind]
    spec = _paper_model(key)
    cfg = {
        **training_spec(_paper_config(), key),
        "epochs": epochs,
        "batch_size": batch,
        "early_stopping": {"patience": 10**6, "min_delta": 0.0},
    }
    dim = m if kind == "joint" else n
    w = rng.normal(size=(n_win, 2, dim)).astype(np.float32)
    w[:, 1] = w[:, 0] + 0.01 * rng.normal(size=(n_win, dim))
    val = w[: n_win // 5]
    if kind == "joint":
        model = build_model(spec, n, seed=0, input_dim=m)
        a = spec["autoencoder"]
        loss = functools.partial(
            joint_loss,
            reconstruction_weight=a["reconstruction_weight"],
            isometry_weight=a["isometry_weight"],
            pca_penalty_weight=a["pca_penalty_weight"],
        )
    else:
        model = build_model({**spec, "sigma_init": 0.1} if kind == "sde" else spec, n, seed=0)
        loss = em_nll if kind == "sde" else None
    # after a first fit (compiling), the difference between fits of two lengths is the epochs alone
    fit(model, w, val, tau=0.01, cfg={**cfg, "epochs": 1}, seed=0, loss=loss)

    def fit_epochs(e: int) -> float:
        return cpu_seconds(lambda: fit(model, w, val, tau=0.01, cfg={**cfg, "epochs": e}, seed=0, loss=loss))

    one, more = fit_epochs(1), fit_epochs(1 + epochs)
    per_epoch = (more - one) / epochs
    what = {"det": "OnsagerNet", "sde": "S-OnsagerNet", "joint": "PCA-ResNet (m = 32) + OnsagerNet"}[kind]
    return (
        n_win / per_epoch,
        f"{what} of config/paper.yaml, n = {n}, {n_win} windows, batch {batch}, {epochs} epochs (validation included)",
    )


def rollout_ode() -> tuple[float, str]:
    from flax import nnx

    from onsagerflow.analysis.rollout import integrate
    from onsagerflow.models import build_model
    from onsagerflow.models.dynamics import as_float64

    model = as_float64(build_model(_paper_model("onsagernet_s1"), 3, seed=0))
    graphdef, state = nnx.split(model)
    z0 = np.random.default_rng(0).normal(size=(100, 3)) * 0.5
    t = np.linspace(0.0, 2.0, 1001)
    secs = best(lambda: integrate(lambda x, st: nnx.merge(graphdef, st)(x), z0, t, args=state, rtol=1e-8, atol=1e-8))
    return z0.shape[
        0
    ] * t.size / secs, "100 rollouts × 1001 samples of an untrained OnsagerNet, Tsit5 rtol = atol = 1e-8"


def rollout_sde() -> tuple[float, str]:
    import jax

    from onsagerflow.analysis.sde import model_sde, simulate_sde
    from onsagerflow.models import build_model
    from onsagerflow.models.dynamics import as_float64

    model = as_float64(build_model({**_paper_model("s_onsagernet_s1"), "sigma_init": 0.1}, 3, seed=0))
    drift, sigma, st = model_sde(model)
    z0 = np.random.default_rng(0).normal(size=(300, 3)) * 0.5
    t = np.linspace(0.0, 1.0, 101)
    secs = best(lambda: simulate_sde(drift, sigma, z0, t, 0.001, jax.random.key(0), args=st))
    return z0.shape[0] * 1000 / secs, "300 Euler–Maruyama paths × 1000 steps of an untrained S-OnsagerNet"


def store() -> tuple[float, str]:
    from onsagerflow.data import build_dataset, open_store, write_store

    rng = np.random.default_rng(0)
    n, frames, beads = 64, 501, 300
    r = rng.normal(size=(n, frames, beads, 3)).astype(np.float32)
    ds = build_dataset(
        system="rates",
        data_vars={"r": (("trajectory", "time", "bead", "xyz"), r, {"units": "1", "long_name": "positions"})},
        time=np.arange(frames) * 0.01,
        split=np.zeros(n, np.int8),
        attrs={"onsagerflow_version": "-", "git_sha": "-", "config_sha256": "-", "created": "-"},
    )
    with tempfile.TemporaryDirectory() as tmp:
        import dask

        with dask.config.set(scheduler="synchronous"):  # one thread, as in a job given one
            secs = cpu_seconds(
                lambda: (
                    write_store(ds, f"{tmp}/a.zarr", dims=("bead", "xyz")),
                    float(open_store(f"{tmp}/a.zarr", dims=("bead", "xyz"))["r"].sum().compute()),
                )
            )
    mb = r.nbytes / 2**20
    # written once, validated before and after the move, read once: four passes over the data
    return 4 * mb / secs, f"{mb:.0f} MB polymer store written (validated twice) and read back"


CASES = {
    "startup": startup,
    "lorenz": lorenz,
    "rbc": rbc,
    "rbc_call": rbc_call,
    "polymer": polymer,
    "train": lambda: _train_rate("det"),
    "train_sde": lambda: _train_rate("sde"),
    "train_joint": lambda: _train_rate("joint"),
    "rollout_ode": rollout_ode,
    "rollout_sde": rollout_sde,
    "store": store,
}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the rates file here (else print it)")
    ap.add_argument("--only", nargs="+", choices=list(CASES), help="measure these; keep the others from --out")
    args = ap.parse_args()
    os.environ["ONSAGERFLOW_JAX_CACHE"] = "off"
    sys.path.insert(0, str(ROOT / "src"))
    from onsagerflow import __version__
    from onsagerflow.jobs.rates import RATES, RATES_VERSION
    from onsagerflow.provenance import git_sha
    from onsagerflow.runtime import configure

    configure(1)
    import jax

    old = {}
    if args.only and args.out and Path(args.out).exists():
        import yaml

        old = yaml.safe_load(Path(args.out).read_text())["rates"]
    load = [os.getloadavg()[0]]
    rates = {}
    for name in RATES:
        if args.only and name not in args.only:
            rates[name] = old[name]
            continue
        value, case = CASES[name]()
        load.append(os.getloadavg()[0])
        rates[name] = {"value": float(f"{value:.4g}"), "unit": RATES[name], "case": case}
        print(f"{name:12s} {value:12.4g}  {RATES[name]}  [{case}]", flush=True)
    doc = {
        "version": RATES_VERSION,
        "measured": {
            "command": COMMAND if not args.only else f"{COMMAND} --only {' '.join(args.only)}",
            "date": dt.date.today().isoformat(),
            "machine": machine(),
            "load_average": f"{min(load):.1f}–{max(load):.1f} while measuring",
            "onsagerflow": f"{__version__} ({git_sha(ROOT)})",
            "jax": jax.__version__,
            "threads": "one XLA thread per job, as the rules run them",
        },
        "rates": rates,
    }
    import yaml

    text = (
        "# Measured rates that size the workflow's jobs (onsagerflow.jobs); config key jobs.rates.\n"
        f"# Written by: {doc['measured']['command']}. Do not edit by hand: measure again.\n"
        + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    )
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
