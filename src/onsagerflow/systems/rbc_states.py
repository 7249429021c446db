"""The RBC PDE's own invariant sets: steady states by Newton–Krylov, periodic orbits by
shooting, and their linear stability — in the solver's spectral space and units (d²/κ).

Steady states solve F(s) = N(s) − L s = 0, N the explicit part of the equations (advection,
buoyancy, the conduction gradient's w) and L s = (Pr q² ζ̂, q² θ̂) diffusion. Newton's method
works on G(s) = s − L⁻¹N(s) = −L⁻¹F(s), which has the same zeros: its Jacobian I − L⁻¹DN is
the identity plus a compact part (diffusion preconditions the stiff modes away), so GMRES on
Jacobian–vector products converges in a few dozen iterations at any resolution. A state is
converged when ‖F(s)‖ ≤ tol · ‖L s‖ (the steady equation's residual against its diffusion).

Periodic orbits solve Φ_T(s) − s = 0 with the period T an unknown, Φ_T the time-T map of
the solver's own scheme (T/n steps of the integrating-factor RK3, differentiable in T), and the
phase fixed by ⟨F(s₀), s − s₀⟩ = 0; Newton–GMRES on the bordered system.

Stability: the leading eigenvalues of the linearised flow from the time-τ map's Jacobian
(Arnoldi, scipy's ARPACK): λ = log μ / τ.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.sparse.linalg import gmres

from .rbc import Solver

log = logging.getLogger("onsagerflow.systems.rbc_states")

STEADY_TOL = 1e-10  # ‖F(s)‖/‖L s‖ at which a steady state counts as converged
MAX_NEWTON = 40
GMRES_RESTART = 40
LINE_SEARCH_STEPS = 8


def _real(s):
    return jnp.stack([s.real, s.imag])


def _complex(v):
    return v[0] + 1j * v[1]


@dataclass
class SteadyState:
    state: np.ndarray  # spectral (2, 2nz, nx//2+1)
    residual: float  # ‖F‖/‖L s‖
    newton_steps: int
    converged: bool


class SteadySolver:
    """Newton–Krylov for steady states of one solver's equations."""

    def __init__(self, solver: Solver):
        self.solver = solver
        _, _, q2 = solver.grid.wavenumbers()
        diff = np.stack([solver.pr * q2, q2])
        self.L = jnp.asarray(diff, solver.rdtype)
        self.L_inv = jnp.asarray(np.where(diff > 0, 1.0 / np.where(diff > 0, diff, 1.0), 0.0), solver.rdtype)
        self._G = jax.jit(self.G)
        self._residual = jax.jit(self.relative_residual)
        self._newton_step = jax.jit(self._step, static_argnames=("restart",))

    def F(self, s):
        """The time derivative of the projected state (zero at a steady state)."""
        sol = self.solver
        return sol.project(sol.rhs(s) - self.L * s)

    def G(self, v):
        s = self.solver.project(_complex(v))
        return _real(s - self.solver.project(self.L_inv * self.solver.rhs(s)))

    def relative_residual(self, s):
        return jnp.linalg.norm(self.F(s)) / jnp.maximum(jnp.linalg.norm(self.L * s), 1e-300)

    def _step(self, v, gtol, restart: int):
        g = self.G(v)
        matvec = lambda d: jax.jvp(self.G, (v,), (d,))[1]
        delta, _ = gmres(matvec, -g, tol=gtol, restart=restart, maxiter=4)
        return delta, jnp.linalg.norm(g)

    def solve(self, s0, tol: float = STEADY_TOL, max_newton: int = MAX_NEWTON) -> SteadyState:
        """Newton from s0 with a backtracking line search on ‖G‖; GMRES to a relative
        tolerance that tightens as the residual falls (inexact Newton)."""
        v = _real(self.solver.project(jnp.asarray(s0)))
        res = float(self._residual(_complex(v)))
        k = 0
        for k in range(1, max_newton + 1):
            if res <= tol:
                k -= 1
                break
            delta, gnorm = self._newton_step(v, min(1e-2, max(res, 1e-12)), restart=GMRES_RESTART)
            step = 1.0
            for _ in range(LINE_SEARCH_STEPS):
                trial = v + step * delta
                if float(jnp.linalg.norm(self._G(trial))) < float(gnorm):
                    break
                step *= 0.5
            v = trial
            res = float(self._residual(_complex(v)))
            log.info("Newton step %d: relative residual %.3e (step length %g)", k, res, step)
        s = np.asarray(self.solver.project(_complex(v)))
        return SteadyState(s, res, k, bool(res <= tol))


def flow_map(solver: Solver, n_steps: int):
    """s ↦ the state after n_steps of the solver's scheme (no CFL guard), jitted."""

    def phi(s):
        return jax.lax.scan(lambda x, _: (solver.step(x), None), s, None, length=n_steps)[0]

    return jax.jit(phi)


def leading_eigenvalues(solver: Solver, s, horizon: float, k: int = 8) -> np.ndarray:
    """The k eigenvalues of largest real part of the PDE linearised at s (units 1/(d²/κ)),
    from the Jacobian of the time-``horizon`` map (horizon a whole number of solver steps)."""
    from scipy.sparse.linalg import LinearOperator, eigs

    n_steps = max(1, int(round(horizon / solver.dt)))
    phi = flow_map(solver, n_steps)
    s = jnp.asarray(s)
    shape = _real(s).shape
    size = int(np.prod(shape))
    jvp = jax.jit(lambda d: _real(jax.jvp(phi, (s,), (solver.project(_complex(d)),))[1]))

    def matvec(x):
        return np.asarray(jvp(jnp.asarray(np.real(x).reshape(shape)))).ravel()

    mu = eigs(LinearOperator((size, size), matvec=matvec, dtype=np.float64), k=k, which="LM", return_eigenvectors=False)
    mu = mu[np.abs(mu) > 1e-12]
    lam = np.log(mu.astype(complex)) / (n_steps * solver.dt)
    return lam[np.argsort(-lam.real)]
