"""Where the workflow keeps each result under the config's ``results`` folder.

The Snakefile's input functions and ``onsagerflow <stage> --config FILE`` take their paths
from here, so a stage run by hand reads and writes exactly what the workflow would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .specs import evaluation_spec, parse_run, reduction, run_name, runs_of

DATA_STORE = "trajectories.zarr"
PCA_STORE = "pca.zarr"
LATENT_STORE = "latent.zarr"
PDE_STATES_STORE = "pde_states.zarr"
PDE_ORBITS_STORE = "pde_orbits.zarr"
NEAREST_NEIGHBOUR = "nearest_neighbour"  # the run name of PRF21's Table II baseline, -n<n>
LSTM = "lstm"  # the run name of PRF21's Table III baseline, -n<n>
NOISE_FLOOR = "noise_floor"  # eval/<system>/noise_floor/draw<k>[_ensemble<e>].json: the simulator against itself


def data_store(results: str, system: str) -> str:
    """The canonical store a system's simulation or ingestion writes."""
    return f"{results}/data/{system}/{DATA_STORE}"


def shard_store(results: str, system: str, shard: str) -> str:
    """One shard of a system's store (``shard``: its trajectory range, ``START-STOP``)."""
    return f"{results}/data/{system}/shards/{shard}.zarr"


def calibration_file(results: str, system: str) -> str:
    """What a simulator measured once before its trajectories (the polymer's λ)."""
    return f"{results}/data/{system}/calibration.json"


def calibration_part(results: str, system: str, part: str) -> str:
    return f"{results}/data/{system}/calibration/{part}.npz"


def reduce_dir(results: str, system: str) -> str:
    return f"{results}/reduce/{system}"


def pca_store(results: str, system: str) -> str:
    return f"{reduce_dir(results, system)}/{PCA_STORE}"


def latent_store(results: str, system: str) -> str:
    return f"{reduce_dir(results, system)}/{LATENT_STORE}"


def pde_states_store(results: str, system: str) -> str:
    """The RBC PDE's own steady states (rule pde_states)."""
    return f"{reduce_dir(results, system)}/{PDE_STATES_STORE}"


def pde_orbits_store(results: str, system: str) -> str:
    """The RBC PDE's own periodic orbits (rule pde_orbits)."""
    return f"{reduce_dir(results, system)}/{PDE_ORBITS_STORE}"


def nearest_neighbour_run(n: int) -> str:
    return run_name(NEAREST_NEIGHBOUR, n)


def lstm_run(n: int) -> str:
    return run_name(LSTM, n)


def lstm_enabled(config: Mapping[str, Any], system: str) -> bool:
    s = config["systems"][system]
    return s["type"] == "rbc" and s["lstm_baseline"]["enabled"]


def pde_states_enabled(config: Mapping[str, Any], system: str) -> bool:
    s = config["systems"][system]
    return s["type"] == "rbc" and s["invariant_sets"]["enabled"]


def pde_orbits_enabled(config: Mapping[str, Any], system: str) -> bool:
    s = config["systems"][system]
    return s["type"] == "rbc" and s["invariant_sets"]["periodic_orbits"]


def model_dir(results: str, system: str, run: str) -> str:
    return f"{results}/models/{system}/{run}"


def eval_dir(results: str, system: str, run: str) -> str:
    return f"{results}/eval/{system}/{run}"


def noise_floor_draws(config: Mapping[str, Any], system: str) -> list[int]:
    """The draws of new noise the simulator's test trajectories are rerun under (a simulated
    polymer system's evaluation.noise_floor_draws; none for any other system)."""
    block = config["systems"][system]
    if block["type"] != "polymer" or "source" in block:
        return []
    return list(range(1, evaluation_spec(config, system)["noise_floor_draws"] + 1))


def noise_floor_file(results: str, system: str, draw: int | str, ensemble: int | str | None = None) -> str:
    """One draw's file: of one test ensemble (the workflow's jobs), or of all of them."""
    tail = "" if ensemble is None else f"_ensemble{ensemble}"
    return f"{results}/eval/{system}/{NOISE_FLOOR}/draw{draw}{tail}.json"


def noise_floor_part(results: str, system: str, draw: int | str, ensemble: int | str, part: str) -> str:
    """Part ``part`` (START-STOP of the ensemble's realisations) of a draw whose ensemble is rerun
    in several jobs (jobs.noise_floor_plan): its reruns, judged once every part is done."""
    return f"{results}/eval/{system}/{NOISE_FLOOR}/draw{draw}_ensemble{ensemble}/{part}.npz"


def noise_floor_jobs(config: Mapping[str, Any], system: str) -> list[tuple[int, int]]:
    """(draw, test ensemble) of every file of a system's floor."""
    draws = noise_floor_draws(config, system)
    n = config["systems"][system]["simulation"]["n_ensembles"] if draws else 0
    return [(k, e) for k in draws for e in range(n)]


def noise_floor_files(config: Mapping[str, Any], system: str) -> list[str]:
    return [noise_floor_file(config["results"], system, k, e) for k, e in noise_floor_jobs(config, system)]


def figures_dir(results: str, system: str) -> str:
    return f"{results}/figures/{system}"


def learned_store(config: Mapping[str, Any], system: str) -> str:
    """The store models learn from: the latent PCA store of a reduced system."""
    results = config["results"]
    return latent_store(results, system) if reduction(config, system) else data_store(results, system)


