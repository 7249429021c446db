"""Non-uniform grids respected downstream: quadrature rules recognised from coordinates,
the PCA in the L² inner product they define, figures at the true coordinates."""

import json

import numpy as np
import pytest
from ingest_specs import spec_of

from onsagerflow.data import build_dataset, open_store
from onsagerflow.data.ingest import ingest
from onsagerflow.data.ingest.quadrature import (
    CLENSHAW_CURTIS,
    FEJER,
    GAUSS_LEGENDRE,
    TRAPEZOID,
    UNIFORM,
    clenshaw_curtis,
    fejer1,
    grid_weights,
)
from onsagerflow.examples.dedalus_like import chebyshev_grid, write_run
from onsagerflow.figures.fields import color_scale
from onsagerflow.models.reducers import PCA, fit_pca

PROVENANCE = {"onsagerflow_version": "t", "git_sha": "t", "config_sha256": "t", "created": "t"}


@pytest.mark.parametrize("rule", [fejer1, clenshaw_curtis, np.polynomial.legendre.leggauss])
@pytest.mark.parametrize("n", [4, 9, 24])
def test_rules_integrate_polynomials_exactly(rule, n):
    """∫_{-1}^{1} x^k dx = 2/(k+1) for even k, 0 for odd, for every k < n (all three rules)."""
    x, w = rule(n)
    for k in range(n):
        exact = 2.0 / (k + 1) if k % 2 == 0 else 0.0
        assert abs(np.sum(w * x**k) - exact) < 1e-13


def test_rules_are_recognised_from_coordinates_on_any_interval():
    n, a, b = 12, 0.5, 3.0
    half, mid = (b - a) / 2, (b + a) / 2
    cases = {
        FEJER: mid + half * fejer1(n)[0],
        CLENSHAW_CURTIS: mid + half * clenshaw_curtis(n)[0],
        GAUSS_LEGENDRE: mid + half * np.polynomial.legendre.leggauss(n)[0],
        UNIFORM: np.linspace(a, b, n),
        TRAPEZOID: a + (b - a) * np.linspace(0, 1, n) ** 2,
    }
    f = lambda z: np.exp(z) * np.cos(z)  # smooth: the spectral rules are exact to round-off
    exact = (np.exp(b) * (np.cos(b) + np.sin(b)) - np.exp(a) * (np.cos(a) + np.sin(a))) / 2
    for rule, z in cases.items():
        w, found = grid_weights(z)
        assert found == rule
        w_rev, _ = grid_weights(z[::-1])  # a decreasing axis gets the same weights, reversed
        np.testing.assert_array_equal(w_rev, w[::-1])
        if rule in (FEJER, CLENSHAW_CURTIS, GAUSS_LEGENDRE):
            assert abs(np.sum(w * f(z)) - exact) < 1e-10
            np.testing.assert_allclose(w.sum(), b - a, rtol=1e-13)


def field_store(z: np.ndarray, weights: np.ndarray | None, n_traj=6, n_time=40, nx=4):
    """f(t, z, x) = a(t)·1 + c(t)·cos(πz), a and c uncorrelated over the samples."""
    t = np.linspace(0, 2 * np.pi, n_time, endpoint=False)
    phase = np.arange(n_traj)[:, None] * 0.3
    a, c = np.cos(t + phase), 2.0 * np.sin(t + phase)
    f = a[..., None, None] + c[..., None, None] * np.cos(np.pi * z)[None, None, :, None] * np.ones(nx)
    coords = {"z": (("z",), z), "x": (("x",), np.arange(nx) / nx)}
    if weights is not None:
        coords["z_weight"] = (("z",), weights)
        coords["x_weight"] = (("x",), np.full(nx, 1.0 / nx))
    return build_dataset(
        system="s",
        data_vars={"f": (("trajectory", "time", "z", "x"), f, {"units": "1", "long_name": "f"})},
        time=t,
        split=np.zeros(n_traj, np.int8),
        coords=coords,
        attrs=PROVENANCE,
    )


