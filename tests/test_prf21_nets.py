"""The authors' network variants: sizes as they count them, and the structure of SymODEN."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from onsagerflow.config import validated_block
from onsagerflow.models import build_model, param_count
from onsagerflow.models.layers import ACTIVATIONS

ONS = {"type": "onsagernet", "architecture": "shared", "depth": 1, "activation": "requr"}


@pytest.mark.parametrize(
    ("spec", "n", "count"),
    [
        # PRF21 Lorenz (their count 356: two redundant biases on the potential head)
        ({**ONS, "width": 20, "alpha": 0.1, "beta": 0.1, "forcing": "linear"}, 3, 353),
        # PRF21 Langevin (their count 120)
        ({**ONS, "width": 12, "alpha": 0.0, "beta": 0.0, "forcing": "none"}, 2, 118),
        # their MLP-ODEs: two residual hidden layers (Lorenz 16, Langevin 9); they count 387 and 137
        ({"type": "mlp_ode", "width": 16, "depth": 2, "residual": True, "activation": "tanh"}, 3, 387),
        ({"type": "mlp_ode", "width": 9, "depth": 2, "residual": True, "activation": "tanh"}, 2, 137),
        # their SymODEN of width 17: 124, as they count
        (
            {
                "type": "symoden",
                "width": 17,
                "depth": 1,
                "activation": "requr",
                "alpha": 0.0,
                "beta": 0.0,
                "forcing": "none",
            },
            2,
            124,
        ),
    ],
)
def test_parameter_counts(spec, n, count):
    assert param_count(build_model(validated_block("model", spec), n, seed=0)) == count


def test_shared_trunk_feeds_both_heads():
    """Changing the trunk's hidden layer changes both V and M; the separate variant has none."""
    net = build_model(
        validated_block("model", {**ONS, "width": 8, "alpha": 0.1, "beta": 0.1, "forcing": "none"}), 3, seed=0
    )
    assert not hasattr(net, "mw") and hasattr(net, "mw_head")
    z = jnp.ones((4, 3))
    V0, (M0, _) = net.potential(z), net.matrices(z)
    net.phi.inp.bias[...] = net.phi.inp.bias[...] + 1.0
    V1, (M1, _) = net.potential(z), net.matrices(z)
    assert not np.allclose(V0, V1) and not np.allclose(M0, M1)


def symoden(alpha=0.0, seed=0):
    spec = {
        "type": "symoden",
        "width": 10,
        "depth": 2,
        "activation": "tanh",
        "alpha": alpha,
        "beta": 0.05,
        "forcing": "none",
        "dtype": "float64",
    }
    net = build_model(validated_block("model", spec), 4, seed=seed)
    graphdef, state = nnx.split(net)
    keys = jax.random.split(jax.random.key(seed), len(jax.tree.leaves(state)))
    leaves = [x + 0.5 * jax.random.normal(k, x.shape, x.dtype) for x, k in zip(jax.tree.leaves(state), keys)]
    return nnx.merge(graphdef, jax.tree.unflatten(jax.tree.structure(state), leaves))


@pytest.mark.slow
def test_symoden_energy_balance():
    """dH/dt = ∇H·ż = −∇Hᵀ D ∇H ≤ 0 (the J part conserves H); with the dissipation head zeroed
    and α = 0, H is conserved exactly."""
    net = symoden(alpha=0.1)
    z = jnp.asarray(np.random.default_rng(0).normal(size=(64, 4)))
    gradH = jax.vmap(jax.grad(net.hamiltonian))(z)
    dH = jnp.sum(gradH * net(z), axis=-1)
    _, D = net.matrices(z[:, :2])
    np.testing.assert_allclose(dH, -jnp.einsum("bi,bij,bj->b", gradH, D, gradH), rtol=1e-10, atol=1e-12)
    assert np.all(np.asarray(dH) < 0)
    net = symoden(alpha=0.0)
    net.dissipation_head.kernel[...] = jnp.zeros_like(net.dissipation_head.kernel[...])
    net.dissipation_head.bias[...] = jnp.zeros_like(net.dissipation_head.bias[...])
    dH = jnp.sum(jax.vmap(jax.grad(net.hamiltonian))(z) * net(z), axis=-1)
    assert np.abs(np.asarray(dH)).max() < 1e-12


def test_symoden_needs_an_even_state():
    with pytest.raises(ValueError, match="even state dimension"):
        build_model(validated_block("model", {"type": "symoden", "width": 4}), 3, seed=0)


def test_the_authors_activations_are_known():
    for name in ("requr", "requ", "softplus", "sigmoid", "tanh"):
        assert name in ACTIVATIONS
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"](jnp.array([0.0])), [0.5])


def prf21_init(gain=0.1, seed=0):
    spec = {**ONS, "width": 12, "alpha": 0.0, "beta": 0.0, "forcing": "none", "init": "prf21", "init_gain": gain}
    return build_model(validated_block("model", spec), 2, seed=seed)


def test_prf21_init_is_the_authors_initialisation():
    """The authors' code: the (L, U) head's bias is an orthogonal matrix B (BBᵀ = I, row-major),
    φ's head and linear term are orthogonal at the gain (rows of the (out, in) weight
    orthogonal, of norm gain), hidden biases lie in [0, ½·gain), the head's in [0, gain), and
    Glorot-uniform kernels lie within gain·√(6/(fan_in + fan_out))."""
    gain = 0.1
    net = prf21_init(gain)
    B = np.asarray(net.mw_head.bias[...]).reshape(2, 2)
    np.testing.assert_allclose(B @ B.T, np.eye(2), atol=1e-6)
    for layer in (net.phi.out, net.phi_linear):
        w = np.asarray(layer.kernel[...]).T  # torch's (out, in)
        np.testing.assert_allclose(w @ w.T, gain**2 * np.eye(2), atol=1e-6)
    inp = net.phi.inp
    assert np.all((np.asarray(inp.bias[...]) >= 0) & (np.asarray(inp.bias[...]) < 0.5 * gain))
    assert np.all((np.asarray(net.phi.out.bias[...]) >= 0) & (np.asarray(net.phi.out.bias[...]) < gain))
    for layer, (fan_in, fan_out) in ((inp, (2, 12)), (net.mw_head, (12, 4))):
        assert np.abs(np.asarray(layer.kernel[...])).max() <= gain * np.sqrt(6 / (fan_in + fan_out))


def test_prf21_init_starts_with_non_degenerate_M_and_W():
    """At the origin the (L, U) head gives about its bias B: M = LLᵀ with L = tril(B) has
    det M = (B₀₀B₁₁)² > 0 for a generic orthogonal B, and W = U − Uᵀ has W₀₁ = B₀₁ ≠ 0; the
    default initialisation (zero biases, small features at the origin) starts both near 0."""
    z = jnp.zeros((1, 2))
    M, W = prf21_init().matrices(z)
    M_default, _ = build_model(
        validated_block("model", {**ONS, "width": 12, "alpha": 0.0, "beta": 0.0, "forcing": "none"}), 2, seed=0
    ).matrices(z)
    assert np.linalg.det(np.asarray(M[0])) > 1e-3 and abs(float(W[0, 0, 1])) > 1e-2
    assert np.abs(np.asarray(M_default)).max() < 1e-6


def test_prf21_init_needs_the_shared_net():
    spec = {**ONS, "architecture": "separate", "init": "prf21"}
    with pytest.raises(ValueError, match="architecture 'shared'"):
        build_model(validated_block("model", spec), 2, seed=0)
