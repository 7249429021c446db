"""Atomic zarr v3 read/write of canonical stores.

A store is written into a hidden sibling folder and renamed into place only once it
is complete and valid, so it never appears half written, and a failed write leaves
what was there before untouched. A writer killed before its rename leaves that hidden
folder behind; the next write to the same target removes it.

Every chunk is written, even one that holds only the fill value (zarr skips those by
default), so a chunk missing on disk is damage, not data: reading it would give the fill
value (NaN, or 0 for integers) without a word. Reading checks that every chunk is there,
and a chunk that cannot be decoded (truncated, corrupt) is named by variable, chunk and
file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Hashable, Iterable, Iterator
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from ..errors import DamagedFileError, UserError
from .schema import SchemaError, validate_dataset

log = logging.getLogger("onsagerflow.data")

# Hidden siblings of a target while it is written: .NAME.tmp-PID-HEX (the new result) and
# .NAME.old-PID-HEX (the previous one, moved aside for the swap).
TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)-[0-9a-f]+")
WRITE_EMPTY_CHUNKS = {"array.write_empty_chunks": True}
REWRITE_HINT = "delete it and rerun the step that wrote it (Snakemake remakes a missing output)"


class StoreError(UserError, OSError):
    """A store that is missing or cannot be read; the message names the file."""


class DamagedStoreError(StoreError, DamagedFileError):
    """A store with a missing, truncated or corrupt chunk; the message names variable,
    chunk and file."""


# Stores this process opened: a failure deep inside a lazy computation (a chunk that
# cannot be decoded) is traced back to its store and chunk by checking these.
_opened: list[Path] = []


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _is_stale(entry: Path, pid: int) -> bool:
    """A temporary is stale when its writer is gone: no process has its pid any more, or
    the process that has it now started after the temporary was made (a reused pid)."""
    if pid == os.getpid():
        return False  # this process's own: another write of the same target in progress
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    started = _process_start(pid)
    try:
        return started is not None and entry.lstat().st_mtime < started
    except FileNotFoundError:
        return False


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Remove the hidden temporaries of ``target`` left by killed writers; never those of a
    writer still running. Returns what was removed."""
    target = Path(target)
    removed: list[Path] = []
    try:
        siblings = list(target.parent.iterdir())
    except FileNotFoundError:
        return removed
    for entry in siblings:
        m = TEMPORARY.fullmatch(entry.name)
        if m and m["name"] == target.name and _is_stale(entry, int(m["pid"])):
            _remove(entry)
            removed.append(entry)
            log.info("removed %s, left by a writer that was killed", entry)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path; on success it replaces ``path`` (file or folder).

    A file is swapped in by one atomic rename. A folder cannot replace a folder
    atomically: the old one is moved aside, the new one renamed in, and the old one
    put back if that fails, so a failed write never loses what was there. Temporaries
    of earlier writers of ``path`` that were killed are removed first. Zarr arrays
    written inside get every chunk on disk (module docstring).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = target.with_name(f".{target.name}.tmp-{tag}")
    try:
        with zarr.config.set(WRITE_EMPTY_CHUNKS):
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
                _prepare(batch, chunk).to_zarr(
                    tmp, mode="w", zarr_format=3, consolidated=False, write_empty_chunks=True
                )
            else:
                _prepare(batch, chunk).to_zarr(
                    tmp, append_dim="trajectory", zarr_format=3, consolidated=False, write_empty_chunks=True
                )
        if chunk is None:
            raise SchemaError(f"{target}: no data to write")
        _consolidate(tmp)
        with xr.open_zarr(tmp, consolidated=True) as written:
            validate_dataset(written, dims=dims, where=str(target), allow_nan=allow_nan)
    return target


def _arrays(p: Path) -> list[tuple[str, zarr.Array]]:
    group = zarr.open_group(p, mode="r")
    return sorted(group.arrays(), key=lambda item: item[0])


