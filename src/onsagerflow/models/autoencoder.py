"""PRF21's PCA-ResNet autoencoder and its joint model with an OnsagerNet.

The autoencoder works in the space of the leading m PCA coordinates y (the PCA layer is
the fitted, fixed PCA). Encoder h = N(y_{1..n}) + MLP_e(y/σ_y), decoder
y = [N⁻¹(h), 0] + σ_y·MLP_d(h), N the OnsagerNet's normaliser of the n leading PCA
coordinates. The last layers of both MLPs start at zero, so training starts from plain
PCA and the networks learn residual corrections.

With ``fixed = k`` the first k coordinates of y are macroscopic observables (NCS24's Z*,
the polymer's extension): they pass through the chart normalised but uncorrected, and
the networks correct only the closure coordinates Ẑ (NCS24: Ẑ = P x̃/√λ + MLP(x̃)).
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from .layers import MLP
from .onsagernet import OnsagerNet


class Const(nnx.Variable):
    """Fitted constants (normalisation) that travel with the parameters but are not trained."""


class PCAResNet(nnx.Module):
    def __init__(
        self,
        m: int,
        n: int,
        *,
        width: int,
        depth: int,
        activation: str,
        rngs: nnx.Rngs,
        param_dtype=jnp.float32,
        fixed: int = 0,
    ):
        if n > m:
            raise ValueError(f"latent size n = {n} exceeds the {m} PCA coordinates")
        if not 0 <= fixed < n:
            raise ValueError(f"{fixed} fixed observables leave no closure coordinate in n = {n}")
        self.m, self.n, self.fixed = m, n, fixed
        kw = dict(width=width, depth=depth, act=activation, rngs=rngs, param_dtype=param_dtype)
        self.enc = MLP(m, n - fixed, **kw)
        self.dec = MLP(n, m - fixed, **kw)
        for net in (self.enc, self.dec):  # start from plain PCA
            out = net.out
            assert out.bias is not None  # the output layer has a bias
            out.kernel[...] = jnp.zeros_like(out.kernel[...])
            out.bias[...] = jnp.zeros_like(out.bias[...])
        self.h_mean = Const(jnp.zeros(n, param_dtype))
        self.h_scale = Const(jnp.ones(n, param_dtype))
        self.y_scale = Const(jnp.ones(m, param_dtype))

    def linear_encode(self, y):
        return (y[..., : self.n] - self.h_mean[...]) / self.h_scale[...]

    def encode(self, y):
        return self.linear_encode(y).at[..., self.fixed :].add(self.enc(y / self.y_scale[...]))

    def linear_decode(self, h):
        lead = h * self.h_scale[...] + self.h_mean[...]
        pad = jnp.zeros((*h.shape[:-1], self.m - self.n), lead.dtype)
        return jnp.concatenate([lead, pad], axis=-1)

    def decode(self, h):
        return self.linear_decode(h).at[..., self.fixed :].add(self.y_scale[..., self.fixed :] * self.dec(h))


class JointModel(nnx.Module):
    """An OnsagerNet on the coordinates h of a PCA-ResNet: dh/dt' = dynamics(h)."""

    def __init__(self, dynamics: OnsagerNet, autoencoder: PCAResNet):
        self.dynamics = dynamics
        self.autoencoder = autoencoder

    def __call__(self, h):
        return self.dynamics(h)

    def potential(self, h):
        return self.dynamics.potential(h)

    def encode(self, y):
        return self.autoencoder.encode(y)

    def decode(self, h):
        return self.autoencoder.decode(h)
