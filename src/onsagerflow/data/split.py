"""Train/val/test split by whole trajectories."""

from __future__ import annotations

import numpy as np

from .schema import SPLIT_CODES


def split_counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """How many trajectories each split gets; every split asked for gets at least one."""
    unknown = set(fractions) - set(SPLIT_CODES)
    if unknown:
        raise ValueError(f"split fractions: unknown split(s) {sorted(unknown)}; use train, val, test")
    total = sum(fractions.values())
    if any(f < 0 for f in fractions.values()) or not np.isclose(total, 1.0, atol=1e-6):
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    wanted = [s for s in ("val", "test") if fractions.get(s, 0) > 0]
    counts = {s: max(1, int(round(n * fractions[s]))) for s in wanted}
    counts["train"] = n - sum(counts.values())
    if counts["train"] < 1:
        raise ValueError(f"{n} trajectories are too few for splits {fractions}: train would get {counts['train']}")
    return counts


def assign_splits(n: int, fractions: dict[str, float], seed: int) -> np.ndarray:
    """int8 split code per trajectory (``Split``: 0 train, 1 val, 2 test), a seeded permutation."""
    counts = split_counts(n, fractions)
    codes = np.concatenate([np.full(counts.get(s, 0), SPLIT_CODES[s], dtype=np.int8) for s in ("train", "val", "test")])
    return np.random.default_rng(seed).permutation(codes).astype(np.int8)
