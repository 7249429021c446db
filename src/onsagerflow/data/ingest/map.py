"""How one file's variables sit on the canonical schema: which source arrays make each
canonical variable, their axes in canonical names, the file's time axes, coordinates and
per-trajectory values. Reads shapes, coordinates, times and attributes; the data stay in
the file until the batch pass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import dedalus
from .check import IngestError, check_time, shortlist, traj
from .files import file_format
from .open import CsvReader, H5Reader, Reader, open_reader

LAYOUT_DIMS = {"state": ("state",), "field": ("z", "x"), "chain": ("bead", "xyz")}
# axes a layout admits besides its own: a field's vector or tensor components
EXTRA_DIMS = {"state": (), "field": dedalus.component_dims(2), "chain": ()}


@dataclass
class VarMap:
    """How one canonical variable sits in one file: its source arrays (one, or several
    stacked as the layout's last dimension), their axes in canonical names, and what makes
    them canonical (stacking, a component taken, the axis order)."""

    name: str
    parts: list[Any]  # CSV: per-trajectory columns; else the file's names (read per batch)
    src_dims: tuple[str, ...]  # canonical names of the source axes (before stacking)
    out_dims: tuple[str, ...]  # canonical dims after stacking, trajectory and time first
    stacked: str | None  # the canonical dim the parts are stacked along
    attrs: dict
    select: dict[str, int] = field(default_factory=dict)  # one index taken along a dim
    labels: dict[str, list] = field(default_factory=dict)  # names along a dim (state, component)


@dataclass
class FileMap:
    path: Path
    fmt: str
    n: int  # trajectories in the file
    times: list[np.ndarray]  # one time axis per trajectory
    vars: dict[str, VarMap]
    params: dict[str, np.ndarray]  # per-trajectory parameters, one value per trajectory
    labels: np.ndarray | None = None  # a CSV's trajectory ids
    sizes: dict[str, int] = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)  # the file's global attributes
    coords: dict[str, tuple[np.ndarray, dict]] = field(default_factory=dict)  # canonical dim -> values, attrs
    time_attrs: dict = field(default_factory=dict)
    split: np.ndarray | None = None  # a user's split of the file's trajectories (names or codes)
    dedalus: bool = False
    time_eps: float = 0.0  # relative resolution of the stored times (float32: 1.2e-7)


def source_names(spec) -> list[str]:
    name = spec["name"] if isinstance(spec, Mapping) else spec
    return [name] if isinstance(name, str) else list(name)


def var_spec(spec) -> dict:
    if isinstance(spec, Mapping):
        return dict(spec)
    return {"name": spec}


def carried_attrs(vspec: Mapping[str, Any], found: Mapping[str, Any], default_name: str) -> dict:
    """units and long_name from the mapping, else the source's attributes, else '1' and the
    name; the source's standard_name is kept too."""
    out = {
        "units": str(vspec.get("units", found.get("units", "1"))),
        "long_name": str(vspec.get("long_name", found.get("long_name", default_name))),
    }
    if "standard_name" in found:
        out["standard_name"] = str(found["standard_name"])
    return out


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
    from .tabular import map_csv

    fmt = file_format(path, source["format"])
    reader = open_reader(path, fmt, source)
    try:
        if isinstance(reader, CsvReader):  # open_reader gives a CSV file a CsvReader
            return map_csv(reader, source, layout)
        return _map_array_file(reader, fmt, source, layout)
    finally:
        reader.close()


def _component_index(reader: Reader, variable: str, real: str, want, size: int) -> int:
    names = reader.component_labels(real)
    if isinstance(want, str):
        if names is None or want not in names:
            raise IngestError(
                f"{reader.path}: variable '{variable}': component '{want}' is not one of "
                f"{names if names is not None else list(range(size))} (give its index, or a name)"
            )
        return names.index(want)
    if not 0 <= want < size:
        raise IngestError(f"{reader.path}: variable '{variable}': component {want} is out of range 0..{size - 1}")
    return int(want)


def _map_array_file(reader: Reader, fmt: str, source, layout) -> FileMap:
    path = reader.path
    dims_map = {dedalus.TIME_LABEL: "time", **source["dims"]} if reader.dedalus else dict(source["dims"])
    allowed = {"trajectory", "time", *layout, *EXTRA_DIMS[source["layout"]]}
    vars_: dict[str, VarMap] = {}
    sizes: dict[str, int] = {}
    coords: dict[str, tuple[np.ndarray, dict]] = {}
    time_src = None
    for variable, vspec in source["variables"].items():
        vspec = var_spec(vspec)
        names = source_names(vspec)
        parts: list[str] = []
        src_dims: tuple[str, ...] | None = None
        labels: dict[str, list] = {}
        for name in names:
            real, arr, file_dims = reader.get(name, variable)
            if file_dims is not None and time_src is None:
                time_src = next((d for d in file_dims if dims_map.get(d, d) == "time"), None)
            d = _canonical_dims(reader, variable, name, file_dims, vspec.get("dims"), dims_map)
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
            if isinstance(reader, H5Reader) and reader.dedalus and real.startswith(dedalus.TASKS):
                spectral = dedalus.coefficient_axes(reader.f[real])
                if spectral:
                    raise IngestError(
                        f"{path}: variable '{variable}': task '{name}' is written in coefficient space "
                        f"along {spectral}; add it to the file handler with layout='g' (grid space)"
                    )
            for dim, size in zip(d, arr.shape):
                if sizes.setdefault(dim, size) != size:
                    raise IngestError(
                        f"{path}: variable '{variable}': {reader.kind} '{name}' has "
                        f"{size} along '{dim}' where other variables have {sizes[dim]} "
                        "(mismatched shapes)"
                    )
            src_dims = d
            parts.append(real)  # handles do not outlive the file; the batch pass opens it again
            found = reader.coords_of(real)
            for sdim, (values, cattrs) in found.items():
                cdim = dims_map.get(sdim, sdim)
                if cdim in layout or cdim in EXTRA_DIMS[source["layout"]]:
                    coords.setdefault(cdim, (values, cattrs))
                    if cdim == "state" and len(names) == 1:
                        labels["state"] = list(values)
        if src_dims is None:  # the schema asks for at least one source name
            raise IngestError(f"{path}: variable '{variable}': source.variables.{variable} names no {reader.kind}")
        select = {}
        if "component" in vspec:
            comp = [x for x in src_dims if x.startswith(dedalus.COMPONENT)]
            if len(comp) != 1:
                raise IngestError(
                    f"{path}: variable '{variable}': source.variables.{variable}.component takes one "
                    f"component of a vector; '{names[0]}' has {len(comp)} component axes (dims {list(src_dims)})"
                )
            select[comp[0]] = _component_index(reader, variable, parts[0], vspec["component"], sizes[comp[0]])
        comp_labels = reader.component_labels(parts[0])
        if comp_labels is not None:
            for cdim in src_dims:
                if cdim.startswith(dedalus.COMPONENT) and cdim not in select and len(comp_labels) == sizes[cdim]:
                    labels[cdim] = comp_labels
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
            if stacked == "state":
                labels["state"] = list(names)
        have = (set(src_dims) - set(select)) | ({stacked} if stacked else set())
        extra = [x for x in src_dims if x in have and x not in layout and x not in ("trajectory", "time")]
        out = ("trajectory", "time", *extra, *[x for x in layout if x in have])
        found_attrs = reader.var_attrs(parts[0]) if len(names) == 1 else {}
        vars_[variable] = VarMap(
            variable, parts, src_dims, out, stacked, carried_attrs(vspec, found_attrs, variable), select, labels
        )
    without = [v.name for v in vars_.values() if "trajectory" not in v.src_dims]
    if "trajectory" in sizes and without:
        raise IngestError(
            f"{path}: variable '{without[0]}': has no trajectory dimension where other variables have one"
        )
    n = sizes.get("trajectory", 1)
    nt = sizes["time"]
    times, time_attrs, time_eps = _times(reader, source, n, nt, time_src)
    for d, name in source["coords"].items():
        real, arr, _ = reader.get(name, f"coordinate {d}")
        coords[d] = (np.asarray(arr[()]), reader.var_attrs(real))
    params = {
        coord: per_trajectory(reader, coord, pname, n) for coord, pname in source["trajectory_parameters"].items()
    }
    split = None
    given = source.get("split")  # optional: no block means splits by fraction
    if given and "variable" in given:
        split = per_trajectory(reader, "source.split.variable", given["variable"], n, numeric=False)
    return FileMap(
        path,
        fmt,
        n,
        times,
        vars_,
        params,
        sizes=sizes,
        attrs=reader.attrs(),
        coords=coords,
        time_attrs=time_attrs,
        split=split,
        dedalus=reader.dedalus,
        time_eps=time_eps,
    )


def _times(reader: Reader, source, n: int, nt: int, time_dim: str | None) -> tuple[list[np.ndarray], dict, float]:
    tspec = source["time"]
    path = reader.path
    name = tspec.get("name") or (None if "dt" in tspec else reader.time_variable(time_dim))
    attrs: dict = {}
    eps = 0.0
    if name is not None:
        real, arr, _ = reader.get(name, "time")
        attrs = reader.var_attrs(real)
        raw = np.asarray(arr[()])
        eps = float(np.finfo(raw.dtype).eps) if raw.dtype.kind == "f" else 0.0
        t = raw.astype(np.float64)
        if t.ndim == 1:
            ts = [t] * n
        elif t.ndim == 2 and t.shape[0] == n:
            ts = list(t)
        else:
            raise IngestError(
                f"{path}: variable 'time': '{name}' has shape {t.shape}; it must be "
                f"(time,) or (trajectory, time) with {n} trajectories"
            )
    elif "dt" in tspec:
        ts = [tspec["start"] + tspec["dt"] * np.arange(nt)] * n
    else:
        raise IngestError(
            f"{path}: variable 'time': the file names no time for its time axis; set "
            "source.time.name (a variable) or source.time.dt (a uniform step)"
        )
    for k, t in enumerate(ts):
        if len(t) != nt:
            raise IngestError(
                f"{path}: variable 'time': the time axis has {len(t)} samples but the data have {nt}{traj(k, n)}"
            )
        check_time(t, path, k, n)
    return ts, {k: v for k, v in attrs.items() if k in ("units", "long_name", "standard_name", "calendar")}, eps


def per_trajectory(reader: Reader, coord: str, pname: str, n: int, numeric: bool = True) -> np.ndarray:
    """One value per trajectory of the file: a variable (scalar, or one per trajectory) or
    a global attribute. ``numeric=False`` admits names (a split's 'train', 'test')."""
    path = reader.path
    what = coord if coord.startswith("source.") else f"trajectory parameter '{coord}'"
    if reader.has(pname):
        _, arr, _ = reader.get(pname, coord)
        v = np.asarray(arr[()])
        if v.ndim == 0:
            v = np.full(n, v)
        elif v.shape != (n,):
            raise IngestError(
                f"{path}: {what}: '{pname}' has shape {v.shape}; it must be "
                f"a scalar or hold one value per trajectory ({n})"
            )
    elif pname in reader.attrs():
        v = np.full(n, reader.attrs()[pname])
    else:
        raise IngestError(
            f"{path}: {what}: no variable or attribute '{pname}' "
            f"(variables: {shortlist(reader.names())}; attributes: "
            f"{shortlist(list(reader.attrs()))})"
        )
    if v.dtype.kind == "S":
        v = v.astype(str)
    if numeric and v.dtype.kind not in "iufb":
        raise IngestError(f"{path}: {what}: '{pname}' is not numeric ({v.dtype})")
    return v
