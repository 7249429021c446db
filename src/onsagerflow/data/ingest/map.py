"""How one file's variables sit on the canonical schema: which source arrays make each
canonical variable, their axes in canonical names, the file's time axes and per-trajectory
parameters. Reads shapes, time axes and parameters only; the data stay in the file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .check import IngestError, check_time, shortlist, traj
from .files import file_format
from .open import CsvReader, Reader, open_reader


@dataclass
class VarMap:
    """How one canonical variable sits in one file: its source arrays (one, or several
    stacked as the layout's last dimension) and the axis order that makes it canonical."""

    name: str
    parts: list[Any]  # CSV: per-trajectory columns; else source names (read per batch)
    src_dims: tuple[str, ...]  # canonical names of the source axes (before stacking)
    out_dims: tuple[str, ...]  # canonical dims after stacking, trajectory and time first
    stacked: str | None  # the canonical dim the parts are stacked along
    attrs: dict


@dataclass
class FileMap:
    path: Path
    fmt: str
    n: int  # trajectories in the file
    times: list[np.ndarray]  # one time axis per trajectory
    vars: dict[str, VarMap]
    params: dict[str, np.ndarray]  # per-trajectory parameters, one value per trajectory
    labels: np.ndarray | None = None
    sizes: dict[str, int] = field(default_factory=dict)


def source_names(spec) -> list[str]:
    name = spec["name"] if isinstance(spec, Mapping) else spec
    return [name] if isinstance(name, str) else list(name)


def var_spec(spec) -> dict:
    return dict(spec) if isinstance(spec, Mapping) else {"name": spec}


def _canonical_dims(reader: Reader, variable: str, name: str, labels, declared, dims_map) -> tuple:
    if declared is not None:
        src = tuple(declared)
    elif labels is not None:
        src = labels
    else:
        raise IngestError(
            f"{reader.path}: variable '{variable}': {reader.kind} '{name}' has no dimension "
            "names; declare them with source.variables."
            f"{variable}.dims (e.g. [trajectory, time, state])"
        )
    return tuple(dims_map.get(d, d) for d in src)


def map_file(path: Path, source: Mapping[str, Any], layout: tuple[str, ...]) -> FileMap:
    fmt = file_format(path, source["format"])
    reader = open_reader(path, fmt, source)
    try:
        if fmt == "csv":
            return _plan_csv(reader, source, layout)
        return _plan_array_file(reader, fmt, source, layout)
    finally:
        reader.close()


def _plan_array_file(reader: Reader, fmt: str, source, layout) -> FileMap:
    path = reader.path
    dims_map = dict(source["dims"])
    allowed = {"trajectory", "time", *layout}
    vars_: dict[str, VarMap] = {}
    sizes: dict[str, int] = {}
    for variable, vspec in source["variables"].items():
        vspec = var_spec(vspec)
        names = source_names(vspec)
        parts, src_dims = [], None
        for name in names:
            arr, labels = reader.get(name, variable)
            d = _canonical_dims(reader, variable, name, labels, vspec.get("dims"), dims_map)
            if len(d) != len(arr.shape):
                raise IngestError(
                    f"{path}: variable '{variable}': {reader.kind} '{name}' has shape "
                    f"{tuple(arr.shape)} but {len(d)} dimension names {list(d)}"
                )
            bad = [x for x in d if x not in allowed]
            if bad or len(set(d)) != len(d):
                raise IngestError(
                    f"{path}: variable '{variable}': {reader.kind} '{name}' has dims {list(d)}; a "
                    f"'{source['layout']}' layout allows {sorted(allowed)} (map source dimension names "
                    "with source.dims)"
                )
            if "time" not in d:
                raise IngestError(
                    f"{path}: variable '{variable}': {reader.kind} '{name}' has no time dimension (dims {list(d)})"
                )
            if src_dims is not None and d != src_dims:
                raise IngestError(
                    f"{path}: variable '{variable}': '{name}' has dims {list(d)}, unlike '{names[0]}' {list(src_dims)}"
                )
            for dim, size in zip(d, arr.shape):
                if sizes.setdefault(dim, size) != size:
                    raise IngestError(
                        f"{path}: variable '{variable}': {reader.kind} '{name}' has "
                        f"{size} along '{dim}' where other variables have {sizes[dim]} "
                        "(mismatched shapes)"
                    )
            src_dims = d
            parts.append(name)  # handles do not outlive the file; the batch pass opens it again
        stacked = None
        if len(names) > 1:
            missing = [x for x in layout if x not in src_dims]
            if not missing:
                raise IngestError(
                    f"{path}: variable '{variable}': the {len(names)} names {names} are "
                    f"stacked along the layout's last dimension, but each already has "
                    f"dims {list(src_dims)}"
                )
            stacked = missing[-1]
        have = set(src_dims) | ({stacked} if stacked else set())
        out = ("trajectory", "time", *[x for x in layout if x in have])
        attrs = reader.var_attrs(names[0]) if len(names) == 1 else {}
        vars_[variable] = VarMap(
            variable,
            parts,
            src_dims,
            out,
            stacked,
            {
                "units": str(vspec.get("units", attrs.get("units", "1"))),
                "long_name": str(vspec.get("long_name", attrs.get("long_name", variable))),
            },
        )
    without = [v.name for v in vars_.values() if "trajectory" not in v.src_dims]
    if "trajectory" in sizes and without:
        raise IngestError(
            f"{path}: variable '{without[0]}': has no trajectory dimension where other variables have one"
        )
    n = sizes.get("trajectory", 1)
    nt = sizes["time"]
    times = _times(reader, source, n, nt)
    params = {}
    for coord, pname in source["trajectory_parameters"].items():
        params[coord] = _parameter(reader, coord, pname, n)
    return FileMap(path, fmt, n, times, vars_, params, sizes=sizes)


def _times(reader: Reader, source, n: int, nt: int) -> list[np.ndarray]:
    tspec = source["time"]
    path = reader.path
    if "name" in tspec:
        arr, _ = reader.get(tspec["name"], "time")
        t = np.asarray(arr[()], dtype=np.float64)
        if t.ndim == 1:
            ts = [t] * n
        elif t.ndim == 2 and t.shape[0] == n:
            ts = list(t)
        else:
            raise IngestError(
                f"{path}: variable 'time': '{tspec['name']}' has shape {t.shape}; it must be "
                f"(time,) or (trajectory, time) with {n} trajectories"
            )
    else:
        ts = [tspec["start"] + tspec["dt"] * np.arange(nt)] * n
    for k, t in enumerate(ts):
        if len(t) != nt:
            raise IngestError(
                f"{path}: variable 'time': the time axis has {len(t)} samples but the data have {nt}{traj(k, n)}"
            )
        check_time(t, path, k, n)
    return ts


def _parameter(reader: Reader, coord: str, pname: str, n: int) -> np.ndarray:
    path = reader.path
    if reader.has(pname):
        arr, _ = reader.array(pname)
        v = np.asarray(arr[()])
        if v.ndim == 0:
            v = np.full(n, v)
        elif v.shape != (n,):
            raise IngestError(
                f"{path}: trajectory parameter '{coord}': '{pname}' has shape {v.shape}; it "
                f"must be a scalar or hold one value per trajectory ({n})"
            )
    elif pname in reader.attrs():
        v = np.full(n, reader.attrs()[pname])
    else:
        raise IngestError(
            f"{path}: trajectory parameter '{coord}': no variable or attribute '{pname}' "
            f"(variables: {shortlist(reader.names())}; attributes: "
            f"{shortlist(list(reader.attrs()))})"
        )
    if v.dtype.kind not in "iufb":
        raise IngestError(f"{path}: trajectory parameter '{coord}': '{pname}' is not numeric ({v.dtype})")
    return v


def _plan_csv(reader: CsvReader, source, layout) -> FileMap:
    path = reader.path
    csv = source["csv"]
    n = len(reader.rows)
    vars_ = {}
    for variable, vspec in source["variables"].items():
        vspec = var_spec(vspec)
        names = source_names(vspec)
        cols = [reader.column(c, variable) for c in names]
        stacked = layout[-1] if len(layout) == 1 else None
        if len(layout) != 1:
            raise IngestError(
                f"{path}: variable '{variable}': CSV holds state data (layout 'state'), "
                f"not a '{source['layout']}' layout"
            )
        vars_[variable] = VarMap(
            variable,
            cols,
            ("trajectory", "time"),
            ("trajectory", "time", "state"),
            stacked,
            {"units": str(vspec.get("units", "1")), "long_name": str(vspec.get("long_name", variable))},
        )
    tcol = csv.get("time_column") or source["time"].get("name")
    lengths = [len(r) for r in reader.rows]
    if tcol is not None:
        tv = reader.column(tcol, "time")
        times = [np.asarray(t, np.float64) for t in tv]
        for k, t in enumerate(times):
            if t.size > 1 and not np.all(np.diff(t) > 0):
                order = np.argsort(t, kind="stable")
                if np.any(np.diff(t[order]) == 0) or not csv["sort"]:
                    i = int(np.argmin(np.diff(t) > 0))
                    raise IngestError(
                        f"{path}: variable 'time': trajectory {_label(reader, k)} is not "
                        f"strictly increasing in '{tcol}' (at its row {i}: {t[i]} then "
                        f"{t[i + 1]}); set source.csv.sort: true to sort rows by time"
                    )
                reader.rows[k] = reader.rows[k][order]
                times[k] = t[order]
        # re-read columns in the (possibly) sorted row order
        for v in vars_.values():
            v.parts = [reader.column(c, v.name) for c in source_names(var_spec(source["variables"][v.name]))]
        for k, t in enumerate(times):
            check_time(t, path, k, 1)
    else:
        tspec = source["time"]
        times = [tspec["start"] + tspec["dt"] * np.arange(m) for m in lengths]
    params = {}
    for coord, pname in source["trajectory_parameters"].items():
        col = reader.column(pname, f"trajectory parameter '{coord}'")
        vals = []
        for k, c in enumerate(col):
            if not np.all(c == c[0]):
                raise IngestError(
                    f"{path}: trajectory parameter '{coord}': column '{pname}' changes within "
                    f"trajectory {_label(reader, k)}"
                )
            vals.append(c[0])
        params[coord] = np.asarray(vals)
    return FileMap(
        path,
        "csv",
        n,
        times,
        vars_,
        params,
        labels=np.asarray(reader.labels),
        sizes={"time": max(lengths), "state": None},
    )


def _label(reader: CsvReader, k: int) -> str:
    return f"'{reader.labels[k]}'"
