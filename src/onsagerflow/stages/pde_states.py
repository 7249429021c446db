"""``onsagerflow pde-states``: the RBC PDE's own steady states, converged by Newton–Krylov
from the trajectories' last snapshots, with their linear stability and how many trajectories
end on each — the reference the learned fixed points are compared with (evaluate).

Writes pde_states.zarr: u, w, θ of each state (dims steady, z, x, in the store's units), its
Nusselt number, residual ‖F‖/‖Ls‖, Newton steps, leading eigenvalues (store time units), whether
it is stable, and its population (trajectories whose last snapshot lies nearest to it and
within ``merge`` of it).
"""

from __future__ import annotations

import logging
import time

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..data import open_store
from ..data.store import write_zarr
from ..data.timegrid import time_grid
from ..provenance import stamp
from ..systems.rbc import FIELDS, make_solver, time_unit
from ..systems.rbc_states import SteadySolver, leading_eigenvalues

log = logging.getLogger("onsagerflow.pde_states")

PDE_STATES = "pde_states.zarr"
SAME_STATE = 1e-6  # converged states closer than this (relative) are one


def last_snapshots(ds: xr.Dataset, unit: float) -> tuple[np.ndarray, np.ndarray]:
    """(last, previous) coarse snapshots of every trajectory as (N, 3, nz+1, nx) fields in
    d²/κ units (velocities divided back by the store's time unit)."""
    grid = time_grid(ds["time"].values, "store")
    coarse = np.arange(len(grid.time)) if grid.uniform else grid.starts
    out = []
    for k in (coarse[-1], coarse[-2]):
        f = np.stack([ds[v].isel(time=int(k)).values.astype(np.float64) for v in FIELDS], axis=1)
        f[:, :2] /= unit
        out.append(f)
    return out[0], out[1]


