r"""Pictures of toy models of superposition (Elhage et al. 2022): feature directions, $W^\top W$ with the biases,
and the phase diagram of one extra feature, with the rule that sorts a trained model into its phase.

All take weights shaped as `ToyModel.W`, (inst, d_hidden, feats), and return or fill matplotlib figures.
matplotlib is imported inside the plotting functions, so the phase rule (and the tests that use it) load without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import einops
import numpy as np
import torch
from jaxtyping import Float, Int
from mechlearn.interp.superposition_geometry import feature_dimensionality, feature_norms, interference
from torch import Tensor

if TYPE_CHECKING:
    import matplotlib.pyplot as plt

PHASES = ("not represented", "dedicated dimension", "superposition")
PHASE_COLOURS = ("#d9d9d9", "#4575b4", "#d73027")


def plot_features_2d(
    W: Float[Tensor, "inst 2 feats"], titles: list[str], ncols: int = 4, panel: float = 2.6
) -> plt.Figure:
    """One panel per instance: each feature's column $W_i$ drawn from the origin, coloured by feature index (dark =
    first, most important), on the unit circle a feature needs to be read back at full size."""
    import matplotlib.pyplot as plt

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
    W: Float[Tensor, "inst d_hidden feats"],
    b: Float[Tensor, "inst feats"],
    titles: list[str],
    ncols: int | None = None,
    panel: float = 2.0,
) -> plt.Figure:
    r"""Three rows per instance: $W^\top W$ (diagonal = squared norms, off-diagonal = interference); the norm
    $\lVert W_i \rVert$ of each feature coloured by its dimensionality $D_i$ (1 = a dimension of its own, lower =
    sharing); the bias $b_i$. Instances go in columns, wrapped into blocks of three rows after `ncols` of them."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    n_inst, _, n_feats = W.shape
    ncols = ncols or n_inst
    n_blocks = (n_inst + ncols - 1) // ncols
    fig, axes = plt.subplots(
        3 * n_blocks,
        ncols,
        figsize=(panel * ncols + 1.0, n_blocks * (3 * panel + 0.6)),
        squeeze=False,
        height_ratios=[2, 1, 1] * n_blocks,
    )
    gram = einops.einsum(W, W, "inst d_hidden feat_i, inst d_hidden feat_j -> inst feat_i feat_j")
    norms, dims = feature_norms(W), feature_dimensionality(W)
    b_max = max(0.1, float(b.abs().max()))
    x = np.arange(n_feats)
    for slot in range(n_blocks * ncols):
        top, col = 3 * (slot // ncols), slot % ncols
        gram_ax, norm_ax, bias_ax = axes[top : top + 3, col]
        if slot >= n_inst:
            for ax in (gram_ax, norm_ax, bias_ax):
                ax.axis("off")
            continue
        image = gram_ax.imshow(gram[slot].numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
        gram_ax.set_title(titles[slot], fontsize=9)
        gram_ax.set_xlabel("feature j", fontsize=8)
        norm_ax.bar(x, norms[slot].numpy(), color=plt.cm.plasma(dims[slot].clamp(0, 1).numpy() * 0.9), width=0.8)
        norm_ax.set_ylim(0, max(1.2, float(norms.max()) * 1.05))
        norm_ax.axhline(1, color="0.6", lw=0.6, ls="--")
        bias_ax.bar(x, b[slot].numpy(), color=np.where(b[slot].numpy() < 0, "#d73027", "#4575b4"), width=0.8)
        bias_ax.set_ylim(-b_max * 1.1, b_max * 1.1)
        bias_ax.axhline(0, color="0.3", lw=0.6)
        bias_ax.set_xlabel("feature i", fontsize=8)
        for ax in (gram_ax, norm_ax, bias_ax):
            ax.tick_params(labelsize=7)
        if col == 0:
            gram_ax.set_ylabel("feature i", fontsize=8)
            norm_ax.set_ylabel(r"$\|W_i\|$", fontsize=8)
            bias_ax.set_ylabel(r"bias $b_i$", fontsize=8)
    fig.subplots_adjust(left=0.08, right=0.88, wspace=0.4, hspace=0.5)
    dim_map = plt.cm.ScalarMappable(cmap=ListedColormap(plt.cm.plasma(np.linspace(0, 0.9, 256))))
    for row, (mappable, label) in enumerate([(image, r"$(W^\top W)_{ij}$"), (dim_map, r"$D_i$")]):
        box = axes[row, -1].get_position()  # colour bars beside the first block's rows, so the columns stay aligned
        fig.colorbar(mappable, cax=fig.add_axes((0.91, box.y0, 0.012, box.height)), label=label)
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
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

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
