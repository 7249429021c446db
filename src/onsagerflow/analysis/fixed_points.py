"""Fixed points of a vector field: Newton from many starts, merged, classified by the
eigenvalues of the Jacobian, and matched to exact fixed points where they are known."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx


def classify(eigenvalues: np.ndarray, rel_tol: float = 1e-6) -> str:
    """'stable', 'unstable', 'saddle-k' (k unstable directions) or 'non-hyperbolic';
    '-focus' is appended where eigenvalues come in complex pairs."""
    ev = np.asarray(eigenvalues)
    tol = rel_tol * max(np.abs(ev).max(), 1e-300)
    re = ev.real
    if np.any(np.abs(re) <= tol):
        kind = "non-hyperbolic"
    else:
        k = int(np.sum(re > 0))
        kind = "stable" if k == 0 else "unstable" if k == ev.size else f"saddle-{k}"
    if np.any(np.abs(ev.imag) > tol):
        kind += "-focus"
    return kind


def jacobian_eigenvalues(field, xs, args=None) -> np.ndarray:
    """Eigenvalues (k, n) of the Jacobian of ``field`` at each row of ``xs`` (k, n), in one
    compiled call (op-by-op differentiation compiles every primitive on its own)."""
    xs = jnp.atleast_2d(jnp.asarray(xs, jnp.float64))
    jac = jax.jit(jax.vmap(jax.jacfwd(field), in_axes=(0, None)))(xs, args)
    return np.linalg.eigvals(np.asarray(jac))


def find_fixed_points(
    field,
    starts: np.ndarray,
    *,
    args=None,
    length_scale: float,
    field_scale: float,
    residual_tol: float = 1e-6,
    merge_tol: float = 1e-3,
    max_steps: int = 100,
    domain: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[dict]:
    """Roots of ``field(x, args)`` reached by Newton's method from each start.

    A root counts when |field(x)| < residual_tol·field_scale; roots closer than
    merge_tol·length_scale are one. Each entry holds x, eigenvalues, kind, residual
    and the fraction of Newton starts that converged to it (not a dynamical basin), and,
    given ``domain`` = (low, high) of the training data, whether it lies within the data's
    box widened by 10% (a root far outside is an extrapolation artefact, not physics).
    """
    solver: Any = optx.Newton(rtol=1e-10, atol=1e-10 * length_scale)

    def solve(y0, a):
        return optx.root_find(field, solver, y0, args=a, throw=False, max_steps=max_steps).value

    xs = np.asarray(jax.jit(jax.vmap(solve, in_axes=(0, None)))(jnp.asarray(starts, jnp.float64), args))
    res = np.linalg.norm(np.asarray(jax.jit(jax.vmap(field, in_axes=(0, None)))(jnp.asarray(xs), args)), axis=-1)
    good = np.isfinite(res) & np.all(np.isfinite(xs), axis=1) & (res < residual_tol * field_scale)
    order = np.argsort(np.where(good, res, np.inf))
    points: list[dict] = []
    for i in order:
        if not good[i]:
            break
        for p in points:
            if np.linalg.norm(xs[i] - p["x"]) < merge_tol * length_scale:
                p["count"] += 1
                break
        else:
            points.append({"x": xs[i], "residual": float(res[i]), "count": 1})
    out = []
    eigs: Any = jacobian_eigenvalues(field, np.array([p["x"] for p in points]), args) if points else []
    for p, ev in zip(points, eigs):
        entry = {
            "x": p["x"].tolist(),
            "kind": classify(ev),
            "eigenvalues_real": ev.real.tolist(),
            "eigenvalues_imag": ev.imag.tolist(),
            "residual": p["residual"],
            "newton_start_fraction": p["count"] / len(starts),
        }
        if domain is not None:
            lo, hi = np.asarray(domain[0], float), np.asarray(domain[1], float)
            pad = 0.1 * (hi - lo)
            entry["in_data_range"] = bool(np.all((p["x"] >= lo - pad) & (p["x"] <= hi + pad)))
        out.append(entry)
    return out


def match_exact(learned: list[dict], exact: np.ndarray, exact_field, *, length_scale: float) -> list[dict]:
    """For each exact fixed point, the nearest learned one: distance, relative distance
    (|Δ|/|x*|, or |Δ|/length_scale at the origin) and whether their kinds agree."""
    out = []
    exact = np.asarray(exact, float)
    eigs = jacobian_eigenvalues(lambda y, a: exact_field(y), exact)
    for x, ev in zip(exact, eigs):
        kind = classify(ev)
        entry = {
            "x": x.tolist(),
            "kind": kind,
            "nearest_learned": None,
            "distance": None,
            "relative_distance": None,
            "learned_kind": None,
            "kind_matches": False,
        }
        if learned:
            d = [np.linalg.norm(np.asarray(p["x"]) - x) for p in learned]
            j = int(np.argmin(d))
            norm = np.linalg.norm(x)
            entry.update(
                nearest_learned=j,
                distance=float(d[j]),
                relative_distance=float(d[j] / (norm if norm > 0 else length_scale)),
                learned_kind=learned[j]["kind"],
                kind_matches=learned[j]["kind"] == kind,
            )
        out.append(entry)
    return out
