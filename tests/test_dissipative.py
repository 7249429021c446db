"""OnsagerNet with a dissipation restricted to some state components (``dissipative``): M's rows
and columns outside the set are zero and M stays symmetric positive semi-definite; with a
constant W and M on the velocity alone a damped oscillator's field admits V = H/w + const only."""

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
from onsagerflow.systems import langevin as lv
from onsagerflow.training import load_checkpoint, save_checkpoint

# the oscillators' M* = diag(0, γ): friction on v alone
VELOCITY = [1]


def spec(kind="onsagernet", **kw):
    return validated_block("model", {"type": kind, "dtype": "float64", **kw})


def perturbed(net, seed, scale=0.5):
    """Every parameter moved off its initial value by scale · N(0, 1)."""
    graphdef, state = nnx.split(net)
    keys = iter(jax.random.split(jax.random.key(seed + 100), 64))
    state = jax.tree.map(lambda a: a + scale * jax.random.normal(next(keys), a.shape, a.dtype), state)
    return nnx.merge(graphdef, state)


@pytest.mark.parametrize("conservative", ["state", "constant", "canonical"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_masked_m_is_zero_outside_the_set_and_symmetric_psd(variant, conservative):
    """n = 4, dissipative [0, 2, 3]: M_1j = M_j1 = 0 exactly at every state, M = Mᵀ, eigenvalues
    ≥ 0, the [0, 2, 3] block state-dependent and non-degenerate; W is untouched (still non-zero
    off the set) and the field is −(M + W)∇V + f."""
    n, keep, out = 4, [0, 2, 3], 1
    net = perturbed(build_model(spec(conservative=conservative, dissipative=keep, **VARIANTS[variant]), n, seed=0), 1)
    z = jax.random.normal(jax.random.key(2), (50, n)) * 2.0
    M, W = (np.asarray(a) for a in net.matrices(z))
    assert np.all(M[:, out, :] == 0.0) and np.all(M[:, :, out] == 0.0)
    np.testing.assert_allclose(M, np.swapaxes(M, -1, -2), atol=1e-12)
    assert np.linalg.eigvalsh(M).min() >= -1e-12
    block = M[:, keep][:, :, keep]
    assert np.linalg.eigvalsh(block).max(axis=-1).min() > 1e-6
    assert np.ptp(block, axis=0).max() > 1e-2
    assert np.abs(W[:, out, :]).max() > 1e-3
    drift = -np.einsum("bij,bj->bi", M + W, np.asarray(net.grad_potential(z))) + np.asarray(net.forcing(z))
    np.testing.assert_allclose(np.asarray(net(z)), drift, rtol=1e-12, atol=1e-12)


def test_alpha_goes_on_the_dissipative_diagonal_only():
    """M = L Lᵀ + α diag(mask): with α = 0.3 and dissipative [1], M₀₀ = 0 and M₁₁ ≥ α."""
    net = perturbed(build_model(spec(alpha=0.3, dissipative=VELOCITY, width=8, depth=1), 2, seed=0), 3)
    M = np.asarray(net.matrices(jax.random.normal(jax.random.key(5), (20, 2)))[0])
    assert np.all(M[:, 0, :] == 0.0) and np.all(M[:, :, 0] == 0.0)
    assert M[:, 1, 1].min() >= 0.3 - 1e-12


def test_null_is_the_unrestricted_net():
    """dissipative null (the default) is the papers' net: same parameters, same field."""
    z = jax.random.normal(jax.random.key(0), (7, 2))
    a = build_model(spec(**VARIANTS["shared_prf21"]), 2, seed=4)
    b = build_model(spec(dissipative=None, **VARIANTS["shared_prf21"]), 2, seed=4)
    assert a.dissipative is None and b.dissipative is None
    np.testing.assert_array_equal(np.asarray(a(z)), np.asarray(b(z)))
    assert param_count(a) == param_count(b) == 118


@pytest.mark.parametrize("bad", [[2], [0, 5], [-1]])
def test_index_outside_the_state_is_refused_naming_the_key(bad):
    with pytest.raises(ValueError, match=r"^dissipative: .*state dimension 2"):
        OnsagerNet(2, dissipative=bad, rngs=nnx.Rngs(0))


def test_schema_refuses_duplicates_and_empty_lists():
    for bad in ([], [1, 1], [-1]):
        with pytest.raises(ValueError, match="dissipative"):
            spec(dissipative=bad)


def test_checkpoints_round_trip_and_old_ones_load_unrestricted(tmp_path):
    """A masked checkpoint reloads bit for bit with its mask; one whose spec predates the key is
    filled with the schema default (null: M on every component)."""
    norm = Normalizer(mean=np.zeros(2), scale=np.ones(2), time_scale=1.0)
    z = jax.random.normal(jax.random.key(0), (5, 2))
    for name, dissipative in (("masked", VELOCITY), ("old", None)):
        s = spec(conservative="constant", dissipative=dissipative, **VARIANTS["shared_prf21"])
        net = perturbed(build_model(s, 2, seed=0), 4)
        if dissipative is None:
            s = {k: v for k, v in s.items() if k != "dissipative"}
        save_checkpoint(tmp_path / name, net, meta={"model_spec": s, "n": 2, "seed": 0}, normalizer=norm)
        model, _, _ = load_checkpoint(tmp_path / name)
        assert model.dissipative == (None if dissipative is None else tuple(dissipative))
        np.testing.assert_array_equal(np.asarray(model(z)), np.asarray(net(z)))


def test_fluctuation_dissipation_noise_follows_the_mask():
    """S-OnsagerNet with σσᵀ = 2εM and dissipative [1]: σ's row 0 is zero (no noise on x), σσᵀ = 2εM
    exactly, all finite (M is singular, so σ cannot be chol(M) itself)."""
    s = spec(kind="s_onsagernet", diffusion="fluctuation_dissipation", dissipative=VELOCITY, width=8, depth=1)
    net = perturbed(build_model(s, 2, seed=0), 2, scale=0.3)
    z = jax.random.normal(jax.random.key(1), (30, 2))
    sigma, M = np.asarray(net.sigma(z)), np.asarray(net.matrices(z)[0])
    assert np.isfinite(sigma).all() and np.all(sigma[:, 0, :] == 0.0)
    np.testing.assert_allclose(sigma @ np.swapaxes(sigma, -1, -2), 2 * float(net.eps) * M, rtol=1e-12, atol=1e-14)


# --- the physics: which V a damped oscillator's exact field admits ---------------------------

J = np.array([[0.0, -1.0], [1.0, 0.0]])  # W = wJ, the canonical conservative part of (x, v)


def _system(potential, damping):
    return validated_block(
        "system",
        {"type": "langevin", "models": ["m"], "parameters": {"potential": potential, "damping": damping}},
    )


def _states(seed=0, n=400):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, 2))


