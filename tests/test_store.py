"""Canonical schema and atomic zarr v3 io (docs/data.md)."""

import os

import numpy as np
import pytest
import xarray as xr

from onsagerflow.data import (
    SchemaError,
    StoreError,
    assign_splits,
    build_dataset,
    open_store,
    validate_dataset,
    write_store,
)
from onsagerflow.data.split import split_counts
from onsagerflow.provenance import stamp


def make(n=10, T=6, seed=0, split=None):
    rng = np.random.default_rng(seed)
    return build_dataset(
        system="toy",
        data_vars={
            "u": (("trajectory", "time", "state"), rng.normal(size=(n, T, 3)), {"units": "1", "long_name": "state"})
        },
        time=np.arange(T) * 0.1,
        split=assign_splits(n, {"train": 0.6, "val": 0.2, "test": 0.2}, seed) if split is None else split,
        attrs=stamp({"toy": 1}),
    )


def test_valid_dataset_round_trips(tmp_path):
    ds = make()
    write_store(ds, tmp_path / "s.zarr", dims=["state"])
    back = open_store(tmp_path / "s.zarr", dims=["state"])
    xr.testing.assert_identical(back.load(), ds)
    assert back["split"].dtype == np.int8
    assert back.attrs["config_sha256"] == ds.attrs["config_sha256"]
    assert (tmp_path / "s.zarr" / "zarr.json").exists()  # zarr format 3


def test_rejects_nan_and_names_the_trajectory():
    ds = make()
    ds["u"].values[7, 3, 1] = np.nan
    with pytest.raises(SchemaError, match=r"'u' has NaN or inf in trajectories \[7\]"):
        validate_dataset(ds)


def test_rejects_missing_dimension_by_name():
    ds = make()
    with pytest.raises(SchemaError, match="missing dimension 'bead'"):
        validate_dataset(ds, dims=["bead"])
    with pytest.raises(SchemaError, match="missing dimension 'time'"):
        validate_dataset(ds.isel(time=0))


def test_rejects_split_leak_same_start_in_two_splits():
    split = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2], np.int8)
    ds = make(split=split)
    ds["u"].values[8, 0] = ds["u"].values[2, 0]  # test trajectory 8 starts where train 2 does
    with pytest.raises(SchemaError, match=r"split leak: trajectories 2 \(train\) and 8 \(test\)"):
        validate_dataset(ds)


def test_rejects_duplicate_trajectory_ids():
    ds = make()
    ds = ds.assign_coords(trajectory=np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 3]))
    with pytest.raises(SchemaError, match=r"trajectory id\(s\) \[3\] appear more than once"):
        validate_dataset(ds)


def test_rejects_unsorted_time_strings_and_bad_split_codes():
    ds = make()
    with pytest.raises(SchemaError, match="not strictly increasing"):
        validate_dataset(ds.assign_coords(time=ds["time"].values[::-1].copy()))
    bad = ds.assign_coords(label=("trajectory", np.array(["a"] * 10)))
    with pytest.raises(SchemaError, match="'label' holds strings"):
        validate_dataset(bad)
    codes = ds["split"].values.copy()
    codes[4] = 5
    with pytest.raises(SchemaError, match=r"codes outside 0/1/2 for trajectories \[4\]"):
        validate_dataset(ds.assign_coords(split=("trajectory", codes, ds["split"].attrs)))


def test_rejects_missing_provenance():
    ds = make()
    del ds.attrs["git_sha"]
    with pytest.raises(SchemaError, match="missing attribute"):
        validate_dataset(ds)


def test_failed_write_leaves_the_old_store_untouched(tmp_path):
    path = tmp_path / "s.zarr"
    good = make(seed=1)
    write_store(good, path)
    bad = make(seed=2)
    bad["u"].values[0, 0, 0] = np.inf
    with pytest.raises(SchemaError):
        write_store(bad, path)
    xr.testing.assert_identical(open_store(path).load(), good)
    assert os.listdir(tmp_path) == ["s.zarr"]  # no temporary folders left behind


def test_streamed_batches_make_one_store(tmp_path):
    full = make(n=12)
    batches = [full.isel(trajectory=slice(i, i + 4)) for i in (0, 4, 8)]
    write_store(iter(batches), tmp_path / "s.zarr", chunk_mb=1e-4)
    back = open_store(tmp_path / "s.zarr")
    xr.testing.assert_identical(back.load(), full)
    assert back["u"].encoding["chunks"][1:] == (6, 3)  # chunked along trajectory only


def test_missing_or_malformed_store_is_named(tmp_path):
    with pytest.raises(StoreError, match="store not found: .*nope.zarr"):
        open_store(tmp_path / "nope.zarr")
    (tmp_path / "junk.zarr").mkdir()
    (tmp_path / "junk.zarr" / "zarr.json").write_text("{not json")
    with pytest.raises(StoreError, match="cannot read store .*junk.zarr"):
        open_store(tmp_path / "junk.zarr")


def test_splits_are_whole_trajectories_seeded_and_nonempty():
    a = assign_splits(100, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=3)
    assert np.bincount(a).tolist() == [70, 10, 20]
    assert np.array_equal(a, assign_splits(100, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=3))
    assert not np.array_equal(a, assign_splits(100, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=4))
    assert split_counts(5, {"train": 0.9, "val": 0.05, "test": 0.05}) == {"val": 1, "test": 1, "train": 3}
    with pytest.raises(ValueError, match="too few"):
        split_counts(2, {"train": 0.4, "val": 0.3, "test": 0.3})
