"""One bead-spring chain: its parameters, spring laws and forces.

N beads at positions r_i, bonds (connector vectors) Q_i = r_{i+1} − r_i, spring tension
f(Q) = H φ(|Q|/Q0) Q with H the spring constant at small extension:

    hookean   φ = 1                                   (U = H q²/2, no maximum length)
    fene      φ = 1/(1 − x²),  x = q/Q0                (U = −(H Q0²/2) ln(1 − x²))
    wlc       Marko–Siggia |f| = (kT/A)[1/(4(1 − x)²) − 1/4 + x], x = q/Q0, Q0 the contour
              length of one spring and A = 3kT/(2 H Q0) its persistence length (so that the
              small-extension constant is H): φ = (2/3)[(2 − x)/(4(1 − x)²) + 1].

Bead i feels F_i = f(Q_i) − f(Q_{i−1}), plus an optional soft excluded volume between
non-bonded beads (|i − j| ≥ 2), U_ev = ε kT exp(−|r_i − r_j|²/(2σ²)), an O(N²) pair sum.
Units are those of the parameters: with kT = ζ = Q0 = 1 lengths are in maximum bond lengths
(an N-bead chain's extension runs from 0 to N − 1, NCS24's bond units) and times in
ζ Q0²/kT; b = H Q0²/kT is the FENE b parameter.

The forces come in two layouts: one chain's positions (N, 3) (``tension``, ``bead_forces``,
``excluded_volume_forces``), and the integrators' batched layout, the three Cartesian
components stacked first, (3, B, K) with chains along B (``*_xyz`` functions).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...lazy_import import lazy

if TYPE_CHECKING:
    import jax.numpy as jnp
else:
    jnp = lazy("jax.numpy")


SPRINGS = ("hookean", "fene", "wlc")


@dataclasses.dataclass(frozen=True)
class Chain:
    """Physical parameters of one chain; hashable, so jit treats it as a compile-time constant.

    Build it from a validated system block (``from_spec``) or with ``chain_of``, which takes
    the schema's defaults for what is not given; the constructor itself has no defaults.
    """

    n_beads: int
    spring: str
    H: float
    Q0: float
    kT: float
    zeta: float
    ev_strength: float
    ev_range: float

    def __post_init__(self):
        if self.spring not in SPRINGS:  # a programming error: a config is checked by the schema
            raise ValueError(f"spring: '{self.spring}' is not one of {list(SPRINGS)}")

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
        """The chain of a validated polymer system block (every default filled)."""
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


def chain_of(**parameters: Any) -> Chain:
    """A chain from ``parameters`` keys (n_beads, spring, H, ...) validated against the config
    schema, with its defaults for the rest: ``chain_of(n_beads=2, spring="hookean", H=1.0)``."""
    from ...config import load_schema
    from ...config.validate import fill_and_validate

    schema = load_schema()
    block = copy.deepcopy(parameters)
    fill_and_validate(block, schema, schema["$defs"]["polymer"]["properties"]["parameters"], ("parameters",))
    return Chain.from_spec({"parameters": block})


def rouse_relaxation_time(n_beads: int, H: float, zeta: float) -> float:
    """Longest Rouse relaxation time of second moments, λ₁ = ζ/(8 H sin²(π/(2N)))."""
    return zeta / (8.0 * H * math.sin(math.pi / (2 * n_beads)) ** 2)


def phi(chain: Chain, x):
    """Tension factor φ(x), f = H φ(|Q|/Q0) Q, of the chain's spring law."""
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


def bead_forces(f):
    """Spring forces on the beads of one chain from bond tensions f (N−1, 3): bead i is
    pulled toward i+1 by f_i and back toward i−1 by f_{i−1}."""
    g = jnp.pad(f, ((1, 1), (0, 0)))
    return g[1:] - g[:-1]


def excluded_volume_forces(chain: Chain, r):
    """Soft Gaussian repulsion ε kT exp(−d²/2σ²) between beads |i − j| ≥ 2 of one chain (N, 3)."""
    n = chain.n_beads
    d = r[:, None, :] - r[None, :, :]
    idx = jnp.arange(n)
    mask = jnp.abs(idx[:, None] - idx[None, :]) >= 2
    w = jnp.where(mask, jnp.exp(-jnp.sum(d * d, -1) / (2.0 * chain.ev_range**2)), 0.0)
    return (chain.ev_strength * chain.kT / chain.ev_range**2) * jnp.einsum("ij,ijk->ik", w, d)


# ----------------------------------------------------------------------------- batched layout
# A batch of chains as its x, y, z components stacked first, (3, B, K): every operation is
# elementwise over (component, chain, bead), which XLA fuses into a few vectorised loops.


def norm_xyz(v):
    """|v| of stacked components (3, ...) -> (...)."""
    return jnp.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def excluded_volume_forces_xyz(chain: Chain, r):
    """``excluded_volume_forces`` for stacked positions (3, B, N) -> (3, B, N)."""
    d = [c[:, :, None] - c[:, None, :] for c in r]  # (B, N, N) each
    idx = jnp.arange(chain.n_beads)
    mask = jnp.abs(idx[:, None] - idx[None, :]) >= 2
    w = jnp.where(mask, jnp.exp(-(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) / (2.0 * chain.ev_range**2)), 0.0)
    k = chain.ev_strength * chain.kT / chain.ev_range**2
    # one reduction per component: summed as one (3, B, N, N) array, XLA orders the sum otherwise
    return jnp.stack([k * jnp.sum(w * c, axis=-1) for c in d])
