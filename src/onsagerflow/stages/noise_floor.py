"""``onsagerflow noise-floor``: the ensemble metrics' own floor, the simulator judged against itself.

Each test ensemble of a simulated polymer system is a finite number of noise realisations from
one initial conformation, so even a perfect model, run as many times, differs from it: the
largest error over time of the mean and of the std of the extension and the unfolding-time
W1 / mean are not zero. One draw of this stage reruns the store's test trajectories with the
system's simulator, each from its stored initial state, under the ``draw``-th independent
redraw of the noise (``systems.polymer.new_noise_observables``), and judges the reruns against
the stored ensembles exactly as evaluate judges a model's paths
(``analysis.ensembles.judge_ensemble``). The polymer table reports the mean over the draws
(``evaluation.noise_floor_draws``) as the simulator's row.

Where one ensemble's rerun would not fit the time a job may take (``jobs.noise_floor_plan``),
``--part START-STOP`` jobs rerun whole batches of its realisations, each writing their paths
(``.npz``), and one more call judges the ensemble from those parts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from ..analysis.ensembles import judge_ensemble
from ..config import ConfigError
from ..data import ENSEMBLE_LABELS, Split, Unfolding, atomic_path, open_store, split_mask
from ..errors import DamagedFileError
from ..provenance import config_sha256, stamp
from .common import write_json

log = logging.getLogger("onsagerflow.noise_floor")

CALIBRATION_ATTRS = ("relaxation_time", "relaxation_time_stderr", "relaxation_time_method")


def run(
    spec: dict,
    data: str,
    draw: int,
    out: str,
    ensemble: int | None = None,
    part: range | None = None,
    parts: Sequence[str] = (),
) -> None:
    """``spec``: {"system": the simulate spec, "evaluation": {unfolding_time,
    unfolding_final_fraction}}; ``data`` the system's bead store; ``out`` the JSON of the draw
    (of test ensemble number ``ensemble`` alone where given: the workflow's jobs). With ``part``
    (realisations START..STOP−1 of ``ensemble``) ``out`` is that part's reruns (.npz); with
    ``parts`` the ensemble is judged from them instead of rerun."""
    t0 = time.perf_counter()
    if draw < 1:
        raise ConfigError(f"--draw {draw}: draws of new noise count from 1 (0 is the store's own)")
    if (part is not None or parts) and ensemble is None:
        raise ConfigError("onsagerflow noise-floor: --part and part files go with --ensemble E")
    if part is not None and parts:
        raise ConfigError("onsagerflow noise-floor: --part writes one part; part files are judged without it")
    system = spec["system"]
    ds = open_store(data)
    # the store must be what this spec simulates: its stamp is the hash of the same spec
    made_by = ds.attrs.get("config_sha256")
    if made_by != config_sha256(system):
        raise DamagedFileError(
            f"{data} was not simulated from systems.{system['name']} as configured now (config hash "
            f"{made_by} in the store, {config_sha256(system)} now); rerun its simulate rule"
        )
    if part is not None:
        ids = test_ids(ds, ensemble, data)
        if part.stop > len(ids):
            raise ConfigError(f"--part {part.start}-{part.stop}: ensemble {ensemble} has {len(ids)} realisations")
        chosen = ids[part.start : part.stop]
        paths = rerun(system, ds, chosen, draw, data)
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, trajectory=np.asarray(chosen), extension=paths)
        log.info("wrote %s in %.1f s", out, time.perf_counter() - t0)
        return
    reruns = gathered(parts, test_ids(ds, ensemble, data)) if parts else None
    per_ensemble = judge_draw(system, spec["evaluation"], ds, draw, ensemble, where=data, reruns=reruns)
    result = {
        "system": system["name"],
        "draw": int(draw),
        "source_store": str(data),
        "parts": len(parts) or 1,
        "unfolding_time_definition": spec["evaluation"]["unfolding_time"],
        "ensembles": per_ensemble,
        "seconds": time.perf_counter() - t0,
        "provenance": stamp(spec),
    }
    write_json(out, result)
    log.info("wrote %s in %.1f s", out, result["seconds"])


def test_ids(ds, ensemble: int | None, where: str) -> list[int]:
    """The store's test trajectories (of number ``ensemble`` alone where given), in store order."""
    test = np.flatnonzero(split_mask(ds, Split.TEST))
    if ensemble is not None:
        test = test[np.asarray(ds["ensemble"].values)[test] == ensemble]
    if not len(test):
        which = f"test ensemble {ensemble}" if ensemble is not None else "test trajectories"
        raise DamagedFileError(f"{where}: no {which} to rerun")
    return [int(i) for i in ds["trajectory"].values[test]]


def rerun(system: dict, ds, ids: list[int], draw: int, where: str) -> np.ndarray:
    """The extension paths (len(ids), frames) of trajectories ``ids`` rerun from their stored
    starts under noise draw ``draw``, with λ as the store measured it."""
    from ..systems.polymer import new_noise_observables

    calibration = {k: ds.attrs[k] for k in CALIBRATION_ATTRS}
    log.info("draw %d: rerunning %d test trajectories of %s under new noise", draw, len(ids), where)
    return new_noise_observables(system, ids, draw, calibration)["extension"]


def gathered(parts: Sequence[str], ids: list[int]) -> np.ndarray:
    """One ensemble's reruns from its part files, which must hold its trajectories ``ids`` in order."""
    got_ids: list[int] = []
    paths = []
    for path in parts:
        try:
            with np.load(path) as f:
                got_ids.extend(int(i) for i in f["trajectory"])
                paths.append(np.asarray(f["extension"], np.float64))
        except (OSError, ValueError, KeyError) as exc:
            raise DamagedFileError(f"noise-floor part {path} is missing or malformed ({exc}); rerun it") from None
    if got_ids != ids:
        raise DamagedFileError(
            f"noise-floor parts {', '.join(parts)} hold trajectories {got_ids[:3]}… ({len(got_ids)}), not the "
            f"ensemble's {ids[:3]}… ({len(ids)}) in order; delete them and rerun"
        )
    return np.concatenate(paths)


def judge_draw(
    system: dict,
    evaluation: dict,
    ds,
    draw: int,
    ensemble: int | None = None,
    where: str = "the store",
    reruns: np.ndarray | None = None,
) -> list[dict]:
    """Each test ensemble of the bead store ``ds`` (or number ``ensemble`` alone) rerun by the
    simulator of the validated ``system`` under noise draw ``draw`` (0: the store's own noise,
    which must score 0), or given as ``reruns``, and judged against the stored paths as
    evaluate judges a model's."""
    ids = test_ids(ds, ensemble, where)
    rows = ds.indexes["trajectory"].get_indexer(ids)
    t = np.asarray(ds["time"].values)
    truth = ds["extension"].values[rows].astype(np.float64)
    ensembles = np.asarray(ds["ensemble"].values)[rows]
    codes = np.asarray(ds["unfolding"].values)[rows]
    threshold = float(ds.attrs["unfolding_threshold"])
    paths = rerun(system, ds, ids, draw, where) if reruns is None else reruns
    per_ensemble = []
    for e in np.unique(ensembles):
        idx = np.flatnonzero(ensembles == e)
        judged = judge_ensemble(
            paths[idx], truth[idx], t, evaluation["unfolding_time"], threshold, evaluation["unfolding_final_fraction"]
        )
        per_ensemble.append(
            {
                "ensemble": int(e),
                "label": ENSEMBLE_LABELS[Unfolding(int(codes[idx[0]]))],
                "realisations": int(len(idx)),
                **judged,
            }
        )
        log.info(
            "ensemble %d (%s): max mean error %.3f, max std error %.3f, W1/mean %.3f",
            e,
            per_ensemble[-1]["label"],
            judged["extension"]["max_mean_error"],
            judged["extension"]["max_std_error"],
            judged["unfolding_time"]["wasserstein1_relative"] or np.nan,
        )
    return per_ensemble
