"""Dimension reduction of field data: PCA fitted on the train split only, out of core.

Each field is centred by its train mean (per grid point) and divided by its train RMS
(one number per field), so that velocities and temperature weigh alike; the stacked
fields of every snapshot are one row of X. A vector field (a ``component`` axis) adds one
block of columns per component, scaled by one RMS for the whole vector. The leading right
singular vectors of the train rows come from dask's randomized SVD, chunk by chunk, so a
store larger than memory works. Projections h = X Vᵀ of every trajectory form a latent store.

On a non-uniform grid (a Chebyshev grid crowds its points near the walls) the store
carries each grid axis's quadrature weights (``z_weight``, ``x_weight``: data.ingest).
Every column is then multiplied by the square root of its point's weight w (normalised to
mean 1 over the grid), so that sums over columns are the L² inner product
⟨f, g⟩ = Σ w f g ≈ (N/|Ω|) ∫ f g dΩ and the PCA and its reconstruction errors measure
fields as functions, not as lists of grid values; the RMS that scales each field is the
weighted one. On a uniform grid (or a store without weights) w = 1 and nothing changes.

With a mirror (a symmetry of the data that permutes grid points and flips the sign of some
fields: ``grid_mirror``), the PCA is that of the train rows and their mirror images. Its
covariance then commutes with the mirror, and every component is even or odd under it
(``PCA.parity``): the coordinates of a mirrored field are P h, P = diag(parity).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from ..data import read_zarr, split_mask
from ..data.store import write_zarr
from ..lazy_import import lazy

if TYPE_CHECKING:
    import dask.array as da
else:  # loaded when a fit or a transform first needs it: evaluations and figures only load a PCA
    da = lazy("dask.array")

ROW_BLOCK_MB = 4
COMPONENT = "component"  # a vector field's component axes are named component, component_2, ...
WEIGHT_SUFFIX = "_weight"  # coordinate of a grid axis's quadrature weights (data.ingest.weight_name)


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
    channels: tuple[int, ...] | None = None  # columns blocks per field (a vector's components); None: 1 each
    weights: np.ndarray | None = None  # (grid size,) quadrature weights, mean 1; None: uniform
    parity: np.ndarray | None = None  # (k,) ±1 under the mirror the fit used; None: no mirror

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        return self.singular_values**2 / self.total_variance

    @property
    def field_channels(self) -> tuple[int, ...]:
        return self.channels or (1,) * len(self.fields)

    @property
    def scale_vector(self) -> np.ndarray:
        size = int(np.prod(self.shape))
        return np.repeat(self.field_scale, np.asarray(self.field_channels) * size)

    @property
    def sqrt_weight_vector(self) -> np.ndarray | None:
        """√w per column (None on a uniform grid)."""
        if self.weights is None:
            return None
        return np.tile(np.sqrt(self.weights), sum(self.field_channels))

    def field_block(self, field: str) -> slice:
        """Columns of a field's (first component's) values."""
        size = int(np.prod(self.shape))
        k = self.fields.index(field)
        start = sum(self.field_channels[:k]) * size
        return slice(start, start + size)

    def rows(self, ds: xr.Dataset) -> da.Array:
        """X (trajectory·time, D) as a dask array, one block per trajectory chunk."""
        return rows(ds, self.fields, self.select)

    def scaled(self, X):
        """Rows centred, scaled and weighted: the space the components live in."""
        Xs = (X - self.mean) / self.scale_vector
        w = self.sqrt_weight_vector
        return Xs if w is None else Xs * w

    def transform_rows(self, X):
        return self.scaled(X) @ self.components.T

    def pad(self, h: np.ndarray) -> np.ndarray:
        """Leading PCA coordinates (…, j ≤ k) as all k, the rest zero (a truncated chart)."""
        h = np.asarray(h)
        k = self.components.shape[0]
        return np.concatenate([h, np.zeros((*h.shape[:-1], k - h.shape[-1]))], axis=-1)

    def inverse_rows(self, H):
        """Fields (…, D) from latents (…, k) — the PCA reconstruction."""
        Xs = H @ self.components
        w = self.sqrt_weight_vector
        return (Xs if w is None else Xs / w) * self.scale_vector + self.mean

    def transform(self, ds: xr.Dataset) -> da.Array:
        """Latents (trajectory, time, k), lazily."""
        n_traj, n_time = ds.sizes["trajectory"], ds.sizes["time"]
        X = self.rows(ds)
        k = self.components.shape[0]
        H = da.map_blocks(self.transform_rows, X, chunks=(X.chunks[0], (k,)), dtype=np.float64)
        return H.reshape(n_traj, n_time, k)

    def to_dataset(self, attrs: dict) -> xr.Dataset:
        data = {
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
        }
        if self.parity is not None:
            data["parity"] = (
                "component",
                self.parity,
                {"long_name": "+1: the component is even under the mirror, -1: odd (reduction.symmetry)"},
            )
        if self.weights is not None:
            data["grid_weight"] = (
                "grid_point",
                self.weights,
                {"long_name": "quadrature weight of each grid point in the L2 inner product (mean 1)"},
            )
        return xr.Dataset(
            data,
            attrs={
                "title": f"PCA of {', '.join(self.fields)} on the train split",
                "fields": list(self.fields),
                "shape": list(self.shape),
                "channels": list(self.field_channels),
                "total_variance": self.total_variance,
                "select": json.dumps(self.select or {}),
                "symmetry": "mirror" if self.parity is not None else "none",
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
            channels=tuple(ds.attrs["channels"]) if "channels" in ds.attrs else None,
            weights=ds["grid_weight"].values if "grid_weight" in ds else None,
            parity=ds["parity"].values if "parity" in ds else None,
        )


@dataclass(frozen=True)
class Mirror:
    """A symmetry of the rows as a signed permutation of columns, an involution:
    the image of a row x is sign · x[perm]."""

    perm: np.ndarray  # (D,)
    sign: np.ndarray  # (D,) ±1

    def __call__(self, X):
        return X[..., self.perm] * self.sign


def grid_mirror(ds: xr.Dataset, fields: Sequence[str], axis: str, index: np.ndarray, signs: dict[str, float]) -> Mirror:
    """The Mirror of ``rows(ds, fields)``'s columns that takes grid index i along ``axis`` to
    index[i] and multiplies field f by signs[f] (scalar fields only)."""
    grid, channels = field_layout(ds, fields)
    if any(c != 1 for c in channels) or axis not in grid:
        raise ValueError(f"a mirror along '{axis}' needs scalar fields on a grid with that axis; got {grid}")
    shape = [ds.sizes[d] for d in grid]
    size = int(np.prod(shape))
    moved = np.take(np.arange(size).reshape(shape), index, axis=grid.index(axis)).ravel()
    mirror = Mirror(
        perm=np.concatenate([k * size + moved for k in range(len(fields))]),
        sign=np.repeat([float(signs[f]) for f in fields], size),
    )
    if not (np.array_equal(mirror.perm[mirror.perm], np.arange(mirror.perm.size)) and np.all(np.abs(mirror.sign) == 1)):
        raise ValueError(f"the map along '{axis}' is not a signed involution of the grid")
    return mirror


def _components(dims) -> list[str]:
    return [d for d in dims[2:] if d.startswith(COMPONENT)]


def field_layout(ds: xr.Dataset, fields: Sequence[str]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The grid dims every field shares, and each field's number of channels (components)."""
    if not fields:
        raise ValueError("no fields given: reduction.fields names at least one")
    grid: tuple[str, ...] = ()
    channels = []
    for i, f in enumerate(fields):
        comp = _components(ds[f].dims)
        g = tuple(str(d) for d in ds[f].dims[2:] if d not in comp)
        if i > 0 and g != grid:
            raise ValueError(f"field '{f}' lies on dims {g}, '{fields[0]}' on {grid}")
        grid = g
        channels.append(int(np.prod([ds.sizes[d] for d in comp])))
    return grid, tuple(channels)


