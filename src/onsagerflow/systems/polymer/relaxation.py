"""The chain's longest relaxation time λ, measured at rest.

λ is the longest relaxation time of second moments (stress), the convention in which a
Hookean dumbbell has λ_H = ζ/(4H), steady ⟨Q_x²⟩ = (kT/H)/(1 − 2 Wi) and its coil–stretch
transition at Wi = ε̇ λ = 1/2; for a Hookean (Rouse) chain of N beads λ₁ = ζ/(8 H sin²(π/(2N)))
(``rouse_relaxation_time``). For any spring law it is measured from equilibrium: the
end-to-end autocorrelation C(t) = ⟨R(t)·R(0)⟩/⟨R²⟩ decays as exp(−t/(2λ)) at long times (the
vector relaxes twice as slowly as its second moments); λ = −1/(2 × slope of ln C) fitted
where C lies inside a window, with a jackknife standard error over chains.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from ...lazy_import import lazy
from .chain import Chain, rouse_relaxation_time
from .equilibrium import equilibrium_coils
from .integrators import run
from .observables import end_to_end_vector

if TYPE_CHECKING:
    import jax
else:
    jax = lazy("jax")

JACKKNIFE_GROUPS = 16  # delete-one-group jackknife over chains for λ's standard error
FRAMES_PER_LAMBDA = 20  # correlation sampled at λ_Rouse / 20
BURN_IN = 2.0  # relaxation at rest before measuring, in units of λ_Rouse


@dataclasses.dataclass
class RelaxationFit:
    """λ = −1/(2 slope) of ln C(t) over ``lags`` where C lies inside the window."""

    value: float
    stderr: float
    time: np.ndarray  # lag times of the correlation
    correlation: np.ndarray  # C(t) = ⟨R(t)·R(0)⟩ / ⟨R²⟩
    fit_slice: tuple[int, int]


def autocorrelation(R: np.ndarray) -> np.ndarray:
    """Mean over chains and time origins of R(t+k)·R(t), k = 0..T−1, for R (B, T, 3).

    R has zero mean at rest (isotropy), so nothing is subtracted. FFT, zero padded.
    """
    T = R.shape[1]
    F = np.fft.rfft(R, n=2 * T, axis=1)
    acf = np.fft.irfft(np.sum(F * np.conj(F), axis=-1), axis=1)[:, :T]
    return acf.mean(axis=0) / (T - np.arange(T))


def fit_correlation(t: np.ndarray, C: np.ndarray, window: tuple[float, float]) -> tuple[float, tuple[int, int]]:
    """λ = −1/(2 × slope of ln C) over the lags from the first where C ≤ window[0] to the last
    before C first drops below window[1]; returns λ and that lag range (C normalised, C[0] = 1)."""
    hi, lo = window
    below_hi = np.flatnonzero(C <= hi)
    below_lo = np.flatnonzero(C < lo)
    if below_hi.size == 0 or below_lo.size == 0:
        raise ValueError(
            f"relaxation fit: C(t) never crossed the window {list(window)} "
            "(lengthen simulation.relaxation_measurement.duration)"
        )
    i0, i1 = int(below_hi[0]), int(below_lo[0])
    if i1 - i0 < 3:
        raise ValueError(
            f"relaxation fit: only {i1 - i0} lags inside the window {list(window)}; "
            "sample more finely or widen the window"
        )
    return slope_lambda(t, C, (i0, i1)), (i0, i1)


def slope_lambda(t, C, lags):
    """λ = −1/(2 × slope of ln C) over the lag range ``lags`` (C normalised, C[0] = 1)."""
    sl = slice(*lags)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.polyfit(t[sl] - t[0], np.log(C[sl] / C[0]), 1)[0]
    return float(-1.0 / (2.0 * slope))


def fit_relaxation(
    t: np.ndarray, R: np.ndarray, window: tuple[float, float], groups: int = JACKKNIFE_GROUPS
) -> RelaxationFit:
    """Fit λ from end-to-end vectors R (B, T, 3) at rest sampled at times t (``fit_correlation``).

    The standard error is a delete-one-group jackknife over chains, on the same lags.
    """
    acf = autocorrelation(R)
    value, lags = fit_correlation(t, acf / acf[0], window)
    g = min(groups, R.shape[0])
    parts = np.array_split(np.arange(R.shape[0]), g)
    sums = np.stack([autocorrelation(R[p]) * len(p) for p in parts])
    total = sums.sum(0)
    reps = np.array([slope_lambda(t, (total - sums[k]) / (R.shape[0] - len(parts[k])), lags) for k in range(g)])
    stderr = float(np.sqrt((g - 1) / g * np.sum((reps - reps.mean()) ** 2)))
    return RelaxationFit(value, stderr, t - t[0], acf / acf[0], lags)


def measure_relaxation_time(
    chain: Chain,
    key,
    *,
    n_chains: int,
    duration: float,
    window: tuple[float, float],
    dt: float,
    integrator: str,
    noise: str,
    frames_per_lambda: int = FRAMES_PER_LAMBDA,
) -> RelaxationFit:
    """λ of any chain from the end-to-end autocorrelation at rest (module docstring); the
    arguments are those of ``simulation.relaxation_measurement`` and ``simulation``.

    ``duration`` (after a burn-in of 2 λ_Rouse from exact-bond coils) is in units of the
    Rouse estimate λ_R = ζ/(8H sin²(π/2N)); frames are λ_R/frames_per_lambda apart.
    """
    t, R = relaxation_vectors(
        chain,
        key,
        np.arange(n_chains),
        n_chains=n_chains,
        duration=duration,
        dt=dt,
        integrator=integrator,
        noise=noise,
        frames_per_lambda=frames_per_lambda,
    )
    return fit_relaxation(t, R, window)


def relaxation_vectors(
    chain: Chain,
    key,
    ids: np.ndarray,
    *,
    n_chains: int,
    duration: float,
    dt: float,
    integrator: str,
    noise: str,
    frames_per_lambda: int = FRAMES_PER_LAMBDA,
) -> tuple[np.ndarray, np.ndarray]:
    """(times, end-to-end vectors (len(ids), T, 3)) at rest of chains ``ids`` among the
    ``n_chains`` of ``measure_relaxation_time``. Chain k draws from its own keys, so the
    measurement can be run in parts (of any size) that together give the same vectors."""
    lam_r = rouse_relaxation_time(chain.n_beads, chain.H, chain.zeta)
    save_every = max(1, int(round(lam_r / frames_per_lambda / dt)))
    n_saves = int(math.ceil(duration * lam_r / (save_every * dt)))
    keys = jax.random.split(key, 2 * n_chains)
    ids = np.asarray(ids)
    coils = equilibrium_coils(chain, keys[ids], t_relax=BURN_IN * lam_r, dt=dt, integrator=integrator, noise=noise)
    R = run(
        chain,
        coils,
        keys[n_chains + ids],
        dt=dt,
        n_saves=n_saves,
        save_every=save_every,
        integrator=integrator,
        noise=noise,
        observe=end_to_end_vector,
    )
    return np.arange(n_saves + 1) * save_every * dt, np.asarray(R)
