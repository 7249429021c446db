"""Affine state normalisation and a time rescaling, fitted on training trajectories only.

z = (x − mean) / scale and t' = t / time_scale. A positive diagonal rescaling keeps
the OnsagerNet structure: with x = D z + mean, t = T t' and Ṽ(x) = V(z(x)), ∇_z V = D ∇_x Ṽ, so
dx/dt = −(D M D + D W D) ∇_x Ṽ / T + D f / T, and D M D / T is still symmetric positive
definite, D W D / T still antisymmetric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np


class Units(NamedTuple):
    """The one transform between a model's units (z, t') and physical units (x, t):
    x = scale ⊙ z + mean, t = time_scale · t'.

    A NamedTuple, so a JAX pytree: compiled functions take it as an argument (its arrays
    traced, not baked in), and one compilation serves every model of an architecture.
    """

    mean: Any
    scale: Any
    time_scale: Any

    def state_to_model(self, x):
        return (x - self.mean) / self.scale

    def state_to_physical(self, z):
        return z * self.scale + self.mean

    def rate_to_physical(self, g):
        """A rate dz/dt' (a vector field, a drift) as dx/dt: scale ⊙ g / time_scale."""
        return self.scale * g / self.time_scale

    def rate_to_model(self, v):
        """A rate dx/dt as dz/dt' = v ⊙ time_scale / scale (the inverse of ``rate_to_physical``)."""
        return v * self.time_scale / self.scale

    def gradient_to_physical(self, g):
        """A gradient ∇_z V as ∇ₓV = g / scale (z = (x − mean)/scale)."""
        return g / self.scale

    def matrix_to_physical(self, A):
        """A matrix (M, W) of dz/dt' = −A ∇_z V as that of dx/dt = −A_x ∇ₓV:
        A_x = D A D / time_scale, D = diag(scale); any leading dims."""
        return self.scale[:, None] * A * self.scale[None, :] / self.time_scale

    def noise_to_physical(self, s):
        """A noise matrix σ (n, m) of dz = … dt' + σ dW' as that of dx = … dt + σ_x dW:
        σ_x = scale ⊙ σ / √time_scale (Brownian scaling, W'(t') = W(t)/√time_scale)."""
        return self.scale[:, None] * s / jnp.sqrt(self.time_scale)

    def time_to_model(self, t):
        return t / self.time_scale

    def time_to_physical(self, t):
        return t * self.time_scale


@dataclass(frozen=True)
class Normalizer:
    mean: np.ndarray
    scale: np.ndarray
    time_scale: float

    @classmethod
    def fit(cls, u: np.ndarray, dt: float, isotropic: bool = False, steps: np.ndarray | None = None) -> Normalizer:
        """``u`` (trajectory, time, n) from the train split; ``dt`` its sampling step; ``steps``
        the indices i whose difference u[i + 1] − u[i] is one step dt (a burst-sampled store:
        inside a burst; None: every i).

        Per component, every coordinate gets unit variance; ``isotropic`` divides all by
        one RMS instead, keeping their relative sizes — for PCA coordinates, whose small
        variances mark the directions that matter least (whitening them amplifies noise).
        time_scale makes the RMS of dz/dt' one, so networks start at the right size.
        """
        u = np.asarray(u, dtype=np.float64)
        flat = u.reshape(-1, u.shape[-1])
        mean = flat.mean(axis=0)
        scale = flat.std(axis=0)
        if isotropic:
            scale = np.full_like(scale, np.sqrt(np.mean(scale**2)))
        scale = np.where(scale > 0, scale, 1.0)
        i = np.arange(u.shape[1] - 1) if steps is None else np.asarray(steps)
        dz = (u[:, i + 1] - u[:, i]) / dt / scale
        rms = float(np.sqrt(np.mean(dz**2))) if dz.size else 1.0
        return cls(mean=mean, scale=scale, time_scale=1.0 / rms if rms > 0 else 1.0)

    @classmethod
    def identity(cls, n: int) -> Normalizer:
        """No scaling: models learn in physical units (as the authors' nets of PRF21 do)."""
        return cls(mean=np.zeros(n), scale=np.ones(n), time_scale=1.0)

    @classmethod
    def for_kind(cls, kind: str, u: np.ndarray, dt: float, steps: np.ndarray | None = None) -> Normalizer:
        """The normaliser a system's ``normalization`` names: per_component, isotropic or none
        (``steps`` as in ``fit``)."""
        if kind == "none":
            return cls.identity(np.asarray(u).shape[-1])
        if kind not in ("per_component", "isotropic"):
            raise ValueError(f"unknown normalization '{kind}'; known: per_component, isotropic, none")
        return cls.fit(u, dt, isotropic=kind == "isotropic", steps=steps)

    def units(self, array: Callable = np.asarray) -> Units:
        """The transform as ``Units``; ``array=jnp.asarray`` for arguments of compiled code."""
        return Units(array(self.mean), array(self.scale), array(self.time_scale))

    def encode(self, x):
        return self.units().state_to_model(x)

    def decode(self, z):
        return self.units().state_to_physical(z)

    def time_to_model(self, t):
        return self.units().time_to_model(t)

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        return cls(
            mean=np.asarray(d["mean"], float), scale=np.asarray(d["scale"], float), time_scale=float(d["time_scale"])
        )
