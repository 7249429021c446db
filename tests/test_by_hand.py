"""Stages run by hand (`onsagerflow <stage> --config FILE --system NAME [--model RUN]`) get the
spec and the paths the workflow's rules pass them — checked against `snakemake -n -p`."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from onsagerflow.cli import parser
from onsagerflow.config import ConfigError, load_config, stage_spec
from onsagerflow.config.paths import lstm_run, nearest_neighbour_run
from onsagerflow.provenance import config_sha256
from onsagerflow.stages.from_config import NEEDS, SPEC_STAGE, WITH_RUN, complete

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH_OPTIONS = (
    "data",
    "out",
    "out_dir",
    "model",
    "eval",
    "eval_dir",
    "pretrained",
    "reducer",
    "fields",
    "latent",
    "run",
)


def rule_commands(config, results):
    """Every `onsagerflow <stage>` command of the DAG as Snakemake would run it."""
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "1", "--configfile", config]
        + ["--config", f"results={results}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    commands = []
    for line in (out.stdout + out.stderr).splitlines():
        command = line.partition("Shell command: ")[2]
        words = shlex.split(command) if command.startswith("onsagerflow ") else []
        if words and words[1] in NEEDS:
            commands.append(words[1 : words.index(">")])
    return commands


def by_hand(words, config, results):
    """The same stage from --config: its system and run read off the rule's spec."""
    rule = parser().parse_args(words)
    spec = rule.spec
    system = spec.get("system", spec.get("name"))
    system = system["name"] if isinstance(system, dict) else system
    argv = [rule.stage, "--config", config, "--results", str(results)]
    if rule.stage != "config":
        argv += ["--system", system]
    run = rule.run if rule.stage == "figures-polymer" else spec.get("run") or spec.get("model")
    if rule.stage == "nearest-neighbour":
        run = nearest_neighbour_run(spec["latent"])
    if rule.stage == "lstm-baseline":
        run = lstm_run(spec["latent"])
    if rule.stage in WITH_RUN:
        argv += ["--model", run]
    if rule.stage == "noise-floor":
        argv += ["--draw", str(rule.draw), "--ensemble", str(rule.ensemble)]
    hand = parser().parse_args(argv)
    complete(hand)
    return rule, hand


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny", "rbc_tiny", "polymer_tiny"])
def test_every_stage_by_hand_gets_the_rules_spec_and_paths(tmp_path, name):
    config = os.path.join(ROOT, "tests", "configs", f"{name}.yaml")
    results = tmp_path / "results"
    commands = rule_commands(config, results)
    stages = {words[0] for words in commands}
    # tiny evaluates its system's runs in one job (jobs.evaluate_per_system), the others one per run
    assert {"train", "config", "evaluate-system" if name == "tiny" else "evaluate"} <= stages
    assert ("noise-floor" in stages) == (name == "polymer_tiny")
    for words in commands:
        rule, hand = by_hand(words, config, results)
        assert hand.spec == rule.spec, words[0]
        for option in PATH_OPTIONS:
            if hasattr(rule, option):
                assert getattr(hand, option) == getattr(rule, option), (words[0], option)
        if rule.stage == "reduce":
            assert hand.dask == rule.dask


# Every stage command with a config form: (stage, config, system, run), one each.
BY_HAND = [
    ("simulate", "tiny", "lorenz_tiny", None),
    ("gather", "shards", "lorenz_shards", None),
    ("calibrate", "shards", "polymer_shards", None),
    ("ingest", "ingest_tiny", "lorenz_mine", None),
    ("config", "tiny", None, None),
    ("reduce", "rbc_tiny", "rbc_tiny", None),
    ("train", "tiny", "lorenz_tiny", "onsagernet"),
    ("evaluate", "rbc_tiny", "rbc_tiny", "onsagernet-n3"),
    ("evaluate-system", "rbc_tiny", "rbc_tiny", None),
    ("figures", "tiny", "lorenz_tiny", None),
    ("figures-fields", "rbc_tiny", "rbc_tiny", None),
    ("figures-polymer", "polymer_tiny", "polymer_tiny", "s_onsagernet-n3"),
    ("potential", "tiny", "lorenz_tiny", "onsagernet"),
    ("potential-3d", "rbc_tiny", "rbc_tiny", "onsagernet-n3"),
    ("pde-states", "rbc_tiny", "rbc_tiny", None),
    ("nearest-neighbour", "rbc_tiny", "rbc_tiny", "nearest_neighbour-n3"),
    ("pde-orbits", "rbc_tiny", "rbc_tiny", None),
    ("lstm-baseline", "rbc_tiny", "rbc_tiny", "lstm-n3"),
    ("noise-floor", "polymer_tiny", "polymer_tiny", None),
]
EXTRA = {"noise-floor": ["--draw", "2"]}  # what a stage needs besides the config, system and run


