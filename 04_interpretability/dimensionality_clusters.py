r"""Do features' dimensionalities cluster at simple fractions? (Elhage et al. 2022, "Feature dimensionality")

Feature $i$'s dimensionality is the paper's

$$D_i = \frac{\lVert W_i \rVert^2}{\sum_j (\hat W_i \cdot W_j)^2}$$

(`superposition_geometry.feature_dimensionality`). When $k$ features share $d$ dimensions as a uniform polytope,
each gets $D_i = d/k$: 1 for a dedicated dimension, 3/4 for a tetrahedron, 2/3 a triangle, 1/2 an antipodal pair
(digon), 2/5 a pentagon, 3/8 a square antiprism, 1/3 a hexagon. The paper found the trained $D_i$ sitting on such
fractions rather than spread out. `share_near_fractions` measures that: the share of represented features whose
$D_i$ is within a stated tolerance of one of `PAPER_FRACTIONS`; `norm_matched_control` gives the same measure a
baseline, random directions with the trained column norms.

The sweep is ARENA 1.3.1's: $n = 200$ features in $m = 20$ dimensions, uniform importance, one instance per
feature probability $p = 20^{-t}$, $t \in [0, 1]$ (so $1/(1-S) = 1/p$ runs from 1 to 20).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float
from mechlearn.interp.superposition import ToyConfig, ToyModel, ToyTrainArgs, train_toy
from mechlearn.interp.superposition_geometry import feature_dimensionality, represented
from torch import Tensor

PAPER_FRACTIONS = (1.0, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8, 1 / 3)


def distance_to_fractions(
    D: Float[Tensor, "*shape"], fractions: tuple[float, ...] = PAPER_FRACTIONS
) -> Float[Tensor, "*shape"]:
    r"""$\min_f |D_i - f|$ over the fractions."""
    return (D[..., None] - torch.tensor(fractions, dtype=D.dtype)).abs().min(dim=-1).values


def near_fractions(
    W: Float[Tensor, "inst d_hidden feats"], tol: float = 0.03, threshold: float = 0.5
) -> tuple[Bool[Tensor, "inst feats"], Bool[Tensor, "inst feats"]]:
    """(near, kept): which features are represented (column norm above `threshold`) and, of those, which have a
    dimensionality within `tol` of one of the paper's fractions."""
    kept = represented(W, threshold)
    return kept & (distance_to_fractions(feature_dimensionality(W)) <= tol), kept


def share_near_fractions(
    W: Float[Tensor, "inst d_hidden feats"], tol: float = 0.03, threshold: float = 0.5
) -> Float[Tensor, " inst"]:
    """Per instance, the share of represented features whose D_i is within `tol` of a paper fraction (nan where
    no feature is represented)."""
    near, kept = near_fractions(W, tol, threshold)
    return near.sum(-1) / kept.sum(-1)  # 0/0 = nan for an instance that represents nothing


def norm_matched_control(W: Float[Tensor, "inst d_hidden feats"], generator: torch.Generator) -> Tensor:
    """Random W with the same column norms: each feature keeps its length and gets an isotropic random direction."""
    directions = torch.randn(W.shape, generator=generator, dtype=W.dtype)
    return directions / directions.norm(dim=1, keepdim=True) * W.norm(dim=1, keepdim=True)


@dataclass
class DimensionalitySweep:
    n_inst: int = 16  # one model per feature probability
    n_features: int = 200  # n, as in ARENA's feature-dimensionality exercise
    d_hidden: int = 20  # m
    p_min: float = 0.05  # the sparsest instance's feature probability (1/(1-S) = 20)
    seed: int = 0  # the models' initialisation


# ARENA trains 10k steps of batch 1024; a quarter of the steps at a quarter of the batch (and a 3x learning rate)
# fits in about 3 minutes on one CPU core.
TRAIN_ARGS = ToyTrainArgs(steps=3000, batch_size=256, lr=3e-3)


def feature_probabilities(sweep: DimensionalitySweep) -> Float[Tensor, " inst"]:
    r"""$p = p_\min^{t}$ for $t$ evenly spaced on [0, 1]: dense (p = 1) to sparse, log-spaced."""
    return sweep.p_min ** torch.linspace(0, 1, sweep.n_inst)


def train_sweep(sweep: DimensionalitySweep, args: ToyTrainArgs, progress: bool = True) -> dict[str, Tensor]:
    """Train the sweep's instances at once; returns {"W": (inst, d_hidden, feats), "p", "final_loss"}."""
    cfg = ToyConfig(n_inst=sweep.n_inst, n_features=sweep.n_features, d_hidden=sweep.d_hidden)
    p = feature_probabilities(sweep)
    model = ToyModel(cfg, feature_probability=p, seed=sweep.seed)
    history = train_toy(model, args, progress=progress)
    return {"W": model.W.detach().clone(), "p": p, "final_loss": torch.tensor(history["loss"][-1])}
