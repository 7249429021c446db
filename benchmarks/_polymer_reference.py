"""The Brownian-dynamics kernel as it was before it was made faster, kept as the benchmark's
reference (``bench_polymer.py`` times both in one process and checks they agree).

A frozen copy of the earlier ``onsagerflow.systems.polymer`` step: one chain per vmap lane in
(N, 3) layout, Threefry noise drawn through ``jax.random`` each step, bond solves by the closed
cubic formulas (arccos/cos, arcsinh/sinh), red–black sweeps by scatter. Not used by the package.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from onsagerflow.systems.polymer import Chain

_MAX_X = 1.0 - 1e-12


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


@functools.partial(jax.jit, static_argnames=("chain", "integrator", "noise", "observe", "n_saves", "save_every"))
def run(r0, keys, strain_rate, dt, *, chain, integrator, noise, observe, n_saves, save_every):
    """(B, n_saves + 1, ...) observe(positions) of a batch; strain_rate, dt: (B,); keys (B, 2)."""
    scheme = _euler_scheme(chain) if integrator == "euler" else _semi_implicit_scheme(chain)

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