def test_every_stage_command_has_a_config_form():
    assert sorted(NEEDS) == sorted(stage for stage, *_ in BY_HAND)


@pytest.mark.parametrize("stage, name, system, run", BY_HAND, ids=[case[0] for case in BY_HAND])
def test_a_stage_by_hand_gets_its_spec_and_every_path_it_needs(tmp_path, stage, name, system, run):
    """The config form fills the spec the workflow's rule would pass (config.stage_spec) and
    every input and output the spec form requires (NEEDS), all under --results."""
    config_file = os.path.join(ROOT, "tests", "configs", f"{name}.yaml")
    results = str(tmp_path / "results")
    argv = [stage, "--config", config_file, "--results", results]
    argv += ["--system", system] if system else []
    argv += ["--model", run] if run else []
    args = parser().parse_args(argv + EXTRA.get(stage, []))
    complete(args)
    config = load_config(config_file, {"results": results})
    if stage == "config":
        assert args.spec == config
    else:
        spec_run = str(int(run.rpartition("-n")[2])) if stage in ("nearest-neighbour", "lstm-baseline") else run
        assert args.spec == stage_spec(config, SPEC_STAGE.get(stage, stage), system, spec_run)
    for dest in NEEDS[stage]:
        paths = getattr(args, dest)
        assert paths not in (None, []), dest
        for path in paths if isinstance(paths, list) else [paths]:
            path = str(path).partition("=")[2] or path  # RUN=DIR (figures, evaluate-system)
            assert path == run or str(path).startswith(results), (dest, path)


def test_nearest_neighbour_runs_by_hand_on_a_latent_store(tmp_path):
    """`onsagerflow nearest-neighbour --config rbc_tiny.yaml --system rbc_tiny --model
    nearest_neighbour-n3` reads the workflow's latent store and writes the workflow's metrics
    file, whose provenance is the hash of the rule's own spec. The store is made here (a
    latent store as reduce writes it), so no simulation or PCA runs."""
    from onsagerflow.cli import main
    from onsagerflow.config.paths import eval_dir, latent_store
    from onsagerflow.data import SPLIT_CODES, build_dataset, write_store
    from onsagerflow.data.cf import latent_labels
    from onsagerflow.provenance import stamp

    config_file = os.path.join(ROOT, "tests", "configs", "rbc_tiny.yaml")
    results = str(tmp_path / "results")
    config = load_config(config_file, {"results": results})
    rng = np.random.default_rng(0)
    n_traj, k = 8, 6
    time = np.arange(21.0)  # rbc_tiny's coarse grid: dt_sample 1, t_end 20
    split = np.array([SPLIT_CODES[s] for s in ["train"] * 4 + ["val"] * 2 + ["test"] * 2], dtype=np.int8)
    latent = build_dataset(
        system="rbc_tiny",
        data_vars={
            "h": (
                ("trajectory", "time", "state"),
                rng.normal(size=(n_traj, time.size, k)),
                {"units": "1", "long_name": "PCA coordinates"},
            )
        },
        time=time,
        split=split,
        coords={"state": (("state",), latent_labels(k))},
        attrs={"observed": "h", "reduction": "pca", **stamp({})},
    )
    write_store(latent, latent_store(results, "rbc_tiny"), dims=("state",))
    argv = ["nearest-neighbour", "--config", config_file, "--system", "rbc_tiny", "--results", results]
    assert main([*argv, "--model", "nearest_neighbour-n3"]) == 0
    metrics = json.loads(Path(eval_dir(results, "rbc_tiny", "nearest_neighbour-n3"), "metrics.json").read_text())
    assert metrics["model"] == "nearest_neighbour-n3"
    assert metrics["n_test_trajectories"] == 2 and metrics["library_trajectories"] == 4
    assert metrics["provenance"]["config_sha256"] == config_sha256(
        stage_spec(config, "nearest_neighbour", "rbc_tiny", "3")
    )


