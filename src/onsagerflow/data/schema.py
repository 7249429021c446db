"""Build and validate the canonical trajectory Dataset (docs/data.md describes the schema).

dims: trajectory, time, then the system's own; coords: int ``trajectory`` ids, float
``time``, int8 ``split`` on trajectory, string labels of component dimensions (``state``);
attrs: system, parameters, provenance and the CF attributes of :mod:`onsagerflow.data.cf`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from enum import IntEnum
from typing import Any

import numpy as np
import xarray as xr

from ..errors import UserError
from . import cf


class Split(IntEnum):
    """The int8 ``split`` code of each trajectory in a store (a public contract: stored values)."""

    TRAIN = 0
    VAL = 1
    TEST = 2


class Unfolding(IntEnum):
    """The int8 ``unfolding`` label of a polymer trajectory's test ensemble (stored values)."""

    FAST = 0
    SLOW = 1
    UNLABELLED = 2  # train and val trajectories, and the middle ensemble of an odd number


# a test ensemble's name from its stored code; the middle one of an odd number is "medium"
ENSEMBLE_LABELS = {Unfolding.FAST: "fast", Unfolding.SLOW: "slow", Unfolding.UNLABELLED: "medium"}


def flag_attrs(codes: type[IntEnum]) -> dict[str, Any]:
    """CF ``flag_values`` and ``flag_meanings`` of a code enum: [0, 1, 2], "train val test"."""
    return {"flag_values": [int(c) for c in codes], "flag_meanings": " ".join(c.name.lower() for c in codes)}


SPLIT_CODES = {c.name.lower(): c for c in Split}  # split name -> code, for fractions and messages
SPLIT_ATTRS = {**flag_attrs(Split), "long_name": "data split of each trajectory"}
PROVENANCE_ATTRS = ("onsagerflow_version", "git_sha", "config_sha256", "created")
REQUIRED_ATTRS = ("system",) + PROVENANCE_ATTRS


class SchemaError(UserError, ValueError):
    """A Dataset that breaks the canonical schema; the message names the culprit."""


def build_dataset(
    *,
    system: str,
    data_vars: Mapping[str, tuple[tuple[Hashable, ...], Any, Mapping[str, Any]]],
    time: np.ndarray,
    split: np.ndarray,
    trajectory: np.ndarray | None = None,
    trajectory_coords: Mapping[Hashable, Any] | None = None,
    coords: Mapping[Hashable, tuple[Any, ...]] | None = None,
    attrs: Mapping[str, Any] | None = None,
    time_units: str = cf.DIMENSIONLESS,
    time_long_name: str = "time",
    title: str | None = None,
) -> xr.Dataset:
    """Assemble a canonical Dataset with its CF attributes.

    Args:
        system: the system's name (the config key), kept as the ``system`` attribute.
        data_vars: name -> (dims, array, attrs); attrs need ``long_name`` and ``units``.
        time: the sampling times, float.
        split: split code per trajectory (``SPLIT_CODES``).
        trajectory: trajectory ids (default 0, 1, ...).
        trajectory_coords: extra coordinates on ``trajectory`` (parameters, labels).
        coords: coordinates of the system's own dims, name -> (dims, values) or
            (dims, values, attrs); string values label components (``state``: ``["x", "y", "z"]``).
        attrs: global attributes (parameters, provenance).
        time_units: units of ``time`` (``"1"``: dimensionless).
        time_long_name: ``long_name`` of ``time`` (a non-dimensional time names its scale).
        title: the CF ``title`` (default: "onsagerflow trajectories of <system>").

    Returns:
        The Dataset, not yet validated (``validate_dataset`` and ``write_store`` do that).
    """
    split = np.asarray(split)
    n = split.shape[0]
    ids = np.arange(n, dtype=np.int64) if trajectory is None else np.asarray(trajectory, np.int64)
    c: dict[Hashable, Any] = {
        "trajectory": ("trajectory", ids),
        "time": ("time", np.asarray(time, dtype=np.float64), cf.time_attrs(time_units, time_long_name)),
        "split": ("trajectory", split.astype(np.int8), dict(SPLIT_ATTRS)),
    }
    for name, values in (trajectory_coords or {}).items():
        c[name] = ("trajectory", np.asarray(values))
    for name, (dims, values, *attrs_) in (coords or {}).items():
        c[name] = (dims, np.asarray(values), *attrs_)
    ds = xr.Dataset({k: (d, v, dict(a)) for k, (d, v, a) in data_vars.items()}, coords=c)
    ds.attrs.update({"system": system, **(attrs or {})})
    return cf.annotate(ds, title=title)


def _is_label(ds: xr.Dataset, name) -> bool:
    """A 1-D coordinate of a component dimension (not trajectory or time): string labels."""
    var = ds.variables[name]
    return name in ds.coords and len(var.dims) == 1 and var.dims[0] not in ("trajectory", "time")


def time_axis_problem(t: np.ndarray) -> str | None:
    """What is wrong with a time axis (NaN or inf, not strictly increasing), or None."""
    if not np.all(np.isfinite(t)):
        return "holds NaN or inf"
    if t.size > 1 and not np.all(np.diff(t) > 0):
        k = int(np.argmin(np.diff(t) > 0))
        return f"is not strictly increasing (at index {k}: {t[k]} then {t[k + 1]})"
    return None


