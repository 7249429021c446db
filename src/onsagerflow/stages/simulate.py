"""``onsagerflow simulate``: a built-in simulator into a canonical store."""

from __future__ import annotations

import logging
import time

from ..data import open_store, write_store
from ..systems import get_system

log = logging.getLogger("onsagerflow.simulate")


def run(spec: dict, out: str) -> None:
    system = get_system(spec["type"])
    t0 = time.perf_counter()
    log.info("simulating %s (%s): %s", spec["name"], spec["type"], spec.get("simulation"))
    # A simulator returns one Dataset or yields consecutive batches of one (a store larger
    # than memory); write_store takes either.
    data = system.simulate(spec)
    write_store(data, out, dims=system.DIMS)
    sizes = open_store(out, dims=system.DIMS, validate=False).sizes
    log.info(
        "simulated and wrote %d trajectories x %d samples in %.1f s: %s",
        sizes["trajectory"],
        sizes["time"],
        time.perf_counter() - t0,
        out,
    )
