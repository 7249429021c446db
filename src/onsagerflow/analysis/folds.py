"""Folds of a stretching chain, from its x-coordinates relative to the centre of mass.

A chain stretched end to end along x has x_1 ≈ −x_N, so |x_N + x_1| ≈ 0; a chain folded into a
hairpin has both ends on one side, and |x_N + x_1| is as large as its extension (a symmetric
hairpin of contour L: extension L/2, ends at −L/4, fold at +L/4, |x_N + x_1| = L/2). The fold
ratio |x_N + x_1| / extension therefore runs from 0 (stretched or coiled end to end) to about 1
(folded in the middle). In a coil every ratio occurs by chance, so a fold only counts where the
chain is already extended.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A fold: ratio at least FOLD_RATIO while the extension is at least MIN_EXTENSION × the contour
# length, for MIN_DURATION (in the time unit of the caller) without a break.
FOLD_RATIO = 0.5
MIN_EXTENSION = 0.25
# A stretched chain: extension at least this fraction of the reference length (the unfolding
# threshold's default fraction of the contour)
STRETCHED_EXTENSION = 0.5


def fold_ratio(extension, end_to_end_sum) -> np.ndarray:
    """|x_N + x_1| / extension, elementwise (NaN where the extension is 0)."""
    ext = np.asarray(extension, np.float64)
    s = np.asarray(end_to_end_sum, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ext > 0, s / ext, np.nan)


def chain_folds(x) -> dict[str, np.ndarray]:
    """extension, |x_N − x_1|, |x_N + x_1| and the fold ratio of chains given by their bead
    x-coordinates (..., N); the centre of mass is removed first."""
    x = np.asarray(x, np.float64)
    x = x - x.mean(axis=-1, keepdims=True)
    ext = x.max(axis=-1) - x.min(axis=-1)
    summ = np.abs(x[..., -1] + x[..., 0])
    return {
        "extension": ext,
        "end_to_end_diff": np.abs(x[..., -1] - x[..., 0]),
        "end_to_end_sum": summ,
        "fold_ratio": fold_ratio(ext, summ),
    }


def _longest_run(mask: np.ndarray) -> np.ndarray:
    """Length of the longest run of True along the last axis."""
    m = np.asarray(mask, bool)
    best = np.zeros(m.shape[:-1], int)
    cur = np.zeros(m.shape[:-1], int)
    for k in range(m.shape[-1]):
        cur = np.where(m[..., k], cur + 1, 0)
        best = np.maximum(best, cur)
    return best


@dataclass(frozen=True)
class FoldCriterion:
    ratio: float = FOLD_RATIO
    min_extension: float = MIN_EXTENSION  # × contour length
    min_duration: float = 0.0  # time the fold must last, without a break

    def folded(self, extension, end_to_end_sum, time, contour_length: float) -> np.ndarray:
        """(...,) bool: paths (..., T) that hold a fold for at least ``min_duration``: fold
        ratio ≥ ``ratio`` at extension ≥ ``min_extension`` × ``contour_length``."""
        ext = np.asarray(extension, np.float64)
        t = np.asarray(time, np.float64)
        dt = float(t[1] - t[0]) if t.size > 1 else 1.0
        frames = max(1, int(np.ceil(self.min_duration / dt - 1e-9)))
        ok = (ext >= self.min_extension * contour_length) & (fold_ratio(ext, end_to_end_sum) >= self.ratio)
        return _longest_run(ok) >= frames


def folded_saddle_summary(
    critical: list[dict],
    ratio: float = FOLD_RATIO,
    min_extension: float = MIN_EXTENSION,
    stretched_extension: float = STRETCHED_EXTENSION,
) -> dict:
    """NCS24's picture in numbers, from V's critical points in the data range, each with the
    ``conformation`` of its decoded chain and, for index-1 saddles, the minima it
    ``connects`` (analysis.critical_points.saddle_connections): how many minima are stretched
    (fold ratio < ``ratio`` at a relative extension ≥ ``stretched_extension``), how many
    index-1 saddles are folded (fold ratio ≥ ``ratio`` at a relative extension ≥
    ``min_extension``: a coil has every fold ratio by chance), and whether a folded saddle
    joins two distinct stretched minima. The relative extension is the conformation's
    ``relative_extension`` (extension / the longest training chain's); a conformation
    without one is judged by its fold ratio alone."""
    inside = [c for c in critical if c.get("in_data_range", True)]

    def fold(c):
        return c.get("conformation", {}).get("fold_ratio", np.nan)

    def extended(c, fraction):
        return c.get("conformation", {}).get("relative_extension", np.inf) >= fraction

    stretched = {
        i
        for i, c in enumerate(critical)
        if c["type"] == "minimum" and c in inside and fold(c) < ratio and extended(c, stretched_extension)
    }
    saddles = [c for c in inside if c["type"] == "index-1 saddle"]
    folded = [c for c in saddles if fold(c) >= ratio and extended(c, min_extension)]
    joining = [
        c
        for c in folded
        if c.get("connects")
        and None not in c["connects"]
        and len(set(c["connects"])) == 2
        and set(c["connects"]) <= stretched
    ]
    return {
        "minima": sum(c["type"] == "minimum" for c in inside),
        "stretched_minima": len(stretched),
        "index1_saddles": len(saddles),
        "folded_saddles": len(folded),
        "folded_saddle_joins_stretched_minima": bool(joining),
        "largest_saddle_fold_ratio": float(
            max((fold(c) for c in saddles if extended(c, min_extension)), default=np.nan)
        ),
    }
