"""Bead-spring chains in planar elongational flow: Brownian dynamics in pure JAX (docs/science.md, "Polymer chains").

Physics
-------
N beads, positions r_i, no inertia, no hydrodynamic interaction:

    dr_i = [κ·r_i + F_i/ζ] dt + √(2kT/ζ) dW_i,      κ = ε̇ diag(1, −1, 0)

F_i = f(Q_i) − f(Q_{i−1}) + F^ev_i, with Q_i = r_{i+1} − r_i the bond (connector) vectors,
f(Q) = H φ(|Q|/Q0) Q the spring tension and H the spring constant at small extension:

    hookean   φ = 1                                        (U = H q²/2, no maximum length)
    fene      φ = 1/(1 − x²),  x = q/Q0                     (U = −(H Q0²/2) ln(1 − x²))
    wlc       Marko–Siggia:  |f| = (kT/A) [1/(4(1 − x)²) − 1/4 + x],  x = q/Q0,
              Q0 the contour length of one spring and A its persistence length, chosen so that
              the small-extension constant is H: A = 3kT/(2 H Q0)  (Kuhn length 2A, Q0/(2A) =
              H Q0²/(3kT) Kuhn steps per spring); then φ = (2/3)[(2 − x)/(4(1 − x)²) + 1].

Optional soft excluded volume between non-bonded beads (|i − j| ≥ 2), off by default:
U_ev = ε kT exp(−|r_i − r_j|²/(2σ²)), an O(N²) pair sum.

The flow is homogeneous, so the internal motion does not depend on the centre of mass; it is
held at the origin (removed after every step), which also keeps it from drifting off
exponentially along x. All positions, stored ones included, are relative to the centre of mass.

Units: whatever kT, ζ, H and Q0 the spec gives (defaults kT = ζ = 1 and Q0 = 1, so lengths are
in units of the maximum bond length, the extension of an N-bead chain runs from 0 to N − 1 as
in NCS24's "bond units", and times in units of ζ Q0²/kT). H Q0²/kT = b, the FENE b parameter.

Relaxation time and Weissenberg number
--------------------------------------
λ is the longest relaxation time of second moments (stress), the convention in which a
Hookean dumbbell has λ_H = ζ/(4H), steady ⟨Q_x²⟩ = (kT/H)/(1 − 2 Wi) and its coil–stretch
transition at Wi = ε̇ λ = 1/2. For a Hookean (Rouse) chain of N beads
λ₁ = ζ / (8 H sin²(π/(2N)))  (≈ ζN²/(2π²H) for large N; N = 2 gives ζ/(4H)).
For any spring law λ is measured (``measure_relaxation_time``) at rest from equilibrium: the
end-to-end autocorrelation C(t) = ⟨R(t)·R(0)⟩/⟨R²⟩ decays as exp(−t/(2λ)) at long times (the
vector relaxes twice as slowly as its second moments); λ = −1/(2 × slope of ln C) fitted where C
lies inside a window (default 0.5 down to 0.15), with a jackknife standard error over chains.
The spec gives Wi; the simulator uses ε̇ = Wi/λ, with λ from ``parameters.relaxation_time`` if
given, the Rouse formula for Hookean chains without excluded volume, else measured.

Integrators
-----------
``euler``: Euler–Maruyama on bead positions (hookean, wlc; a wlc bond that overshoots Q0
poisons its chain with NaN, so the store refuses it rather than storing nonsense).
``semi_implicit``: on the bond vectors, implicit in the springs (after Öttinger's FENE
dumbbell scheme and the semi-implicit chain schemes of Somasi et al., JNNFM 108 (2002)),
trapezoidal in the flow:
    Q' = Q + ½κ(Q + Q') dt + (dt/ζ)[f(Q'_{i+1}) − 2 f(Q'_i) + f(Q'_{i−1})] + E dt + ΔS
with E the excluded-volume part of the bond drift (explicit) and ΔS = √(2kT dt/ζ)(ξ_{i+1} − ξ_i)
the bonds' share of the bead noise. It is solved by two red–black Gauss–Seidel sweeps started
from Q: each bond solves Q'_i + 2(dt/ζ) f(Q'_i) = R_i with its neighbours' latest tensions in
R_i. That equation maps the open ball |Q| < Q0 one to one onto R³ along R, so every bond stays
strictly below Q0 whatever R is, at any dt and Wi: a cubic solved in closed form for FENE and
for WLC (fixed cost, accurate for bonds near Q0), linear for Hookean. One sweep alone (bonds
implicit in themselves, explicit in their neighbours) would slow the slow modes by a relative
O(H dt/ζ); after two, their error is O(dt/λ) like explicit Euler's (checked exactly for Hookean
chains in the tests). Stable for Hookean chains at any dt.
``auto`` picks euler for hookean, semi_implicit for fene and wlc (euler is refused for fene).

Random numbers: the noise of chain k at step n is drawn from fold_in(key_k, n), so a trajectory
does not depend on how the run is cut into batches or saved frames (``unit_noise``: gaussian by
default, or uniform with the same mean and variance). Simulation is float64.

Data (``simulate``)
-------------------
A generator of canonical Datasets, consecutive batches along ``trajectory``, for
``onsagerflow.data.write_store``. Trajectories 0..n_train−1 are train, then n_val val (each from
its own equilibrium coil), then n_ensembles × n_realisations test trajectories: a few fixed
initial coils ("ensembles"), each run with many noise realisations, as in NCS24.
Variables: ``r`` (trajectory, time, bead, xyz); ``extension`` = max − min of bead x,
``end_to_end_diff`` = |x_N − x_1| and ``end_to_end_sum`` = |x_N + x_1| (trajectory, time), all
relative to the centre of mass and computed in float64 before ``r`` is cast to ``dtype``.
Coords on trajectory: ``split`` (0 train, 1 val, 2 test), ``ensemble`` (−1 train/val, else
0..E−1), ``unfolding`` int8 (0 fast, 1 slow, 2 unlabelled: train/val, or the middle ensemble of an
odd number), ``unfolding_time`` (first time the extension reaches the threshold, inf
if it never does), ``Wi``. Ensembles are ranked by median unfolding time: the faster half is
fast, the slower half slow. The labels need every test
trajectory, so the batches holding test trajectories are run twice: first to label (same
keys, same program, hence the same numbers), then to yield. Memory stays one batch.

Spec (a system entry of the config; nested keys with defaults)
--------------------------------------------------------------
    name: polymer                 # system key; names the store
    type: polymer
    seed: 0                       # seeds coils, noise and the λ measurement
    parameters:                   # physics
      n_beads: 16                 # N (NCS24: 300)
      spring: fene                # hookean | fene | wlc
      H: 50.0                     # spring constant at small extension [kT/Q0²]; b = H Q0²/kT
      Q0: 1.0                     # maximum bond length (fene) / spring contour length (wlc)
      kT: 1.0
      zeta: 1.0                   # bead friction ζ
      excluded_volume: {strength: 0.0, range: 0.25}   # ε [kT] (0: off) and σ of the Gaussian
      Wi: 2.0                     # Weissenberg number ε̇ λ
      relaxation_time: null       # λ; null: Rouse (hookean, no EV) or measured at rest
    simulation:                   # numerics and data set sizes
      n_train: 32                 # trajectories from independent coils
      n_val: 8
      n_ensembles: 2              # test: fixed initial coils ...
      n_realisations: 16          # ... each run with this many noise realisations
      time_unit: relaxation       # t_* and dt_sample in units of λ, or 'absolute'
      t_equilibrate: 2.0          # coils: exact bond-distribution random walk, relaxed at rest
      t_end: 10.0                 # flow duration after t = 0
      dt_sample: 0.05             # stored frame spacing; t_end/dt_sample must be whole
      dt: 0.0005                  # largest integration step, always absolute time units
      integrator: auto            # auto | euler | semi_implicit
      noise: gaussian             # gaussian | uniform (same mean and variance, ~3× cheaper on CPU)
      batch_size: 32              # trajectories per yielded batch (memory: one batch); rounded
                                  #   down to a multiple of the store's chunk (see _store_batch_size)
      dtype: float32              # storage of r and derived variables: float32 | float64
      unfolding: {fraction: 0.5, length: null}   # threshold = fraction × length; null length:
                                  #   contour (N−1)Q0, or (N−1)√(3kT/H) for hookean
      relaxation_measurement: {n_chains: 128, duration: 40.0, window: [0.5, 0.15]}
                                  #   duration in units of the Rouse estimate of λ
Paper size (NCS24): n_beads 300, hundreds of training trajectories (e.g. n_train 500),
1000+ frames (t_end/dt_sample ≥ 1000), test ensembles of hundreds of realisations (e.g.
n_realisations 300); measure λ once and set ``parameters.relaxation_time``, since measuring it
for N = 300 costs more than a small data set.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jax import lax

from ..data import SPLIT_CODES, build_dataset
from ..provenance import stamp

log = logging.getLogger("onsagerflow.polymer")

DIMS = ("bead", "xyz")
VARIABLE = "r"
DERIVED = ("extension", "end_to_end_diff", "end_to_end_sum")
SPRINGS = ("hookean", "fene", "wlc")
INTEGRATORS = ("auto", "euler", "semi_implicit")
NOISES = ("gaussian", "uniform")
UNFOLDING_CODES = {"fast": 0, "slow": 1, "unlabelled": 2}
# Key streams: each use of randomness draws from its own branch of the seed.
STREAM_COILS, STREAM_ENSEMBLES, STREAM_NOISE, STREAM_RELAX = 0, 1, 2, 3
# Guards rounding only: the exact implicit bond solution always lies below Q0.
_MAX_X = 1.0 - 1e-12

DEFAULTS: dict[str, Any] = {
    "name": "polymer",
    "seed": 0,
    "parameters": {
        "n_beads": 16,
        "spring": "fene",
        "H": 50.0,
        "Q0": 1.0,
        "kT": 1.0,
        "zeta": 1.0,
        "excluded_volume": {"strength": 0.0, "range": 0.25},
        "Wi": 2.0,
        "relaxation_time": None,
    },
    "simulation": {
        "n_train": 32,
        "n_val": 8,
        "n_ensembles": 2,
        "n_realisations": 16,
        "time_unit": "relaxation",
        "t_equilibrate": 2.0,
        "t_end": 10.0,
        "dt_sample": 0.05,
        "dt": 5e-4,
        "integrator": "auto",
        "noise": "gaussian",
        "batch_size": 32,
        "dtype": "float32",
        "unfolding": {"fraction": 0.5, "length": None},
        "relaxation_measurement": {"n_chains": 128, "duration": 40.0, "window": [0.5, 0.15]},
    },
}


# ----------------------------------------------------------------------------- the chain


@dataclasses.dataclass(frozen=True)
class Chain:
    """Physical parameters of one chain; hashable, so jit treats it as a compile-time constant."""

    n_beads: int
    spring: str = "fene"
    H: float = 50.0
    Q0: float = 1.0
    kT: float = 1.0
    zeta: float = 1.0
    ev_strength: float = 0.0
    ev_range: float = 0.25

    def __post_init__(self):
        if self.spring not in SPRINGS:
            raise ValueError(f"spring: '{self.spring}' is not one of {list(SPRINGS)}")
        if int(self.n_beads) != self.n_beads or self.n_beads < 2:
            raise ValueError(f"n_beads: need an integer ≥ 2, got {self.n_beads}")
        for name in ("H", "Q0", "kT", "zeta", "ev_range"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        if not self.ev_strength >= 0:
            raise ValueError(f"excluded_volume.strength: must be ≥ 0, got {self.ev_strength}")

    @property
    def b(self) -> float:
        """H Q0²/kT: the FENE b parameter (also fixes the WLC stiffness)."""
        return self.H * self.Q0**2 / self.kT

    @property
    def persistence_length(self) -> float:
        """Marko–Siggia A = 3kT/(2 H Q0), so that the WLC spring constant at rest is H."""
        return 3.0 * self.kT / (2.0 * self.H * self.Q0)

    @property
    def max_length(self) -> float:
        """Contour length (N−1)Q0 (fene, wlc); Hookean: (N−1)√(3kT/H), the rms bond length sum."""
        bond = self.Q0 if self.spring != "hookean" else math.sqrt(3.0 * self.kT / self.H)
        return (self.n_beads - 1) * bond

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Chain:
        p = spec["parameters"]
        return cls(
            n_beads=int(p["n_beads"]),
            spring=p["spring"],
            H=float(p["H"]),
            Q0=float(p["Q0"]),
            kT=float(p["kT"]),
            zeta=float(p["zeta"]),
            ev_strength=float(p["excluded_volume"]["strength"]),
            ev_range=float(p["excluded_volume"]["range"]),
        )


def rouse_relaxation_time(n_beads: int, H: float, zeta: float = 1.0) -> float:
    """Longest Rouse relaxation time of second moments, λ₁ = ζ/(8 H sin²(π/(2N)))."""
    return zeta / (8.0 * H * math.sin(math.pi / (2 * n_beads)) ** 2)


def resolve_integrator(chain: Chain, integrator: str) -> str:
    if integrator not in INTEGRATORS:
        raise ValueError(f"simulation.integrator: '{integrator}' is not one of {list(INTEGRATORS)}")
    if integrator == "auto":
        return "euler" if chain.spring == "hookean" else "semi_implicit"
    if integrator == "euler" and chain.spring == "fene":
        raise ValueError(
            "simulation.integrator: 'euler' cannot keep FENE bonds below Q0; use 'semi_implicit' (or 'auto')"
        )
    return integrator


# ----------------------------------------------------------------------------- forces


def phi(chain: Chain, x):
    """Tension factor φ(x), f = H φ(|Q|/Q0) Q (module docstring)."""
    if chain.spring == "hookean":
        return jnp.ones_like(x)
    if chain.spring == "fene":
        return 1.0 / (1.0 - x * x)
    return (2.0 / 3.0) * ((2.0 - x) / (4.0 * (1.0 - x) ** 2) + 1.0)


def tension(chain: Chain, Q):
    """Spring tension f(Q) = H φ(|Q|/Q0) Q of bonds Q (..., 3)."""
    if chain.spring == "hookean":
        return chain.H * Q
    x = jnp.sqrt(jnp.sum(Q * Q, axis=-1, keepdims=True)) / chain.Q0
    return chain.H * phi(chain, x) * Q


def _bead_forces(f):
    """Bead i is pulled toward i+1 by f_i and back toward i−1 by f_{i−1}."""
    g = jnp.pad(f, ((1, 1), (0, 0)))
    return g[1:] - g[:-1]


def excluded_volume_forces(chain: Chain, r):
    """Soft Gaussian repulsion ε kT exp(−d²/2σ²) between beads |i − j| ≥ 2 (O(N²))."""
    n = chain.n_beads
    d = r[:, None, :] - r[None, :, :]
    idx = jnp.arange(n)
    mask = jnp.abs(idx[:, None] - idx[None, :]) >= 2
    w = jnp.where(mask, jnp.exp(-jnp.sum(d * d, -1) / (2.0 * chain.ev_range**2)), 0.0)
    return (chain.ev_strength * chain.kT / chain.ev_range**2) * jnp.einsum("ij,ijk->ik", w, d)


def _flow(r, eps):
    return eps * r * jnp.array([1.0, -1.0, 0.0], dtype=r.dtype)


# ----------------------------------------------------------------------------- bond solves


def fene_root(rho, a):
    """x ∈ [0, 1) with x(1 + a/(1 − x²)) = rho, in closed form: the middle root of
    x³ − rho x² − (1 + a) x + rho = 0 (its other roots are < 0 and > 1), trigonometric form."""
    p = -(1.0 + a) - rho**2 / 3.0
    q = -2.0 * rho**3 / 27.0 - rho * (1.0 + a) / 3.0 + rho
    m = 2.0 * jnp.sqrt(-p / 3.0)
    arg = jnp.clip((3.0 * q / (2.0 * p)) * jnp.sqrt(-3.0 / p), -1.0, 1.0)
    x = m * jnp.cos(jnp.arccos(arg) / 3.0 - 2.0 * jnp.pi / 3.0) + rho / 3.0
    g = ((x - rho) * x - (1.0 + a)) * x + rho  # one Newton step polishes the rounding
    dg = (3.0 * x - 2.0 * rho) * x - (1.0 + a)
    return jnp.clip(x - g / dg, 0.0, _MAX_X)


def wlc_root(rho, a):
    """x ∈ [0, 1) with x(1 + a φ_wlc(x)) = rho, in closed form.

    With y = 1 − x (times y²) the equation is α y³ − β y² − γ = 0, α = 1 + 2a/3,
    β = 1 + a/2 − rho, γ = a/6 > 0; with z = 1/y it is the depressed cubic
    z³ + (β/γ) z − α/γ = 0, which has exactly one positive root (one sign change), z ≥ 1
    (the y-cubic equals rho ≥ 0 at y = 1). Solving for z = 1/(1 − x) keeps stretched bonds
    (x → 1, z large) accurate to relative precision. Hyperbolic/trigonometric forms, no
    cancellation; one Newton step polishes.
    """
    alpha, beta, gamma = 1.0 + 2.0 * a / 3.0, 1.0 + 0.5 * a - rho, a / 6.0
    p, q = beta / gamma, -alpha / gamma  # z³ + p z + q = 0, q < 0
    P = jnp.maximum(jnp.abs(p), 1e-300)
    m = 2.0 * jnp.sqrt(P / 3.0)
    arg = (1.5 * -q / P) * jnp.sqrt(3.0 / P)  # ≥ 0
    z_pos = m * jnp.sinh(jnp.arcsinh(arg) / 3.0)  # p > 0: the one real root
    z_neg = m * jnp.where(
        arg <= 1.0, jnp.cos(jnp.arccos(jnp.minimum(arg, 1.0)) / 3.0), jnp.cosh(jnp.arccosh(jnp.maximum(arg, 1.0)) / 3.0)
    )  # p < 0: largest
    tiny = jnp.abs(p) < 1e-8 * jnp.abs(q) ** (2.0 / 3.0)  # p ≈ 0: z ≈ cbrt(−q)
    z = jnp.where(tiny, jnp.cbrt(-q), jnp.where(p > 0, z_pos, z_neg))
    F = (gamma * z * z + beta) * z - alpha
    dF = 3.0 * gamma * z * z + beta  # > 0 at the root (= 2γz² + α/z there)
    z = z - jnp.where(dF > 0, F / jnp.where(dF > 0, dF, 1.0), 0.0)
    return jnp.clip(1.0 - 1.0 / z, 0.0, _MAX_X)


def implicit_bond(chain: Chain, R, c):
    """Q with Q + c f(Q) = R, Q parallel to R; |Q| < Q0 (fene, wlc) whatever R is."""
    if chain.spring == "hookean":
        return R / (1.0 + c * chain.H)
    rho_abs = jnp.sqrt(jnp.sum(R * R, axis=-1, keepdims=True))
    a = c * chain.H
    rho = rho_abs / chain.Q0
    # Closed forms cost the same in every regime; Newton iterations slow down badly for the
    # near-Q0 bonds of stretched chains.
    x = fene_root(rho, a) if chain.spring == "fene" else wlc_root(rho, a)
    safe = rho_abs > 1e-300
    scale = jnp.where(safe, x * chain.Q0 / jnp.where(safe, rho_abs, 1.0), 1.0 / (1.0 + a))
    return R * scale


# ----------------------------------------------------------------------------- schemes


@dataclasses.dataclass(frozen=True)
class Scheme:
    """An integrator on its own state: bead positions (euler) or bond vectors (semi_implicit)."""

    to_state: Callable  # positions (N, 3), centre of mass at 0 -> state
    step: Callable  # (state, xi (N, 3) unit noise, strain_rate, dt) -> state
    positions: Callable  # state -> positions (N, 3), centre of mass at 0


def _centred(r):
    return r - r.mean(axis=0)


def _bonds(r):
    return r[1:] - r[:-1]


def _from_bonds(Q):
    return _centred(jnp.concatenate([jnp.zeros((1, 3), Q.dtype), jnp.cumsum(Q, axis=0)]))


def _euler_scheme(chain: Chain) -> Scheme:
    def step(r, xi, eps, dt):
        F = _bead_forces(tension(chain, _bonds(r)))
        if chain.ev_strength > 0:
            F = F + excluded_volume_forces(chain, r)
        r = r + (_flow(r, eps) + F / chain.zeta) * dt + jnp.sqrt(2.0 * chain.kT * dt / chain.zeta) * xi
        r = _centred(r)
        if chain.spring == "wlc":  # an overshot bond has no meaning: poison the chain
            Q = _bonds(r)
            r = jnp.where(jnp.max(jnp.sum(Q * Q, -1)) >= chain.Q0**2, jnp.nan, r)
        return r

    return Scheme(_centred, step, lambda r: r)


def _neighbours(f):
    """f_{i+1} + f_{i−1} for each bond i (zero past the chain ends)."""
    g = jnp.pad(f, ((1, 1), (0, 0)))
    return g[2:] + g[:-2]


def _semi_implicit_scheme(chain: Chain, sweeps: int = 2) -> Scheme:
    # The state is the bond vectors: positions are rebuilt only for excluded volume and output.
    even, odd = slice(0, None, 2), slice(1, None, 2)
    # Red–black Gauss–Seidel: the neighbours of an even bond are odd and vice versa, so each
    # colour is solved at once from the other colour's latest tensions.
    colours = [(even, odd), (odd, even)] if chain.n_beads > 2 else [(even, odd)]

    def step(Q, xi, eps, dt):
        c = dt / chain.zeta
        base = Q + jnp.sqrt(2.0 * chain.kT * dt / chain.zeta) * (xi[1:] - xi[:-1])
        if chain.ev_strength > 0:
            Fev = excluded_volume_forces(chain, _from_bonds(Q))
            base = base + (Fev[1:] - Fev[:-1]) * c
        base = base + 0.5 * _flow(Q, eps) * dt
        Qk = Q
        for _ in range(sweeps):
            for own, other in colours:
                f = jnp.zeros_like(Qk).at[other].set(tension(chain, Qk[other]))
                R = base[own] + 0.5 * _flow(Qk[own], eps) * dt + _neighbours(f)[own] * c
                Qk = Qk.at[own].set(implicit_bond(chain, R, 2.0 * c))
        return Qk

    return Scheme(_bonds, step, _from_bonds)


def make_scheme(chain: Chain, integrator: str = "auto") -> Scheme:
    integrator = resolve_integrator(chain, integrator)
    return _euler_scheme(chain) if integrator == "euler" else _semi_implicit_scheme(chain)


def unit_noise(kind: str, key, shape):
    """Independent increments with mean 0 and variance 1.

    gaussian: standard normals (Euler–Maruyama proper), drawn in float32 and widened: 24-bit
    resolution and tails cut near 5.3σ (probability ~1e-7), immaterial for a weakly convergent
    scheme, at 2–3× less cost than float64 draws on a CPU, where random numbers limit the run.
    uniform: √3(2u − 1) from 16-bit uniforms: the same first two moments, so the weak order
    of the schemes is unchanged (the cheap choice Öttinger recommends for Brownian dynamics).
    """
    if kind == "gaussian":
        return jax.random.normal(key, shape, jnp.float32).astype(jnp.float64)
    if kind != "uniform":
        raise ValueError(f"simulation.noise: '{kind}' is not one of ['gaussian', 'uniform']")
    n = math.prod(shape)
    bits = jax.random.bits(key, ((n + 1) // 2,), jnp.uint32)
    u = jnp.concatenate([bits & 0xFFFF, bits >> 16])[:n].astype(jnp.float64)
    return (math.sqrt(3.0) * ((u + 0.5) / 32768.0 - 1.0)).reshape(shape)


# ----------------------------------------------------------------------------- batched run


def identity(r):
    return r


def end_to_end_vector(r):
    return r[-1] - r[0]


def extension_of(r):
    """max − min of bead x of one chain (N, 3)."""
    return r[:, 0].max() - r[:, 0].min()


@functools.partial(jax.jit, static_argnames=("chain", "integrator", "noise", "observe", "n_saves", "save_every"))
def _run(r0, keys, strain_rate, dt, *, chain, integrator, noise, observe, n_saves, save_every):
    scheme = make_scheme(chain, integrator)

    def one(r, key, eps, dt):
        s0 = scheme.to_state(_centred(r))

        def block(s, b):
            def inner(s, j):
                xi = unit_noise(noise, jax.random.fold_in(key, b * save_every + j), r.shape)
                return scheme.step(s, xi, eps, dt), None

            s, _ = lax.scan(inner, s, jnp.arange(save_every))
            return s, observe(scheme.positions(s))

        _, ys = lax.scan(block, s0, jnp.arange(n_saves))
        y0 = observe(scheme.positions(s0))
        return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), y0, ys)

    return jax.vmap(one)(r0, keys, strain_rate, dt)


def run(
    chain: Chain,
    r0,
    keys,
    *,
    dt: float,
    n_saves: int,
    save_every: int,
    strain_rate=0.0,
    integrator: str = "auto",
    noise: str = "gaussian",
    observe: Callable | None = None,
):
    """Simulate a batch of chains; the one batched entry point of this module.

    r0: (B, N, 3) starts (the centre of mass is removed); keys: (B, 2) uint32 PRNG keys, one
    per chain (the noise of chain k at step n is drawn from fold_in(keys[k], n), so a chain's
    path does not depend on the batch it runs in); strain_rate ε̇ and step dt: scalars or one
    per chain; n_saves frames are kept after the start, ``save_every`` steps apart;
    noise: 'gaussian' or 'uniform' (``unit_noise``). ``observe`` maps one chain's positions
    (N, 3) to what is kept (default: the positions; pass a module-level function — a new lambda
    each call compiles again). Returns observe(r) at the n_saves + 1 frames, float64, leading
    dims (B, n_saves + 1).
    """
    r0 = jnp.asarray(r0, jnp.float64)
    if r0.ndim != 3 or r0.shape[1:] != (chain.n_beads, 3):
        raise ValueError(f"r0: expected shape (batch, {chain.n_beads}, 3), got {tuple(r0.shape)}")
    keys = jnp.asarray(keys)
    if keys.shape != (r0.shape[0], 2):
        raise ValueError(f"keys: expected shape ({r0.shape[0]}, 2) (one key per chain), got {tuple(keys.shape)}")
    if int(n_saves) < 1 or int(save_every) < 1:
        raise ValueError(f"n_saves and save_every must be ≥ 1, got {n_saves}, {save_every}")
    if noise not in NOISES:
        raise ValueError(f"noise: '{noise}' is not one of {list(NOISES)}")
    integrator = resolve_integrator(chain, integrator)
    b = r0.shape[0]
    eps = jnp.broadcast_to(jnp.asarray(strain_rate, jnp.float64), (b,))
    dt = jnp.broadcast_to(jnp.asarray(dt, jnp.float64), (b,))
    return _run(
        r0,
        keys,
        eps,
        dt,
        chain=chain,
        integrator=integrator,
        noise=noise,
        observe=observe or identity,
        n_saves=int(n_saves),
        save_every=int(save_every),
    )


# ----------------------------------------------------------------------------- equilibrium coils


@functools.lru_cache(maxsize=32)
def _wlc_inverse_cdf(b: float, n: int = 20001) -> tuple[np.ndarray, np.ndarray]:
    """Tabulated CDF of x = |Q|/Q0 for a Marko–Siggia spring, p(x) ∝ x² exp(−U/kT)."""
    x = np.linspace(0.0, 1.0, n)[:-1]
    u = (2.0 / 3.0) * b * (0.25 / (1.0 - x) - 0.25 - 0.25 * x + 0.5 * x * x)
    p = x * x * np.exp(-(u - u.min()))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(x))])
    return cdf / cdf[-1], x


def sample_bonds(chain: Chain, key, n: int):
    """n independent bond vectors from the spring's Boltzmann distribution at rest.

    Exact for Hookean (Gaussian, variance kT/H per component) and FENE (x² ~ Beta(3/2, b/2+1));
    WLC from a tabulated inverse CDF. Without excluded volume a chain's bonds are independent at
    rest, so their sum is an equilibrium coil.
    """
    kd, kr = jax.random.split(key)
    if chain.spring == "hookean":
        return jax.random.normal(kd, (n, 3), jnp.float64) * math.sqrt(chain.kT / chain.H)
    g = jax.random.normal(kd, (n, 3), jnp.float64)
    direction = g / jnp.linalg.norm(g, axis=-1, keepdims=True)
    if chain.spring == "fene":
        x = jnp.sqrt(jax.random.beta(kr, 1.5, chain.b / 2.0 + 1.0, (n,), jnp.float64))
    else:
        cdf, xs = _wlc_inverse_cdf(float(chain.b))
        x = jnp.interp(jax.random.uniform(kr, (n,), jnp.float64), jnp.asarray(cdf), jnp.asarray(xs))
    return direction * (jnp.minimum(x, _MAX_X) * chain.Q0)[:, None]


def random_walks(chain: Chain, keys):
    """(B, N, 3) random walks with equilibrium bonds, centre of mass at the origin."""

    def one(key):
        Q = sample_bonds(chain, key, chain.n_beads - 1)
        r = jnp.concatenate([jnp.zeros((1, 3)), jnp.cumsum(Q, axis=0)])
        return r - r.mean(axis=0)

    return jax.jit(jax.vmap(one))(jnp.asarray(keys))


def equilibrium_coils(
    chain: Chain, keys, *, t_relax: float, dt: float, integrator: str = "auto", noise: str = "gaussian"
):
    """Equilibrium coils (B, N, 3): random walks with the exact bond distribution, then run at
    rest (ε̇ = 0) for ``t_relax`` (needed with excluded volume; harmless without)."""
    r0 = random_walks(chain, keys)
    steps = int(math.ceil(t_relax / dt - 1e-9))
    if steps <= 0:
        return r0
    relax_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(jnp.asarray(keys))
    return run(chain, r0, relax_keys, dt=dt, n_saves=1, save_every=steps, integrator=integrator, noise=noise)[:, -1]


# ----------------------------------------------------------------------------- λ measurement


@dataclasses.dataclass
class RelaxationFit:
    """λ = −1/(2 slope) of ln C(t) over ``lags`` where C lies inside the window."""

    value: float
    stderr: float
    time: np.ndarray  # lag times of the correlation
    correlation: np.ndarray  # C(t) = ⟨R(t)·R(0)⟩ / ⟨R²⟩
    fit_slice: tuple[int, int]


def autocorrelation(R: np.ndarray) -> np.ndarray:
    """Mean over chains and time origins of R(t+k)·R(t), k = 0..T−1, for R (B, T, 3).

    R has zero mean at rest (isotropy), so nothing is subtracted. FFT, zero padded.
    """
    T = R.shape[1]
    F = np.fft.rfft(R, n=2 * T, axis=1)
    acf = np.fft.irfft(np.sum(F * np.conj(F), axis=-1), axis=1)[:, :T]
    return acf.mean(axis=0) / (T - np.arange(T))


def fit_correlation(t: np.ndarray, C: np.ndarray, window=(0.5, 0.15)) -> tuple[float, tuple[int, int]]:
    """λ = −1/(2 × slope of ln C) over the lags from the first where C ≤ window[0] to the last
    before C first drops below window[1]; returns λ and that lag range (C normalised, C[0] = 1)."""
    hi, lo = window
    below_hi = np.flatnonzero(C <= hi)
    below_lo = np.flatnonzero(C < lo)
    if below_hi.size == 0 or below_lo.size == 0:
        raise ValueError(
            f"relaxation fit: C(t) never crossed the window {list(window)} "
            "(lengthen simulation.relaxation_measurement.duration)"
        )
    i0, i1 = int(below_hi[0]), int(below_lo[0])
    if i1 - i0 < 3:
        raise ValueError(
            f"relaxation fit: only {i1 - i0} lags inside the window {list(window)}; "
            "sample more finely or widen the window"
        )
    return _slope_lambda(t, C, (i0, i1)), (i0, i1)


def _slope_lambda(t, C, lags):
    sl = slice(*lags)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.polyfit(t[sl] - t[0], np.log(C[sl] / C[0]), 1)[0]
    return float(-1.0 / (2.0 * slope))


def fit_relaxation(t: np.ndarray, R: np.ndarray, window=(0.5, 0.15), groups: int = 16) -> RelaxationFit:
    """Fit λ from end-to-end vectors R (B, T, 3) at rest sampled at times t (``fit_correlation``).

    The standard error is a delete-one-group jackknife over chains, on the same lags.
    """
    acf = autocorrelation(R)
    value, lags = fit_correlation(t, acf / acf[0], window)
    g = min(groups, R.shape[0])
    parts = np.array_split(np.arange(R.shape[0]), g)
    sums = np.stack([autocorrelation(R[p]) * len(p) for p in parts])
    total = sums.sum(0)
    reps = np.array([_slope_lambda(t, (total - sums[k]) / (R.shape[0] - len(parts[k])), lags) for k in range(g)])
    stderr = float(np.sqrt((g - 1) / g * np.sum((reps - reps.mean()) ** 2)))
    return RelaxationFit(value, stderr, t - t[0], acf / acf[0], lags)


def measure_relaxation_time(
    chain: Chain,
    key,
    *,
    n_chains: int = 128,
    duration: float = 40.0,
    window=(0.5, 0.15),
    dt: float = 5e-4,
    integrator: str = "auto",
    noise: str = "gaussian",
    frames_per_lambda: int = 20,
) -> RelaxationFit:
    """λ of any chain from the end-to-end autocorrelation at rest (module docstring).

    ``duration`` (after a burn-in of 2 λ_Rouse from exact-bond coils) is in units of the
    Rouse estimate λ_R = ζ/(8H sin²(π/2N)); frames are λ_R/frames_per_lambda apart.
    """
    lam_r = rouse_relaxation_time(chain.n_beads, chain.H, chain.zeta)
    save_every = max(1, int(round(lam_r / frames_per_lambda / dt)))
    n_saves = int(math.ceil(duration * lam_r / (save_every * dt)))
    keys = jax.random.split(key, 2 * n_chains)
    coils = equilibrium_coils(chain, keys[:n_chains], t_relax=2.0 * lam_r, dt=dt, integrator=integrator, noise=noise)
    R = run(
        chain,
        coils,
        keys[n_chains:],
        dt=dt,
        n_saves=n_saves,
        save_every=save_every,
        integrator=integrator,
        noise=noise,
        observe=end_to_end_vector,
    )
    t = np.arange(n_saves + 1) * save_every * dt
    return fit_relaxation(t, np.asarray(R), window)


# ----------------------------------------------------------------------------- observables


def observables(r) -> dict[str, np.ndarray]:
    """extension = max − min of bead x, |x_N − x_1| and |x_N + x_1| with the centre of mass
    removed, for positions (..., N, 3) (numpy or jax)."""
    x = np.asarray(r)[..., 0]
    x = x - x.mean(axis=-1, keepdims=True)
    return {
        "extension": x.max(axis=-1) - x.min(axis=-1),
        "end_to_end_diff": np.abs(x[..., -1] - x[..., 0]),
        "end_to_end_sum": np.abs(x[..., -1] + x[..., 0]),
    }


def unfolding_time(extension, time, threshold: float) -> np.ndarray:
    """First time the extension (..., T) reaches ``threshold``; inf where it never does."""
    ext = np.asarray(extension)
    t = np.asarray(time, dtype=np.float64)
    hit = ext >= threshold
    first = np.argmax(hit, axis=-1)
    return np.where(hit.any(axis=-1), t[first], np.inf)


def unfolding_threshold(spec: Mapping[str, Any]) -> float:
    """fraction × length; length defaults to the chain's maximum length (Chain.max_length)."""
    u = spec["simulation"]["unfolding"]
    length = u["length"] if u["length"] is not None else Chain.from_spec(spec).max_length
    return float(u["fraction"]) * float(length)


