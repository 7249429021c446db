"""Equilibrium coils at rest: random walks with the exact bond distribution, then relaxed.

Without excluded volume the bonds of a chain at rest are independent and distributed as
p(Q) ∝ exp(−U(|Q|)/kT), so their sum is an exact equilibrium coil; a relaxation run at rest
(needed with excluded volume, harmless without) follows.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from ...lazy_import import lazy
from .chain import Chain
from .integrators import run
from .roots import MAX_X

if TYPE_CHECKING:
    import jax
    import jax.numpy as jnp
else:
    jax, jnp = lazy("jax"), lazy("jax.numpy")


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
    return direction * (jnp.minimum(x, MAX_X) * chain.Q0)[:, None]


def random_walks(chain: Chain, keys):
    """(B, N, 3) random walks with equilibrium bonds, centre of mass at the origin."""
    return _walks(chain)(jnp.asarray(keys))


@functools.lru_cache(maxsize=16)
def _walks(chain: Chain):
    """One compiled sampler per chain: built anew on every call, the function would be compiled
    again for every batch (seconds each, the FENE bonds' beta sampling)."""

    def one(key):
        Q = sample_bonds(chain, key, chain.n_beads - 1)
        r = jnp.concatenate([jnp.zeros((1, 3)), jnp.cumsum(Q, axis=0)])
        return r - r.mean(axis=0)

    return jax.jit(jax.vmap(one))


def equilibrium_coils(chain: Chain, keys, *, t_relax: float, dt: float, integrator: str, noise: str):
    """Equilibrium coils (B, N, 3): random walks with the exact bond distribution, then run at
    rest (ε̇ = 0) for ``t_relax`` (needed with excluded volume; harmless without)."""
    r0 = random_walks(chain, keys)
    steps = int(math.ceil(t_relax / dt - 1e-9))
    if steps <= 0:
        return r0
    relax_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(jnp.asarray(keys))
    return run(chain, r0, relax_keys, dt=dt, n_saves=1, save_every=steps, integrator=integrator, noise=noise)[:, -1]


# ----------------------------------------------------------------------------- λ measurement
