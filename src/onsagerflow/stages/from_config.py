"""A stage run by hand: ``onsagerflow <stage> --config FILE --system NAME [--model RUN]``.

The config is read and checked as the workflow reads it, the stage gets the spec the
workflow's rule would pass (:func:`onsagerflow.config.stage_spec`) and its inputs and
outputs default to the workflow's paths under ``results``
(:func:`onsagerflow.config.paths.stage_paths`); a path given on the command line wins.
The rules themselves pass ``--spec`` and every path.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import ConfigError, load_config, parse_run, potential_models, runs_of, stage_spec
from ..config.paths import (
    calibration_part,
    lstm_run,
    nearest_neighbour_run,
    noise_floor_file,
    noise_floor_part,
    shard_store,
    stage_paths,
)
from ..jobs.shards import range_name

# What a stage needs besides its spec when the spec is given directly (the rules' form).
NEEDS = {
    "simulate": ("out",),
    "gather": ("out", "shards"),
    "calibrate": ("out",),
    "ingest": ("out",),
    "config": ("out",),
    "reduce": ("data", "out_dir"),
    "train": ("data", "out"),
    "evaluate": ("data", "model", "out_dir"),
    "evaluate-system": ("data", "model", "eval"),
    "figures": ("out_dir",),
    "figures-fields": ("reducer", "data", "latent", "out_dir"),
    "figures-polymer": ("run", "model", "eval_dir", "reducer", "latent", "out_dir"),
    "potential": ("model", "eval_dir", "out"),
    "potential-3d": ("model", "eval_dir", "latent", "out"),
    "pde-states": ("data", "out"),
    "pde-orbits": ("data", "out"),
    "nearest-neighbour": ("data", "out"),
    "lstm-baseline": ("data", "out"),
    "noise-floor": ("data", "out"),
}
SPEC_STAGE = {
    "evaluate-system": "evaluate_system",
    "figures-fields": "figures",
    "figures-polymer": "figures",
    "gather": "simulate",
    "calibrate": "simulate",
    "pde-states": "pde_states",
    "pde-orbits": "pde_orbits",
    "nearest-neighbour": "nearest_neighbour",
    "lstm-baseline": "lstm_baseline",
    "potential-3d": "potential",
    "noise-floor": "noise_floor",
}  # which stage_spec a command takes
WITH_RUN = (
    "train",
    "evaluate",
    "potential",
    "potential-3d",
    "figures-polymer",
    "nearest-neighbour",
    "lstm-baseline",
)  # --model RUN in the config form


def flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def complete(args: argparse.Namespace) -> None:
    """Fill ``args`` in place: check the spec form, or turn the config form into it."""
    stage = args.stage
    if args.config is None:
        if args.spec is None:
            raise ConfigError(f"onsagerflow {stage}: give --config FILE --system NAME, or --spec as the workflow does")
        for dest in ("system", "results"):
            if getattr(args, dest, None) is not None:
                raise ConfigError(f"onsagerflow {stage}: {flag(dest)} goes with --config FILE, not --spec")
        missing = [flag(d) for d in NEEDS[stage] if getattr(args, d, None) in (None, [])]
        if missing:
            raise ConfigError(f"onsagerflow {stage}: --spec needs {' and '.join(missing)}")
        return
    if args.spec is not None:
        raise ConfigError(f"onsagerflow {stage}: give --config FILE or --spec, not both")
    config = load_config(args.config, {"results": args.results} if args.results else None)
    if stage == "config":
        args.spec = config
        args.out = args.out or f"{config['results']}/config.yaml"
        return
    system, run = _system_and_run(args, config)
    # the baselines' specs take their latent size, as the rules' {n} wildcard
    spec_run = str(parse_run(run)[1]) if stage in ("nearest-neighbour", "lstm-baseline") and run is not None else run
    args.spec = stage_spec(config, SPEC_STAGE.get(stage, stage), system, spec_run)
    paths = stage_paths(config, stage, system, run)
    if stage == "simulate" and args.trajectories is not None:  # one shard: its own store
        paths["out"] = shard_store(config["results"], system, range_name(args.trajectories))
    if stage == "simulate" and paths["calibration"] and not Path(paths["calibration"]).exists():
        paths["calibration"] = None  # not calibrated yet: the simulator measures it itself (the same value)
    if stage == "noise-floor":  # one draw (of one ensemble, or a part of it): its own file
        results = config["results"]
        if args.part is not None and args.ensemble is not None:
            paths["out"] = noise_floor_part(results, system, args.draw, args.ensemble, range_name(args.part))
        else:
            paths["out"] = noise_floor_file(results, system, args.draw, args.ensemble)
    if stage == "calibrate" and args.part is not None:  # one part of the calibration
        if paths["out"] is None:
            raise ConfigError(f"onsagerflow calibrate: systems.{system} needs no calibration")
        paths = {"out": calibration_part(config["results"], system, range_name(args.part))}
    for dest, value in paths.items():
        if getattr(args, dest, None) in (None, []):
            setattr(args, dest, value)
    runtime = config["runtime"]
    if getattr(args, "xla_preallocate", None) is None and hasattr(args, "xla_preallocate"):
        args.xla_preallocate = runtime["xla_preallocate"]
    if getattr(args, "xla_mem_fraction", None) is None and hasattr(args, "xla_mem_fraction"):
        args.xla_mem_fraction = runtime["xla_mem_fraction"]


def _system_and_run(args: argparse.Namespace, config: dict) -> tuple[str, str | None]:
    """The system (and run) named on the command line, checked against what the workflow
    would run for this stage."""
    stage, systems, where = args.stage, config["systems"], args.config
    if args.system is None:
        raise ConfigError(f"onsagerflow {stage}: --config needs --system (one of {', '.join(systems)})")
    if args.system not in systems:
        raise ConfigError(f"--system: '{args.system}' is not a key of systems in {where} (known: {', '.join(systems)})")
    system, block = args.system, systems[args.system]
    reduced, polymer = block.get("reduction") is not None, block["type"] == "polymer"
    wrong = {
        "simulate": "source" in block and "its data are ingested: use onsagerflow ingest",
        "gather": "source" in block and "its data are ingested: use onsagerflow ingest",
        "calibrate": "source" in block and "its data are ingested: use onsagerflow ingest",
        "ingest": "source" not in block and f"type '{block['type']}' is simulated: use onsagerflow simulate",
        "reduce": not reduced and "it has no reduction block",
        "figures": reduced and f"use onsagerflow {'figures-polymer' if polymer else 'figures-fields'}",
        "figures-fields": (not reduced or polymer) and "its figures are drawn by another command",
        "figures-polymer": not polymer and "it is not a polymer system",
        "potential": reduced and "its potentials are drawn with its other figures",
        "pde-states": block["type"] != "rbc" and "only the RBC PDE's steady states are converged",
        "pde-orbits": block["type"] != "rbc" and "only the RBC PDE's periodic orbits are converged",
        "nearest-neighbour": (not reduced or polymer)
        and "only a reduced field system has the nearest-neighbour baseline",
        "lstm-baseline": (block["type"] != "rbc" or not block["lstm_baseline"]["enabled"])
        and "the LSTM baseline runs for an RBC system with lstm_baseline.enabled",
        "noise-floor": (not polymer or "source" in block)
        and "only a simulated polymer system's simulator reruns its test ensembles",
        "potential-3d": (not reduced or polymer)
        and "only a reduced field system's runs on 3 coordinates are drawn in 3D",
    }.get(stage)
    if wrong:
        raise ConfigError(f"onsagerflow {stage}: systems.{system}: {wrong}")
    if stage not in WITH_RUN:
        if getattr(args, "model", None) not in (None, []):
            raise ConfigError(f"onsagerflow {stage} --config: works on every run of the system; drop --model")
        return system, None
    runs = runs_of(config, system)
    if stage == "potential":
        runs = potential_models(config, system)
    elif stage == "potential-3d":
        runs = [r for r in potential_models(config, system) if parse_run(r)[1] == 3]
    elif stage == "figures-polymer":
        runs = [r for r in runs if config["models"][parse_run(r)[0]]["type"] == "s_onsagernet"]
    elif stage == "nearest-neighbour":
        runs = [nearest_neighbour_run(n) for n in block["reduction"]["latent_dims"]]
    elif stage == "lstm-baseline":
        runs = [lstm_run(n) for n in block["reduction"]["latent_dims"]]
    run = args.model
    if run is None:
        raise ConfigError(f"onsagerflow {stage} --config: name the run with --model (one of {', '.join(runs)})")
    if run not in runs:
        raise ConfigError(f"--model: '{run}' is not a run of systems.{system} for {stage} (runs: {', '.join(runs)})")
    args.model = None  # in the config form --model names the run; the checkpoint path comes from the config
    return system, run
