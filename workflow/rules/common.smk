# Paths and per-stage specs; the science lives in the onsagerflow package.

import json
import re
import shlex
import shutil
import sys
from pathlib import Path

from snakemake.logging import logger
from snakemake.settings.types import DeploymentMethod

from onsagerflow.data.ingest import resolve_files
from onsagerflow.jobs import calibration_plan, jobs, noise_floor_plan, range_name, shard_plan, summary
from onsagerflow.config import paths
from onsagerflow.config import (
    parse_run,
    potential_models,
    reduction,
    runs_of,
    runtime_flags,
    stage_spec_json,
)

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

# How JAX uses a GPU (config `runtime`), passed to every JAX stage by `command` below, in a
# parameter Snakemake does not track, so editing these settings re-runs nothing. Which jobs
# ask the scheduler for a GPU is a profile's business
# (profiles/slurm: set-resources), not the rules', so a CPU-only local run never waits on one.
RUNTIME = runtime_flags(config)
SYSTEMS = list(config["systems"])
REDUCED = [s for s in SYSTEMS if reduction(config, s)]
INGESTED = [s for s in SYSTEMS if "source" in config["systems"][s]]
SIMULATED = [s for s in SYSTEMS if s not in INGESTED]
STATE_SYSTEMS = [s for s in SYSTEMS if s not in REDUCED]
POLYMER_SYSTEMS = [s for s in SYSTEMS if config["systems"][s]["type"] == "polymer"]
# the simulated polymer systems whose simulator measures the ensemble metrics' floor
NOISE_FLOOR_SYSTEMS = [s for s in POLYMER_SYSTEMS if paths.noise_floor_draws(config, s)]
# RBC systems whose PDE steady states are converged and compared (invariant_sets.enabled)
PDE_STATE_SYSTEMS = [
    s
    for s in SYSTEMS
    if config["systems"][s]["type"] == "rbc"
    and config["systems"][s]["invariant_sets"]["enabled"]
]
# RBC systems whose PDE periodic orbits are converged and compared (invariant_sets.periodic_orbits)
PDE_ORBIT_SYSTEMS = [
    s
    for s in SYSTEMS
    if config["systems"][s]["type"] == "rbc"
    and config["systems"][s]["invariant_sets"]["periodic_orbits"]
]
# RBC systems with PRF21's LSTM baseline (lstm_baseline.enabled)
LSTM_SYSTEMS = [
    s
    for s in SYSTEMS
    if config["systems"][s]["type"] == "rbc"
    and config["systems"][s]["lstm_baseline"]["enabled"]
]
FIELD_SYSTEMS = [s for s in REDUCED if s not in POLYMER_SYSTEMS]
# The order in which a local run starts the jobs that are ready (Snakemake: highest priority
# first): data, then training, then evaluation, then figures and tables (0). A system's
# evaluation waits for every one of its runs' training, and its one evaluate job
# (jobs.evaluate_per_system; the more runs, the longer, so the larger first) is among the longest
# of the default run: trained first, the evaluations are all ready early and the short figure
# jobs fill the cores at the end, rather than a long evaluation at the end with one core idle.
PRIORITY = {"data": 3, "train": 2, "evaluate": 1}
# config jobs.evaluate_per_system: one evaluate job per system (rules evaluate_system_<name>),
# else one per run (rules evaluate, evaluate_ensembles)
EVALUATED_TOGETHER = SYSTEMS if config["jobs"]["evaluate_per_system"] else []
EVALUATED_ALONE = [s for s in SYSTEMS if s not in EVALUATED_TOGETHER]
# A per-system evaluate job takes what the command line or a profile sets for the rule
# `evaluate` (--set-threads, --set-resources: profiles/slurm's GPU and its CPUs), its own run
# time and memory aside, which it computes: a profile cannot name rules that depend on the config.
_SET = workflow.resource_settings
EVALUATE_SET_THREADS = getattr(_SET.overwrite_threads.get("evaluate"), "value", 1)
EVALUATE_SET_RESOURCES = {
    k: getattr(v, "value", v)
    for k, v in _SET.overwrite_resources.get("evaluate", {}).items()
    if k not in ("mem_mb", "runtime")
}

# Job sizes and shard plans (onsagerflow.jobs, config `jobs` and systems.<name>.shards): which
# trajectories each simulate job holds, and the run time and memory every sized job asks for.
# A job over the cap jobs.max_hours ends the run here with one line.
try:
    SHARDS = {s: shard_plan(config, s) for s in SIMULATED}
    CALIBRATION = {s: calibration_plan(config, s) for s in SIMULATED}
    JOB_SIZES = {(j.rule, j.system, j.item): j for j in jobs(config)}
except ConfigError as exc:
    sys.exit(f"config error: {exc}")