def grid_weights(ds: xr.Dataset, grid: Sequence[str]) -> np.ndarray | None:
    """Quadrature weight of every grid point (C order over ``grid``), normalised to mean 1,
    from the store's ``<dim>_weight`` coordinates (a dim without one counts each point alike);
    None where every point weighs the same."""
    per_dim = [
        np.asarray(ds[d + WEIGHT_SUFFIX].values, np.float64) if d + WEIGHT_SUFFIX in ds.coords else np.ones(ds.sizes[d])
        for d in grid
    ]
    w = per_dim[0]
    for v in per_dim[1:]:
        w = np.multiply.outer(w, v)
    w = np.ravel(w)
    w = w / w.mean()
    return None if np.allclose(w, 1.0, rtol=1e-12, atol=0) else w


def rows(ds: xr.Dataset, fields: Sequence[str], select: dict | None = None) -> da.Array:
    missing = [f for f in fields if f not in ds]
    if missing:
        raise KeyError(f"store lacks field(s) {missing}; it has {sorted(map(str, ds.data_vars))}")
    if select:
        bad = [d for d in select if d not in ds.dims]
        if bad:
            raise KeyError(f"reduction.select names dimension(s) {bad} the store lacks ({sorted(map(str, ds.dims))})")
        ds = ds.isel({d: list(v) for d, v in select.items()})
    grid, channels = field_layout(ds, fields)
    n_traj, n_time = ds.sizes["trajectory"], ds.sizes["time"]
    blocks = []
    for f, c in zip(fields, channels):
        v = ds[f].transpose("trajectory", "time", *_components(ds[f].dims), *grid)
        a = da.asarray(v.data).rechunk({i: -1 for i in range(1, v.ndim)})
        blocks.append(a.reshape(n_traj, n_time, c, *[ds.sizes[d] for d in grid]))
    stacked = da.concatenate(blocks, axis=2) if len(blocks) > 1 else blocks[0]  # (traj, time, channel, ...)
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
    mirror: Mirror | None = None,
) -> PCA:
    """PCA of the train split's snapshots (randomized SVD, out of core); ``select`` keeps
    some indices of named dimensions (a polymer's x-coordinates: {"xyz": [0]}); ``mirror``:
    of the train snapshots and their mirror images, each component even or odd."""
    train = ds.isel(trajectory=np.flatnonzero(split_mask(ds, "train")))
    X = rows(train, fields, select)
    sel = ds.isel({d: list(v) for d, v in (select or {}).items()})
    grid, channels = field_layout(sel, fields)
    size = int(np.prod([sel.sizes[d] for d in grid]))
    weights = grid_weights(sel, grid)
    w = np.ones(size) if weights is None else weights
    width = np.asarray(channels) * size  # columns per field
    col_w = np.tile(w, sum(channels))
    # Each pass streams the store chunk by chunk and keeps only per-column results, so
    # memory holds a few chunks, never the train matrix.
    mean = X.mean(axis=0).compute()
    if mirror is not None:  # the mean over the rows and their images: an even field
        mean = 0.5 * (mean + mirror(mean))
    var = np.asarray(((X - mean) ** 2).mean(axis=0).compute())
    if mirror is not None:  # an image's column j is ±(its row's column perm[j]) about an even mean
        var = 0.5 * (var + var[mirror.perm])
        if weights is not None and not np.allclose(col_w, col_w[mirror.perm]):
            raise ValueError("the grid's quadrature weights are not symmetric under the mirror")
    wvar = var if weights is None else var * col_w
    field_ms = np.array([b.mean() for b in np.split(wvar, np.cumsum(width)[:-1])])  # weighted, mean w = 1
    scale = np.sqrt(np.where(field_ms > 0, field_ms, 1.0))
    Xs = (X - mean) / np.repeat(scale, width)
    if weights is not None:
        Xs = Xs * np.sqrt(col_w)
    k = min(n_components, *X.shape)
    svd = functools.partial(_leading_svd, k=k, power_iterations=power_iterations, seed=seed)
    parity = None
    if mirror is None:
        s, v = svd(Xs)
        rows_fitted = X.shape[0]
    else:
        s, v, parity = _mirror_svd(Xs, mirror, svd, k)
        rows_fitted = 2 * X.shape[0]
    # the scaled (and weighted) train rows have unit weighted mean square in every field
    # that varies at all
    total = rows_fitted * float(np.sum(width * (field_ms > 0)))
    return PCA(
        fields=tuple(fields),
        shape=tuple(sel.sizes[d] for d in grid),
        mean=np.asarray(mean),
        field_scale=scale,
        components=np.asarray(v),
        singular_values=np.asarray(s),
        total_variance=float(total),
        select=select or None,
        channels=channels if any(c != 1 for c in channels) else None,
        weights=weights,
        parity=parity,
    )


