"""Batched Euler–Maruyama paths of an Itô SDE dz = b(z) dt + σ(z) dW, and a learned
S-OnsagerNet as such an SDE in normalised or physical units."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..models.normalizer import Normalizer


def simulate_sde(drift, sigma, z0, t_save, dt: float, key, *, args=None, n_paths: int | None = None) -> np.ndarray:
    """Euler–Maruyama paths of dz = drift(z, args) dt + sigma(z, args) dW, saved at ``t_save``.

    drift(z, args) → (n,) and sigma(z, args) → (n, m) act on one state z (n,); they are
    pure functions and the parameters travel in ``args`` (see ``model_sde``), so calls
    with the same functions, step count and shapes reuse one compiled program.

    z0: (B, n), one path from each row; or (n,) with ``n_paths`` = R: R realisations from
    that one state. t_save (T,): uniformly spaced, t_save[0] the start (row 0 is z0).
    Each interval between saves takes k = ⌈Δt_save/dt⌉ equal steps h = Δt_save/k ≤ dt:

        z ← z + b(z) h + σ(z) √h ξ,   ξ ~ N(0, I_m).

    Noise: path i uses the key fold_in(key, i), so a path does not depend on how many
    others run beside it, and the same key gives the same paths. Returns (B, T, n).
    """
    z0 = jnp.asarray(z0, dtype=jnp.result_type(float))
    if z0.ndim == 1:
        z0 = jnp.broadcast_to(z0, (n_paths or 1, z0.shape[0]))
    elif n_paths is not None and n_paths != z0.shape[0]:
        raise ValueError(f"n_paths = {n_paths} but z0 already holds {z0.shape[0]} starts")
    t_save = np.asarray(t_save, dtype=np.float64)
    if t_save.ndim != 1 or t_save.size < 2:
        raise ValueError("t_save needs at least two times (the start and one save)")
    gaps = np.diff(t_save)
    if gaps[0] <= 0 or not np.allclose(gaps, gaps[0], rtol=1e-9, atol=0.0):
        raise ValueError("t_save must be increasing and uniformly spaced")
    if dt <= 0:
        raise ValueError(f"dt must be positive, got {dt}")
    k = max(1, math.ceil(gaps[0] / dt - 1e-9))  # a dt that divides the spacing gives exactly dt
    h = jnp.asarray(gaps[0] / k, dtype=z0.dtype)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(z0.shape[0]))
    zs = _em_solver(drift, sigma, k)(z0, keys, jnp.arange(t_save.size - 1), h, args)
    return np.asarray(zs)


@functools.lru_cache(maxsize=32)
def _em_solver(drift, sigma, k: int):
    """One jitted batch of paths per (drift, sigma, steps between saves): lax.scan over
    the saves, an inner lax.scan over the k steps between them, vmap over paths."""

    def one(z0, key, saves, h, args):
        m = jax.eval_shape(sigma, z0, args).shape[-1]  # noise dimension, static

        def step(z, xi):
            return z + h * drift(z, args) + jnp.sqrt(h) * (sigma(z, args) @ xi), None

        def interval(z, i):
            xi = jax.random.normal(jax.random.fold_in(key, i), (k, m), z.dtype)
            z, _ = jax.lax.scan(step, z, xi)
            return z, z

        _, zs = jax.lax.scan(interval, z0, saves)
        return jnp.concatenate([z0[None], zs], axis=0)

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None, None, None)))


def model_sde(model: nnx.Module):
    """(drift, sigma, args) of a model with ``drift`` and ``sigma`` methods (an
    SOnsagerNet) in its own, normalised units: pass them to ``simulate_sde``.

    The functions depend on the architecture alone (cached per graph definition) and
    the parameters are ``args``, so models of one architecture share compiled programs.
    """
    graphdef, state = nnx.split(model)
    return (*_normalised_fns(graphdef), state)


def physical_sde(model: nnx.Module, norm: Normalizer):
    """(drift, sigma, args) in physical units x = scale ⊙ z + mean, t = time_scale · t'
    (``Units``).

    With dz = b(z) dt' + σ(z) dW' and W'(t') = W(t)/√T (T = time_scale, Brownian scaling):
    dx = scale ⊙ b(z)/T dt + scale ⊙ σ(z)/√T dW, z = (x − mean)/scale.

    A deterministic model (no ``sigma``: an OnsagerNet, MLP-ODE or SINDy) gets σ = 0 (one zero
    noise column), so the same Euler–Maruyama steps integrate its ODE and every realisation
    from one start is the same path.
    """
    graphdef, state = nnx.split(model)
    args = (state, norm.units(jnp.asarray))
    fns = _physical_fns(graphdef) if hasattr(model, "sigma") else _physical_ode_fns(graphdef)
    return (*fns, args)


@functools.lru_cache(maxsize=32)
def _normalised_fns(graphdef):
    def drift(z, st):
        return nnx.merge(graphdef, st).drift(z)

    def sigma(z, st):
        return nnx.merge(graphdef, st).sigma(z)

    return drift, sigma


@functools.lru_cache(maxsize=32)
def _physical_ode_fns(graphdef):
    def drift(x, a):
        st, units = a
        return units.rate_to_physical(nnx.merge(graphdef, st)(units.state_to_model(x)))

    def sigma(x, a):
        return jnp.zeros((x.shape[-1], 1), x.dtype)

    return drift, sigma


@functools.lru_cache(maxsize=32)
def _physical_fns(graphdef):
    def drift(x, a):
        st, units = a
        return units.rate_to_physical(nnx.merge(graphdef, st).drift(units.state_to_model(x)))

    def sigma(x, a):
        st, units = a
        return units.noise_to_physical(nnx.merge(graphdef, st).sigma(units.state_to_model(x)))

    return drift, sigma
