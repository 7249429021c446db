"""Users' own data as real solvers write it: runs spread over several files, uneven
(adaptive) time steps, burst-sampled archives, the user's own split, units and names."""

import os

import h5py
import numpy as np
import pytest
import xarray as xr
import yaml
from ingest_specs import spec_of

from onsagerflow.data import open_store
from onsagerflow.data.ingest import IngestError, ingest, plan
from onsagerflow.data.ingest.read import batch_ranges
from onsagerflow.data.ingest.resample import interpolate, target_times
from onsagerflow.data.timegrid import time_grid
from onsagerflow.examples.dedalus_like import adaptive_output_times, lorenz_at, write_run

FIELD = ("z", "x")


def dedalus_runs(tmp_path, n=6, **kw):
    """n runs of Dedalus-shaped output, each in several sets, with adaptive steps."""
    kw = {"nx": 8, "nz": 6, "t_end": 1.0, "sim_dt": 0.02, "max_dt": 0.01, "max_writes": 15, **kw}
    return {k: write_run(tmp_path / "out" / f"run_{k}", seed=k, **kw) for k in range(n)}


def dedalus_source(tmp_path, **extra):
    return {
        "files": str(tmp_path / "out" / "run_*" / "snapshots" / "*.h5"),
        "layout": "field",
        "variables": {"b": "buoyancy", "u": "u"},
        "time": {"resample": {"dt": 0.02}},
        **extra,
    }


def write(tmp_path, source, **system):
    out = tmp_path / "store.zarr"
    ingest(spec_of(source, **system), out)
    return open_store(out).load()


# --------------------------------------------------------------------------- runs, not files


def test_a_run_split_over_dedalus_sets_is_one_trajectory_in_one_split(tmp_path):
    runs = dedalus_runs(tmp_path)
    assert all(len(files) >= 3 for files in runs.values())  # every run really spans several sets
    ds = write(tmp_path, dedalus_source(tmp_path))
    assert ds.sizes["trajectory"] == len(runs)
    files = ds.attrs["source_files"]
    group_of_file = ds.attrs["source_file_group"]
    for paths in runs.values():
        groups = {group_of_file[files.index(str(p))] for p in paths}
        assert len(groups) == 1  # every set of the run in one group
        (g,) = groups
        rows = np.flatnonzero(ds["source_group"].values == g)
        assert len(rows) == 1  # ... which is one trajectory
        assert len({int(ds["split"].values[r]) for r in rows}) == 1  # so in one split
    # the file-by-file reading the hints used to lead to: every set its own trajectory,
    # pieces of one run in different splits
    by_file = write(
        tmp_path,
        {
            **dedalus_source(tmp_path),
            "runs": {"by": "file"},
            "ragged": "truncate",
            "time": {"resample": {"dt": 0.02}, "start_at_zero": True},
        },
    )
    assert by_file.sizes["trajectory"] == sum(len(f) for f in runs.values())
    spans = [
        len({int(s) for s, f in zip(by_file["split"].values, by_file["source_file"].values) if f in ids})
        for ids in ({files.index(str(p)) for p in paths} for paths in runs.values())
    ]
    assert max(spans) > 1


def test_joined_and_resampled_values_are_the_solution_at_the_grid_times(tmp_path):
    """The generator's fields are those of a Lorenz-63 solution; after joining the sets and
    interpolating, the stored velocity is that solution's at the grid times, to within the
    interpolation error the store reports (estimated against a spline two degrees higher)."""
    dedalus_runs(tmp_path, n=3, t_end=0.6)
    ds = write(tmp_path, dedalus_source(tmp_path), splits={"train": 0.34, "val": 0.33, "test": 0.33})
    assert time_grid(ds["time"].values).uniform and np.isclose(ds["time"].values[1], 0.02)
    for k in range(3):
        with h5py.File(tmp_path / "out" / f"run_{k}" / "snapshots" / "snapshots_s1.h5") as f:
            u0 = f["tasks/u"][0]
        rng = np.random.default_rng(k)
        adaptive_output_times(0.6, 0.02, 0.01, rng)
        x0 = rng.uniform([-15.0, -15.0, 5.0], [15.0, 15.0, 40.0])
        xyz = lorenz_at(np.concatenate([[0.0], ds["time"].values[1:]]), x0, 28.0)
        # u_x at one grid point is proportional to X(t): the ratio at t = 0 fixes it
        i, j = np.unravel_index(np.argmax(np.abs(u0[0])), u0[0].shape)
        stored = ds["u"].values[k, :, 0, j, i]
        exact = u0[0, i, j] / x0[0] * xyz[:, 0]
        rms = np.sqrt(np.mean(ds["u"].values[k] ** 2))
        err = np.max(np.abs(stored - exact)) / rms
        assert err <= 2.0 * float(ds["interpolation_error"].values[k]) + 1e-12


