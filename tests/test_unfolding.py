"""Unfolding times by both definitions, on hand-made extension paths."""

import numpy as np
import pytest

from onsagerflow.analysis.unfolding import final_fraction_time, threshold_time, unfolding_times

T = np.arange(6) * 0.5  # 0, 0.5, ..., 2.5


def test_threshold_time_is_the_first_time_the_extension_reaches_the_threshold():
    ext = np.array([[0.0, 1.0, 2.0, 3.0, 4.0, 4.0], [0.0, 0.0, 3.0, 2.0, 3.0, 3.0], [0.0, 0.5, 1.0, 1.0, 1.0, 1.0]])
    # reaching counts (≥): the first path reaches 2 at t = 1.0; the third never reaches it
    np.testing.assert_array_equal(threshold_time(ext, T, 2.0), [1.0, 1.0, np.inf])


def test_final_fraction_time_is_relative_to_each_paths_own_final_extension():
    """NCS24: first t with Z1(t) > 0.95 Z1(t_end), path by path."""
    ext = np.array(
        [
            [0.0, 1.0, 2.0, 3.0, 9.6, 10.0],  # 0.95 × 10 = 9.5: first exceeded at t = 2.0
            [0.0, 0.0, 3.0, 3.0, 3.0, 3.0],  # settles low (never reaches the threshold 5): 2.85 at t = 1.0
            [0.0, 9.5, 12.0, 8.0, 9.0, 10.0],  # overshoots, then relaxes: the first crossing counts
            [0.0, 1.0, 2.0, 3.0, 9.5, 10.0],  # exactly 0.95 × final: not exceeded, so t = 2.5
        ]
    )
    np.testing.assert_allclose(final_fraction_time(ext, T, 0.95), [2.0, 1.0, 1.0, 2.5])
    # the same paths by a fixed threshold of 5: the second never unfolds
    np.testing.assert_array_equal(threshold_time(ext, T, 5.0), [2.0, np.inf, 0.5, 2.0])


def test_an_escaped_path_never_unfolds_by_the_final_fraction():
    ext = np.array([[0.0, 5.0, 9.0, np.nan, np.nan, np.nan]])
    assert final_fraction_time(ext, T, 0.95)[0] == np.inf
    assert threshold_time(ext, T, 8.0)[0] == 1.0


def test_unfolding_times_dispatches_and_names_a_wrong_definition():
    ext = np.array([[0.0, 1.0, 2.0, 3.0, 4.0, 4.0]])
    assert unfolding_times(ext, T, "threshold", threshold=3.0, fraction=0.95)[0] == 1.5
    assert unfolding_times(ext, T, "final_fraction", threshold=3.0, fraction=0.95)[0] == 2.0  # 4 > 3.8
    with pytest.raises(ValueError, match="'median'"):
        unfolding_times(ext, T, "median", threshold=3.0, fraction=0.95)
