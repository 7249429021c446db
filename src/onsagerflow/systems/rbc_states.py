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
KRYLOV = 60  # Arnoldi steps for the leading eigenvalues
LINE_SEARCH_STEPS = 8
# Shooting gives up after this many Newton steps in a row that did not halve the best residual:
# near an orbit it converges quadratically (3–5 steps from a near-return), far from one it
# crawls with short line-search steps at ~a minute each on the workflow's grids.
SHOOTING_STALL = 3


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


def arnoldi_ritz_values(matvec, x0: np.ndarray, krylov: int = KRYLOV) -> np.ndarray:
    """Ritz values of a linear map (flat real vectors) from ``krylov`` Arnoldi steps from x0
    (modified Gram–Schmidt, applied twice)."""
    Q = [x0.ravel() / np.linalg.norm(x0)]
    H = np.zeros((krylov + 1, krylov))
    for j in range(krylov):
        v = matvec(Q[j])
        for _ in range(2):
            for i in range(j + 1):
                c = Q[i] @ v
                H[i, j] += c
                v = v - c * Q[i]
        H[j + 1, j] = np.linalg.norm(v)
        if H[j + 1, j] < 1e-14:
            return np.linalg.eigvals(H[: j + 1, : j + 1])
        Q.append(v / H[j + 1, j])
    return np.linalg.eigvals(H[:krylov, :krylov])


def _random_direction(solver: Solver, shape, seed: int) -> np.ndarray:
    x = jnp.asarray(np.random.default_rng(seed).normal(size=shape))
    return np.asarray(_real(solver.project(_complex(x))))


def leading_eigenvalues(solver: Solver, s, horizon: float, k: int = 8, krylov: int = KRYLOV, seed: int = 0):
    """The k eigenvalues of largest real part of the PDE linearised at s (units 1/(d²/κ)),
    from the Jacobian A of the time-``horizon`` map (a whole number of solver steps): Ritz values
    μ of Arnoldi on A (its spectrum decays fast, so the leading μ converge first),
    λ = log μ / horizon. |Im λ| must stay below π/horizon."""
    n_steps = max(1, int(round(horizon / solver.dt)))
    phi = flow_map(solver, n_steps)
    s = jnp.asarray(s)
    shape = _real(s).shape
    jvp = jax.jit(lambda d: _real(jax.jvp(phi, (s,), (solver.project(_complex(d)),))[1]))
    mu = arnoldi_ritz_values(
        lambda x: np.asarray(jvp(jnp.asarray(x.reshape(shape)))).ravel(), _random_direction(solver, shape, seed), krylov
    )
    mu = mu[np.abs(mu) > 1e-12]
    lam = np.log(mu.astype(complex)) / (n_steps * solver.dt)
    return lam[np.argsort(-lam.real)][:k]


def gmres_numpy(matvec, b: np.ndarray, tol: float, m: int = GMRES_RESTART, restarts: int = 4) -> np.ndarray:
    """Restarted GMRES on flat float64 vectors (Arnoldi with twice-applied Gram–Schmidt, the
    small least-squares problem by numpy); stops at ‖b − Ax‖ ≤ tol·‖b‖ or a happy breakdown."""
    x = np.zeros_like(b)
    bnorm = np.linalg.norm(b)
    for _ in range(restarts):
        r = b - matvec(x) if x.any() else b.copy()
        beta = np.linalg.norm(r)
        if beta <= tol * bnorm:
            break
        Q, H = [r / beta], np.zeros((m + 1, m))
        k = m
        for j in range(m):
            v = matvec(Q[j])
            for _ in range(2):
                for i in range(j + 1):
                    c = Q[i] @ v
                    H[i, j] += c
                    v = v - c * Q[i]
            H[j + 1, j] = np.linalg.norm(v)
            e1 = np.zeros(j + 2)
            e1[0] = beta
            y = np.linalg.lstsq(H[: j + 2, : j + 1], e1, rcond=None)[0]
            if H[j + 1, j] < 1e-14 * beta or np.linalg.norm(e1 - H[: j + 2, : j + 1] @ y) <= tol * bnorm:
                k = j + 1
                break
            Q.append(v / H[j + 1, j])
        e1 = np.zeros(k + 1)
        e1[0] = beta
        y = np.linalg.lstsq(H[: k + 1, :k], e1, rcond=None)[0]
        x = x + np.stack(Q[:k], axis=1) @ y
    return x


@dataclass
class PeriodicOrbit:
    state: np.ndarray  # a point on the orbit, spectral
    period: float  # d²/κ
    residual: float  # ‖Φ_T(s) − s‖/‖s‖
    newton_steps: int
    converged: bool
    multipliers: np.ndarray | None = None  # leading Floquet multipliers, by modulus


