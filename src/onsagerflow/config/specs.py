"""Run names and the per-stage slices of a validated config.

Each stage receives only the part of the config it depends on (its "spec"): Snakemake
re-runs a job when its spec changes, and the spec's hash is the result's config_sha256.
The workflow's rules and ``onsagerflow <stage> --config FILE`` both take their spec from
:func:`stage_spec`, so a stage run by hand gets exactly what the workflow would pass.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

DATA_KEYS = ("type", "parameters", "simulation", "source", "splits", "seed")
RUN_SEPARATOR = "-n"  # a run of model m on latent size n is "m-n<n>"; config keys have no '-'


def reduction(config: Mapping[str, Any], system: str) -> dict | None:
    """The system's reduction block, or None where models learn the stored state itself."""
    return config["systems"][system].get("reduction")


def run_name(model: str, n: int | None) -> str:
    return model if n is None else f"{model}{RUN_SEPARATOR}{n}"


def parse_run(run: str) -> tuple[str, int | None]:
    model, sep, n = run.partition(RUN_SEPARATOR)
    return (model, int(n)) if sep else (model, None)


def runs_of(config: Mapping[str, Any], system: str) -> list[str]:
    """Every (model, latent size) a system learns, as run names (the {model} wildcard)."""
    red = reduction(config, system)
    models = config["systems"][system]["models"]
    if red is None:
        return list(models)
    return [run_name(m, n) for n in red["latent_dims"] for m in models]


def evaluation_spec(config: Mapping[str, Any], system: str) -> dict:
    """Global evaluation settings with the system's own overrides laid over them."""
    return {**config["evaluation"], **config["systems"][system]["evaluation"]}


SEEDED = re.compile(r".+_s\d+")


def seed_key(key: str, seed: int) -> str:
    return f"{key}_s{seed}"


def expand_seeds(config: dict) -> None:
    """A model with ``seeds: [a, b, ...]`` becomes one model per seed, ``<key>_s<seed>`` with
    training.seed = seed, and every system listing ``<key>`` learns all of them (PRF21 reports
    statistics over several trainings). An autoencoder copy starts from its pre-trained peer's
    copy of the same seed. The seedless spec stays, for match_params_of."""
    models = config["models"]
    copies: dict[str, list[str]] = {}
    for key, spec in list(models.items()):
        seeds = spec.pop("seeds", None)
        if not seeds:
            continue
        copies[key] = []
        for seed in seeds:
            name = seed_key(key, seed)
            if name in models:
                raise ConfigError(f"models.{key}.seeds: the copy '{name}' clashes with a model of that name")
            copy_ = json.loads(json.dumps(spec))
            copy_["training"] = {**copy_["training"], "seed": seed}
            models[name] = copy_
            copies[key].append(name)
    for key, names in copies.items():
        for name in names:
            ae = models[name].get("autoencoder")
            if ae and ae["pretrained"] is not None and ae["pretrained"] in copies:
                seed = models[name]["training"]["seed"]
                peer = seed_key(ae["pretrained"], seed)
                if peer not in copies[ae["pretrained"]]:
                    raise ConfigError(
                        f"models.{key}.seeds: seed {seed} has no pre-trained copy; "
                        f"models.{ae['pretrained']}.seeds must include it"
                    )
                ae["pretrained"] = peer
    for key, spec in models.items():
        ae = spec.get("autoencoder")
        if (
            ae
            and ae["pretrained"] is not None
            and ae["pretrained"] in copies
            and key not in copies
            and not SEEDED.fullmatch(key)
        ):
            raise ConfigError(
                f"models.{key}.autoencoder.pretrained: '{ae['pretrained']}' is trained from "
                f"several seeds; give models.{key} seeds too (the same ones)"
            )
    for system in config["systems"].values():
        system["models"] = [n for m in system["models"] for n in copies.get(m, [m])]


NOISE_FLOOR_KEYS = ("unfolding_time", "unfolding_final_fraction")  # evaluation keys of noise_floor
STEADY_STATE_KEYS = ("enabled", "tolerance", "merge", "eigenvalues")  # invariant_sets keys of pde_states


def data_spec(config: Mapping[str, Any], system: str) -> dict:
    s = config["systems"][system]
    return {"name": system, **{k: copy.deepcopy(s[k]) for k in DATA_KEYS if k in s}}


def model_spec(config: Mapping[str, Any], model: str) -> dict:
    """A model's spec without its training block, plus the spec of a model it matches."""
    spec = {k: v for k, v in config["models"][model].items() if k != "training"}
    peer = spec.get("match_params_of")
    peers = {peer: {k: v for k, v in config["models"][peer].items() if k != "training"}} if peer else {}
    return {"key": model, "spec": spec, "peers": peers}


