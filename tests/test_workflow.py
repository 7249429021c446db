"""The whole DAG on a tiny config, through Snakemake's CLI, and the CLI's own errors."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from onsagerflow.data import open_store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "configs", "tiny.yaml")


def snakemake(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", TINY, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("tiny") / "results"
    t0 = time.perf_counter()
    out = snakemake("--config", f"results={results}")
    seconds = time.perf_counter() - t0
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return results, seconds


@pytest.mark.slow
def test_tiny_config_runs_end_to_end_in_under_two_minutes(tiny_run):
    results, seconds = tiny_run
    assert seconds < 120, f"tiny DAG took {seconds:.0f} s"
    for stem in ("attractor", "error_vs_time", "training_curves", "potential_onsagernet"):
        for ext in ("png", "pdf"):
            assert (results / "figures" / "lorenz_tiny" / f"{stem}.{ext}").stat().st_size > 1000
    table = pd.read_csv(results / "tables" / "results.csv")
    assert sorted(table["model"]) == ["mlp_ode", "onsagernet"]
    assert (results / "tables" / "results.md").read_text().startswith("| system | model |")


@pytest.mark.slow
def test_evaluation_uses_held_out_trajectories_only(tiny_run):
    results, _ = tiny_run
    data = open_store(results / "data" / "lorenz_tiny" / "trajectories.zarr", dims=["state"])
    test_ids = data["trajectory"].values[data["split"].values == 2]
    for model in ("onsagernet", "mlp_ode"):
        ev = results / "eval" / "lorenz_tiny" / model
        pred = open_store(ev / "predictions.zarr", dims=["state"], allow_nan=True)
        assert sorted(pred["trajectory"].values) == sorted(test_ids)
        np.testing.assert_array_equal(pred["u"].isel(time=0).values,
                                      data["u"].sel(trajectory=pred["trajectory"]).isel(time=0).values)
        m = json.loads((ev / "metrics.json").read_text())
        assert m["n_test_trajectories"] == len(test_ids)
        assert len(m["relative_error"]["time"]) == len(m["relative_error"]["median"])
        assert m["relative_error"]["median"][0] == 0.0
        assert m["long_rollouts"]["n"] == 8
        assert len(m["exact_fixed_points"]) == 3
        assert m["provenance"]["config_sha256"] and m["provenance"]["git_sha"]


@pytest.mark.slow
def test_rerun_has_nothing_to_do_and_report_builds(tiny_run):
    results, _ = tiny_run
    dry = snakemake("-n", "--config", f"results={results}")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
    report = results / "report.html"
    rep = snakemake("--report", str(report), "--config", f"results={results}")
    assert rep.returncode == 0, rep.stderr[-2000:]
    assert report.stat().st_size > 10_000


@pytest.mark.slow
def test_info_prints_provenance_of_every_kind_of_result(tiny_run):
    results, _ = tiny_run
    for path in ("data/lorenz_tiny/trajectories.zarr", "models/lorenz_tiny/onsagernet",
                 "eval/lorenz_tiny/onsagernet/metrics.json", "figures/lorenz_tiny/attractor.png",
                 "figures/lorenz_tiny/attractor.pdf"):
        out = subprocess.run(["onsagerflow", "info", str(results / path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "config_sha256" in out.stdout and "git_sha" in out.stdout


def test_cli_names_a_missing_store(tmp_path):
    spec = json.dumps({"system": "x", "pairs": {"tau": 0.01, "per_trajectory": 5, "rollout_steps": 1},
                       "model": {"key": "m", "spec": {"type": "mlp_ode", "width": 4, "depth": 1,
                                                      "activation": "tanh"}, "peers": {}},
                       "training": {}})
    out = subprocess.run(["onsagerflow", "train", "--spec", spec, "--data", str(tmp_path / "missing.zarr"),
                          "--out", str(tmp_path / "m")], capture_output=True, text=True)
    assert out.returncode == 1
    assert "store not found" in out.stderr and "missing.zarr" in out.stderr
    assert not (tmp_path / "m").exists()
