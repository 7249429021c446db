"""The Lorenz-63 simulator against exact and reference results."""

import numpy as np
import pytest
from conftest import lorenz_spec, simulated
from scipy.integrate import solve_ivp

from onsagerflow.data import validate_dataset
from onsagerflow.systems import get_system, lorenz
from onsagerflow.systems.lorenz import (
    exact_fixed_points,
    field,
    sample_initial_states,
    sample_times,
    solve,
    solve_batch,
)

ARGS = (10.0, 28.0, 8.0 / 3.0)


def rhs(t, u, sigma=10.0, r=28.0, b=8.0 / 3.0):
    x, y, z = u
    return [sigma * (y - x), x * (r - z) - y, x * y - b * z]


@pytest.mark.slow
def test_matches_scipy_reference_to_1e8():
    spec = lorenz_spec(n=5, t_end=3.0, dt=0.01)
    ds = simulated(lorenz, spec)
    t = ds["time"].values
    for k in range(5):
        u0 = ds["u"].values[k, 0]
        ref = solve_ivp(rhs, (0, t[-1]), u0, method="DOP853", rtol=1e-13, atol=1e-13, t_eval=t)
        err = np.abs(ds["u"].values[k] - ref.y.T).max()
        assert err < 1e-8, f"trajectory {k}: max |u − u_ref| = {err:.2e}"


@pytest.mark.slow
def test_fixed_step_convergence_order_is_eight():
    """Dormand–Prince 8(7): the global error at a fixed time falls like h⁸."""
    u0 = np.array([[1.0, 2.0, 20.0], [-5.0, 3.0, 10.0]])
    t = np.array([0.0, 1.0])
    ref = np.asarray(solve_batch(u0, t, ARGS, rtol=1e-13, atol=1e-13))[:, -1]
    errs = [np.abs(np.asarray(solve_batch(u0, t, ARGS, dt_step=h))[:, -1] - ref).max() for h in (0.04, 0.02)]
    order = np.log2(errs[0] / errs[1])
    assert 7.0 < order < 9.0, f"observed order {order:.2f} from errors {errs}"


@pytest.mark.parametrize("r", [16.0, 28.0])
def test_exact_fixed_points_are_roots(r):
    spec = lorenz_spec(r=r)
    pts = exact_fixed_points(spec)
    assert len(pts) == 3
    f = field(spec)
    for p in pts:
        assert np.abs(np.asarray(f(p))).max() < 1e-12
    a = np.sqrt(8.0 / 3.0 * (r - 1))
    np.testing.assert_allclose(pts[1], [a, a, r - 1])
    if r == 28.0:
        np.testing.assert_allclose(pts[1], [8.4853, 8.4853, 27.0], atol=1e-4)


@pytest.mark.slow
def test_dataset_follows_the_schema_and_config():
    spec = lorenz_spec(n=20, t_end=0.4, dt=0.002, splits={"train": 0.6, "val": 0.2, "test": 0.2})
    ds = simulated(lorenz, spec)
    validate_dataset(ds, dims=get_system("lorenz").DIMS)
    assert ds["u"].shape == (20, 201, 3)
    np.testing.assert_allclose(np.diff(ds["time"].values), 0.002)
    assert np.bincount(ds["split"].values, minlength=3).tolist() == [12, 4, 4]
    u0 = ds["u"].values[:, 0]
    assert np.all(u0 >= [-25, -25, -5]) and np.all(u0 <= [25, 25, 30])
    assert ds.attrs["r"] == 28.0 and ds.attrs["observed"] == "u"
    for key in ("onsagerflow_version", "git_sha", "config_sha256", "created"):
        assert ds.attrs[key]


@pytest.mark.slow
def test_same_seed_same_data_other_seed_other_data():
    a = simulated(lorenz, lorenz_spec(seed=1))["u"].values
    b = simulated(lorenz, lorenz_spec(seed=1))["u"].values
    c = simulated(lorenz, lorenz_spec(seed=2))["u"].values
    assert np.array_equal(a, b)
    assert not np.allclose(a[:, 0], c[:, 0])


@pytest.mark.slow
def test_batches_solve_each_trajectory_as_one_solve_of_all_does():
    """simulate solves BATCH trajectories at a time (the last batch padded): every trajectory
    comes out bit for bit as in one solve of all the starts together."""
    spec = lorenz_spec(n=lorenz.BATCH + 7, t_end=0.5, dt=0.01)
    ds = simulated(lorenz, spec)
    t = sample_times(spec)
    whole = solve(spec, sample_initial_states(spec, spec["simulation"]["n_trajectories"], spec["seed"]), t)
    np.testing.assert_array_equal(ds["u"].values, whole)
    assert list(ds["trajectory"].values) == list(range(lorenz.BATCH + 7))


def test_a_reference_solve_that_cannot_finish_names_its_start():
    """Ten Dopri8 steps cannot carry a start to t = 5 at tolerance 1e-12: the error names the
    row of the batch and its start instead of returning a truncated trajectory."""
    u0 = np.array([[1.0, 1.0, 1.0], [-3.0, 2.0, 20.0]])
    with pytest.raises(RuntimeError, match=r"failed from 2 of 2 starts \(rows \[0, 1\].*\[1\.0, 1\.0, 1\.0\]"):
        lorenz.solve_batch(u0, np.linspace(0.0, 5.0, 11), (10.0, 28.0, 8.0 / 3.0), rtol=1e-12, atol=1e-12, max_steps=10)
