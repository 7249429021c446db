"""Readers: one opened file as named arrays with (source) dimension names and attributes.

netCDF and zarr go through xarray's own engines: netCDF4 through ``xr.open_datatree`` on the
h5netcdf engine (a variable in a group is named by its path, ``run/u``; an axis without a
netCDF dimension, as in HDF5 written by other tools, comes as a phony dimension and counts
as unnamed), netCDF3 through scipy, zarr through its own. HDF5 goes through h5py, because
xarray's h5netcdf engine cannot open what solvers such as Dedalus write (several dimension
scales attached to one axis, unlabelled component axes beside labelled ones: "mixing of
labeled and unlabeled dimensions") and does not see HDF5 dimension labels, which the HDF5
reader takes as dimension names. .npz goes through numpy and CSV (long format) through
pandas: xarray has no engine for either (docs/ingest.md, "Readers").
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from . import dedalus
from .check import IngestError, shortlist
from .files import FORMATS


class Reader:
    """One opened file: named arrays with (source) dimension names, and attributes."""

    path: Path
    kind = ""
    dedalus = False

    def names(self) -> list[str]:
        raise NotImplementedError

    def array(self, name: str):
        """(lazily sliceable array, its dimension names or None)."""
        raise NotImplementedError

    def attrs(self) -> dict:
        return {}

    def var_attrs(self, name: str) -> dict:
        return {}

    def coords_of(self, name: str) -> dict[str, tuple[np.ndarray, dict]]:
        """Coordinates the file gives a variable's axes: source dim -> (values, attributes)."""
        return {}

    def time_variable(self, dim: str | None) -> str | None:
        """The variable holding the times of the source dimension ``dim``, if the file says."""
        return None

    def component_labels(self, name: str) -> list[str] | None:
        """Names of a vector variable's components, if the file says."""
        return None

    def close(self) -> None:
        pass

    def resolve(self, name: str) -> str | None:
        """The file's own name for ``name`` (a Dedalus task by its bare name), or None."""
        return name if name in self.names() else None

    def get(self, name: str, variable: str) -> tuple[str, Any, tuple[str, ...] | None]:
        """(resolved name, array, its dimension names or None); an error names what the file has."""
        real = self.resolve(name)
        if real is None:
            raise IngestError(
                f"{self.path}: variable '{variable}': no {self.kind} '{name}' in the file "
                f"(it has {shortlist(self.listing())})"
            )
        return (real, *self.array(real))

    def has(self, name: str) -> bool:
        return self.resolve(name) is not None

    def listing(self) -> list[str]:
        return self.names()


PHONY = "phony_dim_"  # h5netcdf's name for an axis without a netCDF dimension


def _prefix(path: str) -> str:
    """How a group's variables are named: ``run/`` in group /run, nothing in the root."""
    return f"{path.strip('/')}/" if path.strip("/") else ""


class XarrayReader(Reader):
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
                if engine == "scipy":  # the classic format has no groups
                    self.ds = xr.open_dataset(path, engine=engine, decode_times=False, cache=False)
                else:
                    self._open_tree(path)
        except IngestError:
            raise
        except Exception as exc:
            raise IngestError(f"{path}: cannot open as {fmt}: {type(exc).__name__}: {exc}") from exc

    ds: xr.Dataset  # the root group
    tree: xr.DataTree | None = None  # every group, where the file has groups (netCDF4)

    def _open_tree(self, path: Path) -> None:
        self.tree = xr.open_datatree(path, engine="h5netcdf", phony_dims="access", decode_times=False, cache=False)
        self.ds = self.tree.to_dataset()
        self._groups = {_prefix(node.path): node.ds for node in self.tree.subtree}  # inherited coordinates too
        self._names = [
            f"{_prefix(node.path)}{n}" for node in self.tree.subtree for n in node.to_dataset(inherit=False).variables
        ]

    def _where(self, name: str) -> tuple[xr.Dataset, str]:
        """The group holding ``name`` (a path such as ``run/u`` for a variable in a group) and
        the variable's name there."""
        group, _, var = name.rpartition("/")
        if self.tree is None or not group:
            return self.ds, name
        return self._groups[f"{group}/"], var

    def names(self):
        return [str(n) for n in self.ds.variables] if self.tree is None else self._names

    def array(self, name):
        ds, var = self._where(name)
        v = ds[var].variable
        dims = tuple(map(str, v.dims))
        return v, (None if dims and all(d.startswith(PHONY) for d in dims) else dims)

    def attrs(self):
        return dict(self.ds.attrs)

    def var_attrs(self, name):
        ds, var = self._where(name)
        return dict(ds[var].attrs)

    def coords_of(self, name):
        ds, var = self._where(name)
        out = {}
        for d in map(str, ds[var].dims):
            if d in ds.variables and ds[d].ndim == 1 and not d.startswith(PHONY):
                out[d] = (np.asarray(ds[d].values), dict(ds[d].attrs))
        return out

    def time_variable(self, dim):
        if dim is None or dim.startswith(PHONY):
            return None
        for prefix, ds in [("", self.ds)] if self.tree is None else self._groups.items():
            if dim in ds.variables and ds[dim].ndim == 1:
                return dim if dim in self.ds.variables else f"{prefix}{dim}"
        return None

    def close(self):
        (self.tree if self.tree is not None else self.ds).close()