def test_runs_by_pattern_and_by_directory(tmp_path):
    rng = np.random.default_rng(0)
    t = 0.1 * np.arange(30)
    u = rng.normal(size=(4, 30, 2))
    for k in range(4):
        for part, sl in enumerate((slice(0, 10), slice(10, 30))):
            np.savez(tmp_path / f"seed{k}_part{part}.npz", u=u[k, sl], t=t[sl])
    src = {
        "files": str(tmp_path / "seed*_part*.npz"),
        "layout": "state",
        "variables": {"u": {"name": "u", "dims": ["time", "state"]}},
        "time": {"name": "t"},
        "runs": {"by": "pattern", "pattern": r"seed(\d+)_"},
    }
    ds = write(tmp_path, src)
    np.testing.assert_array_equal(ds["u"].values, u)
    assert ds.attrs["source_groups"] == ["0", "1", "2", "3"]
    for k in range(4):
        os.makedirs(tmp_path / f"d{k}")
        for part in (0, 1):
            os.rename(tmp_path / f"seed{k}_part{part}.npz", tmp_path / f"d{k}" / f"p{part}.npz")
    src.update(files=str(tmp_path / "d*" / "*.npz"), runs={"by": "directory"})
    np.testing.assert_array_equal(write(tmp_path, src)["u"].values, u)
    np.savez(tmp_path / "d1" / "p2.npz", u=u[1, 5:8], t=t[5:8])  # a piece that overlaps the run
    with pytest.raises(IngestError, match=r"run 'd1': .*p2\.npz starts at t = 0\.5, before .*p0\.npz ends"):
        write(tmp_path, src)


def test_two_runs_in_one_folder_are_not_joined_silently(tmp_path):
    """Dedalus sets of two runs copied into one folder claim the same set numbers."""
    dedalus_runs(tmp_path, n=2)
    flat = tmp_path / "flat"
    flat.mkdir()
    for k in range(2):
        for f in (tmp_path / "out" / f"run_{k}" / "snapshots").iterdir():
            os.rename(f, flat / f"run{k}_{f.name}")
    src = {**dedalus_source(tmp_path), "files": str(flat / "*.h5")}
    with pytest.raises(IngestError, match=r"have the same set number 1.*runs\.by: pattern"):
        write(tmp_path, src)


# --------------------------------------------------------------------------- time grids


def test_adaptive_steps_need_a_resample_grid_and_get_one(tmp_path):
    dedalus_runs(tmp_path, n=3)
    src = dedalus_source(tmp_path)
    del src["time"]
    with pytest.raises(IngestError, match=r"uneven steps .*adaptive.*source\.time\.resample"):
        write(tmp_path, src)


def test_the_interpolation_error_is_bounded(tmp_path):
    dedalus_runs(tmp_path, n=3, sim_dt=0.1, max_dt=0.05)
    src = dedalus_source(tmp_path, time={"resample": {"dt": 0.1, "order": 1, "max_error": 0.001}})
    with pytest.raises(IngestError, match=r"interpolating onto the resample grid changes it by up to .*max_error"):
        write(tmp_path, src)


def test_estimated_interpolation_error_tracks_the_true_one():
    """max|s_k − s_{k+2}|/RMS against the error of s_k at the grid times (Lorenz-63)."""
    rng = np.random.default_rng(0)
    t, _, _ = adaptive_output_times(4.0, 0.02, 0.01, rng)
    x0 = np.array([5.0, 5.0, 20.0])
    y = lorenz_at(t, x0, 28.0)
    grid = target_times(t, {"dt": 0.01})
    exact = lorenz_at(grid, x0, 28.0)
    for order in (1, 3):
        yi, est = interpolate(t, y, grid, order)
        true = np.max(np.abs(yi - exact)) / np.sqrt(np.mean(y**2))
        assert 0.5 * est < true < 2.0 * est


