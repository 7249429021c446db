"""Dimension reduction of field data: PCA fitted on the train split only, out of core.

Each field is centred by its train mean (per grid point) and divided by its train RMS
(one number per field), so that velocities and temperature weigh alike; the stacked
fields of every snapshot are one row of X. The leading right singular vectors of the
train rows come from dask's randomized SVD, chunk by chunk, so a store larger than
memory works. Projections h = X Vᵀ of every trajectory form a latent store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

from ..data import read_zarr, split_mask
from ..data.store import write_zarr

ROW_BLOCK_MB = 4


@dataclass
class PCA:
    fields: tuple[str, ...]
    shape: tuple[int, ...]  # grid shape of one field, e.g. (nz+1, nx)
    mean: np.ndarray  # (D,)
    field_scale: np.ndarray  # (F,)
    components: np.ndarray  # (k, D), orthonormal rows
    singular_values: np.ndarray  # (k,)
    total_variance: float  # sum of squares of the centred, scaled train rows
    select: dict | None = None  # indices kept along named dims, e.g. {"xyz": [0]}

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        return self.singular_values**2 / self.total_variance

    @property
    def scale_vector(self) -> np.ndarray:
        size = int(np.prod(self.shape))
        return np.repeat(self.field_scale, size)

    def rows(self, ds: xr.Dataset) -> da.Array:
        """X (trajectory·time, D) as a dask array, one block per trajectory chunk."""
        return rows(ds, self.fields, self.select)

    def transform_rows(self, X):
        return ((X - self.mean) / self.scale_vector) @ self.components.T

    def pad(self, h: np.ndarray) -> np.ndarray:
        """Leading PCA coordinates (…, j ≤ k) as all k, the rest zero (a truncated chart)."""
        h = np.asarray(h)
        k = self.components.shape[0]
        return np.concatenate([h, np.zeros((*h.shape[:-1], k - h.shape[-1]))], axis=-1)

    def inverse_rows(self, H):
        """Fields (…, D) from latents (…, k) — the PCA reconstruction."""
        return (H @ self.components) * self.scale_vector + self.mean

    def transform(self, ds: xr.Dataset) -> da.Array:
        """Latents (trajectory, time, k), lazily."""
        n_traj, n_time = ds.sizes["trajectory"], ds.sizes["time"]
        comps, mean, scale = self.components, self.mean, self.scale_vector
        X = self.rows(ds)
        H = X.map_blocks(  # type: ignore[call-arg]  # dask's stubs miss map_blocks' method form
            lambda b: ((b - mean) / scale) @ comps.T,  # type: ignore[arg-type]
            chunks=(X.chunks[0], (comps.shape[0],)),
            dtype=np.float64,
        )
        return H.reshape(n_traj, n_time, comps.shape[0])

    def to_dataset(self, attrs: dict) -> xr.Dataset:
        return xr.Dataset(
            {
                "mean": ("feature", self.mean, {"long_name": "train mean of the stacked fields"}),
                "field_scale": ("field", self.field_scale, {"long_name": "train RMS of each centred field"}),
                "components": (
                    ("component", "feature"),
                    self.components,
                    {"long_name": "principal directions of the centred, scaled fields (orthonormal rows)"},
                ),
                "singular_values": ("component", self.singular_values, {"long_name": "singular values"}),
                "explained_variance_ratio": (
                    "component",
                    self.explained_variance_ratio,
                    {"long_name": "fraction of the train variance per component"},
                ),
            },
            attrs={
                "title": f"PCA of {', '.join(self.fields)} on the train split",
                "fields": list(self.fields),
                "shape": list(self.shape),
                "total_variance": self.total_variance,
                "select": json.dumps(self.select or {}),
                **attrs,
            },
        )

    def save(self, path: str | Path, attrs: dict) -> None:
        write_zarr(self.to_dataset(attrs), path)

    @classmethod
    def load(cls, path: str | Path) -> PCA:
        ds = read_zarr(path).load()
        return cls(
            fields=tuple(ds.attrs["fields"]),
            shape=tuple(ds.attrs["shape"]),
            mean=ds["mean"].values,
            field_scale=ds["field_scale"].values,
            components=ds["components"].values,
            singular_values=ds["singular_values"].values,
            total_variance=float(ds.attrs["total_variance"]),
            select=json.loads(ds.attrs.get("select", "{}")) or None,
        )


def rows(ds: xr.Dataset, fields: Sequence[str], select: dict | None = None) -> da.Array:
    missing = [f for f in fields if f not in ds]
    if missing:
        raise KeyError(f"store lacks field(s) {missing}; it has {sorted(map(str, ds.data_vars))}")
    if select:
        bad = [d for d in select if d not in ds.dims]
        if bad:
            raise KeyError(f"reduction.select names dimension(s) {bad} the store lacks ({sorted(map(str, ds.dims))})")
        ds = ds.isel({d: list(v) for d, v in select.items()})
    dims = ds[fields[0]].dims
    for f in fields:
        if ds[f].dims != dims:
            raise ValueError(f"field '{f}' has dims {ds[f].dims}, '{fields[0]}' has {dims}")
    stacked = da.stack([ds[f].data for f in fields], axis=2)  # (traj, time, F, ...)
    stacked = stacked.rechunk({1: -1, 2: -1, **{i: -1 for i in range(3, stacked.ndim)}})
    n_traj, n_time = stacked.shape[:2]
    X = stacked.reshape(n_traj * n_time, -1).astype(np.float64)
    # float64 row blocks of about ROW_BLOCK_MB: the memory a pass holds is a few of them,
    # however large the store's chunks are
    per_row = X.shape[1] * 8
    return X.rechunk({0: max(1, int(ROW_BLOCK_MB * 2**20 // per_row)), 1: -1})


def fit_pca(
    ds: xr.Dataset,
    fields: Sequence[str],
    n_components: int,
    *,
    seed: int = 0,
    power_iterations: int = 4,
    select: dict | None = None,
) -> PCA:
    """PCA of the train split's snapshots (randomized SVD, out of core); ``select`` keeps
    some indices of named dimensions (a polymer's x-coordinates: {"xyz": [0]})."""
    train = ds.isel(trajectory=np.flatnonzero(split_mask(ds, "train")))
    X = rows(train, fields, select)
    F = len(fields)
    size = X.shape[1] // F
    # Each pass streams the store chunk by chunk and keeps only per-column results, so
    # memory holds a few chunks, never the train matrix.
    mean = X.mean(axis=0).compute()
    field_ms = np.asarray(((X - mean) ** 2).mean(axis=0).compute()).reshape(F, size).mean(axis=1)
    scale = np.sqrt(np.where(field_ms > 0, field_ms, 1.0))
    Xs = (X - mean) / np.repeat(scale, size)
    k = min(n_components, *X.shape)
    # compute=True: every power iteration re-reads the chunks instead of keeping them.
    # iterator="QR" re-orthonormalises between power iterations: plain power iterations raise
    # the spectrum to the (2q+1)-th power, and with the spread of field PCA spectra (10³ and
    # more) that buries every component past the first few in round-off (RBC: PCs 9–16 came
    # out up to 10× too small; polymer: PCs 4–8 20× too small).
    u, s, v = da.linalg.svd_compressed(Xs, k=k, iterator="QR", n_power_iter=power_iterations, seed=seed, compute=True)
    s, v = da.compute(s, v)
    # the scaled train rows have unit mean square in every field that varies at all
    total = X.shape[0] * size * float(np.sum(field_ms > 0))
    sel = ds[fields[0]].isel({d: list(v) for d, v in (select or {}).items()})
    return PCA(
        fields=tuple(fields),
        shape=tuple(sel.shape[2:]),
        mean=np.asarray(mean),
        field_scale=scale,
        components=np.asarray(v),
        singular_values=np.asarray(s),
        total_variance=float(total),
        select=select or None,
    )
