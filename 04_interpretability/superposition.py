r"""Toy models of superposition (Elhage et al. 2022), many instances trained at once.

The ReLU-output model compresses $n$ sparse features into $m < n$ dimensions and reads them back with the same
matrix:

$$h = W x, \qquad x' = \mathrm{ReLU}(W^\top h + b) = \mathrm{ReLU}(W^\top W x + b),$$

with $W \in \mathbb R^{m \times n}$.

Each feature $x_i$ is zero with probability $S$ (the sparsity) and uniform on $[0, 1]$ otherwise; feature $i$ has
importance $I_i$, and the loss is the importance-weighted squared error

$$\mathcal L = \mathbb E_x \sum_i I_i \,(x_i - x'_i)^2 .$$

As in the paper's notebook and ARENA 1.3.1, one `ToyModel` holds `n_inst` independent models along an `inst` axis,
each with its own feature probability $1 - S$ and importances, so a sweep over sparsity is one batched einsum.
Instances share nothing: the total loss is the sum of the instances' losses, so each one's gradient is its own.

`NeuronModel` puts a ReLU on the hidden layer too, $h = \mathrm{ReLU}(Wx)$: the paper's model of neurons, whose
hidden basis is privileged.
"""

from __future__ import annotations

from dataclasses import dataclass

import einops
import torch
from jaxtyping import Float
from torch import Tensor, nn
from tqdm.auto import tqdm


@dataclass
class ToyConfig:
    n_inst: int = 8  # independent models trained side by side (e.g. one per sparsity)
    n_features: int = 5  # n: features in the input
    d_hidden: int = 2  # m: dimensions they must share
    n_correlated_pairs: int = 0  # the first 2k features come in pairs that are both present or both absent
    n_anticorrelated_pairs: int = 0  # the next 2k come in pairs never present together


def _per_inst_feature(value: float | Tensor, cfg: ToyConfig) -> Float[Tensor, "inst feats"]:
    """A scalar, a per-instance vector (inst,), a per-feature vector (feats,) or a full (inst, feats) table."""
    value = torch.as_tensor(value, dtype=torch.float32)
    if value.ndim == 1 and value.shape[0] == cfg.n_inst and cfg.n_inst != cfg.n_features:
        value = value[:, None]
    return torch.broadcast_to(value, (cfg.n_inst, cfg.n_features)).clone()


class ToyModel(nn.Module):
    r"""$x' = \mathrm{ReLU}(W^\top W x + b)$ per instance; `W` is (inst, d_hidden, feats) as in ARENA."""

    W: Float[Tensor, "inst d_hidden feats"]
    b_final: Float[Tensor, "inst feats"]

    def __init__(
        self,
        cfg: ToyConfig,
        feature_probability: float | Tensor = 0.01,
        importance: float | Tensor = 1.0,
        seed: int = 0,
    ):
        super().__init__()
        self.cfg = cfg
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("feature_probability", _per_inst_feature(feature_probability, cfg))
        self.register_buffer("importance", _per_inst_feature(importance, cfg))
        W = torch.empty(cfg.n_inst, cfg.d_hidden, cfg.n_features)
        for i in range(cfg.n_inst):  # Xavier-normal per instance, fan_in = n_features, fan_out = d_hidden
            W[i] = torch.randn(cfg.d_hidden, cfg.n_features, generator=generator)
        self.W = nn.Parameter(W * (2.0 / (cfg.n_features + cfg.d_hidden)) ** 0.5)
        self.b_final = nn.Parameter(torch.zeros(cfg.n_inst, cfg.n_features))

    def hidden(self, x: Float[Tensor, "batch inst feats"]) -> Float[Tensor, "batch inst d_hidden"]:
        return einops.einsum(x, self.W, "batch inst feats, inst d_hidden feats -> batch inst d_hidden")

    def forward(self, x: Float[Tensor, "batch inst feats"]) -> Float[Tensor, "batch inst feats"]:
        h = self.hidden(x)
        out = einops.einsum(h, self.W, "batch inst d_hidden, inst d_hidden feats -> batch inst feats")
        return torch.relu(out + self.b_final)

    def generate_batch(self, batch_size: int, generator: torch.Generator) -> Float[Tensor, "batch inst feats"]:
        """Features uniform on [0, 1], each present with its instance's probability; then the correlated pairs
        (one coin for both features) and the anticorrelated pairs (at most one of the two, each half the time)."""
        cfg, p = self.cfg, self.feature_probability
        shape = (batch_size, cfg.n_inst, cfg.n_features)
        magnitude = torch.rand(shape, generator=generator)
        present = torch.rand(shape, generator=generator) < p
        k, a = cfg.n_correlated_pairs, cfg.n_anticorrelated_pairs
        if k:  # feature 2j+1 copies feature 2j's coin
            present[..., 1 : 2 * k : 2] = present[..., 0 : 2 * k : 2]
        if a:  # a pair is active with probability p (the first feature's); then exactly one of the two is on
            lo = 2 * k
            active = torch.rand((batch_size, cfg.n_inst, a), generator=generator) < p[:, lo : lo + 2 * a : 2]
            first = torch.rand((batch_size, cfg.n_inst, a), generator=generator) < 0.5
            present[..., lo : lo + 2 * a : 2] = active & first
            present[..., lo + 1 : lo + 2 * a : 2] = active & ~first
        return magnitude * present

    def loss_per_instance(
        self, x: Float[Tensor, "batch inst feats"], out: Float[Tensor, "batch inst feats"]
    ) -> Float[Tensor, " inst"]:
        r"""$\mathbb E_x \sum_i I_i (x_i - x'_i)^2$ for each instance (mean over the batch, sum over features)."""
        return einops.reduce(self.importance * (x - out) ** 2, "batch inst feats -> inst", "sum") / x.shape[0]


class NeuronModel(ToyModel):
    r"""$h = \mathrm{ReLU}(W x)$, $x' = \mathrm{ReLU}(W^\top h + b)$: hidden units are neurons, a privileged basis."""

    def hidden(self, x: Float[Tensor, "batch inst feats"]) -> Float[Tensor, "batch inst d_hidden"]:
        return torch.relu(super().hidden(x))


@dataclass
class ToyTrainArgs:
    steps: int = 5_000  # Adam steps; the paper's 5-feature figures are stable well before this
    batch_size: int = 1024  # fresh samples every step, so there is no overfitting to a dataset
    lr: float = 1e-3  # Adam learning rate, decayed by `lr_schedule`
    lr_schedule: str = "cosine"  # "constant" or "cosine" (to 0): the cosine tail settles the geometry
    log_every: int = 50  # steps between recorded losses
    seed: int = 0  # seeds the data stream (the model's own seed sets its initialisation)


def train_toy(model: ToyModel, args: ToyTrainArgs, progress: bool = True) -> dict[str, list]:
    """Train every instance at once; returns {"step": [...], "loss": [[per-instance loss] ...]}."""
    generator = torch.Generator().manual_seed(args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    history: dict[str, list] = {"step": [], "loss": []}
    for step in tqdm(range(args.steps), disable=not progress, desc="toy model"):
        if args.lr_schedule == "cosine":
            for group in optimizer.param_groups:
                group["lr"] = args.lr * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * step / args.steps)).item())
        x = model.generate_batch(args.batch_size, generator)
        per_inst = model.loss_per_instance(x, model(x))
        optimizer.zero_grad()
        per_inst.sum().backward()
        optimizer.step()
        if step % args.log_every == 0 or step == args.steps - 1:
            history["step"].append(step)
            history["loss"].append(per_inst.detach().tolist())
    return history
