"""The store's one time axis, from every run's own.

Each run's joined time axis is checked (enough samples, steps that are uniform or equal
bursts of one fine step — ``data.timegrid``), optionally shifted to start at zero, and
optionally replaced by a grid to interpolate onto (``resample``: uneven, adaptive steps).
Then every run must have the same axis, up to a tolerance of the step: runs of different
lengths are an error unless ``ragged: truncate`` keeps the samples common to all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..timegrid import TimeGrid, TimeGridError, time_grid
from .check import IngestError
from .map import FileMap
from .resample import target_times
from .runs import Run, describe

log = logging.getLogger("onsagerflow.ingest")

MIN_SAMPLES = 2  # a time axis needs two samples to hold one step


@dataclass
class TimeAxis:
    time: np.ndarray  # the store's time axis
    grid: TimeGrid
    offsets: np.ndarray  # per run, the time subtracted from its own (start_at_zero), else 0
    resample: Mapping[str, Any] | None  # the grid spec interpolated onto, or None
    attrs: dict  # units and long_name of the time coordinate


def _where(run: Run, files: list[FileMap]) -> tuple[str, str]:
    """(path, ' (which trajectory or run)') of a run, for messages naming a file."""
    i, k = run.first
    f = files[i]
    if len(run.pieces) > 1:
        return str(f.path), f" (run '{run.label}', {len(run.pieces)} files)"
    if f.labels is not None:
        return str(f.path), f" (trajectory '{f.labels[k]}')"
    return str(f.path), (f" (trajectory {k} of the file)" if f.n > 1 else "")


def _units(files: list[FileMap], tspec: Mapping[str, Any]) -> dict:
    if "units" in tspec:  # optional: the source's own units otherwise
        return {"units": str(tspec["units"]), "long_name": "time"}
    found = {str(f.time_attrs["units"]) for f in files if "units" in f.time_attrs}
    if len(found) > 1:
        raise IngestError(
            f"source.time: the files give the time in different units {sorted(found)}; convert them, "
            "or state the common unit with source.time.units"
        )
    attrs = {"units": found.pop() if found else "1", "long_name": "time"}
    for f in files:
        attrs.update({k: str(v) for k, v in f.time_attrs.items() if k in ("long_name", "standard_name", "calendar")})
        break
    return attrs


def _uneven(t: np.ndarray, run: Run, files: list[FileMap]) -> IngestError:
    path, where = _where(run, files)
    dt = np.diff(t)
    return IngestError(
        f"{path}: variable 'time': the time axis{where} has uneven steps ({dt.min():.4g} to {dt.max():.4g}, "
        f"median {np.median(dt):.4g}), as adaptive time stepping writes them; set source.time.resample "
        f"(e.g. {{dt: {float(np.median(dt)):.3g}, order: 3}}) to interpolate every run onto one grid"
    )


def _grid_unit(rs: Mapping[str, Any]) -> int:
    """Samples of the resample grid per step of it (a burst grid's step is a whole burst)."""
    return rs["burst"] if "every" in rs else 1


def _snapped(t: np.ndarray, tolerance: float, eps: float) -> np.ndarray | None:
    """A uniform axis written with round-off (float32 times): its least-squares line
    t0 + k·h where every sample lies within ``tolerance`` steps of it, or within the
    rounding of the stored precision ``eps``, else None."""
    k = np.arange(t.size)
    h, t0 = np.polyfit(k, t, 1)
    line = t0 + h * k
    slack = tolerance * h + 2 * eps * float(np.max(np.abs(t)))
    return line if h > 0 and np.max(np.abs(line - t)) <= slack else None


def store_time(runs: list[Run], files: list[FileMap], source: Mapping[str, Any]) -> TimeAxis:
    tspec = source["time"]
    rs = tspec.get("resample")  # optional: absent means the data keep their own steps
    zero = tspec["start_at_zero"]
    offsets = np.array([float(r.time[0]) if zero else 0.0 for r in runs])
    axes = []
    checked: dict[int, np.ndarray] = {}  # runs of one file share its time array: check it once
    for run, off in zip(runs, offsets):
        t = run.time - off if off else run.time
        if not off and id(t) in checked:
            axes.append(checked[id(t)])
            continue
        if t.size < MIN_SAMPLES:
            raise IngestError(
                f"{describe(run, files)}: its time axis has {t.size} sample; a run needs at least "
                f"{MIN_SAMPLES} (drop its files, or fix the writer)"
            )
        if rs is not None:
            if t.size < rs["order"] + 1:
                raise IngestError(
                    f"{describe(run, files)}: {t.size} samples are too few for the order-{rs['order']} "
                    f"interpolation of source.time.resample (it needs {rs['order'] + 1})"
                )
            t = target_times(t, rs)
            if t.size < MIN_SAMPLES:
                raise IngestError(
                    f"{describe(run, files)}: spans t = {run.time[0]:g} to {run.time[-1]:g}, too short for "
                    f"{MIN_SAMPLES} samples of the source.time.resample grid"
                )
        else:
            try:
                time_grid(t, where=run.label)
            except TimeGridError:
                line = _snapped(t, float(tspec["tolerance"]), files[run.first[0]].time_eps)
                if line is None:
                    raise _uneven(t, run, files) from None
                log.info(
                    "%s: uniform steps written with round-off; times moved onto the line by up to %.2g",
                    run.label,
                    np.max(np.abs(line - t)),
                )
                t = line
            if not off:
                checked[id(run.time)] = t
        axes.append(t)
    lengths = np.array([len(t) for t in axes])
    m = int(lengths.min())
    if rs is not None and lengths.max() - m <= _grid_unit(rs):
        # runs of one nominal length end a little apart: the last grid point only some reach
        lengths = np.minimum(lengths, m)
    if lengths.max() != m:
        short, long_ = int(np.argmin(lengths)), int(np.argmax(lengths))
        if source["ragged"] != "truncate":
            (p_s, w_s), (p_l, w_l) = _where(runs[short], files), _where(runs[long_], files)
            raise IngestError(
                f"ragged time axes: {p_s}{w_s} has {m} samples but {p_l}{w_l} has {len(axes[long_])}; "
                "the store has one time axis: set "
                f"source.ragged: truncate to keep the first {m} samples of every trajectory, or fix the files"
            )
        log.warning("ragged time axes: keeping the first %d samples of every run (longest: %d)", m, lengths.max())
    ref = axes[0][:m]
    step = float(np.min(np.diff(ref)))
    tol = float(tspec["tolerance"]) * step
    for run, t in zip(runs[1:], axes[1:]):
        if t is axes[0]:
            continue
        bad = np.flatnonzero(np.abs(t[:m] - ref) > tol)
        if bad.size:
            i = int(bad[0])
            (path, where), (path0, where0) = _where(run, files), _where(runs[0], files)
            hint = " (source.time.start_at_zero: true aligns the starts)" if i == 0 and not zero else ""
            raise IngestError(
                f"{path}: variable 'time': the time axis{where} differs from that of {path0}{where0} at index "
                f"{i} ({t[i]} vs {ref[i]}); the store has one time axis{hint}"
            )
    try:
        grid = time_grid(ref, where="the store's time axis")
    except TimeGridError as exc:  # truncation can cut a burst short
        raise IngestError(f"source.time: {exc}") from None
    return TimeAxis(ref, grid, offsets, rs, _units(files, tspec))
