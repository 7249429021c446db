"""Baselines: SINDy (pysindy fit, JAX evaluation, checkpoint) and the drift-only model of a
stochastic system (a deterministic OnsagerNet trained without a noise model)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import lorenz_spec

from onsagerflow.analysis.rollout import integrate
from onsagerflow.analysis.sde import physical_sde, simulate_sde
from onsagerflow.config import validated_block
from onsagerflow.models import build_model, param_count
from onsagerflow.models.dynamics import physical_field
from onsagerflow.models.normalizer import Normalizer
from onsagerflow.models.sindy import SINDy, feature_names, fit_sindy, monomial_powers
from onsagerflow.systems import get_system
from onsagerflow.training import fit, load_checkpoint, make_windows, save_checkpoint

SIGMA, R, BETA = 10.0, 28.0, 8.0 / 3.0


def lorenz_trajectories(dt=0.001, t_end=2.0, n=6, seed=1):
    spec = lorenz_spec(r=R, n=n, t_end=t_end, dt=dt, seed=seed)
    system = get_system("lorenz")
    starts = system.sample_initial_states(spec, n, seed)
    return np.asarray(system.solve(spec, starts, np.arange(0.0, t_end + dt / 2, dt))), dt


def test_monomials_follow_pysindy_order():
    assert feature_names(3, 2) == ["1", "z0", "z1", "z2", "z0^2", "z0 z1", "z0 z2", "z1^2", "z1 z2", "z2^2"]
    assert monomial_powers(2, 3).shape == (10, 2)


@pytest.mark.slow
def test_sindy_recovers_lorenz_coefficients_from_clean_data():
    """Raw (unnormalised) coordinates, where Lorenz-63 is sparse:
        ẋ = σ(y − x),  ẏ = x(r − z) − y,  ż = xy − βz   (σ = 10, r = 28, β = 8/3).
    Centred differences at Δt = 10⁻³ err by Δt² x'''/6: relative to ẋ about (Δt ω)²/6 ≈ 10⁻⁴
    for the attractor's fastest rates ω ≈ 20, so 0.5% on each coefficient is a wide margin;
    a threshold of 0.5 sits far below the smallest true coefficient (1) and far above the
    spurious ones FD noise produces (≲ 10⁻²), so the sparsity pattern must be exact."""
    u, dt = lorenz_trajectories()
    coef, _ = fit_sindy(u, dt, degree=2, threshold=0.5, alpha=0.0)
    names = feature_names(3, 2, ["x", "y", "z"])
    expected = np.zeros((len(names), 3))
    row = {f: i for i, f in enumerate(names)}
    expected[row["x"], 0], expected[row["y"], 0] = -SIGMA, SIGMA
    expected[row["x"], 1], expected[row["x z"], 1], expected[row["y"], 1] = R, -1.0, -1.0
    expected[row["x y"], 2], expected[row["z"], 2] = 1.0, -BETA
    np.testing.assert_array_equal(coef != 0, expected != 0)
    np.testing.assert_allclose(coef, expected, rtol=5e-3, atol=0)


def test_jax_polynomial_matches_pysindy_predict():
    """The fitted coefficients in the JAX model give pysindy's own prediction, for a cubic
    library of 4 variables (all cross terms, so a wrong feature order would show)."""
    rng = np.random.default_rng(0)
    u = np.cumsum(rng.normal(size=(3, 200, 4)) * 0.1, axis=1)
    coef, ps_model = fit_sindy(u, 0.01, degree=3, threshold=0.0, alpha=0.0)
    model = SINDy(4, degree=3)
    model.coef[...] = jnp.asarray(coef)
    z = rng.normal(size=(50, 4))
    np.testing.assert_allclose(np.asarray(model(jnp.asarray(z))), ps_model.predict(z), rtol=1e-9, atol=1e-9)
    assert param_count(model) == np.count_nonzero(coef)


@pytest.mark.slow
def test_sindy_checkpoint_round_trip_and_physical_rollout(tmp_path):
    """Fitted in normalised units, saved and loaded like any model, and rolled out in physical
    units by the shared diffrax code: it follows a held-out Lorenz trajectory. The threshold is
    small because normalising turns Lorenz's exact zeros into small real terms (the constant
    σ(m_y − m_x)/… is about −0.03 here), and dropping them drifts the rollout by 10% in 0.5."""
    u, dt = lorenz_trajectories(dt=0.002, t_end=3.0, n=8)
    norm = Normalizer.fit(u[:6], dt)
    spec = {"type": "sindy", "degree": 2}
    coef, _ = fit_sindy(norm.encode(u[:6]), dt / norm.time_scale, degree=2, threshold=0.01, alpha=0.0)
    model = build_model(spec, 3, seed=0)
    model.coef[...] = jnp.asarray(coef)
    save_checkpoint(tmp_path / "m", model, meta={"model_spec": spec, "n": 3, "seed": 0}, normalizer=norm)
    loaded, norm2, _ = load_checkpoint(tmp_path / "m")
    np.testing.assert_array_equal(np.asarray(loaded.coef[...]), coef)
    field, args = physical_field(loaded, norm2)
    t = np.arange(0.0, 0.5, dt)
    pred, ok = integrate(field, u[6:, 0], t, args=args, rtol=1e-9, atol=1e-9)
    assert ok.all()
    rel = np.linalg.norm(pred - u[6:, : len(t)], axis=-1) / np.linalg.norm(u[6:, : len(t)], axis=-1)
    assert rel.max() < 1e-2


@pytest.mark.slow
def test_a_diverging_sindy_rollout_is_reported_unbounded():
    """ż = z² blows up in finite time from z = 1 (at t = 1): the rollout stops at the bound and
    comes back NaN with ok False, instead of raising."""
    model = SINDy(1, degree=2)
    model.coef[...] = jnp.array([[0.0], [0.0], [1.0]])
    norm = Normalizer(mean=np.zeros(1), scale=np.ones(1), time_scale=1.0)
    field, args = physical_field(model, norm)
    xs, ok = integrate(field, np.array([[1.0], [-1.0]]), np.linspace(0, 2, 21), args=args, bound=100.0)
    assert list(ok) == [False, True]
    assert np.isnan(xs[0, -1]).all() and np.isfinite(xs[1]).all()


def ou_windows(seed=0, n_traj=16, T=200, dt=0.05):
    """Ornstein–Uhlenbeck paths dZ = −Z dt + 0.5 dW in 2D, cut into pair windows."""
    rng = np.random.default_rng(seed)
    z = np.zeros((n_traj, T, 2))
    z[:, 0] = rng.normal(size=(n_traj, 2))
    for k in range(1, T):
        z[:, k] = z[:, k - 1] - z[:, k - 1] * dt + 0.5 * np.sqrt(dt) * rng.normal(size=(n_traj, 2))
    return z, dt


@pytest.mark.slow
def test_drift_only_model_trains_without_noise_and_is_deterministic():
    """The drift-only baseline is an OnsagerNet trained by the deterministic pair loss on the noisy
    data: its loss falls, and in the ensemble evaluation (physical_sde) it has σ = 0, so every
    realisation from a start is the same path whatever the noise key."""
    z, dt = ou_windows()
    spec = validated_block(
        "model",
        {
            "type": "onsagernet",
            "width": 8,
            "depth": 1,
            "potential_dim": 2,
            "alpha": 0.1,
            "beta": 0.1,
            "activation": "requr",
            "forcing": "linear",
        },
    )
    model = build_model(spec, 2, seed=0)
    cfg = validated_block(
        "training",
        {
            "epochs": 15,
            "batch_size": 64,
            "learning_rate": 1e-2,
            "weight_decay": 0.0,
            "grad_clip": 10.0,
            "rollout_weight": 0.0,
            "plateau": {"factor": 0.5, "patience": 5, "min_scale": 1e-3},
            "early_stopping": {"patience": 50, "min_delta": 0.0},
        },
    )
    train = make_windows(z[:12], lag=1, per_trajectory=None)
    val = make_windows(z[12:], lag=1, per_trajectory=None)
    result = fit(model, train, val, tau=dt, cfg=cfg, seed=0)
    h = result.history
    assert np.isfinite(h["val_loss"]).all() and h["train_loss"].iloc[-1] < h["train_loss"].iloc[0]
    norm = Normalizer(mean=np.zeros(2), scale=np.ones(2), time_scale=1.0)
    drift, sigma, args = physical_sde(result.model, norm)
    assert np.all(np.asarray(sigma(jnp.ones(2), args)) == 0)
    t = np.arange(0.0, 1.0, dt)
    a = simulate_sde(drift, sigma, np.array([1.0, -1.0]), t, dt / 5, jax.random.key(0), args=args, n_paths=4)
    b = simulate_sde(drift, sigma, np.array([1.0, -1.0]), t, dt / 5, jax.random.key(7), args=args, n_paths=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.broadcast_to(a[:1], a.shape))
    # the learned drift pulls towards the origin, as −Z does
    assert np.linalg.norm(a[0, -1]) < np.linalg.norm(a[0, 0])


@pytest.mark.parametrize("method", ["finite_difference", "forward_difference", "smoothed_finite_difference"])
def test_every_differentiation_method_fits_a_linear_system(method):
    """ż = −z on exact exponentials: every differentiation method finds a slope near −1."""
    t = np.arange(0, 2, 0.01)
    u = np.exp(-t)[None, :, None] * np.array([1.0, 2.0, -1.5])[:, None, None]
    coef, _ = fit_sindy(u, 0.01, degree=1, threshold=0.1, alpha=0.0, method=method)
    np.testing.assert_allclose(coef[:, 0], [0.0, -1.0], atol=1e-2)


def test_our_stlsq_is_pysindys():
    """stlsq on the normal equations (the grid search) gives pysindy's STLSQ coefficients."""
    from onsagerflow.models.sindy import derivatives, stlsq

    u, dt = lorenz_trajectories(t_end=1.0, n=4)
    z = (u - u.reshape(-1, 3).mean(0)) / u.reshape(-1, 3).std(0)
    x_dot = derivatives(z, dt)
    theta = np.asarray(SINDy(3, degree=2).features(jnp.asarray(np.concatenate(list(z)))))
    for threshold, alpha in [(0.0, 0.0), (0.05, 0.05), (0.5, 1e-3)]:
        ours = stlsq(theta, np.concatenate(x_dot), threshold=threshold, alpha=alpha)
        theirs, _ = fit_sindy(z, dt, degree=2, threshold=threshold, alpha=alpha, x_dot=x_dot)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


def test_validation_selection_keeps_a_small_true_term():
    """dz/dt = (−z₀ + 0.01 z₁², −0.5 z₁ + 0.3 z₀z₁): a threshold of 0.02 drops the true 0.01 term
    and biases the fit; chosen by the one-step loss on held-out trajectories, the threshold keeps
    it and the coefficients come out exact (derivatives are exact here)."""
    from onsagerflow.models.sindy import select_stlsq, stlsq
    from onsagerflow.training.losses import window_loss

    def f(z):
        return jnp.stack([-z[..., 0] + 0.01 * z[..., 1] ** 2, -0.5 * z[..., 1] + 0.3 * z[..., 0] * z[..., 1]], axis=-1)

    t = np.linspace(0.0, 3.0, 301)
    starts = np.random.default_rng(0).uniform(-3, 3, size=(12, 2))
    zs, ok = integrate(lambda z, a: f(z), starts, t, rtol=1e-12, atol=1e-12)
    assert ok.all()
    library = SINDy(2, degree=2)
    train, val = zs[:8].reshape(-1, 2), zs[8:]
    theta = np.asarray(library.features(jnp.asarray(train)))
    x_dot = np.asarray(f(jnp.asarray(train)))
    exact = np.zeros((6, 2))
    exact[1, 0], exact[5, 0], exact[2, 1], exact[4, 1] = -1.0, 0.01, -0.5, 0.3  # 1 z0 z1 z0² z0z1 z1²
    windows = jnp.asarray(make_windows(val, lag=1))

    def val_loss(c):
        return window_loss(lambda z: library.features(z) @ jnp.asarray(c), windows, float(t[1] - t[0]))

    fixed = stlsq(theta, x_dot, threshold=0.02, alpha=0.05)
    assert fixed[5, 0] == 0.0  # the small true term is gone
    (threshold, _), coef, trials = select_stlsq(theta, x_dot, [0.0, 0.001, 0.02, 0.05], [0.0, 0.05], val_loss)
    assert threshold < 0.01
    np.testing.assert_allclose(coef, exact, atol=1e-8)
    assert float(val_loss(coef)) < float(val_loss(fixed))
    assert len(trials) == 8
