"""PCA-ResNet charts and their joint model with an OnsagerNet.

The chart works in the space of the stored coordinates y = [observables (``fixed`` of them),
PCA coordinates] (the PCA layer is the fitted, fixed PCA); h is the latent state, of which
the first ``fixed`` are the observables (NCS24's Z*, the polymer's extension): they pass
through normalised but uncorrected, and the networks correct only the closure coordinates Ẑ.
N is the normaliser of the n leading coordinates of y.

Two forms (config ``autoencoder.form``):

- ``ours``: encoder h = N(y_{1..n}) + [0, MLP_e(y/σ_y)], decoder y = [N⁻¹(h), 0] +
  σ_y·[0, MLP_d(h)]. The last layers of both MLPs start at zero, so training starts from plain
  PCA and the networks learn residual corrections.
- ``ncs24`` (the authors' code): the encoder's network sees the bead positions x, scaled by
  ``input_scale`` (Ẑ = P x̃/√λ + MLP(0.01 x)), and the decoder's network sees the closure
  coordinates alone and returns positions (x = Pᵀ√λ Ẑ + MLP(Ẑ)), both with their default
  initialisation. Positions come from the stored PCA coordinates by the inverse PCA (exact when
  every component is kept); the decoder's positions are projected back onto them.
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from .layers import MLP
from .onsagernet import OnsagerNet

FORMS = ("ours", "ncs24")


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
        form: str = "ours",
        input_scale: float = 0.01,
        positions_dim: int | None = None,
    ):
        if n > m:
            raise ValueError(f"latent size n = {n} exceeds the {m} PCA coordinates")
        if not 0 <= fixed < n:
            raise ValueError(f"{fixed} fixed observables leave no closure coordinate in n = {n}")
        if form not in FORMS:
            raise ValueError(f"autoencoder form must be one of {FORMS}, got '{form}'")

        self.m, self.n, self.fixed, self.form, self.input_scale = m, n, fixed, form, float(input_scale)
        kw = dict(width=width, depth=depth, act=activation, rngs=rngs, param_dtype=param_dtype)
        if form == "ours":
            self.enc = MLP(m, n - fixed, **kw)
            self.dec = MLP(n, m - fixed, **kw)
            for net in (self.enc, self.dec):  # start from plain PCA
                out = net.out
                assert out.bias is not None  # the output layer has a bias
                out.kernel[...] = jnp.zeros_like(out.kernel[...])
                out.bias[...] = jnp.zeros_like(out.bias[...])
        else:
            if not positions_dim:
                raise ValueError("the ncs24 chart needs positions_dim (the bead coordinates the PCA was fitted on)")
            self.enc = MLP(positions_dim, n - fixed, **kw)
            self.dec = MLP(n - fixed, positions_dim, **kw)
        if positions_dim:  # the inverse PCA: positions x = (y_PCA @ P) · s + mean
            self.components = Const(jnp.zeros((m - fixed, positions_dim), param_dtype))
            self.position_scale = Const(jnp.ones(positions_dim, param_dtype))
            self.position_mean = Const(jnp.zeros(positions_dim, param_dtype))
        self.h_mean = Const(jnp.zeros(n, param_dtype))
        self.h_scale = Const(jnp.ones(n, param_dtype))
        self.y_scale = Const(jnp.ones(m, param_dtype))

    def set_pca(self, components, scale, mean) -> None:
        """The fitted PCA's components (k, D), per-coordinate scale (D,) and mean (D,)."""
        dtype = self.components[...].dtype
        self.components[...] = jnp.asarray(components, dtype)
        self.position_scale[...] = jnp.asarray(scale, dtype)
        self.position_mean[...] = jnp.asarray(mean, dtype)

    def positions(self, y):
        """Bead coordinates (…, D) from stored coordinates y (…, m) by the inverse PCA."""
        return (y[..., self.fixed :] @ self.components[...]) * self.position_scale[...] + self.position_mean[...]

    def position_error(self, dy):
        """Bead-coordinate difference (…, D) of a difference dy (…, m) of stored coordinates."""
        return (dy[..., self.fixed :] @ self.components[...]) * self.position_scale[...]

    def linear_encode(self, y):
        return (y[..., : self.n] - self.h_mean[...]) / self.h_scale[...]

    def encode(self, y):
        if self.form == "ours":
            correction = self.enc(y / self.y_scale[...])
        else:
            correction = self.enc(self.input_scale * self.positions(y))
        return self.linear_encode(y).at[..., self.fixed :].add(correction)

    def linear_decode(self, h):
        lead = h * self.h_scale[...] + self.h_mean[...]
        pad = jnp.zeros((*h.shape[:-1], self.m - self.n), lead.dtype)
        return jnp.concatenate([lead, pad], axis=-1)

    def decode(self, h):
        if self.form == "ours":
            correction = self.y_scale[..., self.fixed :] * self.dec(h)
        else:  # positions from the closure coordinates, projected onto the PCA coordinates
            correction = (self.dec(h[..., self.fixed :]) / self.position_scale[...]) @ self.components[...].T
        return self.linear_decode(h).at[..., self.fixed :].add(correction)


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