def test_a_constant_field_weighs_the_same_on_a_chebyshev_grid_as_on_a_uniform_one():
    """With quadrature weights the PCA measures ‖f‖² = Σ w f² ≈ (N/|Ω|)∫ f²: the constant mode
    has ‖1‖² = N and cos(πz) has ‖cos πz‖² = N/2 on any grid, so with var(c) = 4 var(a) the
    PCs hold 2/3 and 1/3 of the variance on both grids. Unweighted, a Chebyshev grid's points
    crowd at the walls, where cos²(πz) ≈ 1, and inflate the cos(πz) mode."""
    n = 16
    cheb = chebyshev_grid(n, 1.0)
    uniform = (np.arange(n) + 0.5) / n  # cell centres: the midpoint rule
    w_cheb, rule = grid_weights(cheb)
    assert rule == FEJER
    ratios = {}
    for name, z, w in (
        ("chebyshev", cheb, w_cheb),
        ("uniform", uniform, grid_weights(uniform)[0]),
        ("chebyshev unweighted", cheb, None),
    ):
        ratios[name] = fit_pca(field_store(z, w), ["f"], 2, seed=0).explained_variance_ratio
    np.testing.assert_allclose(ratios["chebyshev"], [2 / 3, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(ratios["uniform"], [2 / 3, 1 / 3], rtol=1e-6)
    assert abs(ratios["chebyshev unweighted"][1] - 1 / 3) > 0.03


def test_weighted_pca_round_trips_and_a_uniform_grid_is_unweighted(tmp_path):
    z = chebyshev_grid(8, 1.0)
    ds = field_store(z, grid_weights(z)[0])
    ds["f"] = ds["f"] + np.random.default_rng(0).normal(scale=0.1, size=ds["f"].shape)
    pca = fit_pca(ds, ["f"], 32, seed=0)  # every component: the reconstruction is exact
    X = np.asarray(pca.rows(ds).compute())
    np.testing.assert_allclose(pca.inverse_rows(pca.transform_rows(X)), X, atol=1e-10)
    pca.save(tmp_path / "pca.zarr", PROVENANCE)
    back = PCA.load(tmp_path / "pca.zarr")
    np.testing.assert_array_equal(back.weights, pca.weights)
    np.testing.assert_allclose(back.transform_rows(X), pca.transform_rows(X))
    flat = field_store(np.linspace(0, 1, 8), np.full(8, 1 / 7))
    assert fit_pca(flat, ["f"], 2, seed=0).weights is None  # equal weights: the plain PCA


def test_a_vector_field_is_one_field_of_several_channels():
    rng = np.random.default_rng(1)
    n, m, nz, nx = 6, 20, 5, 4
    b = rng.normal(size=(n, m, nz, nx))
    u = rng.normal(size=(n, m, 2, nz, nx)) * 3.0
    ds = build_dataset(
        system="s",
        data_vars={
            "b": (("trajectory", "time", "z", "x"), b, {"units": "1", "long_name": "b"}),
            "u": (("trajectory", "time", "component", "z", "x"), u, {"units": "1", "long_name": "u"}),
        },
        time=np.arange(m) * 0.1,
        split=np.zeros(n, np.int8),
        coords={"component": (("component",), np.array(["x", "z"], dtype=object))},
        attrs=PROVENANCE,
    )
    pca = fit_pca(ds, ["u", "b"], 5, seed=0)
    assert pca.field_channels == (2, 1) and pca.shape == (nz, nx)
    X = np.asarray(pca.rows(ds).compute())
    np.testing.assert_array_equal(X[:, pca.field_block("b")], b.reshape(n * m, -1))
    np.testing.assert_array_equal(X[:, : 2 * nz * nx], u.reshape(n * m, -1))
    # one RMS for the whole vector: both components share it
    np.testing.assert_allclose(pca.field_scale[0], np.sqrt(np.mean((u - u.mean(axis=(0, 1))) ** 2)), rtol=1e-10)


def test_colour_scales_fit_the_data():
    assert color_scale(np.array([0.0, 0.3, 1.0])) == (0.0, 1.0, "viridis")  # a buoyancy in [0, 1]
    assert color_scale(np.array([-0.4, 0.1, 0.5])) == (-0.5, 0.5, "RdBu_r")  # a deviation of both signs
    assert color_scale(np.array([-0.01, 0.5, 0.9]))[2] == "viridis"  # hardly negative: not about 0


def test_the_latent_store_keeps_the_data_s_parameters_and_units(tmp_path):
    from onsagerflow.stages import reduce

    for k in range(4):
        write_run(tmp_path / "out" / f"run_{k}", seed=k, nx=8, nz=6, t_end=0.5, sim_dt=0.02, max_dt=0.01)
    source = {
        "files": str(tmp_path / "out" / "run_*" / "snapshots" / "*.h5"),
        "layout": "field",
        "variables": {"b": "buoyancy", "u": "u"},
        "time": {"resample": {"dt": 0.02}, "units": "s"},
    }
    ingest(spec_of(source, parameters={"Ra": "5.0e4", "Nx": 8, "Nz": 6}), tmp_path / "data.zarr")
    spec = {"name": "mine", "reduction": {"fields": ["b", "u"], "components": 4, "seed": 0, "power_iterations": 4}}
    reduce.run(spec, str(tmp_path / "data.zarr"), str(tmp_path / "red"))
    lat = open_store(tmp_path / "red" / "latent.zarr")
    assert (lat.attrs["Nx"], lat.attrs["Nz"], lat.attrs["Ra"]) == (8, 6, 5.0e4)
    assert lat["time"].attrs["units"] == "s"
    pca = PCA.load(tmp_path / "red" / "pca.zarr")
    assert pca.weights is not None and json.loads(json.dumps(list(pca.shape))) == [6, 8]
