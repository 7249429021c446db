"""The PDE's own steady states by Newton–Krylov and their linear stability."""

import jax.numpy as jnp
import numpy as np
import pytest

from onsagerflow.systems.rbc import RA_C, Grid, Solver, growth_rate, lorenz_mode_states
from onsagerflow.systems.rbc_states import SteadySolver, leading_eigenvalues

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
