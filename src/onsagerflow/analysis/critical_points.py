"""Critical points of a scalar potential V: Newton's method on ∇V from many starts, each root
classified by the eigenvalues of the Hessian ∇²V there.

These are V's own critical points — the minima and saddles of the free-energy landscape. They
are not the fixed points of a drift b(z): for b = −(M + W)∇V with M positive definite, M + W
is invertible (zᵀ(M + W)z = zᵀMz > 0), so b = 0 exactly where ∇V = 0; a forcing f or a
fluctuation–dissipation correction ε∇·M moves the drift's zeros away from them. Only these
points carry the labels "minimum" and "saddle".

Index of a critical point: the number of negative Hessian eigenvalues (0 a minimum, 1 a
transition state between two minima, n a maximum); a Hessian eigenvalue within ``rel_tol`` of
zero (relative to the largest) makes it degenerate.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .fixed_points import in_domain, newton_roots


def point_type(index: int, n: int, degenerate: bool = False) -> str:
    """'minimum', 'index-k saddle' (0 < k < n), 'maximum', or 'degenerate'."""
    if degenerate:
        return "degenerate"
    if index == 0:
        return "minimum"
    if index == n:
        return "maximum"
    return f"index-{index} saddle"


def hessians(potential, xs, args=None) -> np.ndarray:
    """Hessians (k, n, n) of ``potential(x, args)`` at each row of ``xs`` (k, n), in one
    compiled call, symmetrised against round-off."""
    xs = jnp.atleast_2d(jnp.asarray(xs, jnp.float64))
    hess = np.asarray(jax.jit(jax.vmap(jax.hessian(potential), in_axes=(0, None)))(xs, args))
    return 0.5 * (hess + np.swapaxes(hess, -1, -2))


def hessian_eigenvalues(potential, xs, args=None) -> np.ndarray:
    """Eigenvalues (k, n), ascending, of the Hessian at each row of ``xs``."""
    return np.linalg.eigvalsh(hessians(potential, xs, args))


def classify_hessian(eigenvalues: np.ndarray, rel_tol: float = 1e-6) -> tuple[int, str]:
    """(index, type) from the Hessian's eigenvalues at a critical point."""
    ev = np.asarray(eigenvalues, float)
    tol = rel_tol * max(np.abs(ev).max(), 1e-300)
    index = int(np.sum(ev < -tol))
    return index, point_type(index, ev.size, bool(np.any(np.abs(ev) <= tol)))


def find_critical_points(
    potential,
    starts: np.ndarray,
    *,
    args=None,
    length_scale: float,
    grad_scale: float,
    residual_tol: float = 1e-6,
    merge_tol: float = 1e-3,
    max_steps: int = 100,
    domain: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[dict]:
    """Critical points of ``potential(x, args)`` (a scalar of one state x (n,)).

    Newton's method on ∇V from each start (its Jacobian is the Hessian); a root counts when
    |∇V| < residual_tol·grad_scale, and roots closer than merge_tol·length_scale are one.
    Each entry: x, V, hessian_eigenvalues, index, type (``classify_hessian``), residual
    |∇V|, the fraction of starts that converged to it, and, given ``domain`` = (low, high)
    of the training data, whether it lies within that box widened by 10%. Sorted by V.
    """
    grad = jax.grad(potential)
    points = newton_roots(
        grad,
        starts,
        args=args,
        length_scale=length_scale,
        field_scale=grad_scale,
        residual_tol=residual_tol,
        merge_tol=merge_tol,
        max_steps=max_steps,
    )
    if not points:
        return []
    xs = np.array([p["x"] for p in points])
    values = np.asarray(jax.jit(jax.vmap(potential, in_axes=(0, None)))(jnp.asarray(xs), args))
    eigs = hessian_eigenvalues(potential, xs, args)
    out = []
    for p, v, ev in zip(points, values, eigs):
        index, kind = classify_hessian(ev)
        entry = {
            "x": p["x"].tolist(),
            "V": float(v),
            "hessian_eigenvalues": ev.tolist(),
            "index": index,
            "type": kind,
            "residual": p["residual"],
            "newton_start_fraction": p["count"] / len(starts),
        }
        if domain is not None:
            entry["in_data_range"] = in_domain(p["x"], domain)
        out.append(entry)
    return sorted(out, key=lambda e: e["V"])


def descend(potential, starts: np.ndarray, *, args=None, rtol: float = 1e-8, max_steps: int = 100_000) -> np.ndarray:
    """End points (k, n) of the steepest-descent paths dx/dt = −∇V(x) from each start, run
    until they settle (|∇V| below rtol of its size at the start, or diffrax's steady-state
    test)."""
    import diffrax

    grad = jax.grad(potential)

    def one(x0):
        term = diffrax.ODETerm(lambda t, x, a: -grad(x, a))
        sol = diffrax.diffeqsolve(
            term,
            diffrax.Tsit5(),
            0.0,
            jnp.inf,
            None,
            x0,
            args=args,
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=rtol * (1.0 + jnp.max(jnp.abs(x0)))),
            event=diffrax.Event(diffrax.steady_state_event(rtol=rtol, atol=rtol)),
            adjoint=diffrax.ForwardMode(),  # not differentiated: compiles faster (analysis/rollout.py)
            max_steps=max_steps,
            throw=False,
        )
        return sol.ys[-1]

    return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(starts, jnp.float64)))


def saddle_connections(
    potential, points: list[dict], *, args=None, step: float = 1e-3, match_tol: float = 1e-2
) -> list[dict]:
    """For every index-1 saddle of ``points`` (``find_critical_points``), the minima its two
    descent paths reach: the paths start a distance ``step`` either way along the Hessian's
    negative eigenvector and follow −∇V. ``connects`` is the pair of indices (in ``points``)
    of the minima reached, None where a path ends nowhere near a minimum (farther than
    ``match_tol``) — it left the region, or stopped on a flat stretch. Returns ``points``."""
    saddles = [i for i, p in enumerate(points) if p["type"] == "index-1 saddle"]
    minima = [i for i, p in enumerate(points) if p["type"] == "minimum"]
    if not saddles:
        return points
    xs = np.array([points[i]["x"] for i in saddles])
    vecs = np.linalg.eigh(hessians(potential, xs, args))[1][..., 0]  # ascending: the negative one first
    ends = descend(potential, np.concatenate([xs + step * vecs, xs - step * vecs]), args=args)
    for k, i in enumerate(saddles):
        reached = []
        for end in (ends[k], ends[k + len(saddles)]):
            d = [np.linalg.norm(end - np.asarray(points[j]["x"])) for j in minima]
            reached.append(minima[int(np.argmin(d))] if d and min(d) < match_tol else None)
        points[i]["connects"] = reached
    return points
