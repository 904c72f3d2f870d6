r"""Pictures of toy models of superposition (Elhage et al. 2022): feature directions, $W^\top W$ with the biases,
and the phase diagram of one extra feature, with the rule that sorts a trained model into its phase.

All take weights shaped as `ToyModel.W`, (inst, d_hidden, feats), and return or fill matplotlib figures.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from jaxtyping import Float, Int
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from mechlearn.interp.superposition_geometry import feature_dimensionality, feature_norms, interference
from torch import Tensor

PHASES = ("not represented", "dedicated dimension", "superposition")
PHASE_COLOURS = ("#d9d9d9", "#4575b4", "#d73027")


def plot_features_2d(
    W: Float[Tensor, "inst 2 feats"], titles: list[str], ncols: int = 4, panel: float = 2.6
) -> plt.Figure:
    """One panel per instance: each feature's column $W_i$ drawn from the origin, coloured by feature index (dark =
    first, most important), on the unit circle a feature needs to be read back at full size."""
    n_inst, _, n_feats = W.shape
    ncols = min(ncols, n_inst)
    nrows = (n_inst + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols, panel * nrows + 0.3), squeeze=False)
    colours = plt.cm.viridis(np.linspace(0, 0.9, n_feats))
    limit = max(1.3, float(feature_norms(W).max()) * 1.15)
    circle = np.linspace(0, 2 * np.pi, 200)
    for k, ax in enumerate(axes.flat):
        if k >= n_inst:
            ax.axis("off")
            continue
        ax.plot(np.cos(circle), np.sin(circle), color="0.8", lw=0.8, ls="--")
        for i in range(n_feats):
            x, y = W[k, :, i].tolist()
            ax.plot([0, x], [0, y], color=colours[i], lw=1.6)
            ax.plot([x], [y], "o", color=colours[i], ms=4)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_title(titles[k], fontsize=9)
        ax.tick_params(labelsize=7)
        if k % ncols == 0:
            ax.set_ylabel("hidden dim 2", fontsize=8)
        if k // ncols == nrows - 1:
            ax.set_xlabel("hidden dim 1", fontsize=8)
    handles = [plt.Line2D([], [], color=colours[i], marker="o", lw=1.6, label=f"feature {i}") for i in range(n_feats)]
    fig.legend(handles=handles, loc="lower center", ncol=n_feats, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_wtw_and_bias(
    W: Float[Tensor, "inst d_hidden feats"], b: Float[Tensor, "inst feats"], titles: list[str], panel: float = 2.0
) -> plt.Figure:
    r"""Three rows, one column per instance: $W^\top W$ (diagonal = squared norms, off-diagonal = interference);
    the norm $\lVert W_i \rVert$ of each feature coloured by its dimensionality $D_i$ (1 = a dimension of its own,
    lower = sharing); the bias $b_i$."""
    n_inst, _, n_feats = W.shape
    fig, axes = plt.subplots(
        3, n_inst, figsize=(panel * n_inst + 1.0, 3 * panel + 0.6), squeeze=False, height_ratios=[2, 1, 1]
    )
    gram = torch.einsum("khi,khj->kij", W, W)  # (inst, feats, feats)
    norms, dims = feature_norms(W), feature_dimensionality(W)
    b_max = max(0.1, float(b.abs().max()))
    x = np.arange(n_feats)
    for k in range(n_inst):
        image = axes[0, k].imshow(gram[k].numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
        axes[0, k].set_title(titles[k], fontsize=9)
        axes[0, k].set_xlabel("feature j", fontsize=8)
        bars = plt.cm.plasma(dims[k].clamp(0, 1).numpy() * 0.9)
        axes[1, k].bar(x, norms[k].numpy(), color=bars, width=0.8)
        axes[1, k].set_ylim(0, max(1.2, float(norms.max()) * 1.05))
        axes[1, k].axhline(1, color="0.6", lw=0.6, ls="--")
        axes[2, k].bar(x, b[k].numpy(), color=np.where(b[k].numpy() < 0, "#d73027", "#4575b4"), width=0.8)
        axes[2, k].set_ylim(-b_max * 1.1, b_max * 1.1)
        axes[2, k].axhline(0, color="0.3", lw=0.6)
        axes[2, k].set_xlabel("feature i", fontsize=8)
        for ax in axes[:, k]:
            ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel("feature i", fontsize=8)
    axes[1, 0].set_ylabel(r"$\|W_i\|$", fontsize=8)
    axes[2, 0].set_ylabel(r"bias $b_i$", fontsize=8)
    fig.colorbar(image, ax=axes[0, :], fraction=0.015, label=r"$(W^\top W)_{ij}$")
    dim_map = plt.cm.ScalarMappable(cmap=ListedColormap(plt.cm.plasma(np.linspace(0, 0.9, 256))))
    fig.colorbar(dim_map, ax=axes[1, :], fraction=0.015, label=r"$D_i$")
    return fig


def classify_phase(
    W: Float[Tensor, "inst d_hidden feats"], feature: int = -1, threshold: float = 0.5
) -> Int[Tensor, " inst"]:
    r"""The phase of `feature` (default the last, the "extra" one) in each instance, as an index into `PHASES`:

    * 0, not represented: $\lVert W_i \rVert < $ `threshold`;
    * 1, dedicated dimension: represented, and its interference $\sum_{j \ne i} (\hat W_i \cdot W_j)^2 <$
      `threshold`$^2$: no other feature has a component of size `threshold` along its direction;
    * 2, superposition: represented and interfering at least that much (for one hidden dimension: another feature
      of norm at least `threshold` lies on the same line).
    """
    norm, overlap = feature_norms(W)[:, feature], interference(W)[:, feature]
    return torch.where(norm < threshold, 0, torch.where(overlap < threshold**2, 1, 2))


def plot_phase_diagram(
    phase: Int[Tensor, "density importance"],
    importance: Float[Tensor, " importance"],
    density: Float[Tensor, " density"],
    ax: plt.Axes,
    title: str = "",
) -> None:
    """Cells coloured by phase on log axes: relative importance of the extra feature (x) and feature density
    1 - S (y, log scale, so sparser is lower)."""

    def edges(centres: Tensor) -> np.ndarray:  # cell edges halfway (in log space) between log-spaced centres
        logs = np.log10(centres.numpy())
        mid = (logs[1:] + logs[:-1]) / 2
        return 10 ** np.concatenate([[2 * logs[0] - mid[0]], mid, [2 * logs[-1] - mid[-1]]])

    ax.pcolormesh(
        edges(importance), edges(density), phase.numpy(), cmap=ListedColormap(PHASE_COLOURS), vmin=-0.5, vmax=2.5
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("relative importance of the extra feature")
    ax.set_ylabel("feature density 1 - S")
    ax.set_title(title, fontsize=10)
    ax.legend(
        handles=[Patch(color=c, label=p) for c, p in zip(PHASE_COLOURS, PHASES, strict=True)],
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        frameon=False,
    )
