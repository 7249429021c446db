"""From a validated polymer system block to a run: the relaxation time λ, the strain rate
ε̇ = Wi/λ, steps, splits and batch sizes.

The block comes validated with every default filled — the workflow's config, or
``onsagerflow.config.validated_system`` for a direct call: ``config/schema.yaml`` alone holds
the defaults and bounds of every key, and ``onsagerflow.config`` checks what a schema cannot
express (t_end a whole multiple of dt_sample, an integrator that suits the spring and dt). λ comes from
``parameters.relaxation_time`` if given, the Rouse formula for Hookean chains without
excluded volume, else it is measured at rest (``relaxation``). Trajectories 0..n_train−1 are
train, then n_val val (each from its own equilibrium coil), then n_ensembles × n_realisations
test trajectories: a few fixed initial coils ("ensembles"), each run with many noise
realisations, as in NCS24.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
import xarray as xr

from ...data import Split
from .chain import Chain, rouse_relaxation_time
from .integrators import resolve_integrator
from .relaxation import measure_relaxation_time

log = logging.getLogger("onsagerflow.polymer")

VARIABLE = "r"
# Key streams: each use of randomness draws from its own branch of the seed.
STREAM_COILS, STREAM_ENSEMBLES, STREAM_NOISE, STREAM_RELAX = 0, 1, 2, 3


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


def relaxation_time(spec: Mapping[str, Any], chain: Chain, integrator: str) -> tuple[float, float, str]:
    """(λ, its standard error, how it was obtained) for a validated spec."""
    given = spec["parameters"]["relaxation_time"]
    if given is not None:
        return float(given), 0.0, "given"
    if chain.spring == "hookean" and chain.ev_strength == 0:
        return rouse_relaxation_time(chain.n_beads, chain.H, chain.zeta), 0.0, "rouse"
    m = spec["simulation"]["relaxation_measurement"]
    key = jax.random.fold_in(jax.random.PRNGKey(spec["seed"]), STREAM_RELAX)
    fit = measure_relaxation_time(
        chain,
        key,
        n_chains=m["n_chains"],
        duration=m["duration"],
        window=tuple(m["window"]),
        dt=spec["simulation"]["dt"],
        integrator=integrator,
        noise=spec["simulation"]["noise"],
    )
    log.info("measured λ = %.5g ± %.2g (end-to-end autocorrelation at rest)", fit.value, fit.stderr)
    return fit.value, fit.stderr, "measured: end-to-end autocorrelation at rest"


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


def plan(spec: Mapping[str, Any]) -> Plan:
    """Derive the run of a validated spec: λ (measured here when needed), ε̇, steps, splits."""
    s = spec["simulation"]
    chain = Chain.from_spec(spec)
    integrator = resolve_integrator(chain, s["integrator"])
    lam, lam_se, method = relaxation_time(spec, chain, integrator)
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
    itemsize = 4 if s["dtype"] == "float32" else 8
    batch = store_batch_size(s["batch_size"], len(split), n_saves + 1, chain.n_beads, itemsize)
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
