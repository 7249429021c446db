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
    write_store(system.simulate(spec), out, dims=system.DIMS)  # a Dataset or a stream of batches
    log.info("simulated and wrote %s in %.1f s", out, time.perf_counter() - t0)
