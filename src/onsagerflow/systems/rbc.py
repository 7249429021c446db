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
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..config import ConfigError
from ..data import assign_splits, build_dataset
from ..errors import UserError
from ..lazy_import import lazy
from ..provenance import stamp

if TYPE_CHECKING:
    import jax
    import jax.numpy as jnp
else:
    jax, jnp = lazy("jax"), lazy("jax.numpy")

DIMS = ("z", "x")
FIELDS = ("u", "w", "theta")  # what the store holds; a reducer turns them into latents
RA_C = 27.0 * math.pi**4 / 4.0  # critical Rayleigh number, free-slip walls
LENGTH = 2.0 * math.sqrt(2.0)  # periodic length: k_c = π/√2 fits once
TIME_UNITS = ("diffusive", "free_fall")  # d²/κ, or (d²/κ)/√(Ra Pr)

log = logging.getLogger("onsagerflow.systems.rbc")


class CFLError(UserError, FloatingPointError):
    """The Courant number passed its limit: the time step is too large for the flow."""


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


def _reflect_z(f):
    """f̂(m) → f̂(−m): the coefficients of f(−z, x)."""
    return jnp.roll(jnp.flip(f, axis=-2), 1, axis=-2)


class Solver:
    """One jitted step and a scanned run for a batch of trajectories (spectral states)."""

    def __init__(
        self,
        grid: Grid,
        ra: float,
        pr: float,
        dt: float,
        *,
        reflection: bool = True,
        cfl_max: float = 0.8,
        dtype=None,
    ):
        dtype = jnp.float64 if dtype is None else dtype  # a default of jnp's would import JAX (lazy_import)
        self.grid, self.ra, self.pr, self.dt = grid, float(ra), float(pr), float(dt)
        self.reflection, self.cfl_max = reflection, float(cfl_max)
        self.rdtype = dtype
        self.cdtype = jnp.complex128 if dtype == jnp.float64 else jnp.complex64
        KZ, KX, Q2 = grid.wavenumbers()
        self.ikx = jnp.asarray(1j * KX, self.cdtype)
        self.ikz = jnp.asarray(1j * KZ, self.cdtype)
        self.inv_q2 = jnp.asarray(np.where(Q2 > 0, 1.0 / np.where(Q2 > 0, Q2, 1.0), 0.0), dtype)
        self.mask = jnp.asarray(grid.dealias(), dtype)
        h = self.dt
        # integrating factors for ζ (viscosity Pr) and θ (diffusivity 1), steps h/2 and h
        self.E_half = jnp.asarray(np.stack([np.exp(-pr * Q2 * h / 2), np.exp(-Q2 * h / 2)]), dtype)
        self.E_full = jnp.asarray(np.stack([np.exp(-pr * Q2 * h), np.exp(-Q2 * h)]), dtype)
        dz, dx = 1.0 / grid.nz, grid.length / grid.nx
        self.inv_spacing = (1.0 / dx, 1.0 / dz)
        # the compiled batch runs, one per (n_save, every): jit compiles a new function object
        # afresh, so each is built once and reused across batches (jit itself caches by shape)
        self._runs: dict[tuple[int, int], Any] = {}

    # --- transforms: the state is (2, 2nz, nx//2+1) complex: ζ̂ and θ̂
    def to_physical(self, f):
        return jnp.fft.irfft2(f, s=(2 * self.grid.nz, self.grid.nx), axes=(-2, -1))

    def to_spectral(self, f):
        return jnp.fft.rfft2(f, axes=(-2, -1))

    def project(self, s):
        """Keep the sine parity in z (odd extension) and, optionally, the x-reflection
        symmetric subspace (θ even, ζ odd in x), and the dealiased modes."""
        s = 0.5 * (s - _reflect_z(s))
        if self.reflection:
            # f(z, −x) ↔ conj(f̂(−m, n)); combined with oddness in z: conj(−f̂(m, n))
            mirror = -jnp.conj(s)
            s = 0.5 * (s + jnp.stack([-mirror[0], mirror[1]]))
        return s * self.mask

    def velocity(self, s):
        psi = -s[0] * self.inv_q2
        return self.ikz * psi, -self.ikx * psi  # û, ŵ

    def rhs(self, s):
        """Explicit part: −u·∇ζ − Ra Pr ∂θ/∂x and −u·∇θ + w."""
        zeta, theta = s[0], s[1]
        uh, wh = self.velocity(s)
        u, w = self.to_physical(uh), self.to_physical(wh)
        adv = jnp.stack(
            [
                u * self.to_physical(self.ikx * zeta) + w * self.to_physical(self.ikz * zeta),
                u * self.to_physical(self.ikx * theta) + w * self.to_physical(self.ikz * theta),
            ]
        )
        adv = self.to_spectral(adv) * self.mask
        return jnp.stack([-adv[0] - self.ra * self.pr * self.ikx * theta, -adv[1] + wh])

    def step(self, s):
        h, E1, E2 = self.dt, self.E_half, self.E_full
        k1 = self.rhs(s)
        k2 = self.rhs(E1 * (s + 0.5 * h * k1))
        k3 = self.rhs(E2 * (s - h * k1) + 2 * h * E1 * k2)
        return self.project(E2 * s + h / 6.0 * (E2 * k1 + 4.0 * E1 * k2 + k3))

    def courant(self, s):
        uh, wh = self.velocity(s)
        u, w = self.to_physical(uh), self.to_physical(wh)
        return self.dt * jnp.max(jnp.abs(u) * self.inv_spacing[0] + jnp.abs(w) * self.inv_spacing[1])

    def run(self, s0, n_save: int, every: int):
        """Advance a batch (B, 2, 2nz, nx//2+1) and keep every ``every``-th state.

        Returns (saved states (B, n_save, ...), largest Courant number per trajectory,
        index of the save at which a trajectory was frozen by the CFL guard or −1).
        """
        key = (int(n_save), int(every))
        if key not in self._runs:
            self._runs[key] = self._compile_run(*key)
        return self._runs[key](s0)

    def _compile_run(self, n_save: int, every: int):
        def one(s0):
            def inner(carry, _):
                s, frozen = carry
                s_new = self.step(s)
                bad = (self.courant(s_new) > self.cfl_max) | ~jnp.all(jnp.isfinite(s_new.real))
                frozen = frozen | bad
                return (jnp.where(frozen, s, s_new), frozen), None

            def outer(carry, i):
                s, frozen, cmax, when = carry
                (s, frozen2), _ = jax.lax.scan(inner, (s, frozen), None, length=every)
                when = jnp.where(frozen2 & ~frozen, i, when)
                cmax = jnp.maximum(cmax, self.courant(s))
                return (s, frozen2, cmax, when), s

            init = (s0, jnp.array(False), self.courant(s0), jnp.array(-1))
            (_, _, cmax, when), saved = jax.lax.scan(outer, init, jnp.arange(1, n_save))
            return jnp.concatenate([s0[None], saved]), cmax, when

        return jax.jit(jax.vmap(one))

    # --- diagnostics on physical fields
    def fields(self, s):
        """(u, w, θ) on the physical grid, walls included: (..., 3, nz+1, nx)."""
        uh, wh = self.velocity(s)
        nz = self.grid.nz
        return jnp.stack([self.to_physical(uh), self.to_physical(wh), self.to_physical(s[..., 1, :, :])], axis=-3)[
            ..., : nz + 1, :
        ]

    def state_from_fields(self, f):
        """The spectral state of physical fields (..., 3, nz+1, nx) of u, w, θ (d²/κ units),
        walls included: the inverse of ``fields``. The doubled domain extends u evenly and
        w, θ oddly in z; ζ = ∂u/∂z − ∂w/∂x."""
        f = jnp.asarray(f, self.rdtype)
        inner = f[..., 1:-1, :][..., ::-1, :]  # z in (1, 0), reflected to (1, 2)
        u = jnp.concatenate([f[..., 0, :, :], inner[..., 0, :, :]], axis=-2)
        w = jnp.concatenate([f[..., 1, :, :], -inner[..., 1, :, :]], axis=-2)
        th = jnp.concatenate([f[..., 2, :, :], -inner[..., 2, :, :]], axis=-2)
        zeta = self.ikz * self.to_spectral(u) - self.ikx * self.to_spectral(w)
        return self.project(jnp.stack([zeta, self.to_spectral(th)], axis=-3))

    def averages(self, s):
        """Volume averages ⟨wθ⟩, ⟨|∇θ|²⟩, ⟨|∇u|²⟩ (the doubled domain averages the
        physical one exactly: every integrand is even in z)."""
        uh, wh = self.velocity(s)
        th = s[..., 1, :, :]
        P = self.to_physical
        mean = lambda f: jnp.mean(f, axis=(-2, -1))
        wt = mean(P(wh) * P(th))
        grad_t = mean(P(self.ikx * th) ** 2 + P(self.ikz * th) ** 2)
        grad_u = mean(P(self.ikx * uh) ** 2 + P(self.ikz * uh) ** 2 + P(self.ikx * wh) ** 2 + P(self.ikz * wh) ** 2)
        return wt, grad_t, grad_u

    def nusselt(self, s):
        """Nu = 1 + ⟨wθ⟩."""
        return 1.0 + self.averages(s)[0]


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


