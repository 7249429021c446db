"""``onsagerflow gather``: a system's shard stores into its canonical store.

The shards are opened lazily and concatenated along ``trajectory``; dask then streams them
chunk by chunk into the new store (never the whole store in memory), chunked as the shards
are, so the gathered store equals, bit for bit, the store one job would have written.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import xarray as xr

from ..data import open_store, write_store
from ..data.schema import SchemaError
from ..data.store import stored_chunk
from ..systems import get_system

log = logging.getLogger("onsagerflow.gather")


def run(spec: dict, shards: list[str], out: str) -> None:
    system = get_system(spec["type"])
    t0 = time.perf_counter()
    parts = [open_store(p, dims=system.DIMS, validate=False) for p in shards]
    ids = np.concatenate([p["trajectory"].values for p in parts]) if parts else np.zeros(0, int)
    n = system.trajectory_count(spec)
    if not np.array_equal(ids, np.arange(n)):
        missing = sorted(set(range(n)) - set(ids.tolist()))[:10]
        raise SchemaError(
            f"{out}: the shards {shards} do not hold trajectories 0..{n - 1} once each, in order "
            f"(missing: {missing}; ids seen: {len(ids)})"
        )
    # coords off the trajectory axis (time, grid, beads) must agree between shards
    ds = xr.concat(
        parts,
        dim="trajectory",
        data_vars="minimal",
        coords="minimal",
        compat="equals",
        join="exact",
        combine_attrs="override",
    )
    finish = getattr(system, "finish_gather", None)
    if finish is not None:
        ds = finish(spec, ds)
    write_store(ds, out, dims=system.DIMS, chunk=stored_chunk(parts[0]))
    log.info("gathered %d shards (%d trajectories) in %.1f s: %s", len(parts), n, time.perf_counter() - t0, out)
