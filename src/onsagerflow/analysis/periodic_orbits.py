"""Periodic orbits of a vector field dx/dt = f(x, args): candidates from near-returns of long
rollouts, refined by Newton shooting, with period, Floquet multipliers and stability.

Shooting: the unknowns are a point x₀ on the orbit and the period T; with φ_T the flow,

    R(x₀, T) = [ φ_T(x₀) − x₀ ;  f(x̂)·(x₀ − x̂) ] = 0,

the second row a phase condition that pins x₀ to the plane through the candidate x̂ normal to
the flow there (without it any point of the orbit would do, and Newton's matrix is singular).
φ_T is a diffrax solve on s ∈ [0, 1] of dx/ds = T f(x), so T is an ordinary argument, solved
together with its variational equation, which gives Newton its Jacobian (a damped Newton loop
of our own: each candidate stops as soon as it converges or fails, where a batched root finder
would run every candidate as long as the slowest). At the root, the monodromy matrix
∂φ_T/∂x₀ gives the Floquet multipliers: one is 1 (along the flow), the others say whether the orbit
attracts (all |μ| < 1) or repels in k directions (k of them outside the unit circle).

``find_periodic_orbits`` takes any field of the form ``field(x, args)`` — a learned model in
physical units (``models.dynamics.physical_field``), a model on latent coordinates, or a true
system — and rollouts that sampled its long-time behaviour.
"""

from __future__ import annotations

import functools

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

UNIT_CIRCLE_TOL = 1e-6  # |μ| within this of 1 counts as on the unit circle
SAME_PERIOD = 1e-3  # relative period difference below which two orbits may be one ...
SAME_PLACE = 0.05  # ... if one's point lies within this fraction of the other's size of it
ORBIT_SAMPLES = 200  # points stored per orbit (figures, distances between orbits)
EXCURSION = 10.0  # a near-return counts only if the path went this many return distances away
SAME_CANDIDATE = 0.05  # near-returns whose periods differ less than this (relative) may be one orbit
# Starts tried for near-returns: one every START_SPACING·period_min of rollout time (at least every
# sample). Any point of an orbit serves Newton as a start, so an orbit of the shortest period
# searched still gets two starts per passage; the scan costs (rollouts × starts × lags).
START_SPACING = 0.5
# Newton gives up on a candidate after NEWTON_STALL steps in a row that did not bring the
# residual |R| below half its smallest value so far: near an orbit Newton converges
# quadratically (a handful of steps), while a candidate spiralling into a fixed point wanders.
NEWTON_STALL = 5
# The sampled orbit (ORBIT_SAMPLES points, integrated without the variational equation, hence
# with longer steps than Newton's solves) must close to within this fraction of length_scale;
# Newton's own residual is the convergence test. 1e3·rtol dropped converged unstable orbits.
SAMPLED_CLOSING = 1e-4
# A near-return two or three turns long converges to the orbit traversed k times (period kT,
# multipliers μᵏ): a converged orbit that comes back within PRIME_CLOSE·length_scale after
# 1/k of its period is shot again at T/k, so every orbit is reported at its prime period.
PRIME_DIVISORS = (2, 3)
PRIME_CLOSE = 1e-3
# Newton's first stage solves at this relative tolerance, then polishes at the requested one
# (``shoot``): on a learned field a 1e-10 solve took 0.6–2.8 CPU-s against a few ms at 1e-6.
COARSE_RTOL = 1e-6


