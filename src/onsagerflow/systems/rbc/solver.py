"""The RBC solver in d²/κ units: the streamfunction–vorticity equations (u = ∂ψ/∂z,
w = −∂ψ/∂x, ζ = ∇²ψ)

    ∂ζ/∂t + u·∇ζ = Pr ∇²ζ − Ra Pr ∂θ/∂x
    ∂θ/∂t + u·∇θ = w + ∇²θ

on the doubled-z grid (module ``grid``), for a batch of spectral states. Diffusion is exact
(integrating factor), advection and buoyancy explicit with Kutta's 3-stage, third-order
Runge–Kutta in Lawson form; products are dealiased by the 2/3 rule and each step projects
back onto the sine parity in z. A CFL guard freezes a trajectory whose Courant number passes
``cfl_max``; the caller then fails naming it instead of writing NaN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import UserError
from ...lazy_import import lazy
from .grid import Grid, reflect_z

if TYPE_CHECKING:
    import jax
    import jax.numpy as jnp
else:
    jax, jnp = lazy("jax"), lazy("jax.numpy")


class CFLError(UserError, FloatingPointError):
    """The Courant number passed its limit: the time step is too large for the flow."""


class Solver:
    """One jitted step and a scanned run for a batch of trajectories (spectral states)."""

    def __init__(
        self,
        grid: Grid,
        ra: float,
        pr: float,
        dt: float,
        *,
        reflection: bool = True,
        cfl_max: float = 0.8,
        dtype=None,
    ):
        dtype = jnp.float64 if dtype is None else dtype  # a default of jnp's would import JAX (lazy_import)
        self.grid, self.ra, self.pr, self.dt = grid, float(ra), float(pr), float(dt)
        self.reflection, self.cfl_max = reflection, float(cfl_max)
        self.rdtype = dtype
        self.cdtype = jnp.complex128 if dtype == jnp.float64 else jnp.complex64
        KZ, KX, Q2 = grid.wavenumbers()
        self.ikx = jnp.asarray(1j * KX, self.cdtype)
        self.ikz = jnp.asarray(1j * KZ, self.cdtype)
        self.inv_q2 = jnp.asarray(np.where(Q2 > 0, 1.0 / np.where(Q2 > 0, Q2, 1.0), 0.0), dtype)
        self.mask = jnp.asarray(grid.dealias(), dtype)
        h = self.dt
        # integrating factors for ζ (viscosity Pr) and θ (diffusivity 1), steps h/2 and h
        self.E_half = jnp.asarray(np.stack([np.exp(-pr * Q2 * h / 2), np.exp(-Q2 * h / 2)]), dtype)
        self.E_full = jnp.asarray(np.stack([np.exp(-pr * Q2 * h), np.exp(-Q2 * h)]), dtype)
        dz, dx = 1.0 / grid.nz, grid.length / grid.nx
        self.inv_spacing = (1.0 / dx, 1.0 / dz)
        # the compiled batch runs, one per (n_save, every): jit compiles a new function object
        # afresh, so each is built once and reused across batches (jit itself caches by shape)
        self._runs: dict[tuple[int, int], Any] = {}

    # --- transforms: the state is (2, 2nz, nx//2+1) complex: ζ̂ and θ̂
    def to_physical(self, f):
        return jnp.fft.irfft2(f, s=(2 * self.grid.nz, self.grid.nx), axes=(-2, -1))

    def to_spectral(self, f):
        return jnp.fft.rfft2(f, axes=(-2, -1))

    def project(self, s):
        """Keep the sine parity in z (odd extension) and, optionally, the x-reflection
        symmetric subspace (θ even, ζ odd in x), and the dealiased modes."""
        s = 0.5 * (s - reflect_z(s))
        if self.reflection:
            # f(z, −x) ↔ conj(f̂(−m, n)); combined with oddness in z: conj(−f̂(m, n))
            mirror = -jnp.conj(s)
            s = 0.5 * (s + jnp.stack([-mirror[0], mirror[1]]))
        return s * self.mask

    def velocity(self, s):
        psi = -s[0] * self.inv_q2
        return self.ikz * psi, -self.ikx * psi  # û, ŵ

    def rhs(self, s):
        """Explicit part: −u·∇ζ − Ra Pr ∂θ/∂x and −u·∇θ + w."""
        zeta, theta = s[0], s[1]
        uh, wh = self.velocity(s)
        u, w = self.to_physical(uh), self.to_physical(wh)
        adv = jnp.stack(
            [
                u * self.to_physical(self.ikx * zeta) + w * self.to_physical(self.ikz * zeta),
                u * self.to_physical(self.ikx * theta) + w * self.to_physical(self.ikz * theta),
            ]
        )
        adv = self.to_spectral(adv) * self.mask
        return jnp.stack([-adv[0] - self.ra * self.pr * self.ikx * theta, -adv[1] + wh])

    def step(self, s):
        h, E1, E2 = self.dt, self.E_half, self.E_full
        k1 = self.rhs(s)
        k2 = self.rhs(E1 * (s + 0.5 * h * k1))
        k3 = self.rhs(E2 * (s - h * k1) + 2 * h * E1 * k2)
        return self.project(E2 * s + h / 6.0 * (E2 * k1 + 4.0 * E1 * k2 + k3))

    def courant(self, s):
        uh, wh = self.velocity(s)
        u, w = self.to_physical(uh), self.to_physical(wh)
        return self.dt * jnp.max(jnp.abs(u) * self.inv_spacing[0] + jnp.abs(w) * self.inv_spacing[1])

    def run(self, s0, n_save: int, every: int):
        """Advance a batch (B, 2, 2nz, nx//2+1) and keep every ``every``-th state.

        Returns (saved states (B, n_save, ...), largest Courant number per trajectory,
        index of the save at which a trajectory was frozen by the CFL guard or −1).
        """
        key = (int(n_save), int(every))
        if key not in self._runs:
            self._runs[key] = self._compile_run(*key)
        return self._runs[key](s0)

    def _compile_run(self, n_save: int, every: int):
        def one(s0):
            def inner(carry, _):
                s, frozen = carry
                s_new = self.step(s)
                bad = (self.courant(s_new) > self.cfl_max) | ~jnp.all(jnp.isfinite(s_new.real))
                frozen = frozen | bad
                return (jnp.where(frozen, s, s_new), frozen), None

            def outer(carry, i):
                s, frozen, cmax, when = carry
                (s, frozen2), _ = jax.lax.scan(inner, (s, frozen), None, length=every)
                when = jnp.where(frozen2 & ~frozen, i, when)
                cmax = jnp.maximum(cmax, self.courant(s))
                return (s, frozen2, cmax, when), s

            init = (s0, jnp.array(False), self.courant(s0), jnp.array(-1))
            (_, _, cmax, when), saved = jax.lax.scan(outer, init, jnp.arange(1, n_save))
            return jnp.concatenate([s0[None], saved]), cmax, when

        return jax.jit(jax.vmap(one))

    # --- diagnostics on physical fields
    def fields(self, s):
        """(u, w, θ) on the physical grid, walls included: (..., 3, nz+1, nx)."""
        uh, wh = self.velocity(s)
        nz = self.grid.nz
        return jnp.stack([self.to_physical(uh), self.to_physical(wh), self.to_physical(s[..., 1, :, :])], axis=-3)[
            ..., : nz + 1, :
        ]

    def state_from_fields(self, f):
        """The spectral state of physical fields (..., 3, nz+1, nx) of u, w, θ (d²/κ units),
        walls included: the inverse of ``fields``. The doubled domain extends u evenly and
        w, θ oddly in z; ζ = ∂u/∂z − ∂w/∂x."""
        f = jnp.asarray(f, self.rdtype)
        inner = f[..., 1:-1, :][..., ::-1, :]  # z in (1, 0), reflected to (1, 2)
        u = jnp.concatenate([f[..., 0, :, :], inner[..., 0, :, :]], axis=-2)
        w = jnp.concatenate([f[..., 1, :, :], -inner[..., 1, :, :]], axis=-2)
        th = jnp.concatenate([f[..., 2, :, :], -inner[..., 2, :, :]], axis=-2)
        zeta = self.ikz * self.to_spectral(u) - self.ikx * self.to_spectral(w)
        return self.project(jnp.stack([zeta, self.to_spectral(th)], axis=-3))

    def averages(self, s):
        """Volume averages ⟨wθ⟩, ⟨|∇θ|²⟩, ⟨|∇u|²⟩ (the doubled domain averages the
        physical one exactly: every integrand is even in z)."""
        uh, wh = self.velocity(s)
        th = s[..., 1, :, :]
        P = self.to_physical
        mean = lambda f: jnp.mean(f, axis=(-2, -1))
        wt = mean(P(wh) * P(th))
        grad_t = mean(P(self.ikx * th) ** 2 + P(self.ikz * th) ** 2)
        grad_u = mean(P(self.ikx * uh) ** 2 + P(self.ikz * uh) ** 2 + P(self.ikx * wh) ** 2 + P(self.ikz * wh) ** 2)
        return wt, grad_t, grad_u

    def nusselt(self, s):
        """Nu = 1 + ⟨wθ⟩."""
        return 1.0 + self.averages(s)[0]