def time_unit(spec: Mapping[str, Any]) -> float:
    """The length of the store's time unit in d²/κ: 1, or the free-fall time 1/√(Ra Pr)."""
    p, unit = spec["parameters"], spec["simulation"]["time_unit"]
    if unit == "free_fall":
        return 1.0 / math.sqrt(p["r"] * RA_C * p["Pr"])
    return 1.0


def growth_rate(ra: float, pr: float, k: float, n: int = 1) -> float:
    """Largest root s of q²(s + Pr q²)(s + q²) = Ra Pr k², q² = k² + n²π²."""
    q2 = k**2 + (n * np.pi) ** 2
    # s² + (Pr+1) q² s + Pr q⁴ − Ra Pr k²/q² = 0
    b, c = (pr + 1) * q2, pr * q2**2 - ra * pr * k**2 / q2
    return float((-b + np.sqrt(b**2 - 4 * c)) / 2)


# --------------------------------------------------------------------------- stage API


def make_solver(spec: Mapping[str, Any], dt: float | None = None) -> Solver:
    """The solver of a system's config; ``dt`` (in the config's time unit) overrides
    simulation.dt (the fine step of bursts)."""
    p, sim = spec["parameters"], spec["simulation"]
    grid = Grid(nx=sim["nx"], nz=sim["nz"])
    dtype = jnp.float64 if sim["float64"] else jnp.float32
    return Solver(
        grid,
        p["r"] * RA_C,
        p["Pr"],
        (sim["dt"] if dt is None else dt) * time_unit(spec),
        reflection=sim["reflection_symmetric"],
        cfl_max=sim["cfl_max"],
        dtype=dtype,
    )


