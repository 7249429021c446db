"""Structural properties of OnsagerNet that hold for any parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from onsagerflow.analysis.rollout import integrate
from onsagerflow.config import validated_block
from onsagerflow.models import build_model, param_count
from onsagerflow.models.layers import requr
from onsagerflow.models.onsagernet import OnsagerNet


def random_net(seed, n=4, forcing="linear", alpha=0.3, beta=0.2, activation="requr"):
    net = OnsagerNet(
        n,
        width=16,
        depth=2,
        potential_dim=5,
        alpha=alpha,
        beta=beta,
        activation=activation,
        forcing=forcing,
        rngs=nnx.Rngs(seed),
        param_dtype=jnp.float64,
    )
    # Random (not just initial) parameters: scale every weight up so the test
    # covers far-from-init networks too.
    graphdef, state = nnx.split(net)
    keys = iter(jax.random.split(jax.random.key(seed + 100), 64))
    state = jax.tree.map(lambda a: a + 0.5 * jax.random.normal(next(keys), a.shape, a.dtype), state)
    return nnx.merge(graphdef, state)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_M_symmetric_positive_definite_and_W_antisymmetric(seed):
    net = random_net(seed)
    z = jax.random.normal(jax.random.key(seed), (200, 4)) * 3.0
    M, W = net.matrices(z)
    M, W = np.asarray(M), np.asarray(W)
    np.testing.assert_allclose(M, np.swapaxes(M, -1, -2), atol=1e-12)
    np.testing.assert_allclose(W, -np.swapaxes(W, -1, -2), atol=1e-12)
    # M = L Lᵀ + αI, so every eigenvalue is at least α.
    assert np.linalg.eigvalsh(M).min() >= net.alpha * (1 - 1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_energy_decays_at_least_alpha_grad_squared_without_forcing(seed):
    """f = 0:  dV/dt = ∇V·ż = −∇Vᵀ(M + W)∇V = −∇VᵀM∇V ≤ −α|∇V|²."""
    net = random_net(seed, forcing="none")
    z = jax.random.normal(jax.random.key(10 + seed), (500, 4)) * 4.0
    g = np.asarray(net.grad_potential(z))
    dz = np.asarray(net(z))
    dVdt = np.sum(g * dz, axis=-1)
    bound = -net.alpha * np.sum(g**2, axis=-1)
    assert np.all(dVdt <= bound + 1e-9 * np.abs(bound))
    # and the gradient is the true gradient of V (finite differences)
    eps = 1e-6
    e0 = jnp.eye(4)[0]
    fd = (net.potential(z + eps * e0) - net.potential(z - eps * e0)) / (2 * eps)
    np.testing.assert_allclose(g[:, 0], np.asarray(fd), rtol=1e-6, atol=1e-6)


def test_potential_is_coercive():
    """V = ½|φ|² + β|z|² ≥ β|z|²."""
    net = random_net(3)
    z = jax.random.normal(jax.random.key(3), (500, 4)) * 10.0
    assert np.all(np.asarray(net.potential(z)) >= net.beta * np.sum(np.asarray(z) ** 2, -1) - 1e-9)


def test_requr_formula():
    x = jnp.array([-1.0, 0.0, 0.25, 0.5, 1.0, 3.0])
    expected = np.maximum(x, 0) ** 2 - np.maximum(x - 0.5, 0) ** 2
    np.testing.assert_allclose(np.asarray(requr(x)), expected)
    # linear growth x − ¼ beyond ½
    np.testing.assert_allclose(np.asarray(requr(jnp.array([2.0, 7.0]))), [1.75, 6.75])


def _with_forcing(net, growth, f0):
    F = np.random.default_rng(7).normal(size=(net.n, net.n))  # F is zero at initialisation
    net.F[...] = jnp.asarray(F / np.linalg.norm(F, 2) * growth)
    net.f0[...] = jnp.asarray(np.full(net.n, f0))
    return net


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_energy_decreases_far_out_when_forcing_grows_slower_than_2_alpha_beta(seed):
    """Our re-derivation of PRF21's boundedness: with ReQUr φ (linear growth, so
    asymptotically J_φ z = φ) zᵀ∇V ≥ 2β|z|² − o(|z|²), hence |∇V| ≳ 2β|z| and
    dV/dt ≤ |∇V| (−α|∇V| + ‖F‖|z| + |f₀|) < 0 far out whenever ‖F‖ < 2αβ."""
    net = _with_forcing(random_net(seed, n=3, alpha=0.5, beta=0.5), growth=0.4, f0=5.0)  # 2αβ = 0.5
    u = np.random.default_rng(seed).normal(size=(2000, 3))
    z = jnp.asarray(1e3 * u / np.linalg.norm(u, axis=-1, keepdims=True))
    dVdt = np.sum(np.asarray(net.grad_potential(z)) * np.asarray(net(z)), axis=-1)
    assert np.all(dVdt < 0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_rollouts_from_far_away_stay_bounded(seed):
    net = OnsagerNet(
        3, width=16, depth=2, potential_dim=5, alpha=0.5, beta=0.5, rngs=nnx.Rngs(seed), param_dtype=jnp.float64
    )
    net = _with_forcing(net, growth=0.4, f0=2.0)
    graphdef, state = nnx.split(net)

    def field(x, st):
        return nnx.merge(graphdef, st)(x)

    x0 = np.random.default_rng(seed).normal(size=(16, 3)) * 30.0
    xs, ok = integrate(field, x0, np.linspace(0, 50, 101), args=state, rtol=1e-6, atol=1e-6, bound=1e4)
    assert ok.all()
    assert np.all(np.linalg.norm(xs[:, -1], axis=-1) < np.linalg.norm(x0, axis=-1).max())


def test_mlp_ode_matches_parameter_count():
    specs = {
        "on": {
            "type": "onsagernet",
            "width": 32,
            "depth": 2,
            "potential_dim": 6,
            "alpha": 0.1,
            "beta": 0.1,
            "activation": "requr",
            "forcing": "linear",
        },
        "mlp": {"type": "mlp_ode", "depth": 2, "activation": "tanh", "match_params_of": "on"},
    }
    specs = {k: validated_block("model", v) for k, v in specs.items()}
    a = param_count(build_model(specs["on"], 3, seed=0, all_specs=specs))
    b = param_count(build_model(specs["mlp"], 3, seed=0, all_specs=specs))
    assert abs(a - b) / a < 0.02  # widths are whole numbers, so not exactly equal


def test_unknown_model_type_is_named():
    with pytest.raises(ValueError, match="unknown model type 'lstm'"):
        build_model({"type": "lstm"}, 3, seed=0)