def test_one_sample_and_too_short_runs_are_rejected(tmp_path):
    t = 0.1 * np.arange(20)
    for k in range(3):
        np.savez(tmp_path / f"r{k}.npz", u=np.ones((20 if k != 1 else 1, 2)), t=t[: 20 if k != 1 else 1])
    src = {
        "files": str(tmp_path / "r*.npz"),
        "layout": "state",
        "variables": {"u": {"name": "u", "dims": ["time", "state"]}},
        "time": {"name": "t"},
    }
    with pytest.raises(IngestError, match=r"run 'r1\.npz'.*has 1 sample; a run needs at least 2"):
        write(tmp_path, src)
    np.savez(tmp_path / "r1.npz", u=np.ones((3, 2)), t=t[:3] * 0.1)
    with pytest.raises(IngestError, match=r"run 'r1\.npz'.*too short for 2 samples of the source\.time\.resample grid"):
        write(tmp_path, {**src, "time": {"name": "t", "resample": {"dt": 0.5, "order": 1}}})


def test_the_start_at_zero_hint_only_where_it_is_not_set(tmp_path):
    t = 0.1 * np.arange(20)
    for k in range(3):
        np.savez(tmp_path / f"r{k}.npz", u=np.full((20, 2), k), t=(t if k != 1 else 2 * t) + k)
    src = {
        "files": str(tmp_path / "r*.npz"),
        "layout": "state",
        "variables": {"u": {"name": "u", "dims": ["time", "state"]}},
        "time": {"name": "t"},
    }
    with pytest.raises(IngestError, match=r"differs from that of .*at index 0 .*start_at_zero: true aligns"):
        write(tmp_path, src)
    with pytest.raises(
        IngestError, match=r"r1\.npz: variable 'time': .*at index 1 \([^)]*\); the store has one time axis$"
    ):
        write(tmp_path, {**src, "time": {"name": "t", "start_at_zero": True}})


def test_a_uniform_axis_written_in_float32_is_put_back_on_its_line(tmp_path):
    """0.1·k in float32 has steps that differ by 1e-7 relative: not uniform to the grid's
    tolerance, but within source.time.tolerance of the line t0 + k·h."""
    t = (0.1 * np.arange(200)).astype(np.float32)
    assert not np.allclose(np.diff(t.astype(np.float64)), 0.1, rtol=1e-8, atol=0)
    u = np.random.default_rng(4).normal(size=(4, 200, 2))
    xr.Dataset({"u": (("run", "t", "c"), u)}, coords={"t": t}).to_netcdf(tmp_path / "f.nc", engine="h5netcdf")
    src = {
        "files": str(tmp_path / "f.nc"),
        "layout": "state",
        "variables": {"u": "u"},
        "dims": {"run": "trajectory", "t": "time", "c": "state"},
    }
    ds = write(tmp_path, src)
    assert time_grid(ds["time"].values).uniform
    np.testing.assert_allclose(ds["time"].values, t, rtol=0, atol=1e-6 * 0.1 * 200)
    np.testing.assert_array_equal(ds["u"].values, u)


def test_a_burst_sampled_archive_round_trips(tmp_path):
    """PCA coordinates stored as snapshot pairs, h(t) and h(t + 0.001) at t = 0, 1, ..., 99
    (PRF21's RBC archive): the store keeps the bursts, the grid reads them back."""
    t = (np.arange(100)[:, None] + np.array([0.0, 0.001])[None]).ravel()
    h = np.random.default_rng(1).normal(size=(12, t.size, 3))
    xr.Dataset({"h": (("run", "t", "pc"), h)}, coords={"t": ("t", t, {"units": "1"})}).to_netcdf(
        tmp_path / "pairs.nc", engine="h5netcdf"
    )
    src = {
        "files": str(tmp_path / "pairs.nc"),
        "layout": "state",
        "variables": {"h": "h"},
        "dims": {"run": "trajectory", "t": "time", "pc": "state"},
    }
    ds = write(tmp_path, src)
    np.testing.assert_array_equal(ds["h"].values, h)
    np.testing.assert_array_equal(ds["time"].values, t)
    g = time_grid(ds["time"].values)
    assert (g.burst, len(g.starts), ds.attrs["burst_size"]) == (2, 100, 2)
    assert np.isclose(g.step, 0.001) and np.isclose(ds.attrs["dt_sample"], 0.001)


def test_adaptive_output_onto_a_burst_grid(tmp_path):
    dedalus_runs(tmp_path, n=3)
    src = dedalus_source(tmp_path, time={"resample": {"dt": 0.01, "every": 0.1, "burst": 2}})
    ds = write(tmp_path, src)
    g = time_grid(ds["time"].values)
    assert g.burst == 2 and np.isclose(g.step, 0.01)
    np.testing.assert_allclose(ds["time"].values[g.starts], 0.1 * np.arange(len(g.starts)), atol=1e-12)


# --------------------------------------------------------------------------- the user's split


