"""``ingest``: a system's data spec (its ``source`` block) into a canonical store."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..split import assign_splits
from .check import IngestError
from .files import sha256
from .plan import plan
from .read import batches

log = logging.getLogger("onsagerflow.ingest")


def observed_variable(source: Mapping[str, Any]) -> str:
    name = source.get("observed")
    if name is None:
        if len(source["variables"]) != 1:
            raise IngestError(f"source.observed: name the variable models learn, one of {sorted(source['variables'])}")
        name = next(iter(source["variables"]))
    if name not in source["variables"]:
        raise IngestError(f"source.observed: '{name}' is not among source.variables {sorted(source['variables'])}")
    return name


def ingest(spec: Mapping[str, Any], out: str | os.PathLike, *, base: str | os.PathLike | None = None) -> Path:
    """Read the source files of a system's data spec and write its canonical store atomically."""
    from ...provenance import stamp
    from ..store import write_store

    source = spec["source"]
    observed = observed_variable(source)
    p = plan(source, base)
    try:
        split = assign_splits(p.n, spec["splits"], spec["seed"])
    except ValueError as exc:
        raise IngestError(f"source.files: {len(p.files)} file(s) hold {p.n} trajectories: {exc}") from None
    files = [str(f.path) for f in p.files]
    attrs = {
        "system_type": "ingested",
        "layout": source["layout"],
        **spec["parameters"],
        "source_format": " ".join(sorted({f.fmt for f in p.files})),
        "source_files": files,
        "source_sha256": [sha256(f.path) for f in p.files],
        "seed": int(spec["seed"]),
        **stamp(spec),
    }
    if len(p.time) > 1:
        attrs["dt_sample"] = float(p.time[1] - p.time[0])
    log.info(
        "ingesting %d trajectories x %d samples from %d file(s) (%s) into %s",
        p.n,
        len(p.time),
        len(files),
        attrs["source_format"],
        out,
    )
    return write_store(
        batches(
            source,
            p,
            system=spec["name"],
            split=split,
            attrs=attrs,
            observed=observed,
            batch_size=int(source["batch_size"]),
        ),
        out,
        dims=p.layout,
    )
