"""Unstructured baseline: a plain MLP vector field dz/dt = g(z)."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from .layers import MLP, mlp_param_count


class MLPODE(nnx.Module):
    """``residual`` adds skip connections between the hidden layers (the authors' MLP-ODEN);
    it adds no parameters."""

    def __init__(
        self,
        n: int,
        *,
        width: int,
        depth: int = 2,
        activation: str = "tanh",
        residual: bool = False,
        rngs: nnx.Rngs,
        param_dtype=jnp.float32,
    ):
        self.net = MLP(
            n, n, width=width, depth=depth, act=activation, residual=residual, rngs=rngs, param_dtype=param_dtype
        )

    def __call__(self, z):
        return self.net(z)


def matched_width(n: int, depth: int, target_params: int) -> int:
    """Hidden width whose MLP-ODE parameter count is closest to ``target_params``."""
    return min(range(1, 4096), key=lambda w: abs(mlp_param_count(n, n, w, depth) - target_params))