def test_config_form_errors_name_what_is_missing():
    tiny = os.path.join(ROOT, "tests", "configs", "tiny.yaml")
    cases = [
        (["train", "--config", tiny, "--system", "lorenz_tiny"], "name the run with --model (one of onsagernet, "),
        (["train", "--config", tiny, "--system", "lorenz_r28", "--model", "x"], "--system: 'lorenz_r28' is not a key"),
        (["evaluate", "--config", tiny, "--system", "lorenz_tiny", "--model", "koopman"], "'koopman' is not a run"),
        (["reduce", "--config", tiny, "--system", "lorenz_tiny"], "systems.lorenz_tiny: it has no reduction block"),
        (["ingest", "--config", tiny, "--system", "lorenz_tiny"], "is simulated: use onsagerflow simulate"),
        (
            ["nearest-neighbour", "--config", tiny, "--system", "lorenz_tiny", "--model", "nearest_neighbour-n3"],
            "systems.lorenz_tiny: only a reduced field system has the nearest-neighbour baseline",
        ),
        (["nearest-neighbour", "--spec", "{}", "--data", "x"], "onsagerflow nearest-neighbour: --spec needs --out"),
        (["train", "--spec", "{}", "--data", "x"], "onsagerflow train: --spec needs --out"),
        (["train", "--data", "x"], "give --config FILE --system NAME, or --spec"),
    ]
    for argv, message in cases:
        args = parser().parse_args(argv)
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
            complete(args)


def test_a_bad_config_by_hand_is_one_line_and_exit_code_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("systems:\n  a: {type: lorenz, models: [m]}\nmodels: {m: {type: sindy, degre: 3}}\n")
    out = subprocess.run(
        ["onsagerflow", "train", "--config", str(bad), "--system", "a", "--model", "m"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert out.stderr.strip().endswith(f"train failed: {bad}: models.m.degre: unknown key; did you mean 'degree'?")
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_train_and_evaluate_run_by_hand_where_the_workflow_would(tmp_path):
    """simulate, train and evaluate of the tiny config from the command line, no spec written by
    hand; the results carry the hash of the workflow's own spec for each stage."""
    tiny = os.path.join(ROOT, "tests", "configs", "tiny.yaml")
    results = tmp_path / "results"
    common = ["--config", tiny, "--system", "lorenz_tiny", "--results", str(results)]
    for argv in (["simulate"], ["train", "--model", "onsagernet"], ["evaluate", "--model", "onsagernet"]):
        out = subprocess.run(["onsagerflow", *argv, *common], capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
    config = load_config(tiny, {"results": str(results)})
    model = json.loads((results / "models" / "lorenz_tiny" / "onsagernet" / "model.json").read_text())
    metrics = json.loads((results / "eval" / "lorenz_tiny" / "onsagernet" / "metrics.json").read_text())
    assert model["provenance"]["config_sha256"] == config_sha256(
        stage_spec(config, "train", "lorenz_tiny", "onsagernet")
    )
    assert metrics["provenance"]["config_sha256"] == config_sha256(
        stage_spec(config, "evaluate", "lorenz_tiny", "onsagernet")
    )
    assert metrics["n_test_trajectories"] == 3


def test_evaluate_system_refuses_runs_that_do_not_match_its_spec(tmp_path):
    """Every run in the spec needs its checkpoint (--model RUN=DIR) and output folder
    (--eval RUN=DIR), and no other: a mismatch is one line naming the flag, before any work."""
    from onsagerflow.errors import UserError
    from onsagerflow.stages.evaluate import run_system

    config = load_config(os.path.join(ROOT, "tests", "configs", "tiny.yaml"), {"results": str(tmp_path)})
    spec = stage_spec(config, "evaluate_system", "lorenz_tiny")
    runs = [r["model"] for r in spec["runs"]]
    assert runs == ["onsagernet", "mlp_ode", "sindy"]
    dirs = {r: str(tmp_path / r) for r in runs}
    for models, evals, flag in ((dirs, {**dirs, "koopman": "x"}, "--eval"), ({"onsagernet": "x"}, dirs, "--model")):
        with pytest.raises(UserError, match=flag):
            run_system(spec, str(tmp_path / "missing.zarr"), models, evals)
    # each run's part of the spec is that run's own evaluate spec
    shared = {k: v for k, v in spec.items() if k != "runs"}
    for r in spec["runs"]:
        assert {**shared, **r} == stage_spec(config, "evaluate", "lorenz_tiny", r["model"])
