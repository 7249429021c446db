"""The whole DAG on a tiny config, through Snakemake's CLI, and the CLI's own errors."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import assert_cf_clean, assert_figure, held_out_predictions

from onsagerflow.config import stage_spec_json, validate_config
from onsagerflow.data import Split, open_store, read_zarr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "configs", "tiny.yaml")


VARIANTS = os.path.join(ROOT, "tests", "configs", "variants.yaml")
RBC = os.path.join(ROOT, "tests", "configs", "rbc_tiny.yaml")
POLYMER = os.path.join(ROOT, "tests", "configs", "polymer_tiny.yaml")


def tiny_config():
    return validate_config(yaml.safe_load(open(TINY)))


def snakemake(*args, config=TINY, timeout=3600):
    """Snakemake on a config; the timeout only guards against a hung run (a loaded machine may
    take many times the usual few minutes)."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", config, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny config's whole DAG (its run time is measured in benchmarks/, not asserted here)."""
    results = tmp_path_factory.mktemp("tiny") / "results"
    out = snakemake("--config", f"results={results}")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return results, out


@pytest.mark.slow
def test_tiny_config_runs_end_to_end(tiny_run):
    results, out = tiny_run
    for stem in ("attractor", "error_vs_time", "training_curves", "potential_onsagernet"):
        assert_figure(results / "figures" / "lorenz_tiny" / f"{stem}.png")
    # jobs.evaluate_per_system: one evaluate job for the system's three runs, one log
    log = (results / "logs" / "evaluate" / "lorenz_tiny.log").read_text()
    assert "run 3 of 3: sindy" in log and not (results / "logs" / "evaluate" / "lorenz_tiny").exists()
    table = pd.read_csv(results / "tables" / "results.csv")
    assert sorted(table["model"]) == ["mlp_ode", "onsagernet", "sindy"]
    assert (results / "tables" / "results.md").read_text().startswith("| system | model |")
    # onsuccess points to the tables and the report
    assert f"{results}/tables/results.md" in out.stdout and "snakemake --report" in out.stdout


@pytest.mark.slow
def test_every_store_of_a_run_is_cf_clean(tiny_run, tmp_path):
    """Every store the workflow wrote opens in xarray without a warning, declares CF, has
    pint-parsable units and named components, and exports to netCDF."""
    results, _ = tiny_run
    stores = sorted(results.rglob("*.zarr"))
    assert len(stores) == 7  # the data, and predictions and long rollouts of three models
    for store in stores:
        ds = assert_cf_clean(store, tmp_path)
        assert [str(c) for c in ds["state"].values] == ["x", "y", "z"], store
    long = assert_cf_clean(results / "eval" / "lorenz_tiny" / "onsagernet" / "long_rollouts.zarr", tmp_path)
    assert long.attrs["config_sha256"] and long.attrs["model"] == "onsagernet" and "truth" in long


