"""Figures of a reduced field system (PRF21 Sec. V): PCA spectrum, latent trajectories
with learned fixed points, decoded vs true temperature fields."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .common import MODEL_COLORS, fixed_point_style


def variance_figure(ratio: np.ndarray, marks=(3, 5, 7), title: str = ""):
    """Explained variance per PC and cumulative (PRF21 Fig. 9a)."""
    k = np.arange(1, len(ratio) + 1)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.semilogy(k, ratio, "o-", ms=3, label="per component")
    ax2 = ax.twinx()
    cum = np.cumsum(ratio)
    ax2.plot(k, cum, "s--", ms=3, color="tab:orange", label="cumulative")
    for m in marks:
        if m <= len(cum):
            ax2.annotate(
                f"{cum[m - 1]:.1%}",
                (m, cum[m - 1]),
                textcoords="offset points",
                xytext=(4, -12),
                fontsize=8,
                color="tab:orange",
            )
    ax.set_xlabel("principal component")
    ax.set_ylabel("explained variance ratio")
    ax2.set_ylabel("cumulative", color="tab:orange")
    ax2.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    return fig


def latent_figure(
    truth: dict[str, np.ndarray],
    preds: dict[str, np.ndarray],
    fixed_points: dict[str, list[dict]],
    steady: dict[str, list[np.ndarray]],
    n_show: int = 4,
    title: str = "",
):
    """Test trajectories in the (h1, h2) and (h1, −h3) planes (PRF21 Fig. 12): truth in
    grey, each model's rollout from the same start in colour, learned fixed points marked,
    the states the test trajectories settle on as red crosses. Every run has its own
    latent coordinates, so each row is one run."""
    rows = len(preds)
    fig, axes = plt.subplots(rows, 2, figsize=(8.4, 3.6 * rows), squeeze=False)
    for r, (name, pred) in enumerate(preds.items()):
        tr, col = truth[name], MODEL_COLORS[r % len(MODEL_COLORS)]
        for c, (i, j, sign) in enumerate([(0, 1, 1), (0, 2, -1)]):
            ax = axes[r, c]
            for k in range(min(n_show, tr.shape[0])):
                ax.plot(tr[k, :, i], sign * tr[k, :, j], color="0.6", lw=1.0)
                p = pred[k][np.isfinite(pred[k]).all(axis=-1)]
                ax.plot(p[:, i], sign * p[:, j], color=col, lw=0.9, ls="--")
            for h in steady.get(name, []):
                ax.scatter(h[i], sign * h[j], marker="+", s=90, c="r", zorder=5)
            for fp in fixed_points.get(name, []):
                x = np.asarray(fp["x"])
                ax.scatter(x[i], sign * x[j], s=45, zorder=6, **fixed_point_style(fp["kind"]))
            ax.set_xlabel("h1")
            ax.set_ylabel("h2" if c == 0 else "−h3")
            ax.set_title(f"{name}: grey truth, dashed model", fontsize=8)
    fig.suptitle(title + "  (red +: settled states; ● stable, ○ unstable, ✕ saddle fixed points)", fontsize=9)
    fig.tight_layout()
    return fig


SYMMETRIC_SHARE = 0.25  # a field whose smaller side reaches this share of its larger one is drawn about 0


def color_scale(values: np.ndarray) -> tuple[float, float, str]:
    """(vmin, vmax, colormap) fitted to the data: a diverging map symmetric about 0 for a
    field of both signs (a temperature deviation, a velocity), else a sequential map over
    the data's range (a buoyancy in [0, 1] is not drawn about 0)."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if lo < 0 < hi and min(-lo, hi) >= SYMMETRIC_SHARE * max(-lo, hi):
        m = max(-lo, hi)
        return -m, m, "RdBu_r"
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi, "viridis"


