"""The second pass: batches of trajectories read from their files in canonical axis order
and assembled as canonical Datasets for the atomic store writer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..schema import build_dataset
from .check import IngestError, check_finite
from .map import FileMap, VarMap
from .open import Reader, open_reader
from .plan import Plan, where


def _read(reader: Reader | None, f: FileMap, v: VarMap, ks: slice, m: int) -> np.ndarray:
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
                    check_finite(
                        a, f.path, v.name, lambda i, f=f, k0=sl.start: where(f, k0 + i) or " (its only trajectory)"
                    )
                    pieces[name].append(a)
            finally:
                if reader is not None:
                    reader.close()
        ids = np.arange(start, start + len(chunk), dtype=np.int64)
        tcoords = {
            "source_file": np.array([u[0] for u in chunk], np.int32),
            "source_index": np.array([_source_index(u[1], u[2]) for u in chunk], np.int64),
        }
        for coord in source["trajectory_parameters"]:
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


def _source_index(f: FileMap, k: int) -> int:
    """Where a trajectory sits in its file: its index, or its integer id in a CSV."""
    if f.labels is not None and np.asarray(f.labels).dtype.kind in "iu":
        return int(f.labels[k])
    return k
