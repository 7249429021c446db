"""Relative error of rollouts vs time on held-out trajectories, models side by side."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .common import MODEL_COLORS


def error_figure(curves: dict[str, dict], threshold: float, title: str = "", time_label: str = "time"):
    """``curves[name]`` is metrics['relative_error'] (time, median, q10, q90); ``time_label``
    the time axis's label with its units (``cf.axis_label`` of the store's time)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    lowest = np.inf
    for i, (name, c) in enumerate(curves.items()):
        t = np.asarray(c["time"])
        keep = t > 0  # the error is zero at the shared start
        col = MODEL_COLORS[i % len(MODEL_COLORS)]
        q10, q90, med = (np.clip(np.asarray(c[k], float)[keep], 1e-12, 1e3) for k in ("q10", "q90", "median"))
        ax.fill_between(t[keep], q10, q90, color=col, alpha=0.2)
        ax.plot(t[keep], med, color=col, label=f"{name} (median, 10–90%)")
        lowest = min(lowest, float(np.min(q10)))
    if np.isfinite(lowest):
        ax.set_ylim(bottom=max(lowest / 2, 1e-12))
    ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"{threshold:.0%}")
    ax.set_yscale("log")
    ax.set_xlabel(time_label)
    ax.set_ylabel("relative error |x̂ − x| / |x|")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return fig
