"""Loss, windows, the trainer's determinism and checkpoints."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from onsagerflow.config import validated_block
from onsagerflow.models import build_model
from onsagerflow.models.normalizer import Normalizer
from onsagerflow.training import fit, heun_step, load_checkpoint, make_windows, save_checkpoint, window_loss

SPECS = {  # model blocks as a validated config holds them, every default filled
    "on": validated_block(
        "model",
        {
            "type": "onsagernet",
            "width": 8,
            "depth": 1,
            "potential_dim": 3,
            "alpha": 0.1,
            "beta": 0.1,
            "activation": "requr",
            "forcing": "linear",
        },
    ),
    "mlp": validated_block("model", {"type": "mlp_ode", "depth": 1, "activation": "tanh", "match_params_of": "on"}),
}
CFG = validated_block(
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


def linear_data(n_traj=8, T=60, dt=0.01, seed=0):
    """Trajectories of the damped rotation z' = A z, exact solution e^{tA} z₀."""
    A = np.array([[-0.2, 1.0, 0.0], [-1.0, -0.2, 0.0], [0.0, 0.0, -0.5]])
    w, V = np.linalg.eig(A)
    z0 = np.random.default_rng(seed).normal(size=(n_traj, 3))
    t = np.arange(T) * dt
    expm = np.real(np.einsum("ij,tj,jk->tik", V, np.exp(np.outer(t, w)), np.linalg.inv(V)))
    return np.einsum("tik,nk->nti", expm, z0), A, dt


def test_make_windows_picks_states_lag_apart():
    u = np.arange(2 * 10 * 1, dtype=float).reshape(2, 10, 1)
    w = make_windows(u, lag=2, steps=3, per_trajectory=None)
    assert w.shape == (2 * 4, 4, 1)
    np.testing.assert_array_equal(w[0, :, 0], [0, 2, 4, 6])
    np.testing.assert_array_equal(w[-1, :, 0], [13, 15, 17, 19])
    sub = make_windows(u, lag=1, steps=1, per_trajectory=3, seed=0)
    assert sub.shape == (6, 2, 1)
    assert np.all(sub[:, 1, 0] - sub[:, 0, 0] == 1)
    with pytest.raises(ValueError, match="too short"):
        make_windows(u, lag=5, steps=2)


def test_heun_step_is_second_order():
    """Local error of Heun on z' = Az is (h³/6)A³z + O(h⁴): halving h divides it by 8."""
    _, A, _ = linear_data()
    A = jnp.asarray(A)
    z = jnp.array([1.0, -0.5, 0.3])
    errs = []
    for h in (0.1, 0.05):
        exact = jax.scipy.linalg.expm(h * A) @ z
        errs.append(float(jnp.linalg.norm(heun_step(lambda y: A @ y, z, h) - exact)))
    assert 7.0 < errs[0] / errs[1] < 9.0


def test_pair_loss_is_zero_for_the_exact_heun_map_and_rollout_term_adds():
    _, A, dt = linear_data()
    A = jnp.asarray(A)
    z0 = jnp.ones((4, 3))
    f = lambda y: y @ A.T
    z1 = heun_step(f, z0, dt)
    z2 = heun_step(f, z1, dt)
    w = jnp.stack([z0, z1, z2], axis=1)
    assert float(window_loss(f, w, dt)) < 1e-20
    w_bad = w.at[:, 2].add(0.1)
    assert float(window_loss(f, w_bad, dt, rollout_weight=0.0)) < 1e-20
    expected = np.mean((0.1 / (2 * dt)) ** 2)
    np.testing.assert_allclose(float(window_loss(f, w_bad, dt, rollout_weight=1.0)), expected, rtol=1e-10)


def _train(seed, kind="on", epochs=6):
    u, _, dt = linear_data()
    norm = Normalizer.fit(u[:6], dt)
    train = make_windows(norm.encode(u[:6]), lag=1, seed=0)
    val = make_windows(norm.encode(u[6:]), lag=1, seed=1)
    model = build_model(SPECS[kind], 3, seed=seed, all_specs=SPECS)
    return fit(model, train, val, tau=dt / norm.time_scale, cfg={**CFG, "epochs": epochs}, seed=seed), norm


