"""``onsagerflow pde-orbits``: the RBC PDE's own periodic orbits, converged by shooting from
near-returns of the simulated trajectories, with their Floquet multipliers — the reference
the learned models' periodic orbits are compared with (evaluate).

Candidates: states of the settled part of the record (its last ``1 − SETTLED_FRACTION``) of
the first SEARCH_TRAJECTORIES trajectories that come back near themselves after a time in
[orbit_period_min, orbit_period_max] (``analysis.periodic_orbits.near_returns`` on the
stored fields, the return tolerance relative to the snapshots' RMS norm). Each is refined by
``systems.rbc_states.PeriodicSolver`` (Newton–GMRES on Φ_T(s) = s with the period an unknown)
in steps of at most simulation.dt; orbits found twice are kept once.

Writes pde_orbits.zarr: u, w, θ at ORBIT_SAMPLES phases of each orbit (dims orbit, phase, z, x,
in the store's units), its period (store time units), residual ‖Φ_T(s) − s‖/‖s‖, Newton steps,
whether it converged, the leading Floquet multipliers and the mean Nusselt number. Attempts
that did not converge are kept too (converged = 0), so the store says what was reached.
"""

from __future__ import annotations

import logging
import time

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..analysis.periodic_orbits import (
    ORBIT_SAMPLES,
    SAME_PERIOD,
    SAME_PLACE,
    floquet_summary,
    match_orbits,
    near_returns,
    orbit_distance,
    refine,
)
from ..config import ConfigError
from ..data import open_store
from ..data.store import write_zarr
from ..data.timegrid import time_grid
from ..provenance import stamp
from ..systems.rbc import FIELDS, make_solver, time_unit
from ..systems.rbc_states import PeriodicOrbit, PeriodicSolver

log = logging.getLogger("onsagerflow.pde_orbits")

PDE_ORBITS = "pde_orbits.zarr"
SEARCH_TRAJECTORIES = 8  # trajectories searched for near-returns (the PDE's cycles are everyone's)
SETTLED_FRACTION = 0.5  # the first half of each record is left out of the search (transients)
# A converged orbit of period T may be one of period T/k traversed k times (a near-return after
# two turns ranks as well as one after one): when Φ_{T/k}(s) comes within PRIME_CLOSE·‖s‖ of s
# (distinct phases of an orbit lie O(‖s‖) apart; the same point, up to the scheme's error in a
# step of another length, far closer), it is shot again at T/k.
PRIME_DIVISORS = (2, 3)
PRIME_CLOSE = 1e-2


