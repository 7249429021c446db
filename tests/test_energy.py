"""The learned-potential error after alignment (PRF21 Fig. 3): zero exactly where the alignment
can undo the difference, positive otherwise."""

import jax.numpy as jnp
import numpy as np
import pytest

from onsagerflow.analysis.energy import (
    affine_alignment,
    energy_errors,
    grid,
    hessian_alignment,
    min_max_alignment,
    relative_l2,
)

_, PTS = grid([-1, -1], [1, 1], 41)


def hookean(u):
    return 0.5 * u[..., 1] ** 2 + 2.0 * u[..., 0] ** 2


def pendulum(u):
    c = np.pi / 2
    return 0.5 * u[..., 1] ** 2 + 4.0 * (1 - jnp.cos(c * u[..., 0])) / c**2


def test_affine_fit_is_zero_for_an_affine_image_and_positive_otherwise():
    H = np.asarray(pendulum(PTS))
    for a, b in [(2.5, -1.0), (0.1, 3.0), (-1.0, 0.0)]:
        aligned, info = affine_alignment(a * H + b, H)
        assert relative_l2(aligned - H, H) < 1e-12
        assert info["a"] == pytest.approx(1 / a)
    bent = H + 0.3 * PTS[:, 0] ** 4
    aligned, _ = affine_alignment(2.0 * bent, H)
    assert relative_l2(aligned - H, H) > 1e-3


def test_min_max_is_zero_for_an_increasing_affine_image_and_positive_otherwise():
    H = np.asarray(pendulum(PTS))
    aligned, _ = min_max_alignment(3.0 * H + 7.0, H)
    assert relative_l2(aligned - H, H) < 1e-12
    aligned, _ = min_max_alignment(np.sqrt(H), H)  # same level sets, other spacing
    assert relative_l2(aligned - H, H) > 1e-2


@pytest.mark.slow
def test_hessian_alignment_undoes_a_linear_change_of_variables_of_a_quadratic():
    """For quadratic H, V(x) = a·H(xB) + b has Hessian a·B H_H Bᵀ at 0; the mapped points
    y = x L_H L_V⁻¹ give V(y) − V(0) = ½ x H_H xᵀ = H(x) exactly."""
    B = np.array([[1.3, 0.4], [-0.2, 0.8]])

    def V(u):
        return 2.5 * hookean(u @ jnp.asarray(B)) + 4.0

    aligned, _ = hessian_alignment(V, hookean, PTS, np.zeros(2))
    H = np.asarray(hookean(PTS))
    assert relative_l2(aligned - H, H) < 1e-12
    # a non-quadratic energy is not undone by a linear map of a different scale
    aligned, _ = hessian_alignment(lambda u: 2.0 * pendulum(u) + 1.0, pendulum, PTS, np.zeros(2))
    Hp = np.asarray(pendulum(PTS))
    assert relative_l2(aligned - Hp, Hp) > 1e-3


def test_hessian_alignment_is_undefined_without_a_minimum():
    aligned, _ = hessian_alignment(lambda u: -hookean(u), hookean, PTS, np.zeros(2))
    assert np.isnan(aligned).all()


@pytest.mark.parametrize("how", ["hessian", "min_max"])
def test_energy_errors_of_the_exact_energy_are_zero(how):
    e = energy_errors(pendulum, pendulum, [-1, -1], [1, 1], 30, how)
    assert e["relative_l2_error"]["authors"] < 1e-12
    assert e["relative_l2_error"]["affine"] < 1e-12
    assert e["fields"]["exact"].shape == (900,)
