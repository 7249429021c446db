"""Ensemble statistics used to judge stochastic models on held-out test ensembles."""

import jax.numpy as jnp
import numpy as np
import pytest

from onsagerflow.analysis.ensembles import (
    abs_correlation,
    censor,
    covariance_error,
    ks_statistic,
    moment_errors,
    wasserstein1,
)
from onsagerflow.config import validated_block
from onsagerflow.models import build_model


def _ecdfs(a, b):
    """Both samples' empirical CDFs on the union of their values."""
    a, b = np.sort(a), np.sort(b)
    grid = np.union1d(a, b)
    return grid, np.searchsorted(a, grid, side="right") / a.size, np.searchsorted(b, grid, side="right") / b.size


@pytest.mark.parametrize("seed", [0, 1])
def test_wasserstein_and_ks_are_the_ecdf_integral_and_supremum(seed):
    """W₁ = ∫ |F_a − F_b| dx and KS = sup |F_a − F_b| of the empirical CDFs, written out here
    (the hand-written statistics the package used before scipy.stats)."""
    rng = np.random.default_rng(seed)
    a, b = rng.gamma(2.0, 1.0, 80), rng.gamma(2.5, 1.0, 50)
    a, b = censor(np.where(a > 4.0, np.inf, a), 4.0), censor(np.where(b > 4.0, np.inf, b), 4.0)  # ties at t_end
    grid, Fa, Fb = _ecdfs(a, b)
    assert wasserstein1(a, b) == pytest.approx(float(np.sum(np.abs(Fa - Fb)[:-1] * np.diff(grid))), rel=1e-12)
    assert ks_statistic(a, b) == pytest.approx(float(np.max(np.abs(Fa - Fb))), rel=1e-12)
    assert wasserstein1(a, a) == 0.0 and ks_statistic(a, a) == 0.0


def test_censoring_moments_covariance_and_correlation():
    assert censor(np.array([1.0, np.inf]), 5.0).tolist() == [1.0, 5.0]
    rng = np.random.default_rng(3)
    truth = rng.normal(size=(400, 20))
    e = moment_errors(truth + 0.5, truth)  # the mean off by half a pooled std, the spread exact
    assert e["max_mean_error"] == pytest.approx(0.5 / truth.std())
    assert e["max_std_error"] == pytest.approx(0.0, abs=1e-12)
    z = rng.normal(size=(300, 5, 2))
    assert covariance_error(z, z) == 0.0
    # doubling a state doubles its variance: ‖C_pred − C‖/‖C‖ ≈ 3 for that entry alone
    assert covariance_error(z * np.array([2.0, 1.0]), z) == pytest.approx(
        np.mean(
            [
                np.linalg.norm(np.cov(z[:, t].T) * np.array([[3, 1], [1, 0]])) / np.linalg.norm(np.cov(z[:, t].T))
                for t in range(5)
            ]
        ),
        rel=1e-10,
    )
    x = rng.normal(size=1000)
    assert abs_correlation(x, np.abs(x)) == pytest.approx(1.0)


@pytest.mark.slow
def test_closure_chart_passes_the_observables_through():
    spec = validated_block(
        "model",
        {
            "type": "s_onsagernet",
            "width": 8,
            "depth": 1,
            "alpha": 0.1,
            "beta": 0.1,
            "activation": "requr",
            "forcing": "linear",
            "diffusion": "diagonal",
            "autoencoder": {"pretrained": "x", "width": 8, "depth": 1, "activation": "tanh"},
        },
    )
    model = build_model(spec, 3, seed=0, input_dim=6, fixed=1)
    ae = model.autoencoder
    for net in (ae.enc, ae.dec):  # as after training: residual networks that are not zero
        net.out.kernel[...] = jnp.ones_like(net.out.kernel[...])
    y = jnp.asarray(np.random.default_rng(0).normal(size=(7, 6)), jnp.float32)
    h = ae.encode(y)
    np.testing.assert_allclose(h[:, 0], (y[:, 0] - ae.h_mean[0]) / ae.h_scale[0], rtol=1e-6)
    assert not np.allclose(h[:, 1:], ae.linear_encode(y)[:, 1:])  # the closure is corrected
    np.testing.assert_allclose(ae.decode(h)[:, 0], y[:, 0], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="leave no closure coordinate"):
        build_model(spec, 1, seed=0, input_dim=6, fixed=1)


