"""Matplotlib figures shared by the interpretability days: attention patterns and (layer × head) maps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from jaxtyping import Float
from torch import Tensor


def plot_attention_patterns(
    pattern: Float[Tensor, "head q k"], labels: list[str], title: str, max_cols: int = 4
) -> plt.Figure:
    """One heatmap per head (rows: query, columns: key), with token labels on both axes."""
    n_heads = pattern.shape[0]
    cols = min(n_heads, max_cols)
    rows = (n_heads + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for h, ax in enumerate(axes.flat):
        if h >= n_heads:
            ax.axis("off")
            continue
        ax.imshow(pattern[h].detach().numpy(), cmap="Blues", vmin=0, vmax=1)
        ax.set_title(f"head {h}", fontsize=9)
        step = max(1, len(labels) // 10)
        ticks = list(range(0, len(labels), step))
        ax.set_xticks(ticks, [labels[t] for t in ticks], rotation=90, fontsize=6)
        ax.set_yticks(ticks, [labels[t] for t in ticks], fontsize=6)
        ax.set_xlabel("key", fontsize=8)
        ax.set_ylabel("query", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_layer_head_map(
    values: Float[Tensor, "layer head"], title: str, ax: plt.Axes, cmap: str = "RdBu", vmin=None, vmax=None
) -> None:
    """A (layer × head) heatmap with each value written in its cell."""
    v = values.detach().numpy()
    if vmin is None and cmap == "RdBu":
        vmax = abs(v).max()
        vmin = -vmax
    im = ax.imshow(v, cmap=cmap, vmin=vmin, vmax=vmax)
    for (layer, head), x in np.ndenumerate(v):
        ax.text(head, layer, f"{x:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(v.shape[1]))
    ax.set_yticks(range(v.shape[0]))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title, fontsize=10)
    plt.colorbar(im, ax=ax, fraction=0.046)
