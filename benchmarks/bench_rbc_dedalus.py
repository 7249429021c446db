"""The Rayleigh–Bénard solver against Dedalus 3 on the same 2D problem, side by side in one run:
time per step at equal grid, and the steady Nusselt number at r = 5 and r = 28 from both.

    PYTHONPATH=src python benchmarks/bench_rbc_dedalus.py                # timing on 32 × 16
    PYTHONPATH=src python benchmarks/bench_rbc_dedalus.py --size paper   # timing on PRF21's 128 × 48

The problem (both sides): 2D Boussinesq convection, Pr = 10, Ra = r Ra_c (Ra_c = 27π⁴/4),
free-slip isothermal walls (w = ∂u/∂z = θ = 0 at z = 0, 1), x periodic with length 2√2, units
of onsagerflow.systems.rbc. Ours (``systems.rbc.Solver``) is the streamfunction–vorticity form
on a sine/cosine × Fourier basis, 2/3-rule dealiasing, Lawson–Kutta RK3 (diffusion exact,
three explicit stages per step); Dedalus (its venv: peer_venvs.py, found or built on first use;
skipped with a message when it cannot be had; _peer_dedalus.py) solves the primitive-variable
form (u, w, p, θ) of the same equations: Dedalus 3.0.5 has no sine/cosine basis, so z is
Chebyshev with the free-slip conditions imposed by the tau method, x real Fourier, 3/2-padded
products, IMEX Runge–Kutta (RK443: 4 stages, third order like ours; RK222: 2 stages, the choice
of Dedalus's own convection example). Taking the curl of Dedalus's momentum equation gives ours,
and the boundary conditions are the same, so both converge to the same solutions.

Equal grid: Dedalus with nx × nz coefficients (its state is the size of ours: ours has nx × nz
intervals, nz − 1 interior sine modes); both do their transforms on grids of their own (ours
2nz × nx, the odd extension; Dedalus 3/2·nz × 3/2·nx). Ours keeps about 2/3 of its modes after
dealiasing, Dedalus all, so a second Dedalus row runs with the modes ours keeps (nx → 2⌈nx/3⌉,
nz → ⌈2nz/3⌉). Time per step: mean over ``steps`` steps of one trajectory after the first steps
(compilation, matrix factorisation) on both sides, back to back, same dt; ours also batched
(``vmap``, as the workflow runs it), per trajectory-step. Both run on the CPU in one process.

Nusselt number Nu = 1 + ⟨wθ⟩: from the same start θ = A cos(k_c x) sin(πz), u = 0, A = 0.1,
run to t_end on both sides; the last value, and its change over the last 0.1 time units
(steadiness). Compared on one grid per r; ours also runs a finer grid, whose difference from
the coarser one is the coarser grid's resolution error, to read the difference between the
codes against.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import peer_venvs

PR = 10.0
AMPLITUDE = 0.1
# timing: grid, dt (Courant number well below the guard at r = 28), steps, batch
SIZES = {
    "default": dict(nx=32, nz=16, dt=1e-4, steps=200, batch=8),
    "paper": dict(nx=128, nz=48, dt=2e-5, steps=100, batch=8),
}
# steady Nusselt number: (r, nx, nz, dt, t_end); the second grid of each r checks resolution
# (from this start both settle by t ≈ 1 at r = 5 and t ≈ 0.25 at r = 28, to 1e-7). Dedalus
# runs the first grid of each r; ours also the second, for the resolution error of the first.
NUSSELT = [
    (5.0, 32, 16, 5e-4, 1.0),
    (5.0, 64, 32, 5e-4, 1.0),
    (28.0, 48, 24, 1e-4, 0.3),
    (28.0, 64, 32, 1e-4, 0.3),
]
PEER_NUSSELT = {(5.0, 32, 16), (28.0, 48, 24)}
SAMPLE = 0.05  # Nusselt number history spacing


def single_mode(solver, amplitude: float):
    """θ = A cos(k_c x) sin(πz), ζ = 0, on our doubled-z spectral grid."""
    import jax.numpy as jnp

    g = solver.grid
    k_c = 2.0 * math.pi / g.length
    Z, X = np.meshgrid(np.arange(2 * g.nz) / g.nz, g.x, indexing="ij")
    theta = amplitude * np.cos(k_c * X) * np.sin(np.pi * Z)
    s = jnp.stack([jnp.zeros((2 * g.nz, g.nx // 2 + 1), jnp.complex128), solver.to_spectral(jnp.asarray(theta))])
    return solver.project(s)


def ours_timing(nx, nz, ra, dt, steps, batch) -> dict:
    import jax
    import jax.numpy as jnp

    from onsagerflow.systems.rbc import Grid, Solver

    solver = Solver(Grid(nx=nx, nz=nz), ra, PR, dt=dt, reflection=False)
    # Solver.run makes a new jitted function at every call, which compiles again each time;
    # one jit around it keeps the compiled program, so the timed calls run only
    run = jax.jit(solver.run, static_argnums=(1, 2))
    out = {}
    for b in (1, batch):
        s0 = jnp.repeat(single_mode(solver, AMPLITUDE)[None], b, axis=0)
        run(s0, 2, steps)[0].block_until_ready()  # compile
        best = math.inf
        for _ in range(2):
            t0 = time.perf_counter()
            states, _, frozen = run(s0, 2, steps)
            states.block_until_ready()
            best = min(best, time.perf_counter() - t0)
        if (np.asarray(frozen) >= 0).any():
            raise SystemExit("the CFL guard stopped the timing run: lower dt")
        out[b] = best / (steps * b)  # seconds per trajectory-step
    jax.clear_caches()
    return out


def ours_nusselt(r, nx, nz, dt, t_end) -> list[tuple[float, float]]:
    import jax

    from onsagerflow.systems.rbc import RA_C, Grid, Solver

    solver = Solver(Grid(nx=nx, nz=nz), r * RA_C, PR, dt=dt, reflection=False)
    every = int(round(SAMPLE / dt))
    n = int(round(t_end / SAMPLE))
    states, cmax, frozen = solver.run(single_mode(solver, AMPLITUDE)[None], n + 1, every)
    if int(frozen[0]) >= 0:
        raise SystemExit(f"the CFL guard stopped the r = {r} run on {nx} x {nz} (dt {dt}): lower dt")
    nu = np.asarray(jax.vmap(solver.nusselt)(states[0]))
    return [(i * SAMPLE, float(v)) for i, v in enumerate(nu)]


def steady(history) -> tuple[float, float]:
    """Last Nu and its change over the last 0.1 time units."""
    t = np.array([h[0] for h in history])
    nu = np.array([h[1] for h in history])
    ref = nu[min(int(np.searchsorted(t, t[-1] - 0.1 - 1e-9)), len(t) - 2)]
    return float(nu[-1]), float(nu[-1] - ref)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    ap.add_argument("--no-nusselt", action="store_true", help="timing only")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()
    size = SIZES[args.size]
    try:
        _, version = peer_venvs.python(peer_venvs.DEDALUS)
    except peer_venvs.PeerUnavailable as e:
        print(f"bench_rbc_dedalus skipped: Dedalus is not available: {e}")
        return

    os.environ.setdefault("ONSAGERFLOW_JAX_CACHE", "off")
    from onsagerflow.runtime import configure

    configure()
    import jax

    from onsagerflow.systems.rbc import RA_C

    nx, nz, dt, steps = size["nx"], size["nz"], size["dt"], size["steps"]
    ra = 28.0 * RA_C
    print(
        f"RBC against Dedalus, size '{args.size}': r = 28 (Ra = {ra:.1f}), Pr = {PR}, grid {nx} x {nz}, "
        f"dt = {dt}, {steps} steps"
    )
    print(
        f"ours: jax {jax.__version__} on {jax.devices()[0].device_kind}; peer: Dedalus {version} "
        f"({peer_venvs.DEDALUS.venv()}); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    modes = (2 * math.ceil(nx / 3), math.ceil(2 * nz / 3))
    base = dict(ra=ra, pr=PR, amplitude=AMPLITUDE, mode="timing", dt=dt, steps=steps, warmup=5)
    runs = [
        dict(base, nx=nx, nz=nz, stepper="RK443", label=f"Dedalus RK443, {nx} x {nz} coefficients"),
        dict(base, nx=nx, nz=nz, stepper="RK222", label=f"Dedalus RK222, {nx} x {nz} coefficients"),
        dict(
            base,
            nx=modes[0],
            nz=modes[1],
            stepper="RK443",
            label=f"Dedalus RK443, {modes[0]} x {modes[1]} (our kept modes)",
        ),
    ]
    if not args.no_nusselt:
        for r, gx, gz, gdt, t_end in NUSSELT:
            if (r, gx, gz) not in PEER_NUSSELT:
                continue
            runs.append(
                dict(
                    base,
                    mode="nusselt",
                    ra=r * RA_C,
                    r=r,
                    nx=gx,
                    nz=gz,
                    dt=gdt,
                    t_end=t_end,
                    every=int(round(SAMPLE / gdt)),
                    stepper="RK443",
                    warmup=0,
                )
            )

    # ours first, then Dedalus, back to back
    t_ours = ours_timing(nx, nz, ra, dt, steps, size["batch"])
    nu_ours = {} if args.no_nusselt else {(r, gx, gz): ours_nusselt(r, gx, gz, gdt, t) for r, gx, gz, gdt, t in NUSSELT}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.json").write_text(json.dumps({"runs": runs}))
        res = peer_venvs.run(
            peer_venvs.DEDALUS,
            "_peer_dedalus.py",
            ["--input", str(Path(tmp) / "in.json")],
            Path(tmp) / "out.json",
            threads=1,
        )

    print(f"\ntime per step, one trajectory (ms), r = 28, dt = {dt}:")
    ours1 = t_ours[1]
    print(f"  {'onsagerflow (JAX), ' + f'{nx} x {nz}, 1 trajectory':52s} {1e3 * ours1:9.3f}")
    batched = f"onsagerflow (JAX), {nx} x {nz}, batch {size['batch']}, per trajectory"
    print(f"  {batched:52s} {1e3 * t_ours[size['batch']]:9.3f}")
    timing = {"ours_1": ours1, f"ours_batch{size['batch']}": t_ours[size["batch"]]}
    ratios = {}
    for run in res["runs"]:
        if run["mode"] != "timing":
            continue
        per = run["seconds"] / run["steps"]
        timing[run["label"]] = per
        ratios[run["label"]] = per / ours1
        print(f"  {run['label']:52s} {1e3 * per:9.3f}   ours faster by {per / ours1:.2f}x")
    nus = []
    if not args.no_nusselt:
        print(f"\nsteady Nusselt number from θ = {AMPLITUDE} cos(k_c x) sin(πz) (both: same start, same dt):")
        print(
            f"  {'r':>4s} {'grid':>8s} {'t_end':>6s} {'ours':>12s} {'Dedalus':>12s} {'rel. diff':>10s}   change over the last 0.1 (ours, Dedalus)"
        )
        ded = {(run["r"], run["nx"], run["nz"]): run for run in res["runs"] if run["mode"] == "nusselt"}
        for r, gx, gz, _, t_end in NUSSELT:
            a, da = steady(nu_ours[(r, gx, gz)])
            if (r, gx, gz) in ded:
                b, db = steady(ded[(r, gx, gz)]["history"])
                nus.append(
                    dict(r=r, nx=gx, nz=gz, ours=a, dedalus=b, rel_diff=a / b - 1, drift_ours=da, drift_dedalus=db)
                )
                cells = f"{b:12.6f} {a / b - 1:10.1e}   {da:.1e}, {db:.1e}"
            else:
                nus.append(dict(r=r, nx=gx, nz=gz, ours=a, drift_ours=da))
                cells = f"{'':12s} {'':10s}   {da:.1e}"
            print(f"  {r:4g} {f'{gx}x{gz}':>8s} {t_end:6g} {a:12.6f} {cells}")
        for r in sorted({n[0] for n in NUSSELT}):
            on_r = [n for n in nus if n["r"] == r]
            print(
                f"  r = {r:g}: ours on {on_r[0]['nx']}x{on_r[0]['nz']} vs {on_r[-1]['nx']}x{on_r[-1]['nz']}: "
                f"{on_r[0]['ours'] / on_r[-1]['ours'] - 1:.1e} (the coarser grid's resolution error)"
            )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                dict(
                    size=args.size,
                    grid=[nx, nz],
                    dt=dt,
                    dedalus_version=version,
                    seconds_per_step=timing,
                    dedalus_over_ours=ratios,
                    nusselt=nus,
                ),
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
