"""The ensemble metrics' own noise: the simulator judged against itself.

    PYTHONPATH=src python scripts/ensemble_noise_floor.py CONFIG SYSTEM STORE [--repeats 4]

Each test ensemble of a polymer system is a finite number of noise realisations from one
initial conformation, so even a perfect model, run as many times, differs from it: the
largest error over time of the mean and of the std of the extension (in units of the
ensemble's pooled std) and the unfolding-time W1 / mean are not zero. This script measures
that floor. It reruns the system's test trajectories with the system's simulator, from the same
initial coils, with new noise (``--repeats`` independent sets), and judges each rerun against
the stored ensembles exactly as evaluate judges a model (``onsagerflow.analysis.ensembles``,
``unfolding``). It prints, per ensemble, the mean and the largest value over the repeats.
STORE is the system's bead store (``data/SYSTEM/trajectories.zarr`` under the results).
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from onsagerflow.analysis.ensembles import censor, moment_errors, wasserstein1  # noqa: E402
from onsagerflow.analysis.unfolding import unfolding_times  # noqa: E402
from onsagerflow.config.validate import load_config, validated_system  # noqa: E402
from onsagerflow.data import Split, Unfolding, open_store  # noqa: E402
from onsagerflow.stages.evaluate_sde import ENSEMBLE_LABELS  # noqa: E402
from onsagerflow.systems.polymer import new_noise_observables  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config")
    p.add_argument("system")
    p.add_argument("store")
    p.add_argument("--repeats", type=int, default=4)
    args = p.parse_args()
    cfg = load_config(args.config)
    spec = {**validated_system(cfg["systems"][args.system], args.system), "name": args.system}
    ev = cfg["systems"][args.system].get("evaluation", {})
    definition = ev.get("unfolding_time", "threshold")
    fraction = ev.get("unfolding_final_fraction", 0.95)

    ds = open_store(args.store)
    test = np.flatnonzero(ds["split"].values == Split.TEST)
    t = ds["time"].values
    truth = ds["extension"].values[test].astype(np.float64)
    ens = ds["ensemble"].values[test]
    codes = ds["unfolding"].values[test]
    threshold = float(ds.attrs["unfolding_threshold"])

    def ut(x):
        return censor(unfolding_times(x, t, definition, threshold=threshold, fraction=fraction), t[-1])

    ids = ds["trajectory"].values[test]
    # λ as the store measured it; and the store must be this system's own: its first test
    # trajectories, rerun with their own noise (draw 0), give back what it holds
    calibration = {k: ds.attrs[k] for k in ("relaxation_time", "relaxation_time_stderr", "relaxation_time_method")}
    head = slice(0, min(len(ids), 8))
    again = new_noise_observables(spec, ids[head], 0, calibration)["extension"]
    if not np.allclose(again, truth[head], rtol=1e-5, atol=1e-5):
        raise SystemExit(f"{args.store} was not simulated from {args.config}'s {args.system} (its test paths differ)")

    rows: dict[int, list[tuple[float, float, float]]] = {int(e): [] for e in np.unique(ens)}
    for k in range(1, args.repeats + 1):
        alt = new_noise_observables(spec, ids, k, calibration)["extension"]
        for e in rows:
            i = ens == e
            m = moment_errors(alt[i], truth[i])
            a, b = ut(alt[i]), ut(truth[i])
            rows[e].append((m["max_mean_error"], m["max_std_error"], wasserstein1(a, b) / float(np.mean(b))))
        print(f"repeat {k} done", flush=True)
    print(f"{args.system}: the simulator against its stored test ensembles ({definition} unfolding time)")
    print("ensemble | realisations | max mean error (mean, max) | max std error (mean, max) | W1/mean (mean, max)")
    for e, r in rows.items():
        a = np.array(r)
        label = ENSEMBLE_LABELS[Unfolding(int(codes[ens == e][0]))]
        cells = " | ".join(f"{a[:, j].mean():.3f}, {a[:, j].max():.3f}" for j in range(3))
        print(f"{label} | {int((ens == e).sum())} | {cells}")


if __name__ == "__main__":
    main()