@pytest.mark.slow
def test_the_python_api_example_of_the_docs_runs(tiny_run):
    """docs/api.md's example, on this run's OnsagerNet instead of the default run's."""
    results, _ = tiny_run
    text = open(os.path.join(ROOT, "docs", "api.md")).read()
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    assert "results/models/lorenz_r28/onsagernet" in code
    code = code.replace("results/models/lorenz_r28/onsagernet", str(results / "models" / "lorenz_tiny" / "onsagernet"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("onsagernet onsagernet ['x', 'y', 'z'] 1")


@pytest.mark.slow
def test_baselines_table_compares_onsagernet_with_mlp_ode_and_sindy(tiny_run):
    results, _ = tiny_run
    table = pd.read_csv(results / "tables" / "baselines.csv")
    assert list(table["model"]) == ["onsagernet", "mlp_ode", "sindy"]
    assert set(table["n"]) == {3} and set(table["system"]) == {"lorenz_tiny"}
    for col in ("short-term error", "bounded", "fixed-point error", "params"):
        assert col in table.columns
    assert table["bounded"].str.endswith("long rollouts (T=2)").all()
    meta = json.loads((results / "models" / "lorenz_tiny" / "sindy" / "model.json").read_text())
    with np.load(results / "models" / "lorenz_tiny" / "sindy" / "params.npz") as p:
        coef = p[next(k for k in p.files if "coef" in k)]
    # SINDy's parameter count: its non-zero coefficients, of 10 quadratic monomials × 3
    assert coef.shape == (10, 3) and meta["param_count"] == np.count_nonzero(coef) == table["params"].iloc[2]
    assert "non-zero polynomial coefficients" in (results / "tables" / "baselines.md").read_text()


@pytest.mark.slow
def test_evaluation_uses_held_out_trajectories_only(tiny_run):
    results, _ = tiny_run
    _, metrics = held_out_predictions(results, "lorenz_tiny", ("onsagernet", "mlp_ode", "sindy"))
    for m in metrics.values():
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
    for path in (
        "data/lorenz_tiny/trajectories.zarr",
        "models/lorenz_tiny/onsagernet",
        "eval/lorenz_tiny/onsagernet/metrics.json",
        "figures/lorenz_tiny/attractor.png",
        "figures/lorenz_tiny/attractor.pdf",
    ):
        out = subprocess.run(["onsagerflow", "info", str(results / path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "config_sha256" in out.stdout and "git_sha" in out.stdout


@pytest.mark.slow
def test_cli_names_a_missing_store(tmp_path):
    spec = stage_spec_json(tiny_config(), "train", "lorenz_tiny", "mlp_ode")
    out = subprocess.run(
        [
            "onsagerflow",
            "train",
            "--spec",
            spec,
            "--data",
            str(tmp_path / "missing.zarr"),
            "--out",
            str(tmp_path / "m"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert "store not found" in out.stderr and "missing.zarr" in out.stderr
    assert not (tmp_path / "m").exists()


def test_info_on_a_missing_path_says_so_in_one_line(tmp_path):
    out = subprocess.run(["onsagerflow", "info", str(tmp_path / "nothing.zarr")], capture_output=True, text=True)
    assert out.returncode == 1
    (line,) = out.stderr.strip().splitlines()
    assert line.endswith(f"ERROR onsagerflow: info failed: no such result: {tmp_path / 'nothing.zarr'}")


@pytest.mark.slow
def test_training_and_evaluation_are_bit_identical_across_processes(tiny_run, tmp_path):
    """Same seed, same data, two separate processes: the same parameters, bit for bit, and the
    same metrics."""
    results, _ = tiny_run
    spec = stage_spec_json(tiny_config(), "train", "lorenz_tiny", "onsagernet")
    data = results / "data" / "lorenz_tiny" / "trajectories.zarr"
    for run in ("a", "b"):
        out = subprocess.run(
            [
                "onsagerflow",
                "train",
                "--threads",
                "1",
                "--spec",
                spec,
                "--data",
                str(data),
                "--out",
                str(tmp_path / run),
            ],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr[-2000:]
    with np.load(tmp_path / "a" / "params.npz") as a, np.load(tmp_path / "b" / "params.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        assert all(np.array_equal(a[k], b[k]) for k in a.files)
    # and evaluating them gives the same metrics, number for number (wall times and the
    # creation stamp aside)
    metrics = [_evaluate_alone("onsagernet", data, tmp_path / run, tmp_path / f"eval_{run}") for run in ("a", "b")]
    assert metrics[0]["relative_error"] and metrics[0] == metrics[1]
    # the workflow evaluated the system's three runs one after another in one process
    # (jobs.evaluate_per_system): each has the numbers of the run evaluated alone, the last
    # two after others in the same process
    for run in ("onsagernet", "mlp_ode", "sindy"):
        together = json.loads((results / "eval" / "lorenz_tiny" / run / "metrics.json").read_text())
        model = results / "models" / "lorenz_tiny" / run
        alone = metrics[0] if run == "onsagernet" else _evaluate_alone(run, data, model, tmp_path / f"alone_{run}")
        assert _without_clock(together) == alone, run


def _evaluate_alone(run, data, model, out):
    """`onsagerflow evaluate` of a run of the tiny config in a process of its own: its metrics
    without what depends on the clock."""
    spec = stage_spec_json(tiny_config(), "evaluate", "lorenz_tiny", run)
    args = ["--spec", spec, "--data", str(data), "--model", str(model), "--out-dir", str(out)]
    done = subprocess.run(["onsagerflow", "evaluate", "--threads", "1", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return _without_clock(json.loads((out / "metrics.json").read_text()))


def _without_clock(d):
    """A metrics dict without what depends on the clock: *_seconds and 'created'."""
    if isinstance(d, dict):
        return {k: _without_clock(v) for k, v in d.items() if not k.endswith("seconds") and k != "created"}
    if isinstance(d, list):
        return [_without_clock(v) for v in d]
    return d


@pytest.mark.slow
def test_variants_rollout_loss_all_windows_and_a_model_without_potential(tmp_path):
    results = tmp_path / "results"
    out = snakemake("--config", f"results={results}", config=VARIANTS)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    meta = json.loads((results / "models" / "lorenz_rollout" / "onsagernet_rollout" / "model.json").read_text())
    assert meta["training"]["rollout_weight"] == 0.5 and meta["training"]["epochs"] == 3
    assert meta["epochs_run"] == 3
    figs = sorted(p.name for p in (results / "figures" / "lorenz_mlp_only").iterdir())
    assert not any(f.startswith("potential") for f in figs) and "attractor.png" in figs
    assert (results / "figures" / "lorenz_rollout" / "potential_onsagernet_rollout.png").exists()
    assert len(pd.read_csv(results / "tables" / "results.csv")) == 2


@pytest.mark.slow
def test_rbc_branch_end_to_end(tmp_path):
    """PRF21's kind of data (Lorenz-mode starts, free-fall time, snapshot pairs), the PDE's steady
    states, PCA, OnsagerNet / MLP-ODE on PCA coordinates, the PCA-ResNet joint model pre-trained
    from the OnsagerNet, latent evaluation under both protocols, the nearest-neighbour baseline,
    figures and the latent table."""
    results = tmp_path / "results"
    out = snakemake("--config", f"results={results}", config=RBC)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    latent = open_store(results / "reduce" / "rbc_tiny" / "latent.zarr", dims=["state"])
    data = open_store(results / "data" / "rbc_tiny" / "trajectories.zarr", dims=["z", "x"])
    assert latent.sizes["state"] == 6 and data.sizes["time"] == 2 * 21  # 21 pairs
    np.testing.assert_array_equal(latent["split"].values, data["split"].values)
    meta = json.loads((results / "models" / "rbc_tiny" / "onsagernet_resnet-n3" / "model.json").read_text())
    assert meta["pretrained_run"] == "onsagernet-n3" and meta["input_dim"] == 6
    assert meta["time_grid"] == {"step": pytest.approx(0.001), "burst": 2, "bursts": 21}
    states = read_zarr(results / "reduce" / "rbc_tiny" / "pde_states.zarr")
    assert states.sizes["steady"] >= 1 and (states["residual"].values <= 1e-8).all()
    assert (states["nusselt"].values > 1).all()  # convecting states, from the trajectories' ends
    orbits = read_zarr(results / "reduce" / "rbc_tiny" / "pde_orbits.zarr")
    assert set(orbits["converged"].values) <= {0, 1}
    for run in ("onsagernet-n3", "mlp_ode-n3", "onsagernet_resnet-n3"):
        m = json.loads((results / "eval" / "rbc_tiny" / run / "metrics.json").read_text())
        lm = m["latent_metrics"]
        assert set(lm["horizon_error"]) == {"1", "5"}
        assert set(lm["authors"]["horizon_error"]) == {"1", "5"} and lm["authors"]["n_trajectories"] == 8
        assert 0 < lm["field_error"]["reconstruction"] < 1
        assert lm["steady_states"] and m["n_test_trajectories"] == 2
        assert len(lm["pde_steady_states"]) == states.sizes["steady"]
        assert len(lm["pde_periodic_orbits"]) == int(orbits["converged"].sum())
        assert m["relative_error"]["time"][-1] == pytest.approx(20.0)  # judged on the coarse grid
        preds = read_zarr(results / "eval" / "rbc_tiny" / run / "predictions.zarr")
        np.testing.assert_allclose(preds["time"].values, np.arange(21.0))
    table = pd.read_csv(results / "tables" / "latent_models.csv")
    assert sorted(table["chart"]) == ["PCA", "PCA", "PCA", "PCA", "PCA-ResNet"]
    assert {"nearest_neighbour", "lstm"} <= set(table["model"]) and "N_fail authors'" in table.columns
    for stem in ("variance_spectrum", "training_curves", "latent_trajectories", "temperature_fields"):
        assert_figure(results / "figures" / "rbc_tiny" / f"{stem}.png")
    for store in results.rglob("*.zarr"):
        assert_cf_clean(store, tmp_path)


@pytest.mark.slow
def test_polymer_branch_end_to_end(tmp_path):
    """Chains, closure PCA with the extension first, S-OnsagerNet, the PCA-ResNet closure with
    its frozen second stage, ensemble evaluation, figures and the table."""
    results = tmp_path / "results"
    out = snakemake("--config", f"results={results}", config=POLYMER)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    latent = open_store(results / "reduce" / "polymer_tiny" / "latent.zarr", dims=["state"])
    data = open_store(results / "data" / "polymer_tiny" / "trajectories.zarr", dims=["bead", "xyz"])
    np.testing.assert_allclose(latent["h"].isel(state=0).values, data["extension"].values, rtol=1e-6)
    np.testing.assert_array_equal(latent["ensemble"].values, data["ensemble"].values)
    for run in ("s_onsagernet_closure-n3", "s_onsagernet_ncs-n3"):
        hist = pd.read_csv(results / "models" / "polymer_tiny" / run / "history.csv")
        assert sorted(set(hist["stage"])) == [1, 2] and len(hist) == 4 + 3
    meta = json.loads((results / "models" / "polymer_tiny" / "s_onsagernet_ncs-n3" / "model.json").read_text())
    assert meta["pretrained_run"] is None and meta["positions_dim"] == 6 * 3  # the authors' chart sees positions
    for run in ("s_onsagernet-n3", "s_onsagernet_closure-n3", "s_onsagernet_ncs-n3"):
        m = json.loads((results / "eval" / "polymer_tiny" / run / "metrics.json").read_text())
        assert {e["label"] for e in m["ensembles"]} == {"fast", "slow"}
        for e in m["ensembles"]:
            assert len(e["unfolding_time"]["pred"]) == e["realisations"] == 4
            assert 0 <= e["unfolding_time"]["ks"] <= 1
            # judged by the authors' definition (the config's), ours reported beside it
            assert m["unfolding_time_definition"] == e["unfolding_time"]["definition"] == "final_fraction"
            assert set(e["unfolding_time_by_definition"]) == {"threshold", "final_fraction"}
            assert e["unfolding_time_by_definition"]["final_fraction"]["ks"] == e["unfolding_time"]["ks"]
        assert set(m["correlations"]) >= {"Z2_vs_end_to_end_diff", "Z3_vs_end_to_end_sum"}
        # minima and saddles are V's critical points, each with its decoded chain; the drift's
        # fixed points keep their dynamical kinds
        assert m["critical_points"] and all(
            c["type"] in ("minimum", "maximum", "degenerate") or c["type"].endswith("saddle")
            for c in m["critical_points"]
        )
        for c in m["critical_points"]:
            assert {"index", "V", "hessian_eigenvalues", "conformation"} <= set(c)
            assert 0 <= c["conformation"]["fold_ratio"] <= 1.0 + 1e-9
            # against the longest training chain: a fold is told from a coil by it
            longest = float(data["extension"].values[data["split"].values == 0].max())
            assert c["conformation"]["relative_extension"] == pytest.approx(c["conformation"]["extension"] / longest)
        assert all("type" not in p for p in m["fixed_points"])
        pred = open_store(results / "eval" / "polymer_tiny" / run / "predictions.zarr", allow_nan=True)
        assert pred["h"].shape == (8, 41, 3)
        assert m["stochastic"] and m["paths"]["n"] == 8
    # the deterministic baselines run on the same ensembles: every realisation the same path
    for run in ("drift_only-n3", "sindy_drift-n3"):
        m = json.loads((results / "eval" / "polymer_tiny" / run / "metrics.json").read_text())
        assert not m["stochastic"] and m["paths"]["n"] == 8 and m["diffusion"] is None
        pred = open_store(results / "eval" / "polymer_tiny" / run / "predictions.zarr", allow_nan=True)
        h = pred["h"].values
        for e in np.unique(pred["ensemble"].values):
            same = h[pred["ensemble"].values == e]
            np.testing.assert_array_equal(same, np.broadcast_to(same[:1], same.shape))
    meta = json.loads((results / "models" / "polymer_tiny" / "drift_only-n3" / "model.json").read_text())
    assert meta["model_spec"]["type"] == "onsagernet" and meta["epochs_run"] == 4
    table = pd.read_csv(results / "tables" / "polymer_models.csv")
    assert len(table) == 6
    # the simulator against itself (noise_floor_draws: 1): after the system's runs, each ensemble
    # judged as a model's (its draw files, one per ensemble), critical points not its business
    floor = table.iloc[-1]
    assert floor["model"] == "simulator, new noise (1)" and pd.isna(floor["critical points of V in data range"])
    for e in (0, 1):
        draw = json.loads((results / "eval" / "polymer_tiny" / "noise_floor" / f"draw1_ensemble{e}.json").read_text())
        (judged,) = draw["ensembles"]
        tag = f"{judged['label']} #{e}"
        assert floor[f"{tag}: max std error"] == pytest.approx(judged["extension"]["max_std_error"])
        assert floor[f"{tag}: unfolding KS"] == pytest.approx(judged["unfolding_time"]["ks"])
        assert judged["realisations"] == 4 and judged["extension"]["max_mean_error"] > 0
    base = pd.read_csv(results / "tables" / "baselines.csv")
    assert list(base["model"]) == [
        "s_onsagernet",
        "s_onsagernet_closure",
        "s_onsagernet_ncs",
        "drift_only",
        "sindy_drift",
    ]
    assert base["bounded"].str.endswith(" paths").all() and base["fixed-point error"].isna().all()
    # figures of the stochastic runs only; the deterministic baselines are in the tables
    assert not any(
        "drift_only" in p.name or "sindy" in p.name for p in (results / "figures" / "polymer_tiny").iterdir()
    )
    for stem in ("landscape", "extension", "unfolding_times", "conformations"):
        assert_figure(results / "figures" / "polymer_tiny" / f"{stem}_s_onsagernet-n3.png")
    for store in results.rglob("*.zarr"):
        assert_cf_clean(store, tmp_path)


@pytest.mark.slow
def test_polymer_closure_without_the_extension(tmp_path):
    """A closure of PCA coordinates alone (reduction.observables: []): the evaluation decodes
    the predicted extension from the chains and judges it against the beads' own; V's critical
    points carry their decoded chains."""
    from onsagerflow.models.reducers import PCA
    from onsagerflow.stages.common import load_run
    from onsagerflow.stages.evaluate_sde import decoded_extension

    cfg = yaml.safe_load(open(POLYMER))
    block = cfg["systems"]["polymer_tiny"]
    block["reduction"]["observables"] = []
    block["models"] = ["s_onsagernet_ncs"]
    config = tmp_path / "pca_only.yaml"
    config.write_text(yaml.safe_dump(cfg))
    results = tmp_path / "results"
    out = snakemake("--config", f"results={results}", config=str(config))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    latent = open_store(results / "reduce" / "polymer_tiny" / "latent.zarr", dims=["state"])
    assert latent.attrs["n_observables"] == 0 and latent.attrs["observables"] == ""  # PCA coordinates only
    run = "s_onsagernet_ncs-n3"
    pred = open_store(results / "eval" / "polymer_tiny" / run / "predictions.zarr", allow_nan=True)
    chart = load_run(str(results / "models" / "polymer_tiny" / run)).chart
    pca = PCA.load(results / "reduce" / "polymer_tiny" / "pca.zarr")
    ext = pred["extension"].values
    np.testing.assert_allclose(ext, decoded_extension(chart, pca, pred["h"].values, 0), rtol=1e-5)
    assert np.all(ext[np.isfinite(ext)] >= 0)
    m = json.loads((results / "eval" / "polymer_tiny" / run / "metrics.json").read_text())
    beads = open_store(results / "data" / "polymer_tiny" / "trajectories.zarr", dims=["bead", "xyz"])
    for e in m["ensembles"]:  # judged against the beads' own extension, ensemble by ensemble
        mine = (beads["ensemble"].values == e["ensemble"]) & (beads["split"].values == Split.TEST)
        assert mine.sum() == e["realisations"]
        np.testing.assert_allclose(e["extension"]["true_mean"], beads["extension"].values[mine].mean(0), rtol=1e-5)
        assert np.isfinite(e["extension"]["max_mean_error"])
        assert e["extension_closure_floor"]["max_mean_error"] > 0  # three PCs do not hold the extension exactly
    for c in m["critical_points"]:
        assert c["conformation"]["extension_latent"] == pytest.approx(c["conformation"]["extension"], rel=1e-5)
    assert_figure(results / "figures" / "polymer_tiny" / f"extension_{run}.png")


@pytest.mark.slow
def test_langevin_branch_end_to_end(tmp_path):
    """PRF21 Sec. IV A: the damped pendulum, the authors' three nets, the one-step test MSE, the
    rollouts from the 12 edge starts (Fig. 2b), the learned energy against H (Fig. 3, for the
    two nets with an energy), the accuracy bar chart and the energy figure."""
    results = tmp_path / "results"
    out = snakemake(
        "--config", f"results={results}", config=os.path.join(ROOT, "tests", "configs", "langevin_tiny.yaml")
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for run in ("ons", "mlp", "sym"):
        m = json.loads((results / "eval" / "pendulum_tiny" / run / "metrics.json").read_text())
        assert m["one_step_error"]["mse"] > 0 and m["one_step_error"]["n_pairs"] == 3 * 20
        assert len(m["edge_rollouts"]["starts"]) == 12 and m["edge_rollouts"]["mean"][0] == 0.0
        assert m["periodic_orbits"]["exact"] == []  # a damped oscillator has none
        assert ("energy" in m) == (run != "mlp")
        if run != "mlp":
            e = m["energy"]
            assert e["authors_alignment"] == "hessian" and e["relative_l2_error"]["affine"] > 0
    assert_figure(results / "figures" / "accuracy.png")
    assert_figure(results / "figures" / "pendulum_tiny" / "potential_ons.png")
    table = pd.read_csv(results / "tables" / "results.csv")
    assert "V error, authors' alignment" in table and "one-step test MSE" in table