def _ncs24_joint(positions=4, k=4, seed=0):
    """A joint model with the authors' chart and loss on y = [extension, k PCA coordinates]
    of `positions` bead coordinates, with an orthonormal PCA of its own."""
    spec = validated_block(
        "model",
        {
            "type": "s_onsagernet",
            "width": 8,
            "depth": 1,
            "forcing": "none",
            "diffusion": "constant_diagonal",
            "matrices": "separate",
            "matrix_width": 4,
            "matrix_depth": 2,
            "dtype": "float64",
            "autoencoder": {"form": "ncs24", "loss": "ncs24", "width": 8, "depth": 1, "input_scale": 0.5},
        },
    )
    model = build_model(spec, 3, seed=seed, input_dim=k + 1, fixed=1, positions_dim=positions)
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(positions, positions)))
    scale, mean = np.full(positions, 2.0), np.linspace(-1.0, 1.0, positions)
    model.autoencoder.set_pca(q[:k], scale, mean)
    return model, q[:k], scale, mean


@pytest.mark.slow
def test_ncs24_chart_sees_bead_positions_and_decodes_positions():
    """Ẑ = PCA + MLP(input_scale · x) with x the inverse PCA of y; decoder x̂ = PCA⁻¹(Ẑ) + MLP(Ẑ)
    from the closure coordinates alone, projected back onto the PCA coordinates."""
    model, P, s, mean = _ncs24_joint()
    ae = model.autoencoder
    y = np.random.default_rng(1).normal(size=(5, 5))
    x = (y[:, 1:] @ P) * s + mean  # the bead coordinates behind y
    np.testing.assert_allclose(ae.positions(jnp.asarray(y)), x, rtol=1e-12)
    h = np.asarray(ae.encode(jnp.asarray(y)))
    lin = np.asarray(ae.linear_encode(jnp.asarray(y)))
    np.testing.assert_allclose(h[:, 0], lin[:, 0])  # the extension passes through
    np.testing.assert_allclose(h[:, 1:] - lin[:, 1:], np.asarray(ae.enc(jnp.asarray(0.5 * x))), rtol=1e-12)
    dec = np.asarray(ae.decode(jnp.asarray(h)))
    extra = np.asarray(ae.dec(jnp.asarray(h[:, 1:])))  # positions from Ẑ alone
    expected = np.asarray(ae.linear_decode(jnp.asarray(h)))[:, 1:] + (extra / s) @ P.T
    np.testing.assert_allclose(dec[:, 1:], expected, rtol=1e-12)
    # a change of the extension alone changes no decoded position
    h2 = h.copy()
    h2[:, 0] += 3.0
    np.testing.assert_allclose(np.asarray(ae.decode(jnp.asarray(h2)))[:, 1:], dec[:, 1:], rtol=1e-12)


@pytest.mark.slow
def test_ncs24_loss_is_the_likelihood_sum_plus_position_error_and_log_ratio_penalty():
    from onsagerflow.training.losses import em_nll, em_nll_sum, joint_loss

    model, P, s, _ = _ncs24_joint()
    ae = model.autoencoder
    w = jnp.asarray(np.random.default_rng(2).normal(size=(6, 2, 5)))
    tau = 0.1
    h = ae.encode(w)
    nll = float(em_nll_sum(model.dynamics, h, tau))
    assert nll == pytest.approx(3 * float(em_nll(model.dynamics, h, tau)))
    y0 = np.asarray(w[:, 0])
    rec_i = np.mean((((np.asarray(ae.decode(h[:, 0])) - y0)[:, 1:] @ P) * s) ** 2, axis=-1)
    lin = np.asarray(ae.linear_decode(ae.linear_encode(jnp.asarray(y0))))
    pca_i = np.mean((((lin - y0)[:, 1:] @ P) * s) ** 2, axis=-1)
    expected = nll + 1e-3 * rec_i.mean() + 100.0 * np.mean(np.maximum(0.0, np.log(rec_i) - np.log(pca_i)))
    got = joint_loss(
        model,
        w,
        tau,
        reconstruction_weight=1e-3,
        isometry_weight=0.0,
        pca_penalty_weight=100.0,
        dynamics_loss=em_nll_sum,
        form="ncs24",
    )
    assert float(got) == pytest.approx(expected, rel=1e-10)
    assert np.any(rec_i > pca_i)  # the untrained chart is worse than PCA on some samples: the penalty acts


