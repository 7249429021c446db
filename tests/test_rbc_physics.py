"""The Rayleigh–Bénard solver against exact results."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from onsagerflow.data import validate_dataset
from onsagerflow.data.timegrid import time_grid
from onsagerflow.systems.rbc import (
    RA_C,
    CFLError,
    Grid,
    Solver,
    growth_rate,
    initial_states,
    lorenz_mode_amplitudes,
    lorenz_mode_states,
    lorenz_time_factor,
    make_solver,
    random_perturbations,
    simulate,
)
from onsagerflow.systems.rbc.symmetry import mirror_fields

K_C = np.pi / np.sqrt(2)


def single_mode(solver, amplitude):
    """θ = a cos(k_c x) sin(πz), ζ = 0 (odd extension to the doubled domain)."""
    g = solver.grid
    Z, X = np.meshgrid(np.arange(2 * g.nz) / g.nz, g.x, indexing="ij")
    theta = amplitude * np.cos(K_C * X) * np.sin(np.pi * Z)
    s = jnp.stack([jnp.zeros((2 * g.nz, g.nx // 2 + 1), jnp.complex128), solver.to_spectral(jnp.asarray(theta))])
    return solver.project(s)


def run_to(solver, s, t_end, dt_save):
    every = int(round(dt_save / solver.dt))
    states, cmax, frozen = solver.run(s[None], int(round(t_end / dt_save)) + 1, every)
    assert int(frozen[0]) == -1
    return states[0]


@pytest.mark.parametrize("r", [0.9, 1.1])
def test_growth_rate_of_the_critical_mode_matches_the_dispersion_relation(r):
    """A mode e^{ikx} sin(πz) grows at the root s of q²(s + Pr q²)(s + q²) = Ra Pr k²."""
    pr = 10.0
    solver = Solver(Grid(nx=16, nz=8), r * RA_C, pr, dt=1e-4)
    states = run_to(solver, single_mode(solver, 1e-6), 0.2, 0.01)
    amp = np.sqrt(np.mean(np.asarray(solver.to_physical(states[:, 1])) ** 2, axis=(-2, -1)))
    t = np.arange(len(amp)) * 0.01
    late = t >= 0.05  # the faster-decaying root is gone by then
    rate = np.polyfit(t[late], np.log(amp[late]), 1)[0]
    exact = growth_rate(r * RA_C, pr, K_C)
    assert np.sign(exact) == (1 if r > 1 else -1)
    assert abs(rate - exact) < 0.01 * abs(exact), f"measured {rate:.5f}, exact {exact:.5f}"


@pytest.fixture(scope="module")
def steady_r5():
    """A steady convective roll at r = 5 (Ra ≈ 3288), Pr = 10."""
    solver = Solver(Grid(nx=32, nz=16), 5 * RA_C, 10.0, dt=5e-4)
    states = run_to(solver, single_mode(solver, 0.1), 2.0, 0.05)
    return solver, states


@pytest.mark.slow
def test_velocity_is_divergence_free_and_walls_are_free_slip_isothermal(steady_r5):
    solver, states = steady_r5
    s = states[-1]
    uh, wh = solver.velocity(s)
    u, w = solver.to_physical(uh), solver.to_physical(wh)
    # ∇·u from the physical fields, transformed again
    div = solver.to_physical(solver.ikx * solver.to_spectral(u) + solver.ikz * solver.to_spectral(w))
    scale = float(jnp.max(jnp.abs(solver.to_physical(solver.ikx * uh))))
    assert float(jnp.max(jnp.abs(div))) < 1e-12 * scale
    f = np.asarray(solver.fields(s))  # (3, nz+1, nx), walls included
    for wall in (0, -1):
        assert np.abs(f[1, wall]).max() < 1e-12 * np.abs(f[1]).max()  # w = 0
        assert np.abs(f[2, wall]).max() < 1e-12 * np.abs(f[2]).max()  # θ = 0
    # ∂u/∂z = 0 at the walls: u is a cosine series in z
    dudz = np.asarray(solver.to_physical(solver.ikz * solver.ikz * -s[0] * solver.inv_q2))
    assert np.abs(dudz[0]).max() < 1e-10 * np.abs(dudz).max()


def test_steady_state_energy_balances(steady_r5):
    """Nu = 1 + ⟨wθ⟩ = 1 + ⟨|∇θ|²⟩ and ⟨|∇u|²⟩ = Ra ⟨wθ⟩ at a steady state."""
    solver, states = steady_r5
    nu = np.asarray(jax.vmap(solver.nusselt)(states))
    assert nu[-1] > 2.0  # convecting
    assert abs(nu[-1] - nu[-5]) < 1e-6 * nu[-1]  # and steady
    wt, grad_t, grad_u = (float(a) for a in solver.averages(states[-1]))
    assert abs((1 + grad_t) - (1 + wt)) < 0.01 * (1 + wt)
    assert abs(grad_u - solver.ra * wt) < 0.01 * solver.ra * wt


@pytest.mark.slow  # heavy: run with -m slow
def test_nusselt_number_converges_with_resolution():
    nus = []
    for nx, nz in [(16, 8), (24, 12), (32, 16), (48, 24)]:
        solver = Solver(Grid(nx=nx, nz=nz), 5 * RA_C, 10.0, dt=5e-4)
        nus.append(float(solver.nusselt(run_to(solver, single_mode(solver, 0.1), 2.0, 0.5)[-1])))
    diffs = np.abs(np.array(nus[:-1]) - nus[-1])
    assert np.all(np.diff(diffs) < 0), f"Nu {nus}"
    assert diffs[-1] < 1e-3 * nus[-1]


def rbc_spec(**sim):
    base = {
        "nx": 16,
        "nz": 8,
        "dt": 2e-4,
        "dt_sample": 0.01,
        "t_end": 0.1,
        "n_trajectories": 6,
        "batch_size": 4,
        "perturbation": 0.01,
        "t_burn": 0.0,
        "cfl_max": 0.8,
        "reflection_symmetric": True,
        "float64": True,
        "store_float64": False,
        "time_unit": "diffusive",
        "initial": "perturbation",
        "lorenz_low": [-25, -25, -5],
        "lorenz_high": [25, 25, 30],
        "burst_size": 1,
        "burst_step": None,
    }
    base.update(sim)
    return {
        "name": "rbc_test",
        "type": "rbc",
        "parameters": {"r": 28.0, "Pr": 10.0},
        "simulation": base,
        "splits": {"train": 0.5, "val": 0.25, "test": 0.25},
        "seed": 1,
    }


@pytest.mark.slow
def test_simulate_writes_canonical_batches_with_nusselt():
    batches = list(simulate(rbc_spec()))
    assert [b.sizes["trajectory"] for b in batches] == [4, 2]
    for b in batches:
        validate_dataset(b, dims=("z", "x"))
        assert b["theta"].dims == ("trajectory", "time", "z", "x")
        assert b["u"].shape[2:] == (9, 16) and b["u"].dtype == np.float32
        assert np.all(np.abs(b["w"].isel(z=[0, -1]).values) < 1e-6)
        # the x-reflection symmetric subspace: θ(x) = θ(−x)
        th = b["theta"].values[:, -1]
        np.testing.assert_allclose(th, np.roll(th[..., ::-1], 1, axis=-1), atol=1e-6)
    ids = np.concatenate([b["trajectory"].values for b in batches])
    assert ids.tolist() == list(range(6))
    nu = batches[0]["nusselt"].values
    assert np.all(nu[:, 0] < 1.01) and np.all(nu[:, -1] > 2.0)  # conduction, then convection


@pytest.mark.slow
def test_trajectories_do_not_depend_on_the_batch_size():
    a = np.concatenate([b["theta"].values for b in simulate(rbc_spec(batch_size=2))])
    b = np.concatenate([b["theta"].values for b in simulate(rbc_spec(batch_size=6))])
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_batches_reuse_the_compiled_run(monkeypatch):
    """The solver's step is traced when a run is compiled; later batches of the same shape
    must reuse that compiled run, so the step is traced no more after the first batch."""
    traced = []
    step = Solver.step
    monkeypatch.setattr(Solver, "step", lambda self, s: traced.append(1) or step(self, s))
    batches = simulate(rbc_spec(n_trajectories=6, batch_size=2, t_burn=0.02))
    next(batches)
    after_first = len(traced)
    assert after_first > 0
    assert len(list(batches)) == 2
    assert len(traced) == after_first


@pytest.mark.slow
def test_burn_in_is_simulated_but_not_stored():
    a = list(simulate(rbc_spec(n_trajectories=4, t_end=0.1)))[0]
    b = list(simulate(rbc_spec(n_trajectories=4, t_end=0.06, t_burn=0.04)))[0]
    np.testing.assert_allclose(b["time"].values, a["time"].values[4:], atol=1e-12)
    np.testing.assert_allclose(b["theta"].values, a["theta"].values[:, 4:], rtol=1e-4, atol=1e-6)


def test_too_large_a_time_step_fails_loudly_naming_the_trajectory():
    with pytest.raises(CFLError, match=r"trajectory 0 passed the Courant limit .* lower simulation.dt"):
        list(simulate(rbc_spec(dt=0.01, dt_sample=0.02, t_end=0.2)))


def test_lorenz_modes_project_onto_lorenz_63():
    """On the three Saltzman–Lorenz modes the PDE is Lorenz-63 exactly: projecting the full
    right-hand side (advection, buoyancy and diffusion) of a state made of them gives
    dX/dτ = σ(Y − X), dY/dτ = rX − Y − XZ, dZ/dτ = XY − bZ with σ = Pr, b = 4/(1 + a²) and
    τ = π²(1 + a²) t (a = 1/√2 here: b = 8/3, τ ≈ 14.8 t)."""
    r, pr = 28.0, 10.0
    solver = Solver(Grid(nx=32, nz=16), r * RA_C, pr, dt=1e-4)
    _, _, q2 = solver.grid.wavenumbers()
    factor = lorenz_time_factor(solver.grid)
    assert factor == pytest.approx(1.5 * np.pi**2)
    amps = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [3.0, 2.0, 5.0], [-4.0, 7.0, 11.0]])
    states = lorenz_mode_states(solver, amps)
    np.testing.assert_allclose(lorenz_mode_amplitudes(solver, states), amps, atol=1e-12)
    rhs = jax.vmap(lambda s: solver.rhs(s) + jnp.stack([-pr * q2 * s[0], -q2 * s[1]]))(states)
    got = lorenz_mode_amplitudes(solver, rhs) / factor
    X, Y, Z = amps.T
    b = 8.0 / 3.0
    want = np.stack([pr * (Y - X), r * X - Y - X * Z, X * Y - b * Z], axis=-1)
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_free_fall_units_scale_time_and_velocity():
    """The same run stored in free-fall units: t_ff = (d²/κ)/√(Ra Pr); times divide by it and
    velocities multiply by it, θ and Nu are unchanged."""
    unit = 1.0 / np.sqrt(28.0 * RA_C * 10.0)
    a = list(simulate(rbc_spec(n_trajectories=3, t_end=0.02, dt_sample=0.01, dt=2e-4)))[0]
    b = list(
        simulate(
            rbc_spec(n_trajectories=3, t_end=0.02 / unit, dt_sample=0.01 / unit, dt=2e-4 / unit, time_unit="free_fall")
        )
    )[0]
    np.testing.assert_allclose(b["time"].values * unit, a["time"].values, rtol=1e-12)
    np.testing.assert_allclose(b["theta"].values, a["theta"].values, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(b["u"].values, a["u"].values * unit, rtol=1e-5, atol=1e-7 * unit)
    assert b.attrs["time_unit"] == "free_fall" and b.attrs["time_unit_in_diffusive_times"] == pytest.approx(unit)


def test_lorenz_mode_starts_hold_their_drawn_amplitudes():
    spec = rbc_spec(n_trajectories=4, initial="lorenz_modes", perturbation=1e-6, t_end=0.01)
    solver = make_solver(spec)
    amps = lorenz_mode_amplitudes(solver, initial_states(spec, solver, np.arange(4)))
    assert np.all(amps >= np.array([-25, -25, -5]) - 1e-3) and np.all(amps <= np.array([25, 25, 30]) + 1e-3)
    assert np.ptp(amps[:, 0]) > 1.0  # drawn, not constant
    # trajectory i's start does not depend on which others are drawn with it
    np.testing.assert_allclose(lorenz_mode_amplitudes(solver, initial_states(spec, solver, np.arange(2, 4))), amps[2:])


def test_bursts_store_pairs_on_the_coarse_grid_of_the_uniform_run():
    """Bursts of 2 samples 0.001 apart at every dt_sample: the burst starts are exactly the
    uniform run's samples (the coarse run goes on from each start, not from its partner), and
    the partner is one fine step of the same equations later."""
    base = dict(n_trajectories=3, t_end=0.04, dt_sample=0.01, dt=2e-4)
    uniform = list(simulate(rbc_spec(**base)))[0]
    burst = list(simulate(rbc_spec(**base, burst_size=2, burst_step=1e-3)))[0]
    grid = time_grid(burst["time"].values)
    assert grid.burst == 2 and grid.step == pytest.approx(1e-3)
    np.testing.assert_allclose(grid.coarse_time, uniform["time"].values, atol=1e-12)
    np.testing.assert_allclose(burst["theta"].values[:, ::2], uniform["theta"].values, rtol=1e-6, atol=1e-8)
    # the partner moved by about dθ/dt · 0.001 — small against the move over a whole dt_sample
    step_fine = np.abs(burst["theta"].values[:, 1::2] - burst["theta"].values[:, ::2]).max()
    step_coarse = np.abs(np.diff(uniform["theta"].values, axis=1)).max()
    assert 0 < step_fine < 0.3 * step_coarse
    with pytest.raises(ValueError, match="burst_step"):
        list(simulate(rbc_spec(**base, burst_size=3, burst_step=0.006)))


@pytest.mark.parametrize("reflection", [False, True])
def test_the_mirror_maps_solutions_to_solutions(reflection):
    """If (u, w, θ)(x, z, t) solves the Boussinesq equations between free-slip walls, so does
    its mirror image (−u, w, θ)(L/2 − x, z, t): mirroring a start and then simulating gives the
    simulation of the start, mirrored (to round-off: the map permutes grid points). The start
    is far from either image: the Lorenz roll C+ with Y ≠ 0 plus a random θ, which outside the
    reflection-symmetric subspace has no symmetry at all. Mirroring without turning u round
    is no symmetry: from the same start it gives another flow."""
    solver = Solver(Grid(nx=32, nz=16), 28 * RA_C, 10.0, dt=2e-4, reflection=reflection)
    keys = jax.random.split(jax.random.key(3), 1)
    s0 = lorenz_mode_states(solver, [[8.0, 5.0, 20.0]]) + random_perturbations(solver, keys, 0.5)
    f0 = np.asarray(solver.fields(s0[0]))
    m0 = mirror_fields(f0)
    assert np.linalg.norm(m0 - f0) > 0.5 * np.linalg.norm(f0)  # the image is another state
    wrong = m0 * np.array([-1.0, 1.0, 1.0])[:, None, None]  # u not turned round

    def fields_at_end(f):
        states = run_to(solver, solver.state_from_fields(jnp.asarray(f)), 0.05, 0.05)
        return np.asarray(solver.fields(states[-1]))

    f1 = fields_at_end(f0)
    assert np.linalg.norm(f1 - f0) > 0.1 * np.linalg.norm(f0)  # the flow has moved on
    scale = np.linalg.norm(f1)
    assert np.linalg.norm(fields_at_end(m0) - mirror_fields(f1)) < 1e-10 * scale
    assert np.linalg.norm(fields_at_end(wrong) - mirror_fields(f1)) > 1e-2 * scale