def near_returns(
    trajectories: np.ndarray,
    times: np.ndarray,
    *,
    period_min: float,
    period_max: float,
    tol: float,
    max_candidates: int,
) -> list[tuple[np.ndarray, float]]:
    """Candidate (x̂, T̂): states x(t) of rollouts (batch, time, n) that come back within ``tol``
    (absolute) after a time T̂ in [period_min, period_max], having gone away in between (the
    path's largest distance from x(t) is at least ``tol`` and EXCURSION times the return
    distance, so slow creep near a fixed point is not a return). Of each passage near an orbit
    the best start is kept; the best ``max_candidates`` over all rollouts, ranked by return
    distance over excursion, come back, none lying on the returning path of a better one of
    about the same period (within SAME_CANDIDATE). Starts are tried every START_SPACING ×
    ``period_min`` of rollout time (every sample where that is shorter than the sampling)."""
    xs = np.asarray(trajectories, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    dt = float(t[1] - t[0])
    k_min = max(1, int(np.ceil(period_min / dt)))
    k_max = min(xs.shape[1] - 2, int(np.floor(period_max / dt)))
    m = xs.shape[1]
    if m <= k_min + 1 or k_max < k_min:
        return []
    stride = max(1, int(START_SPACING * period_min / dt))
    starts = np.arange(0, m, stride)
    best_k, best_score = (
        np.asarray(a) for a in _first_returns(jnp.asarray(xs), jnp.asarray(starts), k_min, k_max, float(tol))
    )
    found = []  # (score, b, i, k, x(i)): one per passage near an orbit, the start whose score is
    for b, j in zip(*np.nonzero(best_k)):  # the lowest within half a period around it
        k = best_k[b, j]
        half = k // (2 * stride)
        lo, hi = max(0, j - half), min(len(starts), j + half + 1)
        if best_score[b, j] <= best_score[b, lo:hi].min():
            i = int(starts[j])
            found.append((float(best_score[b, j]), int(b), i, int(k), xs[b, i]))
    found.sort(key=lambda c: c[0])
    kept: list[tuple[int, int, int]] = []  # (b, i, k): a candidate and the path it returned along
    for _, b, i, k, x0 in found:
        if any(
            abs(k - k2) <= SAME_CANDIDATE * k2 and np.min(np.linalg.norm(xs[b2, i2 : i2 + k2 + 1] - x0, axis=-1)) < tol
            for b2, i2, k2 in kept
        ):
            continue  # the same orbit again (another passage, or another phase of it)
        kept.append((b, i, k))
        if len(kept) >= max_candidates:
            break
    return [(xs[b, i], k * dt) for b, i, k in kept]


@functools.partial(jax.jit, static_argnums=(2, 3))
def _first_returns(xs, starts, k_min: int, k_max: int, tol):
    """Per rollout b of xs (B, m, n) and start i in ``starts`` (s,): the first lag k in
    [k_min, k_max] at which d(k) = |x(i + k) − x(i)| has a local minimum below ``tol`` while the
    path has gone further away than max(EXCURSION·d(k), tol) in between (0 where there is
    none), and d(k)/excursion; both (B, s)."""
    B, m, n = xs.shape
    pad = jnp.concatenate([xs, jnp.full((B, k_max + 2, n), jnp.nan, xs.dtype)], axis=1)
    x_start = xs[:, starts]
    inf = jnp.full(x_start.shape[:2], jnp.inf, xs.dtype)

    def body(carry, k):
        best_k, best_score, excursion, d_prev2, d_prev = carry
        d = jnp.linalg.norm(jnp.take(pad, starts + k, axis=1) - x_start, axis=-1)
        d = jnp.where(jnp.isfinite(d), d, jnp.inf)  # past the end, or an escaped rollout
        hit = (
            (k - 1 >= k_min)
            & (best_k == 0)
            & (d_prev < tol)
            & (d_prev <= d)
            & (d_prev < d_prev2)
            & (excursion > jnp.maximum(EXCURSION * d_prev, tol))
        )
        best_k = jnp.where(hit, (k - 1).astype(best_k.dtype), best_k)
        best_score = jnp.where(hit, d_prev / excursion, best_score)
        excursion = jnp.maximum(excursion, jnp.where(jnp.isfinite(d), d, 0.0))
        return (best_k, best_score, excursion, d_prev, d), None

    init = (jnp.zeros(inf.shape, jnp.int32), inf, jnp.zeros(inf.shape, xs.dtype), inf, inf)
    (best_k, best_score, *_), _ = jax.lax.scan(body, init, jnp.arange(1, k_max + 2))
    return best_k, best_score


def _period(T) -> jax.Array:
    """T as a strongly typed float64 scalar: a Python float (weakly typed) would compile the
    flow a second time, 2-3 CPU-s of a learned field's orbit search."""
    return jnp.asarray(T, dtype=jnp.float64)


@functools.lru_cache(maxsize=16)
def _flow(field, max_steps: int):
    """Jitted (x₀, T, args, tol) → (φ_T(x₀), M, f(φ_T(x₀)), ok), M = ∂φ_T/∂x₀ the monodromy matrix:
    the flow and its variational equation dM/ds = T Df(x) M, M(0) = I, solved together
    (Tsit5 on s ∈ [0, 1], dx/ds = T f(x); ``tol`` = (rtol, atol)). Newton's Jacobian then costs
    no differentiation through the solver; ∂φ_T/∂T = f(φ_T(x₀)). Cached per field, tolerances an
    argument: every Newton step of an orbit search, coarse or fine, shares one compiled program."""

    def rhs(s, y, a):
        args, T = a
        x, M = y
        return T * field(x, args), T * (jax.jacfwd(field)(x, args) @ M)

    term = diffrax.ODETerm(rhs)

    def solve(x0, T, args, tol):
        y0 = (x0, jnp.eye(x0.shape[-1], dtype=x0.dtype))
        sol = diffrax.diffeqsolve(
            term,
            diffrax.Tsit5(),
            0.0,
            1.0,
            None,
            y0,
            args=(args, T),
            stepsize_controller=diffrax.PIDController(rtol=tol[0], atol=tol[1]),
            max_steps=max_steps,
            throw=False,
            adjoint=diffrax.ForwardMode(),  # not differentiated: compiles faster (analysis/rollout.py)
        )
        xT, M = sol.ys[0][-1], sol.ys[1][-1]
        return xT, M, field(xT, args), sol.result == diffrax.RESULTS.successful

    return jax.jit(solve)


def shoot(
    field,
    x_hat,
    T_hat: float,
    *,
    args=None,
    length_scale: float = 1.0,
    rtol: float = 1e-10,
    atol: float | None = None,
    newton_steps: int = 30,
    max_steps: int = 100_000,
    coarse_rtol: float | None = COARSE_RTOL,
):
    """Newton's method on R(x₀, T) = [φ_T(x₀) − x₀; f(x̂)·(x₀ − x̂)] from (x̂, T̂).

    Each step solves [[M − I, f(φ_T)], [f(x̂)ᵀ, 0]] Δ = −R; a step longer than a tenth of
    ``length_scale`` in x₀ or a quarter of T is shortened to that (damped Newton far from the
    orbit). Newton first converges with solves at ``coarse_rtol`` (a tight solve of a learned
    field can take thousands of steps, and most candidates are not orbits), then from there at
    ``rtol`` (None: ``rtol`` throughout). Each stage stops when the step falls below 100 times
    its tolerance (relative), and gives up on a failed solve, a non-finite step, T ≤ 0 or
    NEWTON_STALL steps without progress (|R| not below half its best). Returns (x₀, T, M, ok),
    M the monodromy matrix of the last solve, at most one (converged) step from x₀."""
    atol = rtol * length_scale if atol is None else atol
    solve = _flow(field, int(max_steps))
    x_hat = np.asarray(x_hat, dtype=np.float64)
    normal = np.asarray(field(jnp.asarray(x_hat), args))
    normal = normal / max(np.linalg.norm(normal), 1e-300)
    x0, T = x_hat.copy(), float(T_hat)
    stages = [(rtol, atol)]
    if coarse_rtol is not None and coarse_rtol > rtol:
        stages.insert(0, (coarse_rtol, atol * coarse_rtol / rtol))
    for tol in stages:
        x0, T, M, ok = _newton(solve, args, x0, T, x_hat, normal, tol, length_scale, newton_steps)
        if not ok:
            return x0, T, None, False
    return x0, T, M, True


def _newton(solve, args, x0, T: float, x_hat, normal, tol, length_scale: float, steps: int):
    """``shoot``'s damped Newton loop with solves at ``tol`` = (rtol, atol) from (x₀, T)."""
    rtol, n = tol[0], x0.size
    tol = jnp.asarray(tol, dtype=jnp.float64)
    best, stalled = np.inf, 0
    for _ in range(steps):
        xT, M, fT, ok = (np.asarray(a) for a in solve(jnp.asarray(x0), _period(T), args, tol))
        if not ok or not np.isfinite(M).all():
            return x0, T, None, False
        R = np.concatenate([xT - x0, [normal @ (x0 - x_hat)]])
        residual = float(np.linalg.norm(R))
        stalled = 0 if residual < 0.5 * best else stalled + 1
        best = min(best, residual)
        if stalled >= NEWTON_STALL:
            return x0, T, None, False
        J = np.zeros((n + 1, n + 1))
        J[:n, :n] = M - np.eye(n)
        J[:n, n] = fT
        J[n, :n] = normal
        try:
            step = np.linalg.solve(J, -R)
        except np.linalg.LinAlgError:
            return x0, T, None, False
        if not np.isfinite(step).all():
            return x0, T, None, False
        shrink = min(
            1.0,
            0.1 * length_scale / max(float(np.linalg.norm(step[:n])), 1e-300),
            0.25 * T / max(abs(float(step[n])), 1e-300),
        )
        x0, T = x0 + shrink * step[:n], T + shrink * step[n]
        if T <= 0:
            return x0, T, None, False
        if shrink == 1.0 and np.linalg.norm(step[:n]) <= 100 * rtol * length_scale and abs(step[n]) <= 100 * rtol * T:
            # M from this solve, a step of ≤ 100·rtol away: no solve more for the multipliers
            return x0, T, M, True
    return x0, T, None, False


@functools.lru_cache(maxsize=16)
def _sampler(field, rtol: float, atol: float, samples: int):
    """Points of an orbit at equal phase steps, for figures and orbit distances."""
    term = diffrax.ODETerm(lambda s, x, a: a[1] * field(x, a[0]))
    s = jnp.linspace(0.0, 1.0, samples)

    def one(x0, T, args):
        sol = diffrax.diffeqsolve(
            term,
            diffrax.Tsit5(),
            0.0,
            1.0,
            None,
            x0,
            args=(args, T),
            saveat=diffrax.SaveAt(ts=s),
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            max_steps=100_000,
            throw=False,
            adjoint=diffrax.ForwardMode(),  # not differentiated: compiles faster (analysis/rollout.py)
        )
        return sol.ys

    return jax.jit(one)


def floquet_summary(multipliers: np.ndarray) -> dict:
    """The trivial multiplier (nearest 1), and of the others how many lie outside the unit
    circle: 'stable' (none), 'saddle-k' (k of n−1) or 'unstable' (all), 'non-hyperbolic' if any
    lies on it."""
    mu = np.asarray(multipliers)
    trivial = int(np.argmin(np.abs(mu - 1.0)))
    others = np.delete(mu, trivial)
    mod = np.abs(others)
    if np.any(np.abs(mod - 1.0) <= UNIT_CIRCLE_TOL):
        kind = "non-hyperbolic"
    else:
        k = int(np.sum(mod > 1.0))
        kind = "stable" if k == 0 else "unstable" if k == others.size else f"saddle-{k}"
    return {
        "trivial_multiplier_error": float(abs(mu[trivial] - 1.0)),
        "n_unstable": int(np.sum(mod > 1.0 + UNIT_CIRCLE_TOL)),
        "stability": kind,
        "largest_nontrivial_modulus": float(mod.max()) if mod.size else None,
    }


def refine(
    field,
    candidates: list[tuple[np.ndarray, float]],
    *,
    args=None,
    length_scale: float = 1.0,
    rtol: float = 1e-10,
    atol: float | None = None,
    newton_steps: int = 30,
    max_steps: int = 100_000,
) -> list[dict]:
    """Newton shooting (``shoot``) from each candidate (x̂, T̂); every converged orbit as a dict:
    a point ``x0`` on it, ``period``, Floquet ``multipliers_real``/``_imag`` (sorted by modulus,
    descending), their summary (``floquet_summary``), the closing residual |φ_T(x₀) − x₀|
    relative to ``length_scale``, ``orbit`` (ORBIT_SAMPLES points at equal phase steps), its
    centre and size. Orbits that collapsed onto a fixed point (size below 1e-6 length_scale)
    or whose samples do not close (SAMPLED_CLOSING) are dropped; duplicates are merged."""
    atol = rtol * length_scale if atol is None else atol
    kw = dict(
        args=args, length_scale=length_scale, rtol=rtol, atol=atol, newton_steps=newton_steps, max_steps=max_steps
    )
    orbits: list[dict] = []
    for x_hat, T_hat in candidates:
        x0, T, M, ok = shoot(field, x_hat, T_hat, **kw)
        if not ok:
            continue
        x0, T, M = prime_period(field, x0, T, M, **kw)
        if any(_same_orbit(x0, T, o, length_scale) for o in orbits):
            continue
        p = np.asarray(_sampler(field, float(rtol), float(atol), ORBIT_SAMPLES)(jnp.asarray(x0), _period(T), args))
        size = float(np.max(np.linalg.norm(p - p.mean(axis=0), axis=-1)))
        closing = float(np.linalg.norm(p[-1] - p[0]))
        if not np.isfinite(p).all() or size < 1e-6 * length_scale or closing > SAMPLED_CLOSING * length_scale:
            continue
        mu = np.linalg.eigvals(M)
        mu = mu[np.argsort(-np.abs(mu))]
        orbits.append(
            {
                "x0": x0.tolist(),
                "period": float(T),
                "multipliers_real": mu.real.tolist(),
                "multipliers_imag": mu.imag.tolist(),
                **floquet_summary(mu),
                "residual": closing / length_scale,
                "center": p.mean(axis=0).tolist(),
                "size": size,
                "orbit": p.tolist(),
            }
        )
    return orbits


def prime_period(field, x0, T: float, M, **kw):
    """(x₀, T, M) of a converged orbit at its prime period: where φ_{T/k}(x₀) comes back within
    PRIME_CLOSE·length_scale for k in PRIME_DIVISORS, Newton from (x₀, T/k), and again (an orbit
    traversed 4 or 6 times). ``kw``: ``shoot``'s keywords, all of them. The closing check needs
    PRIME_CLOSE, not ``rtol``: it solves at the coarse stage's tolerance."""
    solve = _flow(field, int(kw["max_steps"]))
    loose = max(float(kw["rtol"]), COARSE_RTOL)
    tol = jnp.asarray([loose, kw["atol"] * loose / kw["rtol"]], dtype=jnp.float64)
    for k in PRIME_DIVISORS:
        xk, _, _, ok = solve(jnp.asarray(x0), _period(T / k), kw["args"], tol)
        if bool(ok) and np.linalg.norm(np.asarray(xk) - x0) < PRIME_CLOSE * kw["length_scale"]:
            x1, T1, M1, ok1 = shoot(field, x0, T / k, **kw)
            if ok1:
                return prime_period(field, x1, T1, M1, **kw)
    return x0, T, M


def _same_orbit(x0, period, orbit: dict, length_scale: float) -> bool:
    if abs(period - orbit["period"]) > SAME_PERIOD * orbit["period"]:
        return False
    pts = np.asarray(orbit["orbit"])
    return float(np.min(np.linalg.norm(pts - x0, axis=-1))) < SAME_PLACE * max(orbit["size"], 1e-6 * length_scale)


def find_periodic_orbits(
    field,
    trajectories: np.ndarray,
    times: np.ndarray,
    *,
    args=None,
    length_scale: float,
    period_min: float,
    period_max: float,
    return_tol: float,
    max_candidates: int,
    rtol: float = 1e-10,
) -> list[dict]:
    """Periodic orbits of ``field(x, args)`` near which the rollouts (batch, time, n), sampled
    at ``times``, passed: near-returns within ``return_tol``·length_scale become Newton
    shooting candidates (``refine``). The orbits come sorted by period."""
    if max_candidates < 1:
        return []
    cands = near_returns(
        trajectories,
        times,
        period_min=period_min,
        period_max=period_max,
        tol=return_tol * length_scale,
        max_candidates=max_candidates,
    )
    orbits = refine(field, cands, args=args, length_scale=length_scale, rtol=rtol)
    for o in orbits:
        o["candidates_tried"] = len(cands)
    return sorted(orbits, key=lambda o: o["period"])


def orbit_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Hausdorff distance between two orbits' sampled points (m, n) and (k, n)."""
    d = np.linalg.norm(np.asarray(a)[:, None, :] - np.asarray(b)[None, :, :], axis=-1)
    return float(max(d.min(axis=1).max(), d.min(axis=0).max()))


def match_orbits(learned: list[dict], reference: list[dict]) -> list[dict]:
    """For each reference orbit (e.g. the true system's), the nearest learned one (Hausdorff
    distance between the orbits, also relative to the reference orbit's size), the relative
    period difference, both multipliers' summaries and whether their stability agrees."""
    out = []
    for ref in reference:
        entry = {
            "period": ref["period"],
            "stability": ref["stability"],
            "center": ref["center"],
            "nearest_learned": None,
            "distance": None,
            "relative_distance": None,
            "learned_period": None,
            "relative_period_error": None,
            "learned_stability": None,
            "stability_matches": False,
        }
        if learned:
            d = [orbit_distance(o["orbit"], ref["orbit"]) for o in learned]
            j = int(np.argmin(d))
            o = learned[j]
            entry.update(
                nearest_learned=j,
                distance=d[j],
                relative_distance=d[j] / ref["size"],
                learned_period=o["period"],
                relative_period_error=(o["period"] - ref["period"]) / ref["period"],
                learned_stability=o["stability"],
                stability_matches=o["stability"] == ref["stability"],
            )
        out.append(entry)
    return out
