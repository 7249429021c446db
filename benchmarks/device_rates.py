"""Rates of our simulators and training on whatever device JAX picks, one case per process,
for scripts/gpu_check.sh (which runs each case on the GPU and again with JAX_PLATFORMS=cpu and
prints one table). Also usable by hand:

    PYTHONPATH=src python benchmarks/device_rates.py polymer --json out.json
    PYTHONPATH=src python benchmarks/device_rates.py table DIR    # the table of DIR/*.json

Cases (``--small`` shrinks each to seconds on a laptop CPU, to check the script itself):

    polymer        FENE N = 300, 64 chains (NCS24's chain, config/paper.yaml's batch), bead-steps/s
    polymer_wide   FENE N = 300, 1024 chains: what a GPU does with a wide batch
    rbc            Rayleigh–Bénard 128 × 48 (PRF21's grid), r = 28, batch 8, trajectory-steps/s
    rbc_wide       the same, batch 100 (config/paper.yaml's trajectories at r = 28 in one batch)
    train          OnsagerNet training on Lorenz-63 windows, bench_train_peer.py's paper size, windows/s
    train_sde      S-OnsagerNet (Euler–Maruyama likelihood), the same data with noise, windows/s

Rates exclude compilation (a first call of the same shapes, or the first epoch); each is the
best of two timed calls (training: the median steady epoch).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

CASES = {
    "polymer": dict(n_beads=300, chains=64, steps=2000, small=dict(n_beads=16, chains=64, steps=200)),
    "polymer_wide": dict(n_beads=300, chains=1024, steps=500, small=dict(n_beads=16, chains=256, steps=100)),
    "rbc": dict(nx=128, nz=48, batch=8, steps=100, dt=2e-5, small=dict(nx=32, nz=16, batch=2, steps=50, dt=1e-4)),
    "rbc_wide": dict(nx=128, nz=48, batch=100, steps=20, dt=2e-5, small=dict(nx=32, nz=16, batch=8, steps=20, dt=1e-4)),
    "train": dict(kind="det", size="paper", epochs=6, small=dict(size="default", epochs=3)),
    "train_sde": dict(kind="sde", size="paper", epochs=6, small=dict(size="default", epochs=3)),
}


def best_of(fn, repeat=2) -> float:
    fn()  # compile
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def polymer(p: dict) -> tuple[float, str, str]:
    import jax
    import numpy as np

    from onsagerflow.systems import polymer as P

    chain = P.chain_of(n_beads=p["n_beads"], spring="fene", H=50.0)
    keys = jax.random.split(jax.random.PRNGKey(0), 2 * p["chains"])
    r0 = np.asarray(P.random_walks(chain, keys[: p["chains"]]))
    lam = P.rouse_relaxation_time(p["n_beads"], chain.H, chain.zeta)

    def go():
        P.run(
            chain,
            r0,
            keys[p["chains"] :],
            dt=5e-4,
            n_saves=1,
            save_every=p["steps"],
            strain_rate=2.0 / lam,
            noise="gaussian",
        ).block_until_ready()

    t = best_of(go)
    return p["chains"] * p["n_beads"] * p["steps"] / t, "bead-steps/s", f"N={p['n_beads']} x {p['chains']} chains"


def rbc(p: dict) -> tuple[float, str, str]:
    import jax

    from onsagerflow.systems.rbc import RA_C, Grid, Solver, random_perturbations

    solver = Solver(Grid(nx=p["nx"], nz=p["nz"]), 28 * RA_C, 10.0, dt=p["dt"], reflection=False)
    s0 = random_perturbations(solver, jax.random.split(jax.random.key(0), p["batch"]), 0.3)

    run = jax.jit(solver.run, static_argnums=(1, 2))  # Solver.run alone compiles at every call

    def go():
        run(s0, 2, p["steps"])[0].block_until_ready()

    t = best_of(go)
    return p["batch"] * p["steps"] / t, "trajectory-steps/s", f"{p['nx']}x{p['nz']}, batch {p['batch']}"


def train(p: dict) -> tuple[float, str, str]:
    from _lorenz_data import lorenz_windows
    from bench_train_peer import ARCH, SIZES, ours_train, summarise

    size = dict(SIZES[p["size"]], epochs=p["epochs"])
    data = lorenz_windows(size["n_train"], size["n_val"], size["per_trajectory"], stochastic=p["kind"] == "sde")
    s = summarise(ours_train(p["kind"], data, size, "float32", 3e-3, 0))
    n = size["n_train"] * size["per_trajectory"]
    return s["rate"], "windows/s", f"{n} windows, batch {size['batch']}, width {ARCH['width']}, float32"


RUN = {"polymer": polymer, "polymer_wide": polymer, "rbc": rbc, "rbc_wide": rbc, "train": train, "train_sde": train}


def table(folder: Path) -> None:
    """One table from DIR/{gpu,cpu}_{case}.json: run 'gpu' is JAX's default device, 'cpu' the
    same case under JAX_PLATFORMS=cpu; 'vs CPU' is the GPU rate over the CPU rate (the DAG:
    CPU wall time over GPU wall time)."""
    rows = {}
    for f in sorted(folder.glob("*.json")):
        r = json.loads(f.read_text())
        rows.setdefault(r["case"], {})[r["where"]] = r
    head = f"{'benchmark':14s} {'size':44s} {'run':4s} {'device':28s} {'rate':>12s} {'unit':20s} {'vs CPU':>7s}"
    print(head)
    print("-" * len(head))
    for case, by in rows.items():
        cpu = by.get("cpu")
        for where in ("gpu", "cpu"):
            r = by.get(where)
            if r is None:
                continue
            lead = f"{case:14s} {r.get('size', ''):44s} {where:4s} {r.get('device', '-'):28s}"
            if r.get("error"):
                print(f"{lead} {'failed':>12s} {r['error']}")
                continue
            ratio = ""
            if where == "gpu" and cpu and not cpu.get("error"):
                wall = r["unit"] == "s (wall)"
                ratio = f"{(cpu['rate'] / r['rate']) if wall else (r['rate'] / cpu['rate']):6.1f}x"
            print(f"{lead} {r['rate']:12.4g} {r['unit']:20s} {ratio:>7s}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=[*CASES, "table"])
    ap.add_argument("folder", nargs="?", help="table: the folder of JSON results")
    ap.add_argument("--small", action="store_true", help="seconds-sized versions of the cases")
    ap.add_argument("--json", help="write the result here")
    ap.add_argument("--where", default="gpu", help="label of the run (gpu or cpu) in the JSON")
    args = ap.parse_args()
    if args.case == "table":
        table(Path(args.folder))
        return
    os.environ.setdefault("ONSAGERFLOW_JAX_CACHE", "off")
    from onsagerflow.runtime import configure

    configure()
    import jax

    p = {k: v for k, v in CASES[args.case].items() if k != "small"}
    if args.small:
        p.update(CASES[args.case]["small"])
    dev = jax.devices()[0]
    out = {"case": args.case, "where": args.where, "device": f"{dev.platform}: {dev.device_kind}"[:28]}
    try:
        rate, unit, size = RUN[args.case](p)
        out.update(rate=rate, unit=unit, size=size)
        print(f"{args.case}: {rate:.4g} {unit} ({size}) on {out['device']}")
    except Exception as e:  # the table shows it; the script goes on with the other cases
        out.update(error=f"{type(e).__name__}: {e}", size="", rate=float("nan"), unit="")
        print(f"{args.case} failed: {out['error']}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(out))
    if out.get("error"):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