def _grad(V, u):
    return np.asarray(jax.vmap(jax.grad(V))(jnp.asarray(u)))


def restricted_residual(F, dV):
    """Relative residual of the least-squares fit of the structured model to the field F at the
    states: unknowns one w (W = wJ, constant) and one m_k per state (M = diag(0, m_k)), equations

        F_x = w ∂_v V,    F_v = −w ∂_x V − m_k ∂_v V,

    that is F = −(M + wJ)∇V component by component. Zero when V = H/w + const."""
    N = len(F)
    A = np.zeros((2 * N, N + 1))
    A[:N, 0] = dV[:, 1]
    A[N:, 0] = -dV[:, 0]
    A[N + np.arange(N), 1 + np.arange(N)] = -dV[:, 1]
    b = np.concatenate([F[:, 0], F[:, 1]])
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    return np.linalg.norm(A @ x - b) / np.linalg.norm(b), x


@pytest.mark.parametrize(
    ("potential", "damping"), [("hookean", "constant"), ("pendulum", "quadratic"), ("double_well", "constant")]
)
def test_velocity_only_dissipation_with_constant_w_admits_the_energy_alone(potential, damping):
    """For the exact field of each PRF21 Fig. 3 oscillator: V = H fits the structured model with
    zero residual (w = 1, m = γ(x, v)); so does V = 2H + 3 (w = ½: the scale the dynamics leave
    free); the tilted V = H + ε x v (ε = 0.5) leaves a residual of at least 1 % of |F|, since
    its ∂_v V = v + εx is not proportional to F_x = v."""
    sys = _system(potential, damping)
    H, F_exact = lv.energy(sys), lv.field(sys)
    u = _states()
    F = np.asarray(F_exact(jnp.asarray(u)))
    gamma, _ = lv.parameters(sys)

    res, x = restricted_residual(F, _grad(H, u))
    assert res < 1e-12
    np.testing.assert_allclose(x[0], 1.0, rtol=1e-12)
    np.testing.assert_allclose(x[1:], np.asarray(lv.damping(damping, u[:, 0], u[:, 1], gamma)), rtol=1e-9)

    res, x = restricted_residual(F, _grad(lambda y: 2.0 * H(y) + 3.0, u))
    assert res < 1e-12
    np.testing.assert_allclose(x[0], 0.5, rtol=1e-12)

    res, _ = restricted_residual(F, _grad(lambda y: H(y) + 0.5 * y[0] * y[1], u))
    assert res > 1e-2


