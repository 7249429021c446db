"""Fault injection on the whole workflow (the tiny config, one model): two runs at once,
kill -9 during simulate, train and evaluate and then a rerun as Snakemake asks for it, a
corrupt chunk, checkpoint and metrics file, a diverging config, a read-only folder.

Each recovered run must give the metrics of the undisturbed one, number for number, and
leave no temporary behind; each failure must be one line in the stage's log naming the
culprit. One finished run is shared (module fixture) and copied for every test that
damages or reruns it.
"""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from onsagerflow.config import load_config, stage_spec_json
from onsagerflow.training import load_checkpoint

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
SYSTEM, MODEL = "lorenz_tiny", "onsagernet"
STORE = Path("data") / SYSTEM / "trajectories.zarr"
CHECKPOINT = Path("models") / SYSTEM / MODEL
METRICS = Path("eval") / SYSTEM / MODEL / "metrics.json"
TIMEOUT = 1200


def write_config(path: Path, **training) -> Path:
    """tests/configs/tiny.yaml with one model (fewer jobs), and these training settings."""
    cfg = yaml.safe_load(TINY.read_text())
    cfg["systems"][SYSTEM]["models"] = [MODEL]
    cfg["training"].update(training)
    path.write_text(yaml.safe_dump(cfg))
    return path


def command(config: Path, results: Path, *args) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(config)] + [
        "--config",
        f"results={results}",
        *args,
    ]


def snakemake(config, results, *args) -> subprocess.CompletedProcess:
    return subprocess.run(command(config, results, *args), cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)


def start(config, results, *args) -> subprocess.Popen:
    return subprocess.Popen(
        command(config, results, *args),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill_9(proc: subprocess.Popen) -> None:
    """SIGKILL the Snakemake process we started and every job under it, as a crash would."""
    root = psutil.Process(proc.pid)
    family = [root, *root.children(recursive=True)]
    for p in family:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=30)
    proc.communicate()


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = TIMEOUT) -> None:
    t0 = time.monotonic()
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}: {proc.communicate()[0][-3000:]}")
        if time.monotonic() - t0 > timeout:
            kill_9(proc)
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.02)


def rerun_as_asked(config, results) -> subprocess.CompletedProcess:
    """Rerun; where Snakemake asks for --unlock or --rerun-incomplete, do that."""
    flags = []
    for _ in range(3):
        out = snakemake(config, results, *flags)
        text = out.stdout + out.stderr
        if out.returncode == 0:
            return out
        if "--unlock" in text and "cannot be locked" in text:
            assert snakemake(config, results, "--unlock").returncode == 0
        elif "--rerun-incomplete" in text:
            flags = ["--rerun-incomplete"]
        else:
            break
    raise AssertionError(f"the rerun failed: {text[-4000:]}")


def without_clock(d):
    """A metrics dict without what depends on the clock: *_seconds and 'created'."""
    if isinstance(d, dict):
        return {k: without_clock(v) for k, v in d.items() if not k.endswith("seconds") and k != "created"}
    if isinstance(d, list):
        return [without_clock(v) for v in d]
    return d


def temporaries(results: Path) -> list[Path]:
    return [p for p in results.rglob(".*") if ".tmp-" in p.name or ".old-" in p.name]


def backups(results: Path) -> list[Path]:
    where = ROOT / ".snakemake" / "backups" / results.relative_to(results.anchor)
    return [p for p in where.rglob("*") if p.is_file()] if where.exists() else []


def error_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if " ERROR " in line]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished run, made while a second run on the same results folder was refused:
    Snakemake's lock lets only one of two runs at once write the same outputs."""
    base = tmp_path_factory.mktemp("faults")
    config = write_config(base / "config.yaml")
    results = base / "results"
    first = start(config, results)
    locks = ROOT / ".snakemake" / "locks"
    wait_for(
        lambda: any(str(results) in p.read_text() for p in locks.glob("*.output.lock") if p.exists()),
        first,
        "the first run's lock",
    )
    # (without --rerun-incomplete Snakemake already refuses at the first run's running jobs)
    second = snakemake(config, results, "--rerun-incomplete")
    text = second.stdout + second.stderr
    assert second.returncode != 0 and "Directory cannot be locked" in text, text[-3000:]
    out, _ = first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0, out[-4000:]
    assert not temporaries(results) and not backups(results)
    return config, results, without_clock(json.loads((results / METRICS).read_text()))