def _check_cfl(spec, solver, ids, frozen, t) -> None:
    frozen = np.asarray(frozen)
    if (frozen >= 0).any():
        k = int(np.argmax(frozen >= 0))
        when = np.asarray(t)[frozen[k]] if np.ndim(t) else "the end of the burn-in"
        raise CFLError(
            f"systems.{spec['name']}: trajectory {ids[k]} passed the Courant limit {solver.cfl_max} "
            f"(or went non-finite) by t = {when}; lower simulation.dt (now {spec['simulation']['dt']:g}) "
            "or raise the resolution"
        )


def _whole_multiple(spec, key: str, value: float, step: float) -> int:
    n = int(round(value / step))
    if n < 1 or abs(n * step - value) > 1e-9 * value:
        raise ConfigError(
            f"systems.{spec['name']}.simulation.{key} ({value:g}) must be a whole multiple of simulation.dt ({step:g})"
        )
    return n


@dataclass(frozen=True)
class Sampling:
    """Where a run stores samples, in the config's time unit: every ``dt_sample`` (``every``
    solver steps) from t_burn, each start followed by burst − 1 samples ``burst_step`` apart
    (``fine_every`` steps of a fine solver of step burst_step/fine_every ≤ dt)."""

    time: np.ndarray
    n_save: int
    every: int
    burn: int
    burst: int
    burst_step: float
    fine_every: int


