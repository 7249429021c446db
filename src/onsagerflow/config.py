"""Config checks the JSON schema cannot express, and the per-stage slices of the config.

Each stage receives only the part of the config it depends on (its "spec"): Snakemake
re-runs a job when its spec changes, and the spec's hash is the result's config_sha256.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

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
    return {**config["evaluation"], **config["systems"][system].get("evaluation", {})}


class ConfigError(ValueError):
    """A config that passes the schema but cannot work; the message names the key."""


def pair_lag(tau: float, dt: float) -> int | None:
    """Samples between the two states of a pair, or None if tau is no whole multiple of dt."""
    lag = round(tau / dt)
    return lag if lag >= 1 and abs(lag * dt - tau) <= 1e-9 * max(tau, 1.0) else None


def prepare_config(config: dict) -> dict:
    """Unshare defaults, then check; run once on the validated config, in place.

    snakemake.utils.validate inserts one object as the default of every place it
    fills, so an edit to one system's defaults would show up in all of them.
    """
    fresh = json.loads(json.dumps(config))
    config.clear()
    config.update(fresh)
    expand_seeds(config)
    check_config(config)
    return config


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
            copy = json.loads(json.dumps(spec))
            copy["training"] = {**copy.get("training", {}), "seed": seed}
            models[name] = copy
            copies[key].append(name)
    for key, names in copies.items():
        for name in names:
            ae = models[name].get("autoencoder")
            if ae and ae["pretrained"] in copies:
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
        if ae and ae["pretrained"] in copies and key not in copies and not SEEDED.fullmatch(key):
            raise ConfigError(
                f"models.{key}.autoencoder.pretrained: '{ae['pretrained']}' is trained from "
                f"several seeds; give models.{key} seeds too (the same ones)"
            )
    for system in config["systems"].values():
        if "models" in system:
            system["models"] = [n for m in system["models"] for n in copies.get(m, [m])]


def check_config(config: Mapping[str, Any]) -> None:
    models = config["models"]
    for key, spec in models.items():
        peer = spec.get("match_params_of")
        if peer is not None:
            if peer not in models:
                raise ConfigError(
                    f"models.{key}.match_params_of: '{peer}' is not a key of 'models' (known: {sorted(models)})"
                )
            if models[peer]["type"] == "sindy":
                raise ConfigError(
                    f"models.{key}.match_params_of: '{peer}' is a SINDy model, whose count "
                    "of non-zero coefficients is known only after fitting"
                )
            if models[peer].get("match_params_of"):
                raise ConfigError(
                    f"models.{key}.match_params_of: '{peer}' itself matches another "
                    "model; point at a model with its own width"
                )
        if spec["type"] == "sindy" and spec["smoothing_window"] % 2 == 0:
            raise ConfigError(
                f"models.{key}.smoothing_window: the Savitzky–Golay window must be odd, got {spec['smoothing_window']}"
            )
        if spec["type"] == "mlp_ode" and not spec.get("width") and not peer:
            raise ConfigError(f"models.{key}: an mlp_ode needs 'width' or 'match_params_of'")
    for name, system in config["systems"].items():
        where = f"systems.{name}"
        for m in system.get("models", []):
            if m not in models:
                raise ConfigError(f"{where}.models: '{m}' is not a key of 'models' (known: {sorted(models)})")
            ae = models[m].get("autoencoder")
            if ae is None:
                continue
            if system.get("reduction") is None:
                raise ConfigError(
                    f"models.{m}.autoencoder: system '{name}' has no reduction block, so "
                    "there is no PCA space for an autoencoder to work in"
                )
            peer = ae["pretrained"]
            if peer not in system["models"]:
                raise ConfigError(
                    f"models.{m}.autoencoder.pretrained: '{peer}' is not among {where}.models {system['models']}"
                )
            strip = lambda spec: {k: v for k, v in spec.items() if k not in ("training", "autoencoder")}
            if models[peer].get("autoencoder") or strip(models[peer]) != strip(models[m]):
                raise ConfigError(
                    f"models.{m}.autoencoder.pretrained: '{peer}' must be an OnsagerNet without "
                    f"an autoencoder and with the same architecture as '{m}'"
                )
        red = system.get("reduction")
        if red is not None and max(red["latent_dims"]) > red["components"] + len(red.get("observables", [])):
            raise ConfigError(
                f"{where}.reduction.latent_dims: {red['latent_dims']} asks for more than the "
                f"{red['components']} components kept (plus any observables)"
            )
        fractions = system.get("splits")  # a polymer system counts its splits in `simulation`
        if fractions is not None and not np.isclose(sum(fractions.values()), 1.0, atol=1e-6):
            raise ConfigError(f"{where}.splits: fractions must sum to 1, got {fractions}")
        if fractions is not None and min(fractions["train"], fractions["val"], fractions["test"]) <= 0:
            raise ConfigError(f"{where}.splits: train, val and test all need trajectories, got {fractions}")
        steps = system["pairs"]["rollout_steps"]
        for m in system.get("models", []):
            weight = training_spec(config, m, name)["rollout_weight"]
            if (steps > 1) != (weight > 0):
                raise ConfigError(
                    f"{where}.pairs.rollout_steps is {steps} but the rollout_weight of model '{m}' is "
                    f"{weight}: a multi-step rollout loss needs both rollout_steps > 1 and "
                    "rollout_weight > 0 (set neither for the PRF21 pair loss alone)"
                )
        if "source" in system:
            _check_source(system, where)
        sim = system.get("simulation", {})
        bursts = "burst_size" in sim and sim["burst_size"] > 1  # pairs are cut inside bursts
        if bursts:
            if sim["burst_step"] is None:
                raise ConfigError(f"{where}.simulation.burst_step: bursts of {sim['burst_size']} samples need a step")
            tau, dt, key = system["pairs"]["tau"], sim["burst_step"], "burst_step"
        elif "dt_sample" in sim:
            tau, dt, key = system["pairs"]["tau"], sim["dt_sample"], "dt_sample"
        if bursts or "dt_sample" in sim:
            lag = pair_lag(tau, dt)
            if lag is None:
                raise ConfigError(f"{where}.pairs.tau: {tau} must be a whole multiple of simulation.{key} ({dt})")
            span = lag * system["pairs"]["rollout_steps"]
            if bursts and span >= sim["burst_size"]:
                raise ConfigError(
                    f"{where}.pairs: windows of {span} fine steps do not fit in bursts of "
                    f"simulation.burst_size = {sim['burst_size']} samples"
                )
            if span * dt >= sim["t_end"]:
                raise ConfigError(
                    f"{where}.pairs: windows of {span} samples do not fit in "
                    f"trajectories of length t_end = {sim['t_end']}"
                )
        if "init_low" in sim and np.any(np.asarray(sim["init_low"]) >= np.asarray(sim["init_high"])):
            raise ConfigError(f"{where}.simulation: init_low must lie below init_high in every component")


def _check_source(system: Mapping[str, Any], where: str) -> None:
    """An ingested system: the layout decides the branch downstream (state: models learn the
    stored state; field: a PCA reduction first), and every name it needs must be mapped."""
    src = system["source"]
    layout, names = src["layout"], sorted(src["variables"])
    red = system.get("reduction")
    if layout == "chain":
        raise ConfigError(
            f"{where}.source.layout: 'chain' data can be ingested (onsagerflow ingest) but the "
            "workflow's chain branch (stochastic models judged on held-out ensembles) needs "
            "the polymer simulator's ensembles; use layout 'field' or 'state'"
        )
    if layout == "field" and red is None:
        raise ConfigError(
            f"{where}.reduction: a 'field' layout needs a reduction block (a PCA of the fields models learn in)"
        )
    if layout == "state" and red is not None:
        raise ConfigError(
            f"{where}.reduction: a 'state' layout learns the stored state itself; drop the "
            "reduction block, or use layout 'field'"
        )
    observed = src.get("observed")
    if observed is not None and observed not in names:
        raise ConfigError(f"{where}.source.observed: '{observed}' is not among source.variables {names}")
    if observed is None and len(names) > 1 and layout == "state":
        raise ConfigError(f"{where}.source.observed: name the variable models learn, one of {names}")
    if red is not None:
        unknown = [f for f in red["fields"] if f not in names]
        if unknown:
            raise ConfigError(f"{where}.reduction.fields: {unknown} are not among source.variables {names}")
        if red.get("observables"):
            raise ConfigError(f"{where}.reduction.observables: not supported for ingested data")
    time = src.get("time", {})
    given = [k for k in ("name", "dt") if k in time] + (["csv.time_column"] if src["csv"].get("time_column") else [])
    if len(given) != 1:
        raise ConfigError(
            f"{where}.source.time: give exactly one of time.name (a time variable), time.dt "
            f"(with time.start) or csv.time_column; got {given or 'none'}"
        )
    if "dt" in time and pair_lag(system["pairs"]["tau"], time["dt"]) is None:
        raise ConfigError(
            f"{where}.pairs.tau: {system['pairs']['tau']} must be a whole multiple of source.time.dt ({time['dt']})"
        )


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
    layers = ([config["systems"][system].get("training", {})] if system else []) + [
        config["models"][model].get("training", {})
    ]
    for layer in layers:
        for k, v in layer.items():
            merged[k] = {**merged[k], **v} if isinstance(v, dict) else v
    return merged


def stage_spec(config: Mapping[str, Any], stage: str, system: str, model: str | None = None) -> dict:
    if stage in ("simulate", "ingest"):
        return data_spec(config, system)
    if stage == "reduce":  # the latent sizes learned later do not change the PCA
        return {"name": system, "reduction": {k: v for k, v in reduction(config, system).items() if k != "latent_dims"}}
    key, n = parse_run(model) if model else (None, None)
    if stage == "train":
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
        if ae:
            spec["pretrained_run"] = run_name(ae["pretrained"], n)
        return spec
    if stage == "evaluate":
        return {
            "system": data_spec(config, system),
            "model": model,
            "latent": n,
            "evaluation": evaluation_spec(config, system),
        }
    if stage == "figures":
        return {
            "system": data_spec(config, system),
            "models": runs_of(config, system),
            "evaluation": evaluation_spec(config, system),
        }
    if stage == "potential":
        return {"system": data_spec(config, system), "model": model}
    if stage == "nearest_neighbour":  # ``model`` is the latent size n
        return {
            "system": data_spec(config, system),
            "latent": int(model),
            "evaluation": evaluation_spec(config, system),
        }
    if stage == "pde_states":
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
