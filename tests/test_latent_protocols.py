"""E(T) and N_fail under PRF21's own definitions, horizon targets on burst grids, windows and the
time scale inside bursts."""

import numpy as np
import pytest

from onsagerflow.analysis.metrics import authors_horizon_error, authors_n_fail, horizon_targets
from onsagerflow.data.timegrid import time_grid
from onsagerflow.models.normalizer import Normalizer
from onsagerflow.training import make_windows

PAIRS = (np.arange(100)[:, None] + np.array([0.0, 0.001])[None, :]).ravel()  # h(t), h(t + 0.001)


def test_authors_n_fail_divides_by_the_largest_norm_on_the_trajectory():
    """N_fail = #{trajectories : |ĥ(99) − h(99)| / max_t |h(t)| > 0.3}, a hand-made case: the
    same end distance 3 fails on a trajectory whose largest |h| is 9 (3/9 = 0.33) and passes on
    one whose largest |h| is 12 (0.25), though both end at |h(99)| = 5 (relative error 0.6, a
    failure by the end-point measure). A diverged rollout fails."""
    distance = np.array([3.0, 3.0, 0.1, np.inf])
    biggest = np.array([9.0, 12.0, 1.0, 10.0])
    assert authors_n_fail(distance, biggest, 0.3) == 2
    assert authors_n_fail(distance, biggest, 0.34) == 1
    assert authors_n_fail(np.array([np.nan]), np.array([1.0]), 0.3) == 1


def test_authors_horizon_error_divides_by_the_trajectory_rms():
    # per trajectory: RMS over starts of |ĥ − h| (errors 3 and 4 → √12.5), over the RMS of |h|
    truth = np.zeros((2, 2, 2))
    pred = np.array([[[3.0, 0.0], [0.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
    e = authors_horizon_error(pred, truth, np.array([5.0, 1.0]))
    assert e["per_trajectory"] == pytest.approx([np.sqrt(12.5) / 5.0, 0.0])
    assert e["mean"] == pytest.approx(np.sqrt(12.5) / 10.0)
    pred[1, 0, 0] = np.nan
    e = authors_horizon_error(pred, truth, np.array([5.0, 1.0]))
    assert e["n_infinite"] == 1 and np.isinf(e["mean"])


def test_horizon_targets_on_snapshot_pairs():
    starts = time_grid(PAIRS).starts
    np.testing.assert_array_equal(horizon_targets(PAIRS, starts[:3], 0.001), [1, 3, 5])  # the partner
    np.testing.assert_array_equal(horizon_targets(PAIRS, starts[:3], 1.0), [2, 4, 6])  # the next burst
    t99 = horizon_targets(PAIRS, starts, 99.0)
    assert t99[0] == 198 and np.all(t99[1:] == -1)  # only the start at t = 0 reaches t = 99
    assert np.all(horizon_targets(PAIRS, starts, 0.5) == -1)  # no sample half a unit later
    uniform = np.arange(10) * 0.1
    np.testing.assert_array_equal(horizon_targets(uniform, np.array([0, 3, 8]), 0.2), [2, 5, -1])


def test_windows_and_time_scale_stay_inside_bursts():
    grid = time_grid(PAIRS)
    u = np.stack([PAIRS**2, -PAIRS], axis=-1)[None]  # one trajectory, (1, 200, 2)
    w = make_windows(u, lag=1, per_trajectory=None, starts=grid.pair_starts(1))
    assert w.shape == (100, 2, 2)
    np.testing.assert_allclose(w[:, 1, 1] - w[:, 0, 1], -0.001)  # every pair 0.001 apart, none across a gap
    some = make_windows(u, lag=1, per_trajectory=10, starts=grid.pair_starts(1), seed=3)
    assert some.shape == (10, 2, 2) and np.allclose(some[:, 1, 1] - some[:, 0, 1], -0.001)
    # the time scale from one-step differences inside bursts: dz/dt of the second coordinate is
    # −1/scale exactly; across the gaps it would be about −1/scale too, but the first coordinate's
    # jumps over a whole unit would be counted as if 0.001 apart
    norm = Normalizer.fit(u, grid.step, steps=grid.pair_starts(1))
    dz = np.diff(u[0], axis=0)[grid.pair_starts(1)] / grid.step / norm.scale
    assert norm.time_scale == pytest.approx(1 / np.sqrt(np.mean(dz**2)))
    wrong = Normalizer.fit(u, grid.step)
    assert wrong.time_scale < 0.01 * norm.time_scale
