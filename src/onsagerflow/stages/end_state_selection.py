"""``training.restarts.select: end_states``: of several fully trained initialisations, the one
whose learned field has a stable fixed point where the train and validation trajectories settle.

On data that settle on several steady states (PRF21's convection at r = 28: four, two of them
reached by a fifth of the trajectories) whether the learned field has a stable fixed point at
each of them depends on the initialisation, and the validation loss does not tell which: on
config/rbc_hour.yaml the seed with the lowest validation loss of eight misses the rarer pair
(docs/rbc.md). Each of ``restarts.count`` initialisations (seeds seed + 1000·i) is trained as
the full run. For each, the learned fixed points are found as evaluate finds them (Newton from
training states and from the data's box), and the end states of the train and validation
trajectories (the means of their last tenth, merged within 5 %, as evaluate groups them) that
at least ``MIN_POPULATION`` of them reach are matched to the nearest stable one. The run is the
candidate whose largest relative distance is smallest (the validation loss breaks ties). The
test split plays no part.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analysis.fixed_points import fixed_points_from_data
from ..analysis.metrics import match_steady_states, steady_states
from ..errors import TrainingFailed
from ..models.dynamics import physical_field
from ..training.restarts import RESTART_SEED_STRIDE
from ..training.trainer import FitResult
from .evaluate_latent import MERGE_TOL, SETTLE_WINDOW, STEADY_TOL

log = logging.getLogger("onsagerflow.training")

MIN_POPULATION = 5  # an end state counts when this many train and val trajectories reach it
FIXED_POINT_STARTS = 128  # Newton starts per candidate


def end_state_score(
    field, ends: np.ndarray, frames: np.ndarray, *, args=None, length_scale: float, field_scale: float, seed: int
) -> tuple[float, list[dict]]:
    """(score, states): the end states of the trajectories ``ends`` (traj, time, n) reached by
    at least MIN_POPULATION of them, each matched to the nearest fixed point of ``field``
    (Newton from ``frames`` and their box), and the largest relative distance |h − x*| / |h|
    from one of them to its nearest stable fixed point (inf where there is none). ValueError
    where no end state is populated enough to judge."""
    fps = fixed_points_from_data(
        field, frames, FIXED_POINT_STARTS, seed, args=args, length_scale=length_scale, field_scale=field_scale
    )
    window = max(2, ends.shape[1] // SETTLE_WINDOW)
    states = match_steady_states(steady_states(ends, window, merge_tol=MERGE_TOL, steady_tol=STEADY_TOL), fps)
    populated = sorted(
        (s for s in states if len(s["trajectories"]) >= MIN_POPULATION), key=lambda s: -len(s["trajectories"])
    )
    if not populated:
        raise ValueError(f"no end state is reached by {MIN_POPULATION} or more train and val trajectories")
    distances = [s["nearest_stable_relative_distance"] for s in populated]
    return max(np.inf if d is None else float(d) for d in distances), populated


@dataclass
class Candidate:
    """One trained initialisation and what judging it needs: its field (in the coordinates of
    ``ends`` and ``frames``) and the scales its Newton solve and distances use; ``keep`` holds
    whatever the caller needs of the run chosen."""

    result: FitResult
    field: Callable
    args: Any
    ends: np.ndarray  # the train and val trajectories (traj, time, n), in the run's coordinates
    frames: np.ndarray  # the training states, the Newton starts
    length_scale: float
    field_scale: float
    keep: Any = None


def judged(result: FitResult, dynamics, norm, ends: np.ndarray, frames: np.ndarray, keep: Any = None) -> Candidate:
    """A trained candidate as the selection judges it: the field of ``dynamics`` in the
    coordinates of ``ends`` (train and val trajectories) and ``frames`` (training states)
    through ``norm``, the normaliser its model works in."""
    field, args = physical_field(dynamics, norm)
    length_scale = float(np.linalg.norm(norm.scale))
    frames = frames.reshape(-1, ends.shape[-1])
    return Candidate(result, field, args, ends, frames, length_scale, length_scale / norm.time_scale, keep)


def select_by_end_states(
    train: Callable[[int], Candidate], *, count: int, seed: int
) -> tuple[int, list[dict], Candidate]:
    """(seed, trials, candidate) of the chosen initialisation (module docstring). ``train(s)``
    trains the full run from initialisation seed ``s`` (TrainingFailed where it diverges);
    candidates have seeds seed + 1000·i, i < count."""
    trials: list[dict[str, Any]] = []
    candidates: list[Candidate | None] = []
    scores: list[tuple[float, float]] = []
    for i in range(count):
        s = seed + i * RESTART_SEED_STRIDE
        try:
            c = train(s)
        except TrainingFailed as exc:
            log.info("restart candidate seed %d diverged: %s", s, exc)
            trials.append({"seed": s, "val_loss": None, "end_state_distance": None, "distances": []})
            candidates.append(None)
            scores.append((np.inf, np.inf))
            continue
        # the Newton starts drawn from the base seed: every candidate is searched alike
        score, states = end_state_score(
            c.field, c.ends, c.frames, args=c.args, length_scale=c.length_scale, field_scale=c.field_scale, seed=seed
        )
        distances = [st["nearest_stable_relative_distance"] for st in states]
        trials.append(
            {
                "seed": s,
                "val_loss": float(c.result.best_val_loss),
                "end_state_distance": score if np.isfinite(score) else None,  # None: no stable point
                "populations": [len(st["trajectories"]) for st in states],
                "distances": distances,
            }
        )
        candidates.append(c)
        scores.append((score, float(c.result.best_val_loss)))
        log.info(
            "restart candidate %d/%d (seed %d): val loss %.4e, end states %s: nearest stable fixed point at %s",
            i + 1,
            count,
            s,
            c.result.best_val_loss,
            trials[-1]["populations"],
            ", ".join("none" if d is None else f"{d:.3f}" for d in distances),
        )
    best = min(range(len(trials)), key=lambda j: scores[j])
    chosen = candidates[best]
    if chosen is None:
        raise TrainingFailed(
            f"every one of the {len(trials)} restart candidates diverged; lower training.learning_rate"
        )
    log.info(
        "restarts: seed %d is the run (largest end-state distance %.3f, val loss %.4e)",
        trials[best]["seed"],
        *scores[best],
    )
    return trials[best]["seed"], trials, chosen
