"""The rows of each results table, one per metrics file: the general table, PRF21's latent
table (Table I under both protocols), the stochastic closure table (NCS24) and the baselines
table; and the footnotes that say what their columns measure."""

from __future__ import annotations

import numpy as np

from .table_format import WARNINGS


def row(m: dict) -> dict:
    r = {"system": m["system"], "model": m["model"], "params": m["param_count"]}
    for t, v in m["relative_error_at"].items():
        r[f"median rel. error t={t}"] = v["median"]
        # the mean shows what a median hides: one escaped rollout makes it infinite (–)
        r[f"mean rel. error t={t}"] = v["mean"]
    n_test = m["n_test_trajectories"]
    r["test rollouts escaped"] = f"{n_test - m['test_rollouts_bounded']}/{n_test}"
    lm = m.get("latent_metrics")
    if lm and m.get("latent") is None:  # PRF21's E(T) and N_fail, on the stored coordinates
        for T, e in lm["horizon_error"].items():
            r[f"E({T})"] = e["mean"]
        r["N_fail"] = f"{lm['n_fail']}/{n_test}"
    thr = m["time_to_threshold"]
    r[f"median time to {thr['threshold']:.0%} error"] = thr["median"]
    # a trajectory that never crosses the threshold counts at its last time: say how many
    r[f"test trajectories never above {thr['threshold']:.0%}"] = f"{thr['censored']}/{m['n_test_trajectories']}"
    inside = [p for p in m["fixed_points"] if p.get("in_data_range", True)]
    r["fixed points in data range (stable)"] = f"{len(inside)} ({sum(p['kind'].startswith('stable') for p in inside)})"
    r["fixed points outside"] = len(m["fixed_points"]) - len(inside)
    exact = m.get("exact_fixed_points")
    if exact:
        nontrivial = [e for e in exact if np.linalg.norm(e["x"]) > 0]
        dists = [e["relative_distance"] for e in nontrivial if e["relative_distance"] is not None]
        r["max rel. distance to exact non-trivial fixed points"] = max(dists) if dists else None
        r["fixed-point kinds match"] = f"{sum(e['kind_matches'] for e in exact)}/{len(exact)}"
    lr = m["long_rollouts"]
    r[f"bounded long rollouts (T={lr['t_end']:g})"] = f"{lr['n_bounded']}/{lr['n']}"
    r.update(structure_columns(m))
    r["best val loss"] = m["training"]["best_val_loss"]
    r["train seconds"] = m["training"]["train_seconds"]
    return r


def structure_columns(m: dict) -> dict:
    """PRF21's one-step test MSE, the periodic orbits found and how the exact ones are matched,
    and for a damped oscillator the learned energy's error (columns only where measured)."""
    r = {}
    one = m.get("one_step_error")
    if one:
        r["one-step test MSE"] = one["mse"]
    po = m.get("periodic_orbits")
    if po:
        learned = po["learned"]
        r["periodic orbits (unstable)"] = f"{len(learned)} ({sum(o['n_unstable'] > 0 for o in learned)})"
        if po["matches"]:
            errs = [abs(x["relative_period_error"]) for x in po["matches"] if x["relative_period_error"] is not None]
            r["exact periodic orbits (period)"] = ", ".join(f"{x['period']:.4g}" for x in po["matches"])
            r["max rel. period error of the nearest learned orbit"] = (
                max(errs) if len(errs) == len(po["matches"]) else None
            )
            r["orbit stabilities match"] = f"{sum(x['stability_matches'] for x in po['matches'])}/{len(po['matches'])}"
    e = m.get("energy")
    if e:
        r["V error, authors' alignment"] = e["relative_l2_error"]["authors"]
        r["V error, best affine fit"] = e["relative_l2_error"]["affine"]
    return r


NEAR = 0.1  # a settled state "has" a learned fixed point within this relative distance
POPULATED = 5  # end states reached by at least this many trajectories are judged


