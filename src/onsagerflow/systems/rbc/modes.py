"""Initial fields of the RBC solver: random low-mode perturbations of the conduction state and
the three Saltzman–Lorenz modes (fields made of them, and the amplitudes of a field on them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...lazy_import import lazy
from .grid import Grid
from .linear import RA_C
from .solver import Solver

if TYPE_CHECKING:
    import jax
    import jax.numpy as jnp
else:
    jax, jnp = lazy("jax"), lazy("jax.numpy")


def random_perturbations(solver: Solver, keys, amplitude: float, modes: int = 4):
    """Small random θ perturbations of the conduction state in the lowest modes
    (|m|, |n| ≤ modes), trajectory i drawn from keys[i] — so a trajectory does not depend
    on the batch it is simulated in."""
    g = solver.grid
    m = np.abs(np.fft.fftfreq(2 * g.nz, 1.0 / (2 * g.nz)))
    k = np.fft.rfftfreq(g.nx, 1.0 / g.nx)
    low = jnp.asarray(np.outer((m >= 1) & (m <= modes), k <= modes), solver.rdtype)
    shape = (2 * g.nz, g.nx // 2 + 1)

    def draw(key):
        kr, ki = jax.random.split(key)
        return jax.random.normal(kr, shape, solver.rdtype) + 1j * jax.random.normal(ki, shape, solver.rdtype)

    theta = jax.vmap(draw)(keys) * low
    s = jnp.stack([jnp.zeros_like(theta), theta], axis=1)
    s = jax.vmap(solver.project)(s)
    # scale so that the RMS of θ in physical space equals the amplitude
    rms = jnp.sqrt(jnp.mean(solver.to_physical(s[:, 1]) ** 2, axis=(-2, -1)))
    return s * (amplitude / jnp.maximum(rms, 1e-300))[:, None, None, None]


def lorenz_modes(grid: Grid):
    """The three Saltzman–Lorenz modes on the doubled-z grid: ψ ∝ sin(kx) sin(πz) (X),
    θ ∝ cos(kx) sin(πz) (Y) and θ ∝ sin(2πz) (Z), k = 2π/L; and a = k/π."""
    a = 2.0 / grid.length
    zz, xx = np.meshgrid(np.arange(2 * grid.nz) / grid.nz, grid.x, indexing="ij")
    k = np.pi * a
    s1 = np.sin(k * xx) * np.sin(np.pi * zz)
    c1 = np.cos(k * xx) * np.sin(np.pi * zz)
    s2 = np.sin(2 * np.pi * zz)
    return a, s1, c1, s2


def lorenz_time_factor(grid: Grid) -> float:
    """Lorenz's time τ = π²(1 + a²) κt/d²: the factor between τ and t in d²/κ."""
    a = 2.0 / grid.length
    return float(np.pi**2 * (1 + a * a))


def lorenz_mode_states(solver: Solver, amplitudes) -> jnp.ndarray:
    """Spectral states (B, 2, 2nz, nx//2+1) of fields made of the three Lorenz modes with
    amplitudes (X, Y, Z) per row, normalised as in Lorenz (1963):
    a/(1 + a²) ψ/κ = −√2 X sin(kx) sin(πz) (our ψ has the opposite sign: u = ∂ψ/∂z) and
    π r θ/ΔT = √2 Y cos(kx) sin(πz) − Z sin(2πz). On these three modes the PDE projects
    exactly onto Lorenz-63 with σ = Pr, b = 4/(1 + a²), in the time τ of lorenz_time_factor."""
    a, s1, c1, s2 = lorenz_modes(solver.grid)
    r = solver.ra / RA_C
    q2 = (np.pi * a) ** 2 + np.pi**2
    c_psi = np.sqrt(2.0) * (1 + a * a) / a
    amp = np.asarray(amplitudes, np.float64).reshape(-1, 3)
    zeta = q2 * c_psi * amp[:, 0, None, None] * s1  # ζ = ∇²ψ = −q²ψ
    theta = (np.sqrt(2.0) * amp[:, 1, None, None] * c1 - amp[:, 2, None, None] * s2) / (np.pi * r)
    phys = jnp.asarray(np.stack([zeta, theta], axis=1), solver.rdtype)
    return jax.vmap(solver.project)(solver.to_spectral(phys))


def lorenz_mode_amplitudes(solver: Solver, states) -> np.ndarray:
    """(…, 3) amplitudes (X, Y, Z) of states (…, 2, 2nz, nx//2+1): the projections that
    invert lorenz_mode_states."""
    a, s1, c1, s2 = lorenz_modes(solver.grid)
    r = solver.ra / RA_C
    q2 = (np.pi * a) ** 2 + np.pi**2
    c_psi = np.sqrt(2.0) * (1 + a * a) / a
    phys = np.asarray(solver.to_physical(jnp.asarray(states)))
    zeta, theta = phys[..., 0, :, :], phys[..., 1, :, :]
    mean = lambda f: np.mean(f, axis=(-2, -1))
    # over the doubled domain, ⟨s1²⟩ = ⟨c1²⟩ = 1/4 and ⟨s2²⟩ = 1/2
    x = 4 * mean(zeta * s1) / (q2 * c_psi)
    y = 4 * mean(theta * c1) * np.pi * r / np.sqrt(2.0)
    z = -2 * mean(theta * s2) * np.pi * r
    return np.stack([x, y, z], axis=-1)
