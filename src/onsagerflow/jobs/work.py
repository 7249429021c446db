"""How much work a job holds and how long and how big it is, from the config and the rates.

Work is counted in the units the rates are measured in (onsagerflow.jobs.rates): trajectory
time for Lorenz-63, grid-point steps for Rayleigh–Bénard, bead-steps for the polymer, windows ×
epochs for training, rollout samples for evaluation. An estimate is one core's wall time (every
job runs single-threaded XLA kernels unless a profile gives it threads) and the memory the job
holds at its peak: one batch of the simulator, the training or test arrays, with a base for the
Python process and JAX.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import data_spec, evaluation_spec, parse_run, reduction, training_spec
from ..data.schema import Split
from ..data.split import split_counts

MB = 2**20
BASE_MB = 1500  # a Python process with JAX, xarray and zarr loaded, before any data
STORE_MB = 16  # zarr chunk target of the canonical store (data.store.write_store)
COPIES = 3  # peak copies of a simulated batch: JAX's output, its NumPy copy, the stored cast
VAL_COST = 1 / 3  # a validation window costs a forward pass, a third of a training step
NEWTON_STEPS = 50  # model evaluations per fixed-point start (root finding, Jacobians)
FIELD_DECODE = 2  # an RBC evaluation decodes predicted fields and reads the true ones


# ODE systems, by their state size: solved by the same Dormand–Prince solver (rate "lorenz").
ODE_STATES = {"lorenz": 3, "langevin": 2}


@dataclass(frozen=True)
class Estimate:
    seconds: float  # one core's wall time, start-up included
    mem_mb: int
    work: str  # what was counted, for the job table

    @property
    def hours(self) -> float:
        return self.seconds / 3600


def _mem(nbytes: float, copies: float = 1.0) -> int:
    return int(BASE_MB + math.ceil(copies * nbytes / MB))


# --------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Sizes:
    """A simulated system's data set: trajectories, samples, bytes per sample, splits."""

    n: int
    frames: int
    sample_bytes: int  # one trajectory, one time, every variable as stored
    dt_sample: float
    n_train: int
    n_val: int
    n_test: int
    state_dim: int  # what models see (before any reduction)


def sizes(config: Mapping[str, Any], system: str) -> Sizes | None:
    """The data set a system's store holds (None for ingested data: known only once ingested)."""
    spec = data_spec(config, system)
    kind = spec["type"]
    sim: dict[str, Any] = spec.get("simulation") or {}
    if kind in ODE_STATES:
        frames = int(round(sim["t_end"] / sim["dt_sample"])) + 1
        n = sim["n_trajectories"]
        c = split_counts(n, spec["splits"])
        dim = ODE_STATES[kind]
        return Sizes(n, frames, dim * 8, sim["dt_sample"], c["train"], c.get("val", 0), c.get("test", 0), dim)
    if kind == "rbc":
        from ..systems import get_system

        frames = int(get_system("rbc").sampling(spec).time.size)  # burst samples included
        n = sim["n_trajectories"]
        c = split_counts(n, spec["splits"])
        item = 8 if sim["store_float64"] else 4
        field = (sim["nz"] + 1) * sim["nx"]
        return Sizes(
            n, frames, 3 * field * item + 8, sim["dt_sample"], c["train"], c.get("val", 0), c.get("test", 0), 3 * field
        )
    if kind == "polymer":
        p = _polymer(spec)
        s = p["cfg"]["simulation"]
        n_test = s["n_ensembles"] * s["n_realisations"]
        item = 4 if s["dtype"] == "float32" else 8
        n_beads = p["chain"].n_beads
        return Sizes(
            s["n_train"] + s["n_val"] + n_test,
            p["n_saves"] + 1,
            (3 * n_beads + 3) * item,
            s["dt_sample"],
            s["n_train"],
            s["n_val"],
            n_test,
            3 * n_beads,
        )
    return None