def label_ensembles(times: np.ndarray, ensemble: np.ndarray, n_ensembles: int) -> np.ndarray:
    """int8 label per ensemble from the ranking of the ensembles by median unfolding time
    (ties broken by the mean, never-unfolded counting as longest): the faster half 0 (fast),
    the slower half 1 (slow), the middle one of an odd number 2 (unlabelled). Ranking,
    unlike comparing with the pooled median, cannot leave both of two ensembles unlabelled
    when their medians tie with it on a coarse time grid."""
    times = np.asarray(times, np.float64)
    finite = np.where(
        np.isfinite(times), times, np.nanmax(np.where(np.isfinite(times), times, -np.inf), initial=0.0) * 2 + 1
    )
    keys = [(np.median(finite[ensemble == e]), np.mean(finite[ensemble == e])) for e in range(n_ensembles)]
    order = sorted(range(n_ensembles), key=lambda e: keys[e])
    labels = np.full(n_ensembles, UNFOLDING_CODES["unlabelled"], np.int8)
    half = n_ensembles // 2
    for rank, e in enumerate(order):
        if rank < half:
            labels[e] = UNFOLDING_CODES["fast"]
        elif rank >= n_ensembles - half:
            labels[e] = UNFOLDING_CODES["slow"]
    return labels


