"""Critical points of a potential V (Newton on ∇V, Hessian index) and how they relate to the
fixed points of an OnsagerNet drift."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from onsagerflow.analysis.critical_points import classify_hessian, find_critical_points, point_type, saddle_connections
from onsagerflow.analysis.fixed_points import find_fixed_points
from onsagerflow.models import SOnsagerNet
from onsagerflow.models.dynamics import as_float64


def double_well(x, a=None):
    """V = (x₀² − 1)² + x₁² + 2 x₂²: minima at (±1, 0, 0), an index-1 saddle at the origin
    (Hessian there diag(−4, 2, 4)), nothing else (∇V = 0 needs x₀(x₀² − 1) = 0, x₁ = x₂ = 0)."""
    return (x[0] ** 2 - 1.0) ** 2 + x[1] ** 2 + 2.0 * x[2] ** 2


@pytest.mark.slow
def test_newton_on_the_gradient_of_a_double_well_finds_its_minima_and_saddle():
    starts = np.random.default_rng(0).uniform(-2, 2, (64, 3))
    cps = find_critical_points(double_well, starts, length_scale=1.0, grad_scale=1.0, domain=(-np.ones(3), np.ones(3)))
    got = sorted((tuple(np.round(c["x"], 8)), c["index"], c["type"]) for c in cps)
    assert got == [
        ((-1.0, 0.0, 0.0), 0, "minimum"),
        ((0.0, 0.0, 0.0), 1, "index-1 saddle"),
        ((1.0, 0.0, 0.0), 0, "minimum"),
    ]
    saddle = next(c for c in cps if c["index"] == 1)
    np.testing.assert_allclose(saddle["hessian_eigenvalues"], [-4.0, 2.0, 4.0], atol=1e-9)  # ascending
    minimum = next(c for c in cps if c["index"] == 0)
    np.testing.assert_allclose(minimum["hessian_eigenvalues"], [2.0, 4.0, 8.0], atol=1e-9)  # V₀₀'' = 12x² − 4 = 8
    assert [c["V"] for c in cps] == sorted(c["V"] for c in cps)  # sorted by V: the minima (V = 0) first
    assert cps[0]["V"] == pytest.approx(0.0, abs=1e-12) and cps[-1]["V"] == pytest.approx(1.0)
    assert all(c["in_data_range"] for c in cps)
    assert sum(c["newton_start_fraction"] for c in cps) <= 1.0
    # the saddle's two steepest-descent paths end in the two minima
    cps = saddle_connections(double_well, cps)
    minima = {i for i, c in enumerate(cps) if c["type"] == "minimum"}
    assert set(saddle["connects"]) == minima and len(minima) == 2


def test_hessian_classification():
    assert classify_hessian([1.0, 2.0, 3.0]) == (0, "minimum")
    assert classify_hessian([-1.0, 2.0, 3.0]) == (1, "index-1 saddle")
    assert classify_hessian([-1.0, -2.0, 3.0]) == (2, "index-2 saddle")
    assert classify_hessian([-1.0, -2.0, -3.0]) == (3, "maximum")
    assert classify_hessian([0.0, 2.0, 3.0])[1] == "degenerate"
    assert point_type(1, 2) == "index-1 saddle"


def _rugged_sonsagernet(forcing: str) -> SOnsagerNet:
    """An S-OnsagerNet whose V has several critical points: φ's weights scaled up."""
    m = as_float64(
        SOnsagerNet(
            3,
            width=16,
            depth=2,
            potential_dim=4,
            beta=0.01,
            activation="tanh",
            forcing=forcing,
            diffusion="constant_diagonal",
            rngs=nnx.Rngs(2),
        )
    )
    nnx.update(m.phi, jax.tree.map(lambda a: 3.0 * a, nnx.state(m.phi, nnx.Param)))
    if forcing == "linear":
        m.F[...] = jnp.array([[0.0, 0.5, 0.0], [-0.5, 0.0, 0.2], [0.0, 0.0, 0.3]])
        m.f0[...] = jnp.array([0.3, -0.2, 0.1])
    return m


def _fixed_and_critical(m):
    graphdef, state = nnx.split(m)

    def drift(x, s):
        return nnx.merge(graphdef, s).drift(x)

    def potential(x, s):
        return nnx.merge(graphdef, s).potential(x)

    starts = np.random.default_rng(1).uniform(-3, 3, (96, 3))
    fps = find_fixed_points(drift, starts, args=state, length_scale=1.0, field_scale=1.0)
    cps = find_critical_points(potential, starts, args=state, length_scale=1.0, grad_scale=1.0)
    grad = jax.jit(jax.vmap(jax.grad(potential), in_axes=(0, None)))
    field = jax.jit(jax.vmap(drift, in_axes=(0, None)))
    return fps, cps, grad, field, state


