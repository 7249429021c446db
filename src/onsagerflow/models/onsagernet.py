"""OnsagerNet (SCIENCE.md §1, PRF21):  dz/dt = −(M(z) + W(z)) ∇V(z) + f(z).

M = L Lᵀ + α I (symmetric positive definite), W = U − Uᵀ (antisymmetric), with L
(lower triangle, diagonal included) and U (strict upper triangle) read off one
network head of n² outputs; V = ½ Σ φ_i(z)² + β|z|² with φ a residual MLP plus a
linear term; f(z) = F z + f₀ (or none). Every method takes states of shape (..., n).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from .layers import MLP


class OnsagerNet(nnx.Module):
    def __init__(self, n: int, *, width: int = 32, depth: int = 2, potential_dim: int | None = None,
                 alpha: float = 0.1, beta: float = 0.1, activation: str = "requr",
                 forcing: str = "linear", rngs: nnx.Rngs, param_dtype=jnp.float32):
        if alpha <= 0 or beta <= 0:
            raise ValueError(f"OnsagerNet needs alpha > 0 and beta > 0 (got {alpha}, {beta})")
        if forcing not in ("linear", "none"):
            raise ValueError(f"forcing must be 'linear' or 'none', got '{forcing}'")
        m = potential_dim or n
        kw = dict(rngs=rngs, param_dtype=param_dtype)
        self.n, self.alpha, self.beta, self.forcing_kind = n, float(alpha), float(beta), forcing
        self.phi = MLP(n, m, width=width, depth=depth, act=activation, residual=True, **kw)
        self.phi_linear = nnx.Linear(n, m, use_bias=False, **kw)
        self.mw = MLP(n, n * n, width=width, depth=depth, act=activation, **kw)
        if forcing == "linear":
            self.F = nnx.Param(jnp.zeros((n, n), param_dtype))
            self.f0 = nnx.Param(jnp.zeros((n,), param_dtype))

    def potential(self, z):
        phi = self.phi(z) + self.phi_linear(z)
        return 0.5 * jnp.sum(phi**2, axis=-1) + self.beta * jnp.sum(z**2, axis=-1)

    def grad_potential(self, z):
        # V of each state depends on that state alone, so the gradient of the sum is per state.
        return jax.grad(lambda y: jnp.sum(self.potential(y)))(z)

    def matrices(self, z):
        """(M, W): dissipation (SPD) and conservative (antisymmetric) matrices at z."""
        a = self.mw(z).reshape(*z.shape[:-1], self.n, self.n)
        lower = jnp.tril(a)
        upper = jnp.triu(a, k=1)
        eye = jnp.eye(self.n, dtype=a.dtype)
        M = lower @ jnp.swapaxes(lower, -1, -2) + self.alpha * eye
        W = upper - jnp.swapaxes(upper, -1, -2)
        return M, W

    def forcing(self, z):
        if self.forcing_kind == "none":
            return jnp.zeros_like(z)
        return z @ self.F[...].T + self.f0[...]

    def __call__(self, z):
        g = self.grad_potential(z)
        M, W = self.matrices(z)
        return -jnp.einsum("...ij,...j->...i", M + W, g) + self.forcing(z)
