"""Lorenz-63 (docs/science.md): x' = σ(y−x), y' = x(r−z) − y, z' = xy − bz.

Pure JAX, float64, vmapped over trajectories; an 8th-order Dormand–Prince solver
(diffrax) with error control, sampled on a uniform grid fine enough to form the
training pairs (t, t+τ) of PRF21.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from ..data import assign_splits, build_dataset
from ..provenance import stamp

DIMS = ("state",)
BATCH = 25  # trajectories per solve: the simulate stage logs its progress batch by batch
VARIABLE = "u"
STATE_NAMES = ("x", "y", "z")


def vector_field(t, u, args):
    sigma, r, b = args
    x, y, z = u[..., 0], u[..., 1], u[..., 2]
    return jnp.stack([sigma * (y - x), x * (r - z) - y, x * y - b * z], axis=-1)


def parameters(spec: Mapping[str, Any]) -> tuple[float, float, float]:
    p = spec["parameters"]
    return float(p["sigma"]), float(p["r"]), float(p["b"])


def exact_fixed_points(spec: Mapping[str, Any]) -> np.ndarray:
    """Origin and, for r > 1, C± = (±√(b(r−1)), ±√(b(r−1)), r−1)."""
    _, r, b = parameters(spec)
    pts = [np.zeros(3)]
    if r > 1:
        a = np.sqrt(b * (r - 1))
        pts += [np.array([a, a, r - 1]), np.array([-a, -a, r - 1])]
    return np.stack(pts)


def solve_batch(u0, t, args, *, rtol=1e-10, atol=1e-10, dt_step=None, max_steps=1_000_000):
    """Trajectories (batch, time, 3) from starts ``u0`` (batch, 3), saved at times ``t``.

    ``dt_step`` switches from adaptive steps to a constant step (used to show the
    solver's order of convergence). The compiled solver is kept per (tolerances, step,
    save times, parameters): later calls with other starts of the same batch size reuse it.
    """
    t = np.asarray(t, dtype=np.float64)
    params = tuple(float(a) for a in args)
    solver = _solver(
        float(rtol), float(atol), None if dt_step is None else float(dt_step), int(max_steps), t.tobytes(), params
    )
    return solver(jnp.asarray(u0, dtype=jnp.float64))


@functools.lru_cache(maxsize=16)
def _solver(rtol, atol, dt_step, max_steps, t_bytes, params):
    """Save times and parameters stay compile-time constants (as traced arguments the
    first compilation takes about twice as long)."""
    import diffrax

    t = jnp.asarray(np.frombuffer(t_bytes, dtype=np.float64))
    args = tuple(jnp.float64(p) for p in params)
    term = diffrax.ODETerm(vector_field)
    solver = diffrax.Dopri8()
    if dt_step is None:
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
    else:
        controller = diffrax.ConstantStepSize()

    def one(y0):
        sol = diffrax.diffeqsolve(
            term,
            solver,
            t[0],
            t[-1],
            dt_step,
            y0,
            args=args,
            saveat=diffrax.SaveAt(ts=t),
            stepsize_controller=controller,
            max_steps=max_steps,
        )
        return sol.ys

    return jax.jit(jax.vmap(one))


def solve(spec: Mapping[str, Any], u0: np.ndarray, t: np.ndarray) -> np.ndarray:
    sim = spec["simulation"]
    args = tuple(jnp.float64(p) for p in parameters(spec))
    return np.asarray(solve_batch(u0, t, args, rtol=sim["rtol"], atol=sim["atol"]))


def sample_initial_states(spec: Mapping[str, Any], n: int, seed: int) -> np.ndarray:
    """Starts uniform in the box [init_low, init_high] (PRF21: [−25,25]²×[−5,30])."""
    sim = spec["simulation"]
    low, high = np.asarray(sim["init_low"], float), np.asarray(sim["init_high"], float)
    return np.random.default_rng(seed).uniform(low, high, size=(n, 3))


def sample_times(spec: Mapping[str, Any]) -> np.ndarray:
    sim = spec["simulation"]
    n = int(round(sim["t_end"] / sim["dt_sample"]))
    return np.arange(n + 1) * sim["dt_sample"]


def trajectory_count(spec: Mapping[str, Any]) -> int:
    """How many trajectories ``simulate`` makes."""
    return int(spec["simulation"]["n_trajectories"])


def simulate(spec: Mapping[str, Any]) -> Iterator[xr.Dataset]:
    """The ``n_trajectories`` Lorenz trajectories with splits, as canonical Datasets of
    ``BATCH`` trajectories each (the last one padded to that size for the solve, so one
    compiled solver serves all; each trajectory is solved on its own, whatever its batch)."""
    n = trajectory_count(spec)
    t = sample_times(spec)
    u0 = sample_initial_states(spec, n, spec["seed"])
    split = assign_splits(n, spec["splits"], spec["seed"])
    size = min(n, BATCH)
    for start in range(0, n, size):
        ids = np.arange(start, min(n, start + size))
        starts = u0[np.minimum(np.arange(start, start + size), n - 1)]
        yield _dataset(spec, solve(spec, starts, t)[: len(ids)], t, split[ids], ids)


def _dataset(spec: Mapping[str, Any], u: np.ndarray, t: np.ndarray, split: np.ndarray, ids: np.ndarray) -> xr.Dataset:
    sim = spec["simulation"]
    sigma, r, b = parameters(spec)
    n = len(ids)
    return build_dataset(
        system=spec["name"],
        data_vars={
            VARIABLE: (("trajectory", "time", "state"), u, {"units": "1", "long_name": "Lorenz-63 state (x, y, z)"})
        },
        time=t,
        split=split,
        trajectory=ids,
        trajectory_coords={"r": np.full(n, r)},
        coords={"state": (("state",), list(STATE_NAMES))},
        attrs={
            "system_type": "lorenz",
            "observed": VARIABLE,
            "sigma": sigma,
            "r": r,
            "b": b,
            "t_end": float(sim["t_end"]),
            "dt_sample": float(sim["dt_sample"]),
            "solver": "diffrax.Dopri8 (PID step control)",
            "rtol": float(sim["rtol"]),
            "atol": float(sim["atol"]),
            "seed": int(spec["seed"]),
            **stamp(spec),
        },
    )


def field(spec: Mapping[str, Any]):
    """The exact vector field as a function of the state alone."""
    args = tuple(jnp.float64(p) for p in parameters(spec))
    return lambda u: vector_field(0.0, u, args)
