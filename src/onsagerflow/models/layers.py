"""Activations and the small MLPs the dynamics models are built from."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


def requr(x):
    """ReQUr(x) = ReLU(x)² − ReLU(x − ½)²: quadratic near 0, linear growth (x − ¼) for x > ½."""
    return jax.nn.relu(x) ** 2 - jax.nn.relu(x - 0.5) ** 2


def requ(x):
    return jax.nn.relu(x) ** 2


ACTIVATIONS = {
    "requr": requr,
    "requ": requ,
    "tanh": jnp.tanh,
    "softplus": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
}


def activation(name: str):
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation '{name}'; known: {sorted(ACTIVATIONS)}") from None


class MLP(nnx.Module):
    """din → width (× depth hidden layers) → dout; ``residual`` adds skip connections
    between the hidden layers (the residual MLP of PRF21's potential)."""

    def __init__(
        self,
        din: int,
        dout: int,
        *,
        width: int,
        depth: int,
        act: str,
        rngs: nnx.Rngs,
        residual: bool = False,
        param_dtype=jnp.float32,
    ):
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        activation(act)  # fail early on a bad name
        kw = dict(rngs=rngs, param_dtype=param_dtype)
        self.inp = nnx.Linear(din, width, **kw)
        self.hidden = nnx.List([nnx.Linear(width, width, **kw) for _ in range(depth - 1)])
        self.out = nnx.Linear(width, dout, **kw)
        self.act = act
        self.residual = residual

    def features(self, x):
        """The last hidden layer's output (what ``out`` maps to the result)."""
        sigma = activation(self.act)
        h = sigma(self.inp(x))
        for layer in self.hidden:
            h = h + sigma(layer(h)) if self.residual else sigma(layer(h))
        return h

    def __call__(self, x):
        return self.out(self.features(x))


def mlp_param_count(din: int, dout: int, width: int, depth: int) -> int:
    return din * width + width + (depth - 1) * (width * width + width) + width * dout + dout


def param_count(module: nnx.Module) -> int:
    return int(sum(x.size for x in jax.tree.leaves(nnx.state(module, nnx.Param))))
