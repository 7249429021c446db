"""OnsagerNet with a constant conservative matrix (``conservative: constant``): W is one learned
antisymmetric matrix while M stays state-dependent; with it exp(−V/ε) is a stationary density of
the fluctuation–dissipation S-OnsagerNet, which a state-dependent W breaks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ONSAGERNET_VARIANTS as VARIANTS
from conftest import PRF21_NET as PRF21
from flax import nnx

from onsagerflow.config import validated_block
from onsagerflow.models import build_model, param_count
from onsagerflow.models.normalizer import Normalizer
from onsagerflow.models.onsagernet import OnsagerNet
from onsagerflow.training import load_checkpoint, save_checkpoint


def spec(conservative, kind="onsagernet", **kw):
    return validated_block("model", {"type": kind, "dtype": "float64", "conservative": conservative, **kw})


def perturbed(net, seed, scale=0.5):
    """Every parameter moved off its initial value by scale · N(0, 1)."""
    graphdef, state = nnx.split(net)
    keys = iter(jax.random.split(jax.random.key(seed + 100), 64))
    state = jax.tree.map(lambda a: a + scale * jax.random.normal(next(keys), a.shape, a.dtype), state)
    return nnx.merge(graphdef, state)


@pytest.mark.parametrize("variant", VARIANTS)
def test_constant_w_is_one_antisymmetric_matrix_and_m_still_varies(variant):
    """W(z) = W(z′) for all states, Wᵀ = −W, W ≠ 0; M(z) = L(z)L(z)ᵀ + αI symmetric positive
    semi-definite and state-dependent; the field is −(M + W)∇V + f."""
    n = 3
    net = perturbed(build_model(spec("constant", **VARIANTS[variant]), n, seed=0), 1)
    z = jax.random.normal(jax.random.key(2), (50, n)) * 2.0
    M, W = (np.asarray(a) for a in net.matrices(z))
    np.testing.assert_array_equal(W, np.broadcast_to(W[0], W.shape))
    np.testing.assert_array_equal(W, -np.swapaxes(W, -1, -2))
    assert np.abs(W[0][np.triu_indices(n, k=1)]).min() > 1e-3
    np.testing.assert_allclose(M, np.swapaxes(M, -1, -2), atol=1e-12)
    assert np.linalg.eigvalsh(M).min() >= -1e-12
    assert np.ptp(M, axis=0).max() > 1e-2
    drift = -np.einsum("bij,bj->bi", M + W, np.asarray(net.grad_potential(z))) + np.asarray(net.forcing(z))
    np.testing.assert_allclose(np.asarray(net(z)), drift, rtol=1e-12, atol=1e-12)


def test_constant_w_drops_the_w_outputs():
    """The authors' Langevin net (118 parameters) with a constant W: the head gives L's 3 entries
    instead of 4 (12 weights and a bias fewer) and W adds its one entry: 118 − 13 + 1 = 106."""
    assert param_count(build_model(spec("state", **PRF21), 2, seed=0)) == 118
    assert param_count(build_model(spec("constant", **PRF21), 2, seed=0)) == 106


def test_prf21_init_splits_its_orthogonal_start_between_l_and_w():
    """init prf21 draws the same orthogonal B for both forms: the state net's head bias is B
    (row-major), the constant net's head bias is B's lower triangle and its W's U is B's strict
    upper triangle, so both start from W(0) ≈ B₀₁ (J-like) and M(0) ≈ tril(B) tril(B)ᵀ."""
    n = 2
    B = np.asarray(build_model(spec("state", **VARIANTS["shared_prf21"]), n, seed=3).mw_head.bias[...]).reshape(n, n)
    net = build_model(spec("constant", **VARIANTS["shared_prf21"]), n, seed=3)
    np.testing.assert_array_equal(np.asarray(net.mw_head.bias[...]), B[np.tril_indices(n)])
    np.testing.assert_array_equal(np.asarray(net.w_upper[...]), B[np.triu_indices(n, k=1)])
    np.testing.assert_allclose(B @ B.T, np.eye(n), atol=1e-12)


def test_bad_conservative_value_is_named():
    with pytest.raises(ValueError, match="conservative must be one of"):
        OnsagerNet(2, conservative="symplectic", rngs=nnx.Rngs(0))


def test_checkpoints_round_trip_and_old_ones_load_as_state(tmp_path):
    """A constant-W checkpoint reloads bit for bit; one whose spec predates the key (no
    ``conservative``) is filled with the schema default, the state-dependent W."""
    norm = Normalizer(mean=np.zeros(2), scale=np.ones(2), time_scale=1.0)
    z = jax.random.normal(jax.random.key(0), (5, 2))
    for conservative in ("constant", "state"):
        s = spec(conservative, **VARIANTS["shared_prf21"])
        net = perturbed(build_model(s, 2, seed=0), 4)
        if conservative == "state":
            s = {k: v for k, v in s.items() if k != "conservative"}
        save_checkpoint(tmp_path / conservative, net, meta={"model_spec": s, "n": 2, "seed": 0}, normalizer=norm)
        model, _, _ = load_checkpoint(tmp_path / conservative)
        assert model.constant_w == (conservative == "constant")
        np.testing.assert_array_equal(np.asarray(model(z)), np.asarray(net(z)))


def _stationarity_defect(net, z):
    """∇·J at z for the Fokker–Planck flux of p = exp(−V/ε) under the net's Itô SDE,

        J_i = p b_i − Σ_j ∂_j(D_ij p),  D = σσᵀ/2 = εM,  b = −(M + W)∇V + ε∇·M,

    which reduces to J = −p W∇V and ∇·J = −p Σ_ij (∂_i W_ij) ∂_j V (the other terms cancel by
    antisymmetry): zero for a constant W. Returns, per state of z (b, n), ∇·J and the largest
    |∂_i J_i| as its scale."""
    eps = net.eps

    def p(y):
        return jnp.exp(-net.potential(y) / eps)

    def flux(y):
        dDp = jax.jacfwd(lambda x: eps * net.matrices(x)[0] * p(x))(y)  # [i, j, k] = ∂_k(D_ij p)
        return p(y) * net.drift(y) - jnp.einsum("ijj->i", dDp)

    def defect(y):
        dJ = jax.jacfwd(flux)(y)
        return jnp.trace(dJ), jnp.abs(jnp.diag(dJ)).max()

    return jax.jit(jax.vmap(defect))(z)


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_constant_w_keeps_the_boltzmann_density_stationary(seed):
    """Fluctuation–dissipation S-OnsagerNet (σσᵀ = 2εM, drift with ε∇·M), n = 2, random
    parameters: with a constant W, ∇·J = 0 to rounding at random states although each ∂_i J_i
    is not; with the state-dependent W the same check fails (∇·J = −p (∂_i W_ij) ∂_j V ≠ 0)."""
    common = dict(
        kind="s_onsagernet", diffusion="fluctuation_dissipation", width=8, depth=1, activation="tanh", forcing="none"
    )
    for conservative in ("constant", "state"):
        net = perturbed(build_model(spec(conservative, **common), 2, seed=seed), seed, scale=0.3)
        z = jnp.asarray(np.random.default_rng(seed).normal(size=(8, 2)) * 0.7)
        defect, scale = (np.abs(np.asarray(a)) for a in _stationarity_defect(net, z))
        assert np.all(scale > 1e-6)
        if conservative == "constant":
            assert np.all(defect < 1e-10 * scale)
        else:
            assert np.all(defect > 1e-4 * scale)
