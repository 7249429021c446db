"""Expected failures name their cause, one line each, through the CLI's one error path:
damaged stores, checkpoints and metrics files, a read-only folder, diverged training,
training that learned nothing, and the leftovers of writers that were killed.

The end-to-end fault injection (kill -9 during a run, then rerun) is in test_faults_workflow.py.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import time

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from onsagerflow.cli import failed, main
from onsagerflow.config import validated_block
from onsagerflow.data import assign_splits, build_dataset, open_store, read_zarr, write_store
from onsagerflow.data.store import DamagedStoreError, remove_stale_temporaries
from onsagerflow.errors import TrainingFailed, UserError
from onsagerflow.models import build_model
from onsagerflow.models.normalizer import Normalizer
from onsagerflow.provenance import stamp
from onsagerflow.stages import table
from onsagerflow.training import em_nll, fit, load_checkpoint, make_windows, save_checkpoint, window_loss
from onsagerflow.training.checkpoint import PARAMS, CheckpointError
from onsagerflow.training.judge import Persistence, by_trajectory, judge, trajectory_warnings, trivial_model
from onsagerflow.training.trainer import FitResult

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
log = logging.getLogger("onsagerflow.test")

CFG = validated_block(  # every default filled, divergence_factor and early_best_fraction included
    "training",
    {
        "epochs": 6,
        "batch_size": 32,
        "learning_rate": 3e-3,
        "weight_decay": 0.0,
        "grad_clip": 10.0,
        "rollout_weight": 0.0,
        "plateau": {"factor": 0.5, "patience": 2, "min_scale": 1e-3},
        "early_stopping": {"patience": 50, "min_delta": 0.0},
    },
)
MLP = validated_block("model", {"type": "mlp_ode", "width": 16, "depth": 1, "activation": "tanh"})


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    """Each test starts with no stores opened, as a CLI process does."""
    import onsagerflow.data.store as module

    monkeypatch.setattr(module, "_opened", [])


def store(path, n=8, T=20, seed=0):
    """A small canonical store, one trajectory per chunk."""
    rng = np.random.default_rng(seed)
    ds = build_dataset(
        system="toy",
        data_vars={
            "u": (("trajectory", "time", "state"), rng.normal(size=(n, T, 3)), {"units": "1", "long_name": "state"})
        },
        time=np.arange(T) * 0.1,
        split=assign_splits(n, {"train": 0.5, "val": 0.25, "test": 0.25}, seed),
        attrs=stamp({"toy": 1}),
    )
    write_store(ds, path, dims=["state"], chunk_mb=1e-5)
    return path


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def messages(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# --- stores


def test_every_chunk_is_written_and_a_missing_one_is_named_not_taken_for_nan(tmp_path):
    s = store(tmp_path / "s.zarr")
    # zarr skips a chunk that holds only the fill value (0 for the int8 split, where every
    # trajectory of the chunk is train); we write it, so a missing chunk is damage
    assert all((s / "split" / "c" / str(i)).exists() for i in range(8))
    (s / "u" / "c" / "1" / "0" / "0").unlink()
    with pytest.raises(DamagedStoreError, match=r"variable 'u': chunk c/1/0/0 is missing \(file .*u/c/1/0/0\)") as e:
        open_store(s, dims=["state"])
    assert "NaN" not in str(e.value)
    store(tmp_path / "t.zarr")
    (tmp_path / "t.zarr" / "split" / "c" / "0").unlink()  # read back, it would make trajectory 0 'train'
    with pytest.raises(DamagedStoreError, match=r"variable 'split': chunk c/0 is missing"):
        read_zarr(tmp_path / "t.zarr")


def test_a_truncated_chunk_is_named_by_variable_chunk_and_file(tmp_path):
    s = store(tmp_path / "s.zarr")
    truncate(s / "u" / "c" / "2" / "0" / "0")
    with pytest.raises(DamagedStoreError, match=r"variable 'u': chunk c/2/0/0 cannot be decoded .*file .*u/c/2/0/0"):
        open_store(s, dims=["state"])


def test_a_codec_error_deep_in_a_lazy_read_is_traced_to_its_chunk(tmp_path, caplog):
    s = store(tmp_path / "s.zarr")
    ds = read_zarr(s)  # lazily, unvalidated: the damage shows only when the data are read
    truncate(s / "u" / "c" / "5" / "0" / "0")
    with pytest.raises(Exception) as e:
        ds["u"].values  # noqa: B018
    assert not isinstance(e.value, UserError)  # the codec's own error names no file...
    assert failed("figures", e.value, log) == 1  # ...the one error path finds the chunk
    (line,) = messages(caplog)
    assert "figures failed: store" in line and "variable 'u': chunk c/5/0/0 cannot be decoded" in line
    assert not caplog.records[-1].exc_info  # one line, no traceback


# --- the one error path


@pytest.mark.slow
def test_cli_prints_one_line_and_exits_1_for_an_expected_failure(tmp_path):
    csv = tmp_path / "results.csv"
    csv.write_text("a,b\n1,2\n")
    for target, culprit in ((csv, "results.csv: no provenance found"), (tmp_path / "nope", "no such result")):
        out = subprocess.run(
            [sys.executable, "-m", "onsagerflow", "info", str(target)], capture_output=True, text=True, cwd=ROOT
        )
        assert out.returncode == 1
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and culprit in lines[0], out.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "onsagerflow", "--debug", "info", str(csv)], capture_output=True, text=True, cwd=ROOT
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_a_bug_keeps_its_traceback_and_environment_errors_are_one_line(tmp_path, caplog):
    assert failed("train", KeyError("spec key"), log) == 1
    assert "a bug in onsagerflow" in messages(caplog)[-1] and caplog.records[-1].exc_info
    caplog.clear()
    full = OSError(28, "No space left on device", str(tmp_path / "m" / ".params.npz"))
    assert failed("train", full, log) == 1
    assert messages(caplog) == [
        f"train failed: {tmp_path}/m/.params.npz: no space left on the device; free disk space or choose "
        "another results folder (--config results=...)"
    ]


def read_only(folder):
    """Make ``folder`` read-only for this process (root ignores the mode bits: it gets the
    immutable attribute instead); the undo function, or None where neither works."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)
    return None


