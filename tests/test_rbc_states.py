"""The PDE's own steady states by Newton–Krylov and their linear stability."""

import jax.numpy as jnp
import numpy as np
import pytest

from onsagerflow.analysis.periodic_orbits import near_returns
from onsagerflow.stages.pde_orbits import prime_period
from onsagerflow.systems.rbc import RA_C, Grid, Solver, growth_rate, lorenz_mode_states
from onsagerflow.systems.rbc_states import PeriodicSolver, SteadySolver, leading_eigenvalues

R, PR = 28.0, 10.0


@pytest.fixture(scope="module")
def roll():
    solver = Solver(Grid(nx=16, nz=8), R * RA_C, PR, dt=1e-4)
    s0 = lorenz_mode_states(solver, np.array([[12.0, 12.0, 28.0]]))
    settled, _, _ = solver.run(s0, 2, 300)  # 0.03 d²/κ: near the one-roll state, not on it
    return solver, settled[0, -1], SteadySolver(solver).solve(settled[0, -1])


def test_newton_krylov_converges_to_a_steady_roll_with_the_nusselt_identities(roll):
    """At a steady state, averaging the θ and momentum equations against θ and u gives exactly
    Nu = 1 + ⟨wθ⟩ = 1 + ⟨|∇θ|²⟩ and ⟨|∇u|²⟩ = Ra⟨wθ⟩ (no time average needed)."""
    solver, start, st = roll
    assert st.converged and st.residual <= 1e-8
    assert float(SteadySolver(solver).relative_residual(jnp.asarray(start))) > 1e-4  # it had work to do
    wt, grad_t, grad_u = (float(a) for a in solver.averages(jnp.asarray(st.state)))
    assert wt > 1.0  # convecting, not the conduction state
    assert 1 + grad_t == pytest.approx(1 + wt, rel=1e-9)
    assert grad_u == pytest.approx(solver.ra * wt, rel=1e-9)


@pytest.mark.slow
def test_the_steady_roll_is_stable_and_the_conduction_state_grows_at_the_linear_rate(roll):
    solver, _, st = roll
    lam = leading_eigenvalues(solver, st.state, horizon=0.002, k=6)
    assert lam[0].real < 0, lam
    # conduction (s = 0): the modes e^{ikx} sin(nπz), k = m k_c, grow at the roots of the dispersion
    # relation; at r = 28 the fastest is m = 2, then m = 1 (both n = 1)
    # (a step of 1e-5: the RK3 scheme's O((λ dt)³) error is about 1e-8)
    fine = Solver(solver.grid, solver.ra, PR, dt=1e-5)
    lam0 = leading_eigenvalues(fine, jnp.zeros_like(jnp.asarray(st.state)), horizon=0.002, k=4)
    rates = sorted((growth_rate(solver.ra, PR, m * np.pi / np.sqrt(2)) for m in (1, 2, 3)), reverse=True)
    # (measured: relative error 1.5e-5 at dt = 1e-4, 1.5e-8 at 1e-5 — third order)
    np.testing.assert_allclose(lam0.real[:3], rates, rtol=5e-8)


class _StiffHopf:
    """A stiff ODE of the PDE's form ds/dt = N(s) − D s on complex states s = (a, b, c):
    N = ((μ + iω) a − |a|² a, |a|², |a|²), D = (0, D₁, D₂) with D·h ≫ 1 (an explicit step
    would blow up). Its periodic orbit: a = √μ e^{iωt}, b = μ/D₁, c = μ/D₂, period 2π/ω; the
    Floquet multipliers of the flow are 1 (along the orbit), e^{−2μT} (radial), e^{−D₁T},
    e^{−D₂T} (and those of the conjugate directions: the real state has six)."""

    MU, OMEGA, D = 0.1, 1.0, (0.0, 1.0e3, 1.0e4)

    def rhs(self, s):
        a = s[0]
        r2 = jnp.abs(a) ** 2
        return jnp.stack([(self.MU + 1j * self.OMEGA) * a - r2 * a, r2 + 0j, r2 + 0j])

    def project(self, s):
        return s


