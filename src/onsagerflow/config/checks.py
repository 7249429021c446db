"""Config checks the JSON schema cannot express, run on the validated config alone.

They run where the config is read — at DAG build (``snakemake -n``), in
``onsagerflow <stage> --config FILE`` and in :func:`onsagerflow.config.load_config` — so a
config that cannot work fails before any job starts, with one line naming the key. What
needs the data (an ingested store's length or shape) is checked by the stage that reads it,
with the same kind of message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..data.split import split_counts
from .errors import ConfigError
from .paths import LSTM, NEAREST_NEIGHBOUR
from .specs import evaluation_spec, training_spec

# Relative slack when one time must be a whole multiple of another (floating-point input
# such as 0.6 / 0.002 = 299.99999999999994 counts as whole).
MULTIPLE_RTOL = 1e-9
XYZ = 3  # components of a polymer bead's position


def whole_multiple(length: float, step: float) -> int | None:
    """length / step when it is a whole number ≥ 1, else None."""
    n = round(length / step)
    return n if n >= 1 and abs(n * step - length) <= MULTIPLE_RTOL * max(length, 1.0) else None


def pair_lag(tau: float, dt: float) -> int | None:
    """Samples between the two states of a pair, or None if tau is no whole multiple of dt."""
    return whole_multiple(tau, dt)


def check_times_within(times: Iterable[float], length: float, key: str, what: str) -> None:
    """Times measured from a trajectory's first sample must lie within its length."""
    beyond = [t for t in times if t > length * (1 + MULTIPLE_RTOL)]
    if beyond:
        raise ConfigError(
            f"{key}: {beyond} lie beyond {what} ({length:g}); times count from each trajectory's first sample"
        )


def check_config(config: Mapping[str, Any]) -> None:
    """Every check that needs only the config; the first problem raises ConfigError."""
    _check_models(config["models"])
    for name, system in config["systems"].items():
        check_system(system, name)
        _check_system_models(config, name)


def _check_models(models: Mapping[str, Any]) -> None:
    for key, spec in models.items():
        if key in (NEAREST_NEIGHBOUR, LSTM):
            raise ConfigError(
                f"models.{key}: '{key}' is the run name of PRF21's {key.replace('_', '-')} baseline, "
                "whose results would share its folders; name the model differently"
            )
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


def _check_system_models(config: Mapping[str, Any], name: str) -> None:
    """The models a system learns: known, and consistent with the system."""
    models, system, where = config["models"], config["systems"][name], f"systems.{name}"
    for m in system["models"]:
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
        if peer is None:  # the dynamics start untrained and learn jointly with the chart (NCS24)
            continue
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
    steps = system["pairs"]["rollout_steps"]
    for m in system["models"]:
        _check_restarts(models[m], training_spec(config, m, name)["restarts"], m)
        weight = training_spec(config, m, name)["rollout_weight"]
        if (steps > 1) != (weight > 0):
            raise ConfigError(
                f"{where}.pairs.rollout_steps is {steps} but the rollout_weight of model '{m}' is "
                f"{weight}: a multi-step rollout loss needs both rollout_steps > 1 and "
                "rollout_weight > 0 (set neither for the PRF21 pair loss alone)"
            )
    if system["type"] != "polymer":  # the polymer's test ensembles are judged on other measures
        _check_evaluation(evaluation_spec(config, name), system, where)


def _check_restarts(model: Mapping[str, Any], restarts: Mapping[str, Any], key: str) -> None:
    """What can choose among a model's initialisations: the fixed points only of a deterministic
    field, and only full runs for a chart on pre-trained dynamics (nothing to screen early)."""
    if restarts["count"] == 1:
        return
    where = f"models.{key}.training.restarts"
    if restarts["select"] == "end_states" and model["type"] == "s_onsagernet":
        raise ConfigError(
            f"{where}.select: end_states judges the fixed points of a deterministic field; "
            "use val_loss for an S-OnsagerNet"
        )
    if restarts["select"] == "val_loss" and model.get("autoencoder"):
        raise ConfigError(
            f"{where}: a run with an autoencoder starts from its pre-trained dynamics, so restarts "
            "can only choose among its full runs: set select to end_states or count to 1"
        )


def check_system(system: Mapping[str, Any], name: str) -> None:
    """The checks of one validated system block that need no other part of the config."""
    where = f"systems.{name}"
    red = system.get("reduction")
    if red is not None and max(red["latent_dims"]) > red["components"] + len(red.get("observables", [])):
        raise ConfigError(
            f"{where}.reduction.latent_dims: {red['latent_dims']} asks for more than the "
            f"{red['components']} components kept (plus any observables)"
        )
    if red is not None and red.get("symmetry", "none") == "mirror":
        _check_mirror(system, red, where)
    fractions = system.get("splits")  # a polymer system counts its splits in `simulation`
    if fractions is not None and not math.isclose(sum(fractions.values()), 1.0, abs_tol=1e-6):
        raise ConfigError(f"{where}.splits: fractions must sum to 1, got {fractions}")
    if fractions is not None and min(fractions["train"], fractions["val"], fractions["test"]) <= 0:
        raise ConfigError(f"{where}.splits: train, val and test all need trajectories, got {fractions}")
    if "source" in system:
        _check_source(system, where)
    else:
        _check_simulation(system, where)