# ----------------------------------------------------------------------------- spec


def _merge(defaults: Mapping[str, Any], given: Mapping[str, Any], where: str) -> dict:
    out = copy.deepcopy(dict(defaults))
    for k, v in given.items():
        if k not in defaults:
            raise ValueError(f"{where}{k}: unknown key (known: {sorted(defaults)})")
        if isinstance(defaults[k], dict):
            if not isinstance(v, Mapping):
                raise ValueError(f"{where}{k}: expected a mapping, got {v!r}")
            out[k] = _merge(defaults[k], v, f"{where}{k}.")
        else:
            out[k] = v
    return out


def _check(cond: bool, key: str, msg: str, value: Any) -> None:
    if not cond:
        raise ValueError(f"{key}: {msg}, got {value!r}")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def resolve_spec(spec: Mapping[str, Any]) -> dict:
    """Defaults filled in and every value checked; errors name the key.

    Keys outside ``parameters`` and ``simulation`` other than name, type and seed (e.g. the
    pairs and models of the training stages) are kept as they are.
    """
    spec = dict(spec)
    cfg = {k: copy.deepcopy(v) for k, v in spec.items() if k not in ("parameters", "simulation")}
    cfg.setdefault("name", DEFAULTS["name"])
    cfg.setdefault("seed", DEFAULTS["seed"])
    cfg["parameters"] = _merge(DEFAULTS["parameters"], spec.get("parameters") or {}, "parameters.")
    cfg["simulation"] = _merge(DEFAULTS["simulation"], spec.get("simulation") or {}, "simulation.")
    _check(spec.get("type", "polymer") == "polymer", "type", "must be 'polymer'", spec.get("type"))
    _check(_is_int(cfg["seed"]) and cfg["seed"] >= 0, "seed", "need an integer ≥ 0", cfg["seed"])
    p, s = cfg["parameters"], cfg["simulation"]

    _check(_is_int(p["n_beads"]) and p["n_beads"] >= 2, "parameters.n_beads", "need an integer ≥ 2", p["n_beads"])
    _check(p["spring"] in SPRINGS, "parameters.spring", f"must be one of {list(SPRINGS)}", p["spring"])
    for k in ("H", "Q0", "kT", "zeta"):
        _check(_is_num(p[k]) and p[k] > 0, f"parameters.{k}", "must be a number > 0", p[k])
    ev = p["excluded_volume"]
    _check(
        _is_num(ev["strength"]) and ev["strength"] >= 0,
        "parameters.excluded_volume.strength",
        "must be a number ≥ 0 (0: off)",
        ev["strength"],
    )
    _check(
        _is_num(ev["range"]) and ev["range"] > 0,
        "parameters.excluded_volume.range",
        "must be a number > 0",
        ev["range"],
    )
    _check(_is_num(p["Wi"]) and p["Wi"] >= 0, "parameters.Wi", "must be a number ≥ 0", p["Wi"])
    lam = p["relaxation_time"]
    _check(
        lam is None or (_is_num(lam) and lam > 0),
        "parameters.relaxation_time",
        "must be null (computed) or a number > 0",
        lam,
    )

    _check(_is_int(s["n_train"]) and s["n_train"] >= 1, "simulation.n_train", "need an integer ≥ 1", s["n_train"])
    for k in ("n_val", "n_ensembles"):
        _check(_is_int(s[k]) and s[k] >= 0, f"simulation.{k}", "need an integer ≥ 0", s[k])
    for k in ("n_realisations", "batch_size"):
        _check(_is_int(s[k]) and s[k] >= 1, f"simulation.{k}", "need an integer ≥ 1", s[k])
    _check(
        s["time_unit"] in ("relaxation", "absolute"),
        "simulation.time_unit",
        "must be 'relaxation' or 'absolute'",
        s["time_unit"],
    )
    for k in ("t_end", "dt_sample", "dt"):
        _check(_is_num(s[k]) and s[k] > 0, f"simulation.{k}", "must be a number > 0", s[k])
    _check(
        _is_num(s["t_equilibrate"]) and s["t_equilibrate"] >= 0,
        "simulation.t_equilibrate",
        "must be a number ≥ 0",
        s["t_equilibrate"],
    )
    n = round(s["t_end"] / s["dt_sample"])
    _check(
        n >= 1 and abs(n * s["dt_sample"] - s["t_end"]) <= 1e-9 * s["t_end"],
        "simulation.t_end",
        f"must be a whole multiple of simulation.dt_sample ({s['dt_sample']})",
        s["t_end"],
    )
    _check(s["dtype"] in ("float32", "float64"), "simulation.dtype", "must be 'float32' or 'float64'", s["dtype"])
    _check(s["noise"] in NOISES, "simulation.noise", f"must be one of {list(NOISES)}", s["noise"])
    u = s["unfolding"]
    _check(
        _is_num(u["fraction"]) and 0 < u["fraction"] <= 1,
        "simulation.unfolding.fraction",
        "must lie in (0, 1]",
        u["fraction"],
    )
    _check(
        u["length"] is None or (_is_num(u["length"]) and u["length"] > 0),
        "simulation.unfolding.length",
        "must be null (maximum length) or a number > 0",
        u["length"],
    )
    m = s["relaxation_measurement"]
    _check(
        _is_int(m["n_chains"]) and m["n_chains"] >= 2,
        "simulation.relaxation_measurement.n_chains",
        "need an integer ≥ 2",
        m["n_chains"],
    )
    _check(
        _is_num(m["duration"]) and m["duration"] > 0,
        "simulation.relaxation_measurement.duration",
        "must be a number > 0",
        m["duration"],
    )
    w = m["window"]
    _check(
        isinstance(w, (list, tuple)) and len(w) == 2 and all(_is_num(v) for v in w) and 1 > w[0] > w[1] > 0,
        "simulation.relaxation_measurement.window",
        "need [upper, lower] with 1 > upper > lower > 0",
        w,
    )

    chain = Chain.from_spec(cfg)
    try:
        integrator = resolve_integrator(chain, s["integrator"])
    except ValueError as exc:
        raise ValueError(f"{exc} (spring '{chain.spring}')") from None
    if integrator == "euler":
        limit = chain.zeta / (2.0 * chain.H)
        _check(
            s["dt"] < limit,
            "simulation.dt",
            f"explicit Euler is unstable for dt ≥ ζ/(2H) = {limit:g} (use a smaller dt or integrator 'semi_implicit')",
            s["dt"],
        )
    return cfg