def _polymer(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The polymer run's steps, from the spec alone: λ given, Rouse's, or (to be measured)
    estimated by Rouse's formula, which FENE chains at rest come close to."""
    from ..systems import get_system

    P = get_system("polymer")
    cfg = spec  # validated with its defaults (the workflow's config)
    s = cfg["simulation"]
    chain = P.Chain.from_spec(cfg)
    lam = cfg["parameters"]["relaxation_time"] or P.rouse_relaxation_time(chain.n_beads, chain.H, chain.zeta)
    scale = lam if s["time_unit"] == "relaxation" else 1.0
    save_every = int(math.ceil(s["dt_sample"] * scale / s["dt"] - 1e-9))
    dt = s["dt_sample"] * scale / save_every
    n_saves = int(round(s["t_end"] / s["dt_sample"]))
    return {
        "module": P,
        "cfg": cfg,
        "chain": chain,
        "n_saves": n_saves,
        "flow_steps": n_saves * save_every,
        "eq_steps": int(math.ceil(s["t_equilibrate"] * scale / dt - 1e-9)),
        "batch": P.batch_size(cfg),
    }


# --------------------------------------------------------------------------- simulation


def batch_size(config: Mapping[str, Any], system: str) -> int:
    """Trajectories a simulator runs together: shards hold whole batches where they can."""
    spec = data_spec(config, system)
    if spec["type"] == "rbc":
        return int(spec["simulation"]["batch_size"])
    if spec["type"] == "polymer":
        return int(_polymer(spec)["batch"])
    return 1


def simulate(config: Mapping[str, Any], system: str, rates: Mapping[str, float], ids: range | None = None) -> Estimate:
    """One simulate job: every trajectory (``ids`` None, the whole store in one job) or a shard."""
    spec = data_spec(config, system)
    kind = spec["type"]
    sz = sizes(config, system)
    if sz is None:
        raise ValueError(f"systems.{system}: a '{kind}' system is not simulated")
    whole = ids is None
    ids = range(sz.n) if ids is None else ids
    seconds: float
    nbytes: float
    if kind in ODE_STATES:  # a damped oscillator is cheaper per time unit than chaotic Lorenz: a bound
        sim = spec["simulation"]
        seconds = len(ids) * sim["t_end"] / rates["lorenz"]
        work = f"{len(ids)} trajectories × {sim['t_end']:g} time units"
        nbytes = len(ids) * sz.frames * sz.sample_bytes
    elif kind == "rbc":
        seconds, work, nbytes = _rbc(spec, ids, rates)
    elif kind == "polymer":
        seconds, work, nbytes = _polymer_shard(spec, ids, rates, label_pass=whole)
    else:
        raise ValueError(f"systems.{system}: no work estimate for the '{kind}' simulator")
    return Estimate(rates["startup"] + seconds, _mem(nbytes, COPIES), work)


def _rbc(spec, ids: range, rates) -> tuple[float, str, float]:
    from ..systems import get_system

    sim = spec["simulation"]
    plan = get_system("rbc").sampling(spec)  # the simulator's own sampling: burn-in, samples, bursts
    n_save = plan.n_save * plan.burst
    # coarse steps, then each burst's fine steps (as dear per step as the coarse ones)
    steps = plan.burn + (plan.n_save - 1) * plan.every + plan.n_save * (plan.burst - 1) * plan.fine_every
    points = 2 * sim["nz"] * sim["nx"]
    batches = math.ceil(len(ids) / sim["batch_size"])
    calls = batches * ((2 if plan.burn else 1) + (1 if plan.burst > 1 else 0))
    seconds = len(ids) * steps * points / rates["rbc"] + calls * rates["rbc_call"]
    work = f"{len(ids)} trajectories × {steps} steps × {points} points, {calls} solver calls"
    batch = min(len(ids), sim["batch_size"])
    spectral = 2 * 2 * sim["nz"] * (sim["nx"] // 2 + 1) * 16  # ζ̂, θ̂ complex128 per frame
    physical = 3 * (sim["nz"] + 1) * sim["nx"] * 8
    return seconds, work, batch * n_save * (spectral + physical)


def _polymer_shard(spec, ids: range, rates, *, label_pass: bool) -> tuple[float, str, float]:
    """Bead-steps of a polymer shard as the simulator runs it: batches padded to the batch size,
    each chain's own coil equilibrated (the whole batch when any train/val chain is in it), the
    test ensembles' coils once where the shard holds test trajectories, and, for a store made
    in one job, the batches with test trajectories twice (their unfolding times label the
    ensembles first)."""
    p = _polymer(spec)
    s, b = p["cfg"]["simulation"], p["batch"]
    n_tv = s["n_train"] + s["n_val"]
    chains = 0
    test_held = False
    for start in range(ids.start, ids.stop, b):
        part = range(start, min(start + b, ids.stop))
        own = part.start < n_tv
        test = part.stop > n_tv
        runs = 2 if (test and label_pass) else 1
        chains += runs * b * (p["flow_steps"] + (p["eq_steps"] if own else 0))
        test_held |= test
    if test_held and s["n_ensembles"]:
        chains += math.ceil(s["n_ensembles"] / b) * b * p["eq_steps"]
    bead_steps = chains * p["chain"].n_beads
    work = f"{len(ids)} chains of {p['chain'].n_beads} beads, {bead_steps:.3g} bead-steps"
    nbytes = b * (p["n_saves"] + 1) * p["chain"].n_beads * 3 * 8
    return bead_steps / rates["polymer"], work, nbytes


def noise_floor(
    config: Mapping[str, Any], system: str, rates: Mapping[str, float], realisations: range | None = None
) -> Estimate:
    """One noise-floor job: a test ensemble's realisations (all, or the part ``realisations``)
    rerun from their stored starts (no equilibration) in batches padded to the batch size."""
    p = _polymer(data_spec(config, system))
    s, b = p["cfg"]["simulation"], p["batch"]
    n = len(realisations) if realisations is not None else s["n_realisations"]
    n_beads = p["chain"].n_beads
    bead_steps = math.ceil(n / b) * b * p["flow_steps"] * n_beads
    batch_bytes = b * (p["n_saves"] + 1) * n_beads * 3 * 8
    return Estimate(
        rates["startup"] + bead_steps / rates["polymer"],
        _mem(batch_bytes, COPIES),
        f"{n} chains of {n_beads} beads, {bead_steps:.3g} bead-steps",
    )


def noise_floor_judge(config: Mapping[str, Any], system: str, rates: Mapping[str, float]) -> Estimate:
    """Judging one test ensemble's reruns, gathered from their parts: its extension paths twice."""
    sz = sizes(config, system)
    assert sz is not None, f"systems.{system}: a noise floor needs a simulated store"
    n = data_spec(config, system)["simulation"]["n_realisations"]
    return Estimate(rates["startup"], _mem(2 * n * sz.frames * 8, COPIES), f"{n} paths × {sz.frames} samples")


def calibration(config: Mapping[str, Any], system: str, rates: Mapping[str, float], units: range) -> Estimate:
    """One part of the polymer's λ measurement: ``units`` chains at rest."""
    spec = data_spec(config, system)
    p = _polymer(spec)
    P, chain = p["module"], p["chain"]
    m = p["cfg"]["simulation"]["relaxation_measurement"]
    lam_r = P.rouse_relaxation_time(chain.n_beads, chain.H, chain.zeta)
    dt = p["cfg"]["simulation"]["dt"]
    steps = math.ceil(2.0 * lam_r / dt) + math.ceil(m["duration"] * lam_r / dt)
    b = P.calibration_batch(spec)  # batches padded to this size
    bead_steps = math.ceil(len(units) / b) * b * chain.n_beads * steps
    return Estimate(
        rates["startup"] + bead_steps / rates["polymer"],
        _mem(b * chain.n_beads * 3 * 8, COPIES),
        f"{len(units)} chains at rest, {bead_steps:.3g} bead-steps",
    )


def gather(config: Mapping[str, Any], system: str, rates: Mapping[str, float]) -> Estimate:
    """Shards streamed into the store: read, written, then read back to validate."""
    sz = sizes(config, system)
    if sz is None:
        raise ValueError(f"systems.{system}: only a simulated system is gathered")
    mb = sz.n * sz.frames * sz.sample_bytes / MB
    return Estimate(rates["startup"] + 3 * mb / rates["store"], _mem(8 * STORE_MB * MB), f"{mb:.0f} MB store")


# --------------------------------------------------------------------------- learning


def _data_sizes(config: Mapping[str, Any], system: str) -> Sizes | None:
    sz = sizes(config, system)
    if sz is not None:
        return sz
    return _ingested_sizes(config, system)


def _ingested_sizes(config: Mapping[str, Any], system: str) -> Sizes | None:
    """An ingested store's sizes, read from it once it exists (None before the ingest ran)."""
    store = Path(config["results"]) / "data" / system / "trajectories.zarr"
    if not store.exists():
        return None
    from ..data import read_zarr

    with read_zarr(store) as ds:
        split = ds["split"].values
        t = ds["time"].values
        variable = ds.attrs.get("observed") or next(iter(ds.data_vars))
        var = ds[variable]
        dim = int(math.prod(var.shape[2:]))
        sample = sum(int(math.prod(v.shape[2:])) * v.dtype.itemsize for v in ds.data_vars.values())
        return Sizes(
            int(ds.sizes["trajectory"]),
            int(ds.sizes["time"]),
            sample,
            float(t[1] - t[0]) if t.size > 1 else 1.0,
            int((split == Split.TRAIN).sum()),
            int((split == Split.VAL).sum()),
            int((split == Split.TEST).sum()),
            dim,
        )


def windows(config: Mapping[str, Any], system: str, sz: Sizes) -> tuple[int, int]:
    """Training and validation windows the train stage cuts (training.make_windows)."""
    pairs = config["systems"][system]["pairs"]
    lag = max(1, int(round(pairs["tau"] / sz.dt_sample)))
    starts = max(1, sz.frames - lag * pairs["rollout_steps"])
    per = starts if pairs["per_trajectory"] is None else min(pairs["per_trajectory"], starts)
    return sz.n_train * per, sz.n_val * per


def _latent_dim(config: Mapping[str, Any], system: str, run: str, sz: Sizes) -> int:
    _, n = parse_run(run)
    red = reduction(config, system)
    return n if n is not None else (sz.state_dim if red is None else red.get("components", sz.state_dim))


def train(config: Mapping[str, Any], system: str, run: str, rates: Mapping[str, float]) -> Estimate | None:
    """A train job: epochs × windows at the model family's rate (None: data not known yet)."""
    sz = _data_sizes(config, system)
    if sz is None:
        return None
    key, _ = parse_run(run)
    model = config["models"][key]
    n_train, n_val = windows(config, system, sz)
    steps = config["systems"][system]["pairs"]["rollout_steps"]
    red = reduction(config, system)
    dim = red["components"] if (model.get("autoencoder") and red) else _latent_dim(config, system, run, sz)
    data = (sz.n_train + sz.n_val) * sz.frames * dim * 8 + (n_train + n_val) * (steps + 1) * dim * 4
    if model["type"] == "sindy":
        return Estimate(rates["startup"], _mem(data, 2), f"SINDy on {n_train} windows")
    tr = training_spec(config, key, system)
    restarts = tr["restarts"]  # screened initialisations train before the full run, or are full runs
    if restarts["count"] > 1 and restarts["select"] == "end_states":
        epochs = restarts["count"] * tr["epochs"]
    else:
        epochs = tr["epochs"] + (restarts["count"] * restarts["epochs"] if restarts["count"] > 1 else 0)
    ae = model.get("autoencoder")
    rate = rates["train_joint"] if ae else rates["train_sde" if model["type"] == "s_onsagernet" else "train"]
    per_epoch = n_train + VAL_COST * n_val
    seconds = epochs * per_epoch / rate
    frozen = ae.get("frozen_epochs", 0) if ae else 0
    if frozen:  # the second stage trains the dynamics alone on encoded windows
        seconds += frozen * per_epoch / rates["train_sde" if model["type"] == "s_onsagernet" else "train"]
    work = f"{epochs + frozen} epochs × {n_train} windows"
    return Estimate(rates["startup"] + seconds, _mem(data, 3), work)


def evaluate(config: Mapping[str, Any], system: str, run: str, rates: Mapping[str, float]) -> Estimate | None:
    """An evaluate job: rollouts of every test trajectory (an SDE path per realisation for the
    polymer), the long rollouts (with the true system's where there is one), root finding, and
    for fields the decoded predictions."""
    sz = _data_sizes(config, system)
    if sz is None:
        return None
    key, _ = parse_run(run)
    model = config["models"][key]
    ev = evaluation_spec(config, system)
    kind = config["systems"][system]["type"]
    seconds = ev["fixed_point_starts"] * NEWTON_STEPS / rates["rollout_ode"]
    dim = _latent_dim(config, system, run, sz)
    if kind == "polymer":
        steps = sz.n_test * (sz.frames - 1) * ev["sde_substeps"]
        seconds += steps / rates["rollout_sde" if model["type"] == "s_onsagernet" else "rollout_ode"]
        work = f"{sz.n_test} test paths × {sz.frames} samples"
    else:
        long = int(round(ev["long_t_end"] / ev["long_dt_save"])) + 1
        samples = sz.n_test * sz.frames + ev["long_rollouts"] * long
        seconds += samples / rates["rollout_ode"]
        if kind in ODE_STATES:  # the true system's long rollouts
            seconds += ev["long_rollouts"] * ev["long_t_end"] / rates["lorenz"]
        work = f"{sz.n_test} test and {ev['long_rollouts']} long rollouts"
    nbytes = sz.n_test * sz.frames * dim * 8 * 4
    if reduction(config, system) is not None and kind != "polymer":
        field = sz.n_test * sz.frames * sz.sample_bytes
        seconds += FIELD_DECODE * field / MB / rates["store"]
        nbytes += FIELD_DECODE * field
    return Estimate(rates["startup"] + seconds, _mem(nbytes, 2), work)
