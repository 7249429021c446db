"""OnsagerNet (docs/science.md, "OnsagerNet"; PRF21):  dz/dt = −(M(z) + W(z)) ∇V(z) + f(z).

M = L Lᵀ + α I (symmetric positive definite), W = U − Uᵀ (antisymmetric). With
``matrices="shared"`` L (lower triangle, diagonal included) and U (strict upper triangle) are
read off one network head of n² outputs; with ``"separate"`` (NCS24's code) two networks give
full n × n matrices L and U, each squashed elementwise by tanh. V = ½ Σ φ_i(z)² + β|z|² with φ
a residual MLP plus a linear term; f(z) = F z + f₀ (or none). Every method takes states of
shape (..., n).

``conservative``: "state" (the papers') makes W = W(z) as above; "constant" makes W one learned
antisymmetric matrix, the same at every state (its strict upper triangle a parameter vector), and
the network then gives L alone (n(n+1)/2 outputs with ``matrices="shared"``, no W network with
``"separate"``). Where the true conservative part is constant (the canonical J of a damped
Hamiltonian system, also after a per-component rescaling), a constant W removes the freedom
V → g(V), M, W → M/g′, W/g′ that the dynamics leave a state-dependent W (docs/prf21_langevin.md).
"canonical" fixes W to the canonical symplectic matrix ((0, −I), (I, 0)) of z = (q, p) (n even),
nothing learned: with it V is the Hamiltonian in the units of the data, not only up to the scale
a learned constant W leaves (with ``dissipative`` on the momenta, V = H + const).

``dissipative``: None (the papers') lets M act on every state component; a sequence of indices
restricts it to those components: the rows of L outside the set are zero, so M's rows and columns
there are zero (and α is added on the set's diagonal only), M stays symmetric positive
semi-definite. A mechanical system's friction acts on the momenta alone (M = diag(0, γ) for
(x, v)); with that structure and a constant W the data admit V = H/w + const only
(docs/prf21_langevin.md, "Dissipation on the velocity alone").

``architecture``: "separate" gives φ and the (L, U) head networks of their own;
"shared" is PRF21's code's: one residual MLP whose last hidden layer feeds both the
φ head and the (L, U) head (PRF21's Lorenz net, one hidden layer of 20: 353 parameters,
the authors count 356 with two redundant biases on φ; it needs ``matrices="shared"``).
α = 0 (M = L Lᵀ, positive semi-definite) and β = 0 are the authors' Langevin settings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .layers import MLP

ARCHITECTURES = ("separate", "shared")
MATRICES = ("shared", "separate")
INITS = ("default", "prf21")
CONSERVATIVE = ("state", "constant", "canonical")
PRF21_BIAS_FRACTION = 0.5  # PRF21's code: hidden-layer biases uniform on [0, ½·gain)


class OnsagerNet(nnx.Module):
    def __init__(
        self,
        n: int,
        *,
        width: int = 32,
        depth: int = 2,
        potential_dim: int | None = None,
        alpha: float = 0.1,
        beta: float = 0.1,
        activation: str = "requr",
        forcing: str = "linear",
        architecture: str = "separate",
        matrices: str = "shared",
        matrix_width: int | None = None,
        matrix_depth: int | None = None,
        init: str = "default",
        init_gain: float = 0.1,
        conservative: str = "state",
        dissipative: Sequence[int] | None = None,
        rngs: nnx.Rngs,
        param_dtype=jnp.float32,
    ):
        if alpha < 0 or beta < 0:
            raise ValueError(f"OnsagerNet needs alpha >= 0 and beta >= 0 (got {alpha}, {beta})")
        if forcing not in ("linear", "none"):
            raise ValueError(f"forcing must be 'linear' or 'none', got '{forcing}'")
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got '{architecture}'")
        if matrices not in MATRICES:
            raise ValueError(f"matrices must be one of {MATRICES}, got '{matrices}'")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got '{init}'")
        if conservative not in CONSERVATIVE:
            raise ValueError(f"conservative must be one of {CONSERVATIVE}, got '{conservative}'")
        if init == "prf21" and architecture != "shared":
            raise ValueError(
                "init 'prf21' is the initialisation of the authors' shared net: it needs architecture 'shared'"
            )
        if architecture == "shared" and matrices != "shared":
            raise ValueError("architecture 'shared' reads one (L, U) head off φ's features: it needs matrices 'shared'")
        if dissipative is not None:
            outside = [i for i in dissipative if not 0 <= i < n]
            if outside or not dissipative or len(set(dissipative)) != len(dissipative):
                raise ValueError(
                    f"dissipative: indices must be distinct state components in [0, {n}) (state dimension {n}), "
                    f"got {list(dissipative)}"
                )
        m = potential_dim or n
        kw = dict(rngs=rngs, param_dtype=param_dtype)
        self.n, self.alpha, self.beta, self.forcing_kind = n, float(alpha), float(beta), forcing
        self.shared = architecture == "shared"
        self.matrices_kind = matrices
        if conservative == "canonical" and n % 2:
            raise ValueError(
                f"conservative: canonical pairs positions with momenta: it needs an even state dimension, got {n}"
            )
        self.constant_w = conservative in ("constant", "canonical")
        self.canonical_w = conservative == "canonical"
        # the components M acts on (None: all); a tuple, static under jit
        self.dissipative = None if dissipative is None else tuple(sorted(int(i) for i in dissipative))
        # with a constant W the matrix network gives L alone: its lower triangle, row-major
        head_size = n * (n + 1) // 2 if self.constant_w else n * n
        self.phi = MLP(n, m, width=width, depth=depth, act=activation, residual=True, **kw)
        self.phi_linear = nnx.Linear(n, m, use_bias=False, **kw)
        mkw = dict(width=matrix_width or width, depth=matrix_depth or depth, act=activation, **kw)
        if self.shared:  # the (L, U) head reads φ's last hidden layer
            self.mw_head = nnx.Linear(width, head_size, **kw)
        elif matrices == "shared":
            self.mw = MLP(n, head_size, **mkw)
        else:
            self.m_net = MLP(n, n * n, **mkw)
            if not self.constant_w:
                self.w_net = MLP(n, n * n, **mkw)
        if self.constant_w and not self.canonical_w:  # W = U − Uᵀ, U's strict upper triangle (row-major) learned
            self.w_upper = nnx.Param(jnp.zeros((n * (n - 1) // 2,), param_dtype))
        if forcing == "linear":
            self.F = nnx.Param(jnp.zeros((n, n), param_dtype))
            self.f0 = nnx.Param(jnp.zeros((n,), param_dtype))
        if init == "prf21":
            self._prf21_init(init_gain, rngs)

    def _prf21_init(self, gain: float, rngs: nnx.Rngs) -> None:
        """PRF21's code's initialisation of its shared net: hidden layers Glorot-uniform at
        ``gain``, biases uniform on [0, ½·gain); φ's head and linear term orthogonal at
        ``gain``, the head's bias uniform on [0, gain); the (L, U) head's kernel Glorot-uniform
        at ``gain`` and its bias a random orthogonal n × n matrix (row-major), so that
        M = L Lᵀ and W = U − Uᵀ start non-degenerate where the default start has them near 0.
        With a constant W the orthogonal matrix is split: its lower triangle is the head's bias,
        its strict upper triangle the constant U, so M and W start as in the state-dependent net."""
        n = self.n
        glorot = jax.nn.initializers.variance_scaling(gain**2, "fan_avg", "uniform")

        def orthogonal(shape, scale):  # torch's orthogonal_ on a (out, in) weight, as a kernel (in, out)
            return jax.nn.initializers.orthogonal(scale)(rngs.params(), shape[::-1]).T

        def uniform(shape, high):
            return jax.random.uniform(rngs.params(), shape, minval=0.0, maxval=high)

        def fill(param, make):  # every layer here has a bias: never None
            assert param is not None
            param[...] = make(param.shape).astype(param.dtype)

        for layer in (self.phi.inp, *self.phi.hidden):
            fill(layer.kernel, lambda s: glorot(rngs.params(), s))
            fill(layer.bias, lambda s: uniform(s, PRF21_BIAS_FRACTION * gain))
        fill(self.phi.out.kernel, lambda s: orthogonal(s, gain))
        fill(self.phi.out.bias, lambda s: uniform(s, gain))
        fill(self.phi_linear.kernel, lambda s: orthogonal(s, gain))
        fill(self.mw_head.kernel, lambda s: glorot(rngs.params(), s))
        start = jax.nn.initializers.orthogonal(1.0)(rngs.params(), (n, n))
        if self.constant_w:
            fill(self.mw_head.bias, lambda s: start[np.tril_indices(n)])
            if not self.canonical_w:
                fill(self.w_upper, lambda s: start[np.triu_indices(n, k=1)])
        else:
            fill(self.mw_head.bias, lambda s: start.reshape(s))

    def potential(self, z):
        phi = self.phi(z) + self.phi_linear(z)
        return 0.5 * jnp.sum(phi**2, axis=-1) + self.beta * jnp.sum(z**2, axis=-1)

    def grad_potential(self, z):
        # V of each state depends on that state alone, so the gradient of the sum is per state.
        return jax.grad(lambda y: jnp.sum(self.potential(y)))(z)

    def matrices(self, z):
        """(M, W): dissipation (SPD) and conservative (antisymmetric) matrices at z."""
        n = self.n
        shape = (*z.shape[:-1], n, n)
        if self.matrices_kind == "shared":
            a = self.mw_head(self.phi.features(z)) if self.shared else self.mw(z)
            if self.constant_w:
                rows, cols = np.tril_indices(n)
                lower = jnp.zeros(shape, a.dtype).at[..., rows, cols].set(a)
            else:
                a = a.reshape(shape)
                lower, upper = jnp.tril(a), jnp.triu(a, k=1)
        else:
            lower = jnp.tanh(self.m_net(z).reshape(shape))
            if not self.constant_w:
                upper = jnp.tanh(self.w_net(z).reshape(shape))
        if self.constant_w:
            upper = jnp.broadcast_to(self.constant_upper(), shape)
        mask = self.dissipative_mask().astype(lower.dtype)
        lower = lower * mask[:, None]  # L's rows outside the dissipative set vanish: so do M's rows and columns
        M = lower @ jnp.swapaxes(lower, -1, -2) + self.alpha * jnp.diag(mask)
        W = upper - jnp.swapaxes(upper, -1, -2)
        return M, W

    def dissipative_mask(self) -> np.ndarray:
        """1.0 on the state components M acts on, 0.0 elsewhere, shape (n,)."""
        mask = np.ones(self.n) if self.dissipative is None else np.zeros(self.n)
        if self.dissipative is not None:
            mask[list(self.dissipative)] = 1.0
        return mask

    def constant_upper(self):
        """U of the constant W = U − Uᵀ, shape (n, n), strictly upper triangular. Canonical:
        U_{i, i+n/2} = −1, so W = ((0, −I), (I, 0)) and −W∇V = (∂V/∂p, −∂V/∂q) for z = (q, p)."""
        if self.canonical_w:
            h = self.n // 2
            return jnp.asarray(-np.eye(self.n, k=h), self.phi_linear.kernel.dtype)
        u = self.w_upper[...]
        rows, cols = np.triu_indices(self.n, k=1)
        return jnp.zeros((self.n, self.n), u.dtype).at[rows, cols].set(u)

    def forcing(self, z):
        if self.forcing_kind == "none":
            return jnp.zeros_like(z)
        return z @ self.F[...].T + self.f0[...]

    def __call__(self, z):
        g = self.grad_potential(z)
        M, W = self.matrices(z)
        return -jnp.einsum("...ij,...j->...i", M + W, g) + self.forcing(z)


DIFFUSIONS = ("constant_diagonal", "diagonal", "full", "fluctuation_dissipation")


def _inverse_softplus(y: float) -> float:
    return math.log(math.expm1(y))  # plain floats: the constructor also runs under eval_shape


class SOnsagerNet(OnsagerNet):
    """S-OnsagerNet (docs/science.md, "S-OnsagerNet"; NCS24): the Itô SDE

        dZ = [−(M(Z) + W(Z)) ∇V(Z) + f(Z) (+ ε ∇·M(Z))] dt + σ(Z) dW,

    M, W, V, f those of OnsagerNet, σ of shape (n, n) by ``diffusion``:

    - "constant_diagonal": σ = diag(exp(s)), s a parameter vector;
    - "diagonal": σ(Z) = diag(softplus(g(Z)) + floor), g an MLP;
    - "full": σ(Z) lower triangular, its n(n+1)/2 entries from an MLP, diagonal
      softplus(·) + floor (so σ is the Cholesky factor of σσᵀ);
    - "fluctuation_dissipation": σσᵀ = 2εM(Z), σ = √(2ε) chol(M(Z)), ε = exp(log_eps) > 0
      learned, and the drift gains ε ∇·M with (∇·M)_i = Σ_j ∂M_ij/∂Z_j.

    Why ε ∇·M (f = W = 0): the Fokker–Planck equation of dZ = b dt + σ dW (Itô) is
    ∂p/∂t = −∂_i J_i, J_i = b_i p − ∂_j(D_ij p), D = σσᵀ/2 = εM. For p ∝ exp(−V/ε),
    ∂_j(D_ij p) = p [ε ∂_j M_ij − M_ij ∂_j V], so J_i = p [b_i − ε(∇·M)_i + (M∇V)_i], which
    vanishes (detailed balance, p stationary) exactly when b = −M∇V + ε∇·M. Without the
    correction a state-dependent M would shift the stationary density away from
    exp(−V/ε). Caveat (our derivation): with a state-dependent W, exp(−V/ε) stays
    stationary only if the drift also gains ε∇·W; with the ε∇·M term alone it holds for
    W = 0 or constant W (then J = −p W∇V is divergence free; ``conservative="constant"``).
    f ≠ 0 breaks it in general.

    ``drift``, ``sigma`` (..., n, n), ``diffusion_matrix`` = σσᵀ take states (..., n);
    ``__call__`` is the drift, so deterministic tools (fixed points, rollouts) see it.
    ``sigma_init`` sets the initial noise amplitude per component (state independent at
    initialisation: the last layer of the noise MLP starts at zero; for the
    fluctuation–dissipation form ε is chosen so that 2ε tr M(0)/n = sigma_init²).
    """

    def __init__(
        self,
        n: int,
        *,
        diffusion: str = "constant_diagonal",
        sigma_init: float = 1.0,
        sigma_floor: float = 1e-3,
        width: int = 32,
        depth: int = 2,
        rngs: nnx.Rngs,
        param_dtype=jnp.float32,
        **kwargs,
    ):
        super().__init__(n, width=width, depth=depth, rngs=rngs, param_dtype=param_dtype, **kwargs)
        if diffusion not in DIFFUSIONS:
            raise ValueError(f"diffusion must be one of {DIFFUSIONS}, got '{diffusion}'")
        if sigma_init <= sigma_floor or sigma_floor < 0:
            raise ValueError(f"need sigma_init > sigma_floor >= 0 (got {sigma_init}, {sigma_floor})")
        self.diffusion_kind, self.sigma_floor = diffusion, float(sigma_floor)
        act = kwargs.get("activation", "requr")
        if diffusion == "constant_diagonal":
            self.log_sigma = nnx.Param(jnp.full((n,), jnp.log(sigma_init), param_dtype))
        elif diffusion == "fluctuation_dissipation":
            # ε from M at the origin, so that σσᵀ = 2εM starts near sigma_init² there too
            # (at initialisation M ≈ αI, far below one for the usual small α).
            M0 = self.matrices(jnp.zeros((n,), param_dtype))[0]
            eps0 = sigma_init**2 / (2.0 * jnp.trace(M0) / n)
            self.log_eps = nnx.Param(jnp.asarray(jnp.log(eps0), param_dtype))
        else:
            n_out = n if diffusion == "diagonal" else n * (n + 1) // 2
            self.noise = MLP(n, n_out, width=width, depth=depth, act=act, rngs=rngs, param_dtype=param_dtype)
            bias = jnp.zeros((n_out,), param_dtype)
            diag = np.arange(n) if diffusion == "diagonal" else self._tril_diagonal_slots()
            bias = bias.at[diag].set(_inverse_softplus(sigma_init - sigma_floor))
            out = self.noise.out
            assert out.bias is not None  # the output layer has a bias
            out.kernel[...] = jnp.zeros_like(out.kernel[...])
            out.bias[...] = bias

    def _tril_diagonal_slots(self):
        """Positions of the diagonal among the row-major lower-triangle entries."""
        rows, cols = np.tril_indices(self.n)
        return np.nonzero(rows == cols)[0]

    @property
    def eps(self):
        """The temperature ε of the fluctuation–dissipation form."""
        return jnp.exp(self.log_eps[...])

    def divergence_M(self, z):
        """(∇·M)_i = Σ_j ∂M_ij/∂z_j by forward-mode autodiff: one JVP per direction e_j
        (M at each state depends on that state alone, so a broadcast tangent is exact)."""

        def dM(e):
            tangent = jnp.broadcast_to(e, z.shape)
            return jax.jvp(lambda y: self.matrices(y)[0], (z,), (tangent,))[1]

        dMs = jax.vmap(dM)(jnp.eye(self.n, dtype=z.dtype))  # (j, ..., n, n): ∂M/∂z_j
        return jnp.einsum("j...ij->...i", dMs)

    def drift(self, z):
        b = super().__call__(z)
        if self.diffusion_kind == "fluctuation_dissipation":
            b = b + self.eps * self.divergence_M(z)
        return b

    def __call__(self, z):
        return self.drift(z)

    def sigma(self, z):
        """σ(z), shape (..., n, n); lower triangular with a positive diagonal for every kind."""
        kind, n = self.diffusion_kind, self.n
        if kind == "constant_diagonal":
            return jnp.broadcast_to(jnp.diag(jnp.exp(self.log_sigma[...])), (*z.shape[:-1], n, n))
        if kind == "fluctuation_dissipation":
            M, _ = self.matrices(z)
            if self.dissipative is None:
                return jnp.sqrt(2.0 * self.eps) * jnp.linalg.cholesky(M)
            # M is zero outside the dissipative set: the Cholesky factor of M + (identity there)
            # has the same block pattern, and with those rows zeroed σσᵀ = 2εM exactly
            off = jnp.asarray(1.0 - self.dissipative_mask(), M.dtype)
            chol = jnp.linalg.cholesky(M + jnp.diag(off))
            return jnp.sqrt(2.0 * self.eps) * chol * (1.0 - off)[:, None]
        out = self.noise(z)
        if kind == "diagonal":
            d = jax.nn.softplus(out) + self.sigma_floor
            return d[..., :, None] * jnp.eye(n, dtype=d.dtype)
        rows, cols = np.tril_indices(n)
        entries = jnp.where(rows == cols, jax.nn.softplus(out) + self.sigma_floor, out)
        return jnp.zeros((*z.shape[:-1], n, n), out.dtype).at[..., rows, cols].set(entries)

    def diffusion_matrix(self, z):
        """σσᵀ(z), shape (..., n, n): the covariance of dZ per unit time."""
        s = self.sigma(z)
        return s @ jnp.swapaxes(s, -1, -2)
