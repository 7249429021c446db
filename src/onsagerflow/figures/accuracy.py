"""Accuracy bar charts in the style of PRF21 Figs. 2a, 7 and 8: per system, one group of bars per
activation, one bar per network (type and size), its height the mean over training seeds of
−log₁₀ of the one-step test MSE and its error bar their standard deviation."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .common import MODEL_COLORS

ACTIVATION_ORDER = ("requr", "requ", "softplus", "sigmoid", "tanh", "relu", "gelu")
ACTIVATION_LABELS = {"requr": "ReQUr", "requ": "ReQU", "softplus": "softplus", "sigmoid": "sigmoid", "tanh": "tanh"}
NET_LABELS = {"onsagernet": "OnsagerNet", "mlp_ode": "MLP-ODE", "symoden": "SymODEN", "s_onsagernet": "S-OnsagerNet"}


def accuracy_table(runs: list[dict]) -> dict:
    """``runs``: one dict per run with system, type, activation (None for SINDy), params, seed
    and accuracy (−log₁₀ MSE). Returns {system: {"bars": {(activation, net): [accuracies]},
    "baselines": {label: accuracy}}}; a net is "type (params)"."""
    out: dict = {}
    for r in runs:
        panel = out.setdefault(r["system"], {"bars": {}, "baselines": {}})
        if r["accuracy"] is None:
            continue
        if r["activation"] is None:  # no activation to group by (SINDy): a line across the panel
            panel["baselines"].setdefault(f"{NET_LABELS.get(r['type'], r['type'])} ({r['params']})", []).append(
                r["accuracy"]
            )
            continue
        net = f"{NET_LABELS.get(r['type'], r['type'])} ({r['params']})"
        panel["bars"].setdefault((r["activation"], net), []).append(r["accuracy"])
    return out


def _net_rank(net: str):
    """OnsagerNet first, then the baselines in the authors' order; sizes ascending."""
    labels = list(NET_LABELS.values())
    name, _, size = net.partition(" (")
    return (labels.index(name) if name in labels else len(labels), name, int(size.rstrip(")") or 0))


def accuracy_figure(table: dict, title: str = ""):
    systems = sorted(table)
    fig, axes = plt.subplots(1, len(systems), figsize=(max(4.5 * len(systems), 5.0), 3.8), squeeze=False)
    for ax, system in zip(axes[0], systems):
        bars, baselines = table[system]["bars"], table[system]["baselines"]
        acts = sorted(
            {a for a, _ in bars}, key=lambda a: (ACTIVATION_ORDER.index(a) if a in ACTIVATION_ORDER else 99, a)
        )
        nets = sorted({n for _, n in bars}, key=_net_rank)
        width = 0.8 / max(len(nets), 1)
        x = np.arange(len(acts))
        for j, net in enumerate(nets):
            vals = [bars.get((a, net)) for a in acts]
            mean = np.array([np.mean(v) if v else np.nan for v in vals])
            std = np.array([np.std(v) if v else np.nan for v in vals])
            seeds = max((len(v) for v in vals if v), default=0)
            pos = x - 0.4 + width * (j + 0.5)
            col = MODEL_COLORS[j % len(MODEL_COLORS)]
            ax.bar(pos, mean, width, color=col, label=f"{net}, {seeds} seed{'s' if seeds != 1 else ''}")
            ax.errorbar(pos, mean, yerr=std, fmt="none", ecolor="red", capsize=3, lw=1)
        for k, (label, vals) in enumerate(sorted(baselines.items())):
            ax.axhline(np.mean(vals), color="k", ls=("--", ":", "-.")[k % 3], lw=1, label=label)
        ax.set_xticks(x, [ACTIVATION_LABELS.get(a, a) for a in acts])
        top = [np.mean(v) for v in bars.values()] + [np.mean(v) for v in baselines.values()]
        ax.set_ylim(0, (max(top) if top else 1.0) + 1.5)
        ax.set_title(system, fontsize=9)
        ax.legend(fontsize=6, loc="upper left", ncol=2)
    axes[0, 0].set_ylabel("accuracy −log₁₀(test MSE) (higher is better)")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
