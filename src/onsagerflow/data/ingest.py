"""Bring your own data: trajectories from netCDF, HDF5 (Dedalus), zarr, .npz or CSV files,
mapped onto the canonical schema by a ``source`` block and written as a canonical store.

The mapping (config/README.md, "Your own data"):

- ``files``: paths or globs; each file holds one trajectory, or several along the
  source dimension that ``dims`` maps to ``trajectory``.
- ``variables``: canonical name -> source name (a variable, an HDF5 dataset path such
  as ``tasks/b``, an npz key, or CSV columns); a list of names is stacked as the
  layout's last dimension (e.g. three columns x, y, z -> ``state``).
- ``dims``: source dimension name -> canonical name; arrays without dimension names
  (npz, HDF5 without dimension labels) declare theirs per variable.
- ``time``: a source variable, or ``dt`` and ``start``.

Two passes: the first reads only shapes and time axes (and checks them), so the
number of trajectories and the splits are known before any data moves; the second
streams batches of trajectories into the atomic store writer. Every error names the
file, the variable and (where there is one) the trajectory; a failed ingest leaves
what was there before untouched.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .schema import SchemaError, build_dataset, time_axis_problem
from .split import assign_splits

log = logging.getLogger("onsagerflow.ingest")

LAYOUT_DIMS = {"state": ("state",), "field": ("z", "x"), "chain": ("bead", "xyz")}
CANONICAL_DIMS = {"trajectory", "time", "state", "z", "x", "bead", "xyz"}
FORMATS = ("netcdf", "hdf5", "zarr", "npz", "csv")
EXTENSIONS = {
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".cdf": "netcdf",
    ".netcdf": "netcdf",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".zarr": "zarr",
    ".npz": "npz",
    ".csv": "csv",
    ".tsv": "csv",
}


class IngestError(SchemaError):
    """A source file that cannot become a canonical store; the message names the file,
    the variable and the trajectory where there is one."""


# --------------------------------------------------------------------------- files


def resolve_files(source: Mapping[str, Any], base: str | os.PathLike | None = None) -> list[Path]:
    """The source's files in a stable order: each entry (path or glob) sorted, entries in
    the order given, duplicates dropped. A pattern that matches nothing is an error."""
    entries = source["files"]
    entries = [entries] if isinstance(entries, str) else list(entries)
    out: list[Path] = []
    for entry in entries:
        pattern = str(Path(base) / entry) if base is not None and not os.path.isabs(entry) else entry
        hits = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        hits = [h for h in hits if os.path.exists(h)]
        if not hits:
            raise FileNotFoundError(f"source.files: '{entry}' matches no file")
        for h in hits:
            p = Path(h)
            if p not in out:
                out.append(p)
    return out


def file_format(path: Path, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise IngestError(
            f"{path}: cannot infer the format from the extension '{path.suffix}'; "
            f"set source.format to one of {list(FORMATS)}"
        )
    return fmt


def sha256(path: Path) -> str:
    """Hash of a file, or of every file of a folder (a zarr store) in sorted order."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- readers


class _Reader:
    """One opened file: named arrays with (source) dimension names, and attributes."""

    path: Path
    kind = ""

    def names(self) -> list[str]:
        raise NotImplementedError

    def array(self, name: str):
        """(lazily sliceable array, its dimension names or None)."""
        raise NotImplementedError

    def attrs(self) -> dict:
        return {}

    def var_attrs(self, name: str) -> dict:
        return {}

    def close(self) -> None:
        pass

    def has(self, name: str) -> bool:
        return name in self.names()

    def get(self, name: str, variable: str):
        if not self.has(name):
            raise IngestError(
                f"{self.path}: variable '{variable}': no {self.kind} '{name}' in the file "
                f"(it has {_shortlist(self.names())})"
            )
        return self.array(name)


