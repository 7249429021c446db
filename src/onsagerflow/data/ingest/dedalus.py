"""Dedalus 3 output, read as Dedalus writes it.

A file handler (``solver.evaluator.add_file_handler('snapshots', sim_dt=..., max_writes=...)``)
writes a folder ``snapshots/`` of sets ``snapshots_s1.h5``, ``snapshots_s2.h5``, ... (a new set
after every ``max_writes`` writes), each with

- attributes ``set_number``, ``handler_name``, ``writes``;
- ``scales/``: ``sim_time``, ``timestep``, ``wall_time``, ``iteration``, ``write_number``
  (one value per write), ``constant``, and one dataset per grid, ``x_hash_<sha1>``, holding
  the grid's coordinates — all HDF5 dimension scales;
- ``tasks/<name>``: one dataset per task, axes (t, [components ...], <space>...): axis 0
  labelled ``t`` with the five time scales attached, a vector or tensor task's component
  axes unlabelled and without scales, and every spatial axis labelled with its coordinate
  name (``x``, ``z``) with its grid scale attached.

So the tasks' names, their axes, the grids' coordinates and the time of every write come
from the file: nothing needs to be copied out of it by hand.
"""

from __future__ import annotations

import numpy as np

TASKS = "tasks"
SCALES = "scales"
TIME = "scales/sim_time"
TIME_LABEL = "t"
COMPONENT = "component"  # a vector task's component axis; a tensor's second is component_2


def is_dedalus(f) -> bool:
    """An h5py File laid out as a Dedalus file handler's set."""
    return TASKS in f and SCALES in f and "sim_time" in f[SCALES]


def component_dims(rank: int) -> tuple[str, ...]:
    return tuple(COMPONENT if i == 0 else f"{COMPONENT}_{i + 1}" for i in range(rank))


def task_dims(d) -> tuple[str, ...]:
    """A task's axes: ``t``, its component axes (``component``, ``component_2``), then the
    spatial axes by their labels."""
    labels = [str(dim.label) for dim in d.dims]
    spatial = 0
    for lab in reversed(labels[1:]):
        if not lab:
            break
        spatial += 1
    rank = d.ndim - 1 - spatial
    return (labels[0] or TIME_LABEL, *component_dims(rank), *labels[d.ndim - spatial :])


def component_labels(d) -> list[str]:
    """Names of a vector task's components: Dedalus orders them as the coordinate system's
    coordinates, which label the spatial axes in the same order."""
    dims = task_dims(d)
    return [x for x in dims if x != TIME_LABEL and not x.startswith(COMPONENT)]


def coefficient_axes(d) -> list[str]:
    """Spatial axes written in coefficient space (layout='c'), which are not a grid."""
    space = d.attrs.get("grid_space")  # optional: written by Dedalus, absent elsewhere
    if space is None:
        return []
    labels = task_dims(d)[-len(space) :]
    return [lab for lab, g in zip(labels, np.atleast_1d(space)) if not g]


def axis_scale(d, axis: int):
    """The grid dataset attached to a spatial axis, or None (a ``constant`` axis has a
    one-point scale; component axes have none)."""
    scales = list(d.dims[axis].values())
    return scales[0] if scales else None
