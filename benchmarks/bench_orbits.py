"""The periodic-orbit search on the true Lorenz-63 field at r = 16, as the evaluate stage runs it:
near-return starts every START_SPACING × period_min of rollout time (the default) against every
saved sample (the former scan), same code, same rollouts, back to back in one process.

    PYTHONPATH=src python benchmarks/bench_orbits.py               # 40 rollouts to t = 100
    PYTHONPATH=src python benchmarks/bench_orbits.py --size paper  # 100, as the evaluate stage

Prints the wall time of the near-return scan (best of two, after a compiling call) and of the
Newton refinement, the candidate periods, and the orbits each finds (period, stability, the
largest non-trivial Floquet multiplier): the cheaper scan must find the same orbits. The
evaluate stage's settings (default config: 100 long rollouts): starts uniform in PRF21's box [−25, 25]² × [−5, 30], saved every
0.02, period_min 0.2, period_max 5, return_tol 0.05 of |scale| (here 10), 12 candidates.
"""

from __future__ import annotations

import argparse
import os
import time

import jax

jax.config.update("jax_enable_x64", True)
import numpy as np  # noqa: E402

from onsagerflow.analysis import periodic_orbits as po  # noqa: E402
from onsagerflow.analysis.rollout import integrate  # noqa: E402
from onsagerflow.systems import lorenz  # noqa: E402

SIZES = {"default": dict(batch=40, t_end=100.0), "paper": dict(batch=100, t_end=100.0)}
SAVE_DT, PERIOD_MIN, PERIOD_MAX, RETURN_TOL, CANDIDATES, LENGTH = 0.02, 0.2, 5.0, 0.05, 12, 10.0


def search(xs, t, field, spacing: float):
    po.START_SPACING = spacing
    kw = dict(period_min=PERIOD_MIN, period_max=PERIOD_MAX, tol=RETURN_TOL * LENGTH, max_candidates=CANDIDATES)
    po.near_returns(xs, t, **kw)  # compiles
    scan = []
    for _ in range(2):
        s = time.perf_counter()
        cands = po.near_returns(xs, t, **kw)
        scan.append(time.perf_counter() - s)
    s = time.perf_counter()
    orbits = po.refine(field, cands, length_scale=LENGTH)
    return min(scan), time.perf_counter() - s, cands, orbits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    size = SIZES[ap.parse_args().size]
    print(f"load average {os.getloadavg()}")
    f = lorenz.field({"parameters": {"sigma": 10.0, "r": 16.0, "b": 8.0 / 3.0}})
    field = lambda x, a: f(x)
    x0 = np.random.default_rng(0).uniform([-25, -25, -5], [25, 25, 30], size=(size["batch"], 3))
    t = np.arange(0.0, size["t_end"] + 0.5 * SAVE_DT, SAVE_DT)
    xs, _ = integrate(field, x0, t, rtol=1e-9, atol=1e-9)
    xs = np.asarray(xs)
    default = po.START_SPACING
    for name, spacing in (("strided starts (default)", default), ("every sample", 0.0), ("strided again", default)):
        scan, newton, cands, orbits = search(xs, t, field, spacing)
        print(f"{name:26s} scan {scan:6.2f} s  refine {newton:6.2f} s  candidates {[round(T, 3) for _, T in cands]}")
        for o in orbits:
            print(
                f"{'':28s}orbit T = {o['period']:.6f}  {o['stability']}  |mu|max = {o['largest_nontrivial_modulus']:.4f}"
            )
    po.START_SPACING = default


if __name__ == "__main__":
    main()
