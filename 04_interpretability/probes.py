"""Linear probes: can a latent be read off an activation by one affine map? (Alain & Bengio 2016; ARENA 1.3)

A probe is multinomial logistic regression on frozen activations $x \\in \\mathbb{R}^{d}$:
$p(y = c \\mid x) = \\mathrm{softmax}(x W + b)_c$, trained by minimising the mean cross-entropy plus
$\\lambda \\lVert W \\rVert^2$ with L-BFGS (convex, so the optimum does not depend on the seed). Accuracy is measured on
held-out examples. Two controls say whether the accuracy is about the model, not the probe: the same probe on a
*randomly initialised* model, and on the trained model with *shuffled* labels (both should sit near chance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer


@dataclass
class ProbeResult:
    W: Float[Tensor, "d_in n_classes"]
    b: Float[Tensor, " n_classes"]
    train_accuracy: float
    test_accuracy: float


def activations_at(
    model: HookedTransformer, tokens: Int[Tensor, "batch pos"], hook_name: str
) -> Float[Tensor, "batch pos d"]:
    """The activation at any hook point (flattening a head axis if it has one)."""
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=hook_name)
    act = cache[hook_name]
    return act.flatten(2) if act.ndim > 3 else act


def train_probe(
    x: Float[Tensor, "n d"],
    y: Int[Tensor, " n"],
    n_classes: int,
    test_fraction: float = 0.25,
    l2: float = 1e-3,
    max_iter: int = 200,
    seed: int = 0,
) -> ProbeResult:
    """Fit a linear probe on a random split of (x, y) and report train and held-out accuracy."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=g)
    n_test = int(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    x = x.detach().double()
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-8  # standardise so one l2 suits every hook point
    x = (x - mu) / sd
    W = torch.zeros(x.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x[train] @ W + b, y[train]) + l2 * (W**2).sum()
        loss.backward()
        return loss

    opt.step(closure)

    def accuracy(idx: Tensor) -> float:
        with torch.no_grad():
            return ((x[idx] @ W + b).argmax(-1) == y[idx]).double().mean().item()

    # fold the standardisation back so the probe applies to raw activations: (x - mu)/sd W + b
    W_raw = (W / sd[:, None]).detach()
    b_raw = (b - (mu / sd) @ W).detach()
    return ProbeResult(W_raw.float(), b_raw.float(), accuracy(train), accuracy(test))


def chance_accuracy(y: Int[Tensor, " n"]) -> float:
    """Accuracy of always guessing the most common class."""
    return (torch.bincount(y).max() / len(y)).item()


def probe_per_hook(
    model: HookedTransformer,
    tokens: Int[Tensor, "batch pos"],
    labels: Int[Tensor, "batch pos"],
    positions: Int[Tensor, " n_pos"],
    hook_names: list[str],
    n_classes: int,
    shuffle_labels: bool = False,
    seed: int = 0,
) -> dict[str, ProbeResult]:
    """One probe per hook point, on the activations at `positions` of every sequence.

    `shuffle_labels=True` permutes the labels across examples first (the shuffled-label control).
    """
    y = labels[:, positions].flatten()
    if shuffle_labels:
        y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))]
    results = {}
    for name in hook_names:
        x = activations_at(model, tokens, name)[:, positions].flatten(0, 1)  # (batch * n_pos, d)
        results[name] = train_probe(x, y, n_classes, seed=seed)
    return results
