"""Metrics of a state-space run beyond rollouts and fixed points (``evaluate`` calls ``extra_metrics``):

- ``one_step_error``: PRF21's test error, the one its accuracy bar charts plot (Figs. 2a, 7, 8):
  on pairs (x(t), x(t + τ)) of the held-out test trajectories,
  MSE = mean over pairs of |(Φ_τ(x(t)) − x(t + τ))/τ|², Φ_τ one Heun step of the learned field,
  in physical units (and the same in the model's normalised units, our training loss);
- ``periodic_orbits``: periodic orbits of the learned field near which its long rollouts passed,
  and where a simulator exists those of the true field from the same starts, matched;
- for a damped-oscillator (``langevin``) system: ``energy``, the learned V against the true
  energy H after alignment (PRF21 Fig. 3), and ``edge_rollouts``, the error of rollouts from the
  12 starts on the edge of the start box up to ``long_t_end`` (PRF21 Fig. 2b: 25).
"""

from __future__ import annotations

import logging

import jax
import jax.numpy as jnp
import numpy as np

from ..analysis.energy import energy_errors
from ..analysis.periodic_orbits import find_periodic_orbits, match_orbits
from ..analysis.rollout import integrate
from ..models.dynamics import physical_potential
from ..training import make_windows

log = logging.getLogger("onsagerflow.evaluate")

EDGE_SAMPLES = 100  # times kept of the edge rollouts' error curve (PRF21 Fig. 2b: 100)


def extra_metrics(
    spec, system, run, field, args, test, long_pred, long_truth, t_long, length_scale, starts=None
) -> dict:
    """``test``: the held-out trajectories (traj, time, n) in the run's coordinates; ``long_pred``
    and ``long_truth`` the long rollouts (start, time, n) saved at ``t_long`` (truth None where
    there is no simulator); ``system`` the simulator module or None; ``starts`` the sample indices
    a pair may start at (a burst-sampled store: inside a burst), None for every one."""
    cfg, sys_spec = spec["evaluation"], spec["system"]
    out = {
        "model_spec": run.meta["model_spec"],
        "training_seed": run.meta["seed"],
        "one_step_error": one_step_error(field, args, test, run, cfg, starts),
        "periodic_orbits": orbit_metrics(
            field,
            args,
            long_pred,
            long_truth,
            t_long,
            cfg,
            length_scale,
            system.field(sys_spec) if long_truth is not None and hasattr(system, "field") else None,
        ),
    }
    if sys_spec["type"] == "langevin":
        out.update(langevin_metrics(system, sys_spec, cfg, run, field, args, t_long, len(long_pred)))
    return out


def one_step_error(field, args, test: np.ndarray, run, cfg: dict, starts=None) -> dict:
    """PRF21's test MSE on ``one_step_pairs`` pairs per test trajectory, τ the run's pair spacing."""
    tau, lag = float(run.meta["tau"]), int(run.meta["lag"])
    # pairs placed along the test trajectories as the run's training pairs were (PRF21: regularly)
    w = make_windows(
        test,
        lag=lag,
        per_trajectory=cfg["one_step_pairs"],
        seed=cfg["seed"],
        placement=run.meta["placement"],
        starts=starts,
    )
    x0, x1 = jnp.asarray(w[:, 0]), jnp.asarray(w[:, 1])

    @jax.jit
    def heun(x, a):
        f = jax.vmap(field, in_axes=(0, None))
        k1 = f(x, a)
        return x + 0.5 * tau * (k1 + f(x + tau * k1, a))

    d = (np.asarray(heun(x0, args)) - np.asarray(x1)) / tau
    mse = float(np.mean(np.sum(d**2, axis=-1)))
    # the training loss's units: normalised state and time, mean over components
    normalised = float(np.mean(run.norm.units().rate_to_model(d) ** 2))
    return {
        "mse": mse if np.isfinite(mse) else None,
        "accuracy": float(-np.log10(mse)) if np.isfinite(mse) and mse > 0 else None,
        "mse_normalised": normalised if np.isfinite(normalised) else None,
        "tau": tau,
        "n_pairs": int(len(w)),
        "definition": "mean over test pairs of |(Heun_tau(x(t)) - x(t+tau))/tau|^2, physical units; accuracy = -log10(mse)",
    }


def orbit_metrics(field, args, long_pred, long_truth, t_long, cfg, length_scale, true_field) -> dict:
    """Periodic orbits of the learned field from its long rollouts, of the true field from its
    own (same starts), and the nearest learned orbit of each true one."""
    kw = dict(
        length_scale=length_scale,
        period_min=cfg["orbit_period_min"],
        period_max=cfg["orbit_period_max"],
        return_tol=cfg["orbit_return_tol"],
        max_candidates=cfg["orbit_candidates"],
        rtol=cfg["orbit_rtol"],
    )
    learned = find_periodic_orbits(field, long_pred, t_long, args=args, **kw)
    log.info("periodic orbits of the model: %s", [(round(o["period"], 4), o["stability"]) for o in learned])
    exact = matches = None
    if true_field is not None:
        exact = find_periodic_orbits(lambda x, a: true_field(x), long_truth, t_long, **kw)
        matches = match_orbits(learned, exact)
        log.info("periodic orbits of the true system: %s", [(round(o["period"], 4), o["stability"]) for o in exact])
    return {
        "learned": learned,
        "exact": exact,
        "matches": matches,
        "settings": {k: v for k, v in kw.items() if k != "length_scale"} | {"length_scale": length_scale},
    }


def langevin_metrics(system, sys_spec, cfg, run, field, args, t_long, n_long) -> dict:
    """PRF21 Figs. 2b and 3 for one run of a damped-oscillator system. The edge rollouts run on
    the long rollouts' time grid and tolerances, as a batch of their size (the 12 starts, the
    last repeated), so the solvers compiled for the long rollouts serve them too."""
    starts = system.edge_starts(sys_spec)
    batch = np.concatenate([starts, np.repeat(starts[-1:], max(0, n_long - len(starts)), axis=0)])
    pred, ok = integrate(field, batch, t_long, args=args, rtol=cfg["long_rtol"], atol=cfg["long_atol"])
    truth = system.solve(sys_spec, batch, t_long)
    k = len(starts)
    err = np.linalg.norm(pred[:k] - truth[:k], axis=-1)  # (start, time); inf where a rollout escaped
    err = np.where(np.isfinite(err), err, np.inf)
    every = max(1, len(t_long) // EDGE_SAMPLES)
    out = {
        "edge_rollouts": {
            "time": t_long[::every].tolist(),
            "mean": np.mean(err, axis=0)[::every].tolist(),
            "std": np.std(err, axis=0)[::every].tolist(),
            "starts": starts.tolist(),
            "bounded": int(ok[:k].sum()),
            "definition": "|x_model(t) - x_true(t)| from each start; mean and std over the starts",
        }
    }
    if hasattr(run.model, "potential"):
        sim = sys_spec["simulation"]
        e = energy_errors(
            jax.jit(physical_potential(run.model, run.norm)),
            system.energy(sys_spec),
            sim["init_low"],
            sim["init_high"],
            cfg["energy_grid"],
            system.AUTHORS_ALIGNMENT[sys_spec["parameters"]["potential"]],
        )
        e.pop("fields")  # the figure recomputes them from the checkpoint
        out["energy"] = e
        log.info("learned V against H: relative L2 error %s", e["relative_l2_error"])
    return out
