"""Files shaped exactly as Dedalus 3 writes them — without Dedalus — to try ``onsagerflow
ingest`` on solver output (tests and docs/ingest-dedalus.md use it).

    python -m onsagerflow.examples.dedalus_like example_data/rbc --runs 10

writes ``example_data/rbc/run_<k>/snapshots/snapshots_s<n>.h5``: one folder per run, a new
set every ``--max-writes`` writes, as a Dedalus file handler does. What is Dedalus's, and
checked against files Dedalus 3.0.5 wrote (tests/test_dedalus_layout.py):

- file attributes ``handler_name``, ``set_number``, ``writes``; groups ``scales`` and
  ``tasks``; ``scales/constant`` and the time scales ``sim_time``, ``timestep``,
  ``wall_time`` (float64), ``iteration``, ``write_number`` (int64), all HDF5 dimension
  scales; one scale per grid, ``x_hash_<sha1 of its values>`` named ``x``;
- tasks ``(t, [component,] x, z)``: axis 0 labelled ``t`` with the five time scales
  attached in Dedalus's order, a vector's component axis unlabelled, spatial axes labelled
  and their grids attached; task attributes ``constant``, ``grid_space``, ``scales``;
- grids: ``RealFourier`` (x_j = j·Lx/Nx) and ``ChebyshevT`` (Chebyshev–Gauss points
  z_j = Lz(1 − cos(π(j + ½)/Nz))/2, increasing);
- output times of a CFL-adaptive run: a write at the first step that reaches each multiple
  of ``sim_dt``, steps changing every ``cadence`` iterations within ``max_change`` — so
  the samples are unevenly spaced and differ from run to run.

What is not Dedalus's: the fields. They are 2D Rayleigh–Bénard convection in the Lorenz
(Saltzman) truncation — the three modes of Lorenz's 1963 model, ψ ∝ X sin(kx) sin(πz) and
θ ∝ √2 Y cos(kx) sin(πz) − Z sin(2πz), k = π/√2 (one roll pair in Lx = 2√2) — with X, Y, Z
a Lorenz-63 trajectory at r (time in the model's units), evaluated exactly at each output
time and grid point. A buoyancy b = 1 − z + θ, the velocity u = (∂ψ/∂z, −∂ψ/∂x) as a
vector task and the vorticity are written.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

TIME_SCALES = ("sim_time", "wall_time", "timestep", "iteration", "write_number")  # Dedalus's attach order
FLOAT_SCALES = ("sim_time", "timestep", "wall_time")
INT_SCALES = ("iteration", "write_number")
A = 1.0 / np.sqrt(2.0)  # Lorenz's aspect parameter a (critical: a² = 1/2)
LX = 2.0 / A  # one roll pair


def fourier_grid(n: int, length: float) -> np.ndarray:
    return length * np.arange(n) / n


def chebyshev_grid(n: int, length: float) -> np.ndarray:
    return length * (1.0 - np.cos(np.pi * (np.arange(n) + 0.5) / n)) / 2.0


def write_set(
    path: Path,
    *,
    handler: str,
    set_number: int,
    times: dict[str, np.ndarray],
    tasks: dict[str, np.ndarray],
    grids: dict[str, np.ndarray],
    max_writes: int,
) -> None:
    """One set file: ``times`` holds the five time scales (one value per write), ``tasks``
    arrays (writes, [components,] x, z), ``grids`` the coordinates of x and z."""
    import h5py

    writes = len(times["sim_time"])
    with h5py.File(path, "w-") as f:
        f.attrs["set_number"] = np.int64(set_number)
        f.attrs["handler_name"] = handler
        f.attrs["writes"] = np.int64(writes)
        scales = f.create_group("scales")
        scales.create_dataset("constant", data=np.zeros(1), dtype=np.float64)
        scales["constant"].make_scale("constant")
        for name in FLOAT_SCALES + INT_SCALES:  # as Dedalus: empty and resizable, filled write by write
            dtype = np.float64 if name in FLOAT_SCALES else np.int64
            scales.create_dataset(name, shape=(0,), maxshape=(max_writes,), dtype=dtype)
            scales[name].make_scale(name)
            scales[name].resize(writes, axis=0)
            scales[name][:] = np.asarray(times[name], dtype)
        lookups = {}
        for axis, values in grids.items():
            data = np.ascontiguousarray(values, dtype=np.float64)
            lookup = f"{axis}_hash_{hashlib.sha1(data.tobytes()).hexdigest()}"
            scales.create_dataset(lookup, data=data)
            scales[lookup].make_scale(axis)
            lookups[axis] = lookup
        group = f.create_group("tasks")
        for name, values in tasks.items():
            shape = values.shape[1:]
            d = group.create_dataset(name, shape=(1, *shape), maxshape=(max_writes, *shape), dtype=np.float64)
            d.resize(writes, axis=0)
            d[:] = values
            rank = values.ndim - 1 - len(grids)
            d.attrs["constant"] = np.zeros(len(grids), bool)
            d.attrs["grid_space"] = np.ones(len(grids), bool)
            d.attrs["scales"] = np.ones(len(grids), np.int64)
            d.dims[0].label = "t"
            for sn in TIME_SCALES:
                d.dims[0].attach_scale(scales[sn])
            for i, axis in enumerate(grids):
                d.dims[1 + rank + i].label = axis
                d.dims[1 + rank + i].attach_scale(scales[lookups[axis]])


def adaptive_output_times(t_end: float, sim_dt: float, max_dt: float, rng, cadence: int = 10):
    """(sim_time, timestep, iteration) of the writes of a run whose step changes every
    ``cadence`` iterations by a factor in [0.5, 1.5], between max_dt/4 and max_dt."""
    t, dt, it = 0.0, max_dt, 0
    out = []
    k = 0
    while t <= t_end + 1e-12:
        if t >= k * sim_dt - 1e-12:
            out.append((t, dt, it))
            k = int(np.floor(t / sim_dt + 1e-9)) + 1
        if it % cadence == 0:
            dt = float(np.clip(dt * rng.uniform(0.7, 1.3), max_dt / 4, max_dt))
        t += dt
        it += 1
    a = np.array(out)
    return a[:, 0], a[:, 1], a[:, 2].astype(np.int64)


def lorenz_at(times: np.ndarray, x0: np.ndarray, r: float) -> np.ndarray:
    """Lorenz-63 (σ = 10, b = 8/3) from x0, evaluated at ``times`` (rtol 1e-11)."""
    from scipy.integrate import solve_ivp

    def f(_, u):
        return [10.0 * (u[1] - u[0]), u[0] * (r - u[2]) - u[1], u[0] * u[1] - 8.0 / 3.0 * u[2]]

    sol = solve_ivp(f, (0.0, float(times[-1])), x0, method="DOP853", t_eval=times, rtol=1e-11, atol=1e-11)
    return sol.y.T


def lorenz_fields(xyz: np.ndarray, x: np.ndarray, z: np.ndarray, r: float) -> dict[str, np.ndarray]:
    """Buoyancy, velocity (vector: components x, z) and vorticity of the Lorenz modes,
    arrays (time, [2,] x, z); b = 1 − z + θ in units of the temperature difference."""
    X, Y, Z = (xyz[:, i, None, None] for i in range(3))
    k = np.pi * A
    sx, cx = np.sin(k * x)[:, None], np.cos(k * x)[:, None]
    s1, c1, s2 = np.sin(np.pi * z)[None], np.cos(np.pi * z)[None], np.sin(2 * np.pi * z)[None]
    amp = (1 + A**2) / A * np.sqrt(2.0)
    u = amp * X * np.pi * sx * c1  # ∂ψ/∂z
    w = -amp * X * k * cx * s1  # −∂ψ/∂x
    theta = (np.sqrt(2.0) * Y * cx * s1 - Z * s2) / (np.pi * r)
    vort = -amp * X * (k**2 + np.pi**2) * sx * s1  # ∂u/∂z − ∂w/∂x = ∇²ψ
    b = 1.0 - z[None, None, :] + theta
    return {"buoyancy": b, "u": np.stack([u, w], axis=1), "vorticity": vort}


def write_run(
    folder: Path,
    *,
    seed: int,
    nx: int = 16,
    nz: int = 8,
    t_end: float = 10.0,
    sim_dt: float = 0.02,
    max_dt: float = 0.01,
    max_writes: int = 50,
    r: float = 28.0,
    handler: str = "snapshots",
) -> list[Path]:
    """One run's sets under ``folder/handler/``; returns their paths."""
    rng = np.random.default_rng(seed)
    sim_time, timestep, iteration = adaptive_output_times(t_end, sim_dt, max_dt, rng)
    x0 = rng.uniform([-15.0, -15.0, 5.0], [15.0, 15.0, 40.0])
    xyz = lorenz_at(sim_time, x0, r)
    x, z = fourier_grid(nx, LX), chebyshev_grid(nz, 1.0)
    fields = lorenz_fields(xyz, x, z, r)
    out = folder / handler
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for s, start in enumerate(range(0, len(sim_time), max_writes)):
        sl = slice(start, start + max_writes)
        times = {
            "sim_time": sim_time[sl],
            "timestep": timestep[sl],
            "iteration": iteration[sl],
            "write_number": np.arange(sl.start, min(sl.stop, len(sim_time))) + 1,
            "wall_time": 1e-3 * iteration[sl].astype(float),
        }
        path = out / f"{handler}_s{s + 1}.h5"
        write_set(
            path,
            handler=handler,
            set_number=s + 1,
            times=times,
            tasks={name: v[sl] for name, v in fields.items()},
            grids={"x": x, "z": z},
            max_writes=max_writes,
        )
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m onsagerflow.examples.dedalus_like", description=__doc__.splitlines()[0])
    p.add_argument("out", help="folder: one subfolder run_<k>/snapshots per run")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--nx", type=int, default=16)
    p.add_argument("--nz", type=int, default=8)
    p.add_argument("--t-end", type=float, default=10.0)
    p.add_argument("--sim-dt", type=float, default=0.02, help="scheduled output interval")
    p.add_argument("--max-dt", type=float, default=0.01, help="largest solver step")
    p.add_argument("--max-writes", type=int, default=50, help="writes per set")
    p.add_argument("--r", type=float, default=28.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    for k in range(a.runs):
        for path in write_run(
            Path(a.out) / f"run_{k}",
            seed=a.seed + k,
            nx=a.nx,
            nz=a.nz,
            t_end=a.t_end,
            sim_dt=a.sim_dt,
            max_dt=a.max_dt,
            max_writes=a.max_writes,
            r=a.r,
        ):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