def _leading_svd(Xs, *, k: int, power_iterations: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The k leading singular values and right singular vectors of Xs."""
    # compute=True: every power iteration re-reads the chunks instead of keeping them.
    # iterator="QR" re-orthonormalises between power iterations: plain power iterations raise
    # the spectrum to the (2q+1)-th power, and with the spread of field PCA spectra (10³ and
    # more) that buries every component past the first few in round-off (RBC: PCs 9–16 came
    # out up to 10× too small; polymer: PCs 4–8 20× too small).
    _, s, v = da.linalg.svd_compressed(Xs, k=k, iterator="QR", n_power_iter=power_iterations, seed=seed, compute=True)
    s, v = da.compute(s, v)
    return np.asarray(s), np.asarray(v)


def _mirror_svd(Xs, mirror: Mirror, svd, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k leading singular values and right vectors of [Xs; M(Xs)], and each vector's parity.

    With E = (Xs + M Xs)/2 and O = (Xs − M Xs)/2, [Xs; M Xs]ᵀ[Xs; M Xs] = 2(EᵀE + OᵀO) and the
    rows of E (O) lie in the even (odd) subspace: the spectrum is that of E and of O together,
    singular values times √2. Fitting the two apart makes each vector's parity exact, where a
    randomized SVD of the stacked rows could mix an even and an odd vector of nearly equal
    singular values."""
    parts = []
    for p in (1.0, -1.0):  # whole rows per block (``rows``), so the mirror maps within a block
        part = da.map_blocks(lambda b, p=p: 0.5 * (b + p * mirror(b)), Xs, dtype=Xs.dtype)
        s, v = svd(part)
        parts.append((np.sqrt(2.0) * s, v, np.full(s.size, p)))
    s = np.concatenate([q[0] for q in parts])
    v = np.concatenate([q[1] for q in parts])
    parity = np.concatenate([q[2] for q in parts])
    order = np.argsort(-s, kind="stable")[:k]
    s, v, parity = s[order], v[order], parity[order]
    measured = np.einsum("kd,kd->k", v, mirror(v))  # v·Mv: +1 even, −1 odd
    if not np.allclose(measured, parity, rtol=0, atol=1e-8):
        worst = int(np.argmax(np.abs(measured - parity)))
        raise RuntimeError(f"PC {worst + 1}: v·Mv = {measured[worst]:.3g}, not its parity {parity[worst]:+.0f}")
    return s, v, parity.astype(np.int8)
