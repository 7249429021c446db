"""CF conventions for every store the workflow writes: one place for the attributes.

The stores follow the CF metadata conventions as far as they apply to trajectories of
dynamical systems: a global ``Conventions``, ``units`` a unit parser understands (``"1"``
for a dimensionless quantity; the reference scale of a non-dimensionalised one is part of
its ``long_name``), ``long_name`` everywhere, ``standard_name`` only where CF defines one
and the units agree with it (``time`` in a time unit), ``axis`` on the coordinates of
time and space, ``cf_role`` on the trajectory ids, and ``flag_values``/``flag_meanings``
on the split codes. Labels of vector components (Lorenz ``x, y, z``, latent ``h1 … hn``)
are string coordinates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

CONVENTIONS = "CF-1.10"
DIMENSIONLESS = "1"

# Attributes of the canonical dimensions' coordinates (and of the long-rollout ``start``).
COORDINATE_ATTRS: dict[str, dict[str, str]] = {
    "trajectory": {"long_name": "trajectory id", "cf_role": "trajectory_id"},
    "time": {"long_name": "time", "axis": "T"},
    "state": {"long_name": "state component"},
    "z": {"long_name": "height above the lower wall", "axis": "Z", "positive": "up"},
    "x": {"long_name": "horizontal position", "axis": "X"},
    "bead": {"long_name": "bead index along the chain"},
    "xyz": {"long_name": "Cartesian component"},
    "start": {"long_name": "rollout start"},
}

# Time units that make ``standard_name: time`` honest (CF wants a unit of time for it).
TIME_UNITS = ("s", "second", "seconds", "ms", "min", "minute", "minutes", "h", "hour", "hours", "day", "days")

REFERENCES = (
    "OnsagerNet: Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021); "
    "S-OnsagerNet: Chen et al., Nat. Comput. Sci. 4, 66 (2024)"
)


def latent_labels(n: int) -> list[str]:
    """Names of n latent components: h1, h2, … hn."""
    return [f"h{i + 1}" for i in range(n)]


def time_attrs(units: str = DIMENSIONLESS, long_name: str = "time") -> dict[str, str]:
    """Attributes of a time coordinate; ``standard_name: time`` only for a unit of time."""
    attrs = {**COORDINATE_ATTRS["time"], "units": units, "long_name": long_name}
    if units.split(" since ")[0].strip() in TIME_UNITS:
        attrs["standard_name"] = "time"
    return attrs


def global_attrs(system: str, title: str | None = None) -> dict[str, str]:
    """The global CF attributes of a store of ``system``."""
    from .._version import __version__

    return {
        "Conventions": CONVENTIONS,
        "title": title or f"onsagerflow trajectories of {system}",
        "source": f"onsagerflow {__version__}",
        "references": REFERENCES,
    }


def annotate(ds: xr.Dataset, *, title: str | None = None) -> xr.Dataset:
    """``ds`` with the CF attributes of its known coordinates and the global ones filled in
    (attributes already set win), and every attribute made netCDF-safe. Returns a copy."""
    ds = ds.copy()
    for name, attrs in COORDINATE_ATTRS.items():
        if name in ds.coords:
            base = time_attrs(ds[name].attrs.get("units", DIMENSIONLESS)) if name == "time" else attrs
            ds[name].attrs = {**base, **ds[name].attrs}
            if name in ("x", "z") and "units" not in ds[name].attrs:
                ds[name].attrs["units"] = DIMENSIONLESS
    for dv in ds.data_vars.values():
        dv.attrs.setdefault("units", DIMENSIONLESS)
    system = str(ds.attrs.get("system", "unknown"))
    ds.attrs = {**global_attrs(system, title), **ds.attrs}
    for var in ds.variables.values():
        var.attrs = netcdf_attrs(var.attrs)
    ds.attrs = netcdf_attrs(ds.attrs)
    return ds


def netcdf_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes netCDF can hold: numbers, strings and flat lists of one kind. None is
    dropped, a bool becomes 0/1, a mapping or a mixed list becomes a JSON string."""
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if v is None:
            continue
        out[k] = _netcdf_value(v)
    return out


def _netcdf_value(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (str, int, float, np.integer, np.floating)):
        return v
    if isinstance(v, (list, tuple, np.ndarray)):
        items = list(np.asarray(v).tolist()) if isinstance(v, np.ndarray) else list(v)
        if items and all(isinstance(i, str) for i in items):
            return items
        if all(isinstance(i, (int, float)) and not isinstance(i, bool) for i in items):
            return items
    return json.dumps(v, sort_keys=True, default=str)


def axis_label(var: xr.DataArray, name: str | None = None) -> str:
    """An axis label from a variable's attributes: ``long_name [units]``; a dimensionless
    quantity is marked so, unless its long_name already names its scale ("… in units of
    d²/κ", "time (relaxation time λ)")."""
    return with_units(name or str(var.attrs.get("long_name", var.name)), str(var.attrs.get("units", DIMENSIONLESS)))


def with_units(text: str, units: str) -> str:
    """``text [units]``, or ``text (dimensionless)`` for units "1" where ``text`` names no scale."""
    if units != DIMENSIONLESS:
        return f"{text} [{units}]"
    return text if "units of" in text or text.endswith(")") else f"{text} (dimensionless)"


def component_labels(ds: xr.Dataset, dim: str = "state") -> list[str]:
    """String labels of a component dimension (its coordinate's values), or c1 … cn."""
    if dim in ds.coords and ds[dim].dtype.kind in "OTU":
        return [str(v) for v in ds[dim].values]
    return [f"c{i + 1}" for i in range(ds.sizes.get(dim, 0))]
