"""onsagerflow.load: a checkpoint as functions of physical states. The structure must survive
the change of units: with D = diag(scale) and T the time scale, M_x = D M D / T,
W_x = D W D / T, f_x = D f / T, ∇ₓV = D⁻¹∇_zV, σ_x = D σ / √T, and
dx/dt = −(M_x + W_x)∇ₓV + f_x = D g(z) / T for the model g in normalised units.
(The docs example runs on a workflow's run in tests/test_workflow.py.)"""

import jax
import numpy as np
import pytest
from flax import nnx

import onsagerflow
from onsagerflow.config.validate import validated_block
from onsagerflow.models import build_model
from onsagerflow.models.normalizer import Normalizer
from onsagerflow.training.checkpoint import save_checkpoint

NORM = Normalizer(mean=np.array([1.0, -2.0, 0.5]), scale=np.array([2.0, 0.5, 3.0]), time_scale=0.3)


def spec(kind, **kw):
    # A model block as the workflow hands it over: the schema's defaults filled.
    return validated_block(
        "model",
        {
            "type": kind,
            "width": 8,
            "depth": 2,
            "potential_dim": 4,
            "alpha": 0.2,
            "beta": 0.2,
            "activation": "requr",
            "forcing": "linear",
            "dtype": "float64",
            **kw,
        },
    )


def saved(tmp_path, model_spec, seed=0):
    """A randomised model saved where the workflow puts runs: results/models/<system>/<run>."""
    net = build_model(model_spec, 3, seed=seed)
    graphdef, state = nnx.split(net)
    keys = iter(jax.random.split(jax.random.key(seed + 7), 64))
    state = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(next(keys), a.shape, a.dtype), state)
    net = nnx.merge(graphdef, state)
    path = tmp_path / "results" / "models" / "sys" / "run"
    save_checkpoint(path, net, meta={"model_spec": model_spec, "n": 3, "seed": seed, "run": "run"}, normalizer=NORM)
    return path, net


@pytest.fixture
def states():
    return np.random.default_rng(1).normal(size=(6, 3)) * 3.0


def test_onsagernet_structure_in_physical_units(tmp_path, states):
    path, net = saved(tmp_path, spec("onsagernet"))
    model = onsagerflow.load(path)
    assert model.has_potential and not model.stochastic and model.sigma(states) is None
    M, W = model.matrices(states)
    np.testing.assert_allclose(M, np.swapaxes(M, -1, -2), atol=1e-12)
    assert (np.linalg.eigvalsh(M) > 0).all()
    np.testing.assert_allclose(W, -np.swapaxes(W, -1, -2), atol=1e-12)
    dxdt = model.vector_field(states)
    structured = -np.einsum("kij,kj->ki", M + W, model.potential_gradient(states)) + model.forcing(states)
    np.testing.assert_allclose(dxdt, structured, rtol=1e-10, atol=1e-10)
    # and the same field as the network in normalised units, mapped back
    z = (states - NORM.mean) / NORM.scale
    np.testing.assert_allclose(dxdt, NORM.scale * np.asarray(net(z)) / NORM.time_scale, rtol=1e-10)
    np.testing.assert_allclose(model.potential(states), np.asarray(net.potential(z)), rtol=1e-12)


def test_potential_gradient_is_the_gradient_in_physical_units(tmp_path, states):
    path, _ = saved(tmp_path, spec("onsagernet"))
    model = onsagerflow.load(path)
    h = 1e-6
    fd = np.stack(
        [(model.potential(states + h * e) - model.potential(states - h * e)) / (2 * h) for e in np.eye(3)], axis=-1
    )
    np.testing.assert_allclose(model.potential_gradient(states), fd, rtol=1e-5, atol=1e-6)


def test_sigma_of_an_s_onsagernet_in_physical_units(tmp_path, states):
    path, net = saved(tmp_path, spec("s_onsagernet", diffusion="full"))
    model = onsagerflow.load(path)
    assert model.stochastic
    z = (states - NORM.mean) / NORM.scale
    expected = NORM.scale[:, None] * np.asarray(net.sigma(z)) / np.sqrt(NORM.time_scale)
    np.testing.assert_allclose(model.sigma(states), expected, rtol=1e-12)
    # short paths from the normalisation's centre (a random network is stiff far out)
    paths = model.sample_paths(NORM.mean, np.linspace(0, 0.002, 5), n_paths=3, dt=1e-4)
    assert paths.shape == (3, 5, 3) and np.isfinite(paths).all()
    np.testing.assert_allclose(paths[:, 0], np.broadcast_to(NORM.mean, (3, 3)))
    assert not np.allclose(paths[0, -1], paths[1, -1])  # each realisation its own noise


@pytest.mark.slow  # heavy: run with -m slow
def test_rollout_and_fixed_points_from_given_starts(tmp_path, states):
    path, _ = saved(tmp_path, spec("onsagernet"))
    model = onsagerflow.load(path)
    t = np.linspace(0.0, 0.2, 11)
    xs = model.rollout(states[:2], t)
    assert xs.shape == (2, 11, 3)
    np.testing.assert_allclose(xs[:, 0], states[:2])
    assert model.rollout(states[0], t).shape == (11, 3)
    for p in model.fixed_points(states):
        assert np.linalg.norm(model.vector_field(np.asarray(p["x"]))) < 1e-5 * np.linalg.norm(NORM.scale) / 0.3


def test_a_model_without_structure_says_so(tmp_path, states):
    mlp = validated_block(
        "model", {"type": "mlp_ode", "width": 8, "depth": 1, "activation": "tanh", "dtype": "float64"}
    )
    path, _ = saved(tmp_path, mlp)
    model = onsagerflow.load(path)
    assert model.vector_field(states).shape == (6, 3)
    with pytest.raises(AttributeError, match="mlp_ode model: it has no potential"):
        model.potential(states)


def test_load_names_a_path_that_is_no_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a trained run"):
        onsagerflow.load(tmp_path / "nothing")
    with pytest.raises(ValueError, match="states need 3 components"):
        onsagerflow.load(saved(tmp_path, spec("onsagernet"))[0]).vector_field(np.zeros(2))
