"""Throughput of the RBC solver: trajectory-steps per second for a batch, against a plain
NumPy (pocketfft) implementation of the same scheme run in the same process.

    python benchmarks/bench_rbc.py               # default size, under two minutes on 2 cores
    python benchmarks/bench_rbc.py --size paper  # PRF21 resolution (128 × 48 intervals)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from onsagerflow.runtime import configure

# dt keeps the Courant number below the solver's guard at r = 28 on each grid
SIZES = {
    "default": dict(nx=32, nz=16, batch=8, steps=200, dt=1e-4),
    "paper": dict(nx=128, nz=48, batch=8, steps=60, dt=2e-5),
}


class NumpySolver:
    """The same step as onsagerflow.systems.rbc.Solver (Lawson–Kutta RK3, 2/3 rule), in NumPy."""

    def __init__(self, jax_solver):
        s = jax_solver
        self.ikx, self.ikz = np.asarray(s.ikx), np.asarray(s.ikz)
        self.inv_q2, self.mask = np.asarray(s.inv_q2), np.asarray(s.mask)
        self.E1, self.E2 = np.asarray(s.E_half), np.asarray(s.E_full)
        self.ra, self.pr, self.dt = s.ra, s.pr, s.dt
        self.shape = (2 * s.grid.nz, s.grid.nx)

    def P(self, f):
        return np.fft.irfft2(f, s=self.shape, axes=(-2, -1))

    def rhs(self, s):
        zeta, theta = s[:, 0], s[:, 1]
        psi = -zeta * self.inv_q2
        uh, wh = self.ikz * psi, -self.ikx * psi
        u, w = self.P(uh), self.P(wh)
        adv_z = u * self.P(self.ikx * zeta) + w * self.P(self.ikz * zeta)
        adv_t = u * self.P(self.ikx * theta) + w * self.P(self.ikz * theta)
        adv = np.fft.rfft2(np.stack([adv_z, adv_t], axis=1), axes=(-2, -1)) * self.mask
        return np.stack([-adv[:, 0] - self.ra * self.pr * self.ikx * theta, -adv[:, 1] + wh], axis=1)

    def step(self, s):
        h, E1, E2 = self.dt, self.E1, self.E2
        k1 = self.rhs(s)
        k2 = self.rhs(E1 * (s + 0.5 * h * k1))
        k3 = self.rhs(E2 * (s - h * k1) + 2 * h * E1 * k2)
        s = E2 * s + h / 6.0 * (E2 * k1 + 4.0 * E1 * k2 + k3)
        s = 0.5 * (s - np.roll(np.flip(s, axis=-2), 1, axis=-2))  # sine parity in z
        return s * self.mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    args = ap.parse_args()
    size = SIZES[args.size]
    configure()
    import jax

    from onsagerflow.systems.rbc import RA_C, Grid, Solver, random_perturbations

    solver = Solver(Grid(nx=size["nx"], nz=size["nz"]), 28 * RA_C, 10.0, dt=size["dt"], reflection=False)
    s0 = random_perturbations(solver, jax.random.split(jax.random.key(0), size["batch"]), 0.3)
    steps, batch = size["steps"], size["batch"]

    # Solver.run builds a new jitted function at every call (so every call compiles again);
    # one jit around it keeps the compiled program, so the timed call below runs only.
    run = jax.jit(solver.run, static_argnums=(1, 2))
    t0 = time.perf_counter()
    run(s0, 2, steps)[0].block_until_ready()
    compile_and_run = time.perf_counter() - t0
    t0 = time.perf_counter()
    out, cmax, frozen = run(s0, 2, steps)
    out.block_until_ready()
    if (np.asarray(frozen) >= 0).any():
        raise SystemExit(f"the CFL guard stopped a trajectory (max Courant {float(np.max(cmax)):.2f}): lower dt")
    jax_rate = batch * steps / (time.perf_counter() - t0)

    ref = NumpySolver(solver)
    s = np.asarray(s0)
    t0 = time.perf_counter()
    for _ in range(steps):
        s = ref.step(s)
    numpy_rate = batch * steps / (time.perf_counter() - t0)
    diff = float(np.max(np.abs(s - np.asarray(out[:, -1]))) / np.max(np.abs(s)))

    print(
        f"RBC solver, grid {size['nx']} x {size['nz']} (doubled z: {2 * size['nz']}), batch {batch}, "
        f"{steps} steps, device {jax.devices()[0]}"
    )
    print(
        f"  onsagerflow (JAX, jit + scan + vmap): {jax_rate:10.1f} trajectory-steps/s "
        f"(first call incl. compile {compile_and_run:.1f} s)"
    )
    print(f"  NumPy / pocketfft, same scheme:       {numpy_rate:10.1f} trajectory-steps/s")
    print(f"  ratio: {jax_rate / numpy_rate:.2f}x   (max relative difference of the states: {diff:.1e})")


if __name__ == "__main__":
    main()