def split_mask(ds: xr.Dataset, split: Split | str) -> np.ndarray:
    """Boolean mask over trajectories of one split (a ``Split`` or its name, e.g. "test")."""
    code = Split[split.upper()] if isinstance(split, str) else Split(split)
    return np.asarray(ds["split"].values == code)


def _ids(ds: xr.Dataset, mask) -> list[int]:
    return [int(i) for i in np.asarray(ds["trajectory"].values)[np.asarray(mask)]]


def validate_dataset(
    ds: xr.Dataset,
    *,
    dims: Iterable[Hashable] = (),
    where: str = "dataset",
    check_leak: bool = True,
    allow_nan: bool = False,
) -> xr.Dataset:
    """Check a Dataset against the canonical schema.

    Works on lazy (dask) Datasets chunk by chunk: the NaN scan reduces every trajectory to
    one flag.

    Args:
        ds: the Dataset.
        dims: the system's own dimensions that must be present (e.g. ``state``).
        where: how messages name the Dataset (its path).
        check_leak: refuse the same first state in two splits.
        allow_nan: admit NaN in data (model rollouts that escaped are NaN from then on),
            never inf.

    Returns:
        ``ds``, unchanged.

    Raises:
        SchemaError: naming the variable, trajectory or attribute at fault.
    """
    for d in ("trajectory", "time", *dims):
        if d not in ds.dims:
            raise SchemaError(f"{where}: missing dimension '{d}' (has {sorted(map(str, ds.dims))})")
    if not ds.data_vars:
        raise SchemaError(f"{where}: no data variables")
    for name, var in ds.variables.items():
        if var.dtype.kind in "OSUT" and not _is_label(ds, name):
            raise SchemaError(
                f"{where}: variable '{name}' holds strings ({var.dtype}); the store keeps numbers only"
                " (strings only as labels of a component dimension)"
            )
    for name, dv in ds.data_vars.items():
        if dv.dims[:2] != ("trajectory", "time"):
            raise SchemaError(
                f"{where}: data variable '{name}' has dims {dv.dims}; they must start with ('trajectory', 'time')"
            )
        for key in ("units", "long_name"):
            if key not in dv.attrs:
                raise SchemaError(f"{where}: data variable '{name}' lacks the '{key}' attribute")

    ids = np.asarray(ds["trajectory"].values)
    if ids.dtype.kind not in "iu":
        raise SchemaError(f"{where}: coordinate 'trajectory' must hold integer ids, got {ids.dtype}")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise SchemaError(
            f"{where}: split leak: trajectory id(s) {uniq[counts > 1][:10].tolist()} appear more than once"
        )

    t = np.asarray(ds["time"].values)
    if t.dtype.kind != "f":
        raise SchemaError(f"{where}: coordinate 'time' must be float (units '1'), got {t.dtype}")
    problem = time_axis_problem(t)
    if problem:
        raise SchemaError(f"{where}: coordinate 'time' {problem}")

    if "split" not in ds.coords or ds["split"].dims != ("trajectory",):
        raise SchemaError(f"{where}: missing coordinate 'split' on dimension 'trajectory'")
    split = np.asarray(ds["split"].values)
    if split.dtype != np.int8:
        raise SchemaError(f"{where}: coordinate 'split' must be int8, got {split.dtype}")
    bad = ~np.isin(split, [int(c) for c in Split])
    if bad.any():
        raise SchemaError(f"{where}: coordinate 'split' has codes outside 0/1/2 for trajectories {_ids(ds, bad)[:10]}")

    missing = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        raise SchemaError(f"{where}: missing attribute(s) {missing}")

    for name, dv in ds.data_vars.items():
        other = [d for d in dv.dims if d != "trajectory"]
        ok: Any = (np.isfinite(dv) | np.isnan(dv)) if allow_nan else np.isfinite(dv)
        finite = np.asarray(ok.all(dim=other).values)
        if not finite.all():
            raise SchemaError(
                f"{where}: data variable '{name}' has NaN or inf in trajectories {_ids(ds, ~finite)[:10]}"
            )

    if check_leak:
        _check_leak(ds, split, where)
    return ds


def _check_leak(ds: xr.Dataset, split: np.ndarray, where: str) -> None:
    """The same trajectory (identical first frame) must not sit in two splits."""
    n = ds.sizes["trajectory"]
    rows = np.hstack(
        [np.asarray(v.isel(time=0).transpose("trajectory", ...).values).reshape(n, -1) for v in ds.data_vars.values()]
    )
    seen: dict[bytes, int] = {}
    for i, row in enumerate(rows):
        key = row.tobytes()
        if key in seen and split[seen[key]] != split[i]:
            a, b = seen[key], i
            raise SchemaError(
                f"{where}: split leak: trajectories {int(ds['trajectory'][a])} "
                f"({Split(split[a]).name.lower()}) and {int(ds['trajectory'][b])} "
                f"({Split(split[b]).name.lower()}) start from the same state"
            )
        seen.setdefault(key, i)