def temperature_figure(
    true_theta: np.ndarray,
    decoded: dict[str, np.ndarray],
    times: np.ndarray,
    x: np.ndarray,
    z: np.ndarray,
    title: str = "",
    label: str = "θ",
):
    """A field f(z, x) at a few times: the truth and each decoded prediction (rows), drawn
    at the grid's true coordinates (a Chebyshev grid's rows are thin near the walls), on
    one colour scale fitted to the truth."""
    rows = [("truth", true_theta)] + list(decoded.items())
    vmin, vmax, cmap = color_scale(true_theta)
    fig, axes = plt.subplots(len(rows), len(times), figsize=(2.6 * len(times), 1.6 * len(rows)), squeeze=False)
    for r, (name, th) in enumerate(rows):
        for c, t in enumerate(times):
            ax = axes[r, c]
            im = ax.pcolormesh(x, z, th[c], shading="nearest", cmap=cmap, vmin=vmin, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t = {t:g}", fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.8, label=label)
    fig.suptitle(title, fontsize=9)
    return fig


def deepest_stable_point(potential, fixed_points) -> np.ndarray | None:
    """The stable fixed point with the lowest potential V (batched over (m, d) states), or None."""
    stable = [np.asarray(p["x"], float) for p in fixed_points if p["kind"].startswith("stable")]
    if not stable:
        return None
    values = np.asarray(potential(np.stack(stable)), float)
    return stable[int(np.argmin(values))]


def potential_3d_figure(potential, lo, hi, fixed_points, trajectories, *, n_grid: int = 41, title: str = ""):
    """The learned potential V of a 3-coordinate run in 3D (PRF21's isosurface view, as slices):
    log V on the three coordinate planes through its deepest stable fixed point (else the box's
    centre), the fixed points, and test trajectories. ``potential`` is batched over (m, 3) states;
    ``lo``, ``hi`` the box of the data."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    center = deepest_stable_point(potential, fixed_points)
    if center is None:
        center = 0.5 * (lo + hi)
    lo, hi = np.minimum(lo, center), np.maximum(hi, center)  # the slices pass through the centre
    axes_ = [np.linspace(lo[i], hi[i], n_grid) for i in range(3)]
    fig = plt.figure(figsize=(7.0, 6.0))
    ax = fig.add_subplot(projection="3d")
    slices = []
    for k in range(3):  # the plane with coordinate k fixed at the centre's
        i, j = [m for m in range(3) if m != k]
        A, B = np.meshgrid(axes_[i], axes_[j], indexing="ij")
        pts = np.zeros((*A.shape, 3))
        pts[..., i], pts[..., j], pts[..., k] = A, B, center[k]
        v = np.asarray(potential(pts.reshape(-1, 3))).reshape(A.shape)
        slices.append((k, i, j, A, B, v))
    vmin = min(s[-1].min() for s in slices)
    vmax = max(s[-1].max() for s in slices)
    levels = np.linspace(0.0, np.log10(vmax - vmin + 1.0), 25)
    for k, i, j, A, B, v in slices:
        logv = np.log10(v - vmin + 1.0)
        coords = {i: A, j: B}
        X, Y, Z = (coords.get(m, np.full_like(A, center[k])) for m in range(3))
        ax.plot_surface(X, Y, Z, facecolors=plt.cm.viridis(logv / levels[-1]), shade=False, alpha=0.55, linewidth=0)
    for traj in trajectories:
        good = np.isfinite(traj).all(axis=-1)
        ax.plot(*traj[good, :3].T, color="0.2", lw=0.8)
    for p in fixed_points:
        x = np.asarray(p["x"], float)
        ax.scatter(*x[:3], s=40, depthshade=False, **fixed_point_style(p["kind"]))
    ax.set_xlabel("h1")
    ax.set_ylabel("h2")
    ax.set_zlabel("h3")
    mappable = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(levels[0], levels[-1]))
    fig.colorbar(mappable, ax=ax, shrink=0.6, label="log₁₀(V − min V + 1) on the slices")
    ax.set_title(title, fontsize=9)
    return fig