def latent_row(m: dict) -> dict:
    """One run of a reduced system: PRF21 Table I (E(T), N_fail) under both protocols, plus
    decoded-field errors and how the learned fixed points sit at the states the trajectories
    settle on and at the PDE's own steady states."""
    lm = m["latent_metrics"]
    r = {
        "system": m["system"],
        "n": m["latent"],
        "model": m["model_key"],
        "chart": "PCA-ResNet" if m["autoencoder"] else "PCA",
        "params": m["param_count"],
    }
    for T, e in lm["horizon_error"].items():
        r[f"E({T}) held-out"] = e["mean"]
    r["N_fail held-out"] = f"{lm['n_fail']}/{m['n_test_trajectories']}"
    r["test rollouts escaped"] = f"{m['n_test_trajectories'] - m['test_rollouts_bounded']}/{m['n_test_trajectories']}"
    authors = lm.get("authors")
    if authors:  # PRF21's definitions on every trajectory (their test_ode_RBC.py)
        for T, e in authors["horizon_error"].items():
            r[f"E({T}) authors'"] = e["mean"]
        r["N_fail authors'"] = f"{authors['n_fail']}/{authors['n_trajectories']}"
    fe = lm.get("field_error") or {}
    r["field reconstruction error"] = fe.get("reconstruction")
    r["field prediction error"] = fe.get("prediction")
    states = lm["steady_states"]
    near = [s for s in states if (s.get("nearest_stable_relative_distance") or np.inf) < NEAR]
    r["settled states"] = len(states)
    r["with a stable fixed point within 10%"] = len(near)
    ends = [s for s in (authors or {}).get("end_states", []) if s["population"] >= POPULATED]
    if ends:  # every trajectory's end state, the populated ones
        r[f"end states (≥{POPULATED} traj.): populations"] = ", ".join(str(s["population"]) for s in ends)
        r["their distance to the nearest stable fixed point"] = ", ".join(
            f"{s['nearest_stable_relative_distance']:.3g}" if s["nearest_stable_relative_distance"] is not None else "–"
            for s in ends
        )
    pde = lm.get("pde_steady_states")
    if pde:
        stable = [p for p in pde if p["stable"]]
        r["PDE steady states (stable)"] = f"{len(pde)} ({len(stable)})"
        r["stable PDE states: distance to the nearest stable fixed point"] = ", ".join(
            f"{p['nearest_stable_relative_distance']:.3g}" if p["nearest_stable_relative_distance"] is not None else "–"
            for p in stable
        )
    cycles = lm.get("pde_periodic_orbits")
    if cycles:  # the PDE's periodic orbits against the learned field's, from each projected cycle
        seeded = [c["from_pde_cycle"] or {} for c in cycles]
        r["PDE cycles: period (stability)"] = ", ".join(f"{c['period']:.4g} ({c['stability']})" for c in cycles)
        r["learned cycle from each: period"] = ", ".join(_num(d.get("learned_period")) for d in seeded)
        r["its period error"] = ", ".join(_num(d.get("relative_period_error")) for d in seeded)
        r["its distance / cycle size"] = ", ".join(_num(d.get("relative_distance")) for d in seeded)
        r["nearest cycle the rollouts found: period error"] = ", ".join(
            _num(c["from_rollouts"]["relative_period_error"]) for c in cycles
        )
    return r


def _num(v) -> str:
    return "–" if v is None else f"{v:.3g}"


LATENT_NOTES = [
    "held-out: the test trajectories only; E(T) per trajectory is the RMS over starts of |ĥ(t₀+T) − h(t₀+T)| "
    "divided by the RMS of |h(t₀+T)|, averaged over trajectories; N_fail counts rollouts from the first state "
    "whose relative error at the last time exceeds the fail threshold.",
    "authors': PRF21's own code (test_ode_RBC.py) on every trajectory, training ones included: every snapshot a "
    "start, each trajectory's RMS error divided by the RMS of |h| over the whole trajectory; N_fail divides the "
    "error at the last time by max_t |h|. nearest_neighbour (their Table II) predicts from the training "
    "trajectory nearest at the same time, on the test split under both definitions.",
    "distances are relative, |h_state − h_fixed point| / |h_state|, in the run's latent coordinates; end states "
    "are those of all trajectories (the mean of the last tenth of each), merged within 5%.",
    "PDE cycles (where converged): the PDE's periodic orbits projected into the run's chart; the learned cycle is "
    "where Newton shooting on the learned field goes from a point of the projected cycle and its period; period "
    "error (T_learned − T_PDE)/T_PDE; distance the Hausdorff distance between the two orbits over the projected "
    "cycle's size (largest distance of its points from their mean).",
]