def split_file(tmp_path, labels):
    u = np.random.default_rng(2).normal(size=(len(labels), 10, 2))
    xr.Dataset(
        {"u": (("run", "t", "c"), u), "subset": (("run",), np.array(labels))},
        coords={"t": 0.1 * np.arange(10)},
    ).to_netcdf(tmp_path / "s.nc", engine="h5netcdf")
    return {
        "files": str(tmp_path / "s.nc"),
        "layout": "state",
        "variables": {"u": "u"},
        "dims": {"run": "trajectory", "t": "time", "c": "state"},
    }


def test_a_split_variable_in_the_file_is_followed(tmp_path):
    labels = ["train", "test", "train", "val", "Train", "test", "train"]
    ds = write(tmp_path, {**split_file(tmp_path, labels), "split": {"variable": "subset"}})
    np.testing.assert_array_equal(ds["split"].values, [0, 2, 0, 1, 0, 2, 0])
    with pytest.raises(IngestError, match=r"split value 'holdout' is none of \['train', 'val', 'test'\]"):
        write(tmp_path, {**split_file(tmp_path, labels[:-1] + ["holdout"]), "split": {"variable": "subset"}})


def test_split_lists_by_index_and_label(tmp_path):
    src = split_file(tmp_path, ["x"] * 5)
    ds = write(tmp_path, {**src, "split": {"train": [0, 1, "s.nc:4"], "val": [2], "test": [3]}})
    np.testing.assert_array_equal(ds["split"].values, [0, 0, 1, 2, 0])
    with pytest.raises(IngestError, match=r"source\.split: 1 run\(s\) are in no list, e\.g\. \['s\.nc:4'\]"):
        write(tmp_path, {**src, "split": {"train": [0, 1], "val": [2], "test": [3]}})
    with pytest.raises(IngestError, match=r"source\.split\.test: run 's\.nc:1' is also in 'train'"):
        write(tmp_path, {**src, "split": {"train": [0, 1, 4], "val": [2], "test": [3, 1]}})
    with pytest.raises(IngestError, match=r"source\.split: no run is in 'val'"):
        write(tmp_path, {**src, "split": {"train": [0, 1, 4, 2], "val": [], "test": [3]}})


# --------------------------------------------------------------------------- what is carried over


def test_units_names_and_attributes_are_carried_over(tmp_path):
    u = np.random.default_rng(3).normal(size=(4, 20, 3))
    xr.Dataset(
        {"X": (("run", "t", "comp"), u, {"units": "m", "long_name": "position", "standard_name": "height"})},
        coords={"t": ("t", 0.5 * np.arange(20), {"units": "s"}), "comp": ["x", "y", "z"]},
    ).to_netcdf(tmp_path / "a.nc", engine="h5netcdf")
    src = {
        "files": str(tmp_path / "a.nc"),
        "layout": "state",
        "variables": {"u": "X"},
        "dims": {"run": "trajectory", "t": "time", "comp": "state"},
    }
    ds = write(tmp_path, src)
    assert ds["time"].attrs["units"] == "s"  # was '1'
    assert list(ds["state"].values) == ["x", "y", "z"]
    assert ds["u"].attrs == {"units": "m", "long_name": "position", "standard_name": "height"}
    assert write(tmp_path, {**src, "time": {"units": "ms"}})["time"].attrs["units"] == "ms"


def test_csv_column_names_become_the_state_coordinate(tmp_path):
    import pandas as pd

    rows = [(k, 0.1 * i, i + k, 2.0 * i, -i) for k in range(4) for i in range(10)]
    pd.DataFrame(rows, columns=["id", "t", "px", "py", "pz"]).to_csv(tmp_path / "a.csv", index=False)
    src = {
        "files": str(tmp_path / "a.csv"),
        "layout": "state",
        "variables": {"p": ["px", "py", "pz"]},
        "csv": {"trajectory_column": "id", "time_column": "t"},
    }
    assert list(write(tmp_path, src)["state"].values) == ["px", "py", "pz"]


def test_field_layouts_need_no_observed_variable(tmp_path):
    dedalus_runs(tmp_path, n=3)
    ds = write(tmp_path, dedalus_source(tmp_path))
    assert "observed" not in ds.attrs and set(ds.data_vars) == {"b", "u"}
    assert {"z_weight", "x_weight"} <= set(ds.coords)
    unweighted = write(tmp_path, dedalus_source(tmp_path, quadrature="none"))
    assert not {"z_weight", "x_weight"} & set(unweighted.coords)


