"""Your own data: every format into a canonical store, every bad file named, and the
workflow end to end on an ingested netCDF file."""

import copy
import os
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from conftest import held_out_predictions
from ingest_specs import SPLITS, spec_of

from onsagerflow.config import ConfigError, validate_config
from onsagerflow.data import open_store
from onsagerflow.data.ingest import IngestError, batches, ingest, plan
from onsagerflow.data.split import assign_splits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INGEST_TINY = os.path.join(ROOT, "tests", "configs", "ingest_tiny.yaml")


def per_run_mb(m=40, k=3):
    """batch_mb that holds exactly one run of m samples of k float64 components (plus slack)."""
    return (m * k * 8 + 1) / 2**20


def states(n=8, m=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, m, 3)), 0.5 + 0.01 * np.arange(m)


def ingested(tmp_path, source, dims=("state",)):
    out = tmp_path / "store.zarr"
    ingest(spec_of(source), out)
    return open_store(out, dims=dims).load()


def write_nc(path, u, t, engine="h5netcdf", **extra):
    xr.Dataset(
        {
            "X": (("run", "t", "comp"), u, {"units": "m", "long_name": "position"}),
            "Ra": (("run",), np.arange(len(u)) + 1.0),
            **extra,
        },
        coords={"t": t},
    ).to_netcdf(path, engine=engine)


NC_SOURCE = {
    "files": "data.nc",
    "layout": "state",
    "variables": {"u": "X"},
    "dims": {"run": "trajectory", "t": "time", "comp": "state"},
    "time": {"name": "t"},
    "trajectory_parameters": {"Ra": "Ra"},
}


# --------------------------------------------------------------------------- round trips


def test_netcdf4_with_a_trajectory_dimension_round_trips(tmp_path):
    u, t = states()
    write_nc(tmp_path / "data.nc", u, t)
    src = {**NC_SOURCE, "files": str(tmp_path / "data.nc"), "batch_mb": 3 * per_run_mb()}
    ds = ingested(tmp_path, src)
    np.testing.assert_array_equal(ds["u"].values, u)
    np.testing.assert_array_equal(ds["time"].values, t)
    np.testing.assert_array_equal(ds["Ra"].values, np.arange(8) + 1.0)
    assert ds["u"].dims == ("trajectory", "time", "state")
    assert ds["u"].attrs["units"] == "m" and ds["u"].attrs["long_name"] == "position"
    # splits made once, with the seed, by the shared split code
    np.testing.assert_array_equal(ds["split"].values, assign_splits(8, SPLITS, 1))
    a = ds.attrs
    assert a["system_type"] == "ingested" and a["observed"] == "u" and a["source_format"] == "netcdf"
    assert a["source_files"] == [str(tmp_path / "data.nc")] and len(a["source_sha256"][0]) == 64
    assert a["config_sha256"] and a["git_sha"] and a["onsagerflow_version"]
    np.testing.assert_array_equal(ds["source_index"].values, np.arange(8))


def test_streams_in_trajectory_batches(tmp_path):
    u, t = states(n=7)
    write_nc(tmp_path / "data.nc", u, t)
    src = spec_of({**NC_SOURCE, "files": str(tmp_path / "data.nc"), "batch_mb": 3 * per_run_mb()})["source"]
    p = plan(src)
    parts = list(batches(src, p, system="s", split=assign_splits(7, SPLITS, 0), attrs={}))
    assert [b.sizes["trajectory"] for b in parts] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([b["u"].values for b in parts]), u)


def test_netcdf3_one_trajectory_per_file_glob_and_attribute_parameter(tmp_path):
    u, t = states(n=5)
    for k in range(5):
        xr.Dataset(
            {"x": ("time", u[k, :, 0]), "y": ("time", u[k, :, 1]), "z": ("time", u[k, :, 2])},
            coords={"time": t},
            attrs={"Ra": 100.0 + k},
        ).to_netcdf(tmp_path / f"run{k}.nc", engine="scipy")
    with open(tmp_path / "run0.nc", "rb") as fh:
        assert fh.read(3) == b"CDF"  # really the classic format
    src = {
        "files": str(tmp_path / "run*.nc"),
        "layout": "state",
        "variables": {"u": {"name": ["x", "y", "z"], "units": "cm"}},
        "time": {"name": "time"},
        "trajectory_parameters": {"Ra": "Ra"},
    }
    ds = ingested(tmp_path, src)
    np.testing.assert_array_equal(ds["u"].values, u)
    np.testing.assert_array_equal(ds["Ra"].values, 100.0 + np.arange(5))
    np.testing.assert_array_equal(ds["source_file"].values, np.arange(5))
    assert ds["u"].attrs["units"] == "cm" and len(ds.attrs["source_files"]) == 5