def sampling(spec: Mapping[str, Any]) -> Sampling:
    sim = spec["simulation"]
    every = _whole_multiple(spec, "dt_sample", sim["dt_sample"], sim["dt"])
    burn = int(round(sim["t_burn"] / sim["dt"]))
    n_save = int(round(sim["t_end"] / sim["dt_sample"])) + 1
    burst, step = int(sim["burst_size"]), sim["burst_step"]
    if burst > 1:
        if step is None or (burst - 1) * step >= sim["dt_sample"]:
            raise ConfigError(
                f"systems.{spec['name']}.simulation.burst_step: bursts of {burst} samples need a step "
                f"with (burst_size − 1)·burst_step < dt_sample ({sim['dt_sample']:g}), got {step}"
            )
        fine_every = max(1, math.ceil(step / sim["dt"] - 1e-9))
    else:
        step, fine_every = 0.0, 1
    starts = sim["t_burn"] + np.arange(n_save) * sim["dt_sample"]
    t = (starts[:, None] + step * np.arange(burst)[None, :]).ravel()
    return Sampling(t, n_save, every, burn, burst, float(step), fine_every)


def initial_states(spec: Mapping[str, Any], solver: Solver, ids: np.ndarray):
    """Trajectory i's start, drawn from its own key (independent of the batch it is in):
    a random θ perturbation of RMS ``perturbation`` of the conduction state, or Lorenz-mode
    fields with amplitudes uniform in [lorenz_low, lorenz_high] plus that perturbation."""
    sim = spec["simulation"]
    key = jax.random.key(spec["seed"])
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.asarray(ids))
    s0 = random_perturbations(solver, keys, sim["perturbation"])
    if sim["initial"] == "lorenz_modes":
        lo, hi = (jnp.asarray(sim[k], solver.rdtype) for k in ("lorenz_low", "lorenz_high"))
        draw = jax.vmap(lambda k: jax.random.uniform(jax.random.fold_in(k, 1), (3,), solver.rdtype, lo, hi))
        s0 = s0 + lorenz_mode_states(solver, np.asarray(draw(keys)))
    return s0


def trajectory_count(spec: Mapping[str, Any]) -> int:
    """How many trajectories ``simulate`` makes."""
    return int(spec["simulation"]["n_trajectories"])


def batch_size(spec: Mapping[str, Any]) -> int:
    """Trajectories simulated together (a shard holds whole batches: module ``simulate``)."""
    return int(spec["simulation"]["batch_size"])


