"""Damped nonlinear oscillators (PRF21 Sec. IV A, "Langevin dynamics" without noise):

    dx/dt = v,    dv/dt = −γ(x, v) v − U′(x),

state (x, v), energy H = v²/2 + U(x), dH/dt = −γ v² ≤ 0. The three potentials and two
dampings of the authors' code (κ the stiffness, c = π/2):

    hookean      U = κ x²/2
    pendulum     U = κ (1 − cos c x)/c²        (U′ = κ sin(c x)/c, U″(0) = κ)
    double_well  U = κ (x² − ½)²/4             (U′ = κ (x³ − x/2))

    constant     γ(x, v) = γ
    quadratic    γ(x, v) = γ (x² + v²)

Pure JAX, float64, vmapped over trajectories (diffrax Dopri8 with error control), starts
uniform in a box, sampled on a uniform grid fine enough to form the training pairs.
"""

from __future__ import annotations

import functools
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
BATCH = 100  # trajectories per solve: the simulate stage logs its progress batch by batch
VARIABLE = "u"
STATE_NAMES = ("x", "v")
POTENTIALS = ("hookean", "pendulum", "double_well")
DAMPINGS = ("constant", "quadratic")
PENDULUM_C = np.pi / 2  # the pendulum's wave number c: U = κ(1 − cos c x)/c²
DOUBLE_WELL_OFFSET = 0.5  # U = κ(x² − ½)²/4: minima at x = ±√½
# How the authors align a learned potential with H before measuring its error (their
# test_ode_Langevin.py): a linear change of variables that maps the learned Hessian at the
# origin onto H's where the origin is H's minimum, a min–max rescaling for the double well.
AUTHORS_ALIGNMENT = {"hookean": "hessian", "pendulum": "hessian", "double_well": "min_max"}
# PRF21 Fig. 2b: rollouts from 12 starts on the edge of the start box, 3 on each side
EDGE_FRACTIONS = (0.25, 0.5, 0.75)


def potential_energy(kind: str, x, kappa):
    """U(x) of the named potential."""
    if kind == "hookean":
        return 0.5 * kappa * x**2
    if kind == "pendulum":
        return kappa * (1.0 - jnp.cos(PENDULUM_C * x)) / PENDULUM_C**2
    if kind == "double_well":
        return 0.25 * kappa * (x**2 - DOUBLE_WELL_OFFSET) ** 2
    raise ValueError(f"unknown potential '{kind}'; known: {POTENTIALS}")


def force(kind: str, x, kappa):
    """U′(x), written out (not differentiated) so the simulator is what the docstring states."""
    if kind == "hookean":
        return kappa * x
    if kind == "pendulum":
        return kappa * jnp.sin(PENDULUM_C * x) / PENDULUM_C
    if kind == "double_well":
        return kappa * (x**3 - DOUBLE_WELL_OFFSET * x)
    raise ValueError(f"unknown potential '{kind}'; known: {POTENTIALS}")


def damping(kind: str, x, v, gamma):
    if kind == "constant":
        return gamma + 0.0 * x
    if kind == "quadratic":
        return gamma * (x**2 + v**2)
    raise ValueError(f"unknown damping '{kind}'; known: {DAMPINGS}")


@functools.cache
def vector_field(potential: str, damping_kind: str):
    """f(t, u, (gamma, kappa)) of one potential and damping; one function object per pair, so
    compiled solvers are cached per system kind."""
    if potential not in POTENTIALS:
        raise ValueError(f"unknown potential '{potential}'; known: {POTENTIALS}")
    if damping_kind not in DAMPINGS:
        raise ValueError(f"unknown damping '{damping_kind}'; known: {DAMPINGS}")

    def f(t, u, args):
        gamma, kappa = args
        x, v = u[..., 0], u[..., 1]
        return jnp.stack([v, -damping(damping_kind, x, v, gamma) * v - force(potential, x, kappa)], axis=-1)

    return f


def kinds(spec: Mapping[str, Any]) -> tuple[str, str]:
    p = spec["parameters"]
    return p["potential"], p["damping"]


def parameters(spec: Mapping[str, Any]) -> tuple[float, float]:
    p = spec["parameters"]
    return float(p["gamma"]), float(p["kappa"])


def energy(spec: Mapping[str, Any]):
    """H(u) = v²/2 + U(x) as a function of states (..., 2)."""
    potential, _ = kinds(spec)
    _, kappa = parameters(spec)
    return lambda u: 0.5 * u[..., 1] ** 2 + potential_energy(potential, u[..., 0], kappa)