def _critical_label(c: dict) -> str:
    fold = c.get("conformation", {}).get("fold_ratio")
    return c["type"] + (f" (fold {fold:.2f})" if fold is not None else "")


def polymer_row(m: dict) -> dict:
    """One stochastic run: V's critical points (with the fold ratio of each decoded chain),
    the drift's fixed points, ensemble statistics (NCS24), closure correlations."""
    from ..analysis.folds import folded_saddle_summary

    critical = m.get("critical_points")  # None: a model without a potential (SINDy)
    fixed = m["fixed_points"]
    r = {
        "system": m["system"],
        "n": m["latent"],
        "model": m["model_key"],
        "closure": "PCA-ResNet" if m["autoencoder"] else "PCA",
        "diffusion": m["diffusion"],
        "params": m["param_count"],
        "critical points of V in data range": (
            "; ".join(_critical_label(c) for c in critical if c.get("in_data_range", True)) or "none"
            if critical is not None
            else "– (no V)"
        ),
        "V outside": sum(not c.get("in_data_range", True) for c in critical) if critical is not None else None,
        "folded saddle joins two stretched minima": (
            folded_saddle_summary(critical)["folded_saddle_joins_stretched_minima"] if critical is not None else None
        ),
        "drift fixed points in data range": ", ".join(sorted(p["kind"] for p in fixed if p.get("in_data_range", True)))
        or "none",
    }
    for e in m["ensembles"]:
        tag = f"{e['label']} #{e['ensemble']}"
        r[f"{tag}: max mean error"] = e["extension"]["max_mean_error"]
        r[f"{tag}: max std error"] = e["extension"]["max_std_error"]
        r[f"{tag}: unfolding W1/mean"] = e["unfolding_time"]["wasserstein1_relative"]
        r[f"{tag}: unfolding KS"] = e["unfolding_time"]["ks"]
        r[f"{tag}: covariance error"] = e["covariance_error"]
    c = m.get("correlations") or {}
    r["corr(|Z2|, |xN−x1|) train"] = c.get("Z2_vs_end_to_end_diff")
    r["corr(|Z3|, |xN+x1|) train"] = c.get("Z3_vs_end_to_end_sum")
    return r


NOISE_FLOOR_MODEL = "simulator, new noise"  # the polymer table's row of the ensemble metrics' floor

POLYMER_NOTES = [
    f"{NOISE_FLOOR_MODEL}: the system's own simulator rerun from each test trajectory's stored start under "
    "independent noise and judged against the stored ensembles as a model is (onsagerflow noise-floor): the "
    "ensemble metrics' floor from the ensembles' finite size, the mean over the draws (their number in brackets). "
    "No model can be expected to score below it.",
]


def noise_floor_row(files: list[dict]) -> dict:
    """One system's floor from its ``onsagerflow noise-floor`` files (each a draw of one or
    every test ensemble, judged as a model's are): every ensemble column of ``polymer_row``,
    the mean over that ensemble's draws."""
    by_ensemble: dict[int, list[dict]] = {}
    for f in files:
        for e in f["ensembles"]:
            by_ensemble.setdefault(int(e["ensemble"]), []).append(e)
    draws = {len(v) for v in by_ensemble.values()}
    count = str(draws.pop()) if len(draws) == 1 else "–".join(str(d) for d in sorted(draws))
    r: dict = {"system": files[0]["system"], "model": f"{NOISE_FLOOR_MODEL} ({count})"}
    for number in sorted(by_ensemble):
        same = by_ensemble[number]
        tag = f"{same[0]['label']} #{number}"
        r[f"{tag}: max mean error"] = float(np.mean([x["extension"]["max_mean_error"] for x in same]))
        r[f"{tag}: max std error"] = float(np.mean([x["extension"]["max_std_error"] for x in same]))
        r[f"{tag}: unfolding W1/mean"] = _mean_or_none([x["unfolding_time"]["wasserstein1_relative"] for x in same])
        r[f"{tag}: unfolding KS"] = float(np.mean([x["unfolding_time"]["ks"] for x in same]))
    return r


