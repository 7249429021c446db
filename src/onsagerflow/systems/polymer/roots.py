"""The implicit bond solve of the semi-implicit scheme: Q with Q + a/H f(Q) = R.

The solution is parallel to R, Q = x Q0 R/|R|, and its scaled length x = |Q|/Q0 solves
G(x) = x (1 + a φ(x)) = ρ with ρ = |R|/Q0 and a = c H. G grows from 0 to infinity on
[0, 1) for FENE and WLC springs (φ ≥ 1 grows without bound at x = 1), so the root is
unique, lies below ρ/(1 + a), and every bond stays strictly below Q0 whatever R is.

It is found by Newton's method on a polynomial with the same root and no pole:

    fene   h(x) = (1 − x²)(G(x) − ρ) = x(1 − x²) + a x − ρ(1 − x²)
    wlc    h(x) = (1 − x)²(G(x) − ρ) = x(1 − x)² + (2a/3) x [(2 − x)/4 + (1 − x)²] − ρ(1 − x)²

both increasing through their root. Newton's method uses only multiplications and one
division per step (a closed-form cubic root needs arccos and cos, each dearer than a whole
Newton step on a CPU), and starts from a guess close to the root: within a time step the
bonds move little. A fixed number of unrolled steps (fused by XLA into one loop) converges
almost every bond; a bracketed loop (Newton; where Newton would leave the bracket
[lo, hi] ⊂ [0, ρ/(1 + a)], Newton from the bracket's other end, which stays inside where h
curves the other way; else bisection) then finishes any bond whose last step was not small
against min(x, 1 − x) (``TOLERANCE``), and a last Newton step polishes every bond. Each bond
is frozen once converged, so its value never depends on the other bonds of the batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...lazy_import import lazy
from .chain import Chain

if TYPE_CHECKING:
    import jax.numpy as jnp
    from jax import lax
else:
    jnp, lax = lazy("jax.numpy"), lazy("jax.lax")

MAX_X = 1.0 - 1e-12  # guards rounding only: the exact solution always lies below Q0
# A bond has converged once its Newton step is below this fraction of min(x, 1 − x) (the
# distance to 0 and to the pole, which set the relative precision of the bond and of its
# tension); one more Newton step then leaves a relative error of order TOLERANCE², below
# rounding, since the convergence is quadratic in that relative measure.
TOLERANCE = 1e-5
MAX_ITERATIONS = 64  # of the bracketed loop (bisection alone would need about 40)


def residual(spring: str, x, rho, a):
    """(h, dh/dx) of the module docstring's polynomial for a 'fene' or 'wlc' spring."""
    if spring == "fene":
        h = ((rho - x) * x + (1.0 + a)) * x - rho
        dh = (2.0 * rho - 3.0 * x) * x + (1.0 + a)
        return h, dh
    if spring == "wlc":
        y = 1.0 - x
        k = 2.0 * a / 3.0
        h = x * y * y + k * x * ((2.0 - x) / 4.0 + y * y) - rho * y * y
        dh = y * y - 2.0 * x * y + k * ((2.0 - x) / 4.0 + y * y) + k * x * (-0.25 - 2.0 * y) + 2.0 * rho * y
        return h, dh
    raise ValueError(f"spring: no implicit bond solve for '{spring}'")


def _small(step, x):
    return jnp.abs(step) <= TOLERANCE * jnp.minimum(x, 1.0 - x)


def _newton(spring, x, rho, a, lo, hi):
    """h at x, the Newton step from x, and whether it lands in [lo, hi]."""
    h, dh = residual(spring, x, rho, a)
    step = h / jnp.where(dh > 0, dh, 1.0)
    return h, step, (dh > 0) & (x - step >= lo) & (x - step <= hi)


def bond_root(spring: str, rho, a, guess, unrolled: int):
    """x ∈ [0, 1) with x (1 + a φ(x)) = rho, elementwise; ``guess`` close to it, ``unrolled``
    Newton steps before the bracketed clean-up and a last polishing step (module docstring)."""
    top = jnp.minimum(rho / (1.0 + a), MAX_X)
    x = jnp.clip(guess, 0.0, top)
    ok = jnp.zeros(x.shape, bool)
    for _ in range(unrolled):
        _, step, ok = _newton(spring, x, rho, a, 0.0, top)
        converged = ok & _small(step, x)
        x = jnp.clip(jnp.where(ok, x - step, x), 0.0, top)

    def body(carry):
        x, lo, hi, done, it = carry
        h, step, ok = _newton(spring, x, rho, a, lo, hi)
        converged = (ok & _small(step, x)) | (h == 0)
        lo = jnp.where(h < 0, x, lo)
        hi = jnp.where(h > 0, x, hi)
        ok = ok & (x - step >= lo) & (x - step <= hi)
        # Newton overshoots from the side where h curves away from its tangent; from the
        # bracket's other end it converges without leaving the bracket. Bisect if neither.
        end = jnp.where(h > 0, lo, hi)
        _, step_end, ok_end = _newton(spring, end, rho, a, lo, hi)
        x_new = jnp.where(ok, x - step, jnp.where(ok_end, end - step_end, 0.5 * (lo + hi)))
        x = jnp.where(done | (h == 0), x, x_new)  # a converging bond takes its last step
        return x, lo, hi, done | converged, it + 1

    def more(carry):
        return jnp.logical_not(jnp.all(carry[3])) & (carry[4] < MAX_ITERATIONS)

    done = converged if unrolled else ok
    x, *_ = lax.while_loop(more, body, (x, jnp.zeros_like(x), top, done, 0))
    _, step, ok = _newton(spring, x, rho, a, 0.0, top)
    return jnp.where(ok, x - step, x)


def solve_bonds(chain: Chain, R, c, guess, unrolled: int):
    """Bonds Q (and x = |Q|/Q0) with Q + c f(Q) = R, for R stacked by component (3, ...)
    (module docstring); Newton starts from ``guess`` of x (e.g. the bonds' last lengths).
    Hookean springs are solved exactly (x is then not needed, and returned as zeros)."""
    a = c * chain.H
    if chain.spring == "hookean":
        Q = R / (1.0 + a)
        return Q, jnp.zeros_like(Q[0])
    rho_abs = jnp.sqrt(R[0] * R[0] + R[1] * R[1] + R[2] * R[2])
    x = bond_root(chain.spring, rho_abs / chain.Q0, a, guess, unrolled)
    safe = rho_abs > 1e-300
    scale = jnp.where(safe, x * chain.Q0 / jnp.where(safe, rho_abs, 1.0), 1.0 / (1.0 + a))
    return R * scale, x


def implicit_bond(chain: Chain, R, c, unrolled: int = 8):
    """Q with Q + c f(Q) = R for bonds R (..., 3), parallel to R; |Q| < Q0 (fene, wlc) whatever
    R is. Newton starts from the root with φ frozen at its rest value 1, ρ/(1 + c H)."""
    comps = jnp.moveaxis(R, -1, 0)
    rho = jnp.sqrt(jnp.sum(R * R, axis=-1)) / chain.Q0
    Q, _ = solve_bonds(chain, comps, c, rho / (1.0 + c * chain.H), unrolled)
    return jnp.moveaxis(Q, 0, -1)
