"""Checkpoints: a folder with the parameters (npz), the model's spec, its normaliser,
package versions and provenance (model.json), and the training curve (history.csv).

``load_checkpoint`` rebuilds the model from the saved spec alone, and checks what it
reads: model.json must parse and hold the spec, every parameter must be in params.npz
with the shape the spec gives and finite values. A damaged or diverged checkpoint is a
one-line error naming the file and the parameter, not a failure later in evaluation.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from flax import nnx

from ..data.store import atomic_path
from ..errors import DamagedFileError, TrainingFailed
from ..models import build_model
from ..models.normalizer import Normalizer
from ..provenance import package_versions
from .files import HISTORY, META, PARAMS

META_KEYS = ("model_spec", "n", "seed", "normalizer")
RETRAIN = "delete the folder and rerun the train rule"


class CheckpointError(DamagedFileError, ValueError):
    """A checkpoint folder that is incomplete, unreadable, or holds non-finite weights."""


class NotACheckpoint(CheckpointError, FileNotFoundError):
    """A folder without model.json and params.npz."""


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
    params = _flat(nnx.state(model))
    bad = [k for k, v in params.items() if np.issubdtype(v.dtype, np.inexact) and not np.isfinite(v).all()]
    if bad:
        raise TrainingFailed(
            f"{path}: parameters {bad[:5]} hold NaN or inf, so no checkpoint was written; lower "
            "training.learning_rate or training.grad_clip"
        )
    with atomic_path(path) as tmp:
        tmp.mkdir(parents=True)
        np.savez(tmp / PARAMS, **params)  # type: ignore[arg-type]  # names → arrays
        (tmp / META).write_text(json.dumps(record, indent=2, default=str))
        if history is not None:
            history.to_csv(tmp / HISTORY, index=False)
    return Path(path)


def with_current_defaults(spec: dict) -> dict:
    """A saved model spec with the keys added to the schema since it was written filled by
    their defaults (which keep the old behaviour), so a checkpoint outlives schema growth."""
    from ..config.errors import ConfigError
    from ..config.validate import validated_block

    try:
        defaults = validated_block("model", {"type": spec["type"]})
    except (ConfigError, KeyError):
        return spec
    return {**defaults, **spec}


def load_checkpoint(path: str | Path) -> tuple[nnx.Module, Normalizer, dict]:
    """(model with the saved parameters, its normaliser, the saved meta)."""
    p = Path(path)
    if not (p / META).exists() or not (p / PARAMS).exists():
        raise NotACheckpoint(f"not a checkpoint (needs {META} and {PARAMS}): {p}; {RETRAIN}")
    meta = _read_meta(p / META)
    # Shapes only: the saved parameters replace the initial ones, so none are drawn.
    try:
        abstract = nnx.eval_shape(
            lambda: build_model(
                with_current_defaults(meta["model_spec"]),
                meta["n"],
                seed=meta["seed"],
                all_specs={k: with_current_defaults(v) for k, v in (meta.get("all_specs") or {}).items()} or None,
                input_dim=meta.get("input_dim"),
                fixed=meta.get("fixed", 0),
                positions_dim=meta.get("positions_dim"),
            )
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{p / META}: its model spec builds no model ({type(exc).__name__}: {exc}); {RETRAIN}"
        ) from None
    graphdef, state = nnx.split(abstract)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(state)
    saved = _read_params(p / PARAMS)
    missing = [_key(k) for k, _ in leaves if _key(k) not in saved]
    if missing:
        raise CheckpointError(f"checkpoint {p}: parameters {missing[:5]} are missing from {PARAMS}; {RETRAIN}")
    new = []
    for k, leaf in leaves:
        arr = saved[_key(k)]
        if arr.shape != leaf.shape:
            raise CheckpointError(
                f"checkpoint {p}: parameter {_key(k)} has shape {arr.shape}, the model expects {leaf.shape} "
                f"(its spec in {META}); {RETRAIN}"
            )
        if np.issubdtype(arr.dtype, np.inexact) and not np.isfinite(arr).all():
            raise CheckpointError(
                f"checkpoint {p}: parameter {_key(k)} holds NaN or inf ({np.size(arr) - np.isfinite(arr).sum()} "
                f"of {np.size(arr)} values): the model diverged; {RETRAIN} (lower training.learning_rate)"
            )
        new.append(jnp.asarray(arr, dtype=leaf.dtype))
    model = nnx.merge(graphdef, jax.tree_util.tree_unflatten(treedef, new))
    try:
        norm = Normalizer.from_dict(meta["normalizer"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {p}: {META}: malformed normalizer ({exc}); {RETRAIN}") from None
    if not all(np.isfinite(v).all() for v in (norm.mean, norm.scale, norm.time_scale)):
        raise CheckpointError(f"checkpoint {p}: {META}: the normalizer holds NaN or inf; {RETRAIN}")
    return model, norm, meta


def _read_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc}): it is truncated or damaged; {RETRAIN}") from None
    missing = [k for k in META_KEYS if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise CheckpointError(f"{path}: lacks {missing}; {RETRAIN}")
    return meta


def _read_params(path: Path) -> dict[str, np.ndarray]:
    """Every array of params.npz, read now: a truncated archive fails here, by name."""
    try:
        with np.load(path) as saved:
            return {k: saved[k] for k in saved.files}
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        raise CheckpointError(
            f"{path}: cannot read the parameters ({type(exc).__name__}: {exc}): it is truncated or damaged; {RETRAIN}"
        ) from None