def settled_fields(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The coarse snapshots of the settled part of the first SEARCH_TRAJECTORIES trajectories
    as flat (u, w, θ) rows (B, m, 3·(nz+1)·nx), in the store's units, and their times (m,)."""
    grid = time_grid(ds["time"].values, "store")
    coarse = np.arange(len(grid.time)) if grid.uniform else grid.starts
    coarse = coarse[int(SETTLED_FRACTION * len(coarse)) :]
    sub = ds.isel(trajectory=slice(0, SEARCH_TRAJECTORIES), time=coarse)
    f = np.stack([sub[v].values.astype(np.float64) for v in FIELDS], axis=2)
    return f.reshape(f.shape[0], f.shape[1], -1), grid.time[coarse]


def _flat(states: np.ndarray) -> np.ndarray:
    """Spectral states (k, 2, 2nz, nx//2+1) as real rows."""
    return np.concatenate([states.real, states.imag], axis=1).reshape(len(states), -1)


def run(spec: dict, data: str, out: str) -> None:
    t0 = time.perf_counter()
    sys_spec, cfg = spec["system"], spec["invariant_sets"]
    if cfg["orbit_period_max"] <= cfg["orbit_period_min"]:
        raise ConfigError(
            f"systems.{sys_spec['name']}.invariant_sets.orbit_period_max ({cfg['orbit_period_max']:g}) must exceed "
            f"orbit_period_min ({cfg['orbit_period_min']:g})"
        )
    ds = open_store(data)
    unit = time_unit(sys_spec)
    solver = make_solver(sys_spec)
    rows, t = settled_fields(ds)
    shape = (3, ds.sizes["z"], ds.sizes["x"])
    scale = float(np.sqrt(np.mean(np.sum(rows**2, axis=-1))))
    cands = near_returns(
        rows,
        t,
        period_min=cfg["orbit_period_min"],
        period_max=cfg["orbit_period_max"],
        tol=cfg["orbit_return_tol"] * scale,
        max_candidates=cfg["orbit_candidates"],
    )
    log.info(
        "%d near-return candidates in %d trajectories (periods %s)",
        len(cands),
        rows.shape[0],
        [round(T, 3) for _, T in cands],
    )
    to_state = jax.jit(solver.state_from_fields)
    fields_fn = jax.jit(jax.vmap(solver.fields))
    nu_fn = jax.jit(jax.vmap(solver.nusselt))
    k_mult = cfg["multipliers"]
    found: list[dict] = []
    for x_hat, T_hat in cands:
        f = x_hat.reshape(shape).copy()
        f[:2] /= unit  # velocities back to the solver's units
        n_steps = int(np.ceil(T_hat / sys_spec["simulation"]["dt"] - 1e-9))
        shooter = PeriodicSolver(solver, n_steps)
        tic = time.perf_counter()
        orbit = shooter.solve(
            to_state(jnp.asarray(f)), T_hat * unit, tol=cfg["orbit_tolerance"], max_newton=cfg["orbit_newton_steps"]
        )
        if orbit.converged:
            shooter, orbit = prime_period(solver, shooter, orbit, cfg)
        period = orbit.period / unit
        log.info(
            "from the near-return of period %.3f: period %.6f, residual %.2e after %d shooting steps (%.0f s)",
            T_hat,
            period,
            orbit.residual,
            orbit.newton_steps,
            time.perf_counter() - tic,
        )
        if not np.isfinite(orbit.residual) or period <= 0:
            continue
        path = _flat(shooter.samples(orbit, shooter.n))  # every step: the orbit at the solver's resolution
        samples = shooter.samples(orbit, ORBIT_SAMPLES)
        size = float(np.max(np.linalg.norm(path - path.mean(axis=0), axis=-1)))
        # found before: its path passes through this orbit's point (a mirror image, with the
        # same period and multipliers, does not)
        if orbit.converged and any(
            g["converged"]
            and abs(period - g["period"]) <= SAME_PERIOD * g["period"]
            and np.min(np.linalg.norm(g["path"] - path[0], axis=-1)) < SAME_PLACE * g["size"]
            for g in found
        ):
            log.info("the same orbit as one already found")
            continue
        mu = np.full(k_mult, np.nan, complex)
        if orbit.converged:
            tic = time.perf_counter()
            m = shooter.multipliers(orbit, k=k_mult)
            mu[: len(m)] = m
            log.info(
                "Floquet multipliers (|μ|): %s (%.0f s)",
                np.round(np.abs(m), 5).tolist(),
                time.perf_counter() - tic,
            )
        phys = np.array(fields_fn(jnp.asarray(samples)))
        phys[:, :2] *= unit
        found.append(
            {
                "converged": orbit.converged,
                "period": period,
                "candidate_period": float(T_hat),
                "path": path,
                "size": size,
                "fields": phys,
                "residual": orbit.residual,
                "newton_steps": orbit.newton_steps,
                "multipliers": mu,
                "nusselt": float(np.mean(np.asarray(nu_fn(jnp.asarray(samples))))),
            }
        )
    write_zarr(orbits_dataset(found, ds, shape, k_mult, data, cfg, sys_spec, spec), out)
    log.info(
        "wrote %d periodic orbits (%d converged) to %s in %.1f s",
        len(found),
        sum(g["converged"] for g in found),
        out,
        time.perf_counter() - t0,
    )


def prime_period(solver, shooter: PeriodicSolver, orbit: PeriodicOrbit, cfg: dict):
    """(shooter, orbit) of the orbit's prime period: shot again at T/k where it closes there."""
    s = jnp.asarray(orbit.state)
    for k in PRIME_DIVISORS:
        short = PeriodicSolver(solver, int(np.ceil(shooter.n / k)), diffusion=shooter.D)
        gap = float(jnp.linalg.norm(jax.jit(short.phi)(s, orbit.period / k) - s) / jnp.linalg.norm(s))
        if gap < PRIME_CLOSE:
            log.info("the orbit closes after 1/%d of its period (gap %.1e): shooting again for that period", k, gap)
            again = short.solve(s, orbit.period / k, tol=cfg["orbit_tolerance"], max_newton=cfg["orbit_newton_steps"])
            if again.converged:
                again.newton_steps += orbit.newton_steps  # the steps of both solves
                return prime_period(solver, short, again, cfg)
    return shooter, orbit


def orbits_dataset(found, ds, shape, k_mult, data, cfg, sys_spec, spec) -> xr.Dataset:
    n = len(found)
    fields = np.stack([g["fields"] for g in found]) if n else np.zeros((0, ORBIT_SAMPLES, *shape))
    mu = np.stack([g["multipliers"] for g in found]) if n else np.zeros((0, k_mult), complex)
    col = lambda key, dtype=float: np.asarray([g[key] for g in found], dtype)
    dims = ("orbit", "phase", "z", "x")
    one = lambda name: {"units": "1", "long_name": name}
    n_unstable = np.asarray([_summary(m)["n_unstable"] if np.isfinite(m).all() else -1 for m in mu], int)
    return xr.Dataset(
        {
            "u": (dims, fields[:, :, 0], ds["u"].attrs),
            "w": (dims, fields[:, :, 1], ds["w"].attrs),
            "theta": (dims, fields[:, :, 2], ds["theta"].attrs),
            "period": ("orbit", col("period"), one("period in the store's time unit")),
            "candidate_period": (
                "orbit",
                col("candidate_period"),
                one("period of the near-return Newton started from"),
            ),
            "residual": ("orbit", col("residual"), one("‖Φ_T(s) − s‖/‖s‖ of the time-T map")),
            "newton_steps": ("orbit", col("newton_steps", int), one("Newton–GMRES shooting steps taken")),
            "converged": ("orbit", col("converged", np.int8), one("1 if the residual met orbit_tolerance")),
            "nusselt": ("orbit", col("nusselt"), one("Nusselt number 1 + <w theta> averaged over the orbit")),
            "multiplier_real": (("orbit", "multiplier"), mu.real, one("real part of the leading Floquet multipliers")),
            "multiplier_imag": (
                ("orbit", "multiplier"),
                mu.imag,
                one("imaginary part of the leading Floquet multipliers"),
            ),
            "n_unstable": (
                "orbit",
                n_unstable.astype(int),
                one("Floquet multipliers with |μ| > 1 besides the trivial one (−1: not converged)"),
            ),
        },
        coords={"z": ds["z"].values, "x": ds["x"].values},
        attrs={
            "source_store": str(data),
            "orbit_tolerance": cfg["orbit_tolerance"],
            "nx": int(sys_spec["simulation"]["nx"]),
            "nz": int(sys_spec["simulation"]["nz"]),
            "time_unit": sys_spec["simulation"]["time_unit"],
            **stamp(spec),
        },
    )


def project(orbits: xr.Dataset, pca, chart) -> np.ndarray:
    """The sampled PDE orbits in a run's latent chart: (orbit, phase, n)."""
    n_orbit, n_phase = orbits.sizes["orbit"], orbits.sizes["phase"]
    rows = np.concatenate([orbits[f].values.reshape(n_orbit * n_phase, -1) for f in pca.fields], axis=1)
    return np.asarray(chart.encode(pca.transform_rows(rows))).reshape(n_orbit, n_phase, -1)


def _summary(mu: np.ndarray) -> dict:
    return floquet_summary(mu[np.isfinite(mu)])


def compare(orbits: xr.Dataset, pca, chart, field, args, learned: list[dict], *, length_scale: float, rtol: float):
    """Each converged PDE orbit in the run's chart against the learned field's: the nearest of
    the orbits its long rollouts revealed (``learned``, from the orbit search), and the orbit
    Newton shooting on the learned field converges to from the projected cycle (a point of it and
    its period): periods, relative period error, Hausdorff distance in the chart and that
    distance over the projected cycle's size, Floquet stability of both."""
    conv = np.flatnonzero(orbits["converged"].values == 1)
    if not len(conv):
        return []
    h = project(orbits.isel(orbit=conv), pca, chart)
    out = []
    for j, hj in zip(conv, h):
        mu = orbits["multiplier_real"].values[j] + 1j * orbits["multiplier_imag"].values[j]
        size = float(np.max(np.linalg.norm(hj - hj.mean(axis=0), axis=-1)))
        ref = {
            "period": float(orbits["period"][j]),
            "stability": _summary(mu)["stability"],
            "center": hj.mean(axis=0).tolist(),
            "size": size,
            "orbit": hj,
        }
        entry = {k: v for k, v in ref.items() if k != "orbit"}
        entry.update(
            pde_orbit=int(j),
            residual=float(orbits["residual"][j]),
            largest_nontrivial_multiplier=_summary(mu)["largest_nontrivial_modulus"],
            from_rollouts=match_orbits(learned, [ref])[0],
            from_pde_cycle=None,
        )
        seeded = refine(field, [(hj[0], ref["period"])], args=args, length_scale=length_scale, rtol=rtol)
        if seeded:
            o = seeded[0]
            d = orbit_distance(np.asarray(o["orbit"]), hj)
            entry["from_pde_cycle"] = {
                "learned_period": o["period"],
                "relative_period_error": (o["period"] - ref["period"]) / ref["period"],
                "distance": d,
                "relative_distance": d / max(size, 1e-300),
                "learned_stability": o["stability"],
                "learned_orbit": o["orbit"],
            }
        log.info(
            "PDE orbit %d (period %.4f): learned from its cycle %s; nearest found by the rollouts %s",
            j,
            ref["period"],
            None
            if entry["from_pde_cycle"] is None
            else (
                round(entry["from_pde_cycle"]["learned_period"], 4),
                round(entry["from_pde_cycle"]["relative_distance"], 3),
            ),
            entry["from_rollouts"]["learned_period"],
        )
        out.append(entry)
    return out
