"""The second pass: batches of runs, sized by bytes, read from their files in canonical
axis order, joined along time, put on the store's time axis (the first samples, or an
interpolation onto the resample grid) and assembled as canonical Datasets for the atomic
store writer. Each file a batch needs is opened once for the batch."""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Iterator, Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..schema import build_dataset
from .check import IngestError, check_finite
from .map import FileMap, VarMap
from .open import Reader, open_reader
from .plan import Plan, size_along, weight_name, where
from .resample import interpolate

log = logging.getLogger("onsagerflow.ingest")

MB = 2**20
BYTES_PER_VALUE = 8  # float64: what a run costs in memory once read and interpolated


def read_piece(reader: Reader | None, f: FileMap, v: VarMap, ks: slice, m: int | None) -> np.ndarray:
    """Canonical (trajectory, time, ...) array of trajectories ``ks`` of one file, its
    first ``m`` samples (all where m is None)."""
    if f.fmt == "csv":
        rows = [np.stack([np.asarray(p[k])[:m] for p in v.parts], axis=-1) for k in range(ks.start, ks.stop)]
        return np.stack(rows).astype(np.float64 if rows[0].dtype.kind in "iub" else rows[0].dtype)
    if reader is None:  # only a CSV's columns are read whole in the planning pass
        raise IngestError(f"{f.path}: variable '{v.name}': a {f.fmt} file is read through an open reader")
    src = v.src_dims
    parts = []
    for name in v.parts:
        p, _ = reader.array(name)
        index = tuple(
            ks if d == "trajectory" else slice(0, m) if d == "time" else v.select[d] if d in v.select else slice(None)
            for d in src
        )
        a = np.asarray(p[index] if not isinstance(p, xr.Variable) else p[index].values)
        dims = tuple(d for d in src if d not in v.select)
        if "trajectory" not in dims:
            a, dims = a[None], ("trajectory", *dims)
        parts.append(a)
    if v.stacked is not None:
        a = np.stack(parts, axis=-1)
        dims = (*dims, v.stacked)
    else:
        a = parts[0]
    a = np.transpose(a, [dims.index(d) for d in v.out_dims])
    if a.dtype.kind in "iub":
        a = a.astype(np.float64)
    if a.dtype.kind not in "f":
        raise IngestError(f"{f.path}: variable '{v.name}': not numeric ({a.dtype})")
    return a


def run_bytes(p: Plan, r: int) -> int:
    """Memory one run takes once read: every variable, its whole joined time axis."""
    f = p.files[p.runs[r].first[0]]
    per_sample = sum(int(np.prod([size_along(f, v, d) for d in v.out_dims[2:]])) for v in f.vars.values())
    return BYTES_PER_VALUE * per_sample * max(len(p.runs[r].time), len(p.time))


def batch_ranges(p: Plan, limit_mb: float) -> Iterator[range]:
    """Consecutive runs whose data fit in ``limit_mb`` (at least one run per batch)."""
    limit = limit_mb * MB
    start, total = 0, 0
    for r in range(p.n):
        b = run_bytes(p, r)
        if r > start and total + b > limit:
            yield range(start, r)
            start, total = r, 0
        total += b
    yield range(start, p.n)


def _read_files(p: Plan, runs: range, source, m: int | None) -> dict[tuple[int, str], tuple[int, np.ndarray]]:
    """(file, variable) -> (first trajectory index, its block) for every piece of the batch."""
    need: dict[int, list[int]] = {}
    for r in runs:
        for i, k in p.runs[r].pieces:
            need.setdefault(i, []).append(k)
    out = {}
    for i, ks in need.items():
        f = p.files[i]
        sl = slice(min(ks), max(ks) + 1)
        # a CSV's columns were read whole in the planning pass (CSV files are small);
        # other formats are opened again and only this batch's trajectories read
        reader = open_reader(f.path, f.fmt, source) if f.fmt != "csv" else None
        try:
            for name, v in f.vars.items():
                a = read_piece(reader, f, v, sl, m)
                check_finite(a, f.path, name, lambda j, f=f, k0=sl.start: where(f, k0 + j) or " (its only trajectory)")
                out[(i, name)] = (sl.start, a)
        finally:
            if reader is not None:
                reader.close()
    return out


