"""``onsagerflow info RESULT``: the provenance any result carries.

A path that is no result (a table, a log), or a result whose provenance cannot be read,
is a one-line error naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DamagedFileError, UserError
from .common import read_json

KEYS = ("onsagerflow_version", "git_sha", "config_sha256", "created")
KINDS = "a store (.zarr), a checkpoint folder, a metrics.json, or a figure (.png, .pdf)"


class NoProvenance(UserError, ValueError):
    """A path that is not a result carrying provenance."""


def provenance_of(path: str | Path) -> dict:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such result: {p}")
    if p.is_dir() and (p / "model.json").exists():
        meta = read_json(p / "model.json", "checkpoint record", needs=("provenance",))
        return {"kind": "checkpoint", **meta["provenance"], "versions": meta.get("versions")}
    if p.is_dir() and p.suffix == ".zarr":
        attrs = read_json(p / "zarr.json", "store metadata").get("attributes", {})
        out = {"kind": "store", "system": attrs.get("system"), **{k: attrs.get(k) for k in KEYS}}
        if "source_files" in attrs:  # an ingested store: where its data came from
            out["source_files"] = dict(zip(attrs["source_files"], attrs.get("source_sha256", [])))
        return out
    if p.suffix == ".json":
        data = read_json(p, "JSON result")
        if "provenance" in data:
            return {"kind": "metrics", **data["provenance"]}
    if p.suffix == ".png":
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(p) as im:
                return {"kind": "figure", **{k: im.info.get(k) for k in KEYS}}
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise DamagedFileError(f"{p}: cannot read the PNG ({exc}); rerun the figures rule") from None
    if p.suffix == ".pdf":
        import re

        m = re.search(rb"/Subject \(([^)]*)\)", p.read_bytes())  # save_figure puts JSON there
        if m:
            try:
                return {"kind": "figure", **json.loads(m.group(1).decode("latin-1").replace("\\", ""))}
            except json.JSONDecodeError as exc:
                raise DamagedFileError(f"{p}: the provenance in the PDF is damaged ({exc})") from None
    raise NoProvenance(f"{p}: no provenance found; info reads {KINDS}")


def run(path: str) -> None:
    """Print the provenance; a wrong path fails through the CLI's one error path (one line)."""
    for k, v in provenance_of(path).items():
        if k == "source_files":
            print(f"{k:22s} {len(v)} file(s), sha256:")
            for f, h in v.items():
                print(f"  {h}  {f}")
            continue
        if isinstance(v, dict):
            v = ", ".join(f"{a}={b}" for a, b in v.items())
        print(f"{k:22s} {v}")
