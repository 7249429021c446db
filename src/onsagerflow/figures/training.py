"""Training and validation loss per epoch, models side by side."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .common import MODEL_COLORS


def training_figure(histories: dict[str, pd.DataFrame], best_epochs: dict[str, int], title: str = ""):
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, h) in enumerate(histories.items()):
        col = MODEL_COLORS[i % len(MODEL_COLORS)]
        mark = "o" if len(h) == 1 else None  # a model fitted in one go (SINDy): one point
        ax.plot(h["epoch"], h["train_loss"], color=col, lw=0.8, alpha=0.6, marker=mark, label=f"{name} train")
        ax.plot(h["epoch"], h["val_loss"], color=col, lw=1.6, marker=mark, label=f"{name} val")
        if name in best_epochs:
            ax.axvline(best_epochs[name], color=col, ls=":", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("Heun pair loss (normalised units)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return fig
