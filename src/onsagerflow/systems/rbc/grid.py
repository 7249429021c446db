"""The doubled-z spectral grid of the RBC solver: wavenumbers, the 2/3 dealiasing mask and
the z-reflection of spectral coefficients.

Free-slip isothermal walls make ψ, ζ, θ sine series in z; their odd extension to
z ∈ [0, 2) turns the sine/cosine transforms into plain FFTs in both directions. x is
periodic with length 2√2, so the critical wavenumber k_c = π/√2 fits once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...lazy_import import lazy

if TYPE_CHECKING:
    import jax.numpy as jnp
else:
    jnp = lazy("jax.numpy")

LENGTH = 2.0 * math.sqrt(2.0)  # periodic length: k_c = π/√2 fits once


@dataclass(frozen=True)
class Grid:
    """Doubled-z spectral grid: 2·nz points on z ∈ [0, 2), nx points on x ∈ [0, L)."""

    nx: int
    nz: int
    length: float = LENGTH

    @property
    def kx(self):
        return 2 * np.pi / self.length * np.fft.rfftfreq(self.nx, 1.0 / self.nx)

    @property
    def kz(self):
        # the doubled domain has period 2: wavenumbers m·π
        return np.pi * np.fft.fftfreq(2 * self.nz, 1.0 / (2 * self.nz))

    def wavenumbers(self):
        KZ, KX = np.meshgrid(self.kz, self.kx, indexing="ij")
        return KZ, KX, KX**2 + KZ**2

    def dealias(self):
        """2/3 rule: keep |m| < 2/3·nz in z and |n| < 2/3·nx/2 in x."""
        m = np.abs(np.fft.fftfreq(2 * self.nz, 1.0 / (2 * self.nz)))
        n = np.fft.rfftfreq(self.nx, 1.0 / self.nx)
        return np.outer(m < 2.0 * self.nz / 3.0, n < self.nx / 3.0)

    @property
    def z(self):
        return np.arange(self.nz + 1) / self.nz  # physical points, walls included

    @property
    def x(self):
        return np.arange(self.nx) * self.length / self.nx


def reflect_z(f):
    """f̂(m) → f̂(−m): the coefficients of f(−z, x)."""
    return jnp.roll(jnp.flip(f, axis=-2), 1, axis=-2)
