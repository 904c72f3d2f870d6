"""QK and OV circuits as `FactoredMatrix`es, composition scores and the OV copying test (Elhage et al. 2021).

With row-vector residuals $x$, head $h$ attends with scores $x_q W_{QK}^h x_k^\\top$, $W_{QK}^h = W_Q^h W_K^{h\\top}$,
and writes $x_k W_{OV}^h$, $W_{OV}^h = W_V^h W_O^h$ (both $d_\\text{model}\\times d_\\text{model}$, rank
$\\le d_\\text{head}$; `model.QK`, `model.OV` hold them factored, so nothing $d_\\text{model}^2$ is formed until asked).

Composition of a layer-0 head $h_0$ into a layer-1 head $h_1$ (how much of what $h_0$ writes $h_1$ reads):
$$\\text{comp}(W_A, W_B) = \\frac{\\lVert W_A W_B \\rVert_F}{\\lVert W_A \\rVert_F \\lVert W_B \\rVert_F},$$
with $W_A = W_{OV}^{h_0}$ and $W_B = W_{QK}^{h_1\\top}$ (K-composition: $h_0$'s output feeds $h_1$'s keys),
$W_B = W_{QK}^{h_1}$ (Q-composition) or $W_B = W_{OV}^{h_1}$ (V-composition). LayerNorm between them is ignored
(a rescaling per position), as in ARENA.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import FactoredMatrix, HookedTransformer


def composition_score(W_A: FactoredMatrix | Tensor, W_B: FactoredMatrix | Tensor) -> Float[Tensor, ""]:
    W_A = W_A if isinstance(W_A, FactoredMatrix) else FactoredMatrix(W_A, torch.eye(W_A.shape[-1]))
    W_B = W_B if isinstance(W_B, FactoredMatrix) else FactoredMatrix(W_B, torch.eye(W_B.shape[-1]))
    return (W_A @ W_B).norm() / (W_A.norm() * W_B.norm())


@torch.no_grad()
def composition_scores(model: HookedTransformer, kind: str) -> Float[Tensor, "head0 head1"]:
    """Scores of every (layer-0 head, layer-1 head) pair for `kind` in {"K", "Q", "V"}."""
    n_heads = model.cfg.n_heads
    out = torch.zeros(n_heads, n_heads)
    for h0 in range(n_heads):
        W_A = model.OV[0, h0]
        for h1 in range(n_heads):
            W_B = {"K": model.QK[1, h1].T, "Q": model.QK[1, h1], "V": model.OV[1, h1]}[kind]
            out[h0, h1] = composition_score(W_A, W_B)
    return out


def random_composition_baseline(model: HookedTransformer, n_samples: int = 200, seed: int = 0) -> float:
    """Mean score of random low-rank Gaussian matrices with the heads' shapes: what 'no composition' looks like."""
    g = torch.Generator().manual_seed(seed)
    d_model, d_head = model.cfg.d_model, model.cfg.d_head

    def random_factored() -> FactoredMatrix:
        return FactoredMatrix(torch.randn(d_model, d_head, generator=g), torch.randn(d_head, d_model, generator=g))

    return (
        torch.stack([composition_score(random_factored(), random_factored()) for _ in range(n_samples)]).mean().item()
    )


def full_ov_circuit(model: HookedTransformer, layer: int, head: int) -> FactoredMatrix:
    """$W_E W_{OV}^h W_U$ (d_vocab × d_vocab): the logits head `head` adds for each token it attends to."""
    return model.W_E @ model.OV[layer, head] @ model.W_U


def top1_copying_accuracy(full_ov: FactoredMatrix, skip: int = 1) -> float:
    """Fraction of source tokens $s$ (from `skip`, to leave out BOS) whose own logit is the largest in row $s$."""
    rows = full_ov.AB[skip:, skip:]  # (d_vocab - skip, d_vocab - skip): small enough to form here
    return (rows.argmax(dim=-1) == torch.arange(rows.shape[0])).float().mean().item()