def cluster(states: np.ndarray, merge: float) -> list[list[int]]:
    """Greedy groups of states (N, D) closer than merge·|state| to a group's first member."""
    groups: list[list[int]] = []
    for i, s in enumerate(states):
        for g in groups:
            c = states[g[0]]
            if np.linalg.norm(s - c) < merge * max(float(np.linalg.norm(c)), 1e-300):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def run(spec: dict, data: str, out: str) -> None:
    t0 = time.perf_counter()
    sys_spec, cfg = spec["system"], spec["invariant_sets"]
    ds = open_store(data)
    unit = time_unit(sys_spec)
    solver = make_solver(sys_spec)
    newton = SteadySolver(solver)
    last, previous = last_snapshots(ds, unit)
    to_state = jax.jit(jax.vmap(solver.state_from_fields))
    s_last, s_prev = np.asarray(to_state(last)), np.asarray(to_state(previous))
    flat = np.concatenate([s_last.real, s_last.imag], axis=1).reshape(len(s_last), -1)
    motion = np.linalg.norm((s_last - s_prev).reshape(len(s_last), -1), axis=1)
    groups = cluster(flat, cfg["merge"])
    log.info("%d trajectories end in %d groups of sizes %s", len(flat), len(groups), [len(g) for g in groups])
    found: list[dict] = []
    for g in groups:
        start = g[int(np.argmin(motion[g]))]  # the most settled member
        st = newton.solve(s_last[start], tol=cfg["tolerance"])
        log.info(
            "from trajectory %d (group of %d): residual %.2e after %d Newton steps",
            start,
            len(g),
            st.residual,
            st.newton_steps,
        )
        v = np.concatenate([st.state.real, st.state.imag]).ravel()
        for f in found:
            if np.linalg.norm(v - f["vector"]) < SAME_STATE * np.linalg.norm(f["vector"]):
                break
        else:
            found.append({"state": st.state, "vector": v, "result": st})
    # every trajectory to its nearest converged state; it settled there when within merge of it
    vectors = np.stack([f["vector"] for f in found])
    dist = np.linalg.norm(flat[:, None] - vectors[None], axis=-1)
    nearest = np.argmin(dist, axis=1)
    on = dist[np.arange(len(flat)), nearest] < cfg["merge"] * np.linalg.norm(vectors[nearest], axis=1)
    horizon = 1.0 / np.sqrt(solver.ra * solver.pr)  # one free-fall time: resolves |Im λ| < π √(Ra Pr)
    fields_fn = jax.jit(solver.fields)
    u, w, th, nu, res, steps, stable, pop, eig = [], [], [], [], [], [], [], [], []
    for j, f in enumerate(found):
        st = f["result"]
        lam = leading_eigenvalues(solver, st.state, horizon, k=cfg["eigenvalues"]) * unit
        phys = np.asarray(fields_fn(jnp.asarray(st.state)))
        u.append(phys[0] * unit)
        w.append(phys[1] * unit)
        th.append(phys[2])
        nu.append(float(solver.nusselt(jnp.asarray(st.state))))
        res.append(st.residual)
        steps.append(st.newton_steps)
        stable.append(bool(lam[0].real < 0) and st.converged)
        pop.append(int(np.sum((nearest == j) & on)))
        eig.append(np.pad(lam, (0, cfg["eigenvalues"] - len(lam)), constant_values=np.nan))
        log.info(
            "steady state %d: Nu %.6f, residual %.2e, %s (leading λ %s), %d trajectories end on it",
            j,
            nu[-1],
            res[-1],
            "stable" if stable[-1] else "unstable",
            np.round(lam[:2], 4).tolist(),
            pop[-1],
        )
    eigenvalues = np.asarray(eig)
    out_ds = xr.Dataset(
        {
            "u": (("steady", "z", "x"), np.asarray(u), ds["u"].attrs),
            "w": (("steady", "z", "x"), np.asarray(w), ds["w"].attrs),
            "theta": (("steady", "z", "x"), np.asarray(th), ds["theta"].attrs),
            "nusselt": ("steady", np.asarray(nu), {"units": "1", "long_name": "Nusselt number 1 + <w theta>"}),
            "residual": (
                "steady",
                np.asarray(res),
                {"units": "1", "long_name": "‖F(s)‖/‖L s‖ of the steady equations"},
            ),
            "newton_steps": ("steady", np.asarray(steps), {"units": "1", "long_name": "Newton–Krylov steps taken"}),
            "converged": (
                "steady",
                np.asarray([f["result"].converged for f in found], np.int8),
                {"units": "1", "long_name": "1 if the residual met the tolerance"},
            ),
            "stable": (
                "steady",
                np.asarray(stable, np.int8),
                {"units": "1", "long_name": "1 if every leading eigenvalue has a negative real part"},
            ),
            "population": (
                "steady",
                np.asarray(pop),
                {"units": "1", "long_name": "trajectories whose last snapshot is nearest this state"},
            ),
            "eigenvalue_real": (
                ("steady", "eigenvalue"),
                eigenvalues.real,
                {"units": "1", "long_name": "real part of the leading linear-stability eigenvalues (per time unit)"},
            ),
            "eigenvalue_imag": (
                ("steady", "eigenvalue"),
                eigenvalues.imag,
                {
                    "units": "1",
                    "long_name": "imaginary part of the leading linear-stability eigenvalues (per time unit)",
                },
            ),
        },
        coords={"z": ds["z"].values, "x": ds["x"].values},
        attrs={
            "source_store": str(data),
            "trajectories": int(len(flat)),
            "ended_on_none": int(np.sum(~on)),
            "tolerance": cfg["tolerance"],
            "time_unit": sys_spec["simulation"]["time_unit"],
            **stamp(spec),
        },
    )
    write_zarr(out_ds, out)  # atomically, CF-annotated, consolidated metadata (as every store)
    log.info("wrote %d steady states to %s in %.1f s", len(found), out, time.perf_counter() - t0)


def project(states: xr.Dataset, pca, chart) -> np.ndarray:
    """The PDE states in a run's latent chart: the PCA coordinates of their fields (all the
    latent store keeps), encoded by the run's chart."""
    rows = np.concatenate([states[f].values.reshape(states.sizes["steady"], -1) for f in pca.fields], axis=1)
    return chart.encode(pca.transform_rows(rows))
