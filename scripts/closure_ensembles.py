"""What a closure allows: each test ensemble against chains that share only its latent start.

    PYTHONPATH=src python scripts/closure_ensembles.py CONFIG SYSTEM [--results DIR]
        [--coils 16384] [--nearest 64]

A model of n closure coordinates starts every path of a test ensemble from the one latent state
of the ensemble's initial conformation; the coordinates it drops are not known to it. The best
such a model can do is the ensemble of chains whose initial coils have the same n coordinates
and any other conformation the coil distribution gives them. This script estimates it with the
system's own simulator: it draws ``--coils`` equilibrium coils (a stream apart from the store's,
``systems.polymer.probe_coils``), projects them into the closure's coordinates exactly as the
reduce stage did (the latent observables, then the PCA coordinates), keeps the ``--nearest``
whose first n coordinates lie nearest the ensemble's start (in units of the training starts'
std per coordinate), runs them under the flow with noise of their own, and judges them against
the stored ensemble as evaluate judges a model (``analysis.ensembles.judge_ensemble``).

A result near the simulator's own row of the polymer table (the noise floor) says the n
coordinates carry what decides the ensemble: a model's larger errors are its dynamics', not the
closure's. The selection radius is printed: a wide one blurs the estimate. The store, its PCA
and latent store are the workflow's under results (run the workflow first).
"""

from __future__ import annotations

import argparse

import jax
import numpy as np
import xarray as xr

jax.config.update("jax_enable_x64", True)

from onsagerflow.analysis.ensembles import judge_ensemble  # noqa: E402
from onsagerflow.config import load_config, stage_spec  # noqa: E402
from onsagerflow.config.paths import data_store, latent_store, pca_store  # noqa: E402
from onsagerflow.config.specs import evaluation_spec  # noqa: E402
from onsagerflow.data import ENSEMBLE_LABELS, Split, Unfolding, open_store, split_mask  # noqa: E402
from onsagerflow.models.reducers import PCA  # noqa: E402
from onsagerflow.stages.noise_floor import CALIBRATION_ATTRS  # noqa: E402
from onsagerflow.systems.polymer import VARIABLE, observables, probe_coils, probe_observables  # noqa: E402


def latent_of(r: np.ndarray, dims: tuple, names: list[str], pca: PCA) -> np.ndarray:
    """Conformations (k, N, 3) in the closure's coordinates: the observables ``names``, then
    the PCA coordinates of the positions about their centre of mass (as the store keeps them,
    in its dims ``dims``), through the PCA's own rows (reduction.select included)."""
    centred = r - r.mean(axis=-2, keepdims=True)
    obs = observables(centred)
    frames = xr.Dataset({VARIABLE: (dims, centred[:, None])})
    coords = np.asarray(pca.transform_rows(pca.rows(frames)))
    return np.concatenate([np.stack([obs[n] for n in names], axis=-1), coords], axis=-1) if names else coords


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config")
    p.add_argument("system")
    p.add_argument("--results", help="the results folder (default: the config's)")
    p.add_argument("--coils", type=int, default=16384, help="equilibrium coils to select from")
    p.add_argument("--nearest", type=int, default=64, help="chains kept per ensemble")
    args = p.parse_args()
    config = load_config(args.config, {"results": args.results} if args.results else None)
    results, system = config["results"], args.system
    spec = stage_spec(config, "simulate", system)
    ev = evaluation_spec(config, system)
    raw = open_store(data_store(results, system))
    lat = open_store(latent_store(results, system), dims=["state"])
    pca = PCA.load(pca_store(results, system))
    names = lat.attrs.get("observables", "").split()
    calibration = {k: raw.attrs[k] for k in CALIBRATION_ATTRS}

    test = np.flatnonzero(split_mask(raw, Split.TEST))
    train = np.flatnonzero(split_mask(raw, Split.TRAIN))
    dims = raw[VARIABLE].dims
    starts = latent_of(raw[VARIABLE].values[test, 0].astype(np.float64), dims, names, pca)
    stored = lat["h"].values[test, 0]
    if not np.allclose(starts, stored, rtol=1e-4, atol=1e-4 * float(np.abs(stored).max())):
        raise SystemExit(f"{system}: the test starts projected here differ from its latent store's")
    scale = latent_of(raw[VARIABLE].values[train, 0].astype(np.float64), dims, names, pca).std(axis=0)

    coils = probe_coils(spec, args.coils, calibration)
    z = latent_of(coils, dims, names, pca)
    t = raw["time"].values
    truth = raw["extension"].values.astype(np.float64)
    ens = raw["ensemble"].values
    threshold = float(raw.attrs["unfolding_threshold"])
    print(f"{system}: {args.nearest} of {args.coils} coils nearest each ensemble's start ({ev['unfolding_time']})")
    print("n | ensemble | realisations | radius (train std) | max mean error | max std error | W1/mean")
    for n in config["systems"][system]["reduction"]["latent_dims"]:
        for e in np.unique(ens[test]):
            members = test[ens[test] == e]
            start = starts[np.flatnonzero(ens[test] == e)[0]]
            d = np.linalg.norm((z[:, :n] - start[:n]) / scale[:n], axis=-1)
            near = np.argsort(d)[: args.nearest]
            paths = probe_observables(spec, coils[near], calibration)["extension"]
            j = judge_ensemble(
                paths, truth[members], t, ev["unfolding_time"], threshold, ev["unfolding_final_fraction"]
            )
            label = ENSEMBLE_LABELS[Unfolding(int(raw["unfolding"].values[members[0]]))]
            print(
                f"{n} | {label} | {len(members)} | {d[near[-1]]:.2f} | {j['extension']['max_mean_error']:.3f} | "
                f"{j['extension']['max_std_error']:.3f} | {j['unfolding_time']['wasserstein1_relative']:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
