"""PRF21 Fig. 3: the exact energy H, the learned potential V after alignment, and their difference."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# the authors' contour levels of H (their test_ode_Langevin.py)
LEVELS = (0.04, 0.16, 0.36, 0.64, 1.0, 1.44)


def energy_figure(axes: np.ndarray, exact: np.ndarray, aligned: np.ndarray, *, alignment: str, error: float, title=""):
    """``axes`` (2, n): the grid's x and v axes; ``exact`` and ``aligned`` (n·n,) in meshgrid order."""
    n = axes.shape[1]
    xx, vv = np.meshgrid(axes[0], axes[1])
    H, V = exact.reshape(n, n), aligned.reshape(n, n)
    fig, ax = plt.subplots(1, 3, figsize=(12.5, 3.8))
    lo, hi = float(min(H.min(), V.min())), float(max(H.max(), V.max()))
    extent = (axes[0, 0], axes[0, -1], axes[1, 0], axes[1, -1])
    panels = [
        (H, "exact energy H = v²/2 + U(x)"),
        (V, f"learned V, aligned ({alignment})"),
        (V - H, f"difference (relative L² error {error:.2%})"),
    ]
    for i, (field, name) in enumerate(panels):
        diff = i == 2
        lim = float(np.abs(field).max())
        im = ax[i].imshow(
            field,
            origin="lower",
            extent=extent,
            aspect="auto",
            cmap="RdBu_r" if diff else "viridis",
            vmin=-lim if diff else lo,
            vmax=lim if diff else hi,
        )
        fig.colorbar(im, ax=ax[i], fraction=0.046)
        if not diff:
            cs = ax[i].contour(xx, vv, field, levels=[v for v in LEVELS if lo < v < hi], colors="w", linewidths=0.7)
            ax[i].clabel(cs, fontsize=6)
        ax[i].set_title(name, fontsize=9)
        ax[i].set_xlabel("x")
    ax[0].set_ylabel("v")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
