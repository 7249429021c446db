"""Why a learned SDE misses its ensembles: four diagnostics for trained polymer runs.

    PYTHONPATH=src python scripts/sde_diagnostics.py CONFIG SYSTEM RUN [RUN ...] [--results DIR]
        [--noise] [--memory] [--scales 1 1.3 1.7] [--validation 16] [--noise-seed K]

``--noise``: the model's noise beside the data's, along the unfolding. For each band of the
extension, over the training frames: the variance per unit time of the residual increments
r = ΔZ − τ b(Z) per latent component (for increments an Euler–Maruyama step of the model would
make, E[r rᵀ] / τ = σσᵀ(Z)), beside the model's own diag σσᵀ averaged over the band. A constant
noise fits one compromise across the bands; where the data's is larger, the model's paths
spread too little there.

``--memory``: per band of the extension, the correlation of each residual increment with the
next on the same path. A Markov model with the right drift leaves independent residuals; the
same correlation under two differently built drifts points at memory in the coordinates
themselves (what a closure drops and the path still remembers), or at a miss both drifts share.

``--scales``: the test ensembles rerun with the model's σ times each factor (drift unchanged),
judged as evaluate judges them. If a factor closes a miss, the miss is the noise's amplitude.

``--validation R``: R paths from the start of each validation trajectory, pooled, judged against
the validation trajectories pooled (one realisation from each start, so the statistics mix the
starts). A criterion that ranks runs as the test ensembles do could choose among restarts; one
that does not cannot.

The store, its PCA and latent store and the runs are the workflow's under results (run it first).
Every number is in the units the evaluation uses: extension errors in the truth's pooled std.
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from onsagerflow.analysis.ensembles import judge_ensemble  # noqa: E402
from onsagerflow.analysis.sde import physical_sde, simulate_sde  # noqa: E402
from onsagerflow.config import load_config  # noqa: E402
from onsagerflow.config.paths import data_store, latent_store, model_dir, pca_store  # noqa: E402
from onsagerflow.config.specs import evaluation_spec  # noqa: E402
from onsagerflow.data import ENSEMBLE_LABELS, Split, Unfolding, open_store, split_mask  # noqa: E402
from onsagerflow.models.reducers import PCA  # noqa: E402
from onsagerflow.stages.common import load_run, observed, split_array  # noqa: E402
from onsagerflow.stages.evaluate_sde import cut_unbounded, extension_of  # noqa: E402

BANDS = (0.0, 0.25, 0.5, 0.75, 0.9, 0.95, np.inf)  # of the longest training extension


def residuals(z: np.ndarray, tau: float, drift) -> np.ndarray:
    """Frames z (traj, time, n) spaced by tau: the residual increments r = ΔZ − τ b(Z) of the
    drift ``drift`` (states (k, n) → (k, n)), (traj, time − 1, n)."""
    z0 = z[:, :-1].reshape(-1, z.shape[-1])
    return ((z[:, 1:].reshape(z0.shape) - z0) - tau * drift(z0)).reshape(*z.shape[:1], -1, z.shape[-1])


def residual_noise(z: np.ndarray, tau: float, drift, diffusion) -> tuple[np.ndarray, np.ndarray]:
    """Frames z (traj, time, n) spaced by tau: (r² / τ per increment and component, the
    model's diag σσᵀ at the increment's start), both (traj·(time−1), n). ``diffusion`` maps
    states (k, n) to (k, n, n)."""
    r = residuals(z, tau, drift).reshape(-1, z.shape[-1])
    return r**2 / tau, np.diagonal(diffusion(z[:, :-1].reshape(r.shape)), axis1=-2, axis2=-1)


def lag_one_correlation(r: np.ndarray, key: np.ndarray, edges) -> list[tuple[float, float, int, np.ndarray]]:
    """Residuals r (traj, time − 1, n) and a key (traj, time − 1) of each increment: per band of
    the key (at the first of the two), the correlation per component of each residual with the
    next one on the same path. Euler–Maruyama increments of a Markov model with this drift
    have independent residuals (correlation 0); noise with memory, or a drift that misses the
    same way on consecutive frames, makes them correlated."""
    first, second = r[:, :-1], r[:, 1:]
    out = []
    for lo, hi, inside in bands(key[:, :-1], edges):
        if inside.sum() > 2:
            a, b = first[inside], second[inside]
            corr = np.array([np.corrcoef(a[:, i], b[:, i])[0, 1] for i in range(r.shape[-1])])
            out.append((lo, hi, int(inside.sum()), corr))
    return out


def bands(key: np.ndarray, edges):
    """(lower edge, upper edge, mask of ``key`` in [lower, upper)) for each band of ``edges``."""
    for lo, hi in zip(edges[:-1], edges[1:]):
        yield lo, hi, (key >= lo) & (key < hi)


def banded(values: np.ndarray, key: np.ndarray, edges) -> list[tuple[float, float, int, np.ndarray]]:
    """(lower edge, upper edge, count, mean of ``values`` rows) for each band of ``key`` with rows."""
    return [
        (lo, hi, int(inside.sum()), values[inside].mean(axis=0)) for lo, hi, inside in bands(key, edges) if inside.any()
    ]


def judged(paths, truth, t, ev, threshold) -> str:
    j = judge_ensemble(paths, truth, t, ev["unfolding_time"], threshold, ev["unfolding_final_fraction"])
    return (
        f"{j['extension']['max_mean_error']:.3f} | {j['extension']['max_std_error']:.3f} | "
        f"{j['unfolding_time']['wasserstein1_relative']:.3f}"
    )


class Run:
    """A trained run with its store: SDE paths from latent starts, as extension paths."""

    def __init__(self, results, system, run, ds, pca, ev):
        self.loaded = load_run(model_dir(results, system, run))
        self.ds, self.ev = ds, ev
        self.variable = observed(ds, latent_store(results, system))
        self.extension = extension_of(self.loaded.chart, ds.attrs.get("observables", "").split(), pca, system)
        self.drift, self.sigma, self.args = physical_sde(self.loaded.dynamics, self.loaded.norm)
        self.z_train = self.encode(Split.TRAIN)
        self.bound = ev["bound_factor"] * float(np.max(np.linalg.norm(self.z_train - self.loaded.norm.mean, axis=-1)))

    def encode(self, split) -> np.ndarray:
        return self.loaded.chart.encode(split_array(self.ds, self.variable, split))

    def drift_at(self, z: np.ndarray) -> np.ndarray:
        """The drift b at states z (k, n), in the run's latent units."""
        return np.asarray(jax.vmap(lambda x: self.drift(x, self.args))(jax.numpy.asarray(z)))

    def diffusion_at(self, z: np.ndarray) -> np.ndarray:
        """σσᵀ at states z (k, n): (k, n, n)."""
        s = jax.vmap(lambda x: self.sigma(x, self.args))(jax.numpy.asarray(z))
        return np.asarray(s @ jax.numpy.swapaxes(s, -1, -2))

    def paths(self, z0: np.ndarray, t: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """Extension paths (len(z0), len(t)) from the latent starts z0, σ × ``scale``; NaN
        from where a path leaves the bound on, as in evaluate."""
        sigma = self.sigma if scale == 1.0 else (lambda z, a: scale * self.sigma(z, a))
        dt = (t[1] - t[0]) / self.ev["sde_substeps"]
        z = simulate_sde(self.drift, sigma, z0, t - t[0], dt, jax.random.key(self.ev["seed"]), args=self.args)
        return self.extension(cut_unbounded(z, self.loaded.norm.mean, self.bound)[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config")
    p.add_argument("system")
    p.add_argument("runs", nargs="+", help="run names, e.g. s_onsagernet_ncs-n3")
    p.add_argument("--results", help="the results folder (default: the config's)")
    p.add_argument("--noise", action="store_true", help="the model's noise beside the data's, by extension")
    p.add_argument("--memory", action="store_true", help="residuals' correlation from one frame to the next")
    p.add_argument("--scales", type=float, nargs="*", default=[], help="test ensembles with σ × each factor")
    p.add_argument("--validation", type=int, default=0, metavar="R", help="R paths per validation start")
    p.add_argument("--noise-seed", type=int, help="the paths' noise key (default: evaluation.seed, as evaluate)")
    args = p.parse_args()
    config = load_config(args.config, {"results": args.results} if args.results else None)
    results, system = config["results"], args.system
    ev = evaluation_spec(config, system)
    if args.noise_seed is not None:
        ev = {**ev, "seed": args.noise_seed}
    raw = open_store(data_store(results, system))
    ds = open_store(latent_store(results, system), dims=["state"])
    pca = PCA.load(pca_store(results, system))
    t = np.asarray(ds["time"].values)
    threshold = float(ds.attrs["unfolding_threshold"])

    def true_extension(split):
        ids = ds["trajectory"].values[split_mask(ds, split)]
        return raw["extension"].sel(trajectory=ids).values.astype(np.float64)

    ext = true_extension(Split.TRAIN)
    ext_key = ext[:, :-1] / ext.max()  # each training increment's band: its first frame's extension
    for name in args.runs:
        run = Run(results, system, name, ds, pca, ev)
        print(f"## {system} {name}")
        tau = float(t[1] - t[0])
        if args.noise:
            data, model = residual_noise(run.z_train, tau, run.drift_at, run.diffusion_at)
            print("extension band (of the longest) | increments | data r²/τ per component | model σσᵀ diagonal")
            both = np.concatenate([data, model], axis=-1)
            n = data.shape[-1]
            for lo, hi, count, mean in banded(both, ext_key.reshape(-1), BANDS):
                print(
                    f"[{lo:.2f}, {hi:.2f}) | {count} | {np.round(mean[:n], 4).tolist()} | {np.round(mean[n:], 4).tolist()}"
                )
        if args.memory:
            r = residuals(run.z_train, tau, run.drift_at)
            print("extension band (of the longest) | pairs of increments | lag-1 residual correlation per component")
            for lo, hi, count, corr in lag_one_correlation(r, ext_key, BANDS):
                print(f"[{lo:.2f}, {hi:.2f}) | {count} | {np.round(corr, 2).tolist()}")
        test = np.flatnonzero(split_mask(ds, Split.TEST))
        ensembles = ds["ensemble"].values[test]
        truth = true_extension(Split.TEST)
        z_test = run.encode(Split.TEST)
        for scale in args.scales:
            ext_pred = run.paths(z_test[:, 0], t, scale)
            for e in np.unique(ensembles):
                inside = ensembles == e
                label = ENSEMBLE_LABELS[Unfolding(int(ds["unfolding"].values[test][inside][0]))]
                print(f"σ × {scale:g} | {label} | {judged(ext_pred[inside], truth[inside], t, ev, threshold)}")
        if args.validation:
            z_val = run.encode(Split.VAL)
            starts = np.repeat(z_val[:, 0], args.validation, axis=0)
            print(
                f"validation, {args.validation} paths from each of {len(z_val)} starts, pooled | "
                f"{judged(run.paths(starts, t), true_extension(Split.VAL), t, ev, threshold)}"
            )


if __name__ == "__main__":
    main()
