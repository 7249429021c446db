"""The learned potential V on the plane through three fixed points."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..data.cf import with_units
from .common import fixed_point_style


def plane_through(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(origin, orthonormal basis (2, n)) of the plane through three non-collinear points."""
    p = np.asarray(points, float)[:3]
    e1 = p[1] - p[0]
    e1 /= np.linalg.norm(e1)
    v = p[2] - p[0]
    e2 = v - (v @ e1) * e1
    norm = np.linalg.norm(e2)
    if norm < 1e-9 * np.linalg.norm(v):
        raise ValueError("the three points are collinear")
    return p.mean(axis=0), np.stack([e1, e2 / norm])


def potential_figure(
    potential,
    origin: np.ndarray,
    basis: np.ndarray,
    *,
    extent: float,
    learned: list[dict],
    exact: np.ndarray | None,
    traj: np.ndarray | None = None,
    n_grid: int = 121,
    title: str = "",
    units: str = "1",
):
    """Contours of ``potential`` (a batched function of physical states) on the plane;
    ``units`` those of the states (the plane's coordinates share them)."""
    s = np.linspace(-extent, extent, n_grid)
    a, b = np.meshgrid(s, s)
    pts = origin + a[..., None] * basis[0] + b[..., None] * basis[1]
    v = np.asarray(potential(pts.reshape(-1, pts.shape[-1]))).reshape(a.shape)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    cs = ax.contourf(a, b, np.log10(v - v.min() + 1e-3 * (v.max() - v.min()) + 1e-12), levels=30, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="log₁₀(V − min V + ε)")

    def proj(x):
        d = np.asarray(x, float) - origin
        return d @ basis[0], d @ basis[1]

    if traj is not None:
        good = np.isfinite(traj).all(axis=-1)
        ax.plot(*proj(traj[good]), color="w", lw=0.4, alpha=0.7, label="a true trajectory (projected)")
    if exact is not None:
        ex, ey = proj(exact)
        ax.scatter(ex, ey, marker="+", s=90, c="r", label="exact fixed points")
    for p in learned:
        u, w = proj(np.asarray(p["x"])[None])
        ax.scatter(u, w, s=45, **fixed_point_style(p["kind"]))
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_xlabel(with_units("plane coordinate 1", units))
    ax.set_ylabel(with_units("plane coordinate 2", units))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return fig