def write_dedalus(path, b, w, t, x, z):
    """One run as Dedalus writes it: tasks (t, x, z) with labelled dims, scales/sim_time."""
    with h5py.File(path, "w") as f:
        f.create_dataset("scales/sim_time", data=t)
        f.create_dataset("scales/x_hash_0", data=x)
        f.create_dataset("scales/z_hash_0", data=z)
        for name, a in (("b", b), ("w", w)):
            d = f.create_dataset(f"tasks/{name}", data=a)
            for i, lab in enumerate(("t", "x", "z")):
                d.dims[i].label = lab


def test_hdf5_dedalus_layout_fields_are_transposed_to_z_x(tmp_path):
    rng = np.random.default_rng(2)
    nt, nx, nz = 6, 8, 5
    t, x, z = 0.1 * np.arange(nt), np.linspace(0, 2, nx), np.linspace(0, 1, nz)
    runs = [(rng.normal(size=(nt, nx, nz)), rng.normal(size=(nt, nx, nz))) for _ in range(4)]
    for k, (b, w) in enumerate(runs):
        write_dedalus(tmp_path / f"snap_{k}.h5", b, w, t, x, z)
    src = {
        "files": str(tmp_path / "snap_*.h5"),
        "layout": "field",
        "variables": {"theta": "tasks/b", "w": {"name": "tasks/w", "units": "d/tau"}},
        "dims": {"t": "time"},
        "time": {"name": "scales/sim_time"},
        "coords": {"x": "scales/x_hash_0", "z": "scales/z_hash_0"},
        "observed": "theta",
    }
    ds = ingested(tmp_path, src, dims=("z", "x"))
    assert ds["theta"].dims == ("trajectory", "time", "z", "x")
    np.testing.assert_array_equal(ds["theta"].values, np.stack([b for b, _ in runs]).transpose(0, 1, 3, 2))
    np.testing.assert_array_equal(ds["w"].values, np.stack([w for _, w in runs]).transpose(0, 1, 3, 2))
    np.testing.assert_array_equal(ds["x"].values, x)
    np.testing.assert_array_equal(ds["z"].values, z)
    assert ds.attrs["source_format"] == "hdf5" and ds["w"].attrs["units"] == "d/tau"


def test_netcdf4_groups_are_read_by_path_through_xarrays_datatree(tmp_path):
    """A netCDF4 file's groups (xr.open_datatree): a variable in a group is named by its path
    and finds its time coordinate in its group; the root's attributes give parameters."""
    u, t = states(n=3)
    xr.Dataset(attrs={"Ra": 28.0}).to_netcdf(tmp_path / "g.nc", engine="h5netcdf")
    xr.Dataset({"X": (("run", "t", "comp"), u, {"units": "m"})}, coords={"t": t}).to_netcdf(
        tmp_path / "g.nc", engine="h5netcdf", group="sim/out", mode="a"
    )
    src = {**NC_SOURCE, "files": str(tmp_path / "g.nc"), "variables": {"u": "sim/out/X"}, "time": {}}
    src["trajectory_parameters"] = {"Ra": "Ra"}
    ds = ingested(tmp_path, src)
    np.testing.assert_array_equal(ds["u"].values, u)
    np.testing.assert_array_equal(ds["time"].values, t)
    np.testing.assert_array_equal(ds["Ra"].values, [28.0] * 3)
    assert ds["u"].attrs["units"] == "m"
    with pytest.raises(IngestError, match=r"g\.nc: variable 'u': no variable 'out/X' in the file \(it has .*sim/out/X"):
        ingested(tmp_path, {**src, "variables": {"u": "out/X"}})