@pytest.mark.slow
def test_training_lowers_the_validation_loss():
    res, _ = _train(0, epochs=40)
    h = res.history
    assert h["val_loss"].iloc[-1] < 0.2 * h["val_loss"].iloc[0]
    assert res.best_val_loss == pytest.approx(h["val_loss"].min())
    assert list(h.columns) == ["epoch", "train_loss", "val_loss", "lr", "seconds"]


@pytest.mark.slow
def test_same_seed_gives_bit_identical_parameters():
    a, _ = _train(5)
    b, _ = _train(5)
    c, _ = _train(6)
    la = jax.tree.leaves(nnx.state(a.model))
    lb = jax.tree.leaves(nnx.state(b.model))
    lc = jax.tree.leaves(nnx.state(c.model))
    assert all(np.array_equal(x, y) for x, y in zip(la, lb))
    assert not all(np.array_equal(x, y) for x, y in zip(la, lc))
    assert a.history["val_loss"].tolist() == b.history["val_loss"].tolist()


@pytest.mark.slow
def test_plateau_lowers_the_learning_rate_and_early_stopping_stops():
    u, _, dt = linear_data()
    norm = Normalizer.fit(u[:6], dt)
    train = make_windows(norm.encode(u[:6]), lag=1)
    model = build_model(SPECS["on"], 3, seed=0)
    cfg = {
        **CFG,
        "epochs": 200,
        "learning_rate": 1e-9,  # too small to improve anything
        "early_stopping": {"patience": 8, "min_delta": 0.01},
    }
    res = fit(model, train, train, tau=dt / norm.time_scale, cfg=cfg, seed=0)
    assert res.stopped_early and len(res.history) == 9
    assert res.history["lr"].iloc[-1] < res.history["lr"].iloc[0]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["on", "mlp"])
def test_checkpoint_reloads_the_same_model(tmp_path, kind):
    res, norm = _train(1, kind=kind, epochs=2)
    meta = {"model_spec": SPECS[kind], "all_specs": SPECS, "n": 3, "seed": 1, "note": "x"}
    save_checkpoint(tmp_path / "ck", res.model, meta=meta, normalizer=norm, history=res.history)
    model, norm2, meta2 = load_checkpoint(tmp_path / "ck")
    z = jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(model(z)), np.asarray(res.model(z)))
    np.testing.assert_array_equal(norm2.mean, norm.mean)
    assert meta2["note"] == "x" and meta2["versions"]["jax"] == jax.__version__
    assert (tmp_path / "ck" / "history.csv").exists()


def test_checkpoint_written_before_a_model_key_existed_still_loads(tmp_path):
    """A model key added to the schema later (here OnsagerNet's `init`, `init_gain`) is absent
    from an older checkpoint's spec: loading fills its default, which builds the old model."""
    res, norm = _train(1, epochs=1)
    old = {k: v for k, v in SPECS["on"].items() if k not in ("init", "init_gain")}
    save_checkpoint(tmp_path / "ck", res.model, meta={"model_spec": old, "n": 3, "seed": 1}, normalizer=norm)
    model, _, meta = load_checkpoint(tmp_path / "ck")
    z = jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(model(z)), np.asarray(res.model(z)))
    assert "init" not in meta["model_spec"]  # the saved record stays as it was written


def test_checkpoint_with_wrong_shapes_is_refused(tmp_path):
    res, norm = _train(1, epochs=1)
    spec = dict(SPECS["on"], width=9)
    save_checkpoint(tmp_path / "ck", res.model, meta={"model_spec": spec, "n": 3, "seed": 1}, normalizer=norm)
    with pytest.raises(ValueError, match="has shape"):
        load_checkpoint(tmp_path / "ck")
    with pytest.raises(FileNotFoundError, match="not a checkpoint"):
        load_checkpoint(tmp_path)


def _windows():
    u, _, dt = linear_data()
    norm = Normalizer.fit(u[:6], dt)
    train = make_windows(norm.encode(u[:6]), lag=1, seed=0)
    val = make_windows(norm.encode(u[6:]), lag=1, seed=1)
    return train, val, dt / norm.time_scale