WHOLE = [s for s in SIMULATED if len(SHARDS[s]) == 1]
NOISE_FLOOR_WHOLE = [s for s in NOISE_FLOOR_SYSTEMS if len(noise_floor_plan(config, s)) == 1]
NOISE_FLOOR_SPLIT = [s for s in NOISE_FLOOR_SYSTEMS if s not in NOISE_FLOOR_WHOLE]
SHARDED = [s for s in SIMULATED if len(SHARDS[s]) > 1]
CALIBRATED = [s for s in SIMULATED if CALIBRATION[s]]
RANGE = r"[0-9]+-[0-9]+"
if workflow.is_main_process:
    print(f"job sizes: {summary(config, list(JOB_SIZES.values()))}", file=sys.stderr)
POLYMER_FIGURES = ["landscape", "extension", "unfolding_times", "conformations"]
FIGURES = ["attractor", "error_vs_time", "training_curves"]
FIELD_FIGURES = [
    "variance_spectrum",
    "training_curves",
    "latent_trajectories",
    "temperature_fields",
]


def log_file(name):
    """The log of a job: results/logs/<name>.log (name: stage/{system}/..., with wildcards)."""
    return f"{RESULTS}/logs/{name}.log"


def benchmark_file(name):
    """The run-time statistics of a job: results/benchmarks/<name>.tsv."""
    return f"{RESULTS}/benchmarks/{name}.tsv"


def command(stage, jax=True):
    """params.cmd of a rule: `onsagerflow <stage>`, for a JAX stage with the job's threads
    and the config's `runtime` flags. It is a function of the job's threads, which makes it
    a parameter Snakemake derives from the job rather than a rerun trigger: editing
    `runtime` (how JAX uses a GPU; no result depends on it) or moving the checkout under
    `--sdm conda` re-runs nothing."""

    def cmd(wildcards, threads):
        return f"{ONSAGERFLOW} {stage} --threads {threads} {RUNTIME}" if jax else f"{ONSAGERFLOW} {stage}"

    return cmd
def job_size(rule, system, item=None):
    """The run time (minutes) and memory (MB) a sized job asks for (onsagerflow.jobs)."""
    job = JOB_SIZES[(rule, system, item)]
    return {"runtime": job.runtime, "mem_mb": job.mem_mb}


def shard_stores(system):
    return [paths.shard_store(RESULTS, system, range_name(r)) for r in SHARDS[system]]


def calibration_parts(system):
    return [paths.calibration_part(RESULTS, system, range_name(r)) for r in CALIBRATION[system]]


def calibration_input(w):
    """The calibration a system's simulate jobs read (the polymer's measured λ), if it has one."""
    return {"calibration": paths.calibration_file(RESULTS, w.system)} if w.system in CALIBRATED else {}


def calibration_flag(w, input):
    return f"--calibration {shlex.quote(input.calibration)}" if "calibration" in input.keys() else ""


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


# Paths the input functions hand out come from onsagerflow.config.paths, where a stage run
# by hand (onsagerflow <stage> --config FILE) finds them too.


def data_for(system):
    """The store models learn from: the latent PCA store of a reduced system."""
    return paths.learned_store(config, system)


def figure_files(system):
    if system in POLYMER_SYSTEMS:  # the stochastic runs; deterministic baselines are in the tables
        stems = [f"{f}_{r}" for r in stochastic_runs(system) for f in POLYMER_FIGURES]
    elif system in REDUCED:
        stems = [*FIELD_FIGURES, *(f"potential_3d_{r}" for r in potential_3d_runs(system))]
    else:
        stems = [
            *FIGURES,
            *(f"potential_{m}" for m in potential_models(config, system)),
        ]
    return [
        f"{RESULTS}/figures/{system}/{s}.{e}" for s in stems for e in ("png", "pdf")
    ]


def potential_3d_runs(system):
    """Runs of a field system drawn in 3D: OnsagerNet (PCA or PCA-ResNet chart) on n = 3."""
    return [r for r in potential_models(config, system) if parse_run(r)[1] == 3]


def stochastic_runs(system):
    return [
        r
        for r in runs_of(config, system)
        if config["models"][parse_run(r)[0]]["type"] == "s_onsagernet"
    ]


# Every results table: name -> (the `onsagerflow table` flag that selects it, the systems
# whose runs it covers). A table is made only when it covers a system.
TABLES = {
    "results": ("", STATE_SYSTEMS),
    "latent_models": ("--latent", FIELD_SYSTEMS),
    "polymer_models": ("--polymer", POLYMER_SYSTEMS),
    "baselines": ("--baselines", SYSTEMS),
}
TABLE_NAMES = [t for t, (_, systems) in TABLES.items() if systems]


def all_targets():
    targets = [f"{RESULTS}/tables/{t}.{e}" for t in TABLE_NAMES for e in ("csv", "md")]
    targets.append(f"{RESULTS}/config.yaml")
    if STATE_SYSTEMS:
        targets.extend(f"{RESULTS}/figures/accuracy.{e}" for e in ("png", "pdf"))
    for s in SYSTEMS:
        targets.extend(figure_files(s))
    return targets


