"""Checkpoints: a folder with the parameters (npz), the model's spec, its normaliser,
package versions and provenance (model.json), and the training curve (history.csv).

``load_checkpoint`` rebuilds the model from the saved spec alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from flax import nnx

from ..data.store import atomic_path
from ..models import build_model
from ..models.normalizer import Normalizer
from ..provenance import package_versions

PARAMS = "params.npz"
META = "model.json"
HISTORY = "history.csv"


def _key(path) -> str:
    """'phi/inp/kernel/value': a parameter's place in the model, independent of how
    the pytree library prints keys."""
    return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def _flat(state) -> dict[str, np.ndarray]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(state)
    return {_key(path): np.asarray(leaf) for path, leaf in leaves}


def save_checkpoint(
    path: str | Path,
    model: nnx.Module,
    *,
    meta: Mapping[str, Any],
    normalizer: Normalizer,
    history: pd.DataFrame | None = None,
) -> Path:
    """``meta`` must hold 'model_spec', 'n' and 'seed' (and may hold 'all_specs')."""
    for key in ("model_spec", "n", "seed"):
        if key not in meta:
            raise KeyError(f"checkpoint meta lacks '{key}'")
    record = {**meta, "normalizer": normalizer.to_dict(), "versions": package_versions()}
    with atomic_path(path) as tmp:
        tmp.mkdir(parents=True)
        np.savez(tmp / PARAMS, **_flat(nnx.state(model)))  # type: ignore[arg-type]  # names → arrays
        (tmp / META).write_text(json.dumps(record, indent=2, default=str))
        if history is not None:
            history.to_csv(tmp / HISTORY, index=False)
    return Path(path)


def load_checkpoint(path: str | Path) -> tuple[nnx.Module, Normalizer, dict]:
    """(model with the saved parameters, its normaliser, the saved meta)."""
    p = Path(path)
    if not (p / META).exists() or not (p / PARAMS).exists():
        raise FileNotFoundError(f"not a checkpoint (needs {META} and {PARAMS}): {p}")
    meta = json.loads((p / META).read_text())
    # Shapes only: the saved parameters replace the initial ones, so none are drawn.
    abstract = nnx.eval_shape(
        lambda: build_model(
            meta["model_spec"],
            meta["n"],
            seed=meta["seed"],
            all_specs=meta.get("all_specs"),
            input_dim=meta.get("input_dim"),
            fixed=meta.get("fixed", 0),
        )
    )
    graphdef, state = nnx.split(abstract)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(state)
    with np.load(p / PARAMS) as saved:
        missing = [_key(k) for k, _ in leaves if _key(k) not in saved]
        if missing:
            raise ValueError(f"checkpoint {p}: parameters {missing[:5]} are missing from {PARAMS}")
        new = []
        for k, leaf in leaves:
            arr = saved[_key(k)]
            if arr.shape != leaf.shape:
                raise ValueError(
                    f"checkpoint {p}: parameter {_key(k)} has shape {arr.shape}, the model expects {leaf.shape}"
                )
            new.append(jnp.asarray(arr, dtype=leaf.dtype))
    model = nnx.merge(graphdef, jax.tree_util.tree_unflatten(treedef, new))
    return model, Normalizer.from_dict(meta["normalizer"]), meta
