"""A dissipative Hamiltonian net: the structure-preserving baseline of PRF21's Langevin study
(the authors' code calls it SymODEN, after the symplectic ODE-net of Zhong et al.).

The state z = (q, p) has an even dimension n = 2k. One residual MLP of the coordinates q
alone feeds three heads: a potential φ(q) ∈ Rᵏ, a mass matrix M(q) = L_M L_Mᵀ (k × k) and a
dissipation matrix D(q) = L_D L_Dᵀ + α I (n × n), each L lower triangular. With the energy

    H(q, p) = ½|φ(q)|² + ½ pᵀ M(q) p + β|p|²

the dynamics are Hamiltonian flow minus dissipation, plus an optional forcing f(q):

    dz/dt = (J − D(q)) ∇H(z) + f(q),    J = [[0, I], [−I, 0]],

so that without forcing dH/dt = −∇Hᵀ D ∇H ≤ 0. Against OnsagerNet it fixes the conservative
part to the canonical J and lets the dissipation depend on q only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .layers import MLP


def lower_triangular(entries, size: int):
    """(..., size, size) lower-triangular matrices from (..., size(size+1)/2) row-major entries."""
    rows, cols = np.tril_indices(size)
    return jnp.zeros((*entries.shape[:-1], size, size), entries.dtype).at[..., rows, cols].set(entries)


class SymODEN(nnx.Module):
    def __init__(
        self,
        n: int,
        *,
        width: int = 17,
        depth: int = 1,
        activation: str = "requr",
        alpha: float = 0.0,
        beta: float = 0.0,
        forcing: str = "none",
        rngs: nnx.Rngs,
        param_dtype=jnp.float32,
    ):
        if n % 2:
            raise ValueError(f"a SymODEN needs an even state dimension (q, p), got {n}")
        if alpha < 0 or beta < 0:
            raise ValueError(f"SymODEN needs alpha >= 0 and beta >= 0 (got {alpha}, {beta})")
        if forcing not in ("linear", "none"):
            raise ValueError(f"forcing must be 'linear' or 'none', got '{forcing}'")
        k = n // 2
        kw = dict(rngs=rngs, param_dtype=param_dtype)
        self.n, self.k, self.alpha, self.beta, self.forcing_kind = n, k, float(alpha), float(beta), forcing
        self.phi = MLP(k, k, width=width, depth=depth, act=activation, residual=True, **kw)  # trunk + φ head
        self.mass_head = nnx.Linear(width, k * (k + 1) // 2, **kw)
        self.dissipation_head = nnx.Linear(width, n * (n + 1) // 2, **kw)
        if forcing == "linear":
            self.force = nnx.Linear(k, n, **kw)

    def _split(self, z):
        return z[..., : self.k], z[..., self.k :]

    def matrices(self, q):
        """(M(q), D(q)): the mass matrix (k × k) and the dissipation matrix (n × n), both SPD."""
        h = self.phi.features(q)
        L_m = lower_triangular(self.mass_head(h), self.k)
        L_d = lower_triangular(self.dissipation_head(h), self.n)
        M = L_m @ jnp.swapaxes(L_m, -1, -2)
        D = L_d @ jnp.swapaxes(L_d, -1, -2) + self.alpha * jnp.eye(self.n, dtype=h.dtype)
        return M, D

    def hamiltonian(self, z):
        q, p = self._split(z)
        M, _ = self.matrices(q)
        kinetic = 0.5 * jnp.einsum("...i,...ij,...j->...", p, M, p)
        return 0.5 * jnp.sum(self.phi(q) ** 2, axis=-1) + kinetic + self.beta * jnp.sum(p**2, axis=-1)

    def potential(self, z):
        """The learned energy H: what a figure or an energy comparison reads as "V"."""
        return self.hamiltonian(z)

    def __call__(self, z):
        g = jax.grad(lambda y: jnp.sum(self.hamiltonian(y)))(z)
        g_q, g_p = self._split(g)
        _, D = self.matrices(self._split(z)[0])
        out = jnp.concatenate([g_p, -g_q], axis=-1) - jnp.einsum("...ij,...j->...i", D, g)
        if self.forcing_kind == "linear":
            out = out + self.force(self._split(z)[0])
        return out
