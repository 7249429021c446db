"""Training of latent dynamics models on trajectory windows.

The names below load their modules (and with them JAX and Flax) at first use, so that a job
that only needs a run folder's file names (``training.files``: the figures, the tables) does
not pay for importing JAX.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checkpoint import load_checkpoint, save_checkpoint
    from .losses import em_nll, heun_step, window_loss
    from .trainer import FitResult, fit, make_windows

_HOMES = {
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "em_nll": "losses",
    "heun_step": "losses",
    "window_loss": "losses",
    "FitResult": "trainer",
    "fit": "trainer",
    "make_windows": "trainer",
}

__all__ = [
    "FitResult",
    "em_nll",
    "fit",
    "heun_step",
    "load_checkpoint",
    "make_windows",
    "save_checkpoint",
    "window_loss",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