def _shortlist(names: Sequence[str], k: int = 20) -> str:
    names = sorted(names)
    return ", ".join(names[:k]) + (f", ... ({len(names)} in all)" if len(names) > k else "") or "nothing"


class _XarrayReader(_Reader):
    kind = "variable"

    def __init__(self, path: Path, fmt: str):
        self.path = path
        try:
            if fmt == "zarr":
                with warnings.catch_warnings():  # a store without consolidated metadata is fine
                    warnings.simplefilter("ignore", RuntimeWarning)
                    self.ds = xr.open_zarr(path, consolidated=None, decode_times=False)
            else:
                with open(path, "rb") as fh:
                    magic = fh.read(4)
                engine = "scipy" if magic[:3] == b"CDF" else "h5netcdf"  # netCDF3 | netCDF4 (HDF5)
                if engine == "scipy" and importlib.util.find_spec("scipy") is None:
                    raise IngestError(
                        f"{path}: a netCDF3 (classic) file needs scipy to read: "
                        "pip install scipy, or convert it to netCDF4"
                    )
                self.ds = xr.open_dataset(path, engine=engine, decode_times=False, cache=False)
        except IngestError:
            raise
        except Exception as exc:
            raise IngestError(f"{path}: cannot open as {fmt}: {type(exc).__name__}: {exc}") from exc

    def names(self):
        return [str(n) for n in self.ds.variables]

    def array(self, name):
        v = self.ds[name].variable
        return v, tuple(map(str, v.dims))

    def attrs(self):
        return dict(self.ds.attrs)

    def var_attrs(self, name):
        return dict(self.ds[name].attrs)

    def close(self):
        self.ds.close()


class _H5Reader(_Reader):
    kind = "dataset"

    def __init__(self, path: Path):
        import h5py

        self.path = path
        try:
            self.f = h5py.File(path, "r")
        except Exception as exc:
            raise IngestError(f"{path}: cannot open as HDF5: {type(exc).__name__}: {exc}") from exc
        self._names: list[str] = []
        self.f.visititems(lambda n, o: self._names.append(n) if isinstance(o, h5py.Dataset) else None)

    def names(self):
        return self._names

    def array(self, name):
        d = self.f[name]
        labels = tuple(str(dim.label) for dim in d.dims) if d.ndim else ()
        return d, (labels if labels and all(labels) else None)

    def attrs(self):
        return {k: _plain(v) for k, v in self.f.attrs.items()}

    def var_attrs(self, name):
        return {k: _plain(v) for k, v in self.f[name].attrs.items()}

    def close(self):
        self.f.close()


class _NpzReader(_Reader):
    kind = "array"

    def __init__(self, path: Path):
        self.path = path
        try:
            self.z = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise IngestError(f"{path}: cannot open as .npz: {type(exc).__name__}: {exc}") from exc

    def names(self):
        return list(self.z.files)

    def array(self, name):
        return self.z[name], None

    def close(self):
        self.z.close()


class _CsvReader(_Reader):
    """Long format: one row per (trajectory, time), one column per component."""

    kind = "column"

    def __init__(self, path: Path, csv: Mapping[str, Any]):
        import pandas as pd

        self.path = path
        self.csv = csv
        try:
            sep = "\t" if path.suffix.lower() == ".tsv" else csv.get("separator", ",")
            self.df = pd.read_csv(path, sep=sep, comment=csv.get("comment"))
        except Exception as exc:
            raise IngestError(f"{path}: cannot read as CSV: {type(exc).__name__}: {exc}") from exc
        tcol, kcol = csv.get("time_column"), csv.get("trajectory_column")
        for col, key in ((tcol, "time_column"), (kcol, "trajectory_column")):
            if col is not None and col not in self.df.columns:
                raise IngestError(
                    f"{path}: source.csv.{key} '{col}' is not a column "
                    f"(it has {_shortlist(list(map(str, self.df.columns)))})"
                )
        if kcol is None:
            self.ids = np.zeros(len(self.df), np.int64)
            self.labels = np.array([0])
        else:
            codes, self.labels = pd.factorize(self.df[kcol], sort=False)
            self.ids = codes
        order = np.argsort(self.ids, kind="stable")  # rows of each trajectory together, in file order
        self.rows = np.split(order, np.flatnonzero(np.diff(self.ids[order])) + 1)

    def names(self):
        return [str(c) for c in self.df.columns]

    def column(self, name: str, variable: str) -> list[np.ndarray]:
        """One array per trajectory."""
        if name not in self.df.columns:
            raise IngestError(
                f"{self.path}: variable '{variable}': no column '{name}' in the file "
                f"(it has {_shortlist(self.names())})"
            )
        values = self.df[name].to_numpy()
        if values.dtype.kind not in "iuf":
            raise IngestError(f"{self.path}: variable '{variable}': column '{name}' is not numeric ({values.dtype})")
        return [values[r] for r in self.rows]


