"""Helpers the stages share: reading a system's observed variable, reading and writing JSON."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..data import SchemaError, Split, atomic_path, split_mask
from ..data.schema import PROVENANCE_ATTRS
from ..data.timegrid import TimeGrid, time_grid
from ..errors import DamagedFileError

log = logging.getLogger("onsagerflow")
TRAINING_KEYS = ("best_epoch", "best_val_loss", "epochs_run", "train_seconds", "device")
JUDGED_KEYS = ("initial_val_loss", "trivial_val_loss")  # absent from checkpoints made before the judge


def observed(ds: xr.Dataset, where: str = "store") -> str:
    """Name of the data variable models learn from: the store's ``observed`` attribute,
    or its only data variable."""
    name = ds.attrs.get("observed")
    if name is None:
        if len(ds.data_vars) != 1:
            raise SchemaError(
                f"{where}: set the 'observed' attribute; it has several data variables {sorted(map(str, ds.data_vars))}"
            )
        name = next(iter(ds.data_vars))
    if name not in ds.data_vars:
        raise SchemaError(f"{where}: observed variable '{name}' is not among {sorted(map(str, ds.data_vars))}")
    return str(name)


def split_array(ds: xr.Dataset, variable: str, split: Split | str) -> np.ndarray:
    """(traj, time, n) array of one split, loaded into memory."""
    return np.asarray(ds[variable].isel(trajectory=np.flatnonzero(split_mask(ds, split))).values)


def with_mirror_images(ds: xr.Dataset, u: np.ndarray, where: str = "store") -> np.ndarray:
    """Trajectories u (traj, time, k) of a latent store, followed by their mirror images
    z → P z, P = diag(parity) of the store's PCs (reduction.symmetry: mirror) — the images
    are trajectories too, the PCA and the dynamics being symmetric; u itself where the store
    has no symmetry. For training pairs only: validation and evaluation see the data alone."""
    if ds.attrs.get("symmetry", "none") != "mirror":
        return u
    parity = np.asarray(ds.attrs["parity"], dtype=u.dtype)
    if parity.shape != u.shape[-1:]:
        raise SchemaError(f"{where}: 'parity' has {parity.size} entries for {u.shape[-1]} coordinates")
    return np.concatenate([u, u * parity], axis=0)


def store_grid(ds: xr.Dataset, where: str = "store") -> TimeGrid:
    """The store's time grid: uniform, or bursts of a fine step (data.timegrid)."""
    return time_grid(ds["time"].values, where)


@dataclass
class LoadedRun:
    """A trained run as evaluation and figures use it: a float64 copy of the model, its
    dynamics (the model itself, or a joint model's OnsagerNet), normaliser, meta and chart."""

    model: Any
    dynamics: Any
    norm: Any
    meta: dict
    chart: Any


def load_run(model_dir: str | Path) -> LoadedRun:
    from ..models.dynamics import LatentChart, as_float64
    from ..training import load_checkpoint

    model, norm, meta = load_checkpoint(model_dir)
    model64 = as_float64(model)  # root finding, rollouts and SDE paths want the precision
    dyn = model64.dynamics if hasattr(model64, "dynamics") else model64
    return LoadedRun(model64, dyn, norm, meta, LatentChart(model64, meta))


def training_summary(meta: dict) -> dict:
    """A checkpoint's training record as metrics.json carries it: the curve's summary, the
    references it was judged against, and its 'did not learn' warnings (logged here too)."""
    out = {k: meta[k] for k in TRAINING_KEYS}
    out.update({k: meta.get(k) for k in JUDGED_KEYS})
    out["warnings"] = list(meta.get("warnings", []))
    for w in out["warnings"]:
        log.warning("%s did not learn: %s", meta["run"], w)
    return out


