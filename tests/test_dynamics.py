"""A model in normalised units, seen as a vector field and potential in physical units."""

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import lorenz_spec, simulated
from flax import nnx

from onsagerflow.models.dynamics import as_float64, physical_field, physical_potential
from onsagerflow.models.normalizer import Normalizer
from onsagerflow.systems import lorenz
from onsagerflow.systems.lorenz import field


class ExactInNormalisedUnits(nnx.Module):
    """g(z) = T · D⁻¹ f(D z + m): the Lorenz field written in the normaliser's units,
    with V(z) = ½|z|² as a stand-in potential."""

    def __init__(self, norm, f):
        self.m = nnx.Variable(jnp.asarray(norm.mean))
        self.d = nnx.Variable(jnp.asarray(norm.scale))
        self.T = norm.time_scale
        self.f = f

    def __call__(self, z):
        return self.T * self.f(z * self.d[...] + self.m[...]) / self.d[...]

    def potential(self, z):
        return 0.5 * jnp.sum(z**2, axis=-1)


@pytest.mark.slow
def test_physical_field_undoes_the_normalisation_exactly():
    spec = lorenz_spec(n=6, t_end=0.5)
    u = simulated(lorenz, spec)["u"].values
    norm = Normalizer.fit(u, 0.005)
    f = field(spec)
    g = ExactInNormalisedUnits(norm, f)
    phys, args = physical_field(as_float64(g), norm)
    x = np.random.default_rng(0).uniform([-20, -20, 0], [20, 20, 40], size=(50, 3))
    np.testing.assert_allclose(
        np.asarray(phys(jnp.asarray(x), args)), np.asarray(f(jnp.asarray(x))), rtol=1e-12, atol=1e-9
    )
    V = physical_potential(g, norm)
    np.testing.assert_allclose(np.asarray(V(jnp.asarray(x))), 0.5 * np.sum(norm.encode(x) ** 2, axis=-1), rtol=1e-12)


def test_normaliser_gives_unit_scale_in_state_and_time():
    u = simulated(lorenz, lorenz_spec(n=8, t_end=0.5))["u"].values
    norm = Normalizer.fit(u, 0.005)
    z = norm.encode(u)
    np.testing.assert_allclose(z.reshape(-1, 3).mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.reshape(-1, 3).std(axis=0), 1.0, rtol=1e-12)
    dz = np.diff(z, axis=1) / (0.005 / norm.time_scale)  # dz/dt' with t' = t / time_scale
    np.testing.assert_allclose(np.sqrt(np.mean(dz**2)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(norm.decode(z), u, rtol=1e-12, atol=1e-12)
    back = Normalizer.from_dict(norm.to_dict())
    assert np.array_equal(back.mean, norm.mean) and back.time_scale == norm.time_scale
