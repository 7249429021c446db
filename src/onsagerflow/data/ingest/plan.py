"""The first pass over every file: shapes, coordinates and time axes read and checked
together, files grouped into runs, so the number of trajectories, the store's one time
axis, its coordinates and the grid's quadrature weights are known before any data move."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .check import IngestError
from .files import resolve_files
from .map import EXTRA_DIMS, LAYOUT_DIMS, FileMap, VarMap, map_file
from .quadrature import grid_weights
from .runs import Group, Run, group_runs
from .timeaxis import TimeAxis, store_time

WEIGHTED_LAYOUTS = ("field",)  # layouts whose dims are a spatial grid with a quadrature


@dataclass
class Plan:
    files: list[FileMap]
    runs: list[Run]
    groups: list[Group]
    axis: TimeAxis
    layout: tuple[str, ...]
    coords: dict[str, tuple[np.ndarray, dict]]  # canonical dim -> values, attributes
    weights: dict[str, tuple[np.ndarray, str]]  # grid dim -> quadrature weights, rule

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def time(self) -> np.ndarray:
        return self.axis.time


def weight_name(dim: str) -> str:
    """The coordinate holding a grid dimension's quadrature weights."""
    return f"{dim}_weight"


def where(f: FileMap, k: int) -> str:
    if f.labels is not None:
        return f" (trajectory '{f.labels[k]}')"
    return f" (trajectory {k} of the file)" if f.n > 1 else ""


def size_along(f: FileMap, v: VarMap, d: str) -> int:
    if d == v.stacked:
        return len(v.parts)
    return f.sizes[d]


def plan(source: Mapping[str, Any], base: str | os.PathLike | None = None) -> Plan:
    """First pass: open every file, read shapes, coordinates and time axes, check they fit together."""
    layout = LAYOUT_DIMS[source["layout"]]
    files = [map_file(p, source, layout) for p in resolve_files(source, base)]
    first = files[0]
    for f in files:
        for v in f.vars.values():
            ref = first.vars[v.name]
            if v.out_dims[2:] != ref.out_dims[2:]:
                raise IngestError(
                    f"{f.path}: variable '{v.name}': dims {list(v.out_dims)} where {first.path} has {list(ref.out_dims)}"
                )
            for d in v.out_dims[2:]:
                size, want = size_along(f, v, d), size_along(first, ref, d)
                if size != want:
                    raise IngestError(
                        f"{f.path}: variable '{v.name}': {size} along '{d}' where "
                        f"{first.path} has {want} (mismatched shapes)"
                    )
    if not any(v.out_dims[-len(layout) :] == layout for v in first.vars.values()):
        raise IngestError(
            f"{first.path}: no variable has all of the '{source['layout']}' layout's "
            f"dimensions {list(layout)} (dims: "
            f"{ {k: list(v.out_dims) for k, v in first.vars.items()} })"
        )
    runs, groups = group_runs(files, source["runs"])
    axis = store_time(runs, files, source)
    coords = _coords(files, source, layout)
    weights = {}
    if source["quadrature"] == "auto" and source["layout"] in WEIGHTED_LAYOUTS:
        for d in layout:
            if d in first.coords or d in source["coords"]:
                try:
                    weights[d] = grid_weights(np.asarray(coords[d][0], dtype=np.float64))
                except ValueError as exc:
                    raise IngestError(f"{first.path}: coordinate '{d}': {exc}") from None
    return Plan(files, runs, groups, axis, layout, coords, weights)


def _coords(files: list[FileMap], source, layout) -> dict[str, tuple[np.ndarray, dict]]:
    """Coordinates of the layout's dimensions (and of vector components): a source
    variable named in source.coords, else those the file gives the axis (netCDF coordinate
    variables, Dedalus grids), else names (CSV columns, stacked variables), else 0, 1, ..."""
    first = files[0]
    observed = source.get("observed")  # optional: the state's names come from that variable first
    order = sorted(first.vars.values(), key=lambda v: v.name != observed)
    dims = [*layout, *[d for d in EXTRA_DIMS[source["layout"]] if any(d in v.out_dims for v in order)]]
    out = {}
    for d in dims:
        v = next(v for v in order if d in v.out_dims)
        size = size_along(first, v, d)
        labels = next((w.labels[d] for w in order if d in w.labels), None)
        if d in first.coords:
            values, attrs = first.coords[d]
            values = np.asarray(values)
        elif labels is not None:
            values, attrs = np.asarray(labels), {}
        else:
            values, attrs = np.arange(size), {}
        if values.shape != (size,):
            raise IngestError(
                f"{first.path}: coordinate '{d}': has shape {values.shape}, the data have {size} along '{d}'"
            )
        for f in files[1:]:
            if d in f.coords and not np.array_equal(np.asarray(f.coords[d][0]), values):
                raise IngestError(f"{f.path}: coordinate '{d}': differs from that of {first.path}")
        if values.dtype.kind in "SUO":
            values = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)
        out[d] = (values, {k: str(x) for k, x in attrs.items() if k in ("units", "long_name", "standard_name")})
    return out
