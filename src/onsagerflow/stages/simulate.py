"""``onsagerflow simulate``: a built-in simulator into a canonical store."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator

import xarray as xr

from ..data import open_store, write_store
from ..systems import get_system

log = logging.getLogger("onsagerflow.simulate")


def run(spec: dict, out: str) -> None:
    system = get_system(spec["type"])
    t0 = time.perf_counter()
    log.info("simulating %s (%s): %s", spec["name"], spec["type"], spec.get("simulation"))
    # A simulator returns one Dataset or yields consecutive batches of one (a store larger
    # than memory); write_store takes either, and each batch logs the progress.
    data = system.simulate(spec)
    batches = [data] if isinstance(data, xr.Dataset) else data
    write_store(with_progress(batches, system.trajectory_count(spec)), out, dims=system.DIMS)
    sizes = open_store(out, dims=system.DIMS, validate=False).sizes
    log.info(
        "simulated and wrote %d trajectories x %d samples in %.1f s: %s",
        sizes["trajectory"],
        sizes["time"],
        time.perf_counter() - t0,
        out,
    )


def with_progress(batches: Iterable[xr.Dataset], total: int) -> Iterator[xr.Dataset]:
    """The batches, logging after each how many of ``total`` trajectories are done, the time
    so far and the estimated time left (from the mean time per trajectory so far)."""
    t0 = time.perf_counter()
    done = 0
    for batch in batches:
        done += batch.sizes["trajectory"]
        elapsed = time.perf_counter() - t0
        eta = elapsed / done * max(total - done, 0)
        log.info(
            "%d/%d trajectories (%.0f%%), %s elapsed, ETA %s", done, total, 100 * done / total, _hms(elapsed), _hms(eta)
        )
        yield batch


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
