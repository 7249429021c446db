"""S-OnsagerNet: diffusion structure, the Euler–Maruyama likelihood, the SDE
simulator, and recovery of an Ornstein–Uhlenbeck process. Tolerances are multiples of the
sampling standard error (SE) stated next to each check."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy.stats import multivariate_normal

from onsagerflow.analysis.sde import model_sde, physical_sde, simulate_sde
from onsagerflow.config import validated_block
from onsagerflow.models import build_model
from onsagerflow.models.normalizer import Normalizer
from onsagerflow.models.onsagernet import DIFFUSIONS, OnsagerNet, SOnsagerNet
from onsagerflow.training import em_nll, fit, load_checkpoint, save_checkpoint


def spec(diffusion, **kw):
    """A validated model block; ``kw`` may add the library's sigma_init and sigma_floor."""
    base = {
        "type": "s_onsagernet",
        "width": 8,
        "depth": 2,
        "potential_dim": 4,
        "alpha": 0.2,
        "beta": 0.2,
        "activation": "requr",
        "forcing": "linear",
        "diffusion": diffusion,
        "dtype": "float64",
    }
    return {**validated_block("model", base), **kw}


def random_snet(diffusion, seed, n=3, scale=0.5):
    """An SOnsagerNet with every parameter moved off its initial value by scale · N(0, 1)."""
    net = build_model(spec(diffusion), n, seed=seed)
    graphdef, state = nnx.split(net)
    keys = iter(jax.random.split(jax.random.key(seed + 100), 64))
    state = jax.tree.map(lambda a: a + scale * jax.random.normal(next(keys), a.shape, a.dtype), state)
    return nnx.merge(graphdef, state)


# --- structure, any parameters ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("diffusion", DIFFUSIONS)
def test_diffusion_matrix_is_symmetric_positive_definite(diffusion):
    """σσᵀ is a covariance for every kind: symmetric with positive eigenvalues, and σ is lower
    triangular with a positive diagonal (em_nll and the simulator rely on neither, but the
    Cholesky factor is then σ itself). Batches of shape (..., n) come back as (..., n, n)."""
    for seed in (0, 1):
        net = random_snet(diffusion, seed)
        z = jax.random.normal(jax.random.key(seed), (50, 4, 3)) * 3.0
        s = np.asarray(net.sigma(z))
        D = np.asarray(net.diffusion_matrix(z))
        assert s.shape == D.shape == (50, 4, 3, 3)
        np.testing.assert_allclose(D, np.swapaxes(D, -1, -2), atol=1e-12)
        assert np.linalg.eigvalsh(D).min() > 0
        np.testing.assert_array_equal(np.triu(s, k=1), 0.0)
        assert np.diagonal(s, axis1=-2, axis2=-1).min() > 0
        assert np.asarray(net.drift(z)).shape == (50, 4, 3)


