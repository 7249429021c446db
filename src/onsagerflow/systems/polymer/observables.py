"""What is kept of a chain: extension and end-to-end observables, unfolding times and the
fast/slow labels of the test ensembles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...analysis.unfolding import threshold_time
from ...data import Unfolding
from .chain import Chain


def end_to_end_vector(r):
    return r[-1] - r[0]


def extension_of(r):
    """max − min of bead x of one chain (N, 3)."""
    return r[:, 0].max() - r[:, 0].min()


def observables(r) -> dict[str, np.ndarray]:
    """extension = max − min of bead x, |x_N − x_1| and |x_N + x_1| with the centre of mass
    removed, for positions (..., N, 3) (numpy or jax)."""
    x = np.asarray(r)[..., 0]
    x = x - x.mean(axis=-1, keepdims=True)
    return {
        "extension": x.max(axis=-1) - x.min(axis=-1),
        "end_to_end_diff": np.abs(x[..., -1] - x[..., 0]),
        "end_to_end_sum": np.abs(x[..., -1] + x[..., 0]),
    }


# First time the extension (..., T) reaches a threshold (inf where it never does): the
# analysis's definition, which the stored test times must share with the evaluation's
unfolding_time = threshold_time


def unfolding_threshold(spec: Mapping[str, Any]) -> float:
    """fraction × length; length defaults to the chain's maximum length (Chain.max_length)."""
    u = spec["simulation"]["unfolding"]
    length = u["length"] if u["length"] is not None else Chain.from_spec(spec).max_length
    return float(u["fraction"]) * float(length)


def label_ensembles(times: np.ndarray, ensemble: np.ndarray, n_ensembles: int) -> np.ndarray:
    """int8 ``Unfolding`` label per ensemble from the ranking of the ensembles by median
    unfolding time (ties broken by the mean, never-unfolded counting as longest): the faster
    half FAST, the slower half SLOW, the middle one of an odd number UNLABELLED. Ranking,
    unlike comparing with the pooled median, cannot leave both of two ensembles unlabelled
    when their medians tie with it on a coarse time grid."""
    times = np.asarray(times, np.float64)
    finite = np.where(
        np.isfinite(times), times, np.nanmax(np.where(np.isfinite(times), times, -np.inf), initial=0.0) * 2 + 1
    )
    keys = [(np.median(finite[ensemble == e]), np.mean(finite[ensemble == e])) for e in range(n_ensembles)]
    order = sorted(range(n_ensembles), key=lambda e: keys[e])
    labels = np.full(n_ensembles, Unfolding.UNLABELLED, np.int8)
    half = n_ensembles // 2
    for rank, e in enumerate(order):
        if rank < half:
            labels[e] = Unfolding.FAST
        elif rank >= n_ensembles - half:
            labels[e] = Unfolding.SLOW
    return labels
