# Paths and per-stage specs; the science lives in the onsagerflow package.

import shlex

from onsagerflow.config import potential_models, prepare_config, stage_spec_json

prepare_config(config)

RESULTS = config["results"]
SYSTEMS = list(config["systems"])
FIGURES = ["attractor", "error_vs_time", "training_curves"]


wildcard_constraints:
    system="|".join(SYSTEMS),
    model="|".join(config["models"]),


def spec(stage):
    """The config slice a stage depends on, as JSON (a change re-runs the job)."""
    return lambda w: stage_spec_json(config, stage, w.system, getattr(w, "model", None))


def models_of(system):
    return config["systems"][system]["models"]


def figure_files(system):
    stems = FIGURES + [f"potential_{m}" for m in potential_models(config, system)]
    return [
        f"{RESULTS}/figures/{system}/{s}.{e}" for s in stems for e in ("png", "pdf")
    ]


def all_targets():
    targets = [f"{RESULTS}/tables/results.csv", f"{RESULTS}/tables/results.md"]
    for s in SYSTEMS:
        targets += figure_files(s)
    return targets


def named_paths(flag, paths):
    """--flag NAME=PATH for each entry, shell-quoted."""
    return " ".join(f"{flag} {shlex.quote(f'{k}={v}')}" for k, v in paths.items())


def eval_dirs(w):
    return {m: f"{RESULTS}/eval/{w.system}/{m}" for m in models_of(w.system)}


def model_dirs(w):
    return {m: f"{RESULTS}/models/{w.system}/{m}" for m in models_of(w.system)}


def figure_output(stem, caption):
    return report(
        multiext(f"{RESULTS}/figures/{{system}}/{stem}", ".png", ".pdf"),
        caption=f"../report/{caption}.rst",
        category="Figures",
        subcategory="{system}",
        labels={"system": "{system}", "figure": stem},
    )