def _check_mirror(system: Mapping[str, Any], red: Mapping[str, Any], where: str) -> None:
    """The mirror x → L/2 − x is the RBC simulator's (systems.rbc.symmetry): its grid, its fields."""
    key = f"{where}.reduction.symmetry"
    if system["type"] != "rbc":
        raise ConfigError(
            f"{key}: 'mirror' is defined for systems of type rbc (the simulator's fields), not {system['type']}"
        )
    if system["simulation"]["nx"] % 2:
        raise ConfigError(f"{key}: the mirror x → L/2 − x maps the grid onto itself only for an even simulation.nx")
    unknown = [f for f in red["fields"] if f not in ("u", "w", "theta")]
    if unknown:
        raise ConfigError(f"{key}: the mirror knows the fields u, w, theta; reduction.fields has {unknown}")


def _check_simulation(system: Mapping[str, Any], where: str) -> None:
    sim = system["simulation"]
    if "n_trajectories" in sim:
        try:
            split_counts(sim["n_trajectories"], system["splits"])
        except ValueError as exc:
            raise ConfigError(f"{where}.simulation.n_trajectories: {exc}") from None
    if "dt" in sim and system["type"] == "rbc":
        if whole_multiple(sim["dt_sample"], sim["dt"]) is None:
            raise ConfigError(
                f"{where}.simulation.dt_sample: {sim['dt_sample']} must be a whole multiple of simulation.dt ({sim['dt']})"
            )
        if sim["t_burn"] > 0 and whole_multiple(sim["t_burn"], sim["dt"]) is None:
            raise ConfigError(
                f"{where}.simulation.t_burn: {sim['t_burn']} must be a whole multiple of simulation.dt ({sim['dt']})"
            )
    if whole_multiple(sim["t_end"], sim["dt_sample"]) is None:
        raise ConfigError(
            f"{where}.simulation.t_end: {sim['t_end']} must be a whole multiple of simulation.dt_sample ({sim['dt_sample']})"
        )
    bursts = "burst_size" in sim and sim["burst_size"] > 1  # RBC bursts: pairs are cut inside them
    if bursts and sim["burst_step"] is None:
        raise ConfigError(f"{where}.simulation.burst_step: bursts of {sim['burst_size']} samples need a step")
    if bursts and (sim["burst_size"] - 1) * sim["burst_step"] >= sim["dt_sample"]:
        raise ConfigError(
            f"{where}.simulation.burst_step: (burst_size − 1)·burst_step must stay below "
            f"simulation.dt_sample ({sim['dt_sample']}), got {sim['burst_step']}"
        )
    key = "burst_step" if bursts else "dt_sample"
    tau, dt = system["pairs"]["tau"], sim[key]
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
            f"{where}.pairs: windows of {span} samples do not fit in trajectories of length t_end = {sim['t_end']}"
        )
    if "init_low" in sim and any(lo >= hi for lo, hi in zip(sim["init_low"], sim["init_high"])):
        raise ConfigError(f"{where}.simulation: init_low must lie below init_high in every component")
    red = system.get("reduction")
    if red is not None:
        _check_components(system, red, where)
    if system["type"] == "polymer":
        _check_polymer(system, where)


def _check_polymer(system: Mapping[str, Any], where: str) -> None:
    """The bead-spring simulator's cross-field rules: the integrator suits the spring and
    its step, the λ fit window is ordered, and a closure without the extension keeps x (the
    evaluation decodes the extension from it)."""
    p, sim = system["parameters"], system["simulation"]
    upper, lower = sim["relaxation_measurement"]["window"]
    if not upper > lower:
        raise ConfigError(
            f"{where}.simulation.relaxation_measurement.window: need [upper, lower] with upper > lower, "
            f"got {[upper, lower]}"
        )
    red = system.get("reduction") or {}
    if "extension" not in red.get("observables", ["extension"]):
        # the evaluation decodes the extension from the chains: every bead's x must be there
        select, why = red.get("select", {}), "without 'extension' among reduction.observables the extension is"
        xyz = select.get("xyz", [0])
        if not xyz or xyz[0] != 0:
            raise ConfigError(
                f"{where}.reduction.select: {why} decoded from the chains' x-coordinates, so xyz must keep "
                f"x (0) first, got {xyz}"
            )
        if "bead" in select:
            raise ConfigError(f"{where}.reduction.select: {why} decoded from every bead, so bead cannot be selected")
        if list(red.get("fields", ["r"])) != ["r"]:
            raise ConfigError(f"{where}.reduction.fields: {why} decoded from the bead positions, so fields must be [r]")
    euler = sim["integrator"] == "euler" or (sim["integrator"] == "auto" and p["spring"] == "hookean")
    if euler and p["spring"] == "fene":
        raise ConfigError(
            f"{where}.simulation.integrator: 'euler' cannot keep FENE bonds below Q0; use 'semi_implicit' (or 'auto')"
        )
    limit = p["zeta"] / (2.0 * p["H"])  # explicit Euler's stability limit for the stiffest spring mode
    if euler and not sim["dt"] < limit:
        raise ConfigError(
            f"{where}.simulation.dt: explicit Euler is unstable for dt ≥ ζ/(2H) = {limit:g} "
            f"(use a smaller dt or integrator 'semi_implicit'), got {sim['dt']}"
        )


