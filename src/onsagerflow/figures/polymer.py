"""Figures of the polymer closure model (NCS24 Figs. 3–5 in spirit)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .common import critical_point_style

PLANES = [(0, 1), (0, 2), (1, 2)]


def landscape_figure(
    potential,
    lo: np.ndarray,
    hi: np.ndarray,
    critical: list[dict],
    trajectories: dict[str, np.ndarray],
    n_grid: int = 60,
    n_third: int = 40,
    title: str = "",
):
    """V on the (Z1, Z2), (Z1, Z3), (Z2, Z3) planes, minimised over the third coordinate (as
    NCS24's v(z1, z2) = min over z3 of V), with V's own critical points and a trajectory of
    each ensemble class. ``potential`` takes (…, 3)."""
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.2))
    for ax, (i, j) in zip(axes, PLANES):
        k = 3 - i - j
        a = np.linspace(lo[i], hi[i], n_grid)
        b = np.linspace(lo[j], hi[j], n_grid)
        c = np.linspace(lo[k], hi[k], n_third)
        A, B, C = np.meshgrid(a, b, c, indexing="ij")
        pts = np.zeros((*A.shape, 3))
        pts[..., i], pts[..., j], pts[..., k] = A, B, C
        v = np.asarray(potential(pts.reshape(-1, 3))).reshape(A.shape).min(axis=-1)
        cs = ax.contourf(a, b, (v - v.min()).T, levels=30, cmap="viridis")
        fig.colorbar(cs, ax=ax, shrink=0.85, label="V − min V" if i == 1 else None)
        for (name, z), col in zip(trajectories.items(), ("w", "tab:orange", "tab:red")):
            ax.plot(z[:, i], z[:, j], color=col, lw=1.0, label=f"{name} trajectory")
            ax.scatter(z[0, i], z[0, j], color=col, s=15)
        for p in critical:
            x = np.asarray(p["x"])
            ax.scatter(x[i], x[j], s=55, zorder=5, **critical_point_style(p["type"]))
        ax.set_xlabel(f"Z{i + 1}")
        ax.set_ylabel(f"Z{j + 1}")
        ax.set_xlim(lo[i], hi[i])
        ax.set_ylim(lo[j], hi[j])
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        title + "  (critical points of V: ● minimum, ✕ index-1 saddle, ◇ higher saddle, ○ maximum;"
        " V minimised over the third coordinate)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def extension_figure(t: np.ndarray, groups: dict[str, dict], title: str = "", time_label: str = "time"):
    """Mean ± std of the extension vs time, predicted against held out, per ensemble;
    ``time_label`` names the time axis with its units."""
    fig, axes = plt.subplots(1, len(groups), figsize=(5.0 * len(groups), 3.8), squeeze=False)
    for ax, (name, g) in zip(axes[0], groups.items()):
        for key, col, lab in (("true", "k", "held out"), ("pred", "tab:red", "S-OnsagerNet")):
            # None (from JSON) where every path had escaped: NaN, a gap in the curve
            m, s = np.asarray(g[f"{key}_mean"], float), np.asarray(g[f"{key}_std"], float)
            ax.plot(t, m, color=col, label=lab)
            ax.fill_between(t, m - s, m + s, color=col, alpha=0.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(time_label)
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel("extension (mean ± std)")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def unfolding_figure(groups: dict[str, dict], t_end: float, title: str = "", time_label: str = "time"):
    """Histograms of unfolding times, predicted against held out (t_end: never unfolded);
    ``time_label`` names the time axis with its units."""
    fig, axes = plt.subplots(1, len(groups), figsize=(5.0 * len(groups), 3.6), squeeze=False)
    for ax, (name, g) in zip(axes[0], groups.items()):
        bins = np.linspace(0, t_end, 21)
        ax.hist(g["true"], bins=bins, alpha=0.5, color="k", label="held out")
        ax.hist(g["pred"], bins=bins, alpha=0.5, color="tab:red", label="S-OnsagerNet")
        ax.set_title(f"{name}: W1/mean = {g['wasserstein1_relative']:.2f}, KS = {g['ks']:.2f}", fontsize=9)
        ax.set_xlabel(f"unfolding {time_label}; last bin: never")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def conformations_figure(chains: list[np.ndarray], critical: list[dict], title: str = ""):
    """Decoded chains at V's critical points: (N, 3) in the (x, y) plane, or (N, 1) — the
    x-coordinates alone — against the bead index (a fold shows as a V), each titled with its
    type, |x_N − x_1|, |x_N + x_1| and fold ratio |x_N + x_1| / extension."""
    n = max(1, len(chains))
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.2), squeeze=False)
    for ax, r, p in zip(axes[0], chains, critical):
        xy = r[:, :2] if r.shape[1] >= 2 else np.column_stack([r[:, 0], np.arange(len(r))])
        ax.plot(xy[:, 0], xy[:, 1], "-o", ms=3, lw=1)
        ax.scatter(*xy[0], c="tab:green", s=30, zorder=5, label="bead 1")
        ax.scatter(*xy[-1], c="tab:red", s=30, zorder=5, label="bead N")
        if r.shape[1] >= 2:
            ax.set_aspect("equal", adjustable="datalim")
        c = p.get("conformation")
        shape = (
            f"\n|xN−x1| = {c['end_to_end_diff']:.2f}, |xN+x1| = {c['end_to_end_sum']:.2f}, fold {c['fold_ratio']:.2f}"
            if c
            else ""
        )
        ax.set_title(f"{p['type']} at Z = {np.round(p['x'], 1).tolist()}{shape}", fontsize=7)
        ax.set_xlabel("x (stretching)")
    axes[0, 0].set_ylabel("y" if chains and chains[0].shape[1] >= 2 else "bead index")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
