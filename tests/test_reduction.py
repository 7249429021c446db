"""PCA (train split only, out of core), the PCA-ResNet chart and the latent metrics."""

import jax.numpy as jnp
import numpy as np
import pytest
from test_store import make

from onsagerflow.analysis.metrics import horizon_error, match_steady_states, steady_states
from onsagerflow.config import validated_block
from onsagerflow.data import build_dataset, split_mask
from onsagerflow.models import build_model
from onsagerflow.models.reducers import fit_pca, rows
from onsagerflow.provenance import stamp
from onsagerflow.training.losses import joint_loss, window_loss


def field_store(n=12, T=20, seed=0):
    """Two fields on a 4×5 grid: five modes of decaying amplitude plus a little noise, the
    fields a hundred times apart in magnitude."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(5, 2, 4, 5))
    coef = rng.normal(size=(n, T, 5)) * np.array([5.0, 2.0, 1.0, 0.5, 0.01])
    f = np.einsum("ntk,kfzx->ntfzx", coef, base) + 1e-4 * rng.normal(size=(n, T, 2, 4, 5))
    f[:, :, 0] *= 100.0  # a "velocity" a hundred times larger than the "temperature"
    split = make(n=n).split.values
    dims = ("trajectory", "time", "z", "x")
    return build_dataset(
        system="toy",
        data_vars={
            "u": (dims, f[:, :, 0], {"units": "1", "long_name": "u"}),
            "theta": (dims, f[:, :, 1], {"units": "1", "long_name": "theta"}),
        },
        time=np.arange(T) * 0.1,
        split=split,
        attrs=stamp({}),
    ).chunk({"trajectory": 3})


def test_pca_matches_exact_svd_of_the_train_rows_only():
    ds = field_store()
    pca = fit_pca(ds, ["u", "theta"], 4)
    X = rows(ds, ["u", "theta"]).compute()
    train = np.repeat(split_mask(ds, "train"), ds.sizes["time"])
    Xs = (X[train] - X[train].mean(axis=0)) / pca.scale_vector
    _, S, Vt = np.linalg.svd(Xs, full_matrices=False)
    np.testing.assert_allclose(pca.singular_values, S[:4], rtol=1e-8)
    np.testing.assert_allclose(np.abs(np.sum(Vt[:4] * pca.components, axis=1)), 1.0, atol=1e-8)
    np.testing.assert_allclose(pca.mean, X[train].mean(axis=0), rtol=1e-12)
    # each field is scaled by its own train RMS, so both weigh alike
    size = 20
    for i in range(2):
        dev = X[train][:, i * size : (i + 1) * size] - pca.mean[i * size : (i + 1) * size]
        assert pca.field_scale[i] == pytest.approx(np.sqrt(np.mean(dev**2)))
    assert pca.field_scale[0] > 50 * pca.field_scale[1]
    assert np.cumsum(pca.explained_variance_ratio)[3] > 0.999  # four modes hold all but the smallest


def test_pca_is_exact_across_a_wide_spectrum():
    """Field PCA spectra span 10³ and more (RBC: 2664 down to 3.4 over 16 PCs). Power iterations
    without re-orthonormalisation raise them to the (2q+1)-th power and lose every component
    past the first few to round-off; all k must match the exact SVD."""
    rng = np.random.default_rng(1)
    n, T, k = 12, 40, 8
    base = np.linalg.qr(rng.normal(size=(40, k)))[0].T.reshape(k, 2, 4, 5)
    amp = 10.0 ** -np.linspace(0, 3.5, k)  # singular values 1 … 3e-4 relative
    f = np.einsum("ntk,kfzx->ntfzx", rng.normal(size=(n, T, k)) * amp, base)
    dims = ("trajectory", "time", "z", "x")
    ds = build_dataset(
        system="toy",
        data_vars={
            "u": (dims, f[:, :, 0], {"units": "1", "long_name": "u"}),
            "w": (dims, f[:, :, 1], {"units": "1", "long_name": "w"}),
        },
        time=np.arange(T) * 0.1,
        split=make(n=n).split.values,
        attrs=stamp({}),
    ).chunk({"trajectory": 3})
    pca = fit_pca(ds, ["u", "w"], k)
    train = np.repeat(split_mask(ds, "train"), T)
    X = rows(ds, ["u", "w"]).compute()[train]
    S = np.linalg.svd((X - X.mean(axis=0)) / pca.scale_vector, compute_uv=False)
    np.testing.assert_allclose(pca.singular_values, S[:k], rtol=1e-6)


def test_pca_fit_ignores_val_and_test_trajectories():
    ds = field_store()
    a = fit_pca(ds, ["u", "theta"], 3)
    other = ds.copy(deep=True)
    held_out = ~split_mask(ds, "train")
    other["u"][held_out] = other["u"][held_out] * 7.0 + 3.0
    b = fit_pca(other, ["u", "theta"], 3)
    np.testing.assert_allclose(a.singular_values, b.singular_values, rtol=1e-10)
    np.testing.assert_allclose(a.mean, b.mean)


def test_select_keeps_some_indices_of_a_dimension():
    ds = field_store()
    pca = fit_pca(ds, ["u"], 3, select={"x": [0, 2]})
    assert pca.shape == (4, 2) and pca.components.shape == (3, 8)
    X = rows(ds, ["u"], {"x": [0, 2]}).compute()
    np.testing.assert_allclose(X, ds["u"].values[..., [0, 2]].reshape(-1, 8))
    with pytest.raises(KeyError, match="names dimension"):
        fit_pca(ds, ["u"], 3, select={"bead": [0]})


def test_transform_and_inverse_round_trip_on_the_span():
    ds = field_store()
    pca = fit_pca(ds, ["u", "theta"], 6)
    H = pca.transform(ds).compute()
    assert H.shape == (12, 20, 6)
    X = rows(ds, ["u", "theta"]).compute()
    np.testing.assert_allclose(H.reshape(-1, 6), pca.transform_rows(X), rtol=1e-10, atol=1e-10)
    rec = pca.inverse_rows(H.reshape(-1, 6))
    assert np.linalg.norm(rec - X) < 1e-2 * np.linalg.norm(X - pca.mean)


SPECS = {  # a model block as a validated config holds it, every default filled
    "on": validated_block(
        "model",
        {
            "type": "onsagernet",
            "width": 8,
            "depth": 1,
            "potential_dim": 3,
            "alpha": 0.1,
            "beta": 0.1,
            "activation": "requr",
            "forcing": "linear",
            "autoencoder": {
                "pretrained": "x",
                "width": 8,
                "depth": 1,
                "activation": "tanh",
                "reconstruction_weight": 1.0,
                "isometry_weight": 0.1,
            },
        },
    ),
}


@pytest.mark.slow
def test_pca_resnet_starts_as_the_pca_chart():
    model = build_model(SPECS["on"], 3, seed=0, input_dim=6)
    ae = model.autoencoder
    ae.h_mean[...] = jnp.array([1.0, -2.0, 0.5], jnp.float32)
    ae.h_scale[...] = jnp.array([2.0, 3.0, 4.0], jnp.float32)
    y = jnp.asarray(np.random.default_rng(0).normal(size=(10, 6)), jnp.float32)
    h = ae.encode(y)
    np.testing.assert_allclose(h, (y[:, :3] - ae.h_mean[...]) / ae.h_scale[...], rtol=1e-6)
    back = np.asarray(ae.decode(h))
    np.testing.assert_allclose(back[:, :3], y[:, :3], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(back[:, 3:], 0.0)
    # the joint loss at the start: the pair loss of the PCA chart + the truncated variance
    w = jnp.stack([y, y * 1.01], axis=1)
    tau = 0.1
    rec = float(jnp.sum(y[:, 3:] ** 2) / jnp.sum(y**2))
    expected = float(window_loss(model.dynamics, ae.encode(w), tau)) + rec
    assert float(joint_loss(model, w, tau)) == pytest.approx(expected, rel=1e-5)


def test_horizon_error_and_steady_states():
    truth = np.ones((2, 4, 3))
    pred = truth.copy()
    pred[0] *= 1.1  # 10 % off everywhere
    e = horizon_error(pred, truth)
    assert e["per_trajectory"] == pytest.approx([0.1, 0.0])
    assert e["mean"] == pytest.approx(0.05)
    pred[1, 2] = np.nan
    assert np.isinf(horizon_error(pred, truth)["per_trajectory"][1])
    # three trajectories: two settle on +a, one on −a; one of them still moving
    a = np.array([1.0, 2.0, 0.0])
    h = np.stack([np.tile(a, (10, 1)), np.tile(-a, (10, 1)), np.tile(a, (10, 1))])
    h[2, -3:] += np.linspace(0, 0.3, 3)[:, None]
    states = steady_states(h, window=4, merge_tol=0.2, steady_tol=0.02)
    assert [s["trajectories"] for s in states] == [[0, 2], [1]]
    assert [s["all_steady"] for s in states] == [False, True]
    fps = [{"x": (1.05 * a).tolist(), "kind": "stable"}, {"x": (-a).tolist(), "kind": "saddle-1"}]
    matched = match_steady_states(steady_states(h[:2], 4, merge_tol=0.2, steady_tol=0.02), fps)
    assert [m["nearest_fixed_point"] for m in matched] == [0, 1]
    assert matched[0]["relative_distance"] == pytest.approx(0.05)