def training_spec(config: Mapping[str, Any], model: str, system: str | None = None) -> dict:
    """Global training settings, then the system's overrides, then the model's."""
    merged = copy.deepcopy(dict(config["training"]))
    model_layer = config["models"][model].get("training", {})  # a SINDy model has no training block
    layers = ([config["systems"][system]["training"]] if system else []) + [model_layer]
    for layer in layers:
        for k, v in layer.items():
            merged[k] = {**merged[k], **v} if isinstance(v, dict) else v
    return merged


def stage_spec(config: Mapping[str, Any], stage: str, system: str, model: str | None = None) -> dict:
    if stage in ("simulate", "ingest"):
        return data_spec(config, system)
    if stage == "reduce":  # the latent sizes learned later do not change the PCA
        red = reduction(config, system)
        assert red is not None, f"system {system} has no reduction"
        # symmetry: none (the default) is left out, so a run made before the key keeps its spec
        kept = {k: v for k, v in red.items() if k != "latent_dims" and not (k == "symmetry" and v == "none")}
        return {"name": system, "reduction": kept}
    key, n = parse_run(model) if model else (None, None)
    if stage == "train":
        assert key is not None, "the train stage needs a model"
        spec = {
            "system": system,
            "run": model,
            "latent": n,
            "pairs": config["systems"][system]["pairs"],
            "normalization": config["systems"][system]["normalization"],
            "model": model_spec(config, key),
            "training": training_spec(config, key, system),
        }
        ae = config["models"][key].get("autoencoder")
        if ae and ae["pretrained"] is not None:
            spec["pretrained_run"] = run_name(ae["pretrained"], n)
        return spec
    if stage == "evaluate":
        return {
            "system": data_spec(config, system),
            "model": model,
            "latent": n,
            "evaluation": evaluation_spec(config, system),
        }
    if stage == "evaluate_system":  # every run in one process; each run's part is its evaluate spec
        return {
            "system": data_spec(config, system),
            "evaluation": evaluation_spec(config, system),
            "runs": [{"model": r, "latent": parse_run(r)[1]} for r in runs_of(config, system)],
        }
    if stage == "figures":
        return {
            "system": data_spec(config, system),
            "models": runs_of(config, system),
            "evaluation": evaluation_spec(config, system),
        }
    if stage == "potential":
        return {"system": data_spec(config, system), "model": model}
    if stage == "noise_floor":  # the simulator and how unfolding times are read; nothing a model sets
        ev = evaluation_spec(config, system)
        return {"system": data_spec(config, system), "evaluation": {k: ev[k] for k in NOISE_FLOOR_KEYS}}
    if stage == "nearest_neighbour":  # ``model`` is the latent size n
        assert model is not None, "the nearest_neighbour stage needs a latent size"
        return {
            "system": data_spec(config, system),
            "latent": int(model),
            "evaluation": evaluation_spec(config, system),
        }
    if stage == "lstm_baseline":  # ``model`` is the latent size n
        assert model is not None, "the lstm_baseline stage needs a latent size"
        return {
            "system": data_spec(config, system),
            "latent": int(model),
            "evaluation": evaluation_spec(config, system),
            "lstm": config["systems"][system]["lstm_baseline"],
        }
    if stage == "pde_states":  # the steady-state keys only: the orbit keys do not rerun it
        sets = config["systems"][system]["invariant_sets"]
        return {"system": data_spec(config, system), "invariant_sets": {k: sets[k] for k in STEADY_STATE_KEYS}}
    if stage == "pde_orbits":
        return {"system": data_spec(config, system), "invariant_sets": config["systems"][system]["invariant_sets"]}
    raise ValueError(f"unknown stage '{stage}'")


def stage_spec_json(config: Mapping[str, Any], stage: str, system: str, model: str | None = None) -> str:
    return json.dumps(stage_spec(config, stage, system, model), sort_keys=True, separators=(",", ":"))


def potential_models(config: Mapping[str, Any], system: str) -> list[str]:
    """Runs of a system whose model has a potential V to draw."""
    return [r for r in runs_of(config, system) if config["models"][parse_run(r)[0]]["type"] == "onsagernet"]


def runtime_flags(config: Mapping[str, Any]) -> str:
    """The `runtime` block as `onsagerflow <stage>` flags (how JAX uses a GPU; no result depends on it)."""
    rt = config["runtime"]
    flags = f"--xla-preallocate {str(rt['xla_preallocate']).lower()}"
    if rt["xla_mem_fraction"] is not None:
        flags += f" --xla-mem-fraction {rt['xla_mem_fraction']}"
    return flags
