import os
import sys

import pytest

# JAX must be configured (float64) before any test imports it.
from onsagerflow.runtime import configure

configure()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))


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
