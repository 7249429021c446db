"""Periodic orbits by near-returns and Newton shooting, against orbits known exactly."""

import jax.numpy as jnp
import numpy as np
import pytest

from onsagerflow.analysis.periodic_orbits import (
    find_periodic_orbits,
    floquet_summary,
    match_orbits,
    near_returns,
    refine,
    shoot,
)
from onsagerflow.analysis.rollout import integrate

MU, OMEGA, BETA = 0.25, 2.0, 1.0


def stuart_landau(x, lam):
    """dz/dt = (μ + iω) z − (1 + iβ)|z|² z in (Re z, Im z), and dw/dt = λ w in a third variable.
    Limit cycle |z|² = μ, angular speed ω − βμ: period 2π/(ω − βμ); Floquet multipliers 1
    (along the cycle), exp(−2μT) (radial) and exp(λT)."""
    r2 = x[0] ** 2 + x[1] ** 2
    return jnp.stack(
        [
            MU * x[0] - OMEGA * x[1] - r2 * (x[0] - BETA * x[1]),
            MU * x[1] + OMEGA * x[0] - r2 * (x[1] + BETA * x[0]),
            lam * x[2],
        ]
    )


PERIOD = 2 * np.pi / (OMEGA - BETA * MU)


@pytest.mark.slow
@pytest.mark.parametrize("lam", [-0.3, 0.3])
def test_stuart_landau_period_and_multipliers(lam):
    t = np.arange(0.0, 40.0, 0.02)
    x0 = np.array([[0.05, 0.0, 0.0], [1.2, -0.8, 0.0]])
    xs, ok = integrate(stuart_landau, x0, t, args=lam, rtol=1e-10, atol=1e-12)
    assert ok.all()
    orbits = find_periodic_orbits(
        stuart_landau,
        xs,
        t,
        args=lam,
        length_scale=1.0,
        period_min=0.5,
        period_max=10.0,
        return_tol=0.05,
        max_candidates=4,
    )
    assert len(orbits) == 1  # the cycle once, not its double period or another phase of it
    o = orbits[0]
    assert abs(o["period"] - PERIOD) < 1e-6
    mu = np.array(o["multipliers_real"]) + 1j * np.array(o["multipliers_imag"])
    expected = sorted([1.0, np.exp(-2 * MU * PERIOD), np.exp(lam * PERIOD)], key=lambda m: -abs(m))
    np.testing.assert_allclose(mu, expected, atol=1e-6)
    assert o["stability"] == ("stable" if lam < 0 else "saddle-1")
    radius = np.linalg.norm(np.asarray(o["orbit"])[:, :2], axis=-1)
    np.testing.assert_allclose(radius, np.sqrt(MU), atol=1e-8)


def test_a_candidate_two_turns_long_is_reported_at_the_prime_period():
    """Newton from a point of the cycle with T̂ = 2T converges to the cycle traversed twice
    (period 2T, multipliers μ²); refine reports the prime period T and the multipliers of one
    turn, 1 and exp(−2μT), exp(λT)."""
    lam = -0.3
    on_cycle = np.array([np.sqrt(MU), 0.0, 0.0])
    (o,) = refine(stuart_landau, [(on_cycle, 2 * PERIOD)], args=lam, length_scale=1.0)
    assert abs(o["period"] - PERIOD) < 1e-6
    mu = np.array(o["multipliers_real"]) + 1j * np.array(o["multipliers_imag"])
    expected = sorted([1.0, np.exp(-2 * MU * PERIOD), np.exp(lam * PERIOD)], key=lambda m: -abs(m))
    np.testing.assert_allclose(mu, expected, atol=1e-6)


def test_the_coarse_newton_stage_ends_where_tight_solves_alone_end():
    """Newton first converges with loose solves (COARSE_RTOL), then polishes with tight ones:
    the orbit, its period and its monodromy matrix must be those of tight solves throughout,
    to within the tight tolerance (a coarse stage that stopped early, or multipliers taken
    from a loose solve, would be off by about 1e-6). Stuart–Landau with λ = 0.3: an unstable
    cycle, whose errors Newton amplifies."""
    lam = 0.3
    start = np.array([0.55, 0.1, 0.01])  # off the cycle (radius √μ = 0.5) and off w = 0
    two = shoot(stuart_landau, start, 0.9 * PERIOD, args=lam, rtol=1e-11)
    one = shoot(stuart_landau, start, 0.9 * PERIOD, args=lam, rtol=1e-11, coarse_rtol=None)
    assert two[3] and one[3]
    assert abs(two[1] - PERIOD) < 1e-9 and abs(one[1] - PERIOD) < 1e-9
    np.testing.assert_allclose(two[0], one[0], atol=1e-9)
    np.testing.assert_allclose(two[2], one[2], atol=1e-8)
    mu = np.sort(np.abs(np.linalg.eigvals(two[2])))
    np.testing.assert_allclose(mu, np.sort([1.0, np.exp(-2 * MU * PERIOD), np.exp(lam * PERIOD)]), atol=1e-8)


@pytest.mark.slow
def test_a_damped_spiral_gives_no_candidates():
    """A stable focus: trajectories come back ever closer, but never within a tenth of how far
    they went, so no near-return is a periodic-orbit candidate."""

    def focus(x, a):
        return jnp.stack([-0.5 * x[0] - 2.0 * x[1], 2.0 * x[0] - 0.5 * x[1]])

    t = np.arange(0.0, 30.0, 0.02)
    xs, _ = integrate(focus, np.array([[1.0, 0.0], [0.0, -2.0]]), t, rtol=1e-10, atol=1e-12)
    assert near_returns(xs, t, period_min=0.5, period_max=10.0, tol=0.05, max_candidates=5) == []


@pytest.mark.slow
def test_lorenz_r16_unstable_orbit_from_the_authors_guess():
    """Lorenz-63 at r = 16: the unstable periodic orbit around C− through about
    (1.11, 1.84, 3.19) with period ≈ 1.3027 (the authors' start); period 1.3025, one multiplier
    outside the unit circle."""
    from onsagerflow.systems import lorenz

    f = lorenz.field({"parameters": {"sigma": 10.0, "r": 16.0, "b": 8.0 / 3.0}})
    orbits = refine(lambda x, a: f(x), [(np.array([1.1138, 1.8421, 3.1879]), 1.3027)], length_scale=10.0)
    assert len(orbits) == 1
    assert orbits[0]["period"] == pytest.approx(1.3025, abs=1e-4)
    assert orbits[0]["stability"] == "saddle-1"


def test_floquet_summary_and_matching():
    assert floquet_summary(np.array([1.0, 0.5, 0.2]))["stability"] == "stable"
    assert floquet_summary(np.array([3.0, 1.0, 0.01]))["stability"] == "saddle-1"
    ring = np.stack([np.cos(np.linspace(0, 2 * np.pi, 50)), np.sin(np.linspace(0, 2 * np.pi, 50))], axis=-1)
    a = {"period": 2.0, "stability": "stable", "center": [0, 0], "size": 1.0, "orbit": ring.tolist()}
    b = {**a, "period": 2.2, "orbit": (ring + [0.1, 0.0]).tolist()}
    m = match_orbits([b], [a])[0]
    assert m["relative_period_error"] == pytest.approx(0.1)
    assert m["distance"] == pytest.approx(0.1, abs=1e-9)
    assert match_orbits([], [a])[0]["nearest_learned"] is None
