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


def newton_roots(
    field,
    starts: np.ndarray,
    *,
    args=None,
    length_scale: float,
    field_scale: float,
    residual_tol: float = 1e-6,
    merge_tol: float = 1e-3,
    max_steps: int = 100,
) -> list[dict]:
    """Distinct roots of ``field(x, args)`` reached by Newton's method from each start.

    A root counts when |field(x)| < residual_tol·field_scale; roots closer than
    merge_tol·length_scale are one. Returns [{x (array), residual, count}], count the number
    of starts that converged to it, most exact first.
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
    return points


def in_domain(x: np.ndarray, domain: tuple[np.ndarray, np.ndarray], margin: float = 0.1) -> bool:
    """Whether x lies within the box (low, high) widened by ``margin`` of its size per side."""
    lo, hi = np.asarray(domain[0], float), np.asarray(domain[1], float)
    pad = margin * (hi - lo)
    return bool(np.all((np.asarray(x) >= lo - pad) & (np.asarray(x) <= hi + pad)))


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
    """Fixed points of the vector field ``field(x, args)``: its roots by ``newton_roots``,
    classified by the eigenvalues of its Jacobian (``classify``: stable, saddle-k, unstable,
    ...). Each entry holds x, eigenvalues, kind, residual and the fraction of Newton starts
    that converged to it (not a dynamical basin), and, given ``domain`` = (low, high) of the
    training data, whether it lies within the data's box widened by 10% (a root far outside
    is an extrapolation artefact, not physics).
    """
    points = newton_roots(
        field,
        starts,
        args=args,
        length_scale=length_scale,
        field_scale=field_scale,
        residual_tol=residual_tol,
        merge_tol=merge_tol,
        max_steps=max_steps,
    )
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
            entry["in_data_range"] = in_domain(p["x"], domain)
        out.append(entry)
    return out


def fixed_points_from_data(
    field, frames: np.ndarray, k: int, seed: int, *, args=None, length_scale: float, field_scale: float
) -> list[dict]:
    """``find_fixed_points`` from k Newton starts: half of them states of the data ``frames``
    (m, n), half uniform in the data's box, which is also the domain the points are judged in."""
    rng = np.random.default_rng(seed)
    lo, hi = frames.min(axis=0), frames.max(axis=0)
    starts = np.concatenate(
        [frames[rng.choice(len(frames), k - k // 2)], rng.uniform(lo, hi, size=(k // 2, frames.shape[-1]))]
    )
    return find_fixed_points(
        field, starts, args=args, length_scale=length_scale, field_scale=field_scale, domain=(lo, hi)
    )


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


# A point is near the data when its distance to the nearest training state is at most
# NEAR_FACTOR × the NEAR_QUANTILE of the training states' own nearest-neighbour distances.
NEAR_QUANTILE, NEAR_FACTOR, NEAR_SAMPLE = 0.95, 2.0, 4000


def nearest_distances(points: np.ndarray, frames: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Distance from each point (k, n) to its nearest row of ``frames`` (m, n)."""
    points, frames = np.atleast_2d(points), np.asarray(frames)
    out = np.empty(len(points))
    for i in range(0, len(points), chunk):
        d = np.linalg.norm(points[i : i + chunk, None, :] - frames[None, :, :], axis=-1)
        out[i : i + chunk] = d.min(axis=1)
    return out


def near_data(points: np.ndarray, frames: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(distance to the nearest training state, whether that is within reach of the data) for
    each point, in units of the training states' per-component standard deviation.

    A box around the data can hold large empty regions (the polymer's closure data fill a
    diamond, not its box), where a learned landscape is pure extrapolation. "Within reach":
    at most NEAR_FACTOR × the NEAR_QUANTILE of the nearest-neighbour distances among up to
    NEAR_SAMPLE training states (a sample's spacing is wider than the whole set's: generous).
    """
    frames = np.asarray(frames, float)
    scale = np.where(frames.std(axis=0) > 0, frames.std(axis=0), 1.0)
    f = frames / scale
    rng = np.random.default_rng(seed)
    sample = f[rng.choice(len(f), min(len(f), NEAR_SAMPLE), replace=False)]
    d_sample = np.empty(len(sample))
    for i in range(0, len(sample), 1024):
        d = np.linalg.norm(sample[i : i + 1024, None, :] - sample[None, :, :], axis=-1)
        d[np.arange(d.shape[0]), np.arange(i, i + d.shape[0])] = np.inf
        d_sample[i : i + 1024] = d.min(axis=1)
    radius = NEAR_FACTOR * float(np.quantile(d_sample, NEAR_QUANTILE))
    dist = nearest_distances(np.atleast_2d(points) / scale, f) if len(points) else np.zeros(0)
    return dist, dist <= radius
