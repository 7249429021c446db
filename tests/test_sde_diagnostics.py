"""scripts/sde_diagnostics.py: the data's noise beside a model's, band by band."""

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def script():
    spec = importlib.util.spec_from_file_location("sde_diagnostics", ROOT / "scripts" / "sde_diagnostics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_residual_noise_recovers_the_noise_that_made_the_increments_band_by_band():
    """Increments made by one Euler–Maruyama step of dz = −z dt + σ(z) dW, σ(z) = diag(s(z₁)),
    s = 0.2 where z₁ < 0 and 1.0 where z₁ ≥ 0: r = Δz − τ b(z) = σ(z) √τ ξ, so the band means of
    r²/τ are s² per band (0.04 and 1.0), within 4 standard errors (the variance of ξ² is 2), and
    the model's diag σσᵀ, its band means, is s² exactly. A drift off by a constant c would add
    c² τ: with τ = 0.01 and c = 5 that is 0.25, well outside the tolerance of the low band."""
    d = script()
    rng = np.random.default_rng(0)
    tau, n_traj = 0.01, 4000
    z0 = rng.normal(size=(n_traj, 2))
    s = np.where(z0[:, :1] < 0, 0.2, 1.0) * np.ones((1, 2))

    def drift(z):
        return -z

    def diffusion(z):
        v = np.where(z[:, :1] < 0, 0.2, 1.0) ** 2 * np.ones((1, z.shape[1]))
        return np.einsum("ki,ij->kij", v, np.eye(z.shape[1]))

    z1 = z0 + tau * drift(z0) + s * np.sqrt(tau) * rng.normal(size=z0.shape)
    data, model = d.residual_noise(np.stack([z0, z1], axis=1), tau, drift, diffusion)
    bands = d.banded(np.concatenate([data, model], axis=-1), z0[:, 0], (-np.inf, 0.0, np.inf))
    assert [b[2] for b in bands] == [int((z0[:, 0] < 0).sum()), int((z0[:, 0] >= 0).sum())]
    for (_, _, count, mean), level in zip(bands, (0.04, 1.0)):
        tolerance = 4 * level * np.sqrt(2 / count)
        np.testing.assert_allclose(mean[:2], level, atol=tolerance)
        np.testing.assert_allclose(mean[2:], level, rtol=1e-12)

    def biased(z):
        return -z + 5.0

    low = d.banded(d.residual_noise(np.stack([z0, z1], axis=1), tau, biased, diffusion)[0], z0[:, 0], (-np.inf, 0.0))
    assert abs(low[0][3][0] - 0.04) > 4 * 0.04 * np.sqrt(2 / low[0][2])


def test_bands_without_rows_are_left_out():
    d = script()
    bands = d.banded(np.arange(6.0)[:, None], np.array([0.1, 0.1, 0.2, 0.9, 0.9, 0.95]), (0.0, 0.5, 0.8, 1.0))
    assert [(b[0], b[1], b[2]) for b in bands] == [(0.0, 0.5, 3), (0.8, 1.0, 3)]
    np.testing.assert_allclose([b[3][0] for b in bands], [1.0, 4.0])


def test_residuals_of_the_true_drift_are_uncorrelated_and_noise_with_memory_shows():
    """Paths of dz = −z dt + dW by Euler–Maruyama: r_k = ΔZ_k − τ b(Z_k) = √τ ξ_k, independent,
    so the lag-1 correlation is 0 within 4/√n. With noise of memory, ξ_k = φ ξ_{k−1} +
    √(1 − φ²) η_k (AR(1), unit variance), the residuals correlate as φ = 0.5, within 4/√n."""
    d = script()
    rng = np.random.default_rng(1)
    tau, n_traj, n_time = 0.01, 200, 101

    def drift(z):
        return -z

    for phi in (0.0, 0.5):
        eta = rng.normal(size=(n_traj, n_time - 1, 2))
        xi = np.empty_like(eta)
        xi[:, 0] = eta[:, 0]
        for k in range(1, n_time - 1):
            xi[:, k] = phi * xi[:, k - 1] + np.sqrt(1 - phi**2) * eta[:, k]
        z = np.empty((n_traj, n_time, 2))
        z[:, 0] = rng.normal(size=(n_traj, 2))
        for k in range(n_time - 1):
            z[:, k + 1] = z[:, k] + tau * drift(z[:, k]) + np.sqrt(tau) * xi[:, k]
        r = d.residuals(z, tau, drift)
        np.testing.assert_allclose(r, np.sqrt(tau) * xi, atol=1e-12)
        key = np.where(z[:, :-1, 0] < 0, 0.0, 1.0)  # two bands by the first coordinate
        bands = d.lag_one_correlation(r, key, (0.0, 0.5, 1.5))
        assert len(bands) == 2
        for _, _, count, corr in bands:
            np.testing.assert_allclose(corr, phi, atol=4 / np.sqrt(count))