def test_a_read_only_results_folder_is_one_line_naming_it(tmp_path, caplog):
    folder = tmp_path / "models"
    folder.mkdir()
    undo = read_only(folder)
    if undo is None:
        pytest.skip("cannot make a folder read-only here")
    try:
        norm = Normalizer(np.zeros(3), np.ones(3), 1.0)
        with pytest.raises(OSError) as e:
            save_checkpoint(
                folder / "m", build_model(MLP, 3, seed=0), meta={"model_spec": MLP, "n": 3, "seed": 0}, normalizer=norm
            )
        assert failed("train", e.value, log) == 1
        (line,) = messages(caplog)
        assert f"{folder}/.m.tmp-" in line and ("permission denied" in line or "not permitted" in line)
        assert "choose another results folder" in line
    finally:
        undo()
    assert list(folder.iterdir()) == []


# --- checkpoints and metrics files


@pytest.fixture
def checkpoint(tmp_path):
    norm = Normalizer(np.zeros(3), np.ones(3), 1.0)
    path = tmp_path / "ck"
    save_checkpoint(path, build_model(MLP, 3, seed=0), meta={"model_spec": MLP, "n": 3, "seed": 0}, normalizer=norm)
    return path


def test_a_truncated_or_non_finite_checkpoint_is_named(checkpoint):
    load_checkpoint(checkpoint)  # intact
    with np.load(checkpoint / PARAMS) as p:
        params = {k: p[k] for k in p.files}
    key = next(k for k in params if k.endswith("kernel/value") or k.endswith("kernel"))
    params[key] = np.full_like(params[key], np.nan)
    np.savez(checkpoint / PARAMS, **params)
    with pytest.raises(CheckpointError, match=rf"parameter {key} holds NaN or inf .*the model diverged"):
        load_checkpoint(checkpoint)
    truncate(checkpoint / PARAMS)
    with pytest.raises(CheckpointError, match=r"params.npz: cannot read the parameters .*truncated or damaged"):
        load_checkpoint(checkpoint)
    truncate(checkpoint / "model.json")
    with pytest.raises(CheckpointError, match=r"model.json: not valid JSON .*truncated or damaged"):
        load_checkpoint(checkpoint)