def _chunks(array: zarr.Array) -> Iterator[tuple[tuple[int, ...], str]]:
    """(chunk index, key relative to the array's folder) of every chunk of ``array``."""
    encode = getattr(array.metadata, "encode_chunk_key", None)
    if encode is None:  # not a zarr v3 array: no key scheme to check against
        return
    for idx in np.ndindex(*array.cdata_shape):
        yield idx, encode(idx)


def damage(path: str | os.PathLike, *, decode: bool = False) -> str | None:
    """The first damaged chunk of a store, as a one-line message, or None.

    Checks that every chunk of every array is on disk; with ``decode`` also reads each
    one (a truncated or corrupt chunk fails to decompress). Reading every chunk costs a
    full pass over the store, so that is done only once something has already failed.
    """
    p = Path(path)
    for name, array in _arrays(p):
        for idx, key in _chunks(array):
            file = p / name / key
            if not file.exists():
                return (
                    f"store {p}: variable '{name}': chunk {key} is missing (file {file}); the store is "
                    f"damaged: {REWRITE_HINT}"
                )
            if decode:
                try:
                    array.get_block_selection(idx)
                except Exception as exc:  # the codecs raise RuntimeError, ValueError, ...
                    return (
                        f"store {p}: variable '{name}': chunk {key} cannot be decoded "
                        f"({type(exc).__name__}: {exc}; file {file}, {file.stat().st_size} bytes): it is "
                        f"truncated or corrupt: {REWRITE_HINT}"
                    )
    return None


def read_zarr(path: str | os.PathLike) -> xr.Dataset:
    """Open any zarr store lazily; a missing or unreadable one, or one with a chunk
    missing, raises StoreError naming it (and the variable and chunk)."""
    p = Path(path)
    if not p.exists():
        raise StoreError(f"store not found: {p}")
    try:
        with warnings.catch_warnings():
            # Snakemake drops a timestamp file into directory outputs such as this store.
            warnings.filterwarnings("ignore", message=".*snakemake_timestamp.*")
            ds = xr.open_zarr(p, consolidated=False)
        problem = damage(p)
    except Exception as exc:  # zarr raises many kinds for a malformed store
        raise StoreError(
            f"cannot read store {p}: {type(exc).__name__}: {exc}; if it is damaged, {REWRITE_HINT}"
        ) from exc
    if problem:
        raise DamagedStoreError(problem)
    if p not in _opened:
        _opened.append(p)
    return ds


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
        DamagedStoreError: a chunk is missing or cannot be decoded (named by variable,
            chunk and file, also when the schema's NaN scan is what reads it).
        SchemaError: it breaks the schema.
    """
    p = Path(path)
    ds = read_zarr(p)
    if validate:
        try:
            validate_dataset(ds, dims=dims, where=str(p), allow_nan=allow_nan)
        except UserError:
            raise
        except Exception as exc:
            problem = damage(p, decode=True)
            if problem:
                raise DamagedStoreError(problem) from exc
            raise
    return ds


def _raised_in_zarr(failure: BaseException) -> bool:
    """Whether the failure (or one it arose from) was raised inside zarr or its codecs."""
    seen = set()
    exc: BaseException | None = failure
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            name = tb.tb_frame.f_globals.get("__name__", "")
            if name.split(".")[0] in ("zarr", "numcodecs"):
                return True
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__
    return False


def diagnose(exc: BaseException) -> DamagedStoreError | None:
    """For a failure raised inside zarr that is not a UserError: a damaged chunk in one of
    the stores this process opened, its likely cause (a codec error deep in a lazy
    computation names no file), or None. Reads those stores whole, so only on failure."""
    if not _raised_in_zarr(exc):
        return None
    for p in reversed(_opened):
        try:
            problem = damage(p, decode=True)
        except Exception:  # the store vanished or is unreadable now: not this failure's key
            continue
        if problem:
            err = DamagedStoreError(problem)
            err.__cause__ = exc
            return err
    return None
