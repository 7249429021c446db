"""Batched rollouts of a vector field with error control (diffrax Tsit5)."""

from __future__ import annotations

import functools

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

# Rollouts per compiled call. Tracing and compiling a solve costs seconds of CPU, far more than
# most evaluations' integrations, and a program is compiled per shape: a batch is cut into
# chunks of CHUNK rows, the last padded (a batch under CHUNK rows to the next power of two),
# and the save times padded to a power-of-two length by repeating the last one, so the few
# batch sizes and time grids of an evaluation share a handful of programs.
CHUNK = 1024


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
    t = np.asarray(t, dtype=np.float64)
    x0 = np.asarray(x0, dtype=np.float64)
    n_batch, n_t = x0.shape[0], t.size
    t_pad = np.concatenate([t, np.full(_pow2(n_t) - n_t, t[-1])])
    c = np.zeros(x0.shape[-1]) if center is None else np.asarray(center, dtype=np.float64)
    a = (
        args,
        jnp.asarray(c),
        *(jnp.asarray(v, dtype=jnp.float64) for v in (np.inf if bound is None else bound, rtol, atol)),
    )
    solve = _solver(field, int(max_steps))
    size = min(CHUNK, _pow2(n_batch))
    xs, ok = [], []
    for lo in range(0, n_batch, size):
        rows = x0[lo : lo + size]
        fill = size - len(rows)
        xs_k, ok_k = solve(
            jnp.asarray(np.concatenate([rows, np.repeat(rows[-1:], fill, axis=0)])), jnp.asarray(t_pad), a
        )
        xs.append(np.asarray(xs_k)[: size - fill, :n_t])
        ok.append(np.asarray(ok_k)[: size - fill])
    out = np.concatenate(xs) if xs else np.empty((0, n_t, x0.shape[-1]))
    good = np.concatenate(ok) if ok else np.empty(0, bool)
    return out, good & np.isfinite(out).all(axis=(1, 2))


def _pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


@functools.lru_cache(maxsize=32)
def _solver(field, max_steps):
    """One jitted batched solve per vector field: everything that varies between calls
    (starts, times, parameters, bound, tolerances) is an argument, so calls with the same
    shapes reuse the compiled program."""
    term = diffrax.ODETerm(lambda s, x, a: field(x, a[0]))

    def escaped(s, x, a, **kwargs):
        _, c, r, _, _ = a
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
            stepsize_controller=diffrax.PIDController(rtol=a[3], atol=a[4]),
            max_steps=max_steps,
            throw=False,
            event=diffrax.Event(escaped),
        )
        ok = sol.result == diffrax.RESULTS.successful
        return jnp.where(jnp.isfinite(sol.ys), sol.ys, jnp.nan), ok

    return jax.jit(jax.vmap(one, in_axes=(0, None, None)))
