"""Bring your own data: trajectories from netCDF, HDF5 (Dedalus), zarr, .npz or CSV files,
mapped onto the canonical schema by a ``source`` block and written as a canonical store.

The mapping (config/README.md, "Your own data"; docs/ingest.md):

- ``files``: paths or globs; ``runs`` says how they group into runs (Dedalus sets of one
  run are joined along time); a file may hold several runs along the source dimension
  that ``dims`` maps to ``trajectory``. One run is one trajectory of the store, so the
  split, made over trajectories, never separates the pieces of a run.
- ``variables``: canonical name -> source name (a variable, an HDF5 dataset path such as
  ``tasks/b`` or a Dedalus task name, an npz key, or CSV columns); a list of names is
  stacked as the layout's last dimension (three columns x, y, z -> ``state``); a vector
  task keeps its component axis, or gives one ``component``.
- ``dims``: source dimension name -> canonical name; arrays without dimension names (npz,
  HDF5 without dimension labels) declare theirs per variable.
- ``time``: a source variable (found by itself in Dedalus files and netCDF coordinate
  variables), or ``dt`` and ``start``; ``resample`` interpolates uneven (adaptive) steps
  onto a uniform or burst grid and reports the error it makes.

Two passes: the first (``plan``) reads only shapes, coordinates and time axes (and checks
them), so the runs, the store's time axis and the splits are known before any data move;
the second (``batches``) streams batches of runs, sized by bytes, into the atomic store
writer. Every error names the file, the variable and (where there is one) the trajectory
or run; a failed ingest leaves what was there before untouched.

Modules: ``files`` (which files, their format), ``open`` (readers), ``dedalus`` (Dedalus's
own layout), ``map`` and ``tabular`` (one file's variables on the canonical schema),
``runs`` (files grouped into runs), ``timeaxis`` and ``resample`` (the store's time axis),
``quadrature`` (grid weights), ``plan`` (all files checked together), ``splits``, ``read``
(batches), ``write`` (the entry point), ``check`` (errors and checks).
"""

from .check import IngestError
from .files import EXTENSIONS, FORMATS, file_format, resolve_files, sha256
from .map import LAYOUT_DIMS
from .plan import Plan, plan, weight_name
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
    "weight_name",
]
