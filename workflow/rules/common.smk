# Paths and per-stage specs; the science lives in the onsagerflow package.

import json
import re
import shlex
from pathlib import Path

from snakemake.settings.types import DeploymentMethod

from onsagerflow.data.ingest import resolve_files
from onsagerflow.config import (
    parse_run,
    potential_models,
    prepare_config,
    reduction,
    run_name,
    runs_of,
    runtime_flags,
    stage_spec_json,
)

prepare_config(config)

RESULTS = config["results"]

# Software environments of the rule groups under `--sdm conda` (envs/*.yaml).
ENVS = {
    "simulation": "../../envs/simulation.yaml",
    "learning": f"../../envs/learning-{config['accelerator']}.yaml",
    "figures": "../../envs/figures.yaml",
}
# The command every rule runs. The conda environments hold the dependencies but not
# onsagerflow itself: there the workflow's own src/ tree runs, so the code a job runs is
# the code of the workflow that scheduled it.
if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    ONSAGERFLOW = (
        f"PYTHONPATH={shlex.quote(str(Path(workflow.basedir) / 'src'))}"
        "${PYTHONPATH:+:$PYTHONPATH} python -m onsagerflow"
    )
else:
    ONSAGERFLOW = "onsagerflow"

# How JAX uses a GPU (config `runtime`), passed to every JAX stage. A Snakefile global in the
# shell commands: Snakemake's code trigger sees the unformatted command, so editing these
# settings re-runs nothing. Which jobs ask the scheduler for a GPU is a profile's business
# (profiles/slurm: set-resources), not the rules', so a CPU-only local run never waits on one.
RUNTIME = runtime_flags(config)
SYSTEMS = list(config["systems"])
REDUCED = [s for s in SYSTEMS if reduction(config, s)]
INGESTED = [s for s in SYSTEMS if "source" in config["systems"][s]]
SIMULATED = [s for s in SYSTEMS if s not in INGESTED]
STATE_SYSTEMS = [s for s in SYSTEMS if s not in REDUCED]
POLYMER_SYSTEMS = [s for s in SYSTEMS if config["systems"][s]["type"] == "polymer"]
# RBC systems whose PDE steady states are converged and compared (invariant_sets.enabled)
PDE_STATE_SYSTEMS = [
    s
    for s in SYSTEMS
    if config["systems"][s]["type"] == "rbc"
    and config["systems"][s]["invariant_sets"]["enabled"]
]
FIELD_SYSTEMS = [s for s in REDUCED if s not in POLYMER_SYSTEMS]
POLYMER_FIGURES = ["landscape", "extension", "unfolding_times", "conformations"]
FIGURES = ["attractor", "error_vs_time", "training_curves"]
FIELD_FIGURES = [
    "variance_spectrum",
    "training_curves",
    "latent_trajectories",
    "temperature_fields",
]


def one_of(names):
    """A wildcard regex matching exactly these names (nothing when there are none)."""
    return "|".join(map(re.escape, names)) or "(?!x)x"


wildcard_constraints:
    system=one_of(SYSTEMS),
    model=f"({one_of(config['models'])})(-n[0-9]+)?",


def spec(stage):
    """The config slice a stage depends on, as JSON (a change re-runs the job)."""
    return lambda w: stage_spec_json(config, stage, w.system, getattr(w, "model", None))


def source_files(w):
    """An ingested system's files (globs expanded): a changed file re-runs the ingest."""
    return [str(p) for p in resolve_files(config["systems"][w.system]["source"])]


def data_for(system):
    """The store models learn from: the latent PCA store of a reduced system."""
    if system in REDUCED:
        return f"{RESULTS}/reduce/{system}/latent.zarr"
    return f"{RESULTS}/data/{system}/trajectories.zarr"


def pretrained_run(system, run):
    """Checkpoint an autoencoder run starts from: its pre-trained peer on the same n."""
    key, n = parse_run(run)
    ae = config["models"][key].get("autoencoder")
    return f"{RESULTS}/models/{system}/{run_name(ae['pretrained'], n)}" if ae else None


def figure_files(system):
    if system in POLYMER_SYSTEMS:  # the stochastic runs; deterministic baselines are in the tables
        stems = [f"{f}_{r}" for r in stochastic_runs(system) for f in POLYMER_FIGURES]
    elif system in REDUCED:
        stems = FIELD_FIGURES
    else:
        stems = [
            *FIGURES,
            *(f"potential_{m}" for m in potential_models(config, system)),
        ]
    return [
        f"{RESULTS}/figures/{system}/{s}.{e}" for s in stems for e in ("png", "pdf")
    ]


def stochastic_runs(system):
    return [
        r
        for r in runs_of(config, system)
        if config["models"][parse_run(r)[0]]["type"] == "s_onsagernet"
    ]


def all_targets():
    tables = [
        name
        for name, systems in (
            ("results", STATE_SYSTEMS),
            ("latent_models", FIELD_SYSTEMS),
            ("polymer_models", POLYMER_SYSTEMS),
        )
        if systems
    ]
    tables.append("baselines")
    targets = [f"{RESULTS}/tables/{t}.{e}" for t in tables for e in ("csv", "md")]
    targets.append(f"{RESULTS}/config.yaml")
    for s in SYSTEMS:
        targets.extend(figure_files(s))
    return targets


def named_paths(flag, paths):
    """--flag NAME=PATH for each entry, shell-quoted."""
    return " ".join(f"{flag} {shlex.quote(f'{k}={v}')}" for k, v in paths.items())


def eval_dirs(w):
    return {r: f"{RESULTS}/eval/{w.system}/{r}" for r in runs_of(config, w.system)}


def model_dirs(w):
    return {r: f"{RESULTS}/models/{w.system}/{r}" for r in runs_of(config, w.system)}


def all_metrics(systems):
    return [
        f"{RESULTS}/eval/{s}/{r}/metrics.json"
        for s in systems
        for r in runs_of(config, s)
    ]


def nearest_neighbour_metrics(systems):
    """PRF21's Table II baseline: one metrics file per field system and latent size."""
    return [
        f"{RESULTS}/eval/{s}/nearest_neighbour-n{n}/metrics.json"
        for s in systems
        for n in reduction(config, s)["latent_dims"]
    ]


def figure_output(stem, caption):
    return report(
        multiext(f"{RESULTS}/figures/{{system}}/{stem}", ".png", ".pdf"),
        caption=f"../report/{caption}.rst",
        category="Figures",
        subcategory="{system}",
        labels={"system": "{system}", "figure": stem},
    )


def train_inputs(w):
    inputs = {"data": data_for(w.system)}
    pre = pretrained_run(w.system, w.model)
    if pre:
        inputs["pretrained"] = pre
    return inputs


def evaluate_inputs(w):
    inputs = {
        "data": data_for(w.system),
        "model": f"{RESULTS}/models/{w.system}/{w.model}",
    }
    if w.system in REDUCED:
        inputs["reducer"] = f"{RESULTS}/reduce/{w.system}/pca.zarr"
        inputs["fields"] = f"{RESULTS}/data/{w.system}/trajectories.zarr"
    if w.system in PDE_STATE_SYSTEMS:
        inputs["pde_states"] = f"{RESULTS}/reduce/{w.system}/pde_states.zarr"
    return inputs