def test_a_model_with_nan_weights_is_never_saved(tmp_path):
    model = build_model(MLP, 3, seed=0)
    model.net.out.bias[...] = jnp.full_like(model.net.out.bias[...], jnp.nan)
    norm = Normalizer(np.zeros(3), np.ones(3), 1.0)
    with pytest.raises(TrainingFailed, match="hold NaN or inf, so no checkpoint was written"):
        save_checkpoint(tmp_path / "m", model, meta={"model_spec": MLP, "n": 3, "seed": 0}, normalizer=norm)
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_metrics_file_stops_the_table_naming_it(tmp_path, caplog):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"system": "s", "model": "m", "training": {}, "provenance": {}}))
    bad = tmp_path / "bad.json"
    bad.write_text(good.read_text()[:20])
    out = [str(tmp_path / "t.csv"), str(tmp_path / "t.md")]
    assert main(["table", str(bad), str(good), "--csv", out[0], "--md", out[1]]) == 1
    (line,) = messages(caplog)
    assert f"table failed: metrics file {bad} is not valid JSON" in line and "truncated or damaged" in line
    assert not os.path.exists(out[0]) and not os.path.exists(out[1])
    caplog.clear()
    assert main(["table", str(good), "--csv", out[0], "--md", out[1]]) == 1  # valid JSON, not a metrics file
    assert f"metrics file {good} lacks 'param_count'" in messages(caplog)[0]


def test_the_tables_mark_a_run_that_did_not_learn(tmp_path):
    files = []
    for model, warnings in (("good", []), ("flat", ["never beat the trivial predictor dz/dt = 0"])):
        f = tmp_path / f"{model}.json"
        f.write_text(json.dumps({"system": "s", "model": model, "training": {"warnings": warnings}, "provenance": {}}))
        files.append(str(f))
    csv, md = tmp_path / "t.csv", tmp_path / "t.md"
    table.run(files, csv, md, make_row=lambda m: {"system": m["system"], "model": m["model"]})
    df = pd.read_csv(csv, keep_default_na=False)
    assert list(df[table.WARNINGS]) == ["", "never beat the trivial predictor dz/dt = 0"]
    text = md.read_text()
    assert "| s | flat ⚠ |" in text and "| s | good |" in text and table.WARNINGS not in text
    assert "- ⚠ s flat: did not learn: never beat the trivial predictor dz/dt = 0" in text


# --- temporaries of killed writers


def test_stale_temporaries_are_removed_on_the_next_write_but_never_a_live_writers(tmp_path):
    target = tmp_path / "s.zarr"
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "120"])
    try:
        time.sleep(0.05)
        leftovers = {
            "dead": tmp_path / f".s.zarr.tmp-{dead.pid}-0123abcd",
            "dead_old": tmp_path / f".s.zarr.old-{dead.pid}-4567abcd",
            "live": tmp_path / f".s.zarr.tmp-{live.pid}-89abcdef",
            "reused": tmp_path / f".s.zarr.tmp-{live.pid}-deadbeef",  # made before its pid's process started
            "mine": tmp_path / f".s.zarr.tmp-{os.getpid()}-00000000",
            "other": tmp_path / f".t.zarr.tmp-{dead.pid}-0123abcd",  # another target's
        }
        for p in leftovers.values():
            p.mkdir()
            (p / "zarr.json").write_text("{}")
        past = time.time() - 3600
        os.utime(leftovers["reused"], (past, past))
        store(target)
        left = {k for k, p in leftovers.items() if p.exists()}
        assert left == {"live", "mine", "other"}
        assert remove_stale_temporaries(target) == []  # nothing more to do
    finally:
        live.kill()
        live.wait()


