r"""Neurons and a privileged basis: does a hidden layer's basis mean anything?

In the ReLU-output model $x' = \mathrm{ReLU}(W^\top W x + b)$ the hidden layer enters only through $W^\top W$, so
any rotation $R$ of the hidden space ($W \to RW$, $R^\top R = I$) leaves the loss unchanged: the hidden basis is
arbitrary and nothing makes a feature line up with a hidden unit. The neuron model $h = \mathrm{ReLU}(Wx)$
applies a ReLU to each hidden unit separately, and $\mathrm{ReLU}(RWx) \ne R\,\mathrm{ReLU}(Wx)$: its basis is
*privileged* (Elhage et al. 2022, "Superposition in a privileged basis").

Measures on neuron $j$'s input weights $W_{j,:}$ (a row of W):

* concentration $\max_i |W_{ji}| / \lVert W_{j,:} \rVert$ — 1 for a neuron that reads one feature;
* features per neuron, the participation ratio $(\sum_i W_{ji}^2)^2 / \sum_i W_{ji}^4$ — 1 for a monosemantic
  neuron, $k$ for one reading $k$ features equally.

The experiment follows the paper and ARENA 1.3.1: $n = 10$ features, $m = 5$ neurons, importance $0.75^i$, a range
of sparsities, several seeds per sparsity on the instance axis.
"""

from __future__ import annotations

import copy

import einops
import torch
from jaxtyping import Float
from mechlearn.interp.superposition import NeuronModel, ToyConfig, ToyModel, ToyTrainArgs, train_toy
from torch import Tensor

IMPORTANCE_DECAY = 0.75  # feature i has importance 0.75^i, as in the paper's neuron experiments


def neuron_concentration(W: Float[Tensor, "inst d_hidden feats"], eps: float = 1e-8) -> Float[Tensor, "inst d_hidden"]:
    r"""$\max_i |W_{ji}| / \lVert W_{j,:} \rVert$ for every neuron $j$."""
    return W.abs().max(dim=-1).values / (W.norm(dim=-1) + eps)


def features_per_neuron(W: Float[Tensor, "inst d_hidden feats"], eps: float = 1e-12) -> Float[Tensor, "inst d_hidden"]:
    r"""Participation ratio $(\sum_i W_{ji}^2)^2 / \sum_i W_{ji}^4$ for every neuron $j$."""
    sq = W.pow(2)
    return sq.sum(-1).pow(2) / (sq.pow(2).sum(-1) + eps)


def random_rotation(m: int, generator: torch.Generator) -> Float[Tensor, "m m"]:
    """A Haar-random orthogonal matrix: QR of a Gaussian matrix, with R's diagonal signs moved into Q."""
    Q, R = torch.linalg.qr(torch.randn(m, m, generator=generator, dtype=torch.float64))
    return (Q * torch.sign(torch.diagonal(R))).float()


def rotated(model: ToyModel, R: Float[Tensor, "inst d_hidden d_hidden"]) -> ToyModel:
    """A copy of `model` with each instance's hidden space rotated: W -> R W."""
    out = copy.deepcopy(model)
    with torch.no_grad():
        out.W.copy_(einops.einsum(R, model.W, "inst out_hidden d_hidden, inst d_hidden feats -> inst out_hidden feats"))
    return out


def basis_models_from(tensors: dict[str, Tensor]) -> dict[str, ToyModel]:
    """The trained {"neuron": NeuronModel, "linear": ToyModel} rebuilt from `train_basis_models`' tensors."""
    cfg = ToyConfig(n_inst=len(tensors["p"]), n_features=10, d_hidden=5)
    models = {}
    for name, cls in (("neuron", NeuronModel), ("linear", ToyModel)):
        model = cls(cfg, feature_probability=tensors["p"], importance=IMPORTANCE_DECAY ** torch.arange(10))
        with torch.no_grad():
            model.W.copy_(tensors[f"W_{name}"])
            model.b_final.copy_(tensors[f"b_{name}"])
        models[name] = model
    return models


def train_basis_models(
    p: Float[Tensor, " p"], n_seeds: int, args: ToyTrainArgs, seed: int = 0, progress: bool = True
) -> dict[str, Tensor]:
    """A NeuronModel and a ToyModel (ReLU output, linear hidden), 10 features in 5 hidden units with importance
    0.75^i, `n_seeds` instances per feature probability (p-major). Returns their W, p and final losses."""
    probability = p.repeat_interleave(n_seeds)
    cfg = ToyConfig(n_inst=len(probability), n_features=10, d_hidden=5)
    importance = IMPORTANCE_DECAY ** torch.arange(cfg.n_features)
    out = {"p": probability}
    for name, cls in (("neuron", NeuronModel), ("linear", ToyModel)):
        model = cls(cfg, feature_probability=probability, importance=importance, seed=seed)
        history = train_toy(model, args, progress=progress)
        out[f"W_{name}"] = model.W.detach().clone()
        out[f"b_{name}"] = model.b_final.detach().clone()
        out[f"final_loss_{name}"] = torch.tensor(history["loss"][-1])
    return out