# ----------------------------------------------------------------------------- simulate


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything ``simulate`` derives from the spec before it runs a batch."""

    chain: Chain
    integrator: str
    noise: str
    relaxation_time: float
    relaxation_stderr: float
    relaxation_method: str
    strain_rate: float
    time_scale: float  # absolute time per unit of the spec's times
    dt: float  # step actually used (≤ simulation.dt, divides dt_sample exactly)
    save_every: int
    n_saves: int
    equilibrate_steps: int
    times: np.ndarray  # frame times in the spec's time unit
    split: np.ndarray  # per trajectory
    ensemble: np.ndarray
    batch_size: int

    @property
    def n_trajectories(self) -> int:
        return len(self.split)


def relaxation_time(cfg: Mapping[str, Any], chain: Chain, integrator: str) -> tuple[float, float, str]:
    """(λ, its standard error, how it was obtained) for a resolved spec."""
    given = cfg["parameters"]["relaxation_time"]
    if given is not None:
        return float(given), 0.0, "given"
    if chain.spring == "hookean" and chain.ev_strength == 0:
        return rouse_relaxation_time(chain.n_beads, chain.H, chain.zeta), 0.0, "rouse"
    m = cfg["simulation"]["relaxation_measurement"]
    key = jax.random.fold_in(jax.random.PRNGKey(cfg["seed"]), STREAM_RELAX)
    fit = measure_relaxation_time(
        chain,
        key,
        n_chains=m["n_chains"],
        duration=m["duration"],
        window=tuple(m["window"]),
        dt=cfg["simulation"]["dt"],
        integrator=integrator,
        noise=cfg["simulation"]["noise"],
    )
    log.info("measured λ = %.5g ± %.2g (end-to-end autocorrelation at rest)", fit.value, fit.stderr)
    return fit.value, fit.stderr, "measured: end-to-end autocorrelation at rest"


def _store_batch_size(want: int, n_total: int, frames: int, n_beads: int, itemsize: int) -> int:
    """Batch size that keeps every batch boundary on a zarr chunk boundary of the store.

    write_store chunks the whole store like its first batch (store.trajectory_chunk); a batch
    that starts inside a chunk would be refused, so the batch size is rounded down to a
    multiple of that chunk.
    """
    import dask.array as da

    from ..data.store import trajectory_chunk

    b = min(want, n_total)
    probe = xr.Dataset(
        {VARIABLE: (("trajectory", "time", "bead", "xyz"), da.empty((b, frames, n_beads, 3), dtype=f"f{itemsize}"))}
    )
    chunk = trajectory_chunk(probe)
    return max(chunk, (b // chunk) * chunk)


def plan(spec: Mapping[str, Any]) -> tuple[dict, Plan]:
    """Resolve the spec and derive the run: λ (measured here when needed), ε̇, steps, splits."""
    cfg = resolve_spec(spec)
    s = cfg["simulation"]
    chain = Chain.from_spec(cfg)
    integrator = resolve_integrator(chain, s["integrator"])
    lam, lam_se, method = relaxation_time(cfg, chain, integrator)
    scale = lam if s["time_unit"] == "relaxation" else 1.0
    sample = s["dt_sample"] * scale
    save_every = int(math.ceil(sample / s["dt"] - 1e-9))
    dt = sample / save_every
    n_saves = int(round(s["t_end"] / s["dt_sample"]))
    n_tv = s["n_train"] + s["n_val"]
    n_test = s["n_ensembles"] * s["n_realisations"]
    split = np.concatenate(
        [
            np.full(s["n_train"], SPLIT_CODES["train"]),
            np.full(s["n_val"], SPLIT_CODES["val"]),
            np.full(n_test, SPLIT_CODES["test"]),
        ]
    ).astype(np.int8)
    ensemble = np.concatenate([np.full(n_tv, -1), np.repeat(np.arange(s["n_ensembles"]), s["n_realisations"])]).astype(
        np.int32
    )
    itemsize = 4 if s["dtype"] == "float32" else 8
    batch = _store_batch_size(s["batch_size"], len(split), n_saves + 1, chain.n_beads, itemsize)
    return cfg, Plan(
        chain=chain,
        integrator=integrator,
        noise=s["noise"],
        relaxation_time=lam,
        relaxation_stderr=lam_se,
        relaxation_method=method,
        strain_rate=float(cfg["parameters"]["Wi"]) / lam,
        time_scale=scale,
        dt=dt,
        save_every=save_every,
        n_saves=n_saves,
        equilibrate_steps=int(math.ceil(s["t_equilibrate"] * scale / dt - 1e-9)),
        times=np.arange(n_saves + 1) * s["dt_sample"],
        split=split,
        ensemble=ensemble,
        batch_size=batch,
    )


class _Runner:
    """Initial states and flow runs of fixed-size (padded) batches of global trajectory ids."""

    def __init__(self, cfg: Mapping[str, Any], pl: Plan):
        self.pl = pl
        base = jax.random.PRNGKey(cfg["seed"])
        self.streams = {k: jax.random.fold_in(base, k) for k in (STREAM_COILS, STREAM_ENSEMBLES, STREAM_NOISE)}
        n_e = int(pl.ensemble.max()) + 1 if (pl.ensemble >= 0).any() else 0
        self.ensemble_coils = self._coils(STREAM_ENSEMBLES, np.arange(n_e)) if n_e else None

    def _keys(self, stream: int, ids: np.ndarray):
        return jax.vmap(lambda i: jax.random.fold_in(self.streams[stream], i))(jnp.asarray(ids))

    def _pad(self, ids: np.ndarray) -> np.ndarray:
        """Same shape every batch (one compiled program): repeat the last id."""
        return np.concatenate([ids, np.full(self.pl.batch_size - len(ids), ids[-1])])

    def _coils(self, stream: int, ids: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(ids), self.pl.batch_size):
            part = ids[i : i + self.pl.batch_size]
            keys = self._keys(stream, self._pad(part))
            r = equilibrium_coils(
                self.pl.chain,
                keys,
                t_relax=self.pl.equilibrate_steps * self.pl.dt,
                dt=self.pl.dt,
                integrator=self.pl.integrator,
                noise=self.pl.noise,
            )
            out.append(np.asarray(r)[: len(part)])
        return np.concatenate(out)

    def initial_states(self, ids: np.ndarray) -> np.ndarray:
        ens = self.pl.ensemble[ids]
        r0 = np.empty((len(ids), self.pl.chain.n_beads, 3))
        own = ens < 0
        if own.any():
            r0[own] = self._coils(STREAM_COILS, ids)[own]
        if (~own).any():
            r0[~own] = self.ensemble_coils[ens[~own]]
        return r0

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """(len(ids), n_saves + 1, N, 3) float64 positions under flow."""
        pl = self.pl
        full = self._pad(ids)
        r0 = self.initial_states(full)
        r = run(
            pl.chain,
            r0,
            self._keys(STREAM_NOISE, full),
            dt=pl.dt,
            n_saves=pl.n_saves,
            save_every=pl.save_every,
            strain_rate=pl.strain_rate,
            integrator=pl.integrator,
            noise=pl.noise,
        )
        return np.asarray(r)[: len(ids)]


def _batches(n: int, size: int) -> list[np.ndarray]:
    return [np.arange(i, min(i + size, n)) for i in range(0, n, size)]


def trajectory_count(spec: Mapping[str, Any]) -> int:
    """How many trajectories ``simulate`` makes: train, val, and every test ensemble's realisations."""
    s = spec["simulation"]
    return int(s["n_train"] + s["n_val"] + s["n_ensembles"] * s["n_realisations"])


