"""Training of latent dynamics models on trajectory windows."""

from .checkpoint import load_checkpoint, save_checkpoint
from .losses import em_nll, heun_step, window_loss
from .trainer import FitResult, fit, make_windows

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
