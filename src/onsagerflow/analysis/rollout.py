"""Batched rollouts of a vector field with error control (diffrax Tsit5)."""

from __future__ import annotations

import functools

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

# Tracing and compiling a batched solve costs 3-6 CPU-s, more than most evaluations'
# integrations, and a program is compiled per shape. So an evaluation's batches are cut into
# chunks whose row count comes from a short ladder (ROWS) and its save times are padded, by
# repeating the last one, to a power of two no shorter than MIN_SAVES: the test, long and
# horizon rollouts of an evaluation then share two or three programs (a reduced RBC run
# compiled eight before), and the persistent cache serves them to the next job of the same
# architecture.
ROWS = (16, 64, 256)
MIN_SAVES = 256


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
    t_pad = np.concatenate([t, np.full(max(MIN_SAVES, _pow2(n_t)) - n_t, t[-1])])
    c = np.zeros(x0.shape[-1]) if center is None else np.asarray(center, dtype=np.float64)
    a = (
        args,
        jnp.asarray(c),
        *(jnp.asarray(v, dtype=jnp.float64) for v in (np.inf if bound is None else bound, rtol, atol)),
    )
    solve = _solver(field, int(max_steps))
    xs, ok = [], []
    for lo, size in _chunks(n_batch):
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


def _chunks(n: int) -> list[tuple[int, int]]:
    """(first row, compiled row count) of each chunk of an n-row batch, all of one rung of ROWS,
    the last chunk padded: the largest rung that pads no more rows than the largest rung within n
    does (16 under 16 rows). A call compiles one program, pads fewer rows than it has from 16
    rows on (100: two chunks of 64), and a batch that one larger chunk holds with no more padding
    takes it (250: one of 256, the rung of a reduced run's every-snapshot rollouts, so its 250
    horizon starts compile no program of their own; rows run in lockstep, so padding is work)."""
    base = max([r for r in ROWS if r <= n], default=ROWS[0])
    pad = {r: -n % r for r in ROWS}
    size = max(r for r in ROWS if pad[r] <= pad[base])
    return [(lo, size) for lo in range(0, n, size)]


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
            # never differentiated in reverse: a plain while loop instead of the default adjoint's
            # checkpointed one compiles in 3.1 CPU-s against 4.5 (16 rows, 256 saves), same results
            adjoint=diffrax.ForwardMode(),
        )
        ok = sol.result == diffrax.RESULTS.successful
        return jnp.where(jnp.isfinite(sol.ys), sol.ys, jnp.nan), ok

    return jax.jit(jax.vmap(one, in_axes=(0, None, None)))
