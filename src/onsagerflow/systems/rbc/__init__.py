"""2D Rayleigh–Bénard convection, free-slip isothermal walls (docs/science.md, docs/rbc.md, PRF21 Sec. V).

Units: depth d, thermal diffusion time d²/κ, temperature difference ΔT; θ is the
deviation from the conduction profile. The solver works in these units; the store may use
the free-fall time t_ff = (d²/κ)/√(Ra Pr) instead (``simulation.time_unit``), with
velocities in d/t_ff. Streamfunction–vorticity form, u = ∂ψ/∂z,
w = −∂ψ/∂x, ζ = ∂u/∂z − ∂w/∂x = ∇²ψ:

    ∂ζ/∂t + u·∇ζ = Pr ∇²ζ − Ra Pr ∂θ/∂x
    ∂θ/∂t + u·∇θ = w + ∇²θ

Free-slip isothermal walls (w = ∂u/∂z = θ = 0 at z = 0, 1) make ψ, ζ, θ sine series
in z and u a cosine series. We realise that basis exactly by the odd extension of
ψ, ζ, θ to z ∈ [0, 2): plain FFTs in both directions then carry the sine/cosine
transforms, the equations preserve the parity, and each step projects the round-off
back out. x is periodic with length 2√2 (critical wavenumber k_c = π/√2).

Time stepping: diffusion exactly (integrating factor), everything else (advection and
the buoyancy coupling) explicitly with Kutta's 3-stage, third-order Runge–Kutta in
Lawson form — only decaying exponentials e^{−νq²h/2}, e^{−νq²h} appear. Products are
dealiased by the 2/3 rule. A CFL guard freezes a trajectory whose Courant number passes
``cfl_max`` and the run then fails with a message naming it, instead of writing NaN.


The package, one idea per module:

    grid      the doubled-z spectral grid: wavenumbers, dealiasing, z-reflection
    linear    the critical Rayleigh number and normal-mode growth rates
    solver    the equations and their time stepping, the CFL guard, physical fields,
              volume averages and the Nusselt number
    modes     initial fields: random perturbations, the three Lorenz modes
    timing    the store's time unit and where samples (and bursts) fall
    dataset   ``simulate(spec)``: batches of canonical Datasets of a validated system block
"""

from .dataset import (
    DIMS,
    FIELDS,
    batch_size,
    initial_states,
    make_solver,
    simulate,
    trajectory_count,
)
from .grid import LENGTH, Grid, reflect_z
from .linear import RA_C, growth_rate
from .modes import (
    lorenz_mode_amplitudes,
    lorenz_mode_states,
    lorenz_modes,
    lorenz_time_factor,
    random_perturbations,
)
from .solver import CFLError, Solver
from .timing import TIME_UNITS, Sampling, sampling, time_unit

__all__ = [
    "CFLError",
    "DIMS",
    "FIELDS",
    "Grid",
    "LENGTH",
    "RA_C",
    "Sampling",
    "Solver",
    "TIME_UNITS",
    "batch_size",
    "growth_rate",
    "initial_states",
    "lorenz_mode_amplitudes",
    "lorenz_mode_states",
    "lorenz_modes",
    "lorenz_time_factor",
    "make_solver",
    "random_perturbations",
    "reflect_z",
    "sampling",
    "simulate",
    "time_unit",
    "trajectory_count",
]
