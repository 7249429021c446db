"""How close a learned potential V is to a known energy H, after aligning the two.

A learned V is determined only up to what the dynamics cannot see: dz/dt = −(M + W)∇V is
unchanged by V → aV + b (a > 0, with M and W divided by a), and more generally the dynamics
pin V down only through its level sets. Comparing V with H therefore needs an alignment
first. The error is the relative L² error on a uniform grid over the data domain,

    e = ‖V_aligned − H‖₂ / ‖H‖₂   (sums over grid points; the cell area cancels).

Three alignments:

- ``affine``: the least-squares a, b of ‖aV + b − H‖₂ (zero error exactly when V = aH + b);
- ``min_max`` (the authors' for the double well): V rescaled affinely so that its minimum and
  maximum on the grid are H's;
- ``hessian`` (the authors' for potentials with their minimum at the origin): the linear change
  of variables y = c + (x − c) L_H L_V⁻¹ (row vectors; L_H, L_V the Cholesky factors of the
  Hessians of H and of V at c) maps V's quadratic part at c onto H's; then
  V_aligned(x) = V(y) − V(c) + H(c).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

ALIGNMENTS = ("affine", "min_max", "hessian")


def grid(low, high, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(axes, points): n points per axis on the box [low, high] (2D), points (n·n, 2) in the
    order of np.meshgrid (x along columns)."""
    low, high = np.asarray(low, float), np.asarray(high, float)
    axes = [np.linspace(lo, hi, n) for lo, hi in zip(low, high)]
    mesh = np.meshgrid(*axes)
    return np.stack(axes), np.stack([m.ravel() for m in mesh], axis=-1)


def relative_l2(error: np.ndarray, reference: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.square(error)) / np.sum(np.square(reference))))


def affine_alignment(V: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, dict]:
    """aV + b with a, b minimising ‖aV + b − H‖₂."""
    V, H = np.asarray(V, float).ravel(), np.asarray(H, float).ravel()
    A = np.stack([V, np.ones_like(V)], axis=-1)
    (a, b), *_ = np.linalg.lstsq(A, H, rcond=None)
    return a * V + b, {"a": float(a), "b": float(b)}


def min_max_alignment(V: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, dict]:
    """V mapped affinely onto H's range: min V → min H, max V → max H."""
    V, H = np.asarray(V, float).ravel(), np.asarray(H, float).ravel()
    a = (H.max() - H.min()) / (V.max() - V.min())
    return H.min() + a * (V - V.min()), {"a": float(a), "b": float(H.min() - a * V.min())}


def hessian_alignment(potential, energy, points: np.ndarray, center) -> tuple[np.ndarray, dict]:
    """V(c + (x − c) L_H L_V⁻¹) − V(c) + H(c) at ``points`` (k, n); ``potential`` and ``energy``
    map states (k, n) to values (k,). NaN where V's Hessian at c is not positive definite (no
    minimum there to align)."""
    c = jnp.asarray(center, jnp.float64)
    hess = lambda f: np.asarray(jax.hessian(lambda x: f(x[None])[0])(c))
    H_v, H_h = hess(potential), hess(energy)
    info = {"hessian_learned": H_v.tolist(), "hessian_exact": H_h.tolist()}
    if np.any(np.linalg.eigvalsh(H_v) <= 0) or np.any(np.linalg.eigvalsh(H_h) <= 0):
        return np.full(len(points), np.nan), info
    L_h, L_v = np.linalg.cholesky(H_h), np.linalg.cholesky(H_v)
    y = np.asarray(c) + (np.asarray(points) - np.asarray(c)) @ L_h @ np.linalg.inv(L_v)
    V = np.asarray(potential(jnp.asarray(y)))
    Vc = float(np.asarray(potential(c[None]))[0])
    Hc = float(np.asarray(energy(c[None]))[0])
    return V - Vc + Hc, info


def energy_errors(potential, energy, low, high, n: int, authors: str, center=None) -> dict:
    """The learned ``potential`` against the exact ``energy`` on an n × n grid over the box
    [low, high]: the relative L² error after the ``authors`` alignment and after the best
    affine fit, with the aligned fields (for figures) and the alignment parameters."""
    if authors not in ALIGNMENTS:
        raise ValueError(f"unknown alignment '{authors}'; known: {ALIGNMENTS}")
    axes, pts = grid(low, high, n)
    V = np.asarray(potential(jnp.asarray(pts)))
    H = np.asarray(energy(jnp.asarray(pts)))
    aligned = {"affine": affine_alignment(V, H)}
    if authors == "min_max":
        aligned["min_max"] = min_max_alignment(V, H)
    elif authors == "hessian":
        c = np.zeros(pts.shape[-1]) if center is None else center
        aligned["hessian"] = hessian_alignment(potential, energy, pts, c)
    errors = {k: relative_l2(v - H, H) if np.isfinite(v).all() else None for k, (v, _) in aligned.items()}
    return {
        "grid": {"low": np.asarray(low, float).tolist(), "high": np.asarray(high, float).tolist(), "n": n},
        "authors_alignment": authors,
        "relative_l2_error": {"authors": errors[authors], "affine": errors["affine"]},
        "alignment": {k: info for k, (_, info) in aligned.items()},
        "fields": {"axes": axes, "exact": H, "learned": V, **{k: v for k, (v, _) in aligned.items()}},
    }