def _plain(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.size == 1:
        return v.reshape(()).item()
    return v.item() if isinstance(v, np.generic) else v


def open_reader(path: Path, fmt: str, source: Mapping[str, Any]) -> _Reader:
    if not path.exists():
        raise FileNotFoundError(f"source file not found: {path}")
    if fmt in ("netcdf", "zarr"):
        return _XarrayReader(path, fmt)
    if fmt == "hdf5":
        return _H5Reader(path)
    if fmt == "npz":
        return _NpzReader(path)
    if fmt == "csv":
        return _CsvReader(path, source.get("csv", {}))
    raise IngestError(f"{path}: unknown format '{fmt}' (known: {list(FORMATS)})")


# --------------------------------------------------------------------------- planning


@dataclass
class _Var:
    """How one canonical variable sits in one file: its source arrays (one, or several
    stacked as the layout's last dimension) and the axis order that makes it canonical."""

    name: str
    parts: list[Any]  # CSV: per-trajectory columns; else source names (read per batch)
    src_dims: tuple[str, ...]  # canonical names of the source axes (before stacking)
    out_dims: tuple[str, ...]  # canonical dims after stacking, trajectory and time first
    stacked: str | None  # the canonical dim the parts are stacked along
    attrs: dict


@dataclass
class _File:
    path: Path
    fmt: str
    n: int  # trajectories in the file
    times: list[np.ndarray]  # one time axis per trajectory
    vars: dict[str, _Var]
    params: dict[str, np.ndarray]  # per-trajectory parameters, one value per trajectory
    labels: np.ndarray | None = None
    sizes: dict[str, int] = field(default_factory=dict)


def _names(spec) -> list[str]:
    name = spec["name"] if isinstance(spec, Mapping) else spec
    return [name] if isinstance(name, str) else list(name)


def _var_spec(spec) -> dict:
    return dict(spec) if isinstance(spec, Mapping) else {"name": spec}


def _canonical_dims(reader: _Reader, variable: str, name: str, labels, declared, dims_map) -> tuple:
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


def _plan_file(path: Path, source: Mapping[str, Any], layout: tuple[str, ...]) -> _File:
    fmt = file_format(path, source.get("format", "auto"))
    reader = open_reader(path, fmt, source)
    try:
        if fmt == "csv":
            return _plan_csv(reader, source, layout)
        return _plan_array_file(reader, fmt, source, layout)
    finally:
        reader.close()


def _plan_array_file(reader: _Reader, fmt: str, source, layout) -> _File:
    path = reader.path
    dims_map = dict(source.get("dims", {}))
    allowed = {"trajectory", "time", *layout}
    vars_: dict[str, _Var] = {}
    sizes: dict[str, int] = {}
    for variable, vspec in source["variables"].items():
        vspec = _var_spec(vspec)
        names = _names(vspec)
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
        vars_[variable] = _Var(
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
    for coord, pname in source.get("trajectory_parameters", {}).items():
        params[coord] = _parameter(reader, coord, pname, n)
    return _File(path, fmt, n, times, vars_, params, sizes=sizes)


def _times(reader: _Reader, source, n: int, nt: int) -> list[np.ndarray]:
    tspec = source.get("time", {})
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
        ts = [tspec.get("start", 0.0) + tspec["dt"] * np.arange(nt)] * n
    for k, t in enumerate(ts):
        if len(t) != nt:
            raise IngestError(
                f"{path}: variable 'time': the time axis has {len(t)} samples but the data have {nt}{_traj(k, n)}"
            )
        _check_time(t, path, k, n)
    return ts


def _traj(k: int, n: int) -> str:
    return f" (trajectory {k} of the file)" if n > 1 else ""


def _check_time(t: np.ndarray, path, k: int, n: int) -> None:
    problem = time_axis_problem(t)
    if problem:
        raise IngestError(f"{path}: variable 'time': the time axis{_traj(k, n)} {problem}")


def _parameter(reader: _Reader, coord: str, pname: str, n: int) -> np.ndarray:
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
            f"(variables: {_shortlist(reader.names())}; attributes: "
            f"{_shortlist(list(reader.attrs()))})"
        )
    if v.dtype.kind not in "iufb":
        raise IngestError(f"{path}: trajectory parameter '{coord}': '{pname}' is not numeric ({v.dtype})")
    return v


def _plan_csv(reader: _CsvReader, source, layout) -> _File:
    path = reader.path
    csv = source.get("csv", {})
    n = len(reader.rows)
    vars_ = {}
    for variable, vspec in source["variables"].items():
        vspec = _var_spec(vspec)
        names = _names(vspec)
        cols = [reader.column(c, variable) for c in names]
        stacked = layout[-1] if len(layout) == 1 else None
        if len(layout) != 1:
            raise IngestError(
                f"{path}: variable '{variable}': CSV holds state data (layout 'state'), "
                f"not a '{source['layout']}' layout"
            )
        vars_[variable] = _Var(
            variable,
            cols,
            ("trajectory", "time"),
            ("trajectory", "time", "state"),
            stacked,
            {"units": str(vspec.get("units", "1")), "long_name": str(vspec.get("long_name", variable))},
        )
    tcol = csv.get("time_column") or source.get("time", {}).get("name")
    lengths = [len(r) for r in reader.rows]
    if tcol is not None:
        tv = reader.column(tcol, "time")
        times = [np.asarray(t, np.float64) for t in tv]
        for k, t in enumerate(times):
            if t.size > 1 and not np.all(np.diff(t) > 0):
                order = np.argsort(t, kind="stable")
                if np.any(np.diff(t[order]) == 0) or not csv.get("sort", False):
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
            v.parts = [reader.column(c, v.name) for c in _names(_var_spec(source["variables"][v.name]))]
        for k, t in enumerate(times):
            _check_time(t, path, k, 1)
    else:
        tspec = source.get("time", {})
        times = [tspec.get("start", 0.0) + tspec["dt"] * np.arange(m) for m in lengths]
    params = {}
    for coord, pname in source.get("trajectory_parameters", {}).items():
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
    return _File(
        path,
        "csv",
        n,
        times,
        vars_,
        params,
        labels=np.asarray(reader.labels),
        sizes={"time": max(lengths), "state": None},
    )


def _label(reader: _CsvReader, k: int) -> str:
    return f"'{reader.labels[k]}'"


@dataclass
class Plan:
    files: list[_File]
    time: np.ndarray
    n: int
    layout: tuple[str, ...]
    coords: dict[str, np.ndarray]


def plan(source: Mapping[str, Any], base: str | os.PathLike | None = None) -> Plan:
    """First pass: open every file, read shapes and time axes, check they fit together."""
    layout = LAYOUT_DIMS[source["layout"]]
    files = [_plan_file(p, source, layout) for p in resolve_files(source, base)]
    ragged = source.get("ragged", "error")
    # one time axis for the store: every trajectory's must agree (up to a tolerance of the step)
    entries = [(f, k, t) for f in files for k, t in enumerate(f.times)]
    if source.get("time", {}).get("start_at_zero", False):
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
                f"ragged time axes: {short[0].path}{_where(short[0], short[1])} has {m} samples but "
                f"{long_[0].path}{_where(long_[0], long_[1])} has {len(long_[2])}; the store has one time "
                "axis: set source.ragged: truncate to keep the first "
                f"{m} samples of every trajectory, or fix the files"
            )
        log.warning(
            "ragged time axes: keeping the first %d samples of every trajectory (longest: %d)", m, int(lengths.max())
        )
    ref = t0[:m]
    step = float(np.min(np.diff(ref))) if m > 1 else 1.0
    tol = float(source.get("time", {}).get("tolerance", 1e-6)) * step
    for f, k, t in entries:
        bad = np.flatnonzero(np.abs(t[:m] - ref) > tol)
        if bad.size:
            i = int(bad[0])
            raise IngestError(
                f"{f.path}: variable 'time': the time axis{_where(f, k)} differs from that of "
                f"{f0.path}{_where(f0, k0)} at index {i} ({t[i]} vs {ref[i]}); the store has "
                "one time axis (source.time.start_at_zero: true aligns the starts)"
            )
    # the layout's sizes must agree across files
    for f in files:
        for v in f.vars.values():
            for d in v.out_dims[2:]:
                size = _size(f, v, d)
                first = _size(files[0], files[0].vars[v.name], d) if d in files[0].vars[v.name].out_dims else size
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


