"""From a validated polymer system block to a run: the relaxation time λ, the strain rate
ε̇ = Wi/λ, steps, splits and batch sizes.

The block comes validated with every default filled — the workflow's config, or
``onsagerflow.config.validated_system`` for a direct call: ``config/schema.yaml`` alone holds
the defaults and bounds of every key, and ``onsagerflow.config`` checks what a schema cannot
express (t_end a whole multiple of dt_sample, an integrator that suits the spring and dt). λ comes from
``parameters.relaxation_time`` if given, the Rouse formula for Hookean chains without
excluded volume, else it is measured at rest (``calibration``). Trajectories 0..n_train−1 are
train, then n_val val (each from its own equilibrium coil), then n_ensembles × n_realisations
test trajectories: a few fixed initial coils ("ensembles"), each run with many noise
realisations, as in NCS24.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ...data import Split
from .calibration import relaxation_time
from .chain import Chain
from .integrators import resolve_integrator

VARIABLE = "r"


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything ``simulate`` derives from the spec before it runs a batch."""

    chain: Chain
    integrator: str
    noise: str
    relaxation_time: float
    relaxation_stderr: float
    relaxation_method: str
    strain_rate: float
    time_scale: float  # absolute time per unit of the spec's times
    dt: float  # step actually used (≤ simulation.dt, divides dt_sample exactly)
    save_every: int
    n_saves: int
    equilibrate_steps: int
    times: np.ndarray  # frame times in the spec's time unit
    split: np.ndarray  # per trajectory
    ensemble: np.ndarray
    batch_size: int

    @property
    def n_trajectories(self) -> int:
        return len(self.split)


def store_batch_size(want: int, n_total: int, frames: int, n_beads: int, itemsize: int) -> int:
    """Batch size that keeps every batch boundary on a zarr chunk boundary of the store.

    write_store chunks the whole store like its first batch (store.trajectory_chunk); a batch
    that starts inside a chunk would be refused, so the batch size is rounded down to a
    multiple of that chunk.
    """
    import dask.array as da

    from ...data.store import trajectory_chunk

    b = min(want, n_total)
    probe = xr.Dataset(
        {VARIABLE: (("trajectory", "time", "bead", "xyz"), da.empty((b, frames, n_beads, 3), dtype=f"f{itemsize}"))}
    )
    chunk = trajectory_chunk(probe)
    return max(chunk, (b // chunk) * chunk)


def trajectory_count(spec: Mapping[str, Any]) -> int:
    """How many trajectories ``simulate`` makes: train, val, and every test ensemble's realisations."""
    s = spec["simulation"]
    return int(s["n_train"] + s["n_val"] + s["n_ensembles"] * s["n_realisations"])


def batch_size(spec: Mapping[str, Any]) -> int:
    """Chains simulated together (``store_batch_size`` of simulation.batch_size); every batch
    is padded to this size, and a shard holds whole batches."""
    s = spec["simulation"]
    frames = int(round(s["t_end"] / s["dt_sample"])) + 1
    itemsize = 4 if s["dtype"] == "float32" else 8
    return store_batch_size(s["batch_size"], trajectory_count(spec), frames, spec["parameters"]["n_beads"], itemsize)


def plan(spec: Mapping[str, Any], calibration: Mapping[str, Any] | None = None) -> Plan:
    """Derive the run of a validated spec: λ (from ``calibration``, else measured here when
    needed), ε̇, steps, splits."""
    s = spec["simulation"]
    chain = Chain.from_spec(spec)
    integrator = resolve_integrator(chain, s["integrator"])
    lam, lam_se, method = relaxation_time(spec, chain, integrator, calibration)
    scale = lam if s["time_unit"] == "relaxation" else 1.0
    sample = s["dt_sample"] * scale
    save_every = int(math.ceil(sample / s["dt"] - 1e-9))
    dt = sample / save_every
    n_saves = int(round(s["t_end"] / s["dt_sample"]))
    n_tv = s["n_train"] + s["n_val"]
    n_test = s["n_ensembles"] * s["n_realisations"]
    split = np.concatenate(
        [
            np.full(s["n_train"], Split.TRAIN),
            np.full(s["n_val"], Split.VAL),
            np.full(n_test, Split.TEST),
        ]
    ).astype(np.int8)
    ensemble = np.concatenate([np.full(n_tv, -1), np.repeat(np.arange(s["n_ensembles"]), s["n_realisations"])]).astype(
        np.int32
    )
    batch = batch_size(spec)
    return Plan(
        chain=chain,
        integrator=integrator,
        noise=s["noise"],
        relaxation_time=lam,
        relaxation_stderr=lam_se,
        relaxation_method=method,
        strain_rate=float(spec["parameters"]["Wi"]) / lam,
        time_scale=scale,
        dt=dt,
        save_every=save_every,
        n_saves=n_saves,
        equilibrate_steps=int(math.ceil(s["t_equilibrate"] * scale / dt - 1e-9)),
        times=np.arange(n_saves + 1) * s["dt_sample"],
        split=split,
        ensemble=ensemble,
        batch_size=batch,
    )
