"""Saving figures as PNG and PDF, atomically, with provenance in their metadata."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..data import atomic_path

MODEL_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink"]


def save_figure(fig, stem: str | Path, provenance: dict, title: str = "") -> list[Path]:
    """Write ``stem``.png and ``stem``.pdf; PNG text chunks and the PDF's Subject hold
    the provenance (package version, git commit, config hash)."""
    stem = Path(stem)
    written = []
    for ext in ("png", "pdf"):
        path = stem.with_suffix("." + ext)
        if ext == "png":
            meta = {
                "Title": title,
                "Software": f"onsagerflow {provenance.get('onsagerflow_version')}",
                **{k: str(v) for k, v in provenance.items()},
            }
        else:
            meta = {
                "Title": title,
                "Subject": json.dumps(provenance, sort_keys=True),
                "Creator": f"onsagerflow {provenance.get('onsagerflow_version')}",
            }
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight", metadata=meta)
        written.append(path)
    plt.close(fig)
    return written


def fixed_point_style(kind: str) -> dict:
    """Filled circle for a stable point, open circle for unstable, cross for a saddle."""
    if kind.startswith("stable"):
        return {"marker": "o", "facecolors": "k", "edgecolors": "k"}
    if kind.startswith("saddle"):
        return {"marker": "X", "facecolors": "w", "edgecolors": "k"}
    return {"marker": "o", "facecolors": "none", "edgecolors": "k"}


def critical_point_style(kind: str) -> dict:
    """A critical point of V by its type: filled circle a minimum, cross an index-1 saddle,
    diamond a higher saddle, open circle a maximum or a degenerate point."""
    if kind == "minimum":
        return {"marker": "o", "facecolors": "k", "edgecolors": "k"}
    if kind == "index-1 saddle":
        return {"marker": "X", "facecolors": "w", "edgecolors": "k"}
    if kind.endswith("saddle"):
        return {"marker": "D", "facecolors": "w", "edgecolors": "k"}
    return {"marker": "o", "facecolors": "none", "edgecolors": "k"}