def _where(f: _File, k: int) -> str:
    if f.labels is not None:
        return f" (trajectory '{f.labels[k]}')"
    return f" (trajectory {k} of the file)" if f.n > 1 else ""


def _size(f: _File, v: _Var, d: str) -> int:
    if d == v.stacked:
        return len(v.parts)
    return f.sizes[d]


def _layout_coords(f: _File, source, layout) -> dict[str, np.ndarray]:
    """Coordinates of the layout's dimensions: source.coords names a 1-D source variable per
    canonical dimension; else index numbers."""
    out = {}
    wanted = dict(source.get("coords", {}))
    first = next(v for v in f.vars.values() if v.out_dims[2:] == layout)
    reader = None
    try:
        for d in layout:
            size = _size(f, first, d)
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


# --------------------------------------------------------------------------- reading


def _read(reader: _Reader | None, f: _File, v: _Var, ks: slice, m: int) -> np.ndarray:
    """Canonical (trajectory, time, ...) array of trajectories ``ks`` of one file, first m samples."""
    if f.fmt == "csv":
        rows = [np.stack([np.asarray(p[k])[:m] for p in v.parts], axis=-1) for k in range(ks.start, ks.stop)]
        return np.stack(rows).astype(np.float64 if rows[0].dtype.kind in "iub" else rows[0].dtype)
    src = v.src_dims
    parts = []
    for name in v.parts:
        p, _ = reader.array(name)
        index = tuple(ks if d == "trajectory" else slice(0, m) if d == "time" else slice(None) for d in src)
        a = np.asarray(p[index] if not isinstance(p, xr.Variable) else p[index].values)
        dims = src
        if "trajectory" not in dims:
            a, dims = a[None], ("trajectory", *dims)
        parts.append(a)
        src_full = dims
    if v.stacked is not None:
        a = np.stack(parts, axis=-1)
        src_full = (*src_full, v.stacked)
    else:
        a = parts[0]
    a = np.transpose(a, [src_full.index(d) for d in v.out_dims])
    if a.dtype.kind in "iub":
        a = a.astype(np.float64)
    if a.dtype.kind not in "f":
        raise IngestError(f"{f.path}: variable '{v.name}': not numeric ({a.dtype})")
    return a


