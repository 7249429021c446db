"""The time-grid classifier: uniform axes, bursts of snapshots, and axes that are neither."""

import numpy as np
import pytest

from onsagerflow.data.timegrid import TimeGridError, time_grid


def test_uniform_axis_is_one_burst():
    g = time_grid(np.arange(50) * 0.01)
    assert g.uniform and g.burst == 50 and g.step == pytest.approx(0.01)
    np.testing.assert_array_equal(g.coarse_time, np.arange(50) * 0.01)


def test_snapshot_pairs_as_in_prf21():
    # h(t), h(t + 0.001) at t = 0, 1, ..., 99
    t = (np.arange(100)[:, None] + np.array([0.0, 0.001])[None, :]).ravel()
    g = time_grid(t)
    assert not g.uniform and g.burst == 2 and g.step == pytest.approx(0.001)
    np.testing.assert_allclose(g.coarse_time, np.arange(100.0))
    starts = g.pair_starts(1)
    np.testing.assert_array_equal(starts, np.arange(0, 200, 2))  # never across a gap
    with pytest.raises(TimeGridError, match="does not fit in bursts of 2"):
        g.pair_starts(2)


def test_bursts_of_three_with_uneven_gaps():
    t = np.concatenate([s + 0.1 * np.arange(3) for s in (0.0, 2.0, 2.5, 7.0)])
    g = time_grid(t)
    assert g.burst == 3
    np.testing.assert_array_equal(g.starts, [0, 3, 6, 9])
    np.testing.assert_array_equal(g.pair_starts(2), [0, 3, 6, 9])


@pytest.mark.parametrize(
    "t, message",
    [
        ([0.0], "at least 2 samples"),
        ([0.0, 1.0, 1.0], "not strictly increasing"),
        ([0.0, 0.1, 0.2, 1.0, 1.1], "burst lengths \\[2, 3\\]"),
        ([0.0, 0.1, 1.0, 3.0, 3.1], "burst lengths \\[1, 2\\]"),
    ],
)
def test_axes_that_are_neither_are_named(t, message):
    with pytest.raises(TimeGridError, match=message):
        time_grid(np.asarray(t), where="run.nc")
