r"""Reading a toy model's weights: which features it represents, at what angles, and how many dimensions each gets.

With $W_i$ the column of feature $i$ (its direction in the hidden space) and $\hat W_i = W_i / \lVert W_i \rVert$:

* a feature is *represented* when $\lVert W_i \rVert$ is near 1 (the model reads it back at full size) and
  ignored when near 0;
* its *interference* with the others is $\sum_{j \ne i} (\hat W_i \cdot W_j)^2$;
* its *dimensionality* (Elhage et al. 2022, "Feature dimensionality") is

  $$D_i = \frac{\lVert W_i \rVert^2}{\sum_j (\hat W_i \cdot W_j)^2},$$

  the fraction of a dimension feature $i$ occupies: 1 for a feature with a dimension to itself, 1/2 for one of an
  antipodal pair, 2/5 for a pentagon's vertex, 0 for an ignored feature. (The sum runs over all $j$, including $i$,
  whose term is $\lVert W_i \rVert^2$; so $D_i \le 1$.) Summed over features, $\sum_i D_i \le m$.
"""

from __future__ import annotations

import math

import einops
import torch
from jaxtyping import Float
from torch import Tensor


def feature_norms(W: Float[Tensor, "inst d_hidden feats"]) -> Float[Tensor, "inst feats"]:
    return W.norm(dim=1)


def interference(W: Float[Tensor, "inst d_hidden feats"], eps: float = 1e-8) -> Float[Tensor, "inst feats"]:
    r"""$\sum_{j \ne i} (\hat W_i \cdot W_j)^2$ for every feature $i$."""
    W_hat = W / (W.norm(dim=1, keepdim=True) + eps)
    dots = einops.einsum(W_hat, W, "inst d_hidden feat_i, inst d_hidden feat_j -> inst feat_i feat_j")
    off_diagonal = dots.pow(2) * (1 - torch.eye(W.shape[-1]))
    return off_diagonal.sum(-1)


def feature_dimensionality(W: Float[Tensor, "inst d_hidden feats"], eps: float = 1e-8) -> Float[Tensor, "inst feats"]:
    r"""$D_i = \lVert W_i \rVert^2 / \sum_j (\hat W_i \cdot W_j)^2$ (0 where $W_i = 0$)."""
    norms_sq = W.norm(dim=1).pow(2)
    return norms_sq / (norms_sq + interference(W, eps) + eps)


def dimensions_per_feature(W: Float[Tensor, "inst d_hidden feats"]) -> Float[Tensor, " inst"]:
    r"""$m / \lVert W \rVert_F^2$: hidden dimensions per (norm-weighted) represented feature."""
    return W.shape[1] / W.pow(2).sum(dim=(1, 2))


def represented(W: Float[Tensor, "inst d_hidden feats"], threshold: float = 0.5) -> Float[Tensor, "inst feats"]:
    """Which features have a column of norm above `threshold` (the model reads them back)."""
    return feature_norms(W) > threshold


def adjacent_angles_deg(W_2d: Float[Tensor, "2 feats"], threshold: float = 0.5) -> list[float]:
    """For one instance with a 2-D hidden space: the angles (degrees) between angularly adjacent represented
    features, going once round the circle (they sum to 360). A regular pentagon gives five angles of 72."""
    keep = W_2d.norm(dim=0) > threshold
    angles = sorted(math.degrees(math.atan2(float(y), float(x))) % 360 for x, y in W_2d[:, keep].T)
    if len(angles) < 2:
        return []
    return [b - a for a, b in zip(angles, angles[1:], strict=False)] + [360 - angles[-1] + angles[0]]
