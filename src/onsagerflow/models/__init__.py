"""Latent dynamics models, built from a model spec of the config (``models.<key>``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
from flax import nnx

from .autoencoder import JointModel, PCAResNet
from .baselines import MLPODE, matched_width
from .layers import param_count as dense_param_count
from .onsagernet import OnsagerNet, SOnsagerNet
from .sindy import SINDy
from .symoden import SymODEN

DTYPES = {"float32": jnp.float32, "float64": jnp.float64}


def build_model(
    spec: Mapping[str, Any],
    n: int,
    *,
    seed: int,
    all_specs: Mapping[str, Mapping[str, Any]] | None = None,
    input_dim: int | None = None,
    fixed: int = 0,
    positions_dim: int | None = None,
) -> nnx.Module:
    """Instantiate the model named by ``spec['type']`` for states of dimension n.

    An MLP-ODE with ``match_params_of: <key>`` takes the hidden width that brings its
    parameter count closest to that model's (looked up in ``all_specs``). An OnsagerNet
    with an ``autoencoder`` block becomes a JointModel whose PCA-ResNet maps the
    ``input_dim`` leading PCA coordinates to n (``positions_dim``: the bead coordinates behind
    them, for a chart of form ncs24 or a loss that measures positions). An ``s_onsagernet``
    (stochastic, docs/science.md, "S-OnsagerNet") takes the OnsagerNet keys plus ``diffusion`` and optional
    ``sigma_init`` (initial noise amplitude in normalised units, default 1) and
    ``sigma_floor``. A ``symoden`` is the dissipative Hamiltonian baseline of PRF21's damped
    oscillators. A ``sindy`` model is the polynomial of its ``degree`` with zero
    coefficients until ``fit_sindy`` fills them.
    """
    if spec["type"] == "sindy":  # coefficients come from fit_sindy, not from an initialisation
        return SINDy(n, degree=spec["degree"])
    kind = spec["type"]
    if kind not in ("onsagernet", "s_onsagernet", "mlp_ode", "symoden"):
        raise ValueError(f"unknown model type '{kind}'; known: onsagernet, s_onsagernet, mlp_ode, symoden, sindy")
    rngs = nnx.Rngs(seed)
    dtype = DTYPES[spec["dtype"]]
    if kind in ("onsagernet", "s_onsagernet"):
        common = dict(
            width=spec["width"],
            depth=spec["depth"],
            potential_dim=spec.get("potential_dim"),
            alpha=spec["alpha"],
            beta=spec["beta"],
            activation=spec["activation"],
            forcing=spec["forcing"],
            architecture=spec["architecture"],
            matrices=spec["matrices"],
            matrix_width=spec.get("matrix_width"),
            matrix_depth=spec.get("matrix_depth"),
            conservative=spec["conservative"],
            dissipative=spec["dissipative"],
            rngs=rngs,
            param_dtype=dtype,
        )
        if kind == "onsagernet":
            net = OnsagerNet(n, init=spec["init"], init_gain=spec["init_gain"], **common)
        else:
            net = SOnsagerNet(
                n,
                diffusion=spec["diffusion"],
                sigma_init=spec.get("sigma_init", 1.0),
                sigma_floor=spec.get("sigma_floor", 1e-3),
                **common,
            )
        ae = spec.get("autoencoder")
        if not ae:
            return net
        if input_dim is None:
            raise ValueError("a model with an autoencoder needs input_dim (the PCA coordinates kept)")
        return JointModel(
            net,
            PCAResNet(
                input_dim,
                n,
                width=ae["width"],
                depth=ae["depth"],
                activation=ae["activation"],
                rngs=rngs,
                param_dtype=dtype,
                fixed=fixed,
                form=ae["form"],
                input_scale=ae["input_scale"],
                positions_dim=positions_dim,
            ),
        )
    if kind == "symoden":
        return SymODEN(
            n,
            width=spec["width"],
            depth=spec["depth"],
            activation=spec["activation"],
            alpha=spec["alpha"],
            beta=spec["beta"],
            forcing=spec["forcing"],
            rngs=rngs,
            param_dtype=dtype,
        )
    width = spec.get("width")  # an mlp_ode: its own width, or one matching a peer's parameter count
    peer = spec.get("match_params_of")
    if peer:
        if not all_specs or peer not in all_specs:
            raise ValueError(f"model spec: match_params_of '{peer}' names no model in 'models'")
        peer_spec = {k: v for k, v in all_specs[peer].items() if k != "autoencoder"}
        # shapes only: the peer's parameters are never drawn
        target = param_count(nnx.eval_shape(lambda: build_model(peer_spec, n, seed=seed, all_specs=all_specs)))
        width = matched_width(n, spec["depth"], target)
    if not width:
        raise ValueError("model spec: mlp_ode needs 'width' or 'match_params_of'")
    return MLPODE(
        n,
        width=width,
        depth=spec["depth"],
        activation=spec["activation"],
        residual=spec["residual"],
        rngs=rngs,
        param_dtype=dtype,
    )


def param_count(model: nnx.Module) -> int:
    """Trainable parameters; for SINDy the non-zero coefficients the sparse regression kept."""
    if isinstance(model, SINDy):
        return model.nonzero_count()
    return dense_param_count(model)


__all__ = [
    "JointModel",
    "MLPODE",
    "OnsagerNet",
    "PCAResNet",
    "SINDy",
    "SOnsagerNet",
    "SymODEN",
    "build_model",
    "param_count",
]
