"""``onsagerflow info RESULT``: the provenance any result carries."""

from __future__ import annotations

import json
from pathlib import Path

KEYS = ("onsagerflow_version", "git_sha", "config_sha256", "created")


def provenance_of(path: str | Path) -> dict:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such result: {p}")
    if p.is_dir() and (p / "model.json").exists():
        meta = json.loads((p / "model.json").read_text())
        return {"kind": "checkpoint", **meta["provenance"], "versions": meta.get("versions")}
    if p.is_dir() and p.suffix == ".zarr":
        attrs = json.loads((p / "zarr.json").read_text()).get("attributes", {})
        out = {"kind": "store", "system": attrs.get("system"), **{k: attrs.get(k) for k in KEYS}}
        if "source_files" in attrs:  # an ingested store: where its data came from
            out["source_files"] = dict(zip(attrs["source_files"], attrs.get("source_sha256", [])))
        return out
    if p.suffix == ".json":
        data = json.loads(p.read_text())
        if "provenance" in data:
            return {"kind": "metrics", **data["provenance"]}
    if p.suffix == ".png":
        from PIL import Image

        with Image.open(p) as im:
            return {"kind": "figure", **{k: im.info.get(k) for k in KEYS}}
    if p.suffix == ".pdf":
        import re

        m = re.search(rb"/Subject \(([^)]*)\)", p.read_bytes())  # save_figure puts JSON there
        if m:
            return {"kind": "figure", **json.loads(m.group(1).decode("latin-1").replace("\\", ""))}
    raise ValueError(f"{p}: no provenance found (expected a store, checkpoint, metrics.json, PNG or PDF)")


def run(path: str) -> None:
    try:
        provenance = provenance_of(path)
    except (FileNotFoundError, ValueError) as exc:  # a user's wrong path: one line, exit code 1
        raise SystemExit(f"onsagerflow info: {exc}") from None
    for k, v in provenance.items():
        if k == "source_files":
            print(f"{k:22s} {len(v)} file(s), sha256:")
            for f, h in v.items():
                print(f"  {h}  {f}")
            continue
        if isinstance(v, dict):
            v = ", ".join(f"{a}={b}" for a, b in v.items())
        print(f"{k:22s} {v}")
