"""Readers: one opened file as named arrays with (source) dimension names and attributes.

netCDF (3 and 4) and zarr go through xarray's own engines (scipy, h5netcdf, zarr); HDF5
through h5py, because xarray's h5netcdf engine cannot open what solvers such as Dedalus
write (several dimension scales attached to one axis, unlabelled component axes); .npz
through numpy; CSV (long format) through pandas.
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

    def coords_of(self, name):
        out = {}
        for d in map(str, self.ds[name].dims):
            if d in self.ds.variables and self.ds[d].ndim == 1:
                out[d] = (np.asarray(self.ds[d].values), dict(self.ds[d].attrs))
        return out

    def time_variable(self, dim):
        return dim if dim is not None and dim in self.ds.variables and self.ds[dim].ndim == 1 else None

    def close(self):
        self.ds.close()


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
