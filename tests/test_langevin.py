"""The damped-oscillator (PRF21 'Langevin') simulator against exact and reference solutions."""

import numpy as np
import pytest
import xarray as xr
from scipy.integrate import solve_ivp

from onsagerflow.data import validate_dataset
from onsagerflow.systems import get_system
from onsagerflow.systems import langevin as lv


def spec(potential="hookean", damping="constant", n=6, t_end=2.0, dt=0.01, gamma=3.0, kappa=4.0, seed=0):
    return {
        "name": f"langevin_{potential}",
        "type": "langevin",
        "parameters": {"potential": potential, "damping": damping, "gamma": gamma, "kappa": kappa},
        "simulation": {
            "n_trajectories": n,
            "t_end": t_end,
            "dt_sample": dt,
            "init_low": [-1, -1],
            "init_high": [1, 1],
            "rtol": 1e-12,
            "atol": 1e-12,
        },
        "splits": {"train": 0.5, "val": 0.25, "test": 0.25},
        "seed": seed,
    }


@pytest.mark.slow
def test_hookean_matches_the_exact_damped_oscillator():
    """x'' + γx' + κx = 0 with γ² < 4κ: x(t) = e^{−γt/2}(x₀ cos ωt + (v₀ + γx₀/2)/ω sin ωt),
    ω = √(κ − γ²/4); v = x'. Local tolerance 1e-12; the global error stays below 1e-9."""
    s = spec()
    ds = xr.concat(list(lv.simulate(s)), dim="trajectory")
    t = ds["time"].values
    g, k = 3.0, 4.0
    w = np.sqrt(k - g**2 / 4)
    for u in ds["u"].values:
        x0, v0 = u[0]
        c = (v0 + g * x0 / 2) / w
        e = np.exp(-g * t / 2)
        x = e * (x0 * np.cos(w * t) + c * np.sin(w * t))
        v = -g / 2 * x + e * (-x0 * w * np.sin(w * t) + c * w * np.cos(w * t))
        assert np.abs(u[:, 0] - x).max() < 1e-9
        assert np.abs(u[:, 1] - v).max() < 1e-9


@pytest.mark.parametrize(
    ("potential", "damping"), [("pendulum", "quadratic"), ("double_well", "constant"), ("pendulum", "constant")]
)
@pytest.mark.slow
def test_matches_scipy_reference(potential, damping):
    """dx/dt = v, dv/dt = −γ(x, v) v − U′(x), the formulas written out again here."""
    s = spec(potential, damping, n=4, t_end=5.0, dt=0.05)
    ds = xr.concat(list(lv.simulate(s)), dim="trajectory")
    c = np.pi / 2
    force = {
        "pendulum": lambda x: 4.0 * np.sin(c * x) / c,
        "double_well": lambda x: 4.0 * (x**3 - 0.5 * x),
    }[potential]
    gam = (lambda x, v: 3.0) if damping == "constant" else (lambda x, v: 3.0 * (x**2 + v**2))

    def rhs(t, u):
        x, v = u
        return [v, -gam(x, v) * v - force(x)]

    t = ds["time"].values
    for u in ds["u"].values:
        ref = solve_ivp(rhs, (0, t[-1]), u[0], method="DOP853", rtol=1e-13, atol=1e-13, t_eval=t)
        assert np.abs(u - ref.y.T).max() < 1e-8


@pytest.mark.slow
@pytest.mark.parametrize("potential", lv.POTENTIALS)
def test_energy_never_increases_and_decays_at_the_damping_rate(potential):
    """dH/dt = −γ(x, v) v² along every trajectory (H = v²/2 + U(x)): H never rises, and
    H(T) − H(0) equals −∫₀ᵀ γ(x, v) v² dt (Simpson's rule on the samples)."""
    from scipy.integrate import simpson

    s = spec(potential, "quadratic", n=5, t_end=3.0, dt=0.001)
    ds = xr.concat(list(lv.simulate(s)), dim="trajectory")
    u = ds["u"].values
    H = np.asarray(lv.energy(s)(u))
    assert np.all(np.diff(H, axis=1) <= 1e-12)
    x, v = u[..., 0], u[..., 1]
    loss = simpson(3.0 * (x**2 + v**2) * v**2, dx=0.001, axis=1)
    np.testing.assert_allclose(H[:, -1] - H[:, 0], -loss, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("potential", lv.POTENTIALS)
def test_exact_fixed_points_are_roots(potential):
    s = spec(potential)
    f = lv.field(s)
    pts = lv.exact_fixed_points(s)
    for p in pts:
        assert np.abs(np.asarray(f(p))).max() < 1e-12
    expected = {"hookean": 1, "pendulum": 1, "double_well": 3}[potential]
    assert len(pts) == expected
    wide = {**s, "simulation": {**s["simulation"], "init_low": [-3, -1], "init_high": [3, 1]}}
    if potential == "pendulum":  # the inverted positions x = ±2 once the box holds them
        assert sorted(lv.exact_fixed_points(wide)[:, 0]) == [-2.0, 0.0, 2.0]


def test_edge_starts_are_the_authors_twelve():
    pts = lv.edge_starts(spec())
    assert pts.shape == (12, 2)
    on_edge = (np.abs(pts[:, 0]) == 1.0) | (np.abs(pts[:, 1]) == 1.0)
    assert on_edge.all()
    assert sorted(set(pts[pts[:, 1] == -1.0][:, 0])) == [-0.5, 0.0, 0.5]


def test_dataset_follows_the_schema():
    s = spec(n=8, t_end=0.5, dt=0.01)
    ds = xr.concat(list(lv.simulate(s)), dim="trajectory")
    validate_dataset(ds, dims=get_system("langevin").DIMS)
    assert ds["u"].shape == (8, 51, 2)
    assert ds.attrs["potential"] == "hookean" and list(ds["state"].values) == ["x", "v"]
    u0 = ds["u"].values[:, 0]
    assert np.all(np.abs(u0) <= 1.0)


def test_unknown_potential_is_named():
    with pytest.raises(ValueError, match="unknown potential 'quartic'"):
        lv.vector_field("quartic", "constant")
