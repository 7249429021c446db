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
almost every bond; a bracketed loop (Newton, or bisection where Newton would leave the
bracket [lo, hi] ⊂ [0, ρ/(1 + a)]) then finishes any bond whose last step was larger than
``TOLERANCE`` — each bond is frozen once converged, so its value never depends on the
other bonds of the batch. After a step of size s the error is O(s²): far below rounding.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from .chain import Chain

MAX_X = 1.0 - 1e-12  # guards rounding only: the exact solution always lies below Q0
TOLERANCE = 1e-9  # a bond is converged once its Newton step is below this (x is O(1))
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


def bond_root(spring: str, rho, a, guess, unrolled: int):
    """x ∈ [0, 1) with x (1 + a φ(x)) = rho, elementwise; ``guess`` close to it, ``unrolled``
    Newton steps before the bracketed clean-up (module docstring)."""
    hi = jnp.minimum(rho / (1.0 + a), MAX_X)
    x = jnp.clip(guess, 0.0, hi)
    step = jnp.full_like(x, jnp.inf)
    for _ in range(unrolled):
        h, dh = residual(spring, x, rho, a)
        step = jnp.where(dh > 0, h / jnp.where(dh > 0, dh, 1.0), jnp.inf)
        x = jnp.clip(x - jnp.where(jnp.isfinite(step), step, 0.0), 0.0, hi)

    def body(carry):
        x, lo, hi, done, it = carry
        h, dh = residual(spring, x, rho, a)
        lo = jnp.where(h < 0, x, lo)
        hi = jnp.where(h > 0, x, hi)
        newton = dh > 0
        step = h / jnp.where(newton, dh, 1.0)
        x_new = x - step
        ok = newton & (x_new >= lo) & (x_new <= hi)
        x_new = jnp.where(ok, x_new, 0.5 * (lo + hi))
        converged = (ok & (jnp.abs(step) <= TOLERANCE)) | (h == 0)
        x = jnp.where(done, x, jnp.where(h == 0, x, x_new))
        return x, lo, hi, done | converged, it + 1

    def more(carry):
        return jnp.logical_not(jnp.all(carry[3])) & (carry[4] < MAX_ITERATIONS)

    done = jnp.abs(step) <= TOLERANCE
    x, *_ = lax.while_loop(more, body, (x, jnp.zeros_like(x), hi, done, 0))
    return x


def solve_bonds(chain: Chain, R, c, phi_guess, unrolled: int):
    """Bonds Q (and x = |Q|/Q0) with Q + c f(Q) = R, for component tuples R (module docstring).

    Newton starts from the root with the tension factor frozen at ``phi_guess`` (e.g. its
    value at the bonds' last lengths), ρ/(1 + a φ): inside the bracket, since φ ≥ 1.
    Hookean springs are solved exactly (x is then not needed, and returned as zeros).
    """
    a = c * chain.H
    if chain.spring == "hookean":
        Q = tuple(r / (1.0 + a) for r in R)
        return Q, jnp.zeros_like(Q[0])
    rho_abs = jnp.sqrt(R[0] * R[0] + R[1] * R[1] + R[2] * R[2])
    rho = rho_abs / chain.Q0
    x = bond_root(chain.spring, rho, a, rho / (1.0 + a * phi_guess), unrolled)
    safe = rho_abs > 1e-300
    scale = jnp.where(safe, x * chain.Q0 / jnp.where(safe, rho_abs, 1.0), 1.0 / (1.0 + a))
    return tuple(r * scale for r in R), x


def implicit_bond(chain: Chain, R, c, unrolled: int = 8):
    """Q with Q + c f(Q) = R for bonds R (..., 3), parallel to R; |Q| < Q0 (fene, wlc) whatever
    R is. Newton starts from the root with φ frozen at its rest value 1."""
    comps = tuple(R[..., k] for k in range(3))
    Q, _ = solve_bonds(chain, comps, c, jnp.ones_like(R[..., 0]), unrolled)
    return jnp.stack(Q, axis=-1)
