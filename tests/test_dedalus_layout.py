"""Dedalus output as Dedalus writes it: files Dedalus 3.0.5 wrote (tests/data/dedalus_3.0.5,
its 2D Rayleigh–Bénard example at Nx = 8, Nz = 4 with max_writes = 2, tasks buoyancy,
vorticity and the vector u) against the files onsagerflow.examples.dedalus_like writes
without Dedalus, and read natively: task names, axes, grids and sets from the file."""

import os
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from ingest_specs import spec_of

from onsagerflow.data.ingest import plan
from onsagerflow.data.ingest.quadrature import FEJER, UNIFORM
from onsagerflow.examples.dedalus_like import chebyshev_grid, fourier_grid, write_run

REAL = Path(os.path.dirname(os.path.abspath(__file__))) / "data" / "dedalus_3.0.5" / "snapshots"
HASH = re.compile(r"_hash_[0-9a-f]{40}")


def signature(path: Path) -> dict:
    """Everything about a file's layout but its values: attributes (names and kinds),
    datasets (rank, dtype, maxshape, chunking, attributes), dimension labels and the scales
    attached to each axis, with grid hashes masked."""
    out = {}
    with h5py.File(path, "r") as f:
        out["/"] = {k: np.asarray(v).dtype.kind for k, v in f.attrs.items()}

        def visit(name, obj):
            key = HASH.sub("_hash_<sha1>", name)
            if isinstance(obj, h5py.Group):
                out[key] = "group"
                return
            attrs = {
                k: np.asarray(v).dtype.kind
                for k, v in obj.attrs.items()
                if k not in ("DIMENSION_LIST", "REFERENCE_LIST")
            }
            for k in ("CLASS", "NAME"):
                if k in obj.attrs:
                    attrs[k] = bytes(obj.attrs[k]).decode()
            dims = (
                [(d.label, [HASH.sub("_hash_<sha1>", s.name) for s in d.values()]) for d in obj.dims]
                if name.startswith("tasks/")
                else None
            )
            out[key] = {
                "ndim": obj.ndim,
                "dtype": obj.dtype.str,
                "maxshape_is_writes": obj.maxshape[:1] == (f.attrs["writes"],) if obj.maxshape else None,
                "chunked": obj.chunks is not None,
                "attrs": attrs,
                "dims": dims,
            }

        f.visititems(visit)
    return out


def test_dedalus_like_files_have_the_layout_dedalus_writes(tmp_path):
    real = signature(REAL / "snapshots_s1.h5")
    with h5py.File(REAL / "snapshots_s1.h5") as f:
        nx, nz = f["tasks/buoyancy"].shape[1:]
        writes = int(f.attrs["writes"])
    ours = write_run(tmp_path / "run", seed=0, nx=nx, nz=nz, t_end=1.0, sim_dt=0.25, max_dt=0.125, max_writes=writes)
    assert signature(ours[0]) == real


def test_the_grids_are_dedalus_s():
    with h5py.File(REAL / "snapshots_s1.h5") as f:
        x = next(f["scales"][k][()] for k in f["scales"] if k.startswith("x_hash"))
        z = next(f["scales"][k][()] for k in f["scales"] if k.startswith("z_hash"))
    np.testing.assert_allclose(x, fourier_grid(x.size, 4.0), rtol=0, atol=1e-14)  # Lx = 4 in the example
    np.testing.assert_allclose(z, chebyshev_grid(z.size, 1.0), rtol=0, atol=1e-14)


def test_dedalus_files_are_read_natively(tmp_path):
    """No hashed names, no dims, no time variable to copy: task names only. Both sets of
    the run become one run, the vector task keeps its component axis (named by the
    coordinates), and the grids come with their quadrature."""
    source = spec_of({"files": str(REAL / "*.h5"), "layout": "field", "variables": {"b": "buoyancy", "u": "u"}})
    p = plan(source["source"])
    assert len(p.runs) == 1 and len(p.runs[0].pieces) == 2
    with h5py.File(REAL / "snapshots_s1.h5") as f1, h5py.File(REAL / "snapshots_s2.h5") as f2:
        t = np.concatenate([f1["scales/sim_time"][()], f2["scales/sim_time"][()]])
        np.testing.assert_array_equal(p.runs[0].time, t)
    assert p.files[0].vars["u"].out_dims == ("trajectory", "time", "component", "z", "x")
    assert list(p.coords["component"][0]) == ["x", "z"]
    assert p.weights["z"][1] == FEJER and p.weights["x"][1] == UNIFORM
    np.testing.assert_allclose(p.weights["z"][0].sum(), 1.0, rtol=1e-13)  # Lz = 1
    np.testing.assert_allclose(p.weights["x"][0].sum(), 4.0, rtol=1e-13)  # Lx = 4, periodic


@pytest.mark.parametrize("name", ["buoyancy", "tasks/buoyancy"])
def test_a_task_by_name_or_path(name):
    source = spec_of({"files": str(REAL / "*.h5"), "layout": "field", "variables": {"b": name}})
    assert plan(source["source"]).files[0].vars["b"].parts == ["tasks/buoyancy"]