@pytest.mark.slow
def test_without_forcing_the_drift_vanishes_exactly_at_the_critical_points_of_V():
    """b = −(M + W)∇V with zᵀ(M + W)z = zᵀMz > 0: b = 0 ⇔ ∇V = 0. At such a point the Jacobian
    of b is −(M + W)∇²V, which (inertia theorem for a matrix with positive definite symmetric
    part) has as many eigenvalues with positive real part as ∇²V has negative ones: a drift
    fixed point that is stable is a minimum of V, one with k unstable directions an index-k
    saddle."""
    fps, cps, grad, field, state = _fixed_and_critical(_rugged_sonsagernet("none"))
    assert len(fps) >= 5 and len(cps) >= 5  # enough points for the test to mean something
    g_at_fps = np.linalg.norm(np.asarray(grad(jnp.array([p["x"] for p in fps]), state)), axis=-1)
    b_at_cps = np.linalg.norm(np.asarray(field(jnp.array([c["x"] for c in cps]), state)), axis=-1)
    assert g_at_fps.max() < 1e-8 and b_at_cps.max() < 1e-8
    # the same point found both ways has matching labels
    matched = 0
    for p in fps:
        d = [np.linalg.norm(np.subtract(p["x"], c["x"])) for c in cps]
        if min(d) < 1e-6:
            c = cps[int(np.argmin(d))]
            unstable = int(np.sum(np.asarray(p["eigenvalues_real"]) > 0))
            assert unstable == c["index"], (p["kind"], c["type"])
            matched += 1
    assert matched >= 3


@pytest.mark.slow
def test_with_a_forcing_the_drift_fixed_points_are_not_critical_points_of_V():
    fps, cps, grad, field, state = _fixed_and_critical(_rugged_sonsagernet("linear"))
    assert fps and cps
    g_at_fps = np.linalg.norm(np.asarray(grad(jnp.array([p["x"] for p in fps]), state)), axis=-1)
    assert g_at_fps.min() > 1e-3  # f ≠ 0 moves every zero of the drift off ∇V = 0


def test_a_point_in_the_empty_middle_of_the_data_is_not_near_it():
    """Training states on a ring: its centre lies inside the data's box but far from every
    state, a point on the ring is near."""
    from onsagerflow.analysis.fixed_points import near_data

    phi = np.random.default_rng(0).uniform(0, 2 * np.pi, 3000)
    ring = np.column_stack([np.cos(phi), np.sin(phi), 0.01 * np.random.default_rng(1).normal(size=phi.size)])
    dist, near = near_data(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 3.0, 0.0]]), ring)
    assert list(near) == [False, True, False]
    assert dist[1] < 0.05 < dist[0]


def _point(kind, fold, relative, connects=None):
    return {
        "type": kind,
        "in_data_range": True,
        "conformation": {"fold_ratio": fold, "relative_extension": relative},
        **({"connects": connects} if connects else {}),
    }


def test_a_saddle_at_the_coil_is_not_a_fold_and_a_coiled_minimum_not_stretched():
    """folded_saddle_summary: a folded saddle has fold ratio |x_N + x_1| / extension ≥ 0.5 at
    an extension ≥ 0.25 of the longest training chain's; a stretched minimum fold ratio < 0.5
    at ≥ 0.5 of it. A collapsed chain at the coil has every ratio by chance: a saddle there
    joining the two stretched minima is not NCS24's folded pathway, a hairpin is."""
    from onsagerflow.analysis.folds import folded_saddle_summary

    stretched = [_point("minimum", 0.0, 1.0), _point("minimum", 0.001, 0.99)]
    coil_saddle = _point("index-1 saddle", 1.03, 0.05, connects=[0, 1])
    summary = folded_saddle_summary([*stretched, coil_saddle])
    assert summary["stretched_minima"] == 2 and summary["folded_saddles"] == 0
    assert not summary["folded_saddle_joins_stretched_minima"]
    assert np.isnan(summary["largest_saddle_fold_ratio"])

    hairpin = _point("index-1 saddle", 0.93, 0.49, connects=[0, 1])
    summary = folded_saddle_summary([*stretched, coil_saddle, hairpin])
    assert summary["folded_saddles"] == 1 and summary["folded_saddle_joins_stretched_minima"]
    assert summary["largest_saddle_fold_ratio"] == pytest.approx(0.93)

    # a minimum at the coil (end to end by chance) is not stretched: the hairpin joining it
    # to a stretched minimum does not count
    coiled = [stretched[0], _point("minimum", 0.1, 0.1)]
    assert not folded_saddle_summary([*coiled, hairpin])["folded_saddle_joins_stretched_minima"]
    assert folded_saddle_summary([*coiled, hairpin])["stretched_minima"] == 1
