"""``onsagerflow simulate``: a built-in simulator into a canonical store."""

from __future__ import annotations

import logging
import time

from ..data import write_store
from ..systems import get_system

log = logging.getLogger("onsagerflow.simulate")


def run(spec: dict, out: str) -> None:
    system = get_system(spec["type"])
    t0 = time.perf_counter()
    log.info("simulating %s (%s): %s", spec["name"], spec["type"], spec.get("simulation"))
    ds = system.simulate(spec)
    log.info("simulated %d trajectories x %d samples in %.1f s", ds.sizes["trajectory"],
             ds.sizes["time"], time.perf_counter() - t0)
    write_store(ds, out, dims=system.DIMS)
    log.info("wrote %s", out)