def test_restarts_continue_from_the_candidate_with_the_lowest_validation_loss():
    """Each candidate (seed + 1000·i) is an ordinary short run: its recorded validation loss is
    what a plain run of that seed for restarts.epochs epochs reaches, and the chosen seed is the
    argmin of them; with count 1 the configured seed is kept and nothing is trained."""
    from onsagerflow.training.restarts import RESTART_SEED_STRIDE, screen_seeds

    train, val, tau = _windows()
    cfg = {**CFG, "seed": 3, "restarts": {"count": 3, "epochs": 2}}
    built = []

    def build(s):
        built.append(s)
        return build_model(SPECS["on"], 3, seed=s)

    seed, trials = screen_seeds(build, train, val, tau=tau, cfg=cfg)
    assert [t["seed"] for t in trials] == [3 + i * RESTART_SEED_STRIDE for i in range(3)] == built
    assert seed == min(trials, key=lambda t: t["val_loss"])["seed"]
    short = {**cfg, "epochs": 2, "early_stopping": {**cfg["early_stopping"], "patience": 2}}
    again = fit(build_model(SPECS["on"], 3, seed=seed), train, val, tau=tau, cfg=short, seed=seed)
    assert again.best_val_loss == next(t["val_loss"] for t in trials if t["seed"] == seed)
    built.clear()
    assert screen_seeds(build, train, val, tau=tau, cfg={**cfg, "restarts": {"count": 1, "epochs": 2}}) == (3, [])
    assert built == []


def _settling(n_each=6, T=120, dt=0.05):
    """Trajectories relaxing as z' = −(z − c) onto c = (±1, ±1, 0.5), n_each onto each."""
    rng = np.random.default_rng(5)
    centers = np.array([[1.0, 1.0, 0.5], [-1.0, -1.0, 0.5]])
    c = np.repeat(centers, n_each, axis=0)[:, None, :]
    z0 = c[:, 0] + rng.normal(scale=0.8, size=(2 * n_each, 3))
    t = np.arange(T)[None, :, None] * dt
    return c + (z0[:, None, :] - c) * np.exp(-t), dt


def test_end_state_score_is_the_worst_populated_state_to_its_nearest_stable_point():
    """score = max over end states reached by ≥ MIN_POPULATION trajectories of |h − x*| / |h|,
    x* the nearest stable fixed point. For x' = x − x³ (stable ±1) and trajectories settling on
    ±1 it is 0; for x' = −(x − ½)(x + 1)x (stable ½ and −1) the state +1 is ½ from ½; a state
    reached by fewer trajectories is not judged; none populated enough is an error."""
    from onsagerflow.stages.end_state_selection import MIN_POPULATION, end_state_score

    k = MIN_POPULATION
    ends = np.concatenate([np.full((k, 10, 1), 1.0), np.full((k, 10, 1), -1.0), np.full((k - 1, 10, 1), 3.0)])
    frames = np.linspace(-1.2, 1.2, 25)[:, None]
    kw = dict(length_scale=1.0, field_scale=1.0, seed=0)
    score, states = end_state_score(lambda x, a: x - x**3, ends, frames, **kw)
    assert score < 1e-6 and sorted(len(s["trajectories"]) for s in states) == [k, k]
    score, _ = end_state_score(lambda x, a: -(x - 0.5) * (x + 1.0) * x, ends, frames, **kw)
    assert score == pytest.approx(0.5, rel=1e-6)
    with pytest.raises(ValueError, match="no end state is reached"):
        end_state_score(lambda x, a: x - x**3, ends[: k - 1], frames, **kw)


