"""Lorenz-63 training windows shared by the peer benchmarks (generated once, saved to .npz).

Deterministic: onsagerflow.systems.lorenz (Dopri8, rtol = atol = 1e-10). Stochastic: the
same field with additive noise σ_noise dW, Euler–Maruyama (onsagerflow.analysis.sde).
Both normalised as the train stage does (Normalizer fitted on the train trajectories):
windows z = (x − mean)/scale of pairs τ apart, τ in rescaled time.
"""

from __future__ import annotations

import numpy as np

RHO = (10.0, 28.0, 8.0 / 3.0)
BOX = (np.array([-25.0, -25.0, -5.0]), np.array([25.0, 25.0, 30.0]))


def lorenz_windows(
    n_train: int,
    n_val: int,
    per_trajectory: int,
    *,
    stochastic: bool,
    t_end: float = 2.0,
    dt_sample: float = 0.01,
    lag: int = 1,
    noise: float = 5.0,
    seed: int = 0,
) -> dict:
    import jax
    import jax.numpy as jnp

    from onsagerflow.models.normalizer import Normalizer
    from onsagerflow.systems import lorenz
    from onsagerflow.training.trainer import make_windows

    n = n_train + n_val
    u0 = np.random.default_rng(seed).uniform(*BOX, size=(n, 3))
    t = np.arange(int(round(t_end / dt_sample)) + 1) * dt_sample
    args = tuple(jnp.float64(p) for p in RHO)
    if stochastic:
        from onsagerflow.analysis.sde import simulate_sde

        def drift(x, a):
            return lorenz.vector_field(0.0, x, args)

        def sigma(x, a):
            return noise * jnp.eye(3, dtype=x.dtype)

        u = simulate_sde(drift, sigma, u0, t, 1e-3, jax.random.key(seed))
    else:
        u = np.asarray(lorenz.solve_batch(u0, t, args))
    norm = Normalizer.fit(u[:n_train], dt_sample)
    z = norm.encode(u)
    tau = lag * dt_sample / norm.time_scale
    w_train = make_windows(z[:n_train], lag=lag, per_trajectory=per_trajectory, seed=seed)
    w_val = make_windows(z[n_train:], lag=lag, per_trajectory=per_trajectory, seed=seed + 1)
    return {"train": w_train, "val": w_val, "tau": np.float64(tau), "time_scale": np.float64(norm.time_scale)}
