"""Lorenz-63 (docs/science.md): x' = σ(y−x), y' = x(r−z) − y, z' = xy − bz.

Pure JAX, float64, vmapped over trajectories; an 8th-order Dormand–Prince solver
(diffrax) with error control, sampled on a uniform grid fine enough to form the
training pairs (t, t+τ) of PRF21.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..data import build_dataset
from ..lazy_import import lazy
from ..provenance import stamp
from . import odesolve
from .odesolve import sample_times, trajectory_count

if TYPE_CHECKING:
    import jax.numpy as jnp
else:
    jnp = lazy("jax.numpy")

DIMS = ("state",)
BATCH = 25  # trajectories per solve (one compiled solver; shards hold whole batches)
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
    return odesolve.solve_batch(vector_field, u0, t, args, rtol=rtol, atol=atol, dt_step=dt_step, max_steps=max_steps)


def solve(spec: Mapping[str, Any], u0: np.ndarray, t: np.ndarray) -> np.ndarray:
    sim = spec["simulation"]
    args = tuple(jnp.float64(p) for p in parameters(spec))
    return np.asarray(solve_batch(u0, t, args, rtol=sim["rtol"], atol=sim["atol"]))


def sample_initial_states(spec: Mapping[str, Any], n: int, seed: int) -> np.ndarray:
    """Starts uniform in the box [init_low, init_high] (PRF21: [−25,25]²×[−5,30])."""
    sim = spec["simulation"]
    low, high = np.asarray(sim["init_low"], float), np.asarray(sim["init_high"], float)
    return np.random.default_rng(seed).uniform(low, high, size=(n, 3))


def batch_size(spec: Mapping[str, Any]) -> int:
    """Trajectories solved together: ``BATCH``, or all when there are fewer."""
    return min(trajectory_count(spec), BATCH)


def simulate(spec: Mapping[str, Any], trajectories: Sequence[int] | None = None) -> Iterator[xr.Dataset]:
    """The ``n_trajectories`` Lorenz trajectories with splits, or the ``trajectories`` (ids)
    among them, as canonical Datasets of ``batch_size`` trajectories each (odesolve.trajectory_batches:
    the same data, bit for bit, whatever the shards)."""
    t = sample_times(spec)
    u0 = sample_initial_states(spec, trajectory_count(spec), spec["seed"])
    return odesolve.trajectory_batches(
        spec,
        trajectories,
        u0,
        batch_size(spec),
        lambda starts: solve(spec, starts, t),
        lambda u, split, ids: _dataset(spec, u, t, split, ids),
    )


def _dataset(spec: Mapping[str, Any], u: np.ndarray, t: np.ndarray, split: np.ndarray, ids: np.ndarray) -> xr.Dataset:
    sim = spec["simulation"]
    sigma, r, b = parameters(spec)
    return build_dataset(
        system=spec["name"],
        data_vars={
            VARIABLE: (("trajectory", "time", "state"), u, {"units": "1", "long_name": "Lorenz-63 state (x, y, z)"})
        },
        time=t,
        split=split,
        trajectory=ids,
        trajectory_coords={"r": np.full(len(ids), r)},
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
