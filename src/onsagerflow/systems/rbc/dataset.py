"""The stage API of the RBC system: a validated system block in, batches of canonical
Datasets (u, w, θ and the Nusselt number on (trajectory, time, z, x)) out."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ...data import assign_splits, build_dataset
from ...lazy_import import lazy
from ...provenance import stamp
from .grid import Grid
from .linear import RA_C
from .modes import lorenz_mode_states, random_perturbations
from .solver import CFLError, Solver
from .timing import sampling, time_unit

if TYPE_CHECKING:
    import jax
    import jax.numpy as jnp
else:
    jax, jnp = lazy("jax"), lazy("jax.numpy")

DIMS = ("z", "x")
FIELDS = ("u", "w", "theta")  # what the store holds; a reducer turns them into latents

log = logging.getLogger("onsagerflow.systems.rbc")


def make_solver(spec: Mapping[str, Any], dt: float | None = None) -> Solver:
    """The solver of a system's config; ``dt`` (in the config's time unit) overrides
    simulation.dt (the fine step of bursts)."""
    p, sim = spec["parameters"], spec["simulation"]
    grid = Grid(nx=sim["nx"], nz=sim["nz"])
    dtype = jnp.float64 if sim["float64"] else jnp.float32
    return Solver(
        grid,
        p["r"] * RA_C,
        p["Pr"],
        (sim["dt"] if dt is None else dt) * time_unit(spec),
        reflection=sim["reflection_symmetric"],
        cfl_max=sim["cfl_max"],
        dtype=dtype,
    )


def _check_cfl(spec, solver, ids, frozen, t) -> None:
    frozen = np.asarray(frozen)
    if (frozen >= 0).any():
        k = int(np.argmax(frozen >= 0))
        when = np.asarray(t)[frozen[k]] if np.ndim(t) else "the end of the burn-in"
        raise CFLError(
            f"systems.{spec['name']}: trajectory {ids[k]} passed the Courant limit {solver.cfl_max} "
            f"(or went non-finite) by t = {when}; lower simulation.dt (now {spec['simulation']['dt']:g}) "
            "or raise the resolution"
        )


def initial_states(spec: Mapping[str, Any], solver: Solver, ids: np.ndarray):
    """Trajectory i's start, drawn from its own key (independent of the batch it is in):
    a random θ perturbation of RMS ``perturbation`` of the conduction state, or Lorenz-mode
    fields with amplitudes uniform in [lorenz_low, lorenz_high] plus that perturbation."""
    sim = spec["simulation"]
    key = jax.random.key(spec["seed"])
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.asarray(ids))
    s0 = random_perturbations(solver, keys, sim["perturbation"])
    if sim["initial"] == "lorenz_modes":
        lo, hi = (jnp.asarray(sim[k], solver.rdtype) for k in ("lorenz_low", "lorenz_high"))
        draw = jax.vmap(lambda k: jax.random.uniform(jax.random.fold_in(k, 1), (3,), solver.rdtype, lo, hi))
        s0 = s0 + lorenz_mode_states(solver, np.asarray(draw(keys)))
    return s0


def trajectory_count(spec: Mapping[str, Any]) -> int:
    """How many trajectories ``simulate`` makes."""
    return int(spec["simulation"]["n_trajectories"])


def batch_size(spec: Mapping[str, Any]) -> int:
    """Trajectories simulated together (a shard holds whole batches: module ``simulate``)."""
    return int(spec["simulation"]["batch_size"])


def simulate(spec: Mapping[str, Any], trajectories: Sequence[int] | None = None) -> Iterator[xr.Dataset]:
    """Batches of trajectories as canonical Datasets: u, w, θ on (trajectory, time, z, x)
    and the Nusselt number, sampled uniformly or in bursts (``Sampling``).

    ``trajectories`` (ids, default all) picks a subset, in batches of ``batch_size`` from its
    first id: trajectory i is drawn from its own key and keeps the split of the whole set, so
    a shard of whole batches holds, bit for bit, what the whole run would (each batch is the
    same program on the same trajectories)."""
    sim = spec["simulation"]
    solver = make_solver(spec)
    plan = sampling(spec)
    fine = make_solver(spec, plan.burst_step / plan.fine_every) if plan.burst > 1 else None
    unit = time_unit(spec)
    n = trajectory_count(spec)
    wanted = np.arange(n) if trajectories is None else np.asarray(trajectories, dtype=np.int64)
    split = assign_splits(n, spec["splits"], spec["seed"])
    batch = batch_size(spec)
    fields_fn = jax.jit(jax.vmap(jax.vmap(solver.fields)))
    nu_fn = jax.jit(jax.vmap(jax.vmap(solver.nusselt)))
    velocity_unit = "κ/d" if sim["time_unit"] == "diffusive" else "√(gαΔT d) (free-fall velocity)"
    time_unit_name = "d²/κ" if sim["time_unit"] == "diffusive" else "the free-fall time (d²/κ)/√(Ra Pr)"
    attrs = {
        "system_type": "rbc",
        "Ra": solver.ra,
        "Ra_c": RA_C,
        "r": float(spec["parameters"]["r"]),
        "Pr": solver.pr,
        "length": solver.grid.length,
        "nx": solver.grid.nx,
        "nz": solver.grid.nz,
        "time_unit": sim["time_unit"],
        "time_unit_in_diffusive_times": unit,
        "dt": float(sim["dt"]),
        "dt_sample": float(sim["dt_sample"]),
        "t_end": float(sim["t_end"]),
        "t_burn": float(sim["t_burn"]),
        "burst_size": plan.burst,
        "burst_step": plan.burst_step,
        "initial": sim["initial"],
        "time_stepping": "Kutta RK3, Lawson integrating factor (exact diffusion); 2/3 dealiasing",
        "reflection_symmetric": int(solver.reflection),
        "perturbation": float(sim["perturbation"]),
        "seed": int(spec["seed"]),
        **stamp(spec),
    }
    for start in range(0, len(wanted), batch):
        ids = wanted[start : start + batch]
        s0 = initial_states(spec, solver, ids)
        if plan.burn:
            s0, cmax0, frozen0 = solver.run(s0, 2, plan.burn)
            _check_cfl(spec, solver, ids, frozen0, 0.0)
            s0 = s0[:, -1]
        states, cmax, frozen = solver.run(s0, plan.n_save, plan.every)
        _check_cfl(spec, solver, ids, frozen, plan.time[:: plan.burst])
        if fine is not None:  # each sample starts a burst; the coarse run goes on from the sample
            flat = states.reshape(-1, *states.shape[2:])
            bursts, _, frozen_b = fine.run(flat, plan.burst, plan.fine_every)
            _check_cfl(spec, fine, np.repeat(ids, plan.n_save), frozen_b, plan.time[: plan.burst])
            states = bursts.reshape(len(ids), plan.n_save * plan.burst, *states.shape[2:])
        f = np.array(fields_fn(states))  # (B, T, 3, nz+1, nx), writable
        f[:, :, :2] *= unit  # velocities in d per time unit
        nu = np.asarray(nu_fn(states))
        log.info(
            "trajectories %d–%d: max Courant %.2f, final Nu %s",
            ids[0],
            ids[-1],
            float(np.max(cmax)),
            np.round(nu[:, -1], 3).tolist(),
        )
        store_dtype = np.float64 if sim["store_float64"] else np.float32
        dims = ("trajectory", "time", "z", "x")
        yield build_dataset(
            system=spec["name"],
            data_vars={
                "u": (
                    dims,
                    f[:, :, 0].astype(store_dtype),
                    {"units": "1", "long_name": f"horizontal velocity in units of {velocity_unit}"},
                ),
                "w": (
                    dims,
                    f[:, :, 1].astype(store_dtype),
                    {"units": "1", "long_name": f"vertical velocity in units of {velocity_unit}"},
                ),
                "theta": (
                    dims,
                    f[:, :, 2].astype(store_dtype),
                    {"units": "1", "long_name": "temperature deviation from conduction in units of ΔT"},
                ),
                "nusselt": (("trajectory", "time"), nu, {"units": "1", "long_name": "Nusselt number 1 + <w theta>"}),
            },
            time=plan.time,
            split=split[ids],
            trajectory=ids,
            trajectory_coords={"Ra": np.full(len(ids), solver.ra), "Pr": np.full(len(ids), solver.pr)},
            coords={
                "z": (("z",), solver.grid.z, {"long_name": "height above the lower wall in units of d"}),
                "x": (("x",), solver.grid.x, {"long_name": "horizontal position in units of d"}),
            },
            attrs=attrs,
            time_long_name=f"time in units of {time_unit_name}",
        )
