r"""Correlated and anticorrelated features: at what angle does a toy model put the two features of a pair?

Elhage et al. (2022, "Superposition with correlated and anticorrelated features"): features that are never active
together can share a direction for free if placed *antipodally*, $W_b = -W_a$ — when $a$ is on, $b$'s readout
$\hat W_b \cdot W_a x_a < 0$ is clipped by the ReLU — so anticorrelated pairs are expected antipodal. Features that
are always active together interfere every time they co-occur, so correlated pairs are expected *orthogonal*
(or one of them dropped, or both merged into one direction when there is no room).

The experiment follows ARENA 1.3.1: 4 features in 2 dimensions, either two correlated pairs (features 0-1 and 2-3
share one presence coin) or two anticorrelated pairs (at most one of each pair is on), each with a control model
whose 4 features are independent with the same marginal probability. Many seeds ride on the instance axis.
`classify_pairs` names each pair's geometry from the cosine of its two directions.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from mechlearn.interp.superposition import ToyConfig, ToyModel, ToyTrainArgs, train_toy
from mechlearn.interp.superposition_geometry import feature_norms
from torch import Tensor

PAIRS = ((0, 1), (2, 3))  # the features ToyModel.generate_batch couples, for 2 pairs of either kind
GEOMETRIES = ("antipodal", "orthogonal", "collapsed", "dropped", "other")


def pair_cosines(
    W: Float[Tensor, "inst d_hidden feats"], pairs: tuple[tuple[int, int], ...] = PAIRS, eps: float = 1e-8
) -> Float[Tensor, "inst pairs"]:
    r"""$\hat W_a \cdot \hat W_b$ for each pair $(a, b)$."""
    W_hat = W / (W.norm(dim=1, keepdim=True) + eps)
    a, b = [list(side) for side in zip(*pairs, strict=True)]
    return (W_hat[:, :, a] * W_hat[:, :, b]).sum(dim=1)


def classify_pairs(
    W: Float[Tensor, "inst d_hidden feats"],
    pairs: tuple[tuple[int, int], ...] = PAIRS,
    threshold: float = 0.5,
    tol: float = 0.1,
) -> list[list[str]]:
    """Each pair's geometry: "dropped" when either column's norm is below `threshold` (not represented); else by
    the cosine c: "antipodal" (c <= -1 + tol), "collapsed" (c >= 1 - tol), "orthogonal" (|c| <= tol), "other"."""
    cos = pair_cosines(W, pairs)
    norms = feature_norms(W)
    labels = []
    for inst in range(W.shape[0]):
        row = []
        for k, (a, b) in enumerate(pairs):
            c = cos[inst, k].item()
            if min(norms[inst, a].item(), norms[inst, b].item()) < threshold:
                row.append("dropped")
            elif c <= -1 + tol:
                row.append("antipodal")
            elif c >= 1 - tol:
                row.append("collapsed")
            elif abs(c) <= tol:
                row.append("orthogonal")
            else:
                row.append("other")
        labels.append(row)
    return labels


def geometry_shares(labels: list[list[str]]) -> dict[str, float]:
    """The share of pairs in each of `GEOMETRIES`."""
    flat = [label for row in labels for label in row]
    return {g: sum(label == g for label in flat) / len(flat) for g in GEOMETRIES}


def train_pair_models(
    kind: str, p: Float[Tensor, " p"], n_seeds: int, args: ToyTrainArgs, seed: int = 0, progress: bool = True
) -> dict[str, Tensor]:
    """4 features in 2 dimensions, `n_seeds` instances per feature probability in `p` (instance = p-major).

    kind: "correlated" (2 correlated pairs; each feature present with probability p), "anticorrelated" (2
    anticorrelated pairs; a pair is active with probability p, so each feature with p/2), or "independent-p" /
    "independent-p/2" (the controls: independent features with those marginals). Returns {"W", "p", "final_loss"}.
    """
    n_inst = len(p) * n_seeds
    pairs = {"correlated": {"n_correlated_pairs": 2}, "anticorrelated": {"n_anticorrelated_pairs": 2}}
    probability = p.repeat_interleave(n_seeds)
    if kind == "independent-p/2":
        probability = probability / 2
    elif kind not in (*pairs, "independent-p"):
        raise ValueError(f"unknown kind {kind!r}")
    cfg = ToyConfig(n_inst=n_inst, n_features=4, d_hidden=2, **pairs.get(kind, {}))
    model = ToyModel(cfg, feature_probability=probability, seed=seed)
    history = train_toy(model, args, progress=progress)
    return {
        "W": model.W.detach().clone(),
        "p": p.repeat_interleave(n_seeds),
        "final_loss": torch.tensor(history["loss"][-1]),
    }
