"""Fixed points, rollouts and error statistics against known answers."""

import numpy as np
import pytest
from conftest import lorenz_spec

from onsagerflow.analysis.fixed_points import classify, find_fixed_points, match_exact
from onsagerflow.analysis.metrics import error_at, relative_error, time_to_threshold
from onsagerflow.analysis.rollout import ROWS, _chunks, _solver, integrate
from onsagerflow.systems.lorenz import exact_fixed_points, field


@pytest.mark.parametrize(
    "r,kinds",
    [(28.0, ["saddle-1", "saddle-2-focus", "saddle-2-focus"]), (16.0, ["saddle-1", "stable-focus", "stable-focus"])],
)
def test_finds_and_classifies_the_exact_lorenz_fixed_points(r, kinds):
    """r = 28: origin has one unstable direction, C± a pair of unstable complex
    eigenvalues; r = 16 (< 24.74, the subcritical Hopf point): C± are stable foci."""
    spec = lorenz_spec(r=r)
    f = field(spec)
    starts = np.random.default_rng(0).uniform([-20, -20, -5], [20, 20, 40], size=(64, 3))
    found = find_fixed_points(lambda x, a: f(x), starts, length_scale=10.0, field_scale=100.0)
    assert len(found) == 3
    exact = exact_fixed_points(spec)
    matched = match_exact(found, exact, f, length_scale=10.0)
    assert [m["kind"] for m in matched] == kinds
    assert all(m["kind_matches"] and m["distance"] < 1e-8 for m in matched)
    assert sum(p["newton_start_fraction"] for p in found) <= 1.0


def test_classify():
    assert classify(np.array([-1.0, -2.0])) == "stable"
    assert classify(np.array([-1.0 + 2j, -1.0 - 2j])) == "stable-focus"
    assert classify(np.array([1.0, -2.0, -3.0])) == "saddle-1"
    assert classify(np.array([1.0, 2.0])) == "unstable"
    assert classify(np.array([0.0, -1.0])) == "non-hyperbolic"


@pytest.mark.slow
def test_rollout_matches_exact_solution_and_flags_blow_up():
    # x' = −x: exact e^{−t}x₀;  x' = x²: blows up at t = 1/x₀
    t = np.linspace(0, 2, 21)
    xs, ok = integrate(lambda x, a: -x, np.array([[1.0], [2.0]]), t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs[:, :, 0], np.exp(-t)[None] * np.array([[1.0], [2.0]]), rtol=1e-8)
    assert ok.all()
    xs, ok = integrate(lambda x, a: x**2, np.array([[1.0], [0.1]]), t, bound=100.0)
    assert ok.tolist() == [False, True]
    assert np.isnan(xs[0, -1, 0]) and np.isfinite(xs[0, 5, 0])  # stopped after t ≈ 0.99
    np.testing.assert_allclose(xs[1, :, 0], 0.1 / (1 - 0.1 * t), rtol=1e-5)


def test_batches_of_any_size_share_a_few_programs_and_rows_stay_independent():
    """Batches of 1 to 300 rollouts of dx/dt = −a x run on at most len(ROWS) compiled programs
    for one time grid (padding rows and save times instead of a program per shape), and each
    row is its own exact solution x₀ e^(−a t), whatever batch it was padded into."""
    import jax.numpy as jnp

    def decay(x, a):
        return -a * x

    t = np.linspace(0.0, 1.0, 11)
    for n in (1, 5, 17, 64, 100, 300):
        x0 = np.linspace(-1.0, 1.0, 2 * n).reshape(n, 2)
        xs, ok = integrate(decay, x0, t, args=jnp.asarray(0.7), rtol=1e-10, atol=1e-12)
        assert ok.all() and xs.shape == (n, len(t), 2)
        np.testing.assert_allclose(xs, x0[:, None, :] * np.exp(-0.7 * t)[None, :, None], atol=1e-9)
    assert _solver(decay, 200_000)._cache_size() <= len(ROWS)
    # the chunks: one rung per call, padding fewer rows than the batch has (from 16 on) and never
    # more than the largest rung within the batch would
    for n in range(1, 3000):
        chunks = _chunks(n)
        size = chunks[0][1]
        base = max([r for r in ROWS if r <= n], default=ROWS[0])
        assert len({s for _, s in chunks}) == 1 and size in ROWS and len(chunks) * size >= n
        assert len(chunks) * size - n <= -n % base and (n < 16 or len(chunks) * size - n < n), n
    assert _chunks(250) == [(0, 256)] and _chunks(100) == [(0, 64), (64, 64)] and _chunks(5) == [(0, 16)]
    assert _chunks(32) == [(0, 16), (16, 16)] and _chunks(128) == [(0, 64), (64, 64)]


