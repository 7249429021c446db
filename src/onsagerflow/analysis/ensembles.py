"""Statistics of stochastic ensembles: moments vs time, distances between distributions."""

from __future__ import annotations

import numpy as np
from scipy import stats

from .unfolding import DEFINITIONS, unfolding_times


def censor(times: np.ndarray, t_end: float) -> np.ndarray:
    """Never-unfolded (inf) becomes t_end, so distributions of first-passage times compare."""
    t = np.asarray(times, dtype=np.float64)
    return np.where(np.isfinite(t), t, t_end)


def wasserstein1(a: np.ndarray, b: np.ndarray) -> float:
    """W₁ = ∫ |F_a − F_b| dx between two samples' empirical distributions (scipy.stats)."""
    return float(stats.wasserstein_distance(np.asarray(a, float), np.asarray(b, float)))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic sup |F_a − F_b| (scipy.stats)."""
    return float(stats.ks_2samp(np.asarray(a, float), np.asarray(b, float)).statistic)


def moment_errors(pred: np.ndarray, truth: np.ndarray) -> dict:
    """pred and truth are (realisations, time): the largest error over time of the mean and
    of the standard deviation across realisations, in units of the truth's pooled std. pred
    may hold NaN where a path has escaped; where every path has, the errors are NaN."""
    unit = float(np.std(truth))
    unit = unit if unit > 0 else 1.0
    dmean = np.abs(np.nanmean(pred, axis=0) - truth.mean(axis=0))
    dstd = np.abs(np.nanstd(pred, axis=0) - truth.std(axis=0))
    return {
        "max_mean_error": float(np.max(dmean) / unit),
        "max_std_error": float(np.max(dstd) / unit),
        "unit": unit,
        "pred_mean": np.nanmean(pred, axis=0).tolist(),
        "pred_std": np.nanstd(pred, axis=0).tolist(),
        "true_mean": truth.mean(axis=0).tolist(),
        "true_std": truth.std(axis=0).tolist(),
    }


def covariance_error(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean over time of ‖C_pred(t) − C_true(t)‖_F / ‖C_true(t)‖_F, C the covariance across
    realisations of the latent state; inputs (realisations, time, n)."""

    def cov(x):
        # paths that escaped are NaN from then on (evaluate_sde): each time uses the paths
        # still there, as the mean and std errors do
        ok = np.isfinite(x).all(axis=-1, keepdims=True)  # (r, t, 1)
        count = ok.sum(axis=0)  # (t, 1)
        d = np.where(ok, x - np.nansum(np.where(ok, x, 0.0), axis=0, keepdims=True) / np.maximum(count, 1), 0.0)
        return np.einsum("rti,rtj->tij", d, d) / np.maximum(count - 1, 1)[..., None]

    cp, ct = cov(pred), cov(truth)
    den = np.linalg.norm(ct, axis=(1, 2))
    keep = den > 0
    return float(np.mean(np.linalg.norm((cp - ct)[keep], axis=(1, 2)) / den[keep]))


def abs_correlation(z: np.ndarray, target: np.ndarray) -> float:
    """Pearson correlation of |z| with a (non-negative) observable, over all samples."""
    a, b = np.abs(np.ravel(z)), np.ravel(target)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def compare_unfolding_times(pred: np.ndarray, truth: np.ndarray, definition: str) -> dict:
    """Two samples of (censored) unfolding times: W1, W1 over the true mean, KS."""
    mean_true = float(np.mean(truth))
    w1 = wasserstein1(pred, truth)
    return {
        "definition": definition,
        "mean_true": mean_true,
        "mean_pred": float(np.mean(pred)),
        "wasserstein1": w1,
        "wasserstein1_relative": w1 / mean_true if mean_true > 0 else None,
        "ks": ks_statistic(pred, truth),
    }


def judge_ensemble(
    pred: np.ndarray, truth: np.ndarray, t: np.ndarray, definition: str, threshold: float, fraction: float
) -> dict:
    """One test ensemble's extension paths ``pred`` against the held-out ``truth`` (both
    (realisations, time) on the times ``t``), as NCS24 compares them: the moment errors of the
    extension, and the unfolding times (never unfolded: censored at the last time) by every
    definition, the configured ``definition``'s with both samples."""
    by_definition, judged = {}, {}
    for name in DEFINITIONS:
        times_true, times_pred = (
            censor(unfolding_times(x, t, name, threshold=threshold, fraction=fraction), t[-1]) for x in (truth, pred)
        )
        by_definition[name] = compare_unfolding_times(times_pred, times_true, name)
        if name == definition:
            judged = {"true": times_true.tolist(), "pred": times_pred.tolist(), **by_definition[name]}
    return {
        "extension": moment_errors(pred, truth),
        "unfolding_time": judged,
        "unfolding_time_by_definition": by_definition,
    }