def test_the_unrestricted_model_accepts_the_tilted_potential():
    """Without the restriction the tilted V = H + ½ x v fits the Hookean's field exactly: it is a
    Lyapunov function (dV/dt = −2.5v² − 1.5xv − 2x² < 0 for γ = 3, κ = 4), and with W = J and
    M = b bᵀ/(∇V·b), b = −F − W∇V (symmetric PSD since ∇V·b = −∇V·F > 0), −(M + W)∇V = F.
    This is the freedom the velocity-only M removes (the previous test)."""
    sys = _system("hookean", "constant")
    H, F_exact = lv.energy(sys), lv.field(sys)
    u = _states(1)
    u = u[np.linalg.norm(u, axis=1) > 1e-3]
    F = np.asarray(F_exact(jnp.asarray(u)))
    dV = _grad(lambda y: H(y) + 0.5 * y[0] * y[1], u)
    b = -F - dV @ J.T
    gain = np.einsum("ki,ki->k", dV, b)
    assert gain.min() > 0
    M = b[:, :, None] * b[:, None, :] / gain[:, None, None]
    assert np.linalg.eigvalsh(M).min() >= -1e-12
    np.testing.assert_allclose(-np.einsum("kij,kj->ki", M + J, dV), F, rtol=1e-10, atol=1e-12)
    assert np.abs(M[:, 0, :]).max() > 1e-2  # it needs dissipation on x, which the mask forbids


def test_canonical_w_is_the_symplectic_matrix_and_learns_nothing():
    """conservative canonical: W = ((0, −I), (I, 0)) at every state (n = 4: W_02 = W_13 = −1), no
    parameter for it (the constant net's 106 less its one W entry: 105), odd n refused."""
    net = perturbed(build_model(spec(conservative="canonical", dissipative=[2, 3], width=8, depth=1), 4, seed=0), 1)
    W = np.asarray(net.matrices(jax.random.normal(jax.random.key(0), (6, 4)))[1])
    expected = np.block([[np.zeros((2, 2)), -np.eye(2)], [np.eye(2), np.zeros((2, 2))]])
    np.testing.assert_array_equal(W, np.broadcast_to(expected, W.shape))
    assert param_count(build_model(spec(conservative="canonical", **PRF21), 2, seed=0)) == 105
    with pytest.raises(ValueError, match="^conservative: canonical .* even state dimension, got 3"):
        OnsagerNet(3, conservative="canonical", rngs=nnx.Rngs(0))


def canonical_residual(F, dV):
    """As restricted_residual with w fixed to 1 (W = J): F_x = ∂_v V, F_v = −∂_x V − m_k ∂_v V."""
    N = len(F)
    A = np.zeros((N, N))
    A[np.arange(N), np.arange(N)] = -dV[:, 1]
    b = F[:, 1] + dV[:, 0]
    m, *_ = np.linalg.lstsq(A, b, rcond=None)
    r = np.concatenate([F[:, 0] - dV[:, 1], A @ m - b])
    return np.linalg.norm(r) / np.linalg.norm(F)


def test_canonical_w_with_velocity_only_dissipation_fixes_the_scale_too():
    """With W = J fixed the pendulum's exact field admits V = H + 3 (zero residual) but no longer
    V = 2H (the scale a learned w absorbs): F_x = v while ∂_v(2H) = 2v."""
    sys = _system("pendulum", "quadratic")
    H, F_exact = lv.energy(sys), lv.field(sys)
    u = _states(2)
    F = np.asarray(F_exact(jnp.asarray(u)))
    assert canonical_residual(F, _grad(lambda y: H(y) + 3.0, u)) < 1e-12
    assert canonical_residual(F, _grad(lambda y: 2.0 * H(y), u)) > 0.1
