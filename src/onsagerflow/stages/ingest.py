"""``onsagerflow ingest``: a user's own trajectory files into a canonical store."""

from __future__ import annotations

import logging
import time

from ..data import Split, open_store, split_mask
from ..data.ingest import LAYOUT_DIMS, ingest

log = logging.getLogger("onsagerflow.ingest")


def run(spec: dict, out: str) -> None:
    t0 = time.perf_counter()
    ingest(spec, out)
    dims = LAYOUT_DIMS[spec["source"]["layout"]]
    ds = open_store(out, dims=dims, validate=False)
    counts = {s.name.lower(): int(split_mask(ds, s).sum()) for s in Split}
    log.info(
        "wrote %d trajectories x %d samples (%s) in %.1f s: %s",
        ds.sizes["trajectory"],
        ds.sizes["time"],
        ", ".join(f"{k} {v}" for k, v in counts.items()),
        time.perf_counter() - t0,
        out,
    )