def test_hdf5_without_netcdf_dimensions_reads_as_netcdf_with_declared_dims(tmp_path):
    """Plain HDF5 (no dimension scales) through xarray's h5netcdf engine: its axes are phony,
    so they count as unnamed and the mapping declares them, as for .npz."""
    u, t = states(n=4)
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f.create_dataset("data/u", data=u)
        f.create_dataset("data/t", data=t)
    src = {
        "files": str(tmp_path / "plain.h5"),
        "format": "netcdf",
        "layout": "state",
        "variables": {"u": {"name": "data/u", "dims": ["trajectory", "time", "state"]}},
        "time": {"name": "data/t"},
    }
    np.testing.assert_array_equal(ingested(tmp_path, src)["u"].values, u)
    undeclared = {**src, "variables": {"u": "data/u"}}
    with pytest.raises(IngestError, match=r"variable 'u': variable 'data/u' has no dimension names; declare them"):
        ingested(tmp_path, undeclared)


def test_zarr_source_round_trips(tmp_path):
    u, t = states(n=6)
    xr.Dataset({"pos": (("sample", "traj", "c"), u.transpose(1, 0, 2))}, coords={"sample": t}).to_zarr(
        tmp_path / "in.zarr", zarr_format=3, consolidated=False
    )
    src = {
        "files": str(tmp_path / "in.zarr"),
        "layout": "state",
        "variables": {"u": "pos"},
        "dims": {"sample": "time", "traj": "trajectory", "c": "state"},
        "time": {"name": "sample"},
    }
    ds = ingested(tmp_path, src)
    np.testing.assert_array_equal(ds["u"].values, u)
    assert ds.attrs["source_format"] == "zarr"


def test_npz_arrays_by_key_with_declared_dims_and_a_time_step(tmp_path):
    u, _ = states(n=6)
    np.savez(tmp_path / "a.npz", traj=u.transpose(2, 0, 1).astype(np.float32), Wi=np.arange(6))
    src = {
        "files": str(tmp_path / "a.npz"),
        "layout": "state",
        "variables": {"u": {"name": "traj", "dims": ["state", "trajectory", "time"]}},
        "time": {"dt": 0.05, "start": 1.0},
        "trajectory_parameters": {"Wi": "Wi"},
    }
    ds = ingested(tmp_path, src)
    np.testing.assert_array_equal(ds["u"].values, u.astype(np.float32))
    assert ds["u"].dtype == np.float32  # the source's precision is kept
    np.testing.assert_allclose(ds["time"].values, 1.0 + 0.05 * np.arange(40))
    np.testing.assert_array_equal(ds["Wi"].values, np.arange(6))


def test_chain_layout_round_trips_but_the_workflow_refuses_it(tmp_path):
    r = np.random.default_rng(3).normal(size=(4, 12, 5, 3))
    np.savez(tmp_path / "c.npz", r=r, t=0.1 * np.arange(12))
    src = {
        "files": str(tmp_path / "c.npz"),
        "layout": "chain",
        "variables": {"r": {"name": "r", "dims": ["trajectory", "time", "bead", "xyz"]}},
        "time": {"name": "t"},
    }
    ds = ingested(tmp_path, src, dims=("bead", "xyz"))
    np.testing.assert_array_equal(ds["r"].values, r)
    cfg = ingest_config("x.npz")
    cfg["systems"]["lorenz_mine"]["source"].update(layout="chain")
    with pytest.raises(ConfigError, match=r"systems\.lorenz_mine\.source\.layout: 'chain' data can be ingested"):
        validate_config(cfg)


def write_csv(path, u, t, shuffle=False):
    n, m, _ = u.shape
    df = pd.DataFrame(
        {
            "id": np.repeat(10 + np.arange(n), m),
            "t": np.tile(t, n),
            "x": u[..., 0].ravel(),
            "y": u[..., 1].ravel(),
            "z": u[..., 2].ravel(),
            "Pr": np.repeat(np.arange(n) * 0.5, m),
        }
    )
    if shuffle:
        df = df.sample(frac=1.0, random_state=0)
    df.to_csv(path, index=False)


