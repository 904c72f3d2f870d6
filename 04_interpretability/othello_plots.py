"""Board heatmaps for the OthelloGPT days: an 8x8 image with columns A–H and rows 1–8 (row 1 at the top)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_board(ax: plt.Axes, values, title: str, cbar_label: str, cmap: str = "viridis", vmin=None, vmax=None):
    """`values`: 64 numbers, square i = 8 row + col. Returns the image (for a shared colour bar)."""
    im = ax.imshow(np.asarray(values, dtype=float).reshape(8, 8), cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(8), list("ABCDEFGH"))
    ax.set_yticks(range(8), [str(r) for r in range(1, 9)])
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(title, fontsize=10)
    if cbar_label:
        ax.figure.colorbar(im, ax=ax, label=cbar_label, shrink=0.8)
    return im