def read_json(path: str | Path, what: str = "metrics file", needs: tuple[str, ...] = ()) -> dict:
    """A JSON object written by an earlier stage, checked as it is read: a missing,
    truncated or malformed file (or one without the keys ``needs``) is a one-line error
    naming it."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise DamagedFileError(f"{what} not found: {p}; rerun the step that writes it") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DamagedFileError(
            f"{what} {p} is not valid JSON ({exc}): it is truncated or damaged; delete it and rerun the "
            "step that wrote it"
        ) from None
    if not isinstance(data, dict):
        raise DamagedFileError(f"{what} {p} holds a JSON {type(data).__name__}, not an object; delete it and rerun")
    missing = [k for k in needs if k not in data]
    if missing:
        raise DamagedFileError(
            f"{what} {p} lacks {missing} (made by another version of onsagerflow?); delete it and rerun the "
            "step that wrote it"
        )
    return data


def long_rollouts_dataset(
    predictions: xr.Dataset,
    model: np.ndarray,
    truth: np.ndarray | None,
    t: np.ndarray,
    bounded: np.ndarray,
    attrs: dict,
) -> xr.Dataset:
    """long_rollouts.zarr: the model's (and, where a simulator exists, the true system's)
    rollouts (start, time, component) from the same starts, in the coordinates, units and
    provenance of the run's ``predictions`` store."""
    var = predictions[predictions.attrs["observed"]]
    dims = ("start", "time", *var.dims[2:])
    base = {"units": var.attrs.get("units", "1")}
    data = {"model": (dims, model, {**base, "long_name": f"{predictions.attrs['model']} long rollout"})}
    if truth is not None:
        data["truth"] = (dims, truth, {**base, "long_name": "true system from the same starts"})
    coords = {d: predictions[d] for d in var.dims[2:] if d in predictions.coords}
    return xr.Dataset(
        data,
        coords={
            **coords,
            "start": ("start", np.arange(model.shape[0])),
            "time": ("time", t, dict(predictions["time"].attrs)),
            "bounded": (
                "start",
                bounded.astype(np.int8),
                {
                    "long_name": "rollout stayed within the bound",
                    "flag_values": [0, 1],
                    "flag_meanings": "escaped bounded",
                },
            ),
        },
        attrs={
            **{k: predictions.attrs[k] for k in ("system", "observed", "source_store") if k in predictions.attrs},
            **{k: predictions.attrs[k] for k in PROVENANCE_ATTRS},
            "title": f"long rollouts of {predictions.attrs['model']} from random starts",
            **attrs,
        },
    )


def write_json(path: str | Path, obj: Any) -> None:
    """Strict JSON (inf and NaN become null, which every JSON reader accepts), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_finite(obj), indent=2, allow_nan=False))


def _finite(o):
    if isinstance(o, dict):
        return {str(k): _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    if isinstance(o, np.ndarray):
        return _finite(o.tolist())
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not np.isfinite(o):
        return None
    if o is None or isinstance(o, (str, int, float, bool)):
        return o
    return str(o)


def baseline_latent_metrics(horizons: dict, authors: dict, end, test, cfg: dict) -> dict:
    """The ``latent_metrics`` block of a baseline judged on the test split (PRF21's nearest
    neighbour and LSTM): E(T) and N_fail under both definitions, on our test split. A map on the
    coarse grid has no vector field, so no steady states to find.
    ``end``: each test trajectory's prediction at its last sample from its first (traj, n);
    ``test``: the test trajectories (traj, time, n)."""
    from ..analysis.metrics import authors_n_fail, relative_error

    end_err = relative_error(end[:, None], test[:, -1:])[:, 0]
    distance = np.linalg.norm(end - test[:, -1], axis=-1)
    biggest = np.max(np.linalg.norm(test, axis=-1), axis=1)
    return {
        "horizon_error": horizons,
        "n_fail": int(np.sum(~(end_err <= cfg["fail_threshold"]))),
        "fail_threshold": cfg["fail_threshold"],
        "end_error": end_err.tolist(),
        "steady_states": [],
        "authors": {
            "n_trajectories": len(end_err),
            "horizon_error": authors,
            "n_fail": authors_n_fail(distance, biggest, cfg["fail_threshold"]),
            "fail_threshold": cfg["fail_threshold"],
            "end_states": [],
        },
    }
