"""Throughput and accuracy of the Lorenz-63 simulator against SciPy's ``solve_ivp``.

    PYTHONPATH=src python benchmarks/bench_lorenz.py               # under two minutes
    PYTHONPATH=src python benchmarks/bench_lorenz.py --size paper  # PRF21: 100 x t = 3, 3001 samples, tol 1e-12

Ours: onsagerflow.systems.lorenz.solve_batch (diffrax Dopri8, PID step control, jit + vmap
over the batch). SciPy: solve_ivp(method="DOP853"), an explicit 8th-order Dormand–Prince pair
like ours, one trajectory at a time (its usual use), same rtol/atol, same starts, same save
times (t_eval). So that a fast but inaccurate solver cannot win, both are compared with a
reference on the first ``n_ref`` trajectories: DOP853 at rtol = atol = 2.5e-14. Throughput:
trajectory time units per second (batch × t_end / wall time), ours after a first call
that compiles (its time printed separately), best of two runs each.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

SIZES = {
    "default": dict(batch=32, t_end=3.0, dt_sample=0.01, tol=1e-10, n_ref=4),
    "paper": dict(batch=100, t_end=3.0, dt_sample=0.001, tol=1e-12, n_ref=8),
}
SIGMA, R, B = 10.0, 28.0, 8.0 / 3.0


def rhs(t, u):
    x, y, z = u
    return [SIGMA * (y - x), x * (R - z) - y, x * y - B * z]


def scipy_batch(u0, t, rtol, atol):
    from scipy.integrate import solve_ivp

    out = np.empty((len(u0), len(t), 3))
    for i, y0 in enumerate(u0):
        sol = solve_ivp(rhs, (t[0], t[-1]), y0, method="DOP853", t_eval=t, rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(sol.message)
        out[i] = sol.y.T
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    args = ap.parse_args()
    s = SIZES[args.size]
    os.environ.setdefault("ONSAGERFLOW_JAX_CACHE", "off")
    from onsagerflow.runtime import configure

    configure()
    import jax
    import jax.numpy as jnp
    import scipy

    from onsagerflow.systems import lorenz

    u0 = np.random.default_rng(0).uniform([-25, -25, -5], [25, 25, 30], size=(s["batch"], 3))
    t = np.arange(int(round(s["t_end"] / s["dt_sample"])) + 1) * s["dt_sample"]
    args_ = tuple(jnp.float64(p) for p in (SIGMA, R, B))
    tol = s["tol"]

    def ours():
        return np.asarray(lorenz.solve_batch(u0, t, args_, rtol=tol, atol=tol))

    t0 = time.perf_counter()
    ours()
    first = time.perf_counter() - t0
    t_ours, t_sp = [], []
    for _ in range(2):  # interleaved
        t0 = time.perf_counter()
        u_ours = ours()
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        u_sp = scipy_batch(u0, t, tol, tol)
        t_sp.append(time.perf_counter() - t0)
    k = s["n_ref"]
    ref = scipy_batch(u0[:k], t, 2.5e-14, 2.5e-14)
    scale = np.max(np.abs(ref))
    err_ours = float(np.max(np.abs(u_ours[:k] - ref)) / scale)
    err_sp = float(np.max(np.abs(u_sp[:k] - ref)) / scale)
    work = s["batch"] * s["t_end"]
    r_ours, r_sp = work / min(t_ours), work / min(t_sp)
    print(
        f"Lorenz-63 (r = {R}), size '{args.size}': {s['batch']} trajectories, t in [0, {s['t_end']}], "
        f"{len(t)} samples, rtol = atol = {tol:g}; reference DOP853 at 2.5e-14 on {k} trajectories"
    )
    print(
        f"jax {jax.__version__} on {jax.devices()[0]}, scipy {scipy.__version__}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"\n{'solver':44s} {'traj-time/s':>12s} {'max rel error':>14s}")
    print(
        f"{'onsagerflow (diffrax Dopri8, jit + vmap)':44s} {r_ours:12.1f} {err_ours:14.2e}   "
        f"(first call incl. compile {first:.1f} s)"
    )
    print(f"{'scipy solve_ivp DOP853, per trajectory':44s} {r_sp:12.1f} {err_sp:14.2e}")
    print(f"ratio: {r_ours / r_sp:.2f}x  (errors relative to max |u| of the reference, over all samples)")


if __name__ == "__main__":
    main()