def simulate(spec: Mapping[str, Any]) -> Iterator[xr.Dataset]:
    """Canonical Datasets, consecutive batches of trajectories (module docstring).

    The spec is checked (and λ measured where needed) at the call; the batches are made as
    the generator is consumed, one in memory at a time.
    """
    cfg, pl = plan(spec)
    return _generate(cfg, pl)


def _generate(cfg: dict, pl: Plan) -> Iterator[xr.Dataset]:
    runner = _Runner(cfg, pl)
    threshold = unfolding_threshold(cfg)
    batches = _batches(pl.n_trajectories, pl.batch_size)
    n_e = cfg["simulation"]["n_ensembles"]

    # First pass over the batches with test trajectories: their unfolding times label the ensembles.
    test_ids, test_times = [], []
    for ids in batches:
        test = ids[pl.split[ids] == SPLIT_CODES["test"]]
        if test.size:
            ext = observables(runner.positions(ids))["extension"]
            test_ids.append(test)
            test_times.append(unfolding_time(ext[pl.split[ids] == SPLIT_CODES["test"]], pl.times, threshold))
    labels = (
        label_ensembles(np.concatenate(test_times), pl.ensemble[np.concatenate(test_ids)], n_e)
        if test_ids
        else np.zeros(0, np.int8)
    )
    if n_e:
        log.info("test ensembles labelled (0 fast, 1 slow, 2 tie): %s", labels.tolist())

    provenance = stamp(cfg)
    attrs = _attrs(cfg, pl, threshold, labels)
    for k, ids in enumerate(batches):
        r = runner.positions(ids)
        log.info("batch %d/%d: trajectories %d–%d", k + 1, len(batches), ids[0], ids[-1])
        yield _dataset(cfg, pl, ids, r, labels, threshold, {**attrs, **provenance})