class PeriodicSolver:
    """Shooting for periodic orbits: Newton–GMRES on (s, T) with Φ_T(s) = s and the phase
    condition ⟨F(s₀), s − s₀⟩ = 0, Φ_T ``n_steps`` steps of size T/n_steps of the solver's
    scheme (the step is differentiated through, so ∂Φ/∂T is exact for the discrete map).

    ``solver`` needs ``rhs`` (the explicit part N) and ``project``; the diffusion D of
    ds/dt = N(s) − D s, integrated exactly, is the RBC solver's (Pr q², q²) unless given — any
    stiff system of that form (complex states) goes through the same code."""

    def __init__(self, solver: Solver, n_steps: int, diffusion=None):
        self.solver, self.n = solver, int(n_steps)
        if diffusion is None:
            _, _, q2 = solver.grid.wavenumbers()
            diffusion = jnp.asarray(np.stack([solver.pr * q2, q2]), solver.rdtype)
        self.D = jnp.asarray(diffusion)
        self._residual = jax.jit(self.residual)
        self._matvec = jax.jit(self._jvp)

    def F(self, s):
        """The time derivative N(s) − D s of the projected state."""
        return self.solver.project(self.solver.rhs(s) - self.D * s)

    def step(self, s, h):
        sol = self.solver
        E1, E2 = jnp.exp(-self.D * h / 2), jnp.exp(-self.D * h)
        k1 = sol.rhs(s)
        k2 = sol.rhs(E1 * (s + 0.5 * h * k1))
        k3 = sol.rhs(E2 * (s - h * k1) + 2 * h * E1 * k2)
        return sol.project(E2 * s + h / 6.0 * (E2 * k1 + 4.0 * E1 * k2 + k3))

    def phi(self, s, period):
        h = period / self.n
        return jax.lax.scan(lambda x, _: (self.step(x, h), None), s, None, length=self.n)[0]

    def _pack(self, v, period):
        return jnp.concatenate([v.ravel(), jnp.atleast_1d(period)])

    def _unpack(self, x, shape):
        return x[:-1].reshape(shape), x[-1]

    def residual(self, x, s0, f0):
        v, period = self._unpack(x, _real(s0).shape)
        s = self.solver.project(_complex(v))
        r = _real(self.phi(s, period) - s)
        return jnp.concatenate([r.ravel(), jnp.atleast_1d(jnp.vdot(f0, v - _real(s0)).real)])

    def _jvp(self, x, s0, f0, d):
        return jax.jvp(lambda y: self.residual(y, s0, f0), (x,), (d,))[1]

    def solve(self, s0, period0: float, tol: float = 1e-8, max_newton: int = 20) -> PeriodicOrbit:
        s0 = self.solver.project(jnp.asarray(s0))
        f = _real(self.F(s0))
        f0 = f / jnp.linalg.norm(f)
        x = self._pack(_real(s0), period0)
        size = float(jnp.linalg.norm(s0))
        res = float(jnp.linalg.norm(self._residual(x, s0, f0)[:-1])) / size
        k, best, stalled = 0, res, 0
        for k in range(1, max_newton + 1):
            if res <= tol:
                k -= 1
                break
            if stalled >= SHOOTING_STALL:
                log.info("shooting gave up: the residual did not halve in %d steps", stalled)
                k -= 1
                break
            r = np.asarray(self._residual(x, s0, f0))
            rnorm = np.linalg.norm(r)
            delta = gmres_numpy(
                lambda d, x=x: np.asarray(self._matvec(x, s0, f0, jnp.asarray(d))), -r, tol=min(1e-2, max(res, 1e-10))
            )
            step = 1.0
            for _ in range(LINE_SEARCH_STEPS):
                trial = x + step * delta
                if float(jnp.linalg.norm(self._residual(trial, s0, f0))) < float(rnorm):
                    break
                step *= 0.5
            x = trial
            res = float(jnp.linalg.norm(self._residual(x, s0, f0)[:-1])) / size
            stalled = 0 if res < 0.5 * best else stalled + 1
            best = min(best, res)
            log.info(
                "shooting step %d: relative residual %.3e, period %.6g (step length %g)", k, res, float(x[-1]), step
            )
        v, period = self._unpack(x, _real(s0).shape)
        s = np.asarray(self.solver.project(_complex(v)))
        return PeriodicOrbit(s, float(period), res, k, bool(res <= tol))

    def multipliers(self, orbit: PeriodicOrbit, k: int = 6, seed: int = 0) -> np.ndarray:
        """The k leading Floquet multipliers (eigenvalues of the monodromy DΦ_T), by modulus;
        one of them is 1 (along the orbit)."""
        s = jnp.asarray(orbit.state)
        shape = _real(s).shape
        jvp = jax.jit(
            lambda d: _real(jax.jvp(lambda y: self.phi(y, orbit.period), (s,), (self.solver.project(_complex(d)),))[1])
        )
        mu = arnoldi_ritz_values(
            lambda x: np.asarray(jvp(jnp.asarray(x.reshape(shape)))).ravel(),
            _random_direction(self.solver, shape, seed),
        )
        return mu[np.argsort(-np.abs(mu))][:k]

    def samples(self, orbit: PeriodicOrbit, count: int) -> np.ndarray:
        """``count`` states along the orbit from its point, at the steps nearest the phases
        j/count (j = 0, …, count − 1) of the period: (count, *state.shape)."""
        h = orbit.period / self.n
        run = jax.jit(lambda s: jax.lax.scan(lambda x, _: (self.step(x, h), x), s, None, length=self.n)[1])
        states = np.asarray(run(jnp.asarray(orbit.state)))
        return states[np.round(np.arange(count) * self.n / count).astype(int) % self.n]
