"""Unfolding times of extension paths, by either of two definitions.

``threshold`` (ours): the first time the extension reaches a fixed threshold, the same for
every path (the simulation's ``unfolding`` block: a fraction of the contour length).

``final_fraction`` (NCS24, the authors' analysis code): the first time the extension exceeds
a fraction (0.95) of that path's own final extension. It needs no contour length and adapts
to where each path settles, but it always fires, even for a path that never stretched.

Both return inf where the condition never holds (a path with NaN at its end — an escaped
SDE path — has no final extension, so never unfolds by the second definition).
"""

from __future__ import annotations

import numpy as np

DEFINITIONS = ("threshold", "final_fraction")


def _first_time(hit: np.ndarray, time: np.ndarray) -> np.ndarray:
    t = np.asarray(time, np.float64)
    return np.where(hit.any(axis=-1), t[np.argmax(hit, axis=-1)], np.inf)


def threshold_time(extension, time, threshold: float) -> np.ndarray:
    """First time the extension (..., T) reaches ``threshold``; inf where it never does."""
    return _first_time(np.asarray(extension, np.float64) >= threshold, time)


def final_fraction_time(extension, time, fraction: float) -> np.ndarray:
    """First time the extension (..., T) exceeds ``fraction`` × the path's final value."""
    ext = np.asarray(extension, np.float64)
    with np.errstate(invalid="ignore"):
        hit = ext > fraction * ext[..., -1:]
    return _first_time(hit, time)


def unfolding_times(extension, time, definition: str, *, threshold: float, fraction: float) -> np.ndarray:
    """Unfolding times (...,) of paths (..., T) by ``definition`` (one of DEFINITIONS)."""
    if definition == "threshold":
        return threshold_time(extension, time, threshold)
    if definition == "final_fraction":
        return final_fraction_time(extension, time, fraction)
    raise ValueError(f"unfolding time definition {definition!r} is not one of {DEFINITIONS}")
