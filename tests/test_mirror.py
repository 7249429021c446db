"""reduction.symmetry: mirror — the PCA of the train fields and their mirror images, each PC
even or odd, and the mirrored train trajectories that training adds (docs/rbc.md, The mirror).
The PDE side (the mirror maps solutions to solutions) is in test_rbc_physics."""

import numpy as np
import pytest
from test_store import make

from onsagerflow.config import ConfigError, validated_block, validated_system
from onsagerflow.config.paths import LATENT_STORE, PCA_STORE
from onsagerflow.data import build_dataset, open_store, split_mask, write_store
from onsagerflow.models.reducers import PCA, fit_pca, grid_mirror, rows
from onsagerflow.provenance import stamp
from onsagerflow.stages import reduce
from onsagerflow.stages.common import split_array, with_mirror_images
from onsagerflow.systems.rbc import LENGTH
from onsagerflow.systems.rbc.symmetry import mirror_fields, mirror_index, store_mirror

FIELDS = ["u", "w", "theta"]


def rbc_store(n=12, T=10, nz=3, nx=6, seed=0, system_type="rbc"):
    """Random u, w, θ on the RBC grid x_j = jL/nx, with a mean of no symmetry."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, T, 3, nz, nx)) * np.array([30.0, 20.0, 0.2])[:, None, None] + rng.normal(size=(3, nz, nx))
    dims = ("trajectory", "time", "z", "x")
    return build_dataset(
        system="toy",
        data_vars={k: (dims, f[:, :, i], {"units": "1", "long_name": k}) for i, k in enumerate(FIELDS)},
        time=np.arange(T) * 0.1,
        split=make(n=n).split.values,
        coords={"z": (("z",), np.linspace(0, 1, nz)), "x": (("x",), np.arange(nx) * LENGTH / nx)},
        attrs=stamp({}) | {"system_type": system_type, "length": LENGTH},
    )


def test_mirror_of_the_grid_is_the_fields_mirror():
    ds = rbc_store()
    mirror = grid_mirror(ds, FIELDS, *store_mirror(ds, FIELDS))
    X = rows(ds, FIELDS).compute()
    f = np.stack([ds[k].values for k in FIELDS], axis=2).reshape(-1, 3, 3, 6)
    np.testing.assert_array_equal(mirror(X), mirror_fields(f).reshape(X.shape))
    # x → L/2 − x on x_j = jL/nx: j → nx/2 − j (mod nx)
    assert mirror_index(6).tolist() == [3, 2, 1, 0, 5, 4]
    np.testing.assert_array_equal(mirror(mirror(X)), X)


def test_mirror_pca_is_the_pca_of_the_train_rows_and_their_images():
    """The PCA with the mirror M is the SVD of [X; XM] (train rows X, centred by their joint
    mean, each field scaled by its joint RMS), and each component v is even or odd:
    v·Mv = ±1, its parity."""
    ds = rbc_store()
    mirror = grid_mirror(ds, FIELDS, *store_mirror(ds, FIELDS))
    pca = fit_pca(ds, FIELDS, 8, mirror=mirror)
    X = rows(ds, FIELDS).compute()[np.repeat(split_mask(ds, "train"), ds.sizes["time"])]
    both = np.concatenate([X, mirror(X)])
    mean = both.mean(axis=0)
    np.testing.assert_allclose(pca.mean, mean, rtol=1e-12, atol=1e-12)
    dev = (both - mean).reshape(len(both), 3, -1)
    np.testing.assert_allclose(pca.field_scale, np.sqrt(np.mean(dev**2, axis=(0, 2))), rtol=1e-12)
    _, S, Vt = np.linalg.svd((both - mean) / pca.scale_vector, full_matrices=False)
    np.testing.assert_allclose(pca.singular_values, S[:8], rtol=1e-8)
    np.testing.assert_allclose(np.abs(np.sum(Vt[:8] * pca.components, axis=1)), 1.0, atol=1e-8)
    np.testing.assert_allclose(np.sum(pca.components * mirror(pca.components), axis=1), pca.parity, atol=1e-12)
    assert set(pca.parity.tolist()) == {-1, 1}
    assert pca.explained_variance_ratio.sum() < 1.0
    np.testing.assert_allclose(pca.total_variance, np.sum(S**2), rtol=1e-10)  # every field varies


def test_coordinates_of_a_mirrored_field_are_the_parities_times_its_own():
    """h(Mx) = V(Mx − m) = V M (x − m) = P V(x − m) = P h(x): m is even (Mm = m) and each
    row of V is even or odd (VM = PV, P = diag(parity))."""
    ds = rbc_store()
    mirror = grid_mirror(ds, FIELDS, *store_mirror(ds, FIELDS))
    pca = fit_pca(ds, FIELDS, 8, mirror=mirror)
    X = rows(ds, FIELDS).compute()  # every split: the symmetry is the data's, not the fit's
    h = pca.transform_rows(X)
    np.testing.assert_allclose(pca.transform_rows(mirror(X)), h * pca.parity, rtol=1e-10, atol=1e-10)
    assert np.abs(h[:, pca.parity < 0]).max() > 0.1  # the odd coordinates are not zero: the test can fail
    # without the mirror the components have no parity
    plain = fit_pca(ds, FIELDS, 8)
    assert plain.parity is None
    assert np.abs(np.abs(np.sum(plain.components * mirror(plain.components), axis=1)) - 1).max() > 0.1


def test_reduce_keeps_the_stored_trajectories_and_training_adds_their_images(tmp_path):
    """The latent store holds every stored trajectory's projection (val and test untouched)
    and the parities; training's train trajectories are those followed by P h, which are the
    projections of the mirrored train fields."""
    ds = rbc_store()
    write_store(ds, tmp_path / "data.zarr", dims=("z", "x"))
    red = validated_block("pca", {"components": 8, "latent_dims": [3], "symmetry": "mirror"})
    reduce.run({"name": "toy", "reduction": red}, str(tmp_path / "data.zarr"), str(tmp_path))
    pca = PCA.load(tmp_path / PCA_STORE)
    latent = open_store(tmp_path / LATENT_STORE, dims=("state",))
    assert latent.attrs["symmetry"] == "mirror" and latent.attrs["parity"] == pca.parity.tolist()
    np.testing.assert_array_equal(latent["split"].values, ds["split"].values)
    X = rows(ds, FIELDS).compute()
    np.testing.assert_allclose(latent["h"].values.reshape(-1, 8), pca.transform_rows(X), rtol=1e-10, atol=1e-10)
    train = split_array(latent, "h", "train")
    doubled = with_mirror_images(latent, train)
    assert doubled.shape == (2 * len(train), *train.shape[1:])
    np.testing.assert_array_equal(doubled[: len(train)], train)
    Xt = rows(ds.isel(trajectory=np.flatnonzero(split_mask(ds, "train"))), FIELDS).compute()
    images = pca.transform_rows(grid_mirror(ds, FIELDS, *store_mirror(ds, FIELDS))(Xt))
    np.testing.assert_allclose(doubled[len(train) :].reshape(-1, 8), images, rtol=1e-10, atol=1e-10)
    # a store without the symmetry: nothing added
    plain = latent.copy()
    plain.attrs = {k: v for k, v in latent.attrs.items() if k not in ("symmetry", "parity")}
    assert with_mirror_images(plain, train) is train


def test_mirror_refuses_what_it_does_not_fit(tmp_path):
    write_store(rbc_store(system_type="toy"), tmp_path / "data.zarr", dims=("z", "x"))
    red = validated_block("pca", {"components": 4, "symmetry": "mirror"})
    with pytest.raises(ConfigError, match=r"^systems\.toy\.reduction\.symmetry: 'mirror' is defined for the RBC"):
        reduce.run({"name": "toy", "reduction": red}, str(tmp_path / "data.zarr"), str(tmp_path))
    block = {"type": "rbc", "models": ["m"], "pairs": {"tau": 0.005}, "reduction": {"symmetry": "mirror"}}
    assert validated_system(block | {"simulation": {"nx": 16}}, "r")["reduction"]["symmetry"] == "mirror"
    with pytest.raises(ConfigError, match=r"^systems\.r\.reduction\.symmetry: .* only for an even simulation\.nx"):
        validated_system(block | {"simulation": {"nx": 17}}, "r")
    with pytest.raises(ConfigError, match=r"^systems\.r\.reduction\.symmetry: the mirror knows the fields u, w, theta"):
        validated_system(block | {"simulation": {"nx": 16}, "reduction": {"symmetry": "mirror", "fields": ["p"]}}, "r")
