"""True vs learned long-time dynamics in state space, fixed points marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .common import fixed_point_style


def attractor_figure(truth: np.ndarray | None, models: dict[str, np.ndarray],
                     fixed_points: dict[str, list[dict]], exact: np.ndarray | None,
                     labels=("x", "y", "z"), n_show: int = 3, title: str = ""):
    """``truth`` and ``models[name]`` are long rollouts (start, time, 3) from the same starts."""
    panels = ([("truth", truth)] if truth is not None else []) + list(models.items())
    fig = plt.figure(figsize=(4.2 * len(panels), 4.2))
    for i, (name, xs) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1, projection="3d")
        for k in range(min(n_show, xs.shape[0])):
            x = xs[k][np.isfinite(xs[k]).all(axis=-1)]
            ax.plot(x[:, 0], x[:, 1], x[:, 2], lw=0.4, alpha=0.8)
        if exact is not None:
            ax.scatter(*np.asarray(exact).T, marker="+", s=80, c="r", depthshade=False,
                       label="exact fixed points")
        for p in fixed_points.get(name, []):
            ax.scatter(*np.asarray(p["x"])[:, None], s=40, depthshade=False, **fixed_point_style(p["kind"]))
        ax.set_xlabel(labels[0]); ax.set_ylabel(labels[1]); ax.set_zlabel(labels[2])
        ax.set_title(name)
        if i == 0 and exact is not None:
            ax.legend(loc="upper left", fontsize=7)
    fig.suptitle(title + "  (learned fixed points: ● stable, ○ unstable, ✕ saddle)", fontsize=9)
    return fig