def _attrs(cfg: Mapping[str, Any], pl: Plan, threshold: float, labels: np.ndarray) -> dict:
    p, s = cfg["parameters"], cfg["simulation"]
    c = pl.chain
    return {
        "system_type": "polymer",
        "observed": VARIABLE,
        "seed": int(cfg["seed"]),
        "n_beads": c.n_beads,
        "spring": c.spring,
        "H": c.H,
        "Q0": c.Q0,
        "kT": c.kT,
        "zeta": c.zeta,
        "fene_b": c.b,
        "wlc_persistence_length": c.persistence_length if c.spring == "wlc" else 0.0,
        "max_length": c.max_length,
        "excluded_volume_strength": c.ev_strength,
        "excluded_volume_range": c.ev_range,
        "flow": "planar elongation, kappa = strain_rate * diag(1, -1, 0)",
        "Wi": float(p["Wi"]),
        "strain_rate": pl.strain_rate,
        "relaxation_time": pl.relaxation_time,
        "relaxation_time_stderr": pl.relaxation_stderr,
        "relaxation_time_method": pl.relaxation_method,
        "time_unit": (
            "relaxation time lambda"
            if s["time_unit"] == "relaxation"
            else "absolute (zeta Q0^2 / kT with the defaults)"
        ),
        "time_scale": pl.time_scale,
        "integrator": pl.integrator,
        "noise": pl.noise,
        "dt": pl.dt,
        "dt_requested": float(s["dt"]),
        "save_every": pl.save_every,
        "dt_sample": float(s["dt_sample"]),
        "t_end": float(s["t_end"]),
        "t_equilibrate": float(s["t_equilibrate"]),
        "equilibrate_steps": pl.equilibrate_steps,
        "n_train": int(s["n_train"]),
        "n_val": int(s["n_val"]),
        "n_ensembles": int(s["n_ensembles"]),
        "n_realisations": int(s["n_realisations"]),
        "batch_size": pl.batch_size,
        "dtype": s["dtype"],
        "unfolding_fraction": float(s["unfolding"]["fraction"]),
        "unfolding_threshold": threshold,
        "ensemble_labels": [int(v) for v in labels],
        "center_of_mass": "removed: positions are relative to the chain's centre of mass",
    }