def test_end_state_restarts_keep_the_full_run_of_the_candidate_nearest_the_end_states():
    """Each candidate (seed + 1000·i) is a full run; the chosen one has the smallest largest
    end-state distance (the validation loss breaks ties), and its run is what is returned."""
    from onsagerflow.stages.end_state_selection import judged, select_by_end_states
    from onsagerflow.training.restarts import RESTART_SEED_STRIDE

    u, dt = _settling()
    norm = Normalizer.fit(u, dt)
    train = make_windows(norm.encode(u[::2]), lag=1, seed=0)
    val = make_windows(norm.encode(u[1::2]), lag=1, seed=1)
    cfg = {**CFG, "seed": 2, "restarts": {"count": 3, "epochs": 2, "select": "end_states"}}
    tau = dt / norm.time_scale

    def candidate(s):
        result = fit(build_model(SPECS["on"], 3, seed=s), train, val, tau=tau, cfg=cfg, seed=s)
        return judged(result, result.model, norm, u, u)

    seed, trials, chosen = select_by_end_states(candidate, count=3, seed=2)
    result = chosen.result
    assert [t["seed"] for t in trials] == [2 + i * RESTART_SEED_STRIDE for i in range(3)]
    assert all(t["populations"] == [6, 6] for t in trials)

    def key(t):
        return (np.inf if t["end_state_distance"] is None else t["end_state_distance"], t["val_loss"])

    best = min(trials, key=key)
    assert seed == best["seed"] and result.best_val_loss == best["val_loss"]
    again = fit(build_model(SPECS["on"], 3, seed=seed), train, val, tau=tau, cfg=cfg, seed=seed)
    assert again.best_val_loss == result.best_val_loss  # the candidate's run is the run


def test_amsgrad_changes_the_updates():
    """AMSGrad divides by the running maximum of Adam's second moment, not by the moment itself:
    from the second step on its updates differ from Adam's."""
    train, val, tau = _windows()
    cfg = {**CFG, "epochs": 2}
    losses = [
        fit(build_model(SPECS["on"], 3, seed=0), train, val, tau=tau, cfg={**cfg, "amsgrad": a}, seed=0).history
        for a in (False, True)
    ]
    assert losses[0]["val_loss"].iloc[0] != losses[1]["val_loss"].iloc[0]


def test_plateau_monitor_follows_the_chosen_loss():
    """The rate is reduced on the monitored loss alone: with validation windows (z₀, z₀), whose
    loss |Φ_τ(z₀) − z₀|²/τ² does not follow the training loss, a plateau (patience 1) on each
    gives another schedule."""
    u, _, dt = linear_data()
    norm = Normalizer.fit(u[:6], dt)
    train = make_windows(norm.encode(u[:6]), lag=1, seed=0)
    still = np.repeat(train[:, :1], 2, axis=1)
    cfg = {**CFG, "epochs": 6, "plateau": {**CFG["plateau"], "patience": 1}}

    def schedule(monitor, val):
        c = {**cfg, "plateau": {**cfg["plateau"], "monitor": monitor}}
        h = fit(build_model(SPECS["on"], 3, seed=0), train, val, tau=dt / norm.time_scale, cfg=c, seed=0).history
        return h["lr"].tolist()

    assert schedule("val", still) != schedule("train", still)


def _settling_fields(tmp_path, n=24, T=40, dt=0.1):
    """An RBC-shaped store of fields settling as exp(−t) onto ±P (P a fixed pattern), half
    the trajectories onto each, reduced to 3 PCs: the latent store and the PCA's folder."""
    from onsagerflow.data import Split, build_dataset, write_store
    from onsagerflow.provenance import stamp
    from onsagerflow.stages import reduce
    from onsagerflow.systems.rbc import LENGTH

    rng = np.random.default_rng(0)
    nz, nx = 3, 6
    P, Q, R = rng.normal(size=(3, 3, nz, nx))
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    a, b = rng.normal(size=(2, n))
    decay = np.exp(-np.arange(T) * dt)
    f = (
        sign[:, None, None, None, None] * P * (1.0 - 0.5 * decay)[None, :, None, None, None]
        + (a[:, None] * decay)[:, :, None, None, None] * Q
        + (b[:, None] * decay**2)[:, :, None, None, None] * R
    )
    split = np.full(n, Split.TRAIN, np.int8)
    split[16:20], split[20:] = Split.VAL, Split.TEST  # 10 train and val trajectories reach each state
    dims = ("trajectory", "time", "z", "x")
    ds = build_dataset(
        system="settling",
        data_vars={k: (dims, f[:, :, i], {"units": "1", "long_name": k}) for i, k in enumerate(("u", "w", "theta"))},
        time=np.arange(T) * dt,
        split=split,
        coords={"z": (("z",), np.linspace(0, 1, nz)), "x": (("x",), np.arange(nx) * LENGTH / nx)},
        attrs=stamp({}) | {"system_type": "rbc", "length": LENGTH},
    )
    write_store(ds, tmp_path / "fields.zarr", dims=("z", "x"))
    red = validated_block("pca", {"components": 3, "latent_dims": [2]})
    reduce.run({"name": "settling", "reduction": red}, str(tmp_path / "fields.zarr"), str(tmp_path))
    return tmp_path


