"""Batched rollouts of a vector field with error control (diffrax Tsit5)."""

from __future__ import annotations

import functools

import diffrax
import jax
import jax.numpy as jnp
import numpy as np


def integrate(
    field,
    x0,
    t,
    *,
    args=None,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    bound: float | None = None,
    center=None,
    max_steps: int = 200_000,
):
    """Solve dx/dt = field(x, args) from each row of ``x0`` (batch, n), saved at times ``t``.

    Returns (xs (batch, time, n), ok (batch,)). A trajectory that leaves the ball of
    radius ``bound`` around ``center``, or that the solver cannot continue, stops
    there: its later samples are NaN and ``ok`` is False.
    """
    t = jnp.asarray(t, dtype=jnp.float64)
    x0 = jnp.asarray(x0, dtype=jnp.float64)
    c = jnp.zeros(x0.shape[-1]) if center is None else jnp.asarray(center, dtype=jnp.float64)
    r = jnp.asarray(jnp.inf if bound is None else bound, dtype=jnp.float64)
    xs, ok = _solver(field, float(rtol), float(atol), int(max_steps))(x0, t, (args, c, r))
    xs = np.asarray(xs)
    return xs, np.asarray(ok) & np.isfinite(xs).all(axis=(1, 2))


@functools.lru_cache(maxsize=32)
def _solver(field, rtol, atol, max_steps):
    """One jitted batched solve per vector field and tolerances: everything that varies
    between calls (starts, times, parameters, bound) is an argument, so calls with the
    same shapes reuse the compiled program."""
    term = diffrax.ODETerm(lambda s, x, a: field(x, a[0]))

    def escaped(s, x, a, **kwargs):
        _, c, r = a
        return jnp.logical_or(jnp.linalg.norm(x - c) > r, ~jnp.all(jnp.isfinite(x)))

    def one(y0, t, a):
        sol = diffrax.diffeqsolve(
            term,
            diffrax.Tsit5(),
            t[0],
            t[-1],
            None,
            y0,
            args=a,
            saveat=diffrax.SaveAt(ts=t),
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            max_steps=max_steps,
            throw=False,
            event=diffrax.Event(escaped),
        )
        ok = sol.result == diffrax.RESULTS.successful
        return jnp.where(jnp.isfinite(sol.ys), sol.ys, jnp.nan), ok

    return jax.jit(jax.vmap(one, in_axes=(0, None, None)))