# --- training that diverged or did not learn


def damped_rotation(n_traj=8, T=60, dt=0.01, seed=0):
    A = np.array([[-0.2, 1.0, 0.0], [-1.0, -0.2, 0.0], [0.0, 0.0, -0.5]])
    w, V = np.linalg.eig(A)
    z0 = np.random.default_rng(seed).normal(size=(n_traj, 3))
    t = np.arange(T) * dt
    expm = np.real(np.einsum("ij,tj,jk->tik", V, np.exp(np.outer(t, w)), np.linalg.inv(V)))
    return np.einsum("tik,nk->nti", expm, z0), dt


def windows(u, dt):
    norm = Normalizer.fit(u[:6], dt)
    return make_windows(norm.encode(u[:6]), lag=1, seed=0), make_windows(norm.encode(u[6:]), lag=1, seed=1), norm


def test_the_trivial_predictor_is_persistence_scored_by_the_runs_own_loss():
    """Pair loss of dz/dt = 0: mean |(z0 − z1)/τ|². Likelihood of the random walk with
    Σ = diag(E[Δz²])/τ: ½(rᵀ(τΣ)⁻¹r + log det τΣ + n log 2π)/n with r = Δz."""
    rng = np.random.default_rng(0)
    train, val, tau = rng.normal(size=(50, 2, 3)), rng.normal(size=(40, 2, 3)), 0.1
    trivial = trivial_model(object(), train, tau)
    np.testing.assert_allclose(
        float(window_loss(trivial, jnp.asarray(val), tau)), np.mean(((val[:, 1] - val[:, 0]) / tau) ** 2), rtol=1e-12
    )
    d = np.diff(train, axis=1).reshape(-1, 3)
    cov = np.diag(np.mean(d**2, axis=0) / tau)
    r = val[:, 1] - val[:, 0]
    S = tau * cov
    quad = np.einsum("bi,ij,bj->b", r, np.linalg.inv(S), r)
    nll = 0.5 * (quad + np.linalg.slogdet(S)[1] + 3 * np.log(2 * np.pi)) / 3
    np.testing.assert_allclose(float(em_nll(trivial, jnp.asarray(val), tau)), nll.mean(), rtol=1e-6)
    assert isinstance(trivial, Persistence)


def test_a_learning_rate_of_100_fails_as_diverged_naming_the_setting():
    train, val, norm = windows(*damped_rotation())
    model = build_model(MLP, 3, seed=0)
    cfg = {**CFG, "learning_rate": 100.0}
    with pytest.raises(TrainingFailed, match=r"training.learning_rate \(now 100\)") as e:
        judge(fit(model, train, val, tau=0.01 / norm.time_scale, cfg=cfg, seed=0), cfg)
    assert "no checkpoint written" in str(e.value)


def test_pure_noise_trains_but_warns_that_it_did_not_learn():
    """A random walk: the increments are noise, independent of the state, so the best
    prediction of z(t + τ) is z(t) — nothing to learn beyond dz/dt = 0."""
    rng = np.random.default_rng(3)
    u = np.cumsum(rng.normal(size=(8, 60, 3)), axis=1)
    train, val, norm = windows(u, 0.01)
    cfg = {**CFG, "epochs": 40}
    res = fit(build_model(MLP, 3, seed=0), train, val, tau=0.01 / norm.time_scale, cfg=cfg, seed=0)
    assert res.best_val_loss < res.initial_val_loss  # it trained: no failure...
    warnings = judge(res, cfg)
    assert any("never beat the trivial predictor dz/dt = 0" in w for w in warnings), warnings  # ...but a warning
    good = fit(build_model(MLP, 3, seed=0), *windows(*damped_rotation())[:2], tau=0.1, cfg=cfg, seed=0)
    assert judge(good, cfg) == []


