"""PRF21's LSTM baseline (Table III): its closed-loop rollout and its training."""

import jax.numpy as jnp
import numpy as np
from flax import nnx

from onsagerflow.models.lstm import LSTMBaseline, lstm_rollout
from onsagerflow.stages.lstm_baseline import fit

SETTINGS = {
    "hidden": 16,
    "init_hidden": 16,
    "layers": 2,
    "epochs": 300,
    "batch_size": 32,
    "learning_rate": 3e-3,
    "sequence_length": None,
    "patience": 300,
    "seed": 0,
}


def test_the_closed_loop_rollout_is_the_teacher_forced_pass_over_its_own_predictions():
    """Feeding the rollout's own outputs back as the 'true' sequence must give the same outputs:
    both start from the carry predicted from x0 and step the same cells."""
    model = LSTMBaseline(3, hidden=8, init_hidden=8, layers=2, rngs=nnx.Rngs(1))
    x0 = jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)))
    ys = lstm_rollout(model, x0, 12)
    seq = jnp.concatenate([x0[:, None], ys], axis=1)
    np.testing.assert_allclose(np.asarray(model.teacher_forced(seq)), np.asarray(ys), rtol=1e-5, atol=1e-6)


def test_the_lstm_learns_a_rotation_better_than_standing_still():
    """On trajectories of x_{k+1} = ρ R(ω) x_k (a damped rotation, ω = 0.5, ρ = 0.97), the trained
    LSTM's 5-step rollouts from held-out states beat the trivial prediction x_{k+5} = x_k."""
    rng = np.random.default_rng(0)
    rho, w = 0.97, 0.5
    A = rho * np.array([[np.cos(w), -np.sin(w)], [np.sin(w), np.cos(w)]])

    def trajectories(count):
        x = rng.normal(size=(count, 2))
        out = [x]
        for _ in range(30):
            x = x @ A.T
            out.append(x)
        return np.stack(out, axis=1)

    train, val, test = trajectories(32), trajectories(8), trajectories(8)
    model, record = fit(train, val, 2, SETTINGS)
    assert record["epochs"] >= 1 and np.isfinite(record["best_validation_loss"])
    ys = np.asarray(lstm_rollout(model, jnp.asarray(test[:, 0]), 5))
    err = np.linalg.norm(ys[:, -1] - test[:, 5], axis=-1).mean()
    trivial = np.linalg.norm(test[:, 0] - test[:, 5], axis=-1).mean()
    assert err < 0.3 * trivial, (err, trivial)
