"""The learned fixed points of trained latent runs against the states the data settle on, as
the evaluate stage finds and matches them (its fixed-point seed, every trajectory under the
authors' protocol), without its rollouts: the screen behind docs/rbc.md's seed tables.

    PYTHONPATH=src python scripts/rbc_fixed_point_screen.py [--splits train,val] CONFIG SYSTEM DATA RUN_DIR ...

DATA is the latent store; each RUN_DIR a checkpoint of a run named as in the config (its
folder name, e.g. onsagernet-n3, or onsagernet-n3-anything). Per run: best epoch / epochs run,
best validation loss, and each end state reached by at least MIN_POPULATION trajectories
(largest first) with the relative distance to the nearest stable learned fixed point, a star
where the nearest learned fixed point is not stable. ``--splits`` keeps the end states of those
splits' trajectories only (train,val: what a choice among runs sees without the test split);
by default every trajectory's, as the authors' protocol.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from onsagerflow.runtime import configure

MIN_POPULATION = 5


def screen(config: dict, system: str, data: str, run_dir: Path, splits: list[str] | None = None) -> str:
    from onsagerflow.analysis.metrics import match_steady_states, steady_states
    from onsagerflow.config import stage_spec
    from onsagerflow.stages import evaluate
    from onsagerflow.stages.evaluate_latent import MERGE_TOL, SETTLE_WINDOW, STEADY_TOL

    run = "-".join(run_dir.name.split("-")[:2])  # onsagernet-n3[-tag]
    spec = stage_spec(config, "evaluate", system, run)
    ctx = evaluate.load_context(spec, data, str(run_dir))
    test = evaluate.test_rollouts(ctx)
    fp_seed, _ = np.random.SeedSequence([ctx.cfg["seed"], evaluate.STREAM_TAG]).generate_state(2)
    fps, _ = evaluate.fixed_points(ctx, test, int(fp_seed))
    h = evaluate._every_trajectory(ctx)[:, test.coarse]
    if splits:
        from onsagerflow.data import split_mask

        h = h[np.any([split_mask(ctx.ds, s) for s in splits], axis=0)]
    window = max(2, len(test.coarse) // SETTLE_WINDOW)
    states = match_steady_states(steady_states(h, window, merge_tol=MERGE_TOL, steady_tol=STEADY_TOL), fps)
    states = sorted(
        (s for s in states if len(s["trajectories"]) >= MIN_POPULATION), key=lambda s: -len(s["trajectories"])
    )
    meta = ctx.run.meta
    cells = []
    for s in states:
        d = s["nearest_stable_relative_distance"]
        kind = s["fixed_point_kind"] or "none"
        cell = "none" if d is None else f"{d:.3f}"
        if not kind.startswith("stable"):  # the nearest is another kind: say which, and how near
            cell += (
                f"* (nearest: {kind} at {s['relative_distance']:.3f})" if s["relative_distance"] is not None else "*"
            )
        cells.append(cell)
    return (
        f"{run_dir.name}: best epoch {meta['best_epoch']} / {meta['epochs_run']}, val loss {meta['best_val_loss']:.3f}, "
        f"populations {[len(s['trajectories']) for s in states]}, distances {', '.join(cells)}"
    )


def main(argv: list[str]) -> None:
    configure(threads=1)  # float64, as the evaluate stage runs; before JAX is imported
    from onsagerflow.config import load_config

    splits = None
    if argv and argv[0] == "--splits":
        splits, argv = argv[1].split(","), argv[2:]
    config_file, system, data, *runs = argv
    config = load_config(config_file)
    for r in runs:
        print(screen(config, system, data, Path(r), splits), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