def copy_of(finished, tmp_path) -> Path:
    results = tmp_path / "results"
    shutil.copytree(finished[1], results, symlinks=True)
    return results


@pytest.mark.parametrize(
    "rule, moment",
    [
        ("simulate", lambda r: any(r.joinpath(STORE).parent.glob(".trajectories.zarr.tmp-*"))),
        ("train", lambda r: "windows, tau" in _read(r / "logs" / "train" / SYSTEM / f"{MODEL}.log")),
        # tiny evaluates a system's runs in one job (jobs.evaluate_per_system)
        (f"evaluate_system_{SYSTEM}", lambda r: any(r.joinpath(METRICS).parent.glob(".predictions.zarr.tmp-*"))),
    ],
)
def test_kill_9_during_a_stage_then_a_rerun_gives_identical_metrics(finished, tmp_path, rule, moment):
    config, _, metrics = finished
    results = copy_of(finished, tmp_path)
    run = start(config, results, "--forcerun", rule)
    wait_for(lambda: moment(results), run, f"the {rule} job at work")
    kill_9(run)
    rerun = rerun_as_asked(config, results)
    assert "removed" in rerun.stdout + rerun.stderr or not backups(results)
    assert without_clock(json.loads((results / METRICS).read_text())) == metrics
    assert not temporaries(results), temporaries(results)
    assert not backups(results), backups(results)


def _read(p: Path) -> str:
    return p.read_text() if p.exists() else ""


def test_a_diverging_rerun_fails_naming_the_setting_and_keeps_the_previous_model(finished, tmp_path):
    _, _, metrics = finished
    results = copy_of(finished, tmp_path)
    before = (results / CHECKPOINT / "params.npz").read_bytes()
    out = snakemake(write_config(tmp_path / "lr100.yaml", learning_rate=100.0), results, "--forcerun", "train")
    assert out.returncode != 0
    log = results / "logs" / "train" / SYSTEM / f"{MODEL}.log"
    (line,) = error_lines(log)
    assert f"train failed: {SYSTEM}/{MODEL}: training diverged" in line
    assert "training.learning_rate (now 100)" in line and "no checkpoint written" in line
    assert "Traceback" not in log.read_text()
    # the failed rerun left the previous good model readable, byte for byte, and its metrics
    assert (results / CHECKPOINT / "params.npz").read_bytes() == before
    load_checkpoint(results / CHECKPOINT)
    assert without_clock(json.loads((results / METRICS).read_text())) == metrics
    assert not temporaries(results) and not backups(results)


def test_a_corrupt_chunk_is_named_in_the_rule_log(finished, tmp_path):
    config, _, _ = finished
    results = copy_of(finished, tmp_path)
    chunk = results / STORE / "u" / "c" / "0" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:20])
    out = snakemake(config, results, "--forcerun", "train")
    assert out.returncode != 0
    log = results / "logs" / "train" / SYSTEM / f"{MODEL}.log"
    (line,) = error_lines(log)
    assert "variable 'u': chunk c/0/0/0 cannot be decoded" in line and f"file {chunk}" in line
    assert "Traceback" not in log.read_text()
    load_checkpoint(results / CHECKPOINT)  # the model it would have replaced is still there


