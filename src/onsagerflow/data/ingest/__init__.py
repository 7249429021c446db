"""Bring your own data: trajectories from netCDF, HDF5 (Dedalus), zarr, .npz or CSV files,
mapped onto the canonical schema by a ``source`` block and written as a canonical store.

The mapping (config/README.md, "Your own data"):

- ``files``: paths or globs; each file holds one trajectory, or several along the
  source dimension that ``dims`` maps to ``trajectory``.
- ``variables``: canonical name -> source name (a variable, an HDF5 dataset path such
  as ``tasks/b``, an npz key, or CSV columns); a list of names is stacked as the
  layout's last dimension (e.g. three columns x, y, z -> ``state``).
- ``dims``: source dimension name -> canonical name; arrays without dimension names
  (npz, HDF5 without dimension labels) declare theirs per variable.
- ``time``: a source variable, or ``dt`` and ``start``.

Two passes: the first (``plan``) reads only shapes and time axes (and checks them), so
the number of trajectories and the splits are known before any data move; the second
(``batches``) streams batches of trajectories into the atomic store writer. Every error
names the file, the variable and (where there is one) the trajectory; a failed ingest
leaves what was there before untouched.

Modules: ``files`` (which files, their format), ``open`` (readers), ``map`` (one file's
variables on the canonical schema), ``plan`` (all files checked together), ``read``
(batches), ``write`` (the entry point), ``check`` (errors and checks).
"""

from .check import IngestError
from .files import EXTENSIONS, FORMATS, file_format, resolve_files, sha256
from .plan import LAYOUT_DIMS, Plan, plan
from .read import batches
from .write import ingest, observed_variable

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "LAYOUT_DIMS",
    "IngestError",
    "Plan",
    "batches",
    "file_format",
    "ingest",
    "observed_variable",
    "plan",
    "resolve_files",
    "sha256",
]
