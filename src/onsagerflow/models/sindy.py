"""Sparse identification of nonlinear dynamics (SINDy, Brunton, Proctor & Kutz 2016) as a baseline:
dz/dt = Θ(z) Ξ, Θ(z) the monomials of z up to a degree, Ξ sparse.

pysindy fits Ξ (sequentially thresholded least squares, STLSQ) on derivatives taken from the
training trajectories by finite differences; the model evaluates Θ(z) Ξ in JAX, so rollouts,
root finding and Jacobians use the same diffrax / optimistix code as the neural models.
"""

from __future__ import annotations

import itertools

import jax.numpy as jnp
import numpy as np
from flax import nnx

DIFFERENTIATIONS = ("finite_difference", "forward_difference", "smoothed_finite_difference")


def monomial_powers(n: int, degree: int) -> np.ndarray:
    """Exponents (features, n) of every monomial of n variables up to ``degree``: the constant,
    then degree by degree, each degree in lexicographic order of its variable indices
    (1, z0, z1, …, z0², z0 z1, …), the order of pysindy's PolynomialLibrary."""
    rows = []
    for d in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(n), d):
            p = np.zeros(n, dtype=np.int64)
            for i in combo:
                p[i] += 1
            rows.append(p)
    return np.array(rows, dtype=np.int64).reshape(-1, n)


def feature_names(n: int, degree: int, names=None) -> list[str]:
    names = names or [f"z{i}" for i in range(n)]
    out = []
    for p in monomial_powers(n, degree):
        terms = [f"{v}^{k}" if k > 1 else v for v, k in zip(names, p) if k]
        out.append(" ".join(terms) or "1")
    return out


class SINDy(nnx.Module):
    """dz/dt = Θ(z) Ξ with Θ the monomials of ``monomial_powers(n, degree)`` and Ξ = ``coef``
    (features, n). The coefficients are a Param so checkpoints and float64 copies treat them
    like any model's parameters; fitting is ``fit_sindy``, not gradient descent."""

    def __init__(self, n: int, *, degree: int = 2, param_dtype=jnp.float64):
        self.n, self.degree = n, int(degree)
        self.powers = tuple(map(tuple, monomial_powers(n, self.degree).tolist()))  # static
        self.coef = nnx.Param(jnp.zeros((len(self.powers), n), param_dtype))

    def features(self, z):
        """Θ(z), shape (..., features): each monomial the product over variables of z_i^k, read
        from a table of powers z_i^0 = 1, z_i, z_i², … (so z⁰ = 1 also at z = 0, and derivatives
        stay finite there, unlike z ** p with p = 0)."""
        p = np.asarray(self.powers)  # (features, n), static
        table = [jnp.ones_like(z)]
        for _ in range(self.degree):
            table.append(table[-1] * z)
        table = jnp.stack(table, axis=-1)  # (..., n, degree + 1)
        return jnp.prod(table[..., np.arange(self.n)[None, :], p], axis=-1)

    def __call__(self, z):
        return self.features(z) @ self.coef[...].astype(z.dtype)

    def nonzero_count(self) -> int:
        """Non-zero coefficients: SINDy's parameter count (what the sparse regression kept)."""
        return int(np.count_nonzero(np.asarray(self.coef[...])))


def differentiation(method: str = "finite_difference", window: int = 9):
    """pysindy's differentiation: ``finite_difference`` (centred, second order),
    ``forward_difference`` ((z(t+Δt) − z(t))/Δt regressed on z(t): the Euler–Maruyama drift
    estimate for noisy SDE data, where a centred difference correlates with the noise already
    in z(t)), or ``smoothed_finite_difference`` (Savitzky–Golay smoothing over ``window`` samples,
    cubic, then centred differences)."""
    import pysindy as ps

    if method == "finite_difference":
        return ps.FiniteDifference(order=2)
    if method == "forward_difference":
        return ps.FiniteDifference(order=1)
    if method == "smoothed_finite_difference":
        return ps.SmoothedFiniteDifference(smoother_kws={"window_length": window, "polyorder": 3})
    raise ValueError(f"unknown differentiation '{method}'; known: {DIFFERENTIATIONS}")


def fit_sindy(
    trajectories,
    dt: float,
    *,
    degree: int = 2,
    threshold: float = 0.05,
    alpha: float = 0.05,
    max_iter: int = 20,
    method: str = "finite_difference",
    window: int = 9,
    steps: np.ndarray | None = None,
):
    """Fit SINDy on trajectories (traj, time, n) sampled every ``dt``; derivatives per trajectory,
    or, given ``steps`` (indices i with i + 1 one step dt later: a burst-sampled store), the
    forward differences (u[i + 1] − u[i])/dt at the states u[i].

    Returns (coef (features, n) in the order of ``monomial_powers``, the fitted pysindy model).
    """
    import pysindy as ps

    traj = [np.asarray(u, dtype=np.float64) for u in trajectories]
    n = traj[0].shape[-1]
    model = ps.SINDy(
        optimizer=ps.STLSQ(threshold=threshold, alpha=alpha, max_iter=max_iter),
        feature_library=ps.PolynomialLibrary(degree=degree, include_bias=True),
        differentiation_method=differentiation(method, window),
    )
    if steps is None:
        model.fit(traj if len(traj) > 1 else traj[0], t=float(dt))
    else:
        i = np.asarray(steps)
        x = np.concatenate([u[i] for u in traj])
        model.fit(x, t=float(dt), x_dot=np.concatenate([(u[i + 1] - u[i]) / dt for u in traj]))
    theirs = np.asarray(model.feature_library.powers_)
    ours = monomial_powers(n, degree)
    index = {tuple(p): j for j, p in enumerate(theirs)}
    missing = [tuple(p) for p in ours if tuple(p) not in index]
    if missing or len(theirs) != len(ours):
        raise RuntimeError(f"pysindy's polynomial library differs from ours (missing {missing[:3]})")
    coef = np.asarray(model.coefficients()).T[[index[tuple(p)] for p in ours]]  # (features, n)
    return coef, model
