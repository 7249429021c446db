"""Brownian dynamics of bead-spring chains in planar elongational flow, batched over chains.

    dr_i = [κ·r_i + F_i/ζ] dt + √(2kT/ζ) dW_i,      κ = ε̇ diag(1, −1, 0)

no inertia, no hydrodynamic interaction. The flow is homogeneous, so the internal motion does
not depend on the centre of mass: it is held at the origin (removed after every step), which
also keeps it from drifting off exponentially along x.

``euler``: Euler–Maruyama on bead positions (hookean, wlc; a WLC bond that overshoots Q0
poisons its chain with NaN, so the store refuses it rather than storing nonsense).

``semi_implicit``: on the bond vectors, implicit in the springs (after Öttinger's FENE
dumbbell scheme and the semi-implicit chain schemes of Somasi et al., JNNFM 108 (2002)),
trapezoidal in the flow:

    Q' = Q + ½κ(Q + Q') dt + (dt/ζ)[f(Q'_{i+1}) − 2 f(Q'_i) + f(Q'_{i−1})] + E dt + ΔS

with E the excluded-volume part of the bond drift (explicit) and ΔS = √(2kT dt/ζ)(ξ_{i+1} − ξ_i)
the bonds' share of the bead noise. Two red–black Gauss–Seidel sweeps started from Q solve it:
each bond solves Q'_i + 2(dt/ζ) f(Q'_i) = R_i with its neighbours' latest tensions in R_i
(``roots``), which keeps every bond strictly below Q0 at any dt and Wi. One sweep alone would
slow the slow modes by a relative O(H dt/ζ); after two their error is O(dt/λ), like explicit
Euler's (checked exactly for Hookean chains in the tests). Stable for Hookean chains at any dt.
``auto`` picks euler for hookean, semi_implicit for fene and wlc.

Layout: a batch is one array per kind of state, its Cartesian components stacked first,
(3, B, K) with the chains along B and the beads or bonds along K contiguous — bead positions
for euler; for semi_implicit the even bonds 0, 2, 4, … and the odd bonds 1, 3, … apart (a
colour of the red–black sweep is then one contiguous array, and the neighbours of a bond are
its two nearest entries in the other colour), with each bond's scaled length x = |Q|/Q0
(B, K), the start of its next solve. Every operation is elementwise over (component, chain,
bond), so XLA compiles a step into a few vectorised loops, each over all three components at
once: on a CPU at small sizes a step costs about as much per loop as per element, so fewer,
larger loops are faster (a tuple of three (B, K) arrays took a third more loops). Each step's
noise is drawn in the step before (``noise``) and carried, so that it is computed once.

The arithmetic of each element is the same as with components apart: without fused
multiply-adds (``XLA_FLAGS=--xla_cpu_max_isa=AVX``) both layouts give the same bits; with
them, XLA contracts a product and a sum into one rounding where its loops happen to allow,
so paths differ at the last bit (|Δr| ~ 1e-15 after hundreds of steps).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ...lazy_import import lazy
from .chain import (
    Chain,
    excluded_volume_forces_xyz,
    norm_xyz,
    phi,
)
from .noise import NOISES, draw, step_keys, to_unit
from .roots import solve_bonds

if TYPE_CHECKING:
    import jax
    import jax.numpy as jnp
    from jax import lax
else:
    jax, jnp, lax = lazy("jax"), lazy("jax.numpy"), lazy("jax.lax")

INTEGRATORS = ("auto", "euler", "semi_implicit")
SWEEPS = 2  # red–black Gauss–Seidel sweeps per step
FLOW_SIGNS = np.array([1.0, -1.0, 0.0])[:, None, None]  # κ = ε̇ diag(1, −1, 0) on stacked components
# Unrolled Newton steps of the bond solves per sweep, before a bracketed clean-up loop that
# rarely runs and a polishing step (``roots``); where each sweep starts: ``_start``.
NEWTON_STEPS = (3, 2)


def resolve_integrator(chain: Chain, integrator: str) -> str:
    """The integrator 'auto' stands for; explicit Euler is refused for FENE springs."""
    if integrator not in INTEGRATORS:
        raise ValueError(f"simulation.integrator: '{integrator}' is not one of {list(INTEGRATORS)}")
    if integrator == "auto":
        return "euler" if chain.spring == "hookean" else "semi_implicit"
    if integrator == "euler" and chain.spring == "fene":
        raise ValueError(
            "simulation.integrator: 'euler' cannot keep FENE bonds below Q0; use 'semi_implicit' (or 'auto')"
        )
    return integrator


@dataclasses.dataclass(frozen=True)
class Scheme:
    """An integrator on its own batched state (module docstring).

    ``step(state, xi, eps, dt)`` advances a batch by one step: ``xi`` holds the unit
    increments at the flat indices ``noise_index`` (3 × bead + component, one (3, K) array
    per block) of each chain's (N, 3) bead noise, one (3, B, K) array per block; eps and dt
    are (B, 1). Its "natural"
    per-chain form (B, K, 3) is the bead positions (euler) or the bonds in chain order
    (semi_implicit).
    """

    name: str
    noise_index: tuple[np.ndarray, ...]
    natural_of: Callable  # positions (B, N, 3) -> natural form (B, K, 3)
    from_natural: Callable  # natural form -> state
    to_natural: Callable  # state -> natural form
    positions: Callable  # state -> positions (B, N, 3), centre of mass at 0
    step: Callable

    def init(self, r):
        return self.from_natural(self.natural_of(r))

    def chain_step(self, q, xi, eps: float, dt: float):
        """One step of one chain in natural form q (K, 3) with bead noise xi (N, 3)."""
        flat = xi.reshape(-1)
        blocks = tuple(flat[idx][:, None, :] for idx in self.noise_index)
        one = jnp.ones((1, 1))
        return self.to_natural(self.step(self.from_natural(q[None]), blocks, eps * one, dt * one))[0]


def _centred(c):
    return c - c.mean(axis=-1, keepdims=True)


def _components(v):
    """Natural form (B, K, 3) -> stacked components (3, B, K)."""
    return jnp.moveaxis(v, -1, 0)


def _flow(v, eps):
    """κ·v of planar elongation, κ = ε̇ diag(1, −1, 0), for stacked components (3, B, K); eps (B, 1)."""
    return eps * v * FLOW_SIGNS


def _euler_scheme(chain: Chain) -> Scheme:
    n = chain.n_beads

    def step(r, xi, eps, dt):
        Q = r[:, :, 1:] - r[:, :, :-1]
        if chain.spring == "hookean":
            f = chain.H * Q
        else:
            f = chain.H * phi(chain, norm_xyz(Q) / chain.Q0) * Q
        F = jnp.pad(f, ((0, 0), (0, 0), (0, 1))) - jnp.pad(f, ((0, 0), (0, 0), (1, 0)))
        if chain.ev_strength > 0:
            F = F + excluded_volume_forces_xyz(chain, r)
        amp = jnp.sqrt(2.0 * chain.kT * dt / chain.zeta)
        drift = _flow(r, eps) + F / chain.zeta
        r = _centred(r + drift * dt + amp * xi[0])
        if chain.spring == "wlc":  # an overshot bond has no meaning: poison the chain
            Q = r[:, :, 1:] - r[:, :, :-1]
            over = jnp.max(Q[0] * Q[0] + Q[1] * Q[1] + Q[2] * Q[2], axis=1, keepdims=True) >= chain.Q0**2
            r = jnp.where(over, jnp.nan, r)
        return r

    return Scheme(
        name="euler",
        noise_index=(3 * np.arange(n)[None, :] + np.arange(3)[:, None],),
        natural_of=lambda r: r - r.mean(axis=1, keepdims=True),
        from_natural=_components,
        to_natural=lambda r: jnp.moveaxis(r, 0, -1),
        positions=lambda r: jnp.moveaxis(r, 0, -1),
        step=step,
    )


def _semi_implicit_scheme(chain: Chain) -> Scheme:
    n = chain.n_beads
    m = n - 1
    me, mo = n // 2, (n - 1) // 2  # even bonds 0, 2, …; odd bonds 1, 3, …
    lead = ((0, 0), (0, 0))

    def neighbours_of_even(f):  # bond 2k: f_{2k−1} + f_{2k+1} = odd k−1 and k
        p = jnp.pad(f, (*lead, (1, me - mo)))
        return p[..., :-1] + p[..., 1:]

    def neighbours_of_odd(f):  # bond 2k+1: f_{2k} + f_{2k+2} = even k and k+1
        p = jnp.pad(f, (*lead, (0, mo + 1 - me)))
        return p[..., :-1] + p[..., 1:]

    def interleave(e, o):  # (..., B, me), (..., B, mo) -> (..., B, m) in chain order
        o = jnp.pad(o, ((0, 0),) * (o.ndim - 1) + ((0, me - mo),))
        return jnp.stack([e, o], axis=-1).reshape(*e.shape[:-1], 2 * me)[..., :m]

    def positions_xyz(Ev, Od):
        Q = interleave(Ev, Od)
        return _centred(jnp.concatenate([jnp.zeros_like(Q[..., :1]), jnp.cumsum(Q, axis=-1)], axis=-1))

    def tensions(Q, x):
        if chain.spring == "hookean":
            return chain.H * Q
        return chain.H * phi(chain, x) * Q

    def from_natural(Q):
        Ev, Od = _components(Q[:, 0::2]), _components(Q[:, 1::2])
        return Ev, Od, norm_xyz(Ev) / chain.Q0, norm_xyz(Od) / chain.Q0

    def step(state, xi, eps, dt):
        Ev, Od, xE, xO = state
        bE, bO = xi  # even beads 2j, odd beads 2j+1
        c = dt / chain.zeta
        amp = jnp.sqrt(2.0 * chain.kT * dt / chain.zeta)
        baseE = Ev + amp * (bO[..., :me] - bE[..., :me])
        baseO = Od + amp * (bE[..., 1 : mo + 1] - bO[..., :mo])
        if chain.ev_strength > 0:
            F = excluded_volume_forces_xyz(chain, positions_xyz(Ev, Od))
            baseE = baseE + (F[..., 1::2][..., :me] - F[..., 0::2][..., :me]) * c
            baseO = baseO + (F[..., 2::2][..., :mo] - F[..., 1::2][..., :mo]) * c
        baseE = baseE + 0.5 * _flow(Ev, eps) * dt
        baseO = baseO + 0.5 * _flow(Od, eps) * dt

        for sweep in range(SWEEPS):
            R = baseE + 0.5 * _flow(Ev, eps) * dt + neighbours_of_even(tensions(Od, xO)) * c
            Ev, xE = solve_bonds(
                chain, R, 2.0 * c, _start(chain, R, 2.0 * c * chain.H, xE, sweep), NEWTON_STEPS[min(sweep, 1)]
            )
            R = baseO + 0.5 * _flow(Od, eps) * dt + neighbours_of_odd(tensions(Ev, xE)) * c
            Od, xO = solve_bonds(
                chain, R, 2.0 * c, _start(chain, R, 2.0 * c * chain.H, xO, sweep), NEWTON_STEPS[min(sweep, 1)]
            )
        return Ev, Od, xE, xO

    idx = 3 * np.arange(n).reshape(-1, 1) + np.arange(3)  # (bead, component) -> flat index
    return Scheme(
        name="semi_implicit",
        noise_index=(idx[0::2].T, idx[1::2].T),
        natural_of=lambda r: r[:, 1:] - r[:, :-1],
        from_natural=from_natural,
        to_natural=lambda s: jnp.moveaxis(interleave(s[0], s[1]), 0, -1),
        positions=lambda s: jnp.moveaxis(positions_xyz(s[0], s[1]), 0, -1),
        step=step,
    )


def _start(chain: Chain, R, a: float, x, sweep: int):
    """Newton's start for the bond solves of a sweep: the bonds' last lengths x in the first;
    in the second the root with the tension factor frozen at the first sweep's φ(x),
    ρ/(1 + a φ(x)), closer once the neighbours' new tensions have moved R."""
    if sweep == 0:
        return x
    return norm_xyz(R) / chain.Q0 / (1.0 + a * phi(chain, x))