def test_shooting_converges_the_periodic_orbit_of_a_stiff_ode_with_its_period_and_multipliers():
    ode = _StiffHopf()
    period = 2 * np.pi / ode.OMEGA
    n_steps = 2000  # h = T/n ≈ 3e-3: the scheme's O(h³) period error ≈ 1e-8 of T; D₂h ≈ 30
    solver = PeriodicSolver(ode, n_steps, diffusion=jnp.asarray(ode.D))
    r = np.sqrt(ode.MU)
    start = jnp.asarray([1.3 * r * np.exp(0.4j), 0.0, 0.0], jnp.complex128)  # off the orbit
    orbit = solver.solve(start, 0.9 * period, tol=1e-10)
    assert orbit.converged and orbit.residual <= 1e-10
    assert abs(orbit.period - period) <= 1e-6 * period
    assert abs(abs(orbit.state[0]) - r) <= 1e-6 * r
    mu = solver.multipliers(orbit, k=6)
    # the phase direction's multiplier is 1; the radial one e^{−2μT}
    assert np.min(np.abs(mu - 1.0)) <= 1e-6
    assert np.min(np.abs(mu - np.exp(-2 * ode.MU * period))) <= 1e-6
    # the sampled orbit: a full turn of the circle |a| = √μ at equal phase steps
    a = solver.samples(orbit, 8)[:, 0]
    np.testing.assert_allclose(np.abs(a), r, rtol=1e-6)
    np.testing.assert_allclose(np.angle(a[1:] / a[:-1]), 2 * np.pi / 8, rtol=1e-6)


@pytest.mark.slow
def test_shooting_converges_an_r84_cycle_of_the_pde_from_a_near_return():
    """At r = 84 (32 × 16, free-fall step 0.025) a Lorenz-mode start settles on an oscillation;
    a near-return of its trajectory is refined by shooting to ‖Φ_T(s) − s‖/‖s‖ ≤ 1e-8 with a
    period near the return time, and the monodromy has the multiplier 1 (the phase direction)
    to 1e-6."""
    ra, pr = 84.0 * RA_C, 10.0
    t_ff = 1.0 / np.sqrt(ra * pr)
    solver = Solver(Grid(nx=32, nz=16), ra, pr, dt=0.025 * t_ff)
    s0 = lorenz_mode_states(solver, np.array([[10.0, 10.0, 20.0]]))
    every = 10  # samples every 0.25 t_ff, over 150 t_ff
    states, _, frozen = solver.run(s0, 601, every)
    assert int(frozen[0]) == -1
    flat = np.asarray(jnp.concatenate([states.real, states.imag], axis=2).reshape(1, 601, -1))[:, 300:]
    t = np.arange(flat.shape[1]) * 0.25
    cands = near_returns(
        flat, t, period_min=3.0, period_max=20.0, tol=0.1 * np.linalg.norm(flat[0, 0]), max_candidates=1
    )
    assert cands, "no near-return in the settled record"
    x_hat, T_hat = cands[0]
    shooter = PeriodicSolver(solver, int(np.ceil(T_hat / 0.025)))
    start = jnp.asarray(states[0, 300 + int(np.argmin(np.linalg.norm(flat[0] - x_hat, axis=1)))])
    orbit = shooter.solve(start, T_hat * t_ff, tol=1e-8)
    assert orbit.converged and orbit.residual <= 1e-8
    assert abs(orbit.period / t_ff - T_hat) <= 0.25 * T_hat  # the near-return was a passage near it
    mu = shooter.multipliers(orbit, k=6)
    assert np.min(np.abs(mu - 1.0)) <= 1e-6


def test_an_orbit_converged_at_twice_its_period_is_reduced_to_its_prime_period():
    """Shooting at T ≈ 2·2π/ω converges the stiff ODE's cycle traversed twice (a root too);
    pde_orbits.prime_period finds that it closes after half and returns period 2π/ω."""
    ode = _StiffHopf()
    period = 2 * np.pi / ode.OMEGA
    shooter = PeriodicSolver(ode, 4000, diffusion=jnp.asarray(ode.D))
    start = jnp.asarray([np.sqrt(ode.MU) * np.exp(0.4j), ode.MU / ode.D[1], ode.MU / ode.D[2]], jnp.complex128)
    double = shooter.solve(start, 2.05 * period, tol=1e-10)
    assert double.converged and abs(double.period - 2 * period) <= 1e-6 * period
    cfg = {"orbit_tolerance": 1e-10, "orbit_newton_steps": 10}
    short, prime = prime_period(ode, shooter, double, cfg)
    assert prime.converged and short.n == 2000
    assert abs(prime.period - period) <= 1e-6 * period
