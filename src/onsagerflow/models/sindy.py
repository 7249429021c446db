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
    x_dot=None,
    steps: np.ndarray | None = None,
):
    """Fit SINDy on trajectories (traj, time, n) sampled every ``dt``; derivatives per trajectory
    (or ``x_dot``, the same shape, from ``derivatives``: several fits then share them), or, given
    ``steps`` (indices i with i + 1 one step dt later: a burst-sampled store), the forward
    differences (u[i + 1] − u[i])/dt at the states u[i].

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
    if steps is not None:
        if x_dot is not None:
            raise ValueError("fit_sindy: give x_dot or steps, not both")
        i = np.asarray(steps)
        x = np.concatenate([u[i] for u in traj])
        model.fit(x, t=float(dt), x_dot=np.concatenate([(u[i + 1] - u[i]) / dt for u in traj]))
    elif x_dot is None:
        model.fit(traj if len(traj) > 1 else traj[0], t=float(dt))
    else:
        dots = [np.asarray(d, dtype=np.float64) for d in x_dot]
        model.fit(traj if len(traj) > 1 else traj[0], t=float(dt), x_dot=dots if len(dots) > 1 else dots[0])
    theirs = np.asarray(model.feature_library.powers_)
    ours = monomial_powers(n, degree)
    index = {tuple(p): j for j, p in enumerate(theirs)}
    missing = [tuple(p) for p in ours if tuple(p) not in index]
    if missing or len(theirs) != len(ours):
        raise RuntimeError(f"pysindy's polynomial library differs from ours (missing {missing[:3]})")
    coef = np.asarray(model.coefficients()).T[[index[tuple(p)] for p in ours]]  # (features, n)
    return coef, model


def derivatives(trajectories, dt: float, *, method: str = "finite_difference", window: int = 9) -> list[np.ndarray]:
    """dz/dt along each trajectory (traj, time, n) by the named differentiation."""
    diff = differentiation(method, window)
    return [np.asarray(diff(np.asarray(u, dtype=np.float64), t=float(dt))) for u in trajectories]


def stlsq(theta: np.ndarray, x_dot: np.ndarray, *, threshold: float, alpha: float, max_iter: int = 20) -> np.ndarray:
    """Sequentially thresholded least squares as pysindy's STLSQ does it (ridge fits on the
    support, coefficients below ``threshold`` dropped, until the support stops changing; then an
    unregularised refit on the support, pysindy's ``unbias``), from the normal equations.

    ``theta`` (samples, features) the library, ``x_dot`` (samples, n). Returns (features, n).
    With the Gram matrix formed once, a whole grid of (threshold, alpha) costs little more than
    one fit: the validation selection of ``fit_sindy``'s hyper-parameters uses it."""
    G, B = theta.T @ theta, theta.T @ x_dot
    return _stlsq_normal(G, B, threshold, alpha, max_iter)


def _stlsq_normal(G, B, threshold, alpha, max_iter):
    k, n = B.shape
    ind = np.ones((n, k), dtype=bool)
    coef = np.zeros((k, n))
    for _ in range(max_iter):
        before = ind.copy()
        coef = np.zeros((k, n))
        for i in range(n):
            sel = np.flatnonzero(ind[i])
            if sel.size == 0:
                continue
            w = np.linalg.solve(G[np.ix_(sel, sel)] + alpha * np.eye(sel.size), B[sel, i])
            w[np.abs(w) < threshold] = 0.0
            coef[sel, i] = w
            ind[i] = coef[:, i] != 0
        if np.array_equal(ind, before):
            break
    for i in range(n):  # unbias: least squares on the support without the ridge term
        sel = np.flatnonzero(ind[i])
        if sel.size:
            coef[sel, i] = np.linalg.lstsq(G[np.ix_(sel, sel)], B[sel, i], rcond=None)[0]
    return coef


def stlsq_grid(theta, x_dot, thresholds, alphas, max_iter: int = 20) -> dict:
    """``stlsq`` for every (threshold, alpha): {(threshold, alpha): coef}."""
    G, B = theta.T @ theta, theta.T @ x_dot
    return {(t, a): _stlsq_normal(G, B, t, a, max_iter) for t in thresholds for a in alphas}


def select_stlsq(theta, x_dot, thresholds, alphas, val_loss, max_iter: int = 20):
    """The (threshold, alpha) of the grid whose ``stlsq`` fit has the lowest ``val_loss(coef)``
    (ties: the sparser fit, larger threshold). Returns ((threshold, alpha), coef, trials) with
    trials a list of {threshold, alpha, val_loss}; raises if no fit gives a finite loss."""
    grid = stlsq_grid(theta, x_dot, thresholds, alphas, max_iter)
    trials = [{"threshold": t, "alpha": a, "val_loss": float(val_loss(c))} for (t, a), c in grid.items()]
    finite = [r for r in trials if np.isfinite(r["val_loss"])]
    if not finite:
        raise FloatingPointError("every SINDy fit of the grid gives a non-finite validation loss")
    best = min(finite, key=lambda r: (r["val_loss"], -r["threshold"], -r["alpha"]))
    pair = (best["threshold"], best["alpha"])
    return pair, grid[pair], trials
