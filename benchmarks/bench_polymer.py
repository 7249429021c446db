"""Throughput of the polymer simulator (bead-steps per second for a batch of chains).

    PYTHONPATH=src python benchmarks/bench_polymer.py              # N = 16, under 2 minutes
    PYTHONPATH=src python benchmarks/bench_polymer.py --size paper # N = 300 (NCS24)
    PYTHONPATH=src python benchmarks/bench_polymer.py --size paper --only kernel  # before/after

Two comparisons, each on the same batch in the same process:

1. onsagerflow.systems.polymer.run against a straightforward NumPy implementation of the same
   Euler–Maruyama step, written below (first checked to give the same positions when the
   noise is switched off), for Hookean and WLC chains;
2. the production scheme (FENE, semi-implicit, float64) against the kernel as it was before
   it was made faster (``_polymer_reference.py``, a frozen copy), with each noise kind: the
   same chains, keys, flow and steps, timed alternately; the two must give the same positions
   (to round-off: same scheme, same random numbers). Rademacher noise, which the frozen copy
   does not have, is timed against its Gaussian noise (the kernel as used before).

JAX runs on its default device (CPU unless a GPU is visible); times exclude compilation (one
warm-up call of the same shapes) and are the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np

SIZES = {"default": {"n_beads": 16, "batch": 256, "steps": 2000}, "paper": {"n_beads": 300, "batch": 64, "steps": 400}}
REFERENCE_NOISES = ("gaussian", "uniform")  # the noise kinds of ``_polymer_reference``
KERNEL_DT = 5e-4  # the project's default step (config/schema.yaml, polymer simulation.dt)


def numpy_euler(r, steps, *, spring, H, Q0, kT, zeta, strain_rate, dt, rng):
    """Euler–Maruyama for bead positions r (B, N, 3), centre of mass removed every step."""
    kappa = np.array([strain_rate, -strain_rate, 0.0])
    amp = math.sqrt(2.0 * kT * dt / zeta)
    r = r - r.mean(axis=1, keepdims=True)
    for _ in range(steps):
        Q = r[:, 1:] - r[:, :-1]
        if spring == "hookean":
            f = H * Q
        else:  # Marko–Siggia with A = 3kT/(2 H Q0): f = H φ(x) Q
            x = np.sqrt((Q * Q).sum(axis=-1, keepdims=True)) / Q0
            f = H * (2.0 / 3.0) * ((2.0 - x) / (4.0 * (1.0 - x) ** 2) + 1.0) * Q
        F = np.zeros_like(r)
        F[:, :-1] += f
        F[:, 1:] -= f
        r = r + (kappa * r + F / zeta) * dt + amp * rng.standard_normal(r.shape)
        r -= r.mean(axis=1, keepdims=True)
    return r


def timed(fn, repeat=1):
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def timed_both(fn):
    """Wall and CPU seconds of one call of ``fn``."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def kernel_before_after(P, jax, n, b, steps, repeat):
    """FENE semi-implicit, float64: the earlier kernel and the current one, alternately."""
    import _polymer_reference as reference
    import jax.numpy as jnp

    chain = P.chain_of(n_beads=n, spring="fene", H=50.0, Q0=1.0, kT=1.0, zeta=1.0)
    lam = P.rouse_relaxation_time(n, chain.H, chain.zeta)
    eps, dt = 2.0 / lam, KERNEL_DT  # Wi = 2 with the Rouse estimate of λ
    keys = jax.random.split(jax.random.PRNGKey(0), 2 * b)
    r0 = np.asarray(P.random_walks(chain, keys[:b]))
    epsb, dtb = jnp.full(b, eps), jnp.full(b, dt)

    def old(noise, steps=steps):
        return reference.run(
            jnp.asarray(r0),
            keys[b:],
            epsb,
            dtb,
            chain=chain,
            integrator="semi_implicit",
            noise=noise,
            observe=P.identity,
            n_saves=1,
            save_every=steps,
        ).block_until_ready()

    def new(noise, steps=steps):
        return P.run(
            chain, r0, keys[b:], dt=dt, n_saves=1, save_every=steps, strain_rate=eps, noise=noise
        ).block_until_ready()

    print(
        f"\nkernel before/after: FENE N = {n}, {b} chains, float64, semi-implicit, dt = {dt}, Wi = 2, "
        f"{steps} steps; best of {repeat}, alternating"
    )
    rows = []
    for noise in P.NOISES:
        # the earlier kernel knew only the first two kinds: a new kind is timed against its Gaussian
        before = noise if noise in REFERENCE_NOISES else "gaussian"
        diff = math.nan
        if before == noise:
            diff = float(np.max(np.abs(np.asarray(old(noise, 50)) - np.asarray(new(noise, 50)))))
        old(before), new(noise)  # compile
        t_old = t_new = c_old = c_new = math.inf
        for _ in range(repeat):
            t, c = timed_both(lambda before=before: old(before))
            t_old, c_old = min(t_old, t), min(c_old, c)
            t, c = timed_both(lambda noise=noise: new(noise))
            t_new, c_new = min(t_new, t), min(c_new, c)
        work = b * n * steps
        rows.append((noise, before, work / t_old, work / t_new, work / c_old, work / c_new, diff))
    print("bead-steps/s by wall time and by the process's CPU time (on a shared machine the wall time also")
    print("counts the queue for a core); 'before' runs the noise named in brackets")
    print(
        f"{'noise':22s} {'before':>10s} {'after':>10s} {'speed-up':>9s}  {'CPU: before':>11s} {'after':>10s} {'speed-up':>9s}"
    )
    for noise, before, t_before, after, cbefore, cafter, diff in rows:
        same = f"(max |Δr| after 50 steps {diff:.1e})" if before == noise else "(other numbers: no Δr)"
        print(
            f"{noise + ' [' + before + ']':22s} {t_before:10.3e} {after:10.3e} {after / t_before:8.2f}×  "
            f"{cbefore:11.3e} {cafter:10.3e} {cafter / cbefore:8.2f}×  {same}"
        )
    gauss_before = rows[0][2]
    for noise, _, _, after, *_ in rows[1:]:
        print(f"{noise} noise after, against Gaussian before (wall): {after / gauss_before:.2f}×")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    ap.add_argument("--batch", type=int, help="chains per batch (default: per size)")
    ap.add_argument("--steps", type=int, help="steps per timed run (default: per size)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per case (the best counts)")
    ap.add_argument(
        "--only", choices=("numpy", "kernel"), help="only the NumPy comparison or only the kernel before/after"
    )
    args = ap.parse_args()
    size = dict(SIZES[args.size])
    if args.batch:
        size["batch"] = args.batch
    if args.steps:
        size["steps"] = args.steps

    from onsagerflow.runtime import configure

    configure()
    import jax

    from onsagerflow.systems import polymer as P

    n, b, steps = size["n_beads"], size["batch"], size["steps"]
    H, Q0, dt = 50.0, 1.0, 2e-4
    lam = P.rouse_relaxation_time(n, H, 1.0)
    eps = 2.0 / lam  # Wi = 2
    keys = jax.random.split(jax.random.PRNGKey(0), 2 * b)
    print(
        f"polymer throughput, size '{args.size}': N = {n}, batch = {b} chains, {steps} steps, "
        f"dt = {dt}, Wi = 2 (H = {H}, Q0 = {Q0})"
    )
    print(
        f"jax {jax.__version__} on {jax.devices()[0].device_kind} ({jax.default_backend()}); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; numpy {np.__version__}; "
        f"{platform.processor() or platform.machine()}"
    )

    if args.only != "numpy":
        kernel_before_after(P, jax, n, b, steps, args.repeat)
    if args.only == "kernel":
        return

    rows = []
    for spring in ("hookean", "wlc"):
        chain = P.chain_of(n_beads=n, spring=spring, H=H, Q0=Q0)
        r0 = np.asarray(P.random_walks(chain, keys[:b]))
        # Same step: without noise (kT → 0) both implementations give the same positions.
        quiet = P.chain_of(n_beads=n, spring=spring, H=H, Q0=Q0, kT=1e-300)
        a = np.asarray(
            P.run(
                quiet,
                r0,
                keys[b:],
                dt=dt,
                n_saves=1,
                save_every=50,
                strain_rate=eps,
                integrator="euler",
                noise="gaussian",
            )
        )[:, -1]
        c = numpy_euler(
            r0, 50, spring=spring, H=H, Q0=Q0, kT=1e-300, zeta=1.0, strain_rate=eps, dt=dt, rng=np.random.default_rng(0)
        )
        err = float(np.abs(a - c).max())
        assert err < 1e-9, f"JAX and NumPy Euler steps differ by {err}"

        def jax_run(noise="gaussian", chain=chain, r0=r0):
            P.run(
                chain,
                r0,
                keys[b:],
                dt=dt,
                n_saves=1,
                save_every=steps,
                strain_rate=eps,
                integrator="euler",
                noise=noise,
            ).block_until_ready()

        jax_run()  # compile
        t_jax = timed(jax_run, args.repeat)
        rng = np.random.default_rng(1)
        t_np = timed(
            lambda: numpy_euler(r0, steps, spring=spring, H=H, Q0=Q0, kT=1.0, zeta=1.0, strain_rate=eps, dt=dt, rng=rng)  # noqa: B023 (called at once)
        )
        jax_run("uniform")
        t_uni = timed(lambda: jax_run("uniform"), args.repeat)
        work = b * n * steps
        rows.append((f"numpy  {spring:8s} euler          gaussian", work / t_np, None))
        rows.append((f"jax    {spring:8s} euler          gaussian", work / t_jax, t_np / t_jax))
        rows.append((f"jax    {spring:8s} euler          uniform", work / t_uni, t_np / t_uni))

    chain = P.chain_of(n_beads=n, spring="fene", H=H, Q0=Q0)
    r0 = np.asarray(P.random_walks(chain, keys[:b]))
    for noise in P.NOISES:

        def fene_run(noise=noise):
            P.run(
                chain, r0, keys[b:], dt=dt, n_saves=1, save_every=steps, strain_rate=eps, noise=noise
            ).block_until_ready()

        fene_run()
        t = timed(fene_run, args.repeat)
        rows.append((f"jax    fene     semi_implicit  {noise}", b * n * steps / t, None))

    print(f"\n{'implementation':44s} {'bead-steps/s':>14s} {'× numpy':>8s}")
    for name, rate, ratio in rows:
        print(f"{name:44s} {rate:14.3e} {'' if ratio is None else f'{ratio:8.2f}'}")


if __name__ == "__main__":
    main()
