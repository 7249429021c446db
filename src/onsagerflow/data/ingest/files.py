"""Which files a source names, their format, and their hashes (provenance)."""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .check import IngestError

FORMATS = ("netcdf", "hdf5", "zarr", "npz", "csv")
EXTENSIONS = {
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".cdf": "netcdf",
    ".netcdf": "netcdf",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".zarr": "zarr",
    ".npz": "npz",
    ".csv": "csv",
    ".tsv": "csv",
}


def resolve_files(source: Mapping[str, Any], base: str | os.PathLike | None = None) -> list[Path]:
    """The source's files in a stable order: each entry (path or glob) sorted, entries in
    the order given, duplicates dropped. A pattern that matches nothing is an error."""
    entries = source["files"]
    entries = [entries] if isinstance(entries, str) else list(entries)
    out: list[Path] = []
    for entry in entries:
        pattern = str(Path(base) / entry) if base is not None and not os.path.isabs(entry) else entry
        hits = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        hits = [h for h in hits if os.path.exists(h)]
        if not hits:
            raise FileNotFoundError(f"source.files: '{entry}' matches no file")
        for h in hits:
            p = Path(h)
            if p not in out:
                out.append(p)
    return out


def file_format(path: Path, declared: str) -> str:
    """``declared``, or (``auto``) the format its extension names."""
    if declared != "auto":
        return declared
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise IngestError(
            f"{path}: cannot infer the format from the extension '{path.suffix}'; "
            f"set source.format to one of {list(FORMATS)}"
        )
    return fmt


def sha256(path: Path) -> str:
    """Hash of a file, or of every file of a folder (a zarr store) in sorted order."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
