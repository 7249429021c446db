"""Dedalus side of bench_rbc_dedalus.py; runs in the Dedalus venv (peer_venvs.DEDALUS), not ours.

2D Boussinesq convection between free-slip isothermal walls, periodic in x, in the units of
onsagerflow.systems.rbc (depth, thermal diffusion time, ΔT; θ the deviation from conduction):

    ∂t u + ∇p − Pr ∇²u − Ra Pr θ ez = −u·∇u,     ∇·u = 0,
    ∂t θ − ∇²θ − w = −u·∇θ,
    w = ∂z u_x = θ = 0 at z = 0, 1;  x periodic with length 2√2.

Dedalus 3.0.5 has no sine/cosine (parity) basis, so z is a Chebyshev-T series with the walls
imposed by the tau method (first-order formulation, one tau term per z derivative order, as in
Dedalus's own Rayleigh–Bénard example, with its no-slip conditions replaced by w = 0 and
∂z u_x = 0); x is a real Fourier series; products on the 3/2-padded grid. IMEX time stepping
(linear terms implicit), at a fixed step.

    python _peer_dedalus.py --input in.json --out out.json
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np

logging.disable(logging.INFO)  # Dedalus logs every matrix build at INFO

import dedalus  # noqa: E402
import dedalus.public as d3  # noqa: E402

K_C = math.pi / math.sqrt(2.0)
LENGTH = 2.0 * math.sqrt(2.0)


def build(nx: int, nz: int, ra: float, pr: float, stepper: str, amplitude: float):
    coords = d3.CartesianCoordinates("x", "z")
    dist = d3.Distributor(coords, dtype=np.float64)
    xb = d3.RealFourier(coords["x"], size=nx, bounds=(0.0, LENGTH), dealias=3 / 2)
    zb = d3.ChebyshevT(coords["z"], size=nz, bounds=(0.0, 1.0), dealias=3 / 2)
    p = dist.Field(name="p", bases=(xb, zb))
    theta = dist.Field(name="theta", bases=(xb, zb))
    u = dist.VectorField(coords, name="u", bases=(xb, zb))
    tau_p = dist.Field(name="tau_p")
    tau_t1 = dist.Field(name="tau_t1", bases=xb)
    tau_t2 = dist.Field(name="tau_t2", bases=xb)
    tau_u1 = dist.VectorField(coords, name="tau_u1", bases=xb)
    tau_u2 = dist.VectorField(coords, name="tau_u2", bases=xb)
    ex, ez = coords.unit_vector_fields(dist)
    lift_basis = zb.derivative_basis(1)
    lift = lambda A: d3.Lift(A, lift_basis, -1)
    grad_u = d3.grad(u) + ez * lift(tau_u1)
    grad_t = d3.grad(theta) + ez * lift(tau_t1)
    Ra, Pr = ra, pr
    ns = {**locals(), "d3": d3}
    problem = d3.IVP([p, theta, u, tau_p, tau_t1, tau_t2, tau_u1, tau_u2], namespace=ns)
    problem.add_equation("trace(grad_u) + tau_p = 0")
    problem.add_equation("dt(theta) - div(grad_t) - ez@u + lift(tau_t2) = - u@grad(theta)")
    problem.add_equation("dt(u) - Pr*div(grad_u) + grad(p) - Ra*Pr*theta*ez + lift(tau_u2) = - u@grad(u)")
    problem.add_equation("theta(z=0) = 0")
    problem.add_equation("theta(z=1) = 0")
    problem.add_equation("ez@u(z=0) = 0")
    problem.add_equation("ez@u(z=1) = 0")
    problem.add_equation("ex@(ez@grad_u)(z=0) = 0")  # free slip: ∂z u_x = 0
    problem.add_equation("ex@(ez@grad_u)(z=1) = 0")
    problem.add_equation("integ(p) = 0")
    solver = problem.build_solver(getattr(d3, stepper))
    x, z = dist.local_grids(xb, zb)
    theta["g"] = amplitude * np.cos(K_C * x) * np.sin(np.pi * z)
    nusselt = 1.0 + d3.Integrate(ez @ u * theta) / LENGTH
    return solver, nusselt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    job = json.loads(Path(a.input).read_text())
    out = {"dedalus_version": dedalus.__version__, "runs": []}
    for run in job["runs"]:
        solver, nusselt = build(run["nx"], run["nz"], run["ra"], run["pr"], run["stepper"], run["amplitude"])
        dt = run["dt"]
        res = dict(run)
        t0 = time.perf_counter()
        for _ in range(run["warmup"]):  # the first step builds and factorises the matrices
            solver.step(dt)
        res["warmup_seconds"] = time.perf_counter() - t0
        if run["mode"] == "timing":
            t0 = time.perf_counter()
            for _ in range(run["steps"]):
                solver.step(dt)
            res["seconds"] = time.perf_counter() - t0
        else:
            n_total = int(round(run["t_end"] / dt))
            history = []
            for i in range(run["warmup"], n_total):
                solver.step(dt)
                if (i + 1) % run["every"] == 0:
                    history.append((solver.sim_time, float(nusselt.evaluate()["g"].ravel()[0])))
            res["history"] = history
        out["runs"].append(res)
    Path(a.out).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
