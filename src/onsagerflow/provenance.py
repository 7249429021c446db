"""Provenance stamps: package version, git commit and config hash on every result."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._version import __version__


def config_sha256(spec: Mapping[str, Any]) -> str:
    """Hash of a config subset, stable under key order."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def git_sha(where: str | Path | None = None) -> str:
    """Commit of the workflow checkout (cwd first, then the package's own tree).

    A checkout with uncommitted changes to tracked files gets a ``-dirty`` suffix,
    so a result never claims a commit it was not made from.
    """
    for base in (Path(where) if where else Path.cwd(), Path(__file__).resolve().parent):
        try:
            sha = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=base, capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=base,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            return sha + ("-dirty" if dirty else "")
        except (OSError, subprocess.SubprocessError):
            continue
    return "unknown"


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("onsagerflow", "jax", "jaxlib", "flax", "optax", "diffrax", "optimistix", "numpy", "xarray", "zarr"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def stamp(spec: Mapping[str, Any]) -> dict[str, str]:
    """The provenance every store, checkpoint, metrics file and figure carries.

    Args:
        spec: the config slice the result was made from.

    Returns:
        ``onsagerflow_version``, ``git_sha`` (``-dirty`` with uncommitted changes),
        ``config_sha256`` of ``spec`` and ``created`` (UTC, ISO 8601).
    """
    return {
        "onsagerflow_version": __version__,
        "git_sha": git_sha(),
        "config_sha256": config_sha256(spec),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