def pca_size_limit(system: Mapping[str, Any]) -> int | None:
    """The most PCA components a simulated system's train split allows — min(rows, features)
    of the matrix the PCA factors — where the config alone tells; None where it does not."""
    sim, red = system["simulation"], system["reduction"]
    steps = whole_multiple(sim["t_end"], sim["dt_sample"])
    if steps is None:  # check_system reports that t_end is no whole multiple of dt_sample
        return None
    samples = (steps + 1) * (sim["burst_size"] if system["type"] == "rbc" else 1)  # RBC: bursts of samples
    if system["type"] == "rbc":
        n_train = split_counts(sim["n_trajectories"], system["splits"])["train"]
        features = len(red["fields"]) * (sim["nz"] + 1) * sim["nx"]  # (nz + 1) points in z: walls included
    elif system["type"] == "polymer" and set(red["fields"]) == {"r"}:
        n_train = sim["n_train"]
        beads = len(red["select"].get("bead", range(system["parameters"]["n_beads"])))
        features = beads * len(red["select"].get("xyz", range(XYZ)))
    else:
        return None
    return min(n_train * samples, features)


def _check_components(system: Mapping[str, Any], red: Mapping[str, Any], where: str) -> None:
    limit = pca_size_limit(system)
    if limit is not None and red["components"] > limit:
        raise ConfigError(
            f"{where}.reduction.components: {red['components']} asked, but the train split's "
            f"{'fields' if system['type'] == 'rbc' else 'selected bead coordinates'} allow at most {limit}"
        )


def _check_evaluation(cfg: Mapping[str, Any], system: Mapping[str, Any], where: str) -> None:
    """Evaluation times against a simulated trajectory's length (an ingested store's is
    known only to evaluate, which checks the same)."""
    if cfg["long_discard"] >= cfg["long_t_end"]:
        raise ConfigError(
            f"{where}: evaluation.long_discard ({cfg['long_discard']}) leaves nothing of the long rollouts "
            f"(evaluation.long_t_end = {cfg['long_t_end']}) for their statistics"
        )
    if "simulation" not in system:
        return
    sim = system["simulation"]
    check_times_within(cfg["error_times"], sim["t_end"], f"{where}: evaluation.error_times", "simulation.t_end")
    if system.get("reduction") is not None:
        check_times_within(cfg["horizons"], sim["t_end"], f"{where}: evaluation.horizons", "simulation.t_end")
        burst = sim["burst_size"] if system["type"] == "rbc" else 1
        fine = [k * sim["burst_step"] for k in range(1, burst)]  # horizons inside a burst
        short = [h for h in cfg["horizons"] if h < sim["dt_sample"] / 2 and not any(math.isclose(h, f) for f in fine)]
        if short:
            raise ConfigError(
                f"{where}: evaluation.horizons: {short} are shorter than one sample (simulation.dt_sample = {sim['dt_sample']})"
            )


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
    split = src.get("split")  # optional: the data's own split
    if split is not None and "variable" in split and any(k in split for k in ("train", "val", "test")):
        raise ConfigError(f"{where}.source.split: give a variable or lists of runs, not both")
    time = src["time"]
    given = [k for k in ("name", "dt") if k in time] + (["csv.time_column"] if src["csv"].get("time_column") else [])
    if len(given) > 1:
        raise ConfigError(
            f"{where}.source.time: give at most one of time.name (a time variable), time.dt "
            f"(with time.start) or csv.time_column (none: the file's own, e.g. Dedalus's sim_time); got {given}"
        )
    # the step pairs are formed on: the resample grid's, else a declared uniform step
    step, key = (
        (time["resample"]["dt"], "source.time.resample.dt")
        if "resample" in time
        else (time.get("dt"), "source.time.dt")
    )
    if step is not None and pair_lag(system["pairs"]["tau"], step) is None:
        raise ConfigError(f"{where}.pairs.tau: {system['pairs']['tau']} must be a whole multiple of {key} ({step})")
