"""Ingestion of many short trajectories: batches sized by bytes (``source.batch_mb``, the
default) against batches of a fixed count of 32 runs (the former default, ``batch_size:
32``), the same file ingested by the same code back to back.

The file is PRF21's kind of archive: n runs of 3 PCA coordinates stored as snapshot pairs,
h(t) and h(t + 0.001) at t = 0, 1, ..., 99 (200 samples per run), one netCDF4 file with a
run dimension.

    python benchmarks/bench_ingest.py                # 10,000 runs (48 MB)
    python benchmarks/bench_ingest.py --size small   # 2,000 runs
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = {"default": 10_000, "paper": 10_000, "small": 2_000}  # the 10,000 runs is already paper-sized
COUNT_BATCH = 32  # the former default batch: 32 trajectories, whatever their size


def make_archive(path: Path, n: int) -> int:
    import xarray as xr

    t = (np.arange(100)[:, None] + np.array([0.0, 0.001])[None]).ravel()
    h = np.random.default_rng(0).normal(size=(n, t.size, 3))
    xr.Dataset({"h": (("run", "t", "pc"), h)}, coords={"t": t}).to_netcdf(path, engine="h5netcdf")
    return h[0].nbytes


def spec(path: Path, batch_mb: float | None) -> dict:
    """The ingest stage's spec, defaults filled by the config's own validator."""
    from onsagerflow.config import data_spec, load_schema
    from onsagerflow.config.validate import fill_and_validate

    source = {
        "files": str(path),
        "layout": "state",
        "variables": {"h": "h"},
        "dims": {"run": "trajectory", "t": "time", "pc": "state"},
    }
    if batch_mb is not None:
        source["batch_mb"] = batch_mb
    block = {"type": "ingested", "source": source, "models": ["onsagernet"]}
    schema = load_schema()
    fill_and_validate(block, schema, schema["$defs"]["system"])
    return data_spec({"systems": {"pairs": block}}, "pairs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    a = ap.parse_args()
    from onsagerflow.data.ingest import ingest

    n = SIZES[a.size]
    tmp = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        per_run = make_archive(tmp / "pairs.nc", n)
        default = spec(tmp / "pairs.nc", None)
        count = spec(tmp / "pairs.nc", COUNT_BATCH * (per_run + 1) / 2**20)
        print(f"{n} runs x 200 samples x 3, {n * per_run / 2**20:.0f} MB; load average {os.getloadavg()[0]:.1f}")
        times = {}
        for name, s in (("batch_mb (default)", default), (f"{COUNT_BATCH} runs per batch", count)):
            t0 = time.perf_counter()
            ingest(s, tmp / f"out_{len(times)}.zarr")
            times[name] = time.perf_counter() - t0
            print(f"{name:>24}: {times[name]:7.1f} s  ({n / times[name]:,.0f} runs/s)")
        (fast, slow) = times.values()
        print(f"ratio (count-sized / byte-sized): {slow / fast:.1f}x; load average {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
