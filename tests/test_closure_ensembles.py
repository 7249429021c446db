"""scripts/closure_ensembles.py: chains matched to a test ensemble's start in the closure's coordinates."""

import importlib.util
from pathlib import Path

import numpy as np

from onsagerflow.cli import main
from onsagerflow.config.paths import data_store, latent_store, pca_store
from onsagerflow.data import open_store
from onsagerflow.models.reducers import PCA

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tests" / "configs" / "polymer_tiny.yaml"


def script():
    spec = importlib.util.spec_from_file_location("closure_ensembles", ROOT / "scripts" / "closure_ensembles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_conformations_enter_the_closure_as_the_reduce_stage_put_the_stored_ones(tmp_path):
    """latent_of (observables first, then the PCA coordinates of the centred chain) gives every
    stored initial chain the coordinates the latent store holds for it: a probe coil is then
    matched to an ensemble's start in the coordinates a model sees."""
    results = str(tmp_path / "results")
    for stage in ("simulate", "reduce"):
        assert main([stage, "--config", str(CONFIG), "--system", "polymer_tiny", "--results", results]) == 0
    raw = open_store(data_store(results, "polymer_tiny"))
    lat = open_store(latent_store(results, "polymer_tiny"), dims=["state"])
    names = lat.attrs["observables"].split()
    assert names == ["extension"]
    r0 = raw["r"].values[:, 0].astype(np.float64)
    # shifted chains: the centre of mass is removed before the projection, as in the store
    z = script().latent_of(r0 + 3.0, raw["r"].dims, names, PCA.load(pca_store(results, "polymer_tiny")))
    np.testing.assert_allclose(z, lat["h"].values[:, 0], rtol=1e-5, atol=1e-5 * np.abs(z).max())
    assert z.shape[-1] == lat.sizes["state"] and np.std(z[:, 1]) > 0