def make_scheme(chain: Chain, integrator: str) -> Scheme:
    integrator = resolve_integrator(chain, integrator)
    return _euler_scheme(chain) if integrator == "euler" else _semi_implicit_scheme(chain)


def _run(r0, keys, strain_rate, dt, *, chain, integrator, noise, observe, n_saves, save_every):
    scheme = make_scheme(chain, integrator)
    eps, dt = strain_rate[:, None], dt[:, None]
    n_numbers = 3 * chain.n_beads

    def draw_step(k0, k1):
        return tuple(draw(noise, k0, k1, idx, n_numbers) for idx in scheme.noise_index)

    def inner(carry, key):
        state, raw = carry
        xi = tuple(to_unit(noise, r, idx, n_numbers) for r, idx in zip(raw, scheme.noise_index, strict=True))
        state = scheme.step(state, xi, eps, dt)
        return (state, draw_step(*key)), None  # the next step's noise, drawn once

    def observed(state):
        return jax.vmap(observe)(scheme.positions(state))

    def block(carry, b):
        following = b * np.uint32(save_every) + np.uint32(1) + jnp.arange(save_every, dtype=jnp.uint32)
        carry, _ = lax.scan(inner, carry, step_keys(keys, following))
        return carry, observed(carry[0])

    state = scheme.init(r0 - r0.mean(axis=1, keepdims=True))
    k0, k1 = step_keys(keys, jnp.zeros(1, jnp.uint32))
    _, ys = lax.scan(block, (state, draw_step(k0[0], k1[0])), jnp.arange(n_saves, dtype=jnp.uint32))
    y0 = observed(state)
    return jax.tree.map(lambda a, b: jnp.concatenate([a[:, None], jnp.moveaxis(b, 0, 1)], axis=1), y0, ys)


