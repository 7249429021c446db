"""The first pass over every file: shapes and time axes read and checked together, so the
number of trajectories, the store's one time axis and its layout coordinates are known
before any data move."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .check import IngestError
from .files import resolve_files
from .map import FileMap, VarMap, map_file
from .open import open_reader

log = logging.getLogger("onsagerflow.ingest")

LAYOUT_DIMS = {"state": ("state",), "field": ("z", "x"), "chain": ("bead", "xyz")}


@dataclass
class Plan:
    files: list[FileMap]
    time: np.ndarray
    n: int
    layout: tuple[str, ...]
    coords: dict[str, np.ndarray]


def plan(source: Mapping[str, Any], base: str | os.PathLike | None = None) -> Plan:
    """First pass: open every file, read shapes and time axes, check they fit together."""
    layout = LAYOUT_DIMS[source["layout"]]
    files = [map_file(p, source, layout) for p in resolve_files(source, base)]
    ragged = source["ragged"]
    # one time axis for the store: every trajectory's must agree (up to a tolerance of the step)
    entries = [(f, k, t) for f in files for k, t in enumerate(f.times)]
    if source["time"]["start_at_zero"]:
        entries = [(f, k, t - t[0]) for f, k, t in entries]
        for f in files:
            f.times = [t - t[0] for t in f.times]
    lengths = np.array([len(t) for _, _, t in entries])
    f0, k0, t0 = entries[0]
    m = int(lengths.min())
    if lengths.max() != m:
        short = next(e for e in entries if len(e[2]) == m)
        long_ = next(e for e in entries if len(e[2]) != m)
        if ragged != "truncate":
            raise IngestError(
                f"ragged time axes: {short[0].path}{where(short[0], short[1])} has {m} samples but "
                f"{long_[0].path}{where(long_[0], long_[1])} has {len(long_[2])}; the store has one time "
                "axis: set source.ragged: truncate to keep the first "
                f"{m} samples of every trajectory, or fix the files"
            )
        log.warning(
            "ragged time axes: keeping the first %d samples of every trajectory (longest: %d)", m, int(lengths.max())
        )
    ref = t0[:m]
    step = float(np.min(np.diff(ref))) if m > 1 else 1.0
    tol = float(source["time"]["tolerance"]) * step
    for f, k, t in entries:
        bad = np.flatnonzero(np.abs(t[:m] - ref) > tol)
        if bad.size:
            i = int(bad[0])
            raise IngestError(
                f"{f.path}: variable 'time': the time axis{where(f, k)} differs from that of "
                f"{f0.path}{where(f0, k0)} at index {i} ({t[i]} vs {ref[i]}); the store has "
                "one time axis (source.time.start_at_zero: true aligns the starts)"
            )
    # the layout's sizes must agree across files
    for f in files:
        for v in f.vars.values():
            for d in v.out_dims[2:]:
                size = size_along(f, v, d)
                first = size_along(files[0], files[0].vars[v.name], d) if d in files[0].vars[v.name].out_dims else size
                if size != first:
                    raise IngestError(
                        f"{f.path}: variable '{v.name}': {size} along '{d}' where "
                        f"{files[0].path} has {first} (mismatched shapes)"
                    )
    for f in files:
        for v in f.vars.values():
            if v.out_dims[2:] != files[0].vars[v.name].out_dims[2:]:
                raise IngestError(
                    f"{f.path}: variable '{v.name}': dims {list(v.out_dims)} where "
                    f"{files[0].path} has {list(files[0].vars[v.name].out_dims)}"
                )
    if not any(v.out_dims[2:] == layout for v in files[0].vars.values()):
        raise IngestError(
            f"{files[0].path}: no variable has all of the '{source['layout']}' layout's "
            f"dimensions {list(layout)} (dims: "
            f"{ {k: list(v.out_dims) for k, v in files[0].vars.items()} })"
        )
    coords = _layout_coords(files[0], source, layout)
    n = sum(f.n for f in files)
    return Plan(files, ref, n, layout, coords)


def where(f: FileMap, k: int) -> str:
    if f.labels is not None:
        return f" (trajectory '{f.labels[k]}')"
    return f" (trajectory {k} of the file)" if f.n > 1 else ""


def size_along(f: FileMap, v: VarMap, d: str) -> int:
    if d == v.stacked:
        return len(v.parts)
    return f.sizes[d]


def _layout_coords(f: FileMap, source, layout) -> dict[str, np.ndarray]:
    """Coordinates of the layout's dimensions: source.coords names a 1-D source variable per
    canonical dimension; else index numbers."""
    out = {}
    wanted = dict(source["coords"])
    first = next(v for v in f.vars.values() if v.out_dims[2:] == layout)
    reader = None
    try:
        for d in layout:
            size = size_along(f, first, d)
            if d in wanted:
                if reader is None:
                    reader = open_reader(f.path, f.fmt, source)
                arr, _ = reader.get(wanted[d], f"coordinate {d}")
                c = np.asarray(arr[()])
                if c.shape != (size,):
                    raise IngestError(
                        f"{f.path}: coordinate '{d}': '{wanted[d]}' has shape {c.shape}, "
                        f"the data have {size} along '{d}'"
                    )
                out[d] = c
            else:
                out[d] = np.arange(size)
    finally:
        if reader is not None:
            reader.close()
    return out