CSV_SOURCE = {
    "layout": "state",
    "variables": {"u": ["x", "y", "z"]},
    "csv": {"trajectory_column": "id", "time_column": "t"},
    "trajectory_parameters": {"Pr": "Pr"},
}


def test_csv_long_format_round_trips_and_sorts_rows_when_asked(tmp_path):
    u, t = states(n=5)
    write_csv(tmp_path / "a.csv", u, t, shuffle=True)
    src = {**CSV_SOURCE, "files": str(tmp_path / "a.csv")}
    with pytest.raises(
        IngestError,
        match=r"a\.csv: variable 'time': trajectory '1\d' is not strictly "
        r"increasing in 't'.*csv.sort: true",
    ):
        ingested(tmp_path, src)
    ds = ingested(tmp_path, {**src, "csv": {**src["csv"], "sort": True}})
    k = ds["source_index"].values - 10  # trajectories in the order they first appear, their ids kept
    assert sorted(k) == list(range(5))
    np.testing.assert_allclose(ds["u"].values, u[k], rtol=1e-14)
    np.testing.assert_allclose(ds["time"].values, t)
    np.testing.assert_array_equal(ds["Pr"].values, (ds["source_index"].values - 10) * 0.5)


# --------------------------------------------------------------------------- bad files


def test_missing_variable_names_file_and_variable(tmp_path):
    u, t = states()
    write_nc(tmp_path / "data.nc", u, t)
    src = {**NC_SOURCE, "files": str(tmp_path / "data.nc"), "variables": {"u": "Y"}}
    with pytest.raises(IngestError, match=r"data\.nc: variable 'u': no variable 'Y' in the file \(it has .*X"):
        ingested(tmp_path, src)


def test_nan_names_file_variable_and_trajectory(tmp_path):
    u, t = states()
    u[5, 17, 2] = np.nan
    write_nc(tmp_path / "data.nc", u, t)
    with pytest.raises(
        IngestError,
        match=r"data\.nc: variable 'u': NaN or inf \(trajectory 5 of the file\) "
        r"at time index 17",
    ):
        ingested(tmp_path, {**NC_SOURCE, "files": str(tmp_path / "data.nc"), "batch_mb": 2 * per_run_mb()})


def test_unsorted_time_names_file_and_trajectory(tmp_path):
    u, t = states(n=3)
    for k in range(3):
        tk = t.copy()
        if k == 2:
            tk[[10, 11]] = tk[[11, 10]]
        np.savez(tmp_path / f"r{k}.npz", u=u[k], t=tk)
    src = {
        "files": str(tmp_path / "r*.npz"),
        "layout": "state",
        "variables": {"u": {"name": "u", "dims": ["time", "state"]}},
        "time": {"name": "t"},
    }
    with pytest.raises(
        IngestError,
        match=r"r2\.npz: variable 'time': the time axis is not strictly "
        r"increasing \(at index 10",
    ):
        ingested(tmp_path, src)


def test_ragged_lengths_are_an_error_unless_truncation_is_asked_for(tmp_path):
    u, t = states(n=3)
    for k in range(3):
        m = 30 if k == 1 else 40
        np.savez(tmp_path / f"r{k}.npz", u=u[k, :m], t=t[:m])
    src = {
        "files": str(tmp_path / "r*.npz"),
        "layout": "state",
        "variables": {"u": {"name": "u", "dims": ["time", "state"]}},
        "time": {"name": "t"},
    }
    with pytest.raises(
        IngestError,
        match=r"ragged time axes: .*r1\.npz has 30 samples but .*r0\.npz has 40.*"
        r"source\.ragged: truncate",
    ):
        ingested(tmp_path, src)
    ds = ingested(tmp_path, {**src, "ragged": "truncate"})
    np.testing.assert_array_equal(ds["u"].values, u[:, :30])


def test_time_axes_that_disagree_are_named(tmp_path):
    u, t = states(n=3)
    np.savez(tmp_path / "r0.npz", u=u[0], t=t)
    np.savez(tmp_path / "r1.npz", u=u[1], t=t + 0.25)
    np.savez(tmp_path / "r2.npz", u=u[2], t=t)
    src = {
        "files": str(tmp_path / "r*.npz"),
        "layout": "state",
        "variables": {"u": {"name": "u", "dims": ["time", "state"]}},
        "time": {"name": "t"},
    }
    with pytest.raises(
        IngestError,
        match=r"r1\.npz: variable 'time': the time axis differs from that of "
        r".*r0\.npz at index 0",
    ):
        ingested(tmp_path, src)
    ds = ingested(tmp_path, {**src, "time": {"name": "t", "start_at_zero": True}})
    np.testing.assert_allclose(ds["time"].values, t - t[0])