def simulate(spec: Mapping[str, Any], trajectories: Sequence[int] | None = None) -> Iterator[xr.Dataset]:
    """Batches of trajectories as canonical Datasets: u, w, θ on (trajectory, time, z, x)
    and the Nusselt number, sampled uniformly or in bursts (``Sampling``).

    ``trajectories`` (ids, default all) picks a subset, in batches of ``batch_size`` from its
    first id: trajectory i is drawn from its own key and keeps the split of the whole set, so
    a shard of whole batches holds, bit for bit, what the whole run would (each batch is the
    same program on the same trajectories)."""
    sim = spec["simulation"]
    solver = make_solver(spec)
    plan = sampling(spec)
    fine = make_solver(spec, plan.burst_step / plan.fine_every) if plan.burst > 1 else None
    unit = time_unit(spec)
    n = trajectory_count(spec)
    wanted = np.arange(n) if trajectories is None else np.asarray(trajectories, dtype=np.int64)
    split = assign_splits(n, spec["splits"], spec["seed"])
    batch = batch_size(spec)
    fields_fn = jax.jit(jax.vmap(jax.vmap(solver.fields)))
    nu_fn = jax.jit(jax.vmap(jax.vmap(solver.nusselt)))
    velocity_unit = "κ/d" if sim["time_unit"] == "diffusive" else "√(gαΔT d) (free-fall velocity)"
    time_unit_name = "d²/κ" if sim["time_unit"] == "diffusive" else "the free-fall time (d²/κ)/√(Ra Pr)"
    attrs = {
        "system_type": "rbc",
        "Ra": solver.ra,
        "Ra_c": RA_C,
        "r": float(spec["parameters"]["r"]),
        "Pr": solver.pr,
        "length": solver.grid.length,
        "nx": solver.grid.nx,
        "nz": solver.grid.nz,
        "time_unit": sim["time_unit"],
        "time_unit_in_diffusive_times": unit,
        "dt": float(sim["dt"]),
        "dt_sample": float(sim["dt_sample"]),
        "t_end": float(sim["t_end"]),
        "t_burn": float(sim["t_burn"]),
        "burst_size": plan.burst,
        "burst_step": plan.burst_step,
        "initial": sim["initial"],
        "time_stepping": "Kutta RK3, Lawson integrating factor (exact diffusion); 2/3 dealiasing",
        "reflection_symmetric": int(solver.reflection),
        "perturbation": float(sim["perturbation"]),
        "seed": int(spec["seed"]),
        **stamp(spec),
    }
    for start in range(0, len(wanted), batch):
        ids = wanted[start : start + batch]
        s0 = initial_states(spec, solver, ids)
        if plan.burn:
            s0, cmax0, frozen0 = solver.run(s0, 2, plan.burn)
            _check_cfl(spec, solver, ids, frozen0, 0.0)
            s0 = s0[:, -1]
        states, cmax, frozen = solver.run(s0, plan.n_save, plan.every)
        _check_cfl(spec, solver, ids, frozen, plan.time[:: plan.burst])
        if fine is not None:  # each sample starts a burst; the coarse run goes on from the sample
            flat = states.reshape(-1, *states.shape[2:])
            bursts, _, frozen_b = fine.run(flat, plan.burst, plan.fine_every)
            _check_cfl(spec, fine, np.repeat(ids, plan.n_save), frozen_b, plan.time[: plan.burst])
            states = bursts.reshape(len(ids), plan.n_save * plan.burst, *states.shape[2:])
        f = np.array(fields_fn(states))  # (B, T, 3, nz+1, nx), writable
        f[:, :, :2] *= unit  # velocities in d per time unit
        nu = np.asarray(nu_fn(states))
        log.info(
            "trajectories %d–%d: max Courant %.2f, final Nu %s",
            ids[0],
            ids[-1],
            float(np.max(cmax)),
            np.round(nu[:, -1], 3).tolist(),
        )
        store_dtype = np.float64 if sim["store_float64"] else np.float32
        dims = ("trajectory", "time", "z", "x")
        yield build_dataset(
            system=spec["name"],
            data_vars={
                "u": (
                    dims,
                    f[:, :, 0].astype(store_dtype),
                    {"units": "1", "long_name": f"horizontal velocity in units of {velocity_unit}"},
                ),
                "w": (
                    dims,
                    f[:, :, 1].astype(store_dtype),
                    {"units": "1", "long_name": f"vertical velocity in units of {velocity_unit}"},
                ),
                "theta": (
                    dims,
                    f[:, :, 2].astype(store_dtype),
                    {"units": "1", "long_name": "temperature deviation from conduction in units of ΔT"},
                ),
                "nusselt": (("trajectory", "time"), nu, {"units": "1", "long_name": "Nusselt number 1 + <w theta>"}),
            },
            time=plan.time,
            split=split[ids],
            trajectory=ids,
            trajectory_coords={"Ra": np.full(len(ids), solver.ra), "Pr": np.full(len(ids), solver.pr)},
            coords={
                "z": (("z",), solver.grid.z, {"long_name": "height above the lower wall in units of d"}),
                "x": (("x",), solver.grid.x, {"long_name": "horizontal position in units of d"}),
            },
            attrs=attrs,
            time_long_name=f"time in units of {time_unit_name}",
        )
