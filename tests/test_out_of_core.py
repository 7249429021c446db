"""PCA on a store larger than the memory it may use, and the dask scheduler switch."""

from __future__ import annotations

import json
import subprocess
import sys

import dask
import numpy as np
import pytest
from distributed import get_client, get_task_stream

from onsagerflow.data import build_dataset, open_store, write_store
from onsagerflow.data.scheduler import dask_scheduler
from onsagerflow.models.reducers import fit_pca
from onsagerflow.provenance import stamp

N_MODES = 5


def planted_store(path, n_traj, n_time=50, nz=33, nx=64, chunk_mb=1.0, seed=0):
    """Three float32 fields that are N_MODES fixed spatial modes with random amplitudes plus
    1% noise, streamed to a store in batches (never whole in memory)."""
    rng = np.random.default_rng(seed)
    modes = rng.standard_normal((N_MODES, 3, nz, nx)).astype(np.float32)
    split = np.where(np.arange(n_traj) % 5 == 4, 2, 0).astype(np.int8)

    def batches(size=8):
        for s in range(0, n_traj, size):
            n = min(size, n_traj - s)
            amp = rng.standard_normal((n, n_time, N_MODES)).astype(np.float32)
            f = np.einsum("btm,mfzx->btfzx", amp, modes)
            f += 0.01 * rng.standard_normal(f.shape, dtype=np.float32)
            yield build_dataset(
                system="planted",
                data_vars={
                    v: (("trajectory", "time", "z", "x"), f[:, :, i], {"units": "1", "long_name": v})
                    for i, v in enumerate(("u", "w", "theta"))
                },
                time=np.arange(n_time) * 0.01,
                split=split[s : s + n],
                trajectory=np.arange(s, s + n),
                coords={"z": (("z",), np.linspace(0, 1, nz)), "x": (("x",), np.arange(nx) * 0.1)},
                attrs=stamp({}),
            )

    write_store(batches(), path, dims=("z", "x"), chunk_mb=chunk_mb)
    return path


PEAK_SCRIPT = """
import json, resource, sys
from onsagerflow.data import open_store
from onsagerflow.models.reducers import fit_pca
ds = open_store(sys.argv[1])
rows_mib = sum(ds[v].size for v in ("u", "w", "theta")) * 8 / 2**20
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
pca = fit_pca(ds, ["u", "w", "theta"], 7)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows_mib": rows_mib, "base": base, "peak": peak,
                  "ratios": pca.explained_variance_ratio.tolist()}))
"""

BUDGET_MIB = 100


@pytest.mark.slow  # heavy: run with -m slow
def test_pca_of_a_store_four_times_its_memory_budget_stays_within_it(tmp_path):
    # 170 trajectories × 50 snapshots × 3 fields × 33 × 64 points: 410 MiB as the float64
    # rows the PCA works on (205 MiB of float32 on disk), over 4 × the budget
    store = planted_store(tmp_path / "big.zarr", n_traj=170)
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(store)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["rows_mib"] >= 4 * BUDGET_MIB
    # peak resident memory above what importing and opening cost (ru_maxrss is the peak)
    assert r["peak"] - r["base"] < BUDGET_MIB, r
    # and the PCA is right: the 5 planted modes hold all but the 1e-4 noise variance
    ratios = np.array(r["ratios"])
    assert ratios[:N_MODES].sum() > 0.999 and ratios[N_MODES:].max() < 1e-3


@pytest.mark.slow  # heavy: run with -m slow
def test_a_local_dask_cluster_gives_the_pca_of_the_thread_pool(tmp_path):
    ds = open_store(planted_store(tmp_path / "s.zarr", n_traj=20, n_time=20, nz=9, nx=16))
    with dask_scheduler({"scheduler": "threads"}, threads=2):
        assert dask.config.get("scheduler") == "threads" and dask.config.get("num_workers") == 2
        threads = fit_pca(ds, ["u", "w", "theta"], 6)
    with dask_scheduler({"scheduler": "distributed", "n_workers": 2, "memory_limit": "1GiB"}):
        assert len(get_client().scheduler_info()["workers"]) == 2
        with get_task_stream() as stream:  # the PCA's tasks ran on this cluster's workers
            dist = fit_pca(ds, ["u", "w", "theta"], 6)
        assert len(stream.data) > 0
    # the planted modes (beyond them a near-degenerate noise spectrum, whose randomized
    # estimate depends on the order of sums); singular vectors agree up to sign
    planted = slice(0, N_MODES)
    np.testing.assert_allclose(dist.singular_values[planted], threads.singular_values[planted], rtol=1e-9)
    overlap = np.abs(np.sum(dist.components[planted] * threads.components[planted], axis=1))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-8)


def test_an_unknown_scheduler_is_named():
    with pytest.raises(
        ValueError, match=r"^dask\.scheduler: got 'gpu' \(allowed: threads, synchronous, distributed\)$"
    ):
        with dask_scheduler({"scheduler": "gpu"}):
            pass