def test_mismatched_shapes_name_file_and_variable(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "r0.npz", u=rng.normal(size=(10, 3)), v=rng.normal(size=(10, 3)))
    np.savez(tmp_path / "r1.npz", u=rng.normal(size=(10, 4)), v=rng.normal(size=(10, 4)))
    src = {
        "files": str(tmp_path / "r*.npz"),
        "layout": "state",
        "observed": "u",
        "time": {"dt": 0.1},
        "variables": {"u": {"name": "u", "dims": ["time", "state"]}, "v": {"name": "v", "dims": ["time", "state"]}},
    }
    with pytest.raises(IngestError, match=r"r1\.npz: variable 'u': 4 along 'state' where .*r0\.npz has 3"):
        ingested(tmp_path, src)
    np.savez(tmp_path / "r1.npz", u=rng.normal(size=(10, 3)), v=rng.normal(size=(9, 3)))
    with pytest.raises(
        IngestError,
        match=r"r1\.npz: variable 'v': array 'v' has 9 along 'time' where other "
        r"variables have 10",
    ):
        ingested(tmp_path, src)


def test_wrong_or_missing_dims_are_named(tmp_path):
    u, t = states()
    write_nc(tmp_path / "data.nc", u, t)
    src = {**NC_SOURCE, "files": str(tmp_path / "data.nc"), "dims": {"run": "trajectory", "t": "time"}}
    with pytest.raises(
        IngestError,
        match=r"data\.nc: variable 'u': variable 'X' has dims \['trajectory', "
        r"'time', 'comp'\]; a 'state' layout allows .*source\.dims",
    ):
        ingested(tmp_path, src)
    with pytest.raises(IngestError, match=r"data\.nc: variable 'u': variable 'X' has dims .*'field' layout"):
        ingested(tmp_path, {**NC_SOURCE, "files": str(tmp_path / "data.nc"), "layout": "field"}, dims=("z", "x"))
    np.savez(tmp_path / "a.npz", u=u)
    with pytest.raises(
        IngestError,
        match=r"a\.npz: variable 'u': array 'u' has no dimension names; declare "
        r"them with source\.variables\.u\.dims",
    ):
        ingested(
            tmp_path,
            {"files": str(tmp_path / "a.npz"), "layout": "state", "variables": {"u": "u"}, "time": {"dt": 0.1}},
        )


def test_missing_files_and_unknown_extensions_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"source\.files: '.*nothing_\*\.nc' matches no file"):
        ingested(tmp_path, {**NC_SOURCE, "files": str(tmp_path / "nothing_*.nc")})
    (tmp_path / "a.dat").write_text("1 2 3")
    with pytest.raises(IngestError, match=r"a\.dat: cannot infer the format .*source\.format"):
        ingested(tmp_path, {**NC_SOURCE, "files": str(tmp_path / "a.dat")})


def test_a_failed_ingest_leaves_the_existing_store_untouched(tmp_path):
    u, t = states()
    write_nc(tmp_path / "data.nc", u, t)
    src = {**NC_SOURCE, "files": str(tmp_path / "data.nc"), "batch_mb": 2 * per_run_mb()}
    good = ingested(tmp_path, src)
    u[7, 3, 0] = np.inf  # in the last batch: earlier batches were already written to the temporary store
    write_nc(tmp_path / "data.nc", u, t)
    with pytest.raises(IngestError, match=r"trajectory 7 of the file"):
        ingested(tmp_path, src)
    xr.testing.assert_identical(open_store(tmp_path / "store.zarr").load(), good)
    assert sorted(os.listdir(tmp_path)) == ["data.nc", "store.zarr"]


# --------------------------------------------------------------------------- config and CLI


def ingest_config(files):
    with open(INGEST_TINY) as fh:
        cfg = yaml.safe_load(fh)
    cfg["systems"]["lorenz_mine"]["source"]["files"] = str(files)
    return cfg