def stage(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "onsagerflow", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def spec(config: Path, stage_name: str) -> str:
    return stage_spec_json(load_config(config), stage_name, SYSTEM, MODEL)


def one_line(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 1, out.stderr[-3000:]
    lines = [line for line in out.stderr.splitlines() if " ERROR " in line]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr[-3000:]
    return lines[0]


def test_a_corrupt_checkpoint_and_metrics_file_are_one_line_each(finished, tmp_path):
    config, results, _ = finished
    model = tmp_path / "model"
    shutil.copytree(results / CHECKPOINT, model)
    params = model / "params.npz"
    params.write_bytes(params.read_bytes()[:100])
    line = one_line(
        stage(
            "evaluate",
            "--threads",
            1,
            "--spec",
            spec(config, "evaluate"),
            "--data",
            results / STORE,
            "--model",
            model,
            "--out-dir",
            tmp_path / "eval",
        )
    )
    assert f"{params}: cannot read the parameters" in line and "truncated or damaged" in line
    assert not (tmp_path / "eval").exists()
    metrics = tmp_path / "metrics.json"
    metrics.write_text((results / METRICS).read_text()[:300])
    line = one_line(stage("table", metrics, "--csv", tmp_path / "t.csv", "--md", tmp_path / "t.md"))
    assert f"metrics file {metrics} is not valid JSON" in line
    assert not (tmp_path / "t.csv").exists()


def test_a_read_only_results_folder_is_one_line_naming_it(finished, tmp_path):
    from test_faults import read_only

    config, results, _ = finished
    folder = tmp_path / "models"
    folder.mkdir()
    undo = read_only(folder)
    if undo is None:
        pytest.skip("cannot make a folder read-only here")
    try:
        out = stage(
            "train", "--threads", 1, "--spec", spec(config, "train"), "--data", results / STORE, "--out", folder / MODEL
        )
    finally:
        undo()
    line = one_line(out)
    assert f"{folder}/.{MODEL}.tmp-" in line and "choose another results folder" in line
    assert list(folder.iterdir()) == []


def test_an_untrainable_data_set_warns_in_the_log_metrics_and_tables(tmp_path, caplog):
    """A random walk (increments of pure noise: nothing to learn beyond dz/dt = 0), ingested,
    trained, evaluated and tabulated by the stages themselves: training ends, with the
    'did not learn' warning in the log, metrics.json, the CSV and the marked Markdown table."""
    import logging

    import numpy as np
    import pandas as pd
    import xarray as xr

    from onsagerflow.config import stage_spec, validate_config
    from onsagerflow.stages import evaluate, ingest, table, train

    rng = np.random.default_rng(0)
    t = 0.002 * np.arange(300)
    walk = np.cumsum(rng.normal(scale=0.05, size=(12, t.size, 3)), axis=1)
    xr.Dataset(
        {"X": (("run", "t", "comp"), walk, {"units": "1", "long_name": "random walk"})}, coords={"t": t}
    ).to_netcdf(tmp_path / "walk.nc", engine="h5netcdf")
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "ingest_tiny.yaml").read_text())
    system = cfg["systems"]["lorenz_mine"]
    system["source"] = {
        "files": str(tmp_path / "walk.nc"),
        "layout": "state",
        "variables": {"u": {"name": "X", "long_name": "random walk"}},
        "dims": {"run": "trajectory", "t": "time", "comp": "state"},
        "time": {"name": "t"},
    }
    system["models"] = ["onsagernet"]
    cfg["training"]["epochs"] = 40
    cfg = validate_config(cfg)
    data, model, out = tmp_path / "walk.zarr", tmp_path / "model", tmp_path / "eval"
    ingest.run(stage_spec(cfg, "ingest", "lorenz_mine"), data)
    with caplog.at_level(logging.WARNING, logger="onsagerflow"):
        train.run(stage_spec(cfg, "train", "lorenz_mine", "onsagernet"), data, model)
    assert any("did not learn: never beat the trivial predictor dz/dt = 0" in r.getMessage() for r in caplog.records)
    evaluate.run(stage_spec(cfg, "evaluate", "lorenz_mine", "onsagernet"), data, model, out)
    metrics = json.loads((out / "metrics.json").read_text())
    (warning,) = metrics["training"]["warnings"]
    assert warning.startswith("never beat the trivial predictor")
    assert metrics["training"]["best_val_loss"] >= metrics["training"]["trivial_val_loss"]
    table.run_baselines([str(out / "metrics.json")], tmp_path / "b.csv", tmp_path / "b.md")
    assert pd.read_csv(tmp_path / "b.csv")[table.WARNINGS].iloc[0] == warning
    assert "| onsagernet ⚠ |" in (tmp_path / "b.md").read_text()