def _mean_or_none(values: list) -> float | None:
    """The mean over ensembles, or None where one has none (every path of a model that
    diverged had escaped by some time: its errors there are undefined, and 'bounded' says so)."""
    ok = all(v is not None and np.isfinite(v) for v in values)
    return float(np.mean(values)) if ok else None


def baseline_row(m: dict) -> dict:
    """One run of any system against the baselines: short-term error, long-term boundedness,
    fixed-point error where the exact fixed points are known, parameter count. Each system
    measures short-term error its own way (named in the 'short-term measure' column)."""
    kind = m["model_type"] + ("+PCA-ResNet" if m.get("autoencoder") else "")
    # n: the latent size, or for a model of the stored state its dimension
    n = m["latent"] if m["latent"] is not None else len(m["long_rollouts"]["center"])
    r = {"system": m["system"], "n": n, "model": m["model_key"], "type": kind, "params": m["param_count"]}
    lm = m.get("latent_metrics")
    if "ensembles" in m:  # stochastic system: paths from the test ensembles' starts
        ens = m["ensembles"]
        r["short-term error"] = _mean_or_none([e["extension"]["max_mean_error"] for e in ens])
        r["short-term measure"] = "ensemble-mean extension: max over t of abs. error / std, mean over ensembles"
        p = m.get("paths")
        r["bounded"] = f"{p['n_bounded']}/{p['n']} paths" if p else None
        r["ensemble std error"] = _mean_or_none([e["extension"]["max_std_error"] for e in ens])
        r["unfolding W1/mean"] = _mean_or_none([e["unfolding_time"]["wasserstein1_relative"] for e in ens])
    elif lm is not None and m["latent"] is not None:  # latent system: PRF21's E(T) at the shortest horizon
        T = min(lm["horizon_error"], key=float, default=None)
        r["short-term error"] = lm["horizon_error"][T]["mean"] if T else None
        r["short-term measure"] = f"E({T}), mean over test trajectories" if T else None
    else:  # state system: relative error of test rollouts at the first error time
        t = min(m["relative_error_at"], key=float, default=None)
        r["short-term error"] = m["relative_error_at"][t]["median"] if t else None
        r["short-term measure"] = f"median rel. error at t={t}" if t else None
    one = m.get("one_step_error")
    r["one-step test MSE"] = one["mse"] if one else None
    lr = m.get("long_rollouts")
    if lr:
        r["bounded"] = f"{lr['n_bounded']}/{lr['n']} long rollouts (T={lr['t_end']:g})"
    exact = m.get("exact_fixed_points")
    if exact:
        nontrivial = [e for e in exact if np.linalg.norm(e["x"]) > 0]
        d = [e["relative_distance"] for e in nontrivial]
        r["fixed-point error"] = max(d) if d and None not in d else None
    else:
        r["fixed-point error"] = None
    return r


BASELINE_COLUMNS = [
    "system",
    "n",
    "model",
    "type",
    "params",
    "short-term error",
    "short-term measure",
    "one-step test MSE",
    "bounded",
    "fixed-point error",
    "ensemble std error",
    "unfolding W1/mean",
    WARNINGS,
]
BASELINE_NOTES = [
    "params: trainable parameters; for SINDy (type sindy) the number of non-zero polynomial "
    "coefficients the sparse regression kept.",
    "bounded: rollouts that stayed within bound_factor × the largest |x − mean| of the training data; "
    "an escaped (or overflowing) rollout counts as unbounded, and its short-term error as infinite (–).",
    "one-step test MSE: PRF21's test error, mean over held-out pairs (x(t), x(t + τ)) of "
    "|(Heun step of the learned field − x(t + τ))/τ|², physical units.",
    "fixed-point error: max over the exact non-trivial fixed points (Lorenz-63: C±) of the distance to "
    "the nearest learned fixed point divided by |x*|; – where no exact fixed points are known.",
    "polymer: deterministic models (drift-only OnsagerNet trained by the pair loss, SINDy) run from each "
    "ensemble's start without noise, so their ensemble spread is zero.",
    "polymer: the short-term and ensemble std errors (means over ensembles) are – where every path of an "
    "ensemble had escaped by some time ('bounded' counts them).",
]
