"""The polymer store: canonical Datasets of bead positions, in batches along ``trajectory``.

Variables: ``r`` (trajectory, time, bead, xyz); ``extension`` = max − min of bead x,
``end_to_end_diff`` = |x_N − x_1| and ``end_to_end_sum`` = |x_N + x_1| (trajectory, time), all
relative to the centre of mass and computed in float64 before ``r`` is cast to ``dtype``.
Coords on trajectory: ``split`` (``Split``), ``ensemble`` (−1 train/val, else 0..E−1),
``unfolding`` int8 (``Unfolding``: fast, slow, or unlabelled for train/val and the middle
ensemble of an odd number), ``unfolding_time`` (first time the extension reaches the threshold,
inf if it never does), ``Wi``. Ensembles are ranked by median unfolding time: the faster half
is fast, the slower half slow. The labels need every test trajectory, so the batches holding
test trajectories are run twice: first to label (same keys, same program, hence the same
numbers), then to yield. Memory stays one batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ...data import Split, Unfolding, build_dataset
from ...data.schema import flag_attrs
from ...lazy_import import lazy
from ...provenance import stamp
from .equilibrium import equilibrium_coils
from .integrators import run
from .noise import STREAM_COILS, STREAM_ENSEMBLES, STREAM_NOISE, STREAM_PROBE, STREAM_REDRAW
from .observables import label_ensembles, observables, unfolding_threshold, unfolding_time
from .plan import VARIABLE, Plan, plan

if TYPE_CHECKING:
    import jax
    import jax.numpy as jnp
else:
    jax, jnp = lazy("jax"), lazy("jax.numpy")

log = logging.getLogger("onsagerflow.polymer")

DIMS = ("bead", "xyz")
DERIVED = ("extension", "end_to_end_diff", "end_to_end_sum")


class _Runner:
    """Initial states and flow runs of fixed-size (padded) batches of global trajectory ids."""

    def __init__(self, spec: Mapping[str, Any], pl: Plan, draw: int = 0, probe: bool = False):
        """``draw`` 0: the store's own noise; d ≥ 1: the d-th independent redraw of it (the
        initial states stay the store's). ``probe``: coils and noise of chains that are not the
        store's, from a stream of their own."""
        self.pl = pl
        base = jax.random.PRNGKey(spec["seed"])
        self.streams = {k: jax.random.fold_in(base, k) for k in (STREAM_COILS, STREAM_ENSEMBLES, STREAM_NOISE)}
        if draw:
            self.streams[STREAM_NOISE] = jax.random.fold_in(jax.random.fold_in(base, STREAM_REDRAW), draw)
        if probe:
            own = jax.random.fold_in(base, STREAM_PROBE)
            self.streams[STREAM_COILS], self.streams[STREAM_NOISE] = (jax.random.fold_in(own, k) for k in (0, 1))
        self._ensemble_coils: np.ndarray | None = None

    @property
    def ensemble_coils(self) -> np.ndarray:
        """The test ensembles' fixed initial coils, made when a batch first needs them."""
        if self._ensemble_coils is None:
            n_e = int(self.pl.ensemble.max()) + 1
            self._ensemble_coils = self._coils(STREAM_ENSEMBLES, np.arange(n_e))
        return self._ensemble_coils

    def _keys(self, stream: int, ids: np.ndarray):
        return jax.vmap(lambda i: jax.random.fold_in(self.streams[stream], i))(jnp.asarray(ids))

    def _pad(self, ids: np.ndarray) -> np.ndarray:
        """Same shape every batch (one compiled program): repeat the last id."""
        return np.concatenate([ids, np.full(self.pl.batch_size - len(ids), ids[-1])])

    def _coils(self, stream: int, ids: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(ids), self.pl.batch_size):
            part = ids[i : i + self.pl.batch_size]
            keys = self._keys(stream, self._pad(part))
            r = equilibrium_coils(
                self.pl.chain,
                keys,
                t_relax=self.pl.equilibrate_steps * self.pl.dt,
                dt=self.pl.dt,
                integrator=self.pl.integrator,
                noise=self.pl.noise,
            )
            out.append(np.asarray(r)[: len(part)])
        return np.concatenate(out)

    def initial_states(self, ids: np.ndarray) -> np.ndarray:
        ens = self.pl.ensemble[ids]
        r0 = np.empty((len(ids), self.pl.chain.n_beads, 3))
        own = ens < 0
        if own.any():
            r0[own] = self._coils(STREAM_COILS, ids)[own]
        if (~own).any():
            r0[~own] = self.ensemble_coils[ens[~own]]
        return r0

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """(len(ids), n_saves + 1, N, 3) float64 positions under flow."""
        full = self._pad(ids)
        return self.flow(self.initial_states(full), full)[: len(ids)]

    def flow(self, r0: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Chains from the initial states ``r0`` (one batch) under flow, chain k's noise keyed by ids[k]."""
        pl = self.pl
        r = run(
            pl.chain,
            r0,
            self._keys(STREAM_NOISE, ids),
            dt=pl.dt,
            n_saves=pl.n_saves,
            save_every=pl.save_every,
            strain_rate=pl.strain_rate,
            integrator=pl.integrator,
            noise=pl.noise,
        )
        return np.asarray(r)


def new_noise_observables(
    spec: Mapping[str, Any], ids: Sequence[int], draw: int, calibration: Mapping[str, Any] | None = None
) -> dict[str, np.ndarray]:
    """The derived variables (``DERIVED``: each (len(ids), frames), float64) of the store's
    trajectories ``ids``, each run from its own stored initial state under the ``draw``-th
    independent redraw of the noise (draw ≥ 1; 0 gives the store's own paths). For a test
    ensemble these are as many new realisations from its one conformation: what a perfect
    model of the chain would produce, so the floor of every ensemble metric
    (``onsagerflow noise-floor``). One batch of positions in memory at a time."""
    pl = plan(spec, calibration)
    runner = _Runner(spec, pl, draw=draw)
    chosen = np.asarray(ids, dtype=np.int64)
    parts = [observables(runner.positions(chosen[b])) for b in _batches(len(chosen), pl.batch_size)]
    return {k: np.concatenate([p[k] for p in parts]) for k in DERIVED}


def probe_coils(spec: Mapping[str, Any], n: int, calibration: Mapping[str, Any] | None = None) -> np.ndarray:
    """n equilibrium coils at rest (n, N, 3), drawn as the store's initial coils are but from a
    stream of their own, so none is a store's: the chains a closure diagnostic selects from."""
    pl = plan(spec, calibration)
    return _Runner(spec, pl, probe=True)._coils(STREAM_COILS, np.arange(n))


def probe_observables(
    spec: Mapping[str, Any], r0: np.ndarray, calibration: Mapping[str, Any] | None = None
) -> dict[str, np.ndarray]:
    """The derived variables (``DERIVED``, each (len(r0), frames)) of chains started from the
    conformations ``r0`` (k, N, 3) under the system's flow, with noise of their own: the probe
    stream keyed by each chain's place in ``r0``, so independent of the other chains' and of
    the store's, and not changed by the chains beside it."""
    pl = plan(spec, calibration)
    runner = _Runner(spec, pl, probe=True)
    parts = []
    for b in _batches(len(r0), pl.batch_size):
        ids = runner._pad(b)
        start = np.concatenate([r0[b], np.repeat(r0[b][-1:], len(ids) - len(b), axis=0)])
        parts.append(observables(runner.flow(start, ids)[: len(b)]))
    return {k: np.concatenate([p[k] for p in parts]) for k in DERIVED}


def _batches(n: int, size: int) -> list[np.ndarray]:
    return [np.arange(i, min(i + size, n)) for i in range(0, n, size)]


def simulate(
    spec: Mapping[str, Any],
    trajectories: Sequence[int] | None = None,
    calibration: Mapping[str, Any] | None = None,
) -> Iterator[xr.Dataset]:
    """Canonical Datasets, consecutive batches of trajectories (module docstring), of a
    validated polymer system block with its ``name`` (``onsagerflow.config.validated_system``).

    λ is measured at the call where needed, unless ``calibration`` holds it (``calibrate``);
    the batches are made as the generator is consumed, one in memory at a time.
    ``trajectories`` (ids, consecutive) makes a shard of the store: the same trajectories, bit
    for bit, but with every ensemble ``unlabelled`` — the labels need every test trajectory,
    and ``finish_gather`` sets them on the gathered store.
    """
    pl = plan(spec, calibration)
    if trajectories is None:
        return _generate(spec, pl)
    return _generate_shard(spec, pl, np.asarray(trajectories, dtype=np.int64))


def _generate_shard(spec: Mapping[str, Any], pl: Plan, ids: np.ndarray) -> Iterator[xr.Dataset]:
    runner = _Runner(spec, pl)
    threshold = unfolding_threshold(spec)
    attrs = {**_attrs(spec, pl, threshold, np.zeros(0, np.int8)), **stamp(spec)}
    batches = [ids[i : i + pl.batch_size] for i in range(0, len(ids), pl.batch_size)]
    for k, part in enumerate(batches):
        r = runner.positions(part)
        log.info("batch %d/%d: trajectories %d–%d", k + 1, len(batches), part[0], part[-1])
        yield _dataset(spec, pl, part, r, np.zeros(0, np.int8), threshold, attrs)


def finish_gather(spec: Mapping[str, Any], ds: xr.Dataset) -> xr.Dataset:
    """The gathered shards of a store with the test ensembles labelled fast or slow, as
    ``simulate`` labels them in one run (``label_ensembles`` on every test trajectory)."""
    n_e = spec["simulation"]["n_ensembles"]
    split, ens = ds["split"].values, ds["ensemble"].values
    test = split == Split.TEST
    labels = label_ensembles(ds["unfolding_time"].values[test], ens[test], n_e) if test.any() else np.zeros(0, np.int8)
    if n_e:
        log.info("test ensembles labelled: %s", [Unfolding(int(v)).name.lower() for v in labels])
    ds = ds.assign_coords(unfolding=("trajectory", _unfolding_codes(ens, labels), ds["unfolding"].attrs))
    ds.attrs["ensemble_labels"] = [int(v) for v in labels]
    return ds


def _unfolding_codes(ens: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each trajectory's class: its ensemble's label, or unlabelled (train, val, no labels yet)."""
    return np.where(
        ens >= 0, labels[np.maximum(ens, 0)] if labels.size else Unfolding.UNLABELLED, Unfolding.UNLABELLED
    ).astype(np.int8)


def _generate(spec: Mapping[str, Any], pl: Plan) -> Iterator[xr.Dataset]:
    runner = _Runner(spec, pl)
    threshold = unfolding_threshold(spec)
    batches = _batches(pl.n_trajectories, pl.batch_size)
    n_e = spec["simulation"]["n_ensembles"]

    # First pass over the batches with test trajectories: their unfolding times label the ensembles.
    test_ids, test_times = [], []
    for ids in batches:
        is_test = pl.split[ids] == Split.TEST
        if is_test.any():
            ext = observables(runner.positions(ids))["extension"]
            test_ids.append(ids[is_test])
            test_times.append(unfolding_time(ext[is_test], pl.times, threshold))
    labels = (
        label_ensembles(np.concatenate(test_times), pl.ensemble[np.concatenate(test_ids)], n_e)
        if test_ids
        else np.zeros(0, np.int8)
    )
    if n_e:
        log.info("test ensembles labelled: %s", [Unfolding(int(v)).name.lower() for v in labels])

    provenance = stamp(spec)
    attrs = _attrs(spec, pl, threshold, labels)
    for k, ids in enumerate(batches):
        r = runner.positions(ids)
        log.info("batch %d/%d: trajectories %d–%d", k + 1, len(batches), ids[0], ids[-1])
        yield _dataset(spec, pl, ids, r, labels, threshold, {**attrs, **provenance})


def _attrs(spec: Mapping[str, Any], pl: Plan, threshold: float, labels: np.ndarray) -> dict:
    p, s = spec["parameters"], spec["simulation"]
    c = pl.chain
    return {
        "system_type": "polymer",
        "observed": VARIABLE,
        "seed": int(spec["seed"]),
        "n_beads": c.n_beads,
        "spring": c.spring,
        "H": c.H,
        "Q0": c.Q0,
        "kT": c.kT,
        "zeta": c.zeta,
        "fene_b": c.b,
        "wlc_persistence_length": c.persistence_length if c.spring == "wlc" else 0.0,
        "max_length": c.max_length,
        "excluded_volume_strength": c.ev_strength,
        "excluded_volume_range": c.ev_range,
        "flow": "planar elongation, kappa = strain_rate * diag(1, -1, 0)",
        "Wi": float(p["Wi"]),
        "strain_rate": pl.strain_rate,
        "relaxation_time": pl.relaxation_time,
        "relaxation_time_stderr": pl.relaxation_stderr,
        "relaxation_time_method": pl.relaxation_method,
        "time_unit": (
            "relaxation time lambda"
            if s["time_unit"] == "relaxation"
            else "absolute (zeta Q0^2 / kT with the defaults)"
        ),
        "time_scale": pl.time_scale,
        "integrator": pl.integrator,
        "noise": pl.noise,
        "dt": pl.dt,
        "dt_requested": float(s["dt"]),
        "save_every": pl.save_every,
        "dt_sample": float(s["dt_sample"]),
        "t_end": float(s["t_end"]),
        "t_equilibrate": float(s["t_equilibrate"]),
        "equilibrate_steps": pl.equilibrate_steps,
        "n_train": int(s["n_train"]),
        "n_val": int(s["n_val"]),
        "n_ensembles": int(s["n_ensembles"]),
        "n_realisations": int(s["n_realisations"]),
        "batch_size": pl.batch_size,
        "dtype": s["dtype"],
        "unfolding_fraction": float(s["unfolding"]["fraction"]),
        "unfolding_threshold": threshold,
        "ensemble_labels": [int(v) for v in labels],
        "center_of_mass": "removed: positions are relative to the chain's centre of mass",
    }


def _dataset(
    spec: Mapping[str, Any],
    pl: Plan,
    ids: np.ndarray,
    r: np.ndarray,
    labels: np.ndarray,
    threshold: float,
    attrs: dict,
) -> xr.Dataset:
    dtype = np.dtype(spec["simulation"]["dtype"])
    obs = observables(r)
    ens = pl.ensemble[ids]
    unfolding = _unfolding_codes(ens, labels)
    long_names = {
        "extension": "extension: max − min of bead x",
        "end_to_end_diff": "|x_N − x_1| (centre of mass removed)",
        "end_to_end_sum": "|x_N + x_1| (centre of mass removed)",
    }
    data_vars: dict[str, tuple[tuple[str, ...], np.ndarray, dict[str, str]]] = {
        VARIABLE: (
            ("trajectory", "time", "bead", "xyz"),
            r.astype(dtype),
            {
                "units": "1",
                "long_name": "bead position relative to the centre of "
                "mass, in units of the length unit (Q0 with the defaults)",
            },
        )
    }
    for k in DERIVED:
        data_vars[k] = (("trajectory", "time"), obs[k].astype(dtype), {"units": "1", "long_name": long_names[k]})
    ds = build_dataset(
        system=spec["name"],
        data_vars=data_vars,
        time=pl.times,
        split=pl.split[ids],
        trajectory=ids,
        trajectory_coords={
            "ensemble": ens,
            "unfolding": unfolding,
            "unfolding_time": unfolding_time(obs["extension"], pl.times, threshold),
            "Wi": np.full(len(ids), float(spec["parameters"]["Wi"])),
        },
        coords={"bead": (("bead",), np.arange(pl.chain.n_beads)), "xyz": (("xyz",), np.arange(3))},
        attrs=attrs,
    )
    ds["time"].attrs["long_name"] = f"time ({attrs['time_unit']})"
    ds["ensemble"].attrs.update(
        {"long_name": "test ensemble (fixed initial conformation); -1 for train and val trajectories"}
    )
    ds["unfolding"].attrs.update(
        {
            "long_name": "unfolding class of the trajectory's ensemble",
            **flag_attrs(Unfolding),
        }
    )
    ds["unfolding_time"].attrs.update(
        {"long_name": "first time the extension reaches unfolding_threshold (inf: never)", "units": "1"}
    )
    ds["xyz"].attrs["long_name"] = "0 = x (stretching), 1 = y (compression), 2 = z (neutral)"
    return ds