def named_paths(flag, paths):
    """--flag NAME=PATH for each entry, shell-quoted."""
    return " ".join(f"{flag} {shlex.quote(f'{k}={v}')}" for k, v in paths.items())


def eval_dirs(w):
    return {r: paths.eval_dir(RESULTS, w.system, r) for r in runs_of(config, w.system)}


def model_dirs(w):
    return {r: paths.model_dir(RESULTS, w.system, r) for r in runs_of(config, w.system)}


def all_metrics(systems):
    return [
        f"{paths.eval_dir(RESULTS, s, r)}/metrics.json"
        for s in systems
        for r in runs_of(config, s)
    ]


def lstm_metrics(systems):
    """PRF21's Table III baseline: one metrics file per system and latent size."""
    return [
        f"{paths.eval_dir(RESULTS, s, paths.lstm_run(n))}/metrics.json"
        for s in systems
        for n in reduction(config, s)["latent_dims"]
    ]


def nearest_neighbour_metrics(systems):
    """PRF21's Table II baseline: one metrics file per field system and latent size."""
    return [
        f"{paths.eval_dir(RESULTS, s, paths.nearest_neighbour_run(n))}/metrics.json"
        for s in systems
        for n in reduction(config, s)["latent_dims"]
    ]
# Every output is flagged update(): Snakemake then does not delete a job's previous outputs
# before the job runs, but backs them up (.snakemake/backups) and restores them if it fails.
# Our stages write atomically, so the previous result stays readable in place until the new
# one is complete, and a failed rerun leaves it as it was (docs/failures.md). A run killed
# with -9 leaves its backups behind, over which Snakemake refuses to back up again; the next
# run removes those of the jobs it will run (the working directory's lock keeps any other
# run from the same outputs).
def backup_of(path):
    """Where Snakemake backs up an update() output (its persistence layout)."""
    p = Path(path)
    return Path(workflow.persistence.path) / "backups" / (p.relative_to(p.anchor) if p.is_absolute() else p)


def remove_stale_backups():
    for job in workflow.dag.needrun_jobs():
        for f in job.output:
            stale = backup_of(f)
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale)
            elif stale.exists() or stale.is_symlink():
                stale.unlink()
            else:
                continue
            logger.info(f"removed {stale}, the backup of {f} left by a run that was killed")


onstart:
    remove_stale_backups()


def figure_output(stem, caption):
    return report(
        update(multiext(f"{RESULTS}/figures/{{system}}/{stem}", ".png", ".pdf")),
        caption=f"../report/{caption}.rst",
        category="Figures",
        subcategory="{system}",
        labels={"system": "{system}", "figure": stem},
    )


def train_inputs(w):
    inputs = paths.stage_paths(config, "train", w.system, w.model)
    return {k: inputs[k] for k in ("data", "pretrained", "reducer") if inputs[k]}


def evaluate_inputs(w):
    inputs = paths.stage_paths(config, "evaluate", w.system, w.model)
    inputs.pop("out_dir")
    return inputs


def evaluate_flags(input):
    """The optional inputs of an evaluation as flags: a reduced system's field store and PCA,
    an RBC system's PDE steady states and periodic orbits."""
    return " ".join(
        f"--{key.replace('_', '-')} {shlex.quote(input[key])}"
        for key in ("reducer", "fields", "pde_states", "pde_orbits")
        if key in input.keys()
    )


def evaluation_outputs(system, run, long=True):
    """What evaluating a run writes (system and run may be the rules' wildcards): metrics.json,
    predictions.zarr and, but for a polymer, long_rollouts.zarr."""
    d = paths.eval_dir(RESULTS, system, run)
    outputs = {
        "metrics": update(f"{d}/metrics.json"),
        "predictions": update(directory(f"{d}/predictions.zarr")),
    }
    if long:
        outputs["long"] = update(directory(f"{d}/long_rollouts.zarr"))
    return outputs


def evaluate_system_paths(system):
    """The shared inputs of a system's one evaluate job, and its runs' RUN=DIR checkpoints and
    output folders, as `onsagerflow evaluate-system --config` finds them."""
    return paths.stage_paths(config, "evaluate-system", system)


def evaluate_system_inputs(system):
    """The shared inputs and every run's checkpoint."""
    inputs = dict(evaluate_system_paths(system))
    inputs.pop("eval")
    inputs["model"] = [pair.partition("=")[2] for pair in inputs["model"]]
    return inputs


def evaluate_system_outputs(system):
    """Every run's outputs, grouped by kind."""
    runs = [evaluation_outputs(system, r, system not in POLYMER_SYSTEMS) for r in runs_of(config, system)]
    return {kind: [o[kind] for o in runs] for kind in runs[0]}


def repeated(flag, values):
    """--flag VALUE for each value, shell-quoted."""
    return " ".join(f"{flag} {shlex.quote(v)}" for v in values)
