import os
import sys

import pytest

# JAX must be configured (float64) before any test imports it.
from onsagerflow.runtime import configure

configure()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))


# PRF21's Langevin OnsagerNet (one shared hidden layer of 12, no α, β or forcing) and the
# OnsagerNet layouts a model option must work with (tests of conservative and dissipative)
PRF21_NET = {"architecture": "shared", "width": 12, "depth": 1, "alpha": 0.0, "beta": 0.0, "forcing": "none"}
ONSAGERNET_VARIANTS = {
    "shared_prf21": {**PRF21_NET, "init": "prf21"},
    "shared_trunk": {**PRF21_NET},
    "matrices_shared": {"matrices": "shared", "width": 8, "depth": 2},
    "matrices_separate": {"matrices": "separate", "width": 8, "depth": 2},
}


def workflow_rules() -> dict[str, str]:
    """Rule name -> its text, from workflow/rules/*.smk: each `rule NAME:` block, and each rule a
    loop generates (`rule:` with `name: f"prefix{...}"`), named prefix<system>."""
    import re
    from pathlib import Path

    out = {}
    for smk in sorted((Path(ROOT) / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=[ \t]*rule(?: \w+)?:)", smk.read_text(), flags=re.M):
            named = re.match(r"\s*rule (\w+):", block)
            generated = re.match(r'\s*rule:\s*name:\s*f"(\w+)\{', block)
            if named:
                out[named.group(1)] = block
            elif generated:
                out[generated.group(1) + "<system>"] = block
    return out


@pytest.fixture(scope="session")
def repo_root():
    return ROOT


def lorenz_spec(r=28.0, n=12, t_end=0.5, dt=0.005, seed=0, splits=None):
    """A small Lorenz data spec in the shape the config gives the simulate stage."""
    return {
        "name": f"lorenz_r{r:g}",
        "type": "lorenz",
        "parameters": {"sigma": 10.0, "r": r, "b": 8.0 / 3.0},
        "simulation": {
            "n_trajectories": n,
            "t_end": t_end,
            "dt_sample": dt,
            "init_low": [-25, -25, -5],
            "init_high": [25, 25, 30],
            "rtol": 1e-12,
            "atol": 1e-12,
        },
        "splits": splits or {"train": 0.5, "val": 0.25, "test": 0.25},
        "seed": seed,
    }


def simulated(system, spec):
    """A simulator's whole output as one Dataset (simulators yield batches of trajectories)."""
    import xarray as xr

    out = system.simulate(spec)
    return out if isinstance(out, xr.Dataset) else xr.concat(list(out), dim="trajectory", combine_attrs="override")


@pytest.fixture
def small_lorenz_spec():
    return lorenz_spec()


def held_out_predictions(results, system, models):
    """Assert that every model's predictions cover exactly the store's test trajectories and
    start from their true first states; returns (test ids, {model: metrics})."""
    import json
    from pathlib import Path

    import numpy as np

    from onsagerflow.data import open_store

    results = Path(results)
    data = open_store(results / "data" / system / "trajectories.zarr", dims=["state"])
    test_ids = data["trajectory"].values[data["split"].values == 2]
    metrics = {}
    for model in models:
        ev = results / "eval" / system / model
        pred = open_store(ev / "predictions.zarr", dims=["state"], allow_nan=True)
        assert sorted(pred["trajectory"].values) == sorted(test_ids), model
        np.testing.assert_array_equal(
            pred["u"].isel(time=0).values, data["u"].sel(trajectory=pred["trajectory"]).isel(time=0).values
        )
        metrics[model] = json.loads((ev / "metrics.json").read_text())
        assert metrics[model]["n_test_trajectories"] == len(test_ids), model
    return test_ids, metrics


def assert_cf_clean(path, tmp_dir):
    """A zarr store the workflow wrote: opens in xarray with no warning (consolidated
    metadata, specified dtypes), declares its CF version, has pint-parsable units on every
    variable and a long_name on every data variable, and round-trips through netCDF.
    Returns the opened Dataset."""
    import warnings
    from pathlib import Path

    import numpy as np
    import pint
    import xarray as xr

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_zarr(path)
        ds.load()
    assert ds.attrs["Conventions"].startswith("CF-"), path
    ureg = pint.UnitRegistry()
    for var in ds.variables.values():
        if "units" in var.attrs:
            ureg.parse_units(var.attrs["units"])  # raises on a unit pint cannot read
    for name, var in ds.data_vars.items():
        assert "long_name" in var.attrs and "units" in var.attrs, (path, name)
    nc = Path(tmp_dir) / (Path(path).stem + ".nc")
    ds.to_netcdf(nc)
    with xr.open_dataset(nc) as back:
        back.load()
    for name, var in ds.variables.items():
        if var.dtype.kind in "fiu":
            np.testing.assert_array_equal(back[name].values, var.values, err_msg=f"{path}: {name}")
        else:
            assert [str(v) for v in back[name].values] == [str(v) for v in var.values], (path, name)
    return ds


def assert_figure(path):
    """A saved figure is a picture: a PNG with more than one colour spread over its area and
    the provenance in its text chunks (its PDF twin, where there is one, is a PDF)."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    path = Path(path)
    with Image.open(path) as im:
        assert im.info.get("config_sha256") and im.info.get("git_sha"), f"{path}: no provenance"
        pixels = np.asarray(im.convert("L"), dtype=float)
    assert min(pixels.shape) > 100, f"{path}: {pixels.shape} pixels"
    ink = pixels < 250  # not white
    assert 0.01 < ink.mean() < 0.95, f"{path}: {ink.mean():.1%} of the picture is drawn"
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    assert np.ptp(rows) > 0.5 * pixels.shape[0] and np.ptp(cols) > 0.5 * pixels.shape[1], f"{path}: drawing in a corner"
    pdf = path.with_suffix(".pdf")
    if pdf.exists():
        assert pdf.read_bytes()[:5] == b"%PDF-", f"{pdf}: not a PDF"


def assert_stores_identical(a, b):
    """Two canonical stores hold the same data bit for bit: every variable and coordinate
    (values, dtype, dims, attributes), the chunks along trajectory, and every attribute but
    the time each was written."""
    import numpy as np

    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        va, vb = a[name], b[name]
        assert va.dims == vb.dims and va.dtype == vb.dtype, name
        assert np.array_equal(va.values, vb.values, equal_nan=va.dtype.kind == "f"), name
        assert va.attrs == vb.attrs, name
    for name in a.data_vars:
        assert a[name].encoding["chunks"] == b[name].encoding["chunks"], name
    assert {k: v for k, v in a.attrs.items() if k != "created"} == {k: v for k, v in b.attrs.items() if k != "created"}