@pytest.mark.slow
def test_fluctuation_dissipation_form_and_its_drift_correction():
    """σσᵀ = 2εM to round-off, and drift − (OnsagerNet drift) = ε∇·M with
    (∇·M)_i = Σ_j ∂M_ij/∂z_j checked against central differences (error O(h²) ≈ 1e-10)."""
    net = random_snet("fluctuation_dissipation", 3)
    z = jax.random.normal(jax.random.key(3), (40, 3)) * 2.0
    M, _ = net.matrices(z)
    eps = float(net.eps)
    np.testing.assert_allclose(np.asarray(net.diffusion_matrix(z)), 2 * eps * np.asarray(M), rtol=1e-12, atol=1e-14)
    h = 1e-5
    fd = np.zeros((40, 3))
    for j in range(3):
        e = jnp.eye(3)[j]
        fd += np.asarray(net.matrices(z + h * e)[0] - net.matrices(z - h * e)[0])[:, :, j] / (2 * h)
    correction = np.asarray(net.drift(z) - OnsagerNet.__call__(net, z))
    np.testing.assert_allclose(np.asarray(net.divergence_M(z)), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(correction, eps * fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(np.asarray(net(z)), np.asarray(net.drift(z)))


def _fd_net_1d():
    """1-D fluctuation–dissipation net, f = 0 (W = 0 in 1-D), with a strongly varying
    M(z) ∈ [0.2, ~22] so that ε∇·M matters, and a tilted (asymmetric) potential."""
    net = SOnsagerNet(
        1,
        diffusion="fluctuation_dissipation",
        width=8,
        depth=1,
        alpha=0.2,
        beta=0.25,
        forcing="none",
        activation="tanh",
        rngs=nnx.Rngs(0),
        param_dtype=jnp.float64,
    )
    net.mw.out.kernel[...] = 3.0 * net.mw.out.kernel[...]
    for lin in (net.phi.inp, net.phi.out, net.mw.inp):
        lin.bias[...] = jax.random.normal(jax.random.key(7), lin.bias.shape)
    net.log_eps[...] = jnp.log(0.5)
    return net


@pytest.mark.slow
def test_fluctuation_dissipation_keeps_the_boltzmann_density_stationary():
    """With f = W = 0, p ∝ exp(−V/ε) is stationary (docstring of SOnsagerNet). Paths start
    from p (inverse-CDF samples on a grid) and after t = 2 their mean and variance still
    match the quadrature moments of p within 4 SE (SE from p's own 2nd/4th moments, B
    paths). Without the ε∇·M term the same paths leave p by far more (variance 0.81 → ≈0.18)."""
    net = _fd_net_1d()
    zg = np.linspace(-8, 8, 4001)
    V = np.asarray(net.potential(jnp.asarray(zg[:, None])))
    p = np.exp(-(V - V.min()) / float(net.eps))
    p /= np.trapezoid(p, zg)
    mean = np.trapezoid(p * zg, zg)
    var = np.trapezoid(p * (zg - mean) ** 2, zg)
    m4 = np.trapezoid(p * (zg - mean) ** 4, zg)
    B = 4000
    cdf = np.cumsum(p) / np.sum(p)
    z0 = np.interp((np.arange(B) + 0.5) / B, cdf, zg)[:, None]
    drift, sigma, args = model_sde(net)
    t = np.array([0.0, 2.0])
    # dt = 0.005: at dt = 0.01 the EM bias of the variance is already below 1 SE, and
    # dt = 0.001 gave the same moments.
    x = simulate_sde(drift, sigma, z0, t, 0.005, jax.random.key(0), args=args)[:, -1, 0]
    se_mean, se_var = np.sqrt(var / B), np.sqrt((m4 - var**2) / B)
    assert abs(x.mean() - mean) < 4 * se_mean
    assert abs(x.var() - var) < 4 * se_var

    graphdef = nnx.graphdef(net)

    def uncorrected(z, st):
        return OnsagerNet.__call__(nnx.merge(graphdef, st), z)

    y = simulate_sde(uncorrected, sigma, z0, t, 0.005, jax.random.key(0), args=args)[:, -1, 0]
    assert abs(y.var() - var) > 20 * se_var


# --- likelihood --------------------------------------------------------------------------


class _LinearGaussian:
    """Hand-built SDE dz = A z dt + C dW: drift A z, constant covariance C Cᵀ."""

    def __init__(self, A, C):
        self.A, self.C = jnp.asarray(A), jnp.asarray(C)

    def drift(self, z):
        return z @ self.A.T

    def diffusion_matrix(self, z):
        return jnp.broadcast_to(self.C @ self.C.T, (*z.shape[:-1], *self.A.shape))


def test_em_nll_equals_the_closed_form_gaussian_nll():
    """ΔZ ~ N(AZτ, CCᵀτ): NLL = ½[rᵀΣ⁻¹r + log det Σ + n log 2π], averaged over the
    batch × K increments and divided by n, against numpy (solve, slogdet) and scipy."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(2, 2))
    C = np.array([[0.7, 0.0], [0.3, 0.4]])
    tau = 0.1
    w = rng.normal(size=(5, 4, 2))  # batch 5, K = 3 increments each
    z, dz = w[:, :-1].reshape(-1, 2), np.diff(w, axis=1).reshape(-1, 2)
    S = C @ C.T * tau
    r = dz - tau * z @ A.T
    quad = np.einsum("bi,bi->b", r, np.linalg.solve(S, r.T).T)
    expected = np.mean(0.5 * (quad + np.linalg.slogdet(S)[1] + 2 * np.log(2 * np.pi))) / 2
    got = float(em_nll(_LinearGaussian(A, C), jnp.asarray(w), tau))
    assert got == pytest.approx(expected, rel=1e-12)
    scipy_nll = -np.mean([multivariate_normal(tau * A @ zi, S).logpdf(di) for zi, di in zip(z, dz)]) / 2
    assert got == pytest.approx(scipy_nll, rel=1e-10)


@pytest.mark.slow
def test_em_nll_of_a_state_dependent_full_noise_net_matches_scipy():
    """The same formula with σ(z) varying per increment (full Cholesky kind, random net)."""
    net = random_snet("full", 4)
    w = jax.random.normal(jax.random.key(4), (3, 3, 3))
    tau = 0.05
    z, dz = np.asarray(w[:, :-1]).reshape(-1, 3), np.asarray(jnp.diff(w, axis=1)).reshape(-1, 3)
    mu, S = np.asarray(net.drift(jnp.asarray(z))) * tau, np.asarray(net.diffusion_matrix(jnp.asarray(z))) * tau
    expected = -np.mean([multivariate_normal(m, s).logpdf(d) for m, s, d in zip(mu, S, dz)]) / 3
    assert float(em_nll(net, w, tau)) == pytest.approx(expected, rel=1e-10)


# --- recovery of an Ornstein–Uhlenbeck process ---------------------------------------------------


def ou_paths(theta, s, tau, n_traj, T, seed):
    """Exact OU transitions z' = a z + sd ξ, a = e^{−θτ}, sd² = s²(1 − a²)/(2θ), from the
    stationary law N(0, s²/(2θ)); shape (n_traj, T+1, 1)."""
    rng = np.random.default_rng(seed)
    a = np.exp(-theta * tau)
    sd = s * np.sqrt((1 - a**2) / (2 * theta))
    z = np.empty((n_traj, T + 1, 1))
    z[:, 0] = rng.normal(size=(n_traj, 1)) * s / np.sqrt(2 * theta)
    for k in range(T):
        z[:, k + 1] = a * z[:, k] + sd * rng.normal(size=(n_traj, 1))
    return z


def pairs(z):
    return np.stack([z[:, :-1], z[:, 1:]], axis=2).reshape(-1, 2, z.shape[-1])


@pytest.mark.slow
def test_fit_recovers_ou_drift_slope_and_noise():
    """dz = −θz dt + s dW, θ = 1, s = 0.5, sampled exactly at τ = 0.05. The EM likelihood of
    exact transitions is maximised by the EM-consistent values θ_EM = (1 − e^{−θτ})/τ = 0.9754
    and s_EM = s √((1 − e^{−2θτ})/(2θτ)) = 0.4878 (EM's own discretisation; |s − s_EM| would
    be 4.5 SE, so the truth is not the right target). Checks: the learned drift's slope
    (least squares of b(z) on z over the data) within 3 SE of θ_EM, SE = sd/(τ √Σz²) = 0.048;
    the learned σ within 3 SE of s_EM, SE = s_EM/√(2N) = 0.0027 (N = 16,000 increments)."""
    theta, s, tau = 1.0, 0.5, 0.05
    z = ou_paths(theta, s, tau, n_traj=100, T=200, seed=0)
    train, val = pairs(z[20:]), pairs(z[:20])
    model = build_model(spec("constant_diagonal", depth=1, potential_dim=1, sigma_init=0.5), 1, seed=0)
    cfg = validated_block(
        "training",
        {
            "epochs": 60,
            "batch_size": 1000,
            "learning_rate": 2e-2,
            "weight_decay": 0.0,
            "grad_clip": 10.0,
            "plateau": {"factor": 0.3, "patience": 2, "min_scale": 1e-2},
            "early_stopping": {"patience": 12, "min_delta": 0.0},
        },
    )
    fit(model, train, val, tau=tau, cfg=cfg, seed=0, loss=em_nll)

    x = train[:, 0]
    b = np.asarray(model.drift(jnp.asarray(x)))
    theta_hat = -np.sum(x * b) / np.sum(x * x)
    s_hat = float(np.exp(model.log_sigma[...])[0])
    a = np.exp(-theta * tau)
    sd = s * np.sqrt((1 - a**2) / (2 * theta))
    theta_em, s_em = (1 - a) / tau, sd / np.sqrt(tau)
    se_theta, se_s = sd / (tau * np.sqrt(np.sum(x * x))), s_em / np.sqrt(2 * x.shape[0])
    print(
        f"theta {theta_hat:.4f} (EM target {theta_em:.4f}, true {theta}, SE {se_theta:.4f}); "
        f"s {s_hat:.4f} (EM target {s_em:.4f}, true {s}, SE {se_s:.4f})"
    )
    assert abs(theta_hat - theta_em) < 3 * se_theta
    assert abs(s_hat - s_em) < 3 * se_s


# --- simulator -----------------------------------------------------------------------------------

THETA, S = np.array([1.0, 2.5]), np.array([1.0, 0.5])


def ou_drift(z, args):
    return -args[0] * z


def ou_sigma(z, args):
    return jnp.diag(args[1])


def test_simulate_sde_reproduces_ou_variance_and_is_seeded():
    """2-D OU from z = 0, EM step h = 0.01: Var z_i(t_k) = v_i (1 − (1 − θ_i h)^{2k}) with the
    EM stationary value v_i = s_i²/(2θ_i − θ_i² h), which is s²/(2θ) up to a bias θh/2 ≤ 1.3 %
    (below the 3.2 % SE). Checked at every save within 4 SE, SE = Var √(2/B), B = 2000
    paths; the stationary value at t = 5 is also compared with s²/(2θ) itself. Same key:
    identical paths; another key: different; path i does not depend on the batch size."""
    B, h = 2000, 0.01
    t = np.linspace(0.0, 5.0, 11)
    args = (jnp.asarray(THETA), jnp.asarray(S))
    zs = simulate_sde(ou_drift, ou_sigma, np.zeros(2), t, h, jax.random.key(0), args=args, n_paths=B)
    assert zs.shape == (B, 11, 2)
    np.testing.assert_array_equal(zs[:, 0], 0.0)
    k = np.round(t / h)[1:, None]
    v_em = S**2 / (2 * THETA - THETA**2 * h)
    expected = v_em * (1 - (1 - THETA * h) ** (2 * k))
    got = zs[:, 1:].var(axis=0)
    assert np.all(np.abs(got - expected) < 4 * expected * np.sqrt(2 / B))
    v_exact = S**2 / (2 * THETA)
    print(f"stationary variance at t = 5: {got[-1]} vs s²/(2θ) = {v_exact}")
    assert np.all(np.abs(got[-1] - v_exact) < 4 * v_exact * np.sqrt(2 / B) + np.abs(v_em - v_exact))

    again = simulate_sde(ou_drift, ou_sigma, np.zeros(2), t, h, jax.random.key(0), args=args, n_paths=B)
    np.testing.assert_array_equal(zs, again)
    other = simulate_sde(ou_drift, ou_sigma, np.zeros(2), t, h, jax.random.key(1), args=args, n_paths=B)
    assert not np.array_equal(zs, other)
    few = simulate_sde(ou_drift, ou_sigma, np.zeros((5, 2)), t, h, jax.random.key(0), args=args)
    np.testing.assert_array_equal(few, zs[:5])


def test_simulate_sde_rejects_uneven_saves():
    with pytest.raises(ValueError, match="uniformly spaced"):
        simulate_sde(
            ou_drift,
            ou_sigma,
            np.zeros((2, 2)),
            [0.0, 0.1, 0.3],
            0.01,
            jax.random.key(0),
            args=(jnp.asarray(THETA), jnp.asarray(S)),
        )


def test_physical_sde_is_the_normalised_sde_mapped_back():
    """x = scale ⊙ z + mean, t = T t': the physical EM path with step T h' and the same
    noise equals the decoded normalised path (dW = √T dW')."""
    net = random_snet("full", 5, scale=0.2)
    norm = Normalizer(mean=np.array([1.0, -2.0, 0.5]), scale=np.array([2.0, 0.5, 3.0]), time_scale=0.3)
    z0 = np.random.default_rng(0).normal(size=(4, 3)) * 0.5
    t_norm = np.linspace(0.0, 0.5, 6)
    zs = simulate_sde(*model_sde(net)[:2], z0, t_norm, 0.01, jax.random.key(2), args=model_sde(net)[2])
    d, s, a = physical_sde(net, norm)
    xs = simulate_sde(
        d, s, norm.decode(z0), t_norm * norm.time_scale, 0.01 * norm.time_scale, jax.random.key(2), args=a
    )
    np.testing.assert_allclose(xs, norm.decode(zs), rtol=1e-9, atol=1e-9)


# --- build and checkpoints -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("diffusion", DIFFUSIONS)
def test_checkpoint_round_trip(tmp_path, diffusion):
    """save_checkpoint → load_checkpoint rebuilds an SOnsagerNet from its spec with the same
    drift and σ, bit for bit."""
    net = random_snet(diffusion, 6)
    norm = Normalizer(mean=np.zeros(3), scale=np.ones(3), time_scale=1.0)
    save_checkpoint(tmp_path / "ck", net, meta={"model_spec": spec(diffusion), "n": 3, "seed": 6}, normalizer=norm)
    model, _, meta = load_checkpoint(tmp_path / "ck")
    assert isinstance(model, SOnsagerNet) and model.diffusion_kind == diffusion
    z = jax.random.normal(jax.random.key(6), (7, 3))
    np.testing.assert_array_equal(np.asarray(model.drift(z)), np.asarray(net.drift(z)))
    np.testing.assert_array_equal(np.asarray(model.sigma(z)), np.asarray(net.sigma(z)))


@pytest.mark.slow
def test_initial_noise_is_sigma_init_and_bad_specs_are_named():
    """At initialisation σσᵀ(0) = sigma_init² I for the learned-noise kinds and has
    trace n·sigma_init² for the fluctuation–dissipation form."""
    z = jnp.zeros((1, 3))
    for diffusion in DIFFUSIONS:
        D = np.asarray(build_model(spec(diffusion, sigma_init=0.3), 3, seed=0).diffusion_matrix(z))[0]
        if diffusion == "fluctuation_dissipation":
            assert np.trace(D) == pytest.approx(3 * 0.09, rel=1e-10)
        else:
            np.testing.assert_allclose(D, 0.09 * np.eye(3), rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="diffusion must be one of"):
        build_model({**spec("diagonal"), "diffusion": "isotropic"}, 3, seed=0)  # past the schema
    # a closure chart wraps it in a JointModel, which needs the PCA coordinates' count
    chart = validated_block("pca_resnet", {"width": 4, "depth": 1, "activation": "tanh"})
    with pytest.raises(ValueError, match="needs input_dim"):
        build_model(spec("full", autoencoder=chart), 3, seed=0)
    joint = build_model(spec("full", autoencoder=chart), 3, seed=0, input_dim=5, fixed=1)
    assert isinstance(joint.dynamics, SOnsagerNet) and joint.autoencoder.fixed == 1