def test_relative_error_statistics():
    truth = np.ones((4, 5, 2))
    pred = truth.copy()
    pred[:, :, 0] += np.array([0.0, 0.05, 0.1, 0.2, 0.3]) * np.sqrt(2)  # rel. err = 0, .05, .1, .2, .3
    pred[3, 2:] = np.nan
    t = np.arange(5.0)
    err = relative_error(pred, truth)
    np.testing.assert_allclose(err[0], [0, 0.05, 0.1, 0.2, 0.3])
    assert np.isinf(err[3, 2])
    thr = time_to_threshold(err, t, 0.1)
    assert thr["per_trajectory"] == [3.0, 3.0, 3.0, 2.0] and thr["censored"] == 0
    # a trajectory that never crosses is censored at the last time and counted
    assert time_to_threshold(err[:1], t, 0.5) == {
        "threshold": 0.5,
        "median": 4.0,
        "mean": 4.0,
        "censored": 1,
        "per_trajectory": [4.0],
    }
    at = error_at(err, t, [1.0])
    assert list(at) == ["1"] and at["1"]["median"] == pytest.approx(0.05)
    with pytest.raises(ValueError, match=r"error times \[9\.0\] lie beyond the last time 4"):
        error_at(err, t, [1.0, 9.0])  # never dropped without a word


def test_tables_add_the_mean_and_std_over_seeds_after_the_seed_copies():
    import pandas as pd

    from onsagerflow.stages.table import to_markdown, with_seed_summaries

    df = pd.DataFrame(
        [
            {"system": "a", "n": 3, "model": "onsagernet_s1", "params": 10, "err": 0.01, "bounded": "9/10"},
            {"system": "a", "n": 3, "model": "onsagernet_s2", "params": 10, "err": 0.03, "bounded": "10/10"},
            {"system": "a", "n": 3, "model": "mlp_ode", "params": 11, "err": 0.05, "bounded": "10/10"},
            {"system": "a", "n": 7, "model": "onsagernet_s1", "params": 20, "err": 0.02, "bounded": "10/10"},
        ]
    )
    out = with_seed_summaries(df)
    # one summary, right after the two seeds of n = 3; the lone seed of n = 7 gets none
    assert list(out["model"]) == [
        "onsagernet_s1",
        "onsagernet_s2",
        "**onsagernet: mean ± std of 2 seeds**",
        "mlp_ode",
        "onsagernet_s1",
    ]
    s = out.iloc[2]
    assert s["params"] == 10 and s["bounded"] == "19/20"
    assert s["err"] == "0.02 ± 0.014"  # mean 0.02, sample std 0.01·√2
    assert "mean ± std of 2 seeds" in to_markdown(df)
    # counts with a unit ("9/10 paths") are summed too, keeping the unit
    df["bounded"] = ["9/10 paths", "10/10 paths", "10/10 paths", "10/10 paths"]
    assert with_seed_summaries(df).iloc[2]["bounded"] == "19/20 paths"


def test_covariance_error_uses_the_paths_still_there_at_each_time():
    from onsagerflow.analysis.ensembles import covariance_error

    rng = np.random.default_rng(0)
    truth = rng.normal(size=(400, 5, 2))
    pred = rng.normal(size=(400, 5, 2))
    clean = covariance_error(pred, truth)
    escaped = pred.copy()
    escaped[0, 2:] = np.nan  # one path escapes at t = 2: NaN from there on
    # each time uses the paths still there: before t = 2 all 400, from t = 2 the other 399
    # (the error is the mean over the 5 times of the per-time relative error)
    expected = (2 * covariance_error(pred[:, :2], truth[:, :2]) + 3 * covariance_error(pred[1:, 2:], truth[:, 2:])) / 5
    assert covariance_error(escaped, truth) == pytest.approx(expected, rel=1e-12)
    assert np.isfinite(clean)


def test_a_model_that_lost_every_path_of_an_ensemble_still_gets_a_baselines_row():
    """Where every path of one ensemble escaped by some time, its moment errors are NaN (None
    in metrics.json): the baselines row leaves the means over ensembles empty instead of
    failing, and 'bounded' counts the escapes."""
    from onsagerflow.analysis.ensembles import moment_errors
    from onsagerflow.stages.table_rows import baseline_row

    truth = np.random.default_rng(0).normal(size=(4, 5))
    escaped = np.array(truth)
    escaped[:, 3:] = np.nan  # every path gone from t_3 on
    assert np.isnan(moment_errors(escaped, truth)["max_mean_error"])
    ok = {"max_mean_error": 0.1, "max_std_error": 0.2}
    gone = {"max_mean_error": None, "max_std_error": None}
    m = {
        "system": "p",
        "model_key": "sindy_drift",
        "model_type": "sindy",
        "param_count": 10,
        "latent": 3,
        "paths": {"n": 8, "n_bounded": 4},
        "ensembles": [
            {"extension": ok, "unfolding_time": {"wasserstein1_relative": 0.1}},
            {"extension": gone, "unfolding_time": {"wasserstein1_relative": 0.3}},
        ],
    }
    r = baseline_row(m)
    assert r["short-term error"] is None and r["ensemble std error"] is None
    m["ensembles"][1]["extension"] = {"max_mean_error": float("nan"), "max_std_error": 0.3}  # not yet JSON
    assert baseline_row(m)["short-term error"] is None
    assert r["unfolding W1/mean"] == pytest.approx(0.2) and r["bounded"] == "4/8 paths"
