"""Atomic zarr v3 read/write of canonical stores.

A store is written into a hidden sibling folder and renamed into place only once it
is complete and valid, so it never appears half written, and a failed write leaves
what was there before untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
import warnings
from collections.abc import Hashable, Iterable, Iterator
from pathlib import Path

import numpy as np
import xarray as xr

from .schema import SchemaError, validate_dataset


class StoreError(OSError):
    """A store that is missing or cannot be read; the message names the file."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path; on success it replaces ``path`` (file or folder).

    A file is swapped in by one atomic rename. A folder cannot replace a folder
    atomically: the old one is moved aside, the new one renamed in, and the old one
    put back if that fails, so a failed write never loses what was there.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = target.with_name(f".{target.name}.tmp-{tag}")
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to {tmp} for {target}")
        if not tmp.is_dir() or not target.exists():
            os.replace(tmp, target)
        else:
            old = target.with_name(f".{target.name}.old-{tag}")
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except BaseException:
                os.replace(old, target)
                raise
            _remove(old)
    finally:
        if tmp.exists():
            _remove(tmp)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def trajectory_chunk(ds: xr.Dataset, target_mb: float = 16.0) -> int:
    """Trajectories per chunk so that the largest variable's chunks hold about ``target_mb``."""
    per_traj = max(
        v.dtype.itemsize * int(np.prod([ds.sizes[d] for d in v.dims if d != "trajectory"]))
        for v in ds.data_vars.values()
    )
    return int(max(1, min(ds.sizes["trajectory"], (target_mb * 2**20) // max(per_traj, 1))))


def _prepare(ds: xr.Dataset, chunk: int | None = None) -> xr.Dataset:
    ds = ds.copy()
    for name, v in ds.variables.items():
        v.encoding = {}
        if v.dtype.kind == "U":
            # labels as variable-length strings: zarr v3 specifies those, not fixed-width ones
            ds[name] = v.astype(object)
    if chunk is None:
        return ds
    # chunks along trajectory only: every other dimension whole
    return ds.chunk({"trajectory": chunk, **{d: -1 for d in ds.dims if d != "trajectory"}})


def _consolidate(path: Path) -> None:
    """Consolidated metadata, so that xarray opens the store without a warning (zarr warns
    that consolidation is not yet part of the v3 specification; zarr and xarray read it)."""
    import zarr

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        zarr.consolidate_metadata(str(path))


def write_zarr(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write any Dataset that is not a canonical store (a PCA, long rollouts) atomically as
    zarr v3, with its CF attributes (``cf.annotate``) and consolidated metadata.

    Args:
        ds: the Dataset.
        path: where the store goes.

    Returns:
        ``path``.
    """
    from .cf import annotate

    target = Path(path)
    with atomic_path(target) as tmp:
        _prepare(annotate(ds)).to_zarr(tmp, mode="w", zarr_format=3, consolidated=False)
        _consolidate(tmp)
    return target


def write_store(
    data: xr.Dataset | Iterable[xr.Dataset],
    path: str | os.PathLike,
    *,
    dims: Iterable[Hashable] = (),
    chunk_mb: float = 16.0,
    allow_nan: bool = False,
) -> Path:
    """Validate and write a canonical store atomically, with consolidated metadata.

    The whole store is validated again, lazily, before it is moved into place; until then
    a store already at ``path`` stays as it was.

    Args:
        data: one Dataset, or an iterable of Datasets that are consecutive batches along
            ``trajectory`` (a simulator streams a store larger than memory this way).
        path: where the store goes (``….zarr``).
        dims: the system's own dimensions the store must have (``state``; ``z``, ``x``).
        chunk_mb: about how many MB one chunk (a run of whole trajectories) holds.
        allow_nan: admit NaN (rollouts that escaped), never inf.

    Returns:
        ``path``.

    Raises:
        SchemaError: a batch or the whole store breaks the schema (the message names it).
    """
    dims = tuple(dims)
    target = Path(path)
    batches = [data] if isinstance(data, xr.Dataset) else data
    with atomic_path(target) as tmp:
        chunk = None
        for i, batch in enumerate(batches):
            validate_dataset(batch, dims=dims, where=f"{target} (batch {i})", check_leak=False, allow_nan=allow_nan)
            if chunk is None:
                chunk = trajectory_chunk(batch, chunk_mb)
                _prepare(batch, chunk).to_zarr(tmp, mode="w", zarr_format=3, consolidated=False)
            else:
                _prepare(batch, chunk).to_zarr(tmp, append_dim="trajectory", zarr_format=3, consolidated=False)
        if chunk is None:
            raise SchemaError(f"{target}: no data to write")
        _consolidate(tmp)
        with xr.open_zarr(tmp, consolidated=True) as written:
            validate_dataset(written, dims=dims, where=str(target), allow_nan=allow_nan)
    return target


def read_zarr(path: str | os.PathLike) -> xr.Dataset:
    """Open any zarr store lazily; a missing or unreadable one raises StoreError naming it."""
    p = Path(path)
    if not p.exists():
        raise StoreError(f"store not found: {p}")
    try:
        with warnings.catch_warnings():
            # Snakemake drops a timestamp file into directory outputs such as this store.
            warnings.filterwarnings("ignore", message=".*snakemake_timestamp.*")
            return xr.open_zarr(p, consolidated=False)
    except Exception as exc:  # zarr raises many kinds for a malformed store
        raise StoreError(f"cannot read store {p}: {type(exc).__name__}: {exc}") from exc


def open_store(
    path: str | os.PathLike, *, dims: Iterable[str] = (), validate: bool = True, allow_nan: bool = False
) -> xr.Dataset:
    """Open a canonical store lazily (dask) and check it against the schema.

    Args:
        path: the store.
        dims: the system's own dimensions it must have.
        validate: check the schema (NaN, dimensions, splits, attributes).
        allow_nan: admit NaN in data variables (prediction stores).

    Returns:
        The Dataset, backed by dask arrays.

    Raises:
        StoreError: the store is missing or unreadable.
        SchemaError: it breaks the schema.
    """
    p = Path(path)
    ds = read_zarr(p)
    if validate:
        validate_dataset(ds, dims=dims, where=str(p), allow_nan=allow_nan)
    return ds