def _check_finite(a: np.ndarray, f: _File, v: _Var, ks: slice) -> None:
    ok = np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
    if not ok.all():
        k = ks.start + int(np.argmin(ok))
        t, *_ = np.argwhere(~np.isfinite(a[k - ks.start]))[0]
        where = _where(f, k) or " (its only trajectory)"
        raise IngestError(f"{f.path}: variable '{v.name}': NaN or inf{where} at time index {int(t)}")


def batches(
    source: Mapping[str, Any],
    p: Plan,
    *,
    system: str,
    split: np.ndarray,
    attrs: Mapping[str, Any],
    observed: str,
    batch_size: int = 32,
) -> Iterator[xr.Dataset]:
    """Second pass: consecutive canonical Datasets of at most ``batch_size`` trajectories."""
    m = len(p.time)
    units = [(fi, f, k) for fi, f in enumerate(p.files) for k in range(f.n)]
    for start in range(0, len(units), batch_size):
        chunk = units[start : start + batch_size]
        pieces: dict[str, list[np.ndarray]] = {name: [] for name in source["variables"]}
        for fi in dict.fromkeys(u[0] for u in chunk):
            f = p.files[fi]
            ks = [k for g, _, k in chunk if g == fi]
            sl = slice(ks[0], ks[-1] + 1)
            # a CSV's columns were read whole in the planning pass (CSV files are small);
            # other formats are opened again and only this batch's trajectories read
            reader = open_reader(f.path, f.fmt, source) if f.fmt != "csv" else None
            try:
                for name, v in f.vars.items():
                    a = _read(reader, f, v, sl, m)
                    _check_finite(a, f, v, sl)
                    pieces[name].append(a)
            finally:
                if reader is not None:
                    reader.close()
        ids = np.arange(start, start + len(chunk), dtype=np.int64)
        tcoords = {
            "source_file": np.array([u[0] for u in chunk], np.int32),
            "source_index": np.array([_source_index(u[1], u[2]) for u in chunk], np.int64),
        }
        for coord in source.get("trajectory_parameters", {}):
            tcoords[coord] = np.array([u[1].params[coord][u[2]] for u in chunk])
        data_vars = {}
        for name, arrs in pieces.items():
            v = p.files[chunk[0][0]].vars[name]
            data_vars[name] = (v.out_dims, np.concatenate(arrs), v.attrs)
        yield build_dataset(
            system=system,
            data_vars=data_vars,
            time=p.time,
            split=split[ids],
            trajectory=ids,
            trajectory_coords=tcoords,
            coords={d: ((d,), c) for d, c in p.coords.items()},
            attrs={**attrs, "observed": observed},
        )


def _source_index(f: _File, k: int) -> int:
    """Where a trajectory sits in its file: its index, or its integer id in a CSV."""
    if f.labels is not None and np.asarray(f.labels).dtype.kind in "iu":
        return int(f.labels[k])
    return k


# --------------------------------------------------------------------------- entry


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
    from ..provenance import stamp
    from .store import write_store

    source = spec["source"]
    observed = observed_variable(source)
    p = plan(source, base)
    try:
        split = assign_splits(p.n, spec.get("splits", {"train": 0.7, "val": 0.1, "test": 0.2}), spec.get("seed", 0))
    except ValueError as exc:
        raise IngestError(f"source.files: {len(p.files)} file(s) hold {p.n} trajectories: {exc}") from None
    files = [str(f.path) for f in p.files]
    attrs = {
        "system_type": "ingested",
        "layout": source["layout"],
        **{k: v for k, v in spec.get("parameters", {}).items()},
        "source_format": " ".join(sorted({f.fmt for f in p.files})),
        "source_files": files,
        "source_sha256": [sha256(f.path) for f in p.files],
        "seed": int(spec.get("seed", 0)),
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
            batch_size=int(source.get("batch_size", 32)),
        ),
        out,
        dims=p.layout,
    )
