"""``ingest``: a system's data spec (its ``source`` block) into a canonical store."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .check import IngestError
from .files import sha256
from .plan import Plan, plan
from .read import batches
from .splits import run_splits

log = logging.getLogger("onsagerflow.ingest")

# YAML 1.1 (PyYAML, Snakemake's config loader) reads 5.0e4 and 1e-3 as strings: a float
# needs a dot and a signed exponent there. Parameters that look like numbers are numbers.
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def observed_variable(source: Mapping[str, Any]) -> str | None:
    """The variable models learn: ``source.observed``, or the only variable. A field layout
    may leave it open (its reduction names the fields it learns from)."""
    name = source.get("observed")  # optional: no default
    if name is None:
        if len(source["variables"]) == 1:
            return next(iter(source["variables"]))
        if source["layout"] == "field":
            return None
        raise IngestError(f"source.observed: name the variable models learn, one of {sorted(source['variables'])}")
    if name not in source["variables"]:
        raise IngestError(f"source.observed: '{name}' is not among source.variables {sorted(source['variables'])}")
    return name


def parameters(values: Mapping[str, Any]) -> dict:
    """A system's parameters as store attributes, numbers where they read as numbers."""
    return {k: float(v) if isinstance(v, str) and NUMBER.fullmatch(v.strip()) else v for k, v in values.items()}


def describe_time(p: Plan) -> str:
    g = p.axis.grid
    units = p.axis.attrs["units"]
    shape = f"uniform step {g.step:g}" if g.uniform else f"{len(g.starts)} bursts of {g.burst} samples {g.step:g} apart"
    rs = p.axis.resample
    how = f", interpolated (order-{rs['order']} splines) from the runs' own uneven steps" if rs is not None else ""
    return f"{len(p.time)} samples, {shape} (time units '{units}'){how}"


def _file_groups(p: Plan) -> list[int]:
    """For each source file, the index of the group (run, or runs) it belongs to."""
    out = [0] * len(p.files)
    for g, group in enumerate(p.groups):
        for i in group.files:
            out[i] = g
    return out


def ingest(spec: Mapping[str, Any], out: str | os.PathLike, *, base: str | os.PathLike | None = None) -> Path:
    """Read the source files of a system's data spec and write its canonical store atomically."""
    from ...provenance import stamp
    from ..store import write_store

    source = spec["source"]
    observed = observed_variable(source)
    p = plan(source, base)
    split = run_splits(spec, p)
    files = [str(f.path) for f in p.files]
    params = parameters(spec["parameters"])
    attrs = {
        "system_type": "ingested",
        "layout": source["layout"],
        **params,
        "parameter_names": sorted(params),
        "source_format": " ".join(sorted({f.fmt for f in p.files})),
        "source_files": files,
        "source_sha256": [sha256(f.path) for f in p.files],
        "source_groups": [g.label for g in p.groups],
        "source_file_group": _file_groups(p),
        "runs_by": source["runs"]["by"],
        "seed": int(spec["seed"]),
        "dt_sample": float(p.axis.resample["dt"] if p.axis.resample is not None else p.axis.grid.step),
        **stamp(spec),
    }
    if observed is not None:
        attrs["observed"] = observed
    if not p.axis.grid.uniform:
        attrs["burst_size"] = int(p.axis.grid.burst)
    if p.axis.resample is not None:
        attrs["time_resampled"] = describe_time(p)
    if any(f.dedalus for f in p.files):
        attrs["source_solver"] = "dedalus"
    pieces = sum(len(r.pieces) for r in p.runs)
    log.info(
        "ingesting %d runs (%d pieces in %d file(s), %s; runs.by %s) into %s",
        p.n,
        pieces,
        len(files),
        attrs["source_format"],
        source["runs"]["by"],
        out,
    )
    log.info("time axis: %s", describe_time(p))
    for d, (_, rule) in p.weights.items():
        log.info("grid %s: %d points, quadrature %s", d, len(p.coords[d][0]), rule)
    report: dict[str, list[float]] = {}
    written = write_store(
        batches(source, p, system=spec["name"], split=split, attrs=attrs, report=report), out, dims=p.layout
    )
    for name, errs in report.items():
        e = np.asarray(errs)
        known = e[np.isfinite(e)]
        if known.size:
            log.info(
                "interpolation error of '%s' (relative to each run's RMS): largest %.2e, median %.2e over %d runs",
                name,
                known.max(),
                np.median(known),
                known.size,
            )
        if known.size < e.size:
            log.warning(
                "'%s': %d run(s) have too few samples to estimate the interpolation error", name, e.size - known.size
            )
    return written