def test_source_block_is_validated_by_the_schema_and_checked():
    cfg = ingest_config("x.nc")
    validate_config(copy.deepcopy(cfg))
    bad = copy.deepcopy(cfg)
    bad["systems"]["lorenz_mine"]["source"]["variabels"] = {}
    with pytest.raises(
        ConfigError, match=r"^systems\.lorenz_mine\.source\.variabels: unknown key; did you mean 'variables'\?$"
    ):
        validate_config(bad)
    bad = copy.deepcopy(cfg)
    bad["systems"]["lorenz_mine"]["source"]["dims"]["run"] = "trajectories"
    with pytest.raises(
        ConfigError, match=r"^systems\.lorenz_mine\.source\.dims\.run: got 'trajectories'; did you mean 'trajectory'\?$"
    ):
        validate_config(bad)
    bad = copy.deepcopy(cfg)
    bad["systems"]["lorenz_mine"]["source"]["layout"] = "field"
    with pytest.raises(ConfigError, match=r"systems\.lorenz_mine\.reduction: a 'field' layout needs"):
        validate_config(bad)
    bad = copy.deepcopy(cfg)
    bad["systems"]["lorenz_mine"]["source"]["time"] = {"dt": 0.003}
    with pytest.raises(ConfigError, match=r"pairs\.tau: 0\.002 must be a whole multiple of source\.time\.dt"):
        validate_config(bad)


@pytest.mark.slow
def test_cli_config_form_writes_the_store_and_names_bad_files(tmp_path):
    u, t = states(n=8, m=40)
    write_nc(tmp_path / "lorenz.nc", u, t)
    cfg = ingest_config(tmp_path / "lorenz.nc")
    src = cfg["systems"]["lorenz_mine"]["source"]
    src.update(
        variables={"u": "X"},
        dims={"run": "trajectory", "t": "time", "comp": "state"},
        trajectory_parameters={"Ra": "Ra"},
    )
    cfg["results"] = str(tmp_path / "results")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    cmd = ["onsagerflow", "ingest", "--config", str(tmp_path / "c.yaml"), "--system", "lorenz_mine"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    ds = open_store(tmp_path / "results" / "data" / "lorenz_mine" / "trajectories.zarr", dims=["state"])
    np.testing.assert_array_equal(ds["u"].values, u)
    src["variables"] = {"u": "nope"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 1
    assert "lorenz.nc: variable 'u': no variable 'nope'" in out.stderr


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_ingested_netcdf_runs_the_workflow_on_held_out_trajectories(tmp_path):
    """The README's worked example: make a netCDF file of Lorenz trajectories, ingest it,
    train, evaluate and draw; no exact fixed points (no simulator) and none faked."""
    nc = tmp_path / "example_data" / "lorenz.nc"
    made = subprocess.run(
        [sys.executable, "-m", "onsagerflow.examples.make_example_data", str(nc)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr[-2000:]
    cfg = ingest_config(nc)
    results = tmp_path / "results"
    cfg["results"] = str(results)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(tmp_path / "c.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    data = open_store(results / "data" / "lorenz_mine" / "trajectories.zarr", dims=["state"])
    with xr.open_dataset(nc, engine="h5netcdf") as src:
        np.testing.assert_array_equal(data["u"].values, src["xyz"].values)
    assert data.attrs["source_files"] == [str(nc)]
    test_ids, metrics = held_out_predictions(results, "lorenz_mine", ("onsagernet", "mlp_ode"))
    assert len(test_ids) == 3
    for m in metrics.values():
        assert m["exact_fixed_points"] is None and m["long_time_statistics"]["truth"] is None
    for stem in ("attractor", "error_vs_time", "training_curves", "potential_onsagernet"):
        assert (results / "figures" / "lorenz_mine" / f"{stem}.png").stat().st_size > 1000
    table = pd.read_csv(results / "tables" / "results.csv")
    assert sorted(table["model"]) == ["mlp_ode", "onsagernet"]
    assert not any("exact" in c for c in table.columns)
    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", str(tmp_path / "c.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "Nothing to be done" in dry.stdout + dry.stderr
