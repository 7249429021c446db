"""CF attributes of the stores: they open in xarray without a warning, export to netCDF,
and carry units a unit parser reads (the slow workflow tests run the same check on every
store of a finished run: conftest.assert_cf_clean)."""

import numpy as np
import pytest
import xarray as xr
from conftest import assert_cf_clean, lorenz_spec

from onsagerflow.data import build_dataset, open_store, write_store
from onsagerflow.data.cf import CONVENTIONS, axis_label, latent_labels, netcdf_attrs, time_attrs
from onsagerflow.data.store import write_zarr
from onsagerflow.systems import lorenz


@pytest.fixture(scope="module")
def lorenz_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("cf") / "trajectories.zarr"
    write_store(lorenz.simulate(lorenz_spec(n=4, t_end=0.1, dt=0.01)), path, dims=lorenz.DIMS)
    return path


@pytest.mark.slow
def test_a_simulated_store_is_cf_clean(lorenz_store, tmp_path):
    ds = assert_cf_clean(lorenz_store, tmp_path)
    assert ds.attrs["Conventions"] == CONVENTIONS
    # named state components, and the CF roles of the coordinates
    assert [str(s) for s in ds["state"].values] == ["x", "y", "z"]
    assert ds["time"].attrs["axis"] == "T" and ds["trajectory"].attrs["cf_role"] == "trajectory_id"
    assert ds["split"].attrs["flag_meanings"] == "train val test"
    # the canonical reader accepts the string labels
    assert open_store(lorenz_store, dims=["state"])["u"].sizes["state"] == 3


def test_string_labels_survive_appended_batches(tmp_path):
    """A store written in batches (the simulators stream large ones) keeps its labels."""
    batches = [
        build_dataset(
            system="s",
            data_vars={
                "u": (("trajectory", "time", "state"), np.full((2, 3, 2), 2.0 * i) + [[[0]], [[1]]], {"long_name": "u"})
            },
            time=np.arange(3.0),
            split=np.array([0, 2], np.int8),
            trajectory=np.array([2 * i, 2 * i + 1]),
            coords={"state": (("state",), latent_labels(2))},
            attrs={"onsagerflow_version": "0", "git_sha": "x", "config_sha256": "y", "created": "z"},
        )
        for i in range(2)
    ]
    write_store(iter(batches), tmp_path / "s.zarr", dims=["state"])
    ds = assert_cf_clean(tmp_path / "s.zarr", tmp_path)
    assert [str(v) for v in ds["state"].values] == ["h1", "h2"] and ds.sizes["trajectory"] == 4


def test_write_zarr_makes_any_dataset_cf_clean(tmp_path):
    ds = xr.Dataset(
        {"model": (("start", "time"), np.ones((2, 3)), {"long_name": "rollout"})},
        coords={"time": ("time", np.arange(3.0), time_attrs())},
        attrs={"system": "s", "flag": True, "nothing": None, "nested": {"a": 1}},
    )
    write_zarr(ds, tmp_path / "l.zarr")
    back = assert_cf_clean(tmp_path / "l.zarr", tmp_path)
    assert back.attrs["flag"] == 1 and "nothing" not in back.attrs and back.attrs["nested"] == '{"a": 1}'


def test_standard_name_time_only_with_a_unit_of_time():
    assert "standard_name" not in time_attrs("1")
    assert time_attrs("s")["standard_name"] == "time"


def test_netcdf_attrs_keeps_numbers_and_strings():
    assert netcdf_attrs({"a": 1, "b": "x", "c": [1.0, 2.0], "d": ["p", "q"], "e": False}) == {
        "a": 1,
        "b": "x",
        "c": [1.0, 2.0],
        "d": ["p", "q"],
        "e": 0,
    }


def test_axis_label_names_units_unless_dimensionless():
    assert axis_label(xr.DataArray([1.0], attrs={"long_name": "time", "units": "s"})) == "time [s]"
    assert axis_label(xr.DataArray([1.0], attrs={"long_name": "time in units of d²/κ", "units": "1"})) == (
        "time in units of d²/κ"
    )
    assert axis_label(xr.DataArray([1.0], attrs={"long_name": "time", "units": "1"})) == "time (dimensionless)"
