"""Learned models as vector fields in physical units (what evaluation and figures use)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .normalizer import Normalizer


def as_float64(model: nnx.Module) -> nnx.Module:
    """A float64 copy of ``model``: root finding and long rollouts want the precision."""
    graphdef, state = nnx.split(model)
    return nnx.merge(
        graphdef, jax.tree.map(lambda a: a.astype(jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a, state)
    )


def physical_field(model: nnx.Module, norm: Normalizer):
    """(field, args): dx/dt = field(x, args) = scale ⊙ g((x − mean)/scale) / time_scale
    for a model g in normalised units (``Units.rate_to_physical``).

    Parameters travel in ``args`` rather than as constants baked into a compiled
    program, so one compilation serves every model of the same architecture.
    """
    graphdef, state = nnx.split(model)
    args = (state, norm.units(jnp.asarray))

    def field(x, args):
        st, units = args
        return units.rate_to_physical(nnx.merge(graphdef, st)(units.state_to_model(x)))

    return field, args


def physical_potential(model: nnx.Module, norm: Normalizer):
    """V(z(x)): the learned potential at physical states (models with a potential only)."""
    units = norm.units(jnp.asarray)

    def potential(x):
        return model.potential(units.state_to_model(x))

    return potential


class LatentChart:
    """encode/decode between the stored PCA coordinates y and a run's latent h: the n
    leading coordinates for a plain run, the PCA-ResNet for a joint model."""

    def __init__(self, model: nnx.Module, meta: dict):
        self.n = meta["n"]
        self.learned = hasattr(model, "encode")
        if self.learned:
            self._enc = jax.jit(model.encode)  # type: ignore[attr-defined]  # a JointModel
            self._dec = jax.jit(model.decode)  # type: ignore[attr-defined]

    def encode(self, y):
        return np.asarray(self._enc(jnp.asarray(y))) if self.learned else np.asarray(y)[..., : self.n]

    def decode(self, h):
        return np.asarray(self._dec(jnp.asarray(h))) if self.learned else np.asarray(h)