def field(spec: Mapping[str, Any]):
    """The exact vector field as a function of the state alone."""
    f = vector_field(*kinds(spec))
    args = tuple(jnp.float64(p) for p in parameters(spec))
    return lambda u: f(0.0, u, args)


def exact_fixed_points(spec: Mapping[str, Any]) -> np.ndarray:
    """(x*, 0) with U′(x*) = 0 and x* inside the start box: the origin, for the pendulum also
    x* = 2k (its inverted positions), for the double well also x* = ±√½ (its two minima)."""
    potential, _ = kinds(spec)
    sim = spec["simulation"]
    lo, hi = float(sim["init_low"][0]), float(sim["init_high"][0])
    if potential == "hookean":
        xs = [0.0]
    elif potential == "pendulum":
        spacing = np.pi / PENDULUM_C  # zeros of sin(c x)
        xs = sorted({0.0, *(np.arange(np.ceil(lo / spacing), np.floor(hi / spacing) + 1) * spacing).tolist()})
    else:
        a = np.sqrt(DOUBLE_WELL_OFFSET)
        xs = [0.0, a, -a]
    xs = [x for x in xs if x == 0.0 or lo <= x <= hi]
    return np.array([[x, 0.0] for x in xs])


def solve(spec: Mapping[str, Any], u0: np.ndarray, t: np.ndarray) -> np.ndarray:
    sim = spec["simulation"]
    return np.asarray(
        odesolve.solve_batch(vector_field(*kinds(spec)), u0, t, parameters(spec), rtol=sim["rtol"], atol=sim["atol"])
    )


def sample_initial_states(spec: Mapping[str, Any], n: int, seed: int) -> np.ndarray:
    """Starts uniform in the box [init_low, init_high] (PRF21: [−1, 1]²)."""
    sim = spec["simulation"]
    low, high = np.asarray(sim["init_low"], float), np.asarray(sim["init_high"], float)
    return np.random.default_rng(seed).uniform(low, high, size=(n, 2))


def edge_starts(spec: Mapping[str, Any]) -> np.ndarray:
    """PRF21 Fig. 2b's 12 test starts: on each side of the start box, the points at ¼, ½ and ¾
    of its length (x on the bottom and top edges, then v on the left and right edges)."""
    sim = spec["simulation"]
    (x0, v0), (x1, v1) = sim["init_low"], sim["init_high"]
    xs = [x0 + f * (x1 - x0) for f in EDGE_FRACTIONS]
    vs = [v0 + f * (v1 - v0) for f in EDGE_FRACTIONS]
    pts = [(x, v0) for x in xs] + [(x, v1) for x in xs] + [(x0, v) for v in vs] + [(x1, v) for v in vs]
    return np.array(pts, dtype=np.float64)


def batch_size(spec: Mapping[str, Any]) -> int:
    """Trajectories solved together: ``BATCH``, or all when there are fewer."""
    return min(trajectory_count(spec), BATCH)


def simulate(spec: Mapping[str, Any], trajectories: Sequence[int] | None = None) -> Iterator[xr.Dataset]:
    """The ``n_trajectories`` trajectories with splits, or the ``trajectories`` (ids) among
    them, as canonical Datasets of ``batch_size`` trajectories each (odesolve.trajectory_batches:
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
    potential, damping_kind = kinds(spec)
    gamma, kappa = parameters(spec)
    return build_dataset(
        system=spec["name"],
        data_vars={
            VARIABLE: (
                ("trajectory", "time", "state"),
                u,
                {"units": "1", "long_name": f"damped oscillator state (x, v), {potential.replace('_', ' ')} potential"},
            )
        },
        time=t,
        split=split,
        trajectory=ids,
        coords={"state": (("state",), list(STATE_NAMES))},
        attrs={
            "system_type": "langevin",
            "observed": VARIABLE,
            "potential": potential,
            "damping": damping_kind,
            "gamma": gamma,
            "kappa": kappa,
            "t_end": float(sim["t_end"]),
            "dt_sample": float(sim["dt_sample"]),
            "solver": "diffrax.Dopri8 (PID step control)",
            "rtol": float(sim["rtol"]),
            "atol": float(sim["atol"]),
            "seed": int(spec["seed"]),
            **stamp(spec),
        },
    )