def batches(
    source: Mapping[str, Any],
    p: Plan,
    *,
    system: str,
    split: np.ndarray,
    attrs: Mapping[str, Any],
    report: dict[str, list[float]] | None = None,
) -> Iterator[xr.Dataset]:
    """Consecutive canonical Datasets of runs, each at most ``source.batch_mb`` in memory;
    ``report`` collects each run's interpolation error estimate per variable."""
    rs = p.axis.resample
    m = len(p.time)
    names = list(source["variables"])
    single = all(len(run.pieces) == 1 for run in p.runs)
    report = {} if report is None else report
    t0 = time.perf_counter()
    for runs in batch_ranges(p, source["batch_mb"]):
        blocks = _read_files(p, runs, source, m if rs is None and single else None)
        data: dict[str, list[np.ndarray]] = {name: [] for name in names}
        errors = np.zeros(len(runs))
        for j, r in enumerate(runs):
            run = p.runs[r]
            for name in names:
                parts = [blocks[(i, name)][1][k - blocks[(i, name)][0]] for i, k in run.pieces]
                y = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
                if rs is None:
                    y = y[:m]
                else:
                    y, err = interpolate(run.time - p.axis.offsets[r], y, p.time, rs["order"])
                    report.setdefault(name, []).append(err)
                    errors[j] = np.fmax(errors[j], err)
                    if err > rs["max_error"]:
                        raise IngestError(
                            f"run '{run.label}': variable '{name}': interpolating onto the resample grid changes "
                            f"it by up to {err:.2%} of its RMS (estimated against an order-{rs['order'] + 2} "
                            f"spline), above source.time.resample.max_error ({rs['max_error']:.2%}): the samples "
                            "are too far apart for this order; raise the order, write the output more often, "
                            "or raise max_error"
                        )
                data[name].append(y)
        yield _dataset(p, runs, data, errors if rs is not None else None, system, split, attrs)
        done, spent = runs.stop, time.perf_counter() - t0
        log.info(
            "runs %d-%d of %d read and written (%.0f%%, %.1f s, about %.0f s left)",
            runs.start,
            done - 1,
            p.n,
            100.0 * done / p.n,
            spent,
            spent * (p.n - done) / done,
        )


def _dataset(p: Plan, runs: range, data, errors, system, split, attrs) -> xr.Dataset:
    ids = np.arange(runs.start, runs.stop, dtype=np.int64)
    first = [p.runs[r].first for r in runs]
    tcoords: dict[Hashable, np.ndarray] = {
        "source_file": np.array([i for i, _ in first], np.int32),
        "source_index": np.array([_source_index(p.files[i], k) for i, k in first], np.int64),
        "source_group": np.array([p.runs[r].group for r in runs], np.int32),
    }
    for coord in p.files[0].params:
        tcoords[coord] = np.array([p.files[i].params[coord][k] for i, k in first])
    if errors is not None:
        tcoords["interpolation_error"] = errors
    f0 = p.files[first[0][0]]
    data_vars = {name: (f0.vars[name].out_dims, np.stack(arrs), f0.vars[name].attrs) for name, arrs in data.items()}
    coords: dict[Hashable, tuple[Any, ...]] = {d: ((d,), values) for d, (values, _) in p.coords.items()}
    for d, (w, _) in p.weights.items():
        coords[weight_name(d)] = ((d,), w)
    ds = build_dataset(
        system=system,
        data_vars=data_vars,
        time=p.time,
        split=split[ids],
        trajectory=ids,
        trajectory_coords=tcoords,
        coords=coords,
        attrs=attrs,
    )
    ds["time"].attrs.update(p.axis.attrs)
    for d, (_, cattrs) in p.coords.items():
        ds[d].attrs.update(cattrs)
    for d, (_, rule) in p.weights.items():
        ds[weight_name(d)].attrs.update(
            {
                "long_name": f"quadrature weight of the {d} grid",
                "units": p.coords[d][1].get("units", "1"),
                "quadrature_rule": rule,
            }
        )
    if errors is not None:
        ds["interpolation_error"].attrs.update(
            {
                "long_name": "estimated error of the interpolation onto the time grid, relative to the run's RMS "
                "(largest over variables)",
                "units": "1",
            }
        )
    return ds


def _source_index(f: FileMap, k: int) -> int:
    """Where a trajectory sits in its file: its index, or its integer id in a CSV."""
    if f.labels is not None and np.asarray(f.labels).dtype.kind in "iu":
        return int(f.labels[k])
    return k
