"""Rollout throughput of our batched ODE and SDE simulation against the ``onsagernet``
package's simulation recipe, side by side in one run.

    PYTHONPATH=src python benchmarks/bench_rollout_peer.py                # under two minutes
    PYTHONPATH=src python benchmarks/bench_rollout_peer.py --size paper
    PYTHONPATH=src python benchmarks/bench_rollout_peer.py --dtype float32  # peer only; ours is float64

Ours: onsagerflow.analysis.rollout.integrate (diffrax Tsit5, PID step control, vmap over
starts, parameters passed as arguments) for the OnsagerNet ODE, and
onsagerflow.analysis.sde.simulate_sde (Euler–Maruyama, lax.scan, noise drawn per interval)
for the S-OnsagerNet SDE; both in float64 as the evaluation stages run them.

Peer (in its own venv, see peer_env.py): the package ships no simulator; the authors'
examples (examples/utils/sde.py) solve the SDE with diffrax Euler on
MultiTerm(ODETerm(drift), ControlTerm(diffusion, VirtualBrownianTree)) under
eqx.filter_jit + jax.vmap; _peer_onsagernet.py follows that recipe on the package's
OnsagerNet. For the ODE it runs diffrax Tsit5 with the same tolerances on the model's drift.

Same: number of trajectories, starts (one .npz), time span, saves, EM step, tolerances,
widths/depths/potential dim. Different: the models (the architectures differ as in
bench_train_peer.py, both at their random initialisation, so an adaptive ODE solver may
take a different number of steps: the accepted steps per trajectory are printed too), the
jax versions (peer: 0.5.3). Throughput: trajectory-steps per second (EM steps; for the
ODE, saved samples), best of ``repeat`` calls after a first call that compiles.
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
    "default": dict(batch=256, t_end=2.0, saves=100, dt=1e-3, repeat=2),
    "paper": dict(batch=1024, t_end=10.0, saves=500, dt=1e-3, repeat=2),
}
ARCH = dict(width=32, depth=2, potential_dim=6, alpha=0.1, beta=0.1, sigma_floor=1e-3)
RTOL, ATOL = 1e-6, 1e-8


def best_time(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    ap.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float64",
        help="the peer's dtype (ours always runs float64, as evaluation does)",
    )
    args = ap.parse_args()
    size = SIZES[args.size]
    from peer_env import run_peer, start

    start()
    import diffrax
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from onsagerflow.analysis.rollout import integrate
    from onsagerflow.analysis.sde import model_sde, simulate_sde
    from onsagerflow.models import OnsagerNet, SOnsagerNet
    from onsagerflow.models.dynamics import as_float64

    B, t_end, saves, dt, rep = size["batch"], size["t_end"], size["saves"], size["dt"], size["repeat"]
    z0 = np.random.default_rng(0).normal(size=(B, 3))
    tmp = Path(tempfile.mkdtemp(prefix="onsagerflow-peer-"))
    np.savez(tmp / "z0.npz", z0=z0)
    t = np.linspace(0.0, t_end, saves + 1)
    kw = dict(
        width=ARCH["width"],
        depth=ARCH["depth"],
        potential_dim=ARCH["potential_dim"],
        alpha=ARCH["alpha"],
        beta=ARCH["beta"],
        activation="requr",
        forcing="none",
        rngs=nnx.Rngs(0),
    )
    peer_common = [
        "--data",
        str(tmp / "z0.npz"),
        "--dtype",
        args.dtype,
        "--t-end",
        str(t_end),
        "--saves",
        str(saves),
        "--dt",
        str(dt),
        "--repeat",
        str(rep),
        "--rtol",
        str(RTOL),
        "--atol",
        str(ATOL),
        *[f"--{k.replace('_', '-')}={v}" for k, v in ARCH.items()],
    ]

    # ODE: ours
    ode = as_float64(OnsagerNet(3, **kw))
    graphdef, state = nnx.split(ode)

    def field(x, st):
        return nnx.merge(graphdef, st)(x)

    t0 = time.perf_counter()
    integrate(field, z0, t, args=state, rtol=RTOL, atol=ATOL)
    ode_first = time.perf_counter() - t0
    ode_t = best_time(lambda: integrate(field, z0, t, args=state, rtol=RTOL, atol=ATOL), rep)
    # accepted steps of the same solve (not timed): diffrax directly, same settings
    sol = jax.vmap(
        lambda y: diffrax.diffeqsolve(
            diffrax.ODETerm(lambda s, x, a: field(x, a)),
            diffrax.Tsit5(),
            0.0,
            t_end,
            None,
            y,
            args=state,
            stepsize_controller=diffrax.PIDController(rtol=RTOL, atol=ATOL),
            max_steps=200_000,
        )
    )(jnp.asarray(z0))
    ode_steps = float(np.mean(sol.stats["num_accepted_steps"]))
    peer_ode = run_peer(["rollout", "--kind", "ode", *peer_common], tmp / "ode.json")

    # SDE: ours
    sde = as_float64(SOnsagerNet(3, diffusion="diagonal", sigma_init=0.5, sigma_floor=ARCH["sigma_floor"], **kw))
    drift, sigma, st = model_sde(sde)
    key = jax.random.key(1)
    run = lambda: simulate_sde(drift, sigma, z0, t, dt, key, args=st)
    t0 = time.perf_counter()
    zs = run()
    sde_first = time.perf_counter() - t0
    sde_t = best_time(run, rep)
    assert np.isfinite(zs).all()
    peer_sde = run_peer(["rollout", "--kind", "sde", *peer_common], tmp / "sde.json")

    n_em = B * round(t_end / dt)
    print(
        f"rollout throughput vs onsagernet, size '{args.size}': {B} trajectories, t in [0, {t_end}], "
        f"{saves} saves, EM dt {dt}, Tsit5 rtol {RTOL} atol {ATOL}; ours float64, peer {args.dtype}"
    )
    print(
        f"ours: jax {jax.__version__}; peer: "
        + ", ".join(f"{k} {v}" for k, v in peer_ode["versions"].items())
        + f"; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"\n{'path':38s} {'first call s':>12s} {'best s':>8s} {'throughput':>22s} {'steps/traj':>10s}")
    print(
        f"{'ODE ours  (integrate, Tsit5)':38s} {ode_first:12.2f} {ode_t:8.3f} {B * saves / ode_t:12.3e} saves/s "
        f"{ode_steps:10.0f}"
    )
    pt = min(peer_ode["seconds"])
    print(
        f"{'ODE peer  (diffrax Tsit5 on drift)':38s} {peer_ode['first_call_seconds']:12.2f} {pt:8.3f} "
        f"{B * saves / pt:12.3e} saves/s {peer_ode['num_steps']:10.0f}"
    )
    print(
        f"{'':38s} ratio {pt / peer_ode['num_steps'] / (ode_t / ode_steps):.2f}x in accepted trajectory-steps/s "
        f"({B * ode_steps / ode_t:.3e} vs {B * peer_ode['num_steps'] / pt:.3e}); {pt / ode_t:.2f}x in saves/s, "
        f"which counts the different step numbers of the two untrained models"
    )
    st_ = min(peer_sde["seconds"])
    print(
        f"{'SDE ours  (simulate_sde, EM scan)':38s} {sde_first:12.2f} {sde_t:8.3f} {n_em / sde_t:12.3e} steps/s "
        f"{round(t_end / dt):10d}"
    )
    print(
        f"{'SDE peer  (diffrax Euler + VBT)':38s} {peer_sde['first_call_seconds']:12.2f} {st_:8.3f} "
        f"{n_em / st_:12.3e} steps/s {round(t_end / dt):10d}"
    )
    print(f"{'':38s} ratio {st_ / sde_t:.2f}x")


if __name__ == "__main__":
    main()
