"""Ensemble statistics used to judge stochastic models on held-out test ensembles."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

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


@pytest.mark.parametrize("seed", [0, 1])
def test_wasserstein_and_ks_match_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.gamma(2.0, 1.0, 80), rng.gamma(2.5, 1.0, 50)
    assert wasserstein1(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12)
    assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, rel=1e-12)
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