def test_end_state_restarts_choose_among_chart_runs_in_each_runs_own_chart(tmp_path):
    """A PCA-ResNet run (training.restarts.select: end_states) trains each candidate chart on
    the pre-trained dynamics, judges its fixed points against the train and val end states
    encoded by that candidate's own chart, and writes the chosen candidate's run: the same
    parameters as that seed trained alone."""
    from onsagerflow.config import load_config, stage_spec
    from onsagerflow.config.paths import LATENT_STORE
    from onsagerflow.stages import train as train_stage
    from onsagerflow.training.restarts import RESTART_SEED_STRIDE

    folder = _settling_fields(tmp_path)
    data = str(folder / LATENT_STORE)
    tiny = Path(__file__).parent / "configs" / "rbc_tiny.yaml"
    config = load_config(str(tiny), {"results": str(tmp_path / "results")})
    plain = stage_spec(config, "train", "rbc_tiny", "onsagernet-n3")
    chart = stage_spec(config, "train", "rbc_tiny", "onsagernet_resnet-n3")
    pairs = {**plain["pairs"], "tau": 0.1}
    plain = {**plain, "latent": 2, "pairs": pairs, "training": {**plain["training"], "epochs": 40}}
    train_stage.run(plain, data, str(tmp_path / "plain"))
    restarts = {"count": 2, "epochs": 1, "select": "end_states"}
    chart = {**chart, "latent": 2, "pairs": pairs, "training": {**chart["training"], "epochs": 8, "restarts": restarts}}
    train_stage.run(chart, data, str(tmp_path / "chart"), pretrained=str(tmp_path / "plain"))
    model, norm, meta = load_checkpoint(tmp_path / "chart")
    trials = meta["restarts"]["trials"]
    assert [t["seed"] for t in trials] == [0, RESTART_SEED_STRIDE]
    assert all(t["populations"] == [10, 10] for t in trials)

    def key(t):
        return (np.inf if t["end_state_distance"] is None else t["end_state_distance"], t["val_loss"])

    best = min(trials, key=key)
    assert meta["restarts"]["seed"] == best["seed"] and meta["best_val_loss"] == best["val_loss"]
    # the kept run's distances are those of its own chart: train and val encoded by it
    from onsagerflow.data import open_store, split_mask
    from onsagerflow.stages.end_state_selection import end_state_score, judged

    ds = open_store(data)
    y = ds["h"].values[split_mask(ds, "train") | split_mask(ds, "val")]
    ends = np.asarray(model.encode(jnp.asarray(y, jnp.float32)), np.float64)
    c = judged(None, model.dynamics, norm, ends, ends)
    _, states = end_state_score(
        c.field, c.ends, c.frames, args=c.args, length_scale=c.length_scale, field_scale=c.field_scale, seed=0
    )
    # a float32 model, encoded and solved in another compiled program: equal to float32 round-off
    got = [st["nearest_stable_relative_distance"] for st in states]
    np.testing.assert_allclose(got, best["distances"], rtol=1e-4)
    alone = {**chart, "training": {**chart["training"], "seed": best["seed"], "restarts": {**restarts, "count": 1}}}
    train_stage.run(alone, data, str(tmp_path / "alone"), pretrained=str(tmp_path / "plain"))
    model_alone, _, _ = load_checkpoint(tmp_path / "alone")
    for x, y in zip(jax.tree.leaves(nnx.state(model, nnx.Param)), jax.tree.leaves(nnx.state(model_alone, nnx.Param))):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