class H5Reader(Reader):
    """Any HDF5 file by dataset path (``tasks/b``); a Dedalus set also by task name (``b``),
    with its axes, grids and times read from the dimension scales Dedalus attaches."""

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
        self.dedalus = dedalus.is_dedalus(self.f)
        if self.dedalus:
            self.kind = "task"

    def names(self):
        return self._names

    def listing(self):
        if self.dedalus:
            return list(self.f[dedalus.TASKS])
        return self._names

    def resolve(self, name):
        if name in self._names:
            return name
        task = f"{dedalus.TASKS}/{name}"
        return task if self.dedalus and task in self._names else None

    def _is_task(self, name: str) -> bool:
        return self.dedalus and name.startswith(f"{dedalus.TASKS}/")

    def array(self, name):
        d = self.f[name]
        if self._is_task(name):
            return d, dedalus.task_dims(d)
        labels = tuple(str(dim.label) for dim in d.dims) if d.ndim else ()
        return d, (labels if labels and all(labels) else None)

    def coords_of(self, name):
        if not self._is_task(name):
            return {}
        d = self.f[name]
        out = {}
        for axis, label in enumerate(dedalus.task_dims(d)):
            scale = dedalus.axis_scale(d, axis) if axis > 0 else None
            if scale is not None and scale.ndim == 1 and scale.shape[0] == d.shape[axis]:
                out[label] = (np.asarray(scale[()]), {k: plain(v) for k, v in scale.attrs.items() if k == "units"})
        return out

    def time_variable(self, dim):
        return dedalus.TIME if self.dedalus else None

    def component_labels(self, name):
        return dedalus.component_labels(self.f[name]) if self._is_task(name) else None

    def attrs(self):
        return {k: plain(v) for k, v in self.f.attrs.items()}

    def var_attrs(self, name):
        return {k: plain(v) for k, v in self.f[name].attrs.items()}

    def close(self):
        self.f.close()


class NpzReader(Reader):
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


class CsvReader(Reader):
    """Long format: one row per (trajectory, time), one column per component."""

    kind = "column"

    def __init__(self, path: Path, csv: Mapping[str, Any]):
        import pandas as pd

        self.path = path
        self.csv = csv
        try:
            sep = "\t" if path.suffix.lower() == ".tsv" else csv["separator"]
            self.df = pd.read_csv(path, sep=sep, comment=csv.get("comment"))
        except Exception as exc:
            raise IngestError(f"{path}: cannot read as CSV: {type(exc).__name__}: {exc}") from exc
        tcol, kcol = csv.get("time_column"), csv.get("trajectory_column")
        for col, key in ((tcol, "time_column"), (kcol, "trajectory_column")):
            if col is not None and col not in self.df.columns:
                raise IngestError(
                    f"{path}: source.csv.{key} '{col}' is not a column "
                    f"(it has {shortlist(list(map(str, self.df.columns)))})"
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

    def column(self, name: str, variable: str, numeric: bool = True) -> list[np.ndarray]:
        """One array per trajectory (``numeric=False`` admits names, as a split's)."""
        if name not in self.df.columns:
            raise IngestError(
                f"{self.path}: variable '{variable}': no column '{name}' in the file (it has {shortlist(self.names())})"
            )
        values = self.df[name].to_numpy()
        if numeric and values.dtype.kind not in "iuf":
            raise IngestError(f"{self.path}: variable '{variable}': column '{name}' is not numeric ({values.dtype})")
        return [values[r] for r in self.rows]


def plain(v):
    """An HDF5 attribute as a plain Python value."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.size == 1:
        return v.reshape(()).item()
    return v.item() if isinstance(v, np.generic) else v


def open_reader(path: Path, fmt: str, source: Mapping[str, Any]) -> Reader:
    if not path.exists():
        raise FileNotFoundError(f"source file not found: {path}")
    if fmt in ("netcdf", "zarr"):
        return XarrayReader(path, fmt)
    if fmt == "hdf5":
        return H5Reader(path)
    if fmt == "npz":
        return NpzReader(path)
    if fmt == "csv":
        return CsvReader(path, source["csv"])
    raise IngestError(f"{path}: unknown format '{fmt}' (known: {list(FORMATS)})")
