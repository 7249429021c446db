"""PRF21's nearest-neighbour predictor (their Table II, test_ode_nn.py): a test trajectory at
snapshot j is predicted T later by the training trajectory whose snapshot j lies nearest,
T later — the same time index, since every trajectory starts at t = 0."""

from __future__ import annotations

import numpy as np


def nearest_neighbour_predict(library: np.ndarray, queries: np.ndarray, starts: np.ndarray, lag: int) -> np.ndarray:
    """``library`` (M, T, n) training trajectories, ``queries`` (N, T, n), on one coarse grid.
    Returns (N, len(starts), n): library[m*, j + lag] with m* = argmin_m |queries[:, j] − library[m, j]|."""
    out = np.empty((queries.shape[0], len(starts), queries.shape[-1]))
    for k, j in enumerate(starts):
        d = np.linalg.norm(queries[:, None, j] - library[None, :, j], axis=-1)  # (N, M)
        out[:, k] = library[np.argmin(d, axis=1), j + lag]
    return out
