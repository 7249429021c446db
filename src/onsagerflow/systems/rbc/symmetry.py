"""The mirror symmetry of the RBC fields, which maps one steady roll of a mirror pair onto the
other (docs/rbc.md, "The mirror").

The Boussinesq equations between free-slip walls, periodic in x, are unchanged by a
reflection in x. We use the one about x = L/4,

    (u, w, θ)(x, z) → (−u, w, θ)(L/2 − x, z)      (ψ, ζ → −ψ, −ζ),

which maps the grid x_j = jL/nx onto itself (j → nx/2 − j mod nx, nx even). Reflection about
x = 0 leaves every state of the solver's reflection-symmetric subspace (θ even, ψ odd in x)
unchanged; there this mirror equals the half-period shift x → x + L/2 and, in Lorenz's
amplitudes, maps (X, Y, Z) to (−X, −Y, Z): the roll C+ onto C−.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

FIELD_SIGNS = {"u": -1.0, "w": 1.0, "theta": 1.0}  # the horizontal velocity turns round
AXIS = "x"


def mirror_index(nx: int) -> np.ndarray:
    """Index of x_j's image under x → L/2 − x on the grid x_j = jL/nx."""
    if nx % 2:
        raise ValueError(f"the mirror x → L/2 − x maps the grid onto itself only for an even nx, got {nx}")
    return (nx // 2 - np.arange(nx)) % nx


def mirror_fields(f: np.ndarray) -> np.ndarray:
    """The mirror image of fields (…, 3, nz+1, nx) of (u, w, θ) (the solver's ``fields``)."""
    f = np.asarray(f)
    signs = np.array([FIELD_SIGNS[k] for k in ("u", "w", "theta")])[:, None, None]
    return np.take(f, mirror_index(f.shape[-1]), axis=-1) * signs


def store_mirror(ds: xr.Dataset, fields: Sequence[str]) -> tuple[str, np.ndarray, dict[str, float]]:
    """The mirror on a store's fields, as (grid axis, index map along it, sign per field) —
    what ``models.reducers.grid_mirror`` turns into a map of PCA columns. Fails where the
    store is not an RBC field store on the grid x_j = jL/nx."""
    if ds.attrs.get("system_type") != "rbc":
        raise ValueError(
            f"'mirror' is defined for the RBC simulator's stores, not for a '{ds.attrs.get('system_type')}' store"
        )
    unknown = [f for f in fields if f not in FIELD_SIGNS]
    if unknown:
        raise ValueError(f"the mirror's sign of field(s) {unknown} is unknown; it knows {sorted(FIELD_SIGNS)}")
    x = np.asarray(ds[AXIS].values, np.float64)
    length = float(ds.attrs["length"])
    if not np.allclose(x, np.arange(x.size) * length / x.size, rtol=0, atol=1e-9 * length):
        raise ValueError(f"the store's x is not the grid x_j = jL/nx with L = {length:g}")
    return AXIS, mirror_index(x.size), {f: FIELD_SIGNS[f] for f in fields}