def test_one_validation_trajectory_off_the_training_data_is_named_by_the_breakdown():
    """Two validation trajectories of dz/dt = A(z − c), one with c = 0 and one with c = (10, 0, 0);
    the model is dz/dt = A z, exact on the first only. Pair loss mean |(Φ_τ(z₀) − z₁)/τ|²:
    on the first it is Heun's O(τ²) error, on the second about |A c|²/3 ≈ 35 (a mean over the
    components) against persistence's mean |A(z − c)|²/3 of order 1, so pooled the model loses to dz/dt = 0 though it is exact on one."""
    A = np.array([[-0.2, 1.0, 0.0], [-1.0, -0.2, 0.0], [0.0, 0.0, -0.5]])
    tau, c = 0.01, np.array([10.0, 0.0, 0.0])
    u, dt = damped_rotation(n_traj=2, T=60, dt=tau)
    val_near = make_windows(u[:1], lag=1)
    val_far = make_windows(u[1:] + c, lag=1)
    val = jnp.asarray(np.concatenate([val_near, val_far]))

    def field(z):
        return z @ jnp.asarray(A).T

    trivial = trivial_model(object(), val, tau)
    pooled, pooled_trivial = float(window_loss(field, val, tau)), float(window_loss(trivial, val, tau))
    assert pooled > pooled_trivial  # the pooled verdict: never beat dz/dt = 0
    near, far = by_trajectory(field, trivial, val, tau, window_loss, [3, 11])
    assert (near["trajectory"], far["trajectory"]) == (3, 11)
    assert near["loss"] < 1e-4 * near["trivial"]  # exact up to Heun's O(τ²)
    heun = np.eye(3) + tau * A + 0.5 * tau**2 * A @ A  # one Heun step of dz/dt = A z
    expected = np.mean(((val_far[:, 0] @ heun.T - val_far[:, 1]) / tau) ** 2)
    np.testing.assert_allclose(far["loss"], expected, rtol=1e-5)
    assert far["loss"] > 10 * far["trivial"]
    (w,) = trajectory_warnings([near, far])
    assert w.startswith("it loses to dz/dt = 0 on validation trajectory 11 (") and "beats it on the other 1" in w
    assert trajectory_warnings([near]) == [] and trajectory_warnings([far]) == []  # only a split verdict is named
    with pytest.raises(ValueError, match="do not split into 3 equal trajectory blocks"):
        by_trajectory(field, trivial, val, tau, window_loss, [1, 2, 3])


def test_a_best_epoch_in_the_first_few_percent_warns():
    res = FitResult(None, None, best_epoch=3, best_val_loss=0.5, seconds=0.0, stopped_early=True)
    res.initial_val_loss, res.trivial_val_loss = 2.0, 1.0
    (w,) = judge(res, {**CFG, "epochs": 100})
    assert w.startswith("best epoch 3 of 100 is in the first 5% (training.early_best_fraction)")
    assert judge(res, {**CFG, "epochs": 100, "early_best_fraction": 0.0}) == []


def test_a_warm_start_keeps_its_start_when_no_epoch_beats_it():
    train, val, norm = windows(*damped_rotation())
    tau = 0.01 / norm.time_scale
    model = build_model(MLP, 3, seed=0)
    fit(model, train, val, tau=tau, cfg={**CFG, "epochs": 30}, seed=0)
    before = np.asarray(model.net.out.kernel[...]).copy()
    cfg = {**CFG, "learning_rate": 1.0, "epochs": 2}
    res = fit(model, train, val, tau=tau, cfg=cfg, seed=1, warm_start=True)
    assert res.best_epoch == 0 and res.best_val_loss == res.initial_val_loss
    np.testing.assert_array_equal(np.asarray(model.net.out.kernel[...]), before)
    (w,) = judge(res, cfg, warm_start=True)
    assert w.startswith("no epoch beat the model it started from")
