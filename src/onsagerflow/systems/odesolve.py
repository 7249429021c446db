"""Reference solutions of the built-in ODE systems: batched diffrax Dopri8, float64.

One compiled solver per (vector field, tolerances, step, save times, parameters): later calls
with other starts of the same batch size reuse it. Save times and parameters stay compile-time
constants (as traced arguments the first compilation takes about twice as long).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from ..lazy_import import lazy

if TYPE_CHECKING:
    import jax
    import jax.numpy as jnp
else:
    jax, jnp = lazy("jax"), lazy("jax.numpy")


def solve_batch(vector_field, u0, t, params, *, rtol=1e-10, atol=1e-10, dt_step=None, max_steps=1_000_000):
    """Trajectories (batch, time, n) of du/dt = vector_field(t, u, params) from starts ``u0``
    (batch, n), saved at times ``t``. ``dt_step`` switches from adaptive steps (PID control) to
    a constant step (to show the solver's order of convergence). ``vector_field`` must be
    hashable and stable between calls (a module-level function) for the cache to work.

    A start the solver cannot carry to the last save time (step limit, non-finite state) is an
    error that names it (its row in ``u0``)."""
    t = np.asarray(t, dtype=np.float64)
    params = tuple(float(a) for a in params)
    solver = _solver(
        vector_field,
        float(rtol),
        float(atol),
        None if dt_step is None else float(dt_step),
        int(max_steps),
        t.tobytes(),
        params,
    )
    ys, ok = solver(jnp.asarray(u0, dtype=jnp.float64))
    failed = np.flatnonzero(~np.asarray(ok))
    if failed.size:
        raise RuntimeError(
            f"the reference ODE solve failed from {failed.size} of {len(ok)} starts "
            f"(rows {failed[:10].tolist()} of the batch; first start {np.asarray(u0)[failed[0]].tolist()}): "
            f"step limit {max_steps} reached or the state became non-finite before t = {t[-1]:g}"
        )
    return ys


@functools.lru_cache(maxsize=32)
def _solver(vector_field, rtol, atol, dt_step, max_steps, t_bytes, params):
    import diffrax

    t = jnp.asarray(np.frombuffer(t_bytes, dtype=np.float64))
    args = tuple(jnp.float64(p) for p in params)
    term = diffrax.ODETerm(vector_field)
    solver = diffrax.Dopri8()
    if dt_step is None:
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
    else:
        controller = diffrax.ConstantStepSize()

    def one(y0):
        sol = diffrax.diffeqsolve(
            term,
            solver,
            t[0],
            t[-1],
            dt_step,
            y0,
            args=args,
            saveat=diffrax.SaveAt(ts=t),
            stepsize_controller=controller,
            max_steps=max_steps,
            throw=False,  # checked on the host (solve_batch): no callback, so the program can be cached
            adjoint=diffrax.ForwardMode(),  # not differentiated: compiles faster (analysis/rollout.py)
        )
        return sol.ys, sol.result == diffrax.RESULTS.successful

    return jax.jit(jax.vmap(one))


def trajectory_batches(spec, trajectories, starts, batch: int, solve, dataset):
    """The ``trajectories`` (ids; None: all of ``starts``) of an ODE system, solved ``batch``
    at a time from the first id and handed to ``dataset(u, t, split, ids)``. The last batch is
    padded to ``batch`` for the solve, so one compiled solver serves all; trajectory i starts
    from ``starts[i]`` and keeps the split of the whole set, so a shard of whole batches holds,
    bit for bit, what the whole run would (each batch is the same program on the same starts).
    ``solve(starts)`` solves from the given starts."""
    from ..data import assign_splits

    n = len(starts)
    wanted = np.arange(n) if trajectories is None else np.asarray(trajectories, dtype=np.int64)
    split = assign_splits(n, spec["splits"], spec["seed"])
    for first in range(0, len(wanted), batch):
        ids = wanted[first : first + batch]
        padded = starts[np.concatenate([ids, np.full(batch - len(ids), ids[-1])])]
        yield dataset(solve(padded)[: len(ids)], split[ids], ids)


def sample_times(spec) -> np.ndarray:
    """An ODE system's stored times: 0, dt_sample, ..., t_end."""
    sim = spec["simulation"]
    n = int(round(sim["t_end"] / sim["dt_sample"]))
    return np.arange(n + 1) * sim["dt_sample"]


def trajectory_count(spec) -> int:
    """How many trajectories an ODE system's ``simulate`` makes."""
    return int(spec["simulation"]["n_trajectories"])
