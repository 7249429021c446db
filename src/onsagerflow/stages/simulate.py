"""``onsagerflow simulate``: a built-in simulator into a canonical store, whole or one shard."""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import xarray as xr

from ..config import ConfigError
from ..data import open_store, write_store
from ..systems import get_system

log = logging.getLogger("onsagerflow.simulate")


def shardable(system) -> bool:
    """Whether a simulator makes a chosen subset of its trajectories (a shard)."""
    return "trajectories" in inspect.signature(system.simulate).parameters


def run(spec: dict, out: str, trajectories: range | None = None, calibration: str | None = None) -> None:
    """Simulate ``spec`` into the store ``out``: every trajectory, or the shard ``trajectories``
    (ids); ``calibration`` is the JSON a calibrate job wrote (the polymer's measured λ)."""
    system = get_system(spec["type"])
    t0 = time.perf_counter()
    kwargs: dict = {}
    if trajectories is not None:
        n = system.trajectory_count(spec)
        if not shardable(system):
            raise ConfigError(f"systems.{spec['name']}: the {spec['type']} simulator cannot make shards")
        check_range(trajectories, n, system.batch_size(spec), f"systems.{spec['name']}: shard", "trajectories")
        kwargs["trajectories"] = trajectories
    if calibration is not None:
        kwargs["calibration"] = read_calibration(calibration)
    what = "all trajectories" if trajectories is None else f"trajectories {trajectories.start}–{trajectories.stop - 1}"
    log.info("simulating %s (%s), %s: %s", spec["name"], spec["type"], what, spec.get("simulation"))
    # A simulator returns one Dataset or yields consecutive batches of one (a store larger
    # than memory); write_store takes either, and each batch logs the progress.
    data = system.simulate(spec, **kwargs)
    batches = [data] if isinstance(data, xr.Dataset) else data
    total = system.trajectory_count(spec) if trajectories is None else len(trajectories)
    write_store(with_progress(batches, total), out, dims=system.DIMS)
    sizes = open_store(out, dims=system.DIMS, validate=False).sizes
    log.info(
        "simulated and wrote %d trajectories x %d samples in %.1f s: %s",
        sizes["trajectory"],
        sizes["time"],
        time.perf_counter() - t0,
        out,
    )


def check_range(r: range, n: int, batch: int, what: str, units: str) -> None:
    """A shard (or calibration part) is a non-empty range of whole batches: each batch then
    runs the program the whole run runs on the same trajectories, so the shard is bit for
    bit that part of the whole."""
    if r.start < 0 or r.stop > n or len(r) == 0:
        raise ConfigError(f"{what} {r.start}-{r.stop} is not a non-empty range of its {n} {units}")
    if r.start % batch or (r.stop % batch and r.stop != n):
        raise ConfigError(f"{what} {r.start}-{r.stop} does not hold whole batches of {batch} {units}")


def read_calibration(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())["calibration"]
    except (OSError, ValueError, KeyError) as exc:
        raise FileNotFoundError(f"calibration file {path} is missing or malformed: {exc}") from None


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
