"""A discrete-time LSTM baseline (PRF21's Table III): stacked LSTM cells step a reduced state
from one coarse sample to the next, x_{k+1} = Dense(h_k), the cells' initial (h, c) predicted
from the first state by a small sigmoid network per layer, so a rollout can start from any
single state. It is not a vector field: no fixed points, no orbits, only rollouts on the grid it
was trained on. States enter and leave in normalised units (the caller scales them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class LSTMBaseline(nnx.Module):
    def __init__(self, n: int, *, hidden: int, init_hidden: int, layers: int, rngs: nnx.Rngs):
        self.n, self.hidden = n, hidden
        self.cells = nnx.List(
            [nnx.OptimizedLSTMCell(n if i == 0 else hidden, hidden, rngs=rngs) for i in range(layers)]
        )
        self.init_in = nnx.List([nnx.Linear(n, init_hidden, rngs=rngs) for _ in range(layers)])
        self.init_out = nnx.List([nnx.Linear(init_hidden, 2 * hidden, rngs=rngs) for _ in range(layers)])
        self.readout = nnx.Linear(hidden, n, rngs=rngs)

    def initial_carry(self, x0):
        """Per layer (c, h) of a batch of first states x0 (B, n)."""
        out = []
        for a, b in zip(self.init_in, self.init_out, strict=True):
            ch = b(jax.nn.sigmoid(a(x0)))
            out.append((ch[..., : self.hidden], ch[..., self.hidden :]))
        return tuple(out)

    def step(self, carry, x):
        """One sample on: the new carry and the predicted next state."""
        new = []
        for cell, c in zip(self.cells, carry, strict=True):
            c, x = cell(c, x)
            new.append(c)
        return tuple(new), self.readout(x)

    def teacher_forced(self, seq):
        """Predictions of seq[:, 1:] from seq[:, :-1] (B, L+1, n), each step fed the true state."""
        carry = self.initial_carry(seq[:, 0])

        def body(carry, x):
            return self.step(carry, x)

        _, pred = nnx.scan(body, in_axes=(nnx.Carry, 1), out_axes=(nnx.Carry, 1))(carry, seq[:, :-1])
        return pred

    def rollout(self, x0, steps: int):
        """Closed loop from x0 (B, n): the states after 1, …, steps samples (B, steps, n)."""
        carry = self.initial_carry(x0)

        def body(state, _):
            carry, x = state
            carry, y = self.step(carry, x)
            return (carry, y), y

        _, ys = nnx.scan(body, in_axes=(nnx.Carry, None), out_axes=(nnx.Carry, 1), length=steps)((carry, x0), None)
        return ys


def lstm_rollout(model: LSTMBaseline, x0: jnp.ndarray, steps: int) -> jnp.ndarray:
    """``model.rollout`` jitted for one (model, steps)."""
    graphdef, state = nnx.split(model)

    @jax.jit
    def run(state, x0):
        return nnx.merge(graphdef, state).rollout(x0, steps)

    return run(state, x0)
