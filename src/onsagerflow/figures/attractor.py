"""True vs learned long-time dynamics in state space, fixed points marked."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .common import fixed_point_style


def attractor_figure(
    truth: np.ndarray | None,
    models: dict[str, np.ndarray],
    fixed_points: dict[str, list[dict]],
    exact: np.ndarray | None,
    labels=None,
    n_show: int = 3,
    title: str = "",
):
    """``truth`` and ``models[name]`` are long rollouts (start, time, n) from the same
    starts; drawn in 3D (the first three components) or, for n = 2, in the plane. ``labels``
    name the axes (the store's component labels with their units; default c1, c2, c3)."""
    panels = ([("truth", truth)] if truth is not None else []) + list(models.items())
    d = min(3, panels[0][1].shape[-1])
    labels = labels or tuple(f"c{i + 1}" for i in range(d))
    extra = {"depthshade": False} if d == 3 else {}
    fig = plt.figure(figsize=(4.2 * len(panels), 4.2))
    for i, (name, xs) in enumerate(panels):
        ax: Any = fig.add_subplot(1, len(panels), i + 1, **({"projection": "3d"} if d == 3 else {}))  # 2D or 3D
        for k in range(min(n_show, xs.shape[0])):
            x = xs[k][np.isfinite(xs[k]).all(axis=-1)]
            ax.plot(*x[:, :d].T, lw=0.4, alpha=0.8)
        if exact is not None:
            ax.scatter(*np.asarray(exact)[:, :d].T, marker="+", s=80, c="r", label="exact fixed points", **extra)
        for p in fixed_points.get(name, []):
            ax.scatter(*np.asarray(p["x"])[:d, None], s=40, **extra, **fixed_point_style(p["kind"]))
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        if d == 3:
            ax.set_zlabel(labels[2])
        ax.set_title(name)
        if i == 0 and exact is not None:
            ax.legend(loc="upper left", fontsize=7)
    fig.suptitle(title + "  (learned fixed points: ● stable, ○ unstable, ✕ saddle)", fontsize=9)
    return fig