def _dataset(
    cfg, pl: Plan, ids: np.ndarray, r: np.ndarray, labels: np.ndarray, threshold: float, attrs: dict
) -> xr.Dataset:
    dtype = np.dtype(cfg["simulation"]["dtype"])
    obs = observables(r)
    ens = pl.ensemble[ids]
    unfolding = np.where(
        ens >= 0, labels[np.maximum(ens, 0)] if labels.size else 2, UNFOLDING_CODES["unlabelled"]
    ).astype(np.int8)
    long_names = {
        "extension": "extension: max − min of bead x",
        "end_to_end_diff": "|x_N − x_1| (centre of mass removed)",
        "end_to_end_sum": "|x_N + x_1| (centre of mass removed)",
    }
    data_vars = {
        VARIABLE: (
            ("trajectory", "time", "bead", "xyz"),
            r.astype(dtype),
            {
                "units": "1",
                "long_name": "bead position relative to the centre of "
                "mass, in units of the length unit (Q0 with the defaults)",
            },
        )
    }
    for k in DERIVED:
        data_vars[k] = (("trajectory", "time"), obs[k].astype(dtype), {"units": "1", "long_name": long_names[k]})
    ds = build_dataset(
        system=cfg["name"],
        data_vars=data_vars,
        time=pl.times,
        split=pl.split[ids],
        trajectory=ids,
        trajectory_coords={
            "ensemble": ens,
            "unfolding": unfolding,
            "unfolding_time": unfolding_time(obs["extension"], pl.times, threshold),
            "Wi": np.full(len(ids), float(cfg["parameters"]["Wi"])),
        },
        coords={"bead": (("bead",), np.arange(pl.chain.n_beads)), "xyz": (("xyz",), np.arange(3))},
        attrs=attrs,
    )
    ds["time"].attrs["long_name"] = f"time ({attrs['time_unit']})"
    ds["ensemble"].attrs.update(
        {"long_name": "test ensemble (fixed initial conformation); -1 for train and val trajectories"}
    )
    ds["unfolding"].attrs.update(
        {
            "long_name": "unfolding class of the trajectory's ensemble",
            "flag_values": [0, 1, 2],
            "flag_meanings": "fast slow unlabelled",
        }
    )
    ds["unfolding_time"].attrs.update(
        {"long_name": "first time the extension reaches unfolding_threshold (inf: never)", "units": "1"}
    )
    ds["xyz"].attrs["long_name"] = "0 = x (stretching), 1 = y (compression), 2 = z (neutral)"
    return ds