def pretrained_dir(config: Mapping[str, Any], system: str, run: str) -> str | None:
    """The checkpoint an autoencoder run starts from: its pre-trained peer on the same n (None
    for a model without an autoencoder, or one whose dynamics start untrained)."""
    key, n = parse_run(run)
    ae = config["models"][key].get("autoencoder")
    return model_dir(config["results"], system, run_name(ae["pretrained"], n)) if ae and ae["pretrained"] else None


def stage_paths(config: Mapping[str, Any], stage: str, system: str, run: str | None = None) -> dict[str, Any]:
    """The inputs and outputs the workflow's rule for ``stage`` passes, keyed by the
    ``onsagerflow <stage>`` option that takes them (``out_dir`` for ``--out-dir``)."""
    results = config["results"]
    reduced = reduction(config, system) is not None
    runs = runs_of(config, system)
    if stage == "ingest":
        return {"out": data_store(results, system)}
    if stage in ("simulate", "gather", "calibrate"):
        return _simulation_paths(config, stage, system)
    if stage == "reduce":
        return {"data": data_store(results, system), "out_dir": reduce_dir(results, system), "dask": config["dask"]}
    if stage == "pde-states":
        return {"data": data_store(results, system), "out": pde_states_store(results, system)}
    if stage == "noise-floor":  # its out depends on the draw (stages.from_config)
        return {"data": data_store(results, system)}
    if stage == "pde-orbits":
        return {"data": data_store(results, system), "out": pde_orbits_store(results, system)}
    if stage == "evaluate-system":  # every run of the system, one process
        paths = {
            k: v for k, v in stage_paths(config, "evaluate", system, runs[0]).items() if k not in ("model", "out_dir")
        }
        return {
            **paths,
            "model": [f"{r}={model_dir(results, system, r)}" for r in runs],
            "eval": [f"{r}={eval_dir(results, system, r)}" for r in runs],
        }
    if stage in ("figures", "figures-fields"):
        return _figure_paths(results, system, runs, fields=stage == "figures-fields")
    if run is None:
        raise ValueError(f"stage '{stage}' needs a run")
    if stage == "train":
        return {
            "data": learned_store(config, system),
            "out": model_dir(results, system, run),
            "pretrained": pretrained_dir(config, system, run),
            "reducer": pca_store(results, system) if reduced else None,
        }
    if stage == "evaluate":
        paths = {
            "data": learned_store(config, system),
            "model": model_dir(results, system, run),
            "out_dir": eval_dir(results, system, run),
        }
        if reduced:  # decoded-field errors (RBC); the beads and decoded chains (polymer)
            paths["fields"] = data_store(results, system)
            paths["reducer"] = pca_store(results, system)
        if pde_states_enabled(config, system):  # the PDE's steady states beside the learned fixed points
            paths["pde_states"] = pde_states_store(results, system)
        if pde_orbits_enabled(config, system):  # the PDE's periodic orbits beside the learned ones
            paths["pde_orbits"] = pde_orbits_store(results, system)
        return paths
    if stage == "figures-polymer":
        return {
            "run": run,
            "model": model_dir(results, system, run),
            "eval_dir": eval_dir(results, system, run),
            "reducer": pca_store(results, system),
            "latent": latent_store(results, system),
            "out_dir": figures_dir(results, system),
        }
    if stage == "potential":
        return {
            "model": model_dir(results, system, run),
            "eval_dir": eval_dir(results, system, run),
            "out": f"{figures_dir(results, system)}/potential_{run}",
        }
    if stage in ("nearest-neighbour", "lstm-baseline"):
        return {"data": latent_store(results, system), "out": f"{eval_dir(results, system, run)}/metrics.json"}
    if stage == "potential-3d":
        return {
            "model": model_dir(results, system, run),
            "eval_dir": eval_dir(results, system, run),
            "latent": latent_store(results, system),
            "out": f"{figures_dir(results, system)}/potential_3d_{run}",
        }
    raise ValueError(f"unknown stage '{stage}'")


def _simulation_paths(config: Mapping[str, Any], stage: str, system: str) -> dict[str, Any]:
    """The store of one simulate job (or the shards and calibration of the plan the workflow
    makes: onsagerflow.jobs)."""
    from ..jobs import calibration_plan, range_name, shard_plan

    results = config["results"]
    parts = [range_name(r) for r in calibration_plan(config, system)]
    calibration = calibration_file(results, system) if parts else None
    if stage == "simulate":
        return {"out": data_store(results, system), "calibration": calibration}
    if stage == "gather":
        return {
            "out": data_store(results, system),
            "shards": [shard_store(results, system, range_name(r)) for r in shard_plan(config, system)],
        }
    return {"out": calibration, "parts": [calibration_part(results, system, p) for p in parts]}


def _figure_paths(results: str, system: str, runs: list[str], *, fields: bool) -> dict[str, Any]:
    """Inputs and outputs of the figures and figures-fields stages (every run of a system)."""
    paths: dict[str, Any] = {
        "model": [f"{r}={model_dir(results, system, r)}" for r in runs],
        "eval": [f"{r}={eval_dir(results, system, r)}" for r in runs],
        "out_dir": figures_dir(results, system),
    }
    if fields:
        paths.update(
            reducer=pca_store(results, system),
            data=data_store(results, system),
            latent=latent_store(results, system),
        )
    return paths