def test_one_component_of_a_vector_task(tmp_path):
    dedalus_runs(tmp_path, n=3)
    src = dedalus_source(tmp_path, variables={"b": "buoyancy", "w": {"name": "u", "component": "z"}})
    ds = write(tmp_path, src)
    both = write(tmp_path, dedalus_source(tmp_path))
    assert ds["w"].dims == ("trajectory", "time", "z", "x")
    np.testing.assert_array_equal(ds["w"].values, both["u"].sel(component="z").values)
    with pytest.raises(IngestError, match=r"component 'y' is not one of \['x', 'z'\]"):
        write(tmp_path, dedalus_source(tmp_path, variables={"w": {"name": "u", "component": "y"}}))


def test_a_coefficient_space_task_is_named(tmp_path):
    paths = dedalus_runs(tmp_path, n=3)
    for files in paths.values():
        for f in files:
            with h5py.File(f, "a") as h:
                h["tasks/buoyancy"].attrs["grid_space"] = np.array([True, False])
    with pytest.raises(IngestError, match=r"task 'buoyancy' is written in coefficient space along \['z'\]"):
        write(tmp_path, dedalus_source(tmp_path))


def test_numbers_yaml_reads_as_strings_are_stored_as_numbers(tmp_path):
    params = yaml.safe_load("Ra: 5.0e4\nPr: 1\nNx: 16\nname: rbc")
    assert params["Ra"] == "5.0e4"  # PyYAML (YAML 1.1): a float needs a dot and a signed exponent
    dedalus_runs(tmp_path, n=3)
    ds = write(tmp_path, dedalus_source(tmp_path), parameters=params)
    assert ds.attrs["Ra"] == 5.0e4 and ds.attrs["Pr"] == 1 and ds.attrs["name"] == "rbc"
    assert ds.attrs["parameter_names"] == ["Nx", "Pr", "Ra", "name"]


def test_batches_are_sized_by_bytes(tmp_path):
    n, m = 50, 40
    xr.Dataset({"h": (("run", "t", "c"), np.zeros((n, m, 3)))}, coords={"t": 0.1 * np.arange(m)}).to_netcdf(
        tmp_path / "h.nc", engine="h5netcdf"
    )
    src = spec_of(
        {
            "files": str(tmp_path / "h.nc"),
            "layout": "state",
            "variables": {"h": "h"},
            "dims": {"run": "trajectory", "t": "time", "c": "state"},
            "batch_mb": 7.5 * m * 3 * 8 / 2**20,  # 7.5 runs' worth
        }
    )["source"]
    sizes = [len(r) for r in batch_ranges(plan(src), src["batch_mb"])]
    assert sizes == [7] * 7 + [1]


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_dedalus_output_runs_the_workflow(tmp_path):
    """The docs' worked example, small: Dedalus-shaped runs in several sets with adaptive
    steps, a config naming the files, the tasks and the grid; ingest, the quadrature-weighted
    PCA, training and evaluation on held-out runs, figures."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "onsagerflow.examples.dedalus_like",
            str(tmp_path / "rbc"),
            "--runs",
            "6",
            "--t-end",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr[-2000:]
    with open(os.path.join(root, "tests", "configs", "ingest_dedalus.yaml")) as fh:
        cfg = yaml.safe_load(fh)
    system = cfg["systems"]["rbc_dedalus"]
    system["source"]["files"] = str(tmp_path / "rbc" / "run_*" / "snapshots" / "*.h5")
    system["splits"] = {"train": 0.5, "val": 0.25, "test": 0.25}
    system["evaluation"].update(long_rollouts=4, long_t_end=2.0, long_discard=0.5, fixed_point_starts=16)
    cfg["training"]["epochs"] = 3
    cfg["results"] = str(tmp_path / "results")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(tmp_path / "c.yaml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = tmp_path / "results"
    data = open_store(results / "data" / "rbc_dedalus" / "trajectories.zarr", dims=FIELD)
    assert data.sizes["trajectory"] == 6 and len(data.attrs["source_files"]) > 6  # runs, not sets
    assert "z_weight" in data.coords and data["u"].dims[2] == "component"
    latent = open_store(results / "reduce" / "rbc_dedalus" / "latent.zarr")
    assert (latent.attrs["Nx"], latent.attrs["Nz"]) == (16, 8) and "quadrature" in latent.attrs
    import json

    for model in ("onsagernet-n3", "mlp_ode-n3"):
        m = json.loads((results / "eval" / "rbc_dedalus" / model / "metrics.json").read_text())
        assert m["n_test_trajectories"] == int((data["split"].values == 2).sum())
        assert "quadrature weights" in m["latent_metrics"]["field_error"]["units"]
    for stem in ("variance_spectrum", "latent_trajectories", "temperature_fields"):
        assert (results / "figures" / "rbc_dedalus" / f"{stem}.png").exists()
