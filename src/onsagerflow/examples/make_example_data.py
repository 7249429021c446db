"""Write a small file of Lorenz-63 trajectories to try ``onsagerflow ingest`` on.

    python -m onsagerflow.examples.make_example_data example_data/lorenz.nc

The format follows the extension, and the file looks the way such data usually come,
not like the canonical store (so the ``source`` block has something to map):

- ``.nc``   netCDF4: variable ``xyz(run, t, component)`` with units, coordinate ``t``,
            per-run ``rayleigh``; (``--netcdf3`` writes the classic format with scipy)
- ``.npz``  arrays ``states`` (run, t, component), ``t`` and ``rayleigh``
- ``.csv``  long format: columns run, t, x, y, z, rayleigh
- a folder (no extension): one HDF5 file per run in Dedalus's layout,
            ``tasks/xyz`` (t, component) and ``scales/sim_time``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def lorenz_trajectories(n: int, t_end: float, dt: float, r: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, time, 3) trajectories of the built-in simulator from uniform starts, and the times."""
    from ..runtime import configure

    configure()
    from ..systems import lorenz

    spec = {
        "parameters": {"sigma": 10.0, "r": r, "b": 8.0 / 3.0},
        "simulation": {
            "t_end": t_end,
            "dt_sample": dt,
            "init_low": [-25, -25, -5],
            "init_high": [25, 25, 30],
            "rtol": 1e-10,
            "atol": 1e-10,
        },
    }
    t = lorenz.sample_times(spec)
    return lorenz.solve(spec, lorenz.sample_initial_states(spec, n, seed), t), t


def write(path: str | Path, u: np.ndarray, t: np.ndarray, r: float, netcdf3: bool = False) -> list[Path]:
    """Write trajectories ``u`` (run, time, 3) at times ``t`` in the format ``path`` names."""
    import xarray as xr

    path = Path(path)
    rayleigh = np.full(len(u), r)
    if path.suffix == "":
        import h5py

        path.mkdir(parents=True, exist_ok=True)
        out = []
        for k, traj in enumerate(u):
            f = path / f"run_{k:03d}.h5"
            with h5py.File(f, "w") as h:
                h.attrs["rayleigh"] = r
                h.create_dataset("scales/sim_time", data=t)
                d = h.create_dataset("tasks/xyz", data=traj)
                d.dims[0].label, d.dims[1].label = "t", "component"
            out.append(f)
        return out
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".nc":
        ds = xr.Dataset(
            {
                "xyz": (("run", "t", "component"), u, {"units": "1", "long_name": "Lorenz-63 state (x, y, z)"}),
                "rayleigh": (("run",), rayleigh, {"long_name": "reduced Rayleigh number r"}),
            },
            coords={"t": ("t", t, {"units": "1"})},
            attrs={"title": "Lorenz-63 example trajectories", "sigma": 10.0, "b": 8.0 / 3.0},
        )
        ds.to_netcdf(path, engine="scipy" if netcdf3 else "h5netcdf")
    elif path.suffix == ".npz":
        np.savez(path, states=u, t=t, rayleigh=rayleigh)
    elif path.suffix == ".csv":
        import pandas as pd

        n, m, _ = u.shape
        pd.DataFrame(
            {
                "run": np.repeat(np.arange(n), m),
                "t": np.tile(t, n),
                "x": u[..., 0].ravel(),
                "y": u[..., 1].ravel(),
                "z": u[..., 2].ravel(),
                "rayleigh": np.repeat(rayleigh, m),
            }
        ).to_csv(path, index=False)
    else:
        raise SystemExit(f"{path}: use .nc, .npz, .csv, or a folder name without extension (HDF5)")
    return [path]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m onsagerflow.examples.make_example_data", description=__doc__.splitlines()[0]
    )
    p.add_argument("out", help="file (.nc .npz .csv) or folder (Dedalus-style HDF5 files)")
    p.add_argument("--n", type=int, default=12, help="trajectories")
    p.add_argument("--t-end", type=float, default=0.6)
    p.add_argument("--dt", type=float, default=0.002)
    p.add_argument("--r", type=float, default=28.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--netcdf3", action="store_true", help="classic netCDF (written with scipy)")
    a = p.parse_args(argv)
    u, t = lorenz_trajectories(a.n, a.t_end, a.dt, a.r, a.seed)
    for f in write(a.out, u, t, a.r, a.netcdf3):
        print(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