def test_separate_tanh_matrices_are_spd_and_antisymmetric():
    model, *_ = _ncs24_joint()
    z = jnp.asarray(np.random.default_rng(3).normal(size=(10, 3)) * 5)
    M, W = model.dynamics.matrices(z)
    np.testing.assert_allclose(W, -np.swapaxes(W, -1, -2), atol=1e-14)
    assert np.linalg.eigvalsh(np.asarray(M)).min() >= model.dynamics.alpha * (1 - 1e-9)
    # L = tanh(·): |M_ij| ≤ α + n (every entry of L L^T is a sum of n products bounded by 1)
    assert np.abs(np.asarray(M)).max() <= model.dynamics.alpha + 3 + 1e-12


def test_decoded_extension_is_the_decoded_chains_max_minus_min_x():
    """Without the extension among the observables, evaluate decodes it: for a PCA that keeps
    every component (exact reconstruction) and a plain chart, the decoded extension of a chain's
    coordinates is max − min of its bead x, in blocks of any size, NaN where the state is NaN,
    and observables leading the state are skipped."""
    from types import SimpleNamespace

    from onsagerflow.models.reducers import PCA
    from onsagerflow.stages.evaluate_sde import decoded_extension

    n_beads, rng = 5, np.random.default_rng(3)
    d = n_beads * 3
    pca = PCA(
        fields=("r",),
        shape=(n_beads, 3),
        mean=np.zeros(d),
        field_scale=np.ones(1),
        components=np.eye(d),
        singular_values=np.ones(d),
        total_variance=float(d),
    )
    chart = SimpleNamespace(decode=lambda h: np.asarray(h))
    chains = rng.normal(size=(2, 7, n_beads, 3))
    z = chains.reshape(2, 7, d)
    z[1, 3] = np.nan
    want = chains[..., 0].max(axis=-1) - chains[..., 0].min(axis=-1)
    want[1, 3] = np.nan
    for rows in (1, 4, 100):
        np.testing.assert_allclose(decoded_extension(chart, pca, z, 0, rows=rows), want, rtol=1e-12)
    with_obs = np.concatenate([np.full((2, 7, 1), 99.0), z], axis=-1)
    np.testing.assert_allclose(decoded_extension(chart, pca, with_obs, 1), want, rtol=1e-12)

    # a truncated chart (3 of d components, scaled and centred): the chain is the PCA
    # reconstruction of the padded coordinates; NaN states never reach the chart
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    trunc = PCA(
        fields=("r",),
        shape=(n_beads, 3),
        mean=rng.normal(size=d),
        field_scale=np.array([2.5]),
        components=q.T,
        singular_values=np.ones(d),
        total_variance=float(d),
    )

    def strict_decode(h):
        assert np.all(np.isfinite(h)), "a NaN state reached the chart"
        return np.asarray(h)

    h = rng.normal(size=(4, 3))
    h[2] = np.nan
    x = (h @ q.T[:3] * 2.5 + trunc.mean).reshape(4, n_beads, 3)[..., 0]
    want = x.max(axis=-1) - x.min(axis=-1)
    got = decoded_extension(SimpleNamespace(decode=strict_decode), trunc, h, 0, rows=2)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.isnan(got[2])
