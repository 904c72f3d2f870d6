"""Reading the grokked model in the Fourier basis (days 57–59), after Nanda et al. (2023) and ARENA 1.5.2.

Everything is evaluated on all $p^2$ inputs `[a, b, =]` (row a·p + b, as `grokking.all_pairs`):

* the embedding's Fourier coefficients $F W_E$ and an ablation that removes chosen frequencies from it;
* each MLP neuron's activation as a $(p, p)$ function of $(a, b)$, its 2-D Fourier transform $F A F^\\top$ and the
  fraction of its variance carried by one frequency's terms $\\{1, \\cos w_k a, \\sin w_k a\\} \\otimes
  \\{1, \\cos w_k b, \\sin w_k b\\}$ minus the constant;
* the attention paid from `=` to the operands, read the same way;
* a least-squares fit of the logits by $\\sum_k \\alpha_k \\cos(w_k(a+b-c))$.
"""

from __future__ import annotations

import copy
import math

import torch
from einops import einsum
from jaxtyping import Float
from mechlearn.interp.grokking import all_pairs, last_position_logits
from mechlearn.interp.grokking_fourier import fourier_basis
from torch import Tensor
from transformer_lens import HookedTransformer


def p_of(model: HookedTransformer) -> int:
    return model.cfg.d_vocab_out


def all_logits(model: HookedTransformer) -> Float[Tensor, "p_squared p"]:
    with torch.no_grad():
        return last_position_logits(model, all_pairs(p_of(model))[0])


def accuracy(logits: Tensor, labels: Tensor) -> float:
    return float((logits.argmax(-1) == labels).double().mean())


def frequency_rows(freqs: list[int]) -> list[int]:
    """Fourier-basis rows of frequencies `freqs`: cos_k is row 2k-1, sin_k row 2k."""
    return [r for k in freqs for r in (2 * k - 1, 2 * k)]


def ablate_embedding_frequencies(model: HookedTransformer, freqs: list[int]) -> HookedTransformer:
    """A copy whose embedding of the residues has no component along frequencies `freqs`:
    $W_E \\leftarrow W_E - F_S^\\top F_S W_E$, $S$ the rows of those frequencies."""
    p = p_of(model)
    F_S = fourier_basis(p)[frequency_rows(freqs)].float()  # (2|freqs|, p)
    ablated = copy.deepcopy(model)
    with torch.no_grad():
        W_E = ablated.embed.W_E[:p]
        W_E -= F_S.T @ (F_S @ W_E)
    return ablated


def neuron_activations(model: HookedTransformer) -> Float[Tensor, "p p d_mlp"]:
    """ReLU outputs of the MLP at the last position, through TransformerLens's cache."""
    p = p_of(model)
    with torch.no_grad():
        _, cache = model.run_with_cache(all_pairs(p)[0], names_filter="blocks.0.mlp.hook_post")
    return cache["blocks.0.mlp.hook_post"][:, -1].reshape(p, p, -1)


def attention_to_operands(model: HookedTransformer) -> Float[Tensor, "p p head"]:
    """Attention from `=` to the first operand `a` (position 0), per head."""
    p = p_of(model)
    with torch.no_grad():
        _, cache = model.run_with_cache(all_pairs(p)[0], names_filter="blocks.0.attn.hook_pattern")
    return cache["blocks.0.attn.hook_pattern"][:, :, -1, 0].reshape(p, p, -1)


def fourier_2d(acts: Float[Tensor, "p p n"]) -> Float[Tensor, "p p n"]:
    """Coefficients of each (a, b) map in the product basis: $F A F^\\top$ per unit."""
    F = fourier_basis(acts.shape[0])
    return einsum(F, acts.double(), F, "i a, a b n, j b -> i j n")


def frequency_fve(coeffs: Float[Tensor, "p p n"]) -> Float[Tensor, "n_freq n"]:
    """Share of each unit's variance (everything but the constant) in frequency k's terms:
    rows and columns {const, cos_k, sin_k}, without (const, const)."""
    p = coeffs.shape[0]
    sq = coeffs.pow(2)
    total = sq.sum((0, 1)) - sq[0, 0]
    shares = []
    for k in range(1, p // 2 + 1):
        idx = [0, 2 * k - 1, 2 * k]
        shares.append(sq[idx][:, idx].sum((0, 1)) - sq[0, 0])
    return torch.stack(shares) / total.clamp_min(1e-30)


def neuron_clusters(acts: Float[Tensor, "p p d_mlp"]) -> tuple[Tensor, Tensor, Tensor]:
    """(best frequency per neuron, its share of the neuron's variance, mask of live neurons)."""
    live = acts.flatten(0, 1).var(0) > 1e-8
    fve = frequency_fve(fourier_2d(acts))  # (n_freq, d_mlp)
    best_share, best = fve.max(0)
    return best + 1, best_share, live


def cos_logit_directions(p: int, freqs: list[int]) -> Float[Tensor, "p_squared_p n_freq"]:
    """Columns $\\cos(w_k(a+b-c))$ over the flattened (a, b, c)."""
    a, b, c = torch.meshgrid(*(torch.arange(p, dtype=torch.float64),) * 3, indexing="ij")
    s = (a + b - c).flatten()
    return torch.stack([torch.cos(2 * math.pi * k / p * s) for k in freqs], dim=1)


def fit_cos_logits(logits: Float[Tensor, "p_squared p"], freqs: list[int]) -> tuple[Tensor, float]:
    """Least squares $L[a,b,c] \\approx \\beta + \\sum_k \\alpha_k \\cos(w_k(a+b-c))$: (alphas, fraction of the logits'
    variance explained)."""
    p = logits.shape[1]
    y = logits.double().flatten()
    X = torch.cat([torch.ones(len(y), 1, dtype=torch.float64), cos_logit_directions(p, freqs)], dim=1)
    coef = torch.linalg.lstsq(X, y[:, None]).solution.flatten()
    resid = y - X @ coef
    return coef[1:], float(1 - resid.pow(2).sum() / (y - y.mean()).pow(2).sum())


def variance_explained(approx: Tensor, target: Tensor) -> float:
    """$1 - \\|T - A\\|^2 / \\|T - \\bar T\\|^2$."""
    target, approx = target.double(), approx.double()
    return float(1 - (target - approx).pow(2).sum() / (target - target.mean()).pow(2).sum())