@functools.cache
def _compiled_run():
    """``_run`` under jit, made on first use (JAX is imported then: ``lazy_import``)."""
    return jax.jit(_run, static_argnames=("chain", "integrator", "noise", "observe", "n_saves", "save_every"))


def identity(r):
    return r


def run(
    chain: Chain,
    r0,
    keys,
    *,
    dt,
    n_saves: int,
    save_every: int,
    noise: str,
    strain_rate=0.0,
    integrator: str = "auto",
    observe: Callable | None = None,
):
    """Simulate a batch of chains; the one batched entry point of the simulator.

    r0: (B, N, 3) starts (the centre of mass is removed); keys: (B, 2) uint32 PRNG keys, one
    per chain (the noise of chain k at step n is unit_noise(noise, fold_in(keys[k], n), (N, 3)),
    so a chain's path does not depend on the batch it runs in); strain_rate ε̇ and step dt:
    scalars or one per chain; n_saves frames are kept after the start, ``save_every`` steps
    apart; noise: 'gaussian', 'uniform' or 'rademacher' (``noise.unit_noise``). ``observe`` maps one chain's
    positions (N, 3) to what is kept (default: the positions; pass a module-level function —
    a new lambda each call compiles again). Returns observe(r) at the n_saves + 1 frames,
    float64, leading dims (B, n_saves + 1).
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
    return _compiled_run()(
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
