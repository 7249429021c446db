"""Figures: axes, lines and labels with units taken from the stores; saved files that are
pictures (not blank) and carry provenance. The slow workflow tests apply assert_figure to
every figure of a run."""

import numpy as np
import xarray as xr
from conftest import assert_figure

from onsagerflow.data.cf import time_attrs
from onsagerflow.figures.attractor import attractor_figure
from onsagerflow.figures.common import save_figure
from onsagerflow.figures.errors import error_figure
from onsagerflow.figures.fields import deepest_stable_point, potential_3d_figure
from onsagerflow.figures.polymer import extension_figure
from onsagerflow.stages.figures import component_axis_labels

PROVENANCE = {"onsagerflow_version": "0", "git_sha": "abc", "config_sha256": "def", "created": "now"}


def long_store(units="m"):
    t = np.linspace(0, 1, 50)
    paths = np.stack([np.stack([np.cos(5 * t + k), np.sin(5 * t + k), t], axis=-1) for k in range(3)])
    return xr.Dataset(
        {"model": (("start", "time", "state"), paths, {"units": units, "long_name": "rollout"})},
        coords={"state": ["x", "y", "z"], "time": ("time", t, time_attrs("s"))},
    )


def curves():
    t = np.linspace(0, 1, 20)
    e = 1e-3 * np.exp(3 * t)
    return {m: {"time": t, "median": e * k, "q10": e * k / 2, "q90": e * k * 2} for k, m in ((1, "a"), (2, "b"))}


def test_component_labels_carry_the_store_units():
    assert component_axis_labels(long_store("m"), "model") == ["x [m]", "y [m]", "z [m]"]
    assert component_axis_labels(long_store("1"), "model") == [
        "x (dimensionless)",
        "y (dimensionless)",
        "z (dimensionless)",
    ]


def test_attractor_has_one_3d_panel_per_model_and_labelled_axes(tmp_path):
    ds = long_store()
    fig = attractor_figure(
        ds["model"].values,
        {"a": ds["model"].values, "b": ds["model"].values},
        {"a": [{"x": [0, 0, 0.5], "kind": "stable-focus"}]},
        np.zeros((1, 3)),
        labels=component_axis_labels(ds, "model"),
        n_show=2,
    )
    axes = fig.axes
    assert len(axes) == 3  # truth and two models
    for ax in axes:
        assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("x [m]", "y [m]", "z [m]")
        assert len(ax.lines) == 2  # n_show paths
    assert_figure(save_figure(fig, tmp_path / "attractor", PROVENANCE)[0])


def test_error_figure_time_axis_from_the_store(tmp_path):
    fig = error_figure(curves(), 0.1, time_label="time [s]")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "time [s]" and ax.get_yscale() == "log"
    assert len(ax.lines) == 3  # two medians and the threshold
    assert_figure(save_figure(fig, tmp_path / "errors", PROVENANCE)[0])


def test_extension_figure_one_panel_per_ensemble():
    t = np.linspace(0, 2, 30)
    g = {"true_mean": t, "true_std": 0.1 + 0 * t, "pred_mean": 1.1 * t, "pred_std": 0.2 + 0 * t}
    fig = extension_figure(t, {"e0": g, "e1": g}, time_label="time (relaxation time λ)")
    assert len(fig.axes) == 2
    assert all(ax.get_xlabel() == "time (relaxation time λ)" and len(ax.lines) == 2 for ax in fig.axes)


def test_potential_3d_slices_pass_through_the_deepest_stable_fixed_point(tmp_path):
    """V(h) = min(|h − a|² + 1, |h − b|²): of two stable points the deeper is b, the slices'
    centre, and the box grows to hold it; three slices, the paths and every fixed point drawn."""
    a, b = np.array([1.0, 0.0, 0.0]), np.array([-1.0, 2.0, 5.0])

    def potential(h):
        return np.minimum(((h - a) ** 2).sum(-1) + 1.0, ((h - b) ** 2).sum(-1))

    points = [{"x": a, "kind": "stable-node"}, {"x": b, "kind": "stable-focus"}, {"x": [0, 1, 2], "kind": "saddle-1"}]
    paths = [np.linspace([0, 0, 0], [1, 1, 1], 10), np.linspace([1, 0, 0], [0, 1, 0], 10)]
    fig = potential_3d_figure(potential, [-2, -2, -2], [2, 2, 2], points, paths, n_grid=9)
    ax = fig.axes[0]
    assert len(ax.collections) == 3 + len(points)  # three slices, then a marker per fixed point
    assert len(ax.lines) == len(paths)
    np.testing.assert_array_equal(deepest_stable_point(potential, points), b)
    assert deepest_stable_point(potential, points[2:]) is None
    assert ax.get_zlim()[1] >= b[2]
    assert_figure(save_figure(fig, tmp_path / "potential_3d", PROVENANCE)[0])


def test_figure_and_table_stages_import_no_jax():
    """The system figures, the accuracy bars and the tables read stored files only: their jobs
    must not import JAX and Flax (about 2 CPU-s of every such job). Model-drawing figures load
    JAX when they load a model."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "import onsagerflow.stages.figures, onsagerflow.stages.figures_fields, onsagerflow.stages.table\n"
        "heavy = sorted(m for m in ('jax', 'flax', 'diffrax', 'optax') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
