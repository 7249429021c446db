"""How often a stretching chain folds on its way to unfolding, over chain length N and Wi.

    PYTHONPATH=src nice python scripts/fold_survey.py --n-beads 8 12 16 24 32 --wi 4 8 16 \
        --chains 128 --out results/fold_survey.csv

For each N: λ measured at rest (the simulator's end-to-end autocorrelation fit, as the
workflow does when parameters.relaxation_time is null), or given (``--lambda N=λ ...``). For
each (N, Wi): ``--chains`` chains from their own equilibrium coils, stretched in planar
elongation at ε̇ = Wi/λ for a total Hencky strain ``--strain`` (time strain·λ/Wi), frames
1/``--frames-per-strain`` of a unit of strain apart. A chain counts as a folded unfolding when
it holds a fold (onsagerflow.analysis.folds: |x_N + x_1| ≥ ratio × extension while the
extension is ≥ min_extension × contour length) for a strain of at least ``--min-strain`` (the
flow's own clock: a fold that lasts one e-folding of the stretching). Also reported: the fraction that reached half the contour length
(unfolded) and their unfolding times (first time the extension reaches half the contour
length; and the authors' definition, first time it exceeds 0.95 × the path's final extension),
mean and std in units of λ. Same springs and numerics as the workflow's defaults (FENE, H = 50,
Q0 = 1, kT = ζ = 1, dt = 5e-4, semi-implicit). Prints one line per (N, Wi) as it goes and
writes all of them to ``--out`` (CSV).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from onsagerflow.analysis.folds import FOLD_RATIO, MIN_EXTENSION, FoldCriterion, chain_folds  # noqa: E402
from onsagerflow.systems.polymer import (  # noqa: E402
    Chain,
    equilibrium_coils,
    measure_relaxation_time,
    rouse_relaxation_time,
    run,
)

HALF = 0.5  # our unfolding threshold: half the contour length
AUTHORS_FRACTION = 0.95  # NCS24's: 0.95 × the path's final extension


def bead_x(r):
    """Observed per frame: the beads' x-coordinates (module level: one compiled program)."""
    return r[:, 0]


def first_time(hit: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.where(hit.any(axis=-1), t[np.argmax(hit, axis=-1)], np.inf)


def survey_one(chain: Chain, lam: float, wi: float, args, key) -> dict:
    dt = args.dt
    frame = lam / (wi * args.frames_per_strain)
    save_every = max(1, int(math.ceil(frame / dt - 1e-9)))
    frame = save_every * dt
    t_end = args.strain * lam / wi
    n_saves = int(math.ceil(t_end / frame))
    k_coil, k_run = jax.random.split(key)
    coils = equilibrium_coils(chain, jax.random.split(k_coil, args.chains), t_relax=2.0 * lam, dt=dt)
    xs = np.asarray(
        run(
            chain,
            coils,
            jax.random.split(k_run, args.chains),
            dt=dt,
            n_saves=n_saves,
            save_every=save_every,
            strain_rate=wi / lam,
            observe=bead_x,
        )
    )  # (chains, frames, N)
    t = np.arange(n_saves + 1) * frame / lam  # in units of λ
    f = chain_folds(xs)
    L = chain.max_length
    crit = FoldCriterion(ratio=args.ratio, min_extension=args.min_extension, min_duration=args.min_strain / wi)
    folded = crit.folded(f["extension"], f["end_to_end_sum"], t, L)
    ut = first_time(f["extension"] >= HALF * L, t)
    ut_a = first_time(f["extension"] > AUTHORS_FRACTION * f["extension"][:, -1:], t)
    done = np.isfinite(ut)
    return {
        "n_beads": chain.n_beads,
        "Wi": wi,
        "lambda": lam,
        "chains": args.chains,
        "t_end_lambda": float(t[-1]),
        "fold_fraction": float(folded.mean()),
        "fold_fraction_of_unfolded": float(folded[done].mean()) if done.any() else float("nan"),
        "unfolded_fraction": float(done.mean()),
        "unfolding_mean": float(ut[done].mean()) if done.any() else float("nan"),
        "unfolding_std": float(ut[done].std()) if done.any() else float("nan"),
        "unfolding_mean_folded": float(ut[done & folded].mean()) if (done & folded).any() else float("nan"),
        "unfolding_mean_unfolded": float(ut[done & ~folded].mean()) if (done & ~folded).any() else float("nan"),
        "authors_unfolding_mean": float(ut_a.mean()),
        "authors_unfolding_std": float(ut_a.std()),
        "final_extension_mean": float(f["extension"][:, -1].mean() / L),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-beads", type=int, nargs="+", default=[8, 12, 16, 24, 32])
    ap.add_argument("--wi", type=float, nargs="+", default=[4.0, 8.0, 16.0])
    ap.add_argument("--chains", type=int, default=128)
    ap.add_argument("--strain", type=float, default=16.0, help="total Hencky strain ε̇ t of each run")
    ap.add_argument("--frames-per-strain", type=int, default=5)
    ap.add_argument("--dt", type=float, default=5e-4)
    ap.add_argument("--H", type=float, default=50.0)
    ap.add_argument("--ratio", type=float, default=FOLD_RATIO)
    ap.add_argument("--min-extension", type=float, default=MIN_EXTENSION, help="× contour length")
    ap.add_argument("--min-strain", type=float, default=1.0, help="how long a fold must last, in units of strain")
    ap.add_argument("--lambda", dest="lam", nargs="*", default=[], help="N=λ: skip the measurement for N")
    ap.add_argument("--relax-chains", type=int, default=64, help="chains of the λ measurement")
    ap.add_argument("--relax-duration", type=float, default=20.0, help="of the λ measurement, in Rouse λ")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("results/fold_survey.csv"))
    args = ap.parse_args(argv)

    rows = []
    key = jax.random.PRNGKey(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    given = {int(k): float(v) for k, v in (a.split("=") for a in args.lam)}
    for n in args.n_beads:
        chain = Chain(n_beads=n, spring="fene", H=args.H)
        t0 = time.perf_counter()
        if n in given:
            lam = given[n]
            print(f"N = {n}: λ = {lam:.4g} (given; Rouse {rouse_relaxation_time(n, args.H):.4g})", flush=True)
        else:
            fit = measure_relaxation_time(
                chain,
                jax.random.fold_in(key, 1000 + n),
                n_chains=args.relax_chains,
                duration=args.relax_duration,
                dt=args.dt,
            )
            lam = fit.value
            print(
                f"N = {n}: λ = {lam:.4g} ± {fit.stderr:.2g} (Rouse {rouse_relaxation_time(n, args.H):.4g}), "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )
        for wi in args.wi:
            t0 = time.perf_counter()
            row = survey_one(chain, lam, wi, args, jax.random.fold_in(key, 7919 * n + int(100 * wi)))
            rows.append(row)
            print(
                "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
                + f"  ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
            with open(args.out, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
