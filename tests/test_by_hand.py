"""Stages run by hand (`onsagerflow <stage> --config FILE --system NAME [--model RUN]`) get the
spec and the paths the workflow's rules pass them — checked against `snakemake -n -p`."""

import json
import os
import shlex
import subprocess
import sys

import pytest

from onsagerflow.cli import parser
from onsagerflow.config import ConfigError, load_config, stage_spec
from onsagerflow.provenance import config_sha256
from onsagerflow.stages.from_config import NEEDS, complete

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
    if rule.stage in ("train", "evaluate", "potential", "potential-3d", "figures-polymer"):
        argv += ["--model", run]
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
    assert {"train", "evaluate", "config"} <= stages
    for words in commands:
        rule, hand = by_hand(words, config, results)
        assert hand.spec == rule.spec, words[0]
        for option in PATH_OPTIONS:
            if hasattr(rule, option):
                assert getattr(hand, option) == getattr(rule, option), (words[0], option)
        if rule.stage == "reduce":
            assert hand.dask == rule.dask


def test_config_form_errors_name_what_is_missing():
    tiny = os.path.join(ROOT, "tests", "configs", "tiny.yaml")
    cases = [
        (["train", "--config", tiny, "--system", "lorenz_tiny"], "name the run with --model (one of onsagernet, "),
        (["train", "--config", tiny, "--system", "lorenz_r28", "--model", "x"], "--system: 'lorenz_r28' is not a key"),
        (["evaluate", "--config", tiny, "--system", "lorenz_tiny", "--model", "koopman"], "'koopman' is not a run"),
        (["reduce", "--config", tiny, "--system", "lorenz_tiny"], "systems.lorenz_tiny: it has no reduction block"),
        (["ingest", "--config", tiny, "--system", "lorenz_tiny"], "is simulated: use onsagerflow simulate"),
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
